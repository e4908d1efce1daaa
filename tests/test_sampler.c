/* test_sampler.c — the host sampler's distribution: min-p by the model's own
 * probabilities, and min-p with top-k and top-p, on hand-computed cases; the
 * repeat penalty's rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "decode/sampler.h"

enum { V = 5 };
/* probabilities before temperature, relative to the top token: 1, e^-1 (0.37),
 * e^-2 (0.14), e^-3 (0.050), e^-6 (0.0025) */
static const float logits[V] = {-3.0f, 0.0f, -1.0f, -6.0f, -2.0f};

static void distribution(float temperature, int top_k, float top_p, float min_p, float *probs) {
    token_sampler s;
    assert_int_equal(sampler_init(&s, V, temperature, top_k, top_p, min_p, 1), 0);
    sampler_distribution(&s, logits, probs);
    sampler_free(&s);
}

/* softmax(logits / t) over the ids in `kept`, 0 elsewhere */
static void expect(const float *probs, float t, const int *kept, int n_kept) {
    double sum = 0;
    for (int i = 0; i < n_kept; i++) sum += exp(logits[kept[i]] / t);
    for (int id = 0; id < V; id++) {
        double want = 0;
        for (int i = 0; i < n_kept; i++)
            if (kept[i] == id) want = exp(logits[id] / t) / sum;
        if (fabs(probs[id] - want) > 1e-6) fail_msg("token %d: probability %g, expected %g", id, probs[id], want);
    }
}

static void test_min_p_before_temperature(void **state) {
    (void)state;
    float probs[V];
    /* 0.1: e^-2 (0.135) stays, e^-3 (0.050) goes, whatever the temperature */
    distribution(1.0f, 0, 1.0f, 0.1f, probs);
    expect(probs, 1.0f, (const int[]){1, 2, 4}, 3);
    distribution(3.0f, 0, 1.0f, 0.1f, probs);
    expect(probs, 3.0f, (const int[]){1, 2, 4}, 3);
    distribution(0.5f, 0, 1.0f, 0.1f, probs);
    expect(probs, 0.5f, (const int[]){1, 2, 4}, 3);
    /* 0 keeps all; 1 keeps the top token alone */
    distribution(1.0f, 0, 1.0f, 0.0f, probs);
    expect(probs, 1.0f, (const int[]){0, 1, 2, 3, 4}, 5);
    distribution(1.0f, 0, 1.0f, 1.0f, probs);
    expect(probs, 1.0f, (const int[]){1}, 1);
}

/* The set is what every filter keeps: the tightest one decides. */
static void test_min_p_with_top_k_and_top_p(void **state) {
    (void)state;
    float probs[V];
    distribution(1.0f, 2, 1.0f, 0.01f, probs); /* top-k 2 is tighter */
    expect(probs, 1.0f, (const int[]){1, 2}, 2);
    distribution(1.0f, 4, 1.0f, 0.3f, probs); /* min-p 0.3 is tighter: e^-1 = 0.37 stays */
    expect(probs, 1.0f, (const int[]){1, 2}, 2);
    /* top-p 0.6: the top token alone has 0.63 of the mass at temperature 1 */
    distribution(1.0f, 0, 0.6f, 0.01f, probs);
    expect(probs, 1.0f, (const int[]){1}, 1);
}

/* llama.cpp's rule: a positive logit is divided, any other multiplied, once
 * per distinct token of the window; tokens outside it keep theirs. */
static void test_repeat_penalty(void **state) {
    (void)state;
    float l[6] = {2.0f, -1.0f, 0.0f, 3.0f, -0.5f, 1.0f};
    const int32_t recent[] = {0, 1, 2, 0, 4, 0};
    uint8_t seen[6] = {0};
    sampler_penalize(l, recent, 6, 2.0f, seen);
    const float want[6] = {1.0f, -2.0f, 0.0f, 3.0f, -1.0f, 1.0f};
    for (int i = 0; i < 6; i++) assert_float_equal(l[i], want[i], 0);
    for (int i = 0; i < 6; i++) assert_int_equal(seen[i], 0); /* left as it was given */
    /* a penalty below 1 favours repeats; an empty window changes nothing */
    sampler_penalize(l, recent, 1, 0.5f, seen);
    assert_float_equal(l[0], 2.0f, 0);
    sampler_penalize(l, recent, 0, 4.0f, seen);
    assert_float_equal(l[1], -2.0f, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeat_penalty),
        cmocka_unit_test(test_min_p_before_temperature),
        cmocka_unit_test(test_min_p_with_top_k_and_top_p),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
