/* test_exit.c — early exit on the GPU: the exit heads against the reference
 * for every weight type, what thresholds 0 and 1 do, `fence` and `gpu` modes
 * giving the same tokens and exits, and the KV cache each fill mode leaves
 * (deferred: exactly full depth's; propagate: the reference propagation's).
 * Runs with the validation layer on (ctest sets LITEVK_VALIDATE=1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forward/gpu_forward.h"
#include "gpu_test.h"
#include "forward/reference.h"
#include "synth.h"

#define DEFAULT_MODEL LITEVK_ASSETS_DIR "/stories260K.gguf"
#define KV_NMSE_TOLERANCE 1e-6

/* Top two probabilities of softmax(logits) and the argmax, in double. */
static void top2(const float *logits, int n, int *arg, double *p1, double *p2) {
    int a = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[a]) a = i;
    int b = a == 0 ? 1 : 0;
    for (int i = 0; i < n; i++)
        if (i != a && logits[i] > logits[b]) b = i;
    double sum = 0;
    for (int i = 0; i < n; i++) sum += exp((double)logits[i] - logits[a]);
    *arg = a;
    *p1 = 1.0 / sum;
    *p2 = exp((double)logits[b] - logits[a]) / sum;
}

static lvk_exit_config exits(int n, const int *layers, float threshold, lvk_exit_mode mode, lvk_kv_fill fill) {
    lvk_exit_config c;
    memset(&c, 0, sizeof c);
    c.n_exits = n;
    for (int i = 0; i < n; i++) {
        c.layers[i] = layers[i];
        c.thresholds[i] = threshold;
    }
    c.mode = mode;
    c.kv_fill = fill;
    return c;
}

/* ---- the device-level tests: a model, its GPU copy, a session, the reference ---- */

typedef struct rig {
    host_model *hm;
    gpu_model *gm;
    gpu_session *gs;
    ref_state *ref;
    int n_ctx;
} rig;

static void rig_open(rig *r, const char *path, int n_ctx, const lvk_exit_config *cfg) {
    assert_int_equal(host_model_open(path, &r->hm), LVK_OK);
    assert_int_equal(gpu_model_upload(test_device, r->hm, NULL, NULL, &r->gm), LVK_OK);
    assert_int_equal(gpu_session_create(r->gm, &r->hm->hp, n_ctx, cfg, &r->gs), LVK_OK);
    assert_int_equal(ref_create(r->hm, n_ctx, &r->ref), LVK_OK);
    r->n_ctx = n_ctx;
}

static void rig_close(rig *r) {
    assert_int_equal(atomic_load(&test_device->validation_messages), 0);
    ref_free(r->ref);
    gpu_session_free(r->gs);
    gpu_model_free(r->gm);
    host_model_free(r->hm);
}

/* Every exit head's argmax, top and second probability against the reference,
 * teacher-forcing both with the GPU's choices. */
static void check_heads(synth_params p, const char *name) {
    char path[512]; /* this process's own: test_exit_multi_subgroup runs at the same time */
    snprintf(path, sizeof path, "%s/exit_%s_%d.gguf", LITEVK_TMP_DIR, name, (int)getpid());
    assert_int_equal(synth_llama_gguf(&p, path), LVK_OK);
    const int layers[] = {1, 2, 3}, n_prompt = 5, n_gen = 8;
    lvk_exit_config cfg = exits(3, layers, 1.0f, LVK_EXIT_FENCE, LVK_KV_DEFERRED); /* never exits... */
    cfg.probe_all = 1;                                                              /* ...and every head runs */
    rig r;
    rig_open(&r, path, 32, &cfg);
    const int n_vocab = r.hm->hp.n_vocab, n_layers = r.hm->hp.n_layers;
    assert_int_equal(n_layers, 4);
    int32_t tokens[32];
    for (int i = 0; i < n_prompt; i++) tokens[i] = (int32_t)((i * 7919 + 1) % n_vocab);
    gpu_step step;
    assert_int_equal(gpu_session_prefill(r.gs, tokens, n_prompt - 1, 0, &step), LVK_OK);
    const float *ignored;
    for (int pos = 0; pos < n_prompt - 1; pos++) assert_int_equal(ref_forward(r.ref, tokens[pos], pos, &ignored), LVK_OK);
    const int head_layers[] = {1, 2, 3, 4};
    float *head_logits = malloc(4 * (size_t)n_vocab * sizeof(float));
    double worst = 0;
    for (int pos = n_prompt - 1; pos < n_prompt - 1 + n_gen; pos++) {
        assert_int_equal(gpu_session_decode(r.gs, tokens[pos], pos, &step), LVK_OK);
        assert_int_equal(ref_forward_heads(r.ref, tokens[pos], pos, n_layers, head_layers, 4, head_logits), LVK_OK);
        assert_int_equal(step.n_heads, 4);
        assert_int_equal(step.layer, n_layers);
        for (int h = 0; h < 4; h++) {
            int want;
            double p1, p2;
            top2(head_logits + (size_t)h * n_vocab, n_vocab, &want, &p1, &p2);
            const gpu_decision *d = &step.heads[h];
            assert_int_equal(step.head_layers[h], head_layers[h]);
            if ((int)d->token != want && p1 - p2 > 1e-5)
                fail_msg("%s: position %d, head after block %d: GPU argmax %u, reference %d", name, pos,
                         head_layers[h], d->token, want);
            double e = fmax(fabs(d->prob - p1), fabs(d->second - p2));
            if (e > worst) worst = e;
            if (e > 1e-4)
                fail_msg("%s: position %d, head after block %d: probabilities %.6f/%.6f, reference %.6f/%.6f", name,
                         pos, head_layers[h], d->prob, d->second, p1, p2);
        }
        tokens[pos + 1] = (int32_t)step.chosen.token;
    }
    printf("  %s: %d tokens x 4 heads, worst probability error %.2g\n", name, n_gen, worst);
    free(head_logits);
    rig_close(&r);
    unlink(path);
}

static void test_heads_f32(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.n_layers = 4;
    check_heads(p, "f32");
}

static void test_heads_f16_odd(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.n_layers = 4; p.weight_type = GGML_F16; p.n_embd = 36; p.n_heads = 3; p.n_kv_heads = 1; p.n_ff = 101;
    p.n_vocab = 301; p.tied = 0;
    check_heads(p, "f16_odd");
}

static void test_heads_q8_0(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.n_layers = 4; p.weight_type = GGML_Q8_0; p.n_vocab = 2053; p.tied = 0; /* several reduction slices */
    check_heads(p, "q8_0");
}

static void test_heads_q4_0(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.n_layers = 4; p.weight_type = GGML_Q4_0; p.n_vocab = 517;
    check_heads(p, "q4_0");
}

/* The story opening, tokenized with BOS, into tokens; returns its length. */
static int story_prompt(const rig *r, int32_t *tokens, int capacity) {
    static const char text[] = "Once upon a time, there was a";
    int n;
    assert_int_equal(tokenizer_encode(r->hm->tokenizer, text, strlen(text), LVK_TOKENIZE_BOS, tokens, capacity, &n), LVK_OK);
    return n;
}

/* The GPU's K/V cache of every block, positions 0..n_pos-1, against the reference's. */
static void check_kv(const rig *r, int n_pos, const char *what) {
    size_t kv = (size_t)n_pos * hp_kv_dim(&r->hm->hp);
    float *k = malloc(kv * sizeof(float)), *v = malloc(kv * sizeof(float));
    for (int l = 0; l < r->hm->hp.n_layers; l++) {
        assert_int_equal(gpu_session_read_kv(r->gs, l, n_pos, k, v), LVK_OK);
        double ek = nmse(k, ref_kv(r->ref, l, 0), kv), ev = nmse(v, ref_kv(r->ref, l, 1), kv);
        if (ek > KV_NMSE_TOLERANCE || ev > KV_NMSE_TOLERANCE)
            fail_msg("%s: block %d: K NMSE %.3g, V NMSE %.3g", what, l + 1, ek, ev);
    }
    free(k);
    free(v);
}

/* Greedy decode of n tokens after the story prompt; layers[i] = blocks token i
 * ran. Returns the prompt's length. */
static int decode_run(rig *r, int n, int32_t *tokens, int *layers) {
    gpu_step step;
    int n_prompt = story_prompt(r, tokens, r->n_ctx);
    assert_int_equal(gpu_session_prefill(r->gs, tokens, n_prompt - 1, 0, &step), LVK_OK);
    for (int pos = n_prompt - 1; pos < n_prompt - 1 + n; pos++) {
        assert_int_equal(gpu_session_decode(r->gs, tokens[pos], pos, &step), LVK_OK);
        tokens[pos + 1] = (int32_t)step.chosen.token;
        layers[pos + 1] = step.layer;
    }
    return n_prompt;
}

static void count_exits(const int *layers, int from, int to, int n_layers, int *early, int *full) {
    *early = *full = 0;
    for (int i = from; i < to; i++) {
        if (layers[i] < n_layers) (*early)++;
        else (*full)++;
    }
}

/* Thresholds that split the default model's tokens between exits and full depth. */
#define MIXED_THRESHOLD 0.6f
static const int default_exits[] = {1, 3};

/* deferred: the waiting tokens catch up with the next deeper token, so after a
 * final catch-up the KV cache is what full depth writes for the same tokens. */
static void test_deferred_kv_equals_full_depth(void **state) {
    (void)state;
    lvk_exit_config cfg = exits(2, default_exits, 0.0f, LVK_EXIT_FENCE, LVK_KV_DEFERRED);
    cfg.thresholds[0] = 0.95f, cfg.thresholds[1] = 0.8f; /* a mix of both exits and full depth */
    rig r;
    rig_open(&r, DEFAULT_MODEL, 128, &cfg);
    const int n = 60, n_layers = r.hm->hp.n_layers;
    int32_t tokens[128];
    int layers[128] = {0};
    const int n_prompt = decode_run(&r, n, tokens, layers);
    int early, full;
    count_exits(layers, n_prompt, n_prompt + n, n_layers, &early, &full);
    printf("  deferred: %d tokens exited early, %d ran full depth\n", early, full);
    assert_true(early > 0 && full > 0);
    gpu_step step;
    const int n_pos = n_prompt + n - 1; /* positions whose tokens went through the model */
    assert_int_equal(gpu_session_prefill(r.gs, NULL, 0, n_pos, &step), LVK_OK); /* the last waiting ones catch up */
    const float *ignored;
    for (int pos = 0; pos < n_pos; pos++) assert_int_equal(ref_forward(r.ref, tokens[pos], pos, &ignored), LVK_OK);
    check_kv(&r, n_pos, "deferred, against full depth");
    rig_close(&r);
}

/* propagate: the skipped blocks' K/V come from the exit hidden state, as the
 * reference propagation computes them; the tokens are the reference's too. */
static void check_propagate(lvk_exit_mode mode) {
    lvk_exit_config cfg = exits(2, default_exits, 0.9f, mode, LVK_KV_PROPAGATE); /* propagated K/V make the exits surer */
    rig r;
    rig_open(&r, DEFAULT_MODEL, 128, &cfg);
    const int n = 40, n_layers = r.hm->hp.n_layers, n_vocab = r.hm->hp.n_vocab;
    int32_t tokens[128];
    const int n_prompt = story_prompt(&r, tokens, 128);
    gpu_step step;
    assert_int_equal(gpu_session_prefill(r.gs, tokens, n_prompt - 1, 0, &step), LVK_OK);
    const float *ignored;
    for (int pos = 0; pos < n_prompt - 1; pos++) assert_int_equal(ref_forward(r.ref, tokens[pos], pos, &ignored), LVK_OK);
    float *logits = malloc((size_t)n_vocab * sizeof(float));
    int early = 0;
    for (int pos = n_prompt - 1; pos < n_prompt - 1 + n; pos++) {
        assert_int_equal(gpu_session_decode(r.gs, tokens[pos], pos, &step), LVK_OK);
        /* the reference runs as deep as the GPU did, then propagates */
        int head_layer = step.layer;
        assert_int_equal(ref_forward_heads(r.ref, tokens[pos], pos, step.layer, &head_layer, 1, logits), LVK_OK);
        if (step.layer < n_layers) {
            ref_propagate_kv(r.ref, pos, step.layer);
            early++;
        }
        int want;
        double p1, p2;
        top2(logits, n_vocab, &want, &p1, &p2);
        if ((int)step.chosen.token != want && p1 - p2 > 1e-5)
            fail_msg("position %d: GPU chose %u after block %d, reference %d", pos, step.chosen.token, step.layer, want);
        tokens[pos + 1] = (int32_t)step.chosen.token;
    }
    if (early == 0 || early == n) fail_msg("%d of %d tokens exited early: the test needs both kinds", early, n);
    char what[64];
    snprintf(what, sizeof what, "propagate (%s), against the reference", lvk_exit_mode_name(mode));
    check_kv(&r, n_prompt - 1 + n, what);
    printf("  propagate (%s): %d of %d tokens exited early\n", lvk_exit_mode_name(mode), early, n);
    free(logits);
    rig_close(&r);
}

static void test_propagate_fence(void **state) {
    (void)state;
    check_propagate(LVK_EXIT_FENCE);
}

static void test_propagate_gpu(void **state) {
    (void)state;
    check_propagate(LVK_EXIT_GPU);
}

/* ---- the public API on the default model -------------------------------------- */

typedef struct api_rig {
    lvk_context *ctx;
    lvk_model *model;
} api_rig;

static void api_open(api_rig *a) {
    assert_int_equal(lvk_context_create(NULL, &a->ctx), LVK_OK);
    assert_int_equal(lvk_model_load(a->ctx, DEFAULT_MODEL, NULL, &a->model), LVK_OK);
}

static void api_close(api_rig *a) {
    assert_int_equal(lvk_context_validation_messages(a->ctx), 0);
    lvk_model_free(a->model);
    lvk_context_free(a->ctx);
}

/* Generates n greedy tokens after the story prompt with `cfg`; returns how many came. */
static int generate(api_rig *a, const lvk_exit_config *cfg, int n, int32_t *ids, int *layers) {
    lvk_session_params sp = lvk_session_default_params();
    sp.exits = cfg;
    lvk_session *s;
    assert_int_equal(lvk_session_create(a->model, &sp, &s), LVK_OK);
    assert_int_equal(lvk_session_feed(s, "Once upon a time, there was a", 1), LVK_OK);
    int i = 0;
    for (; i < n; i++) {
        lvk_token_info info;
        assert_int_equal(lvk_session_step(s, &info), LVK_OK);
        if (info.is_eog) break;
        ids[i] = info.id;
        layers[i] = info.layer;
    }
    lvk_session_free(s);
    return i;
}

static void test_threshold_zero_exits_at_first(void **state) {
    (void)state;
    api_rig a;
    api_open(&a);
    for (int mode = 0; mode < 2; mode++) {
        lvk_exit_config cfg = exits(2, default_exits, 0.0f, (lvk_exit_mode)mode, LVK_KV_DEFERRED);
        int32_t ids[40];
        int layers[40];
        int n = generate(&a, &cfg, 40, ids, layers);
        assert_true(n > 0);
        for (int i = 0; i < n; i++) assert_int_equal(layers[i], 1);
    }
    api_close(&a);
}

static void test_threshold_one_is_full_depth(void **state) {
    (void)state;
    api_rig a;
    api_open(&a);
    lvk_exit_config none = exits(0, NULL, 0, LVK_EXIT_FENCE, LVK_KV_DEFERRED);
    int32_t want[60], got[60];
    int want_layers[60], layers[60];
    int n_want = generate(&a, &none, 60, want, want_layers);
    for (int mode = 0; mode < 2; mode++)
        for (int fill = 0; fill < 3; fill++) {
            lvk_exit_config cfg = exits(2, default_exits, 1.0f, (lvk_exit_mode)mode, (lvk_kv_fill)fill);
            int n = generate(&a, &cfg, 60, got, layers);
            assert_int_equal(n, n_want);
            for (int i = 0; i < n; i++) {
                assert_int_equal(got[i], want[i]);
                assert_int_equal(layers[i], 5);
            }
        }
    api_close(&a);
}

/* fence and gpu decide alike: the same tokens and exit blocks, for every fill
 * mode and several thresholds, with both outcomes present. */
static void test_fence_and_gpu_agree(void **state) {
    (void)state;
    api_rig a;
    api_open(&a);
    const float thresholds[] = {0.3f, MIXED_THRESHOLD, 0.9f};
    int early = 0, full = 0;
    for (int fill = 0; fill < 3; fill++)
        for (size_t t = 0; t < sizeof thresholds / sizeof thresholds[0]; t++) {
            lvk_exit_config cfg = exits(2, default_exits, thresholds[t], LVK_EXIT_FENCE, (lvk_kv_fill)fill);
            int32_t ids_f[64], ids_g[64];
            int layers_f[64], layers_g[64];
            int nf = generate(&a, &cfg, 64, ids_f, layers_f);
            cfg.mode = LVK_EXIT_GPU;
            int ng = generate(&a, &cfg, 64, ids_g, layers_g);
            assert_int_equal(nf, ng);
            for (int i = 0; i < nf; i++) {
                if (ids_f[i] != ids_g[i] || layers_f[i] != layers_g[i])
                    fail_msg("%s, threshold %.2f, token %d: fence %d after block %d, gpu %d after block %d",
                             lvk_kv_fill_name((lvk_kv_fill)fill), thresholds[t], i, ids_f[i], layers_f[i], ids_g[i],
                             layers_g[i]);
                if (layers_f[i] < 5) early++;
                else full++;
            }
        }
    assert_true(early > 0 && full > 0);
    api_close(&a);
}

/* Thresholds change between tokens of a live session; layers and modes too. */
static void test_exits_change_in_a_live_session(void **state) {
    (void)state;
    api_rig a;
    api_open(&a);
    lvk_session *s;
    assert_int_equal(lvk_session_create(a.model, NULL, &s), LVK_OK);
    assert_int_equal(lvk_session_feed(s, "Once upon a time", 1), LVK_OK);
    lvk_exit_config cfg = exits(2, default_exits, 0.0f, LVK_EXIT_GPU, LVK_KV_DEFERRED);
    lvk_token_info info;
    assert_int_equal(lvk_session_set_exits(s, &cfg), LVK_OK);
    assert_int_equal(lvk_session_step(s, &info), LVK_OK); /* chosen by the pass before the change */
    assert_int_equal(lvk_session_step(s, &info), LVK_OK);
    assert_int_equal(info.layer, 1);
    cfg.thresholds[0] = 1.0f; /* only the exit after block 3 may fire */
    assert_int_equal(lvk_session_set_exits(s, &cfg), LVK_OK);
    assert_int_equal(lvk_session_step(s, &info), LVK_OK);
    assert_int_equal(lvk_session_step(s, &info), LVK_OK);
    assert_int_equal(info.layer, 3);
    lvk_exit_probe probes[LVK_MAX_EXITS + 1];
    int n;
    cfg.thresholds[0] = cfg.thresholds[1] = 1.0f; /* exits that can never fire cost nothing: their heads do not run */
    assert_int_equal(lvk_session_set_exits(s, &cfg), LVK_OK);
    assert_int_equal(lvk_session_step(s, &info), LVK_OK);
    assert_int_equal(lvk_session_step(s, &info), LVK_OK);
    assert_int_equal(lvk_session_last_probes(s, probes, LVK_MAX_EXITS + 1, &n), LVK_OK);
    assert_int_equal(n, 1);
    cfg.probe_all = 1; /* unless every head's opinion is wanted (calibration) */
    assert_int_equal(lvk_session_set_exits(s, &cfg), LVK_OK);
    assert_int_equal(lvk_session_step(s, &info), LVK_OK);
    assert_int_equal(lvk_session_step(s, &info), LVK_OK);
    assert_int_equal(lvk_session_last_probes(s, probes, LVK_MAX_EXITS + 1, &n), LVK_OK);
    assert_int_equal(n, 3);
    assert_int_equal(probes[0].layer, 1);
    assert_int_equal(probes[1].layer, 3);
    assert_int_equal(info.layer, 5);
    cfg.probe_all = 0;
    cfg.n_exits = 0;
    assert_int_equal(lvk_session_set_exits(s, &cfg), LVK_OK);
    assert_int_equal(lvk_session_step(s, &info), LVK_OK);
    assert_int_equal(lvk_session_step(s, &info), LVK_OK);
    assert_int_equal(info.layer, 5);
    assert_int_equal(lvk_session_last_probes(s, probes, LVK_MAX_EXITS + 1, &n), LVK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(probes[0].layer, 5);
    assert_int_equal(probes[0].token, info.id);
    lvk_exit_config bad = exits(2, (const int[]){3, 1}, 0.5f, LVK_EXIT_FENCE, LVK_KV_DEFERRED);
    assert_int_equal(lvk_session_set_exits(s, &bad), LVK_ERR_INVALID_ARGUMENT);
    lvk_session_stats st;
    assert_int_equal(lvk_session_stats_get(s, &st), LVK_OK);
    assert_true(st.tokens >= 6);
    assert_true(st.weight_bytes > 0 && st.full_depth_bytes > 0);
    lvk_session_free(s);
    api_close(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heads_f32),
        cmocka_unit_test(test_heads_f16_odd),
        cmocka_unit_test(test_heads_q8_0),
        cmocka_unit_test(test_heads_q4_0),
        cmocka_unit_test(test_deferred_kv_equals_full_depth),
        cmocka_unit_test(test_propagate_fence),
        cmocka_unit_test(test_propagate_gpu),
        cmocka_unit_test(test_threshold_zero_exits_at_first),
        cmocka_unit_test(test_threshold_one_is_full_depth),
        cmocka_unit_test(test_fence_and_gpu_agree),
        cmocka_unit_test(test_exits_change_in_a_live_session),
    };
    return cmocka_run_group_tests(tests, test_device_setup, test_device_teardown);
}
