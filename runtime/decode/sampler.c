/* sampler.c — temperature, top-k, top-p and min-p sampling on the host. */
#include "alloc.h"
#include "decode/sampler.h"

#include <math.h>
#include <stdlib.h>

int sampler_init(token_sampler *s, int n_vocab, float temperature, int top_k, float top_p, float min_p, uint64_t seed) {
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    s->min_p = min_p;
    s->rng = seed ? seed : 0x9e3779b97f4a7c15ull; /* xorshift must not start at 0 */
    s->n_vocab = n_vocab;
    s->candidates = mem_malloc((size_t)n_vocab * sizeof *s->candidates);
    return s->candidates ? 0 : -1;
}

void sampler_free(token_sampler *s) {
    mem_free(s->candidates);
    s->candidates = NULL;
}

float sampler_uniform(token_sampler *s) {
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (float)((s->rng * 0x2545F4914F6CDD1Dull) >> 40) / 16777216.0f; /* 24 bits */
}

/* Descending probability; equal probabilities by ascending id, so results
 * do not depend on qsort's order. */
static int by_probability(const void *a, const void *b) {
    const struct sampler_candidate *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

void sampler_distribution(token_sampler *s, const float *logits, float *probs) {
    int n = s->n_vocab;
    float max = logits[0];
    int32_t argmax = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > max) max = logits[i], argmax = i;
    for (int i = 0; i < n; i++) probs[i] = 0.0f;
    if (s->temperature <= 0) {
        probs[argmax] = 1.0f;
        return;
    }
    double sum = 0;
    for (int i = 0; i < n; i++) {
        float p = expf((logits[i] - max) / s->temperature);
        s->candidates[i] = (struct sampler_candidate){p, i};
        sum += p;
    }
    for (int i = 0; i < n; i++) s->candidates[i].p = (float)(s->candidates[i].p / sum);
    qsort(s->candidates, (size_t)n, sizeof *s->candidates, by_probability);
    int keep = s->top_k > 0 && s->top_k < n ? s->top_k : n;
    if (s->top_p < 1.0f) {
        double cum = 0;
        for (int i = 0; i < keep; i++) {
            cum += s->candidates[i].p;
            if (cum >= s->top_p) { keep = i + 1; break; }
        }
    }
    if (s->min_p > 0) { /* exp(l - max) is the token's probability over the top token's, at temperature 1 */
        const float floor = logf(s->min_p);
        for (int i = 1; i < keep; i++)
            if (logits[s->candidates[i].id] - max < floor) { keep = i; break; }
    }
    double kept = 0;
    for (int i = 0; i < keep; i++) kept += s->candidates[i].p;
    for (int i = 0; i < keep; i++) probs[s->candidates[i].id] = (float)(s->candidates[i].p / kept);
}

void sampler_penalize(float *logits, const int32_t *recent, int n, float penalty, uint8_t *seen) {
    for (int i = 0; i < n; i++) {
        int32_t id = recent[i];
        if (seen[id]) continue; /* a token repeated in the window is penalized once, as llama.cpp */
        seen[id] = 1;
        logits[id] = logits[id] > 0 ? logits[id] / penalty : logits[id] * penalty;
    }
    for (int i = 0; i < n; i++) seen[recent[i]] = 0;
}

int32_t sampler_draw(token_sampler *s, const float *weights) {
    double total = 0;
    int32_t last = 0;
    for (int i = 0; i < s->n_vocab; i++)
        if (weights[i] > 0) total += weights[i], last = i;
    double r = sampler_uniform(s) * total, cum = 0;
    for (int i = 0; i < s->n_vocab; i++) {
        cum += weights[i] > 0 ? weights[i] : 0;
        if (r < cum) return i;
    }
    return last; /* rounding left r at the very top */
}

int32_t sampler_sample(token_sampler *s, const float *logits, float *probs) {
    sampler_distribution(s, logits, probs);
    return sampler_draw(s, probs);
}
