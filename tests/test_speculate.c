/* test_speculate.c — self-speculative decoding. Greedy output equals full
 * depth's token for token (the default model, the untuned model with exits at
 * every block, random-weight models of every weight type; every draft
 * maximum, both exit modes, prompts over several batches, up to the end of the
 * context); the K/V of accepted positions equal full depth's; the speculative
 * sampling rule exactly, and the distribution of sampled tokens against full
 * depth's. Runs with the validation layer on (ctest sets LITEVK_VALIDATE=1). */
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

#include "gpu_test.h"
#include "formats/quant.h"
#include "forward/reference.h"
#include "decode/speculate.h"
#include "synth.h"
#include "vk/vk_fault.h"

#define LITE_MODEL LITEVK_ASSETS_DIR "/stories260K-lite.gguf" /* the default model: exits after blocks 1-4 */
#define UNTUNED_MODEL LITEVK_ASSETS_DIR "/stories260K.gguf"
#define PROMPT "Once upon a time, there was a little girl named Lily. She loved"
#define SHORT_PROMPT "Once upon a time" /* 17 tokens with the synthetic models' byte vocabulary */
#define N_CTX 48 /* the generations below run to the end of it */
#define KV_NMSE_TOLERANCE 1e-6
/* Under a sanitizer the host code runs several times slower: the same paths,
 * with fewer configurations and samples. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#else
#define SANITIZED 0
#endif

static lvk_context *ctx;

static int setup(void **state) {
    if (test_device_setup(state)) return -1;
    return lvk_context_create(NULL, &ctx) == LVK_OK ? 0 : -1;
}

static int teardown(void **state) {
    uint32_t messages = lvk_context_validation_messages(ctx);
    lvk_context_free(ctx);
    return test_device_teardown(state) || messages ? -1 : 0;
}

static lvk_exit_config config(lvk_model *m, const int *layers, int n_exits, int draft_exit, int draft_max,
                              float draft_threshold, lvk_exit_mode mode) {
    lvk_exit_config c;
    assert_int_equal(lvk_model_exit_config(m, &c, NULL), LVK_OK);
    c.n_exits = n_exits;
    for (int k = 0; k < n_exits; k++) c.layers[k] = layers[k], c.thresholds[k] = 1.0f;
    c.mode = mode;
    c.decode = LVK_DECODE_SPECULATE;
    c.draft_exit = draft_exit;
    c.draft_max = draft_max;
    c.draft_threshold = draft_threshold;
    return c;
}

/* Generates greedily after `prompt` until the context is full or the text ends;
 * returns the number of tokens, their ids in ids[], and the session's stats. */
static int generate(lvk_model *m, const lvk_exit_config *cfg, const char *prompt, int32_t *ids, int *drafted,
                    lvk_session_stats *stats) {
    lvk_session_params sp = lvk_session_default_params();
    sp.n_ctx = N_CTX;
    sp.exits = cfg;
    lvk_session *s;
    assert_int_equal(lvk_session_create(m, &sp, &s), LVK_OK);
    assert_int_equal(lvk_session_feed(s, prompt, 1), LVK_OK);
    int n = 0;
    for (;;) {
        lvk_token_info t;
        lvk_status st = lvk_session_step(s, &t);
        if (st == LVK_ERR_CONTEXT_FULL) break;
        assert_int_equal(st, LVK_OK);
        if (t.is_eog) break;
        assert_true(n < N_CTX);
        ids[n] = t.id;
        if (drafted) drafted[n] = t.drafted;
        n++;
    }
    if (stats) assert_int_equal(lvk_session_stats_get(s, stats), LVK_OK);
    lvk_session_free(s);
    return n;
}

/* Every configuration gives full depth's tokens; returns the accepted drafts, all configurations together. */
static long check_equal_to_full_depth(lvk_model *m, const char *name, const char *prompt, const int *layers, int n_exits,
                                      const int *draft_maxes, int n_draft_maxes, const float *thresholds,
                                      int n_thresholds) {
    lvk_exit_config full;
    assert_int_equal(lvk_model_exit_config(m, &full, NULL), LVK_OK);
    full.n_exits = 0;
    int32_t want[N_CTX], got[N_CTX];
    int drafted[N_CTX];
    const int n_want = generate(m, &full, prompt, want, NULL, NULL);
    assert_true(n_want > 8);
    long accepted = 0;
    for (int e = 0; e < n_exits; e++)
        for (int d = 0; d < n_draft_maxes; d++)
            for (int t = 0; t < n_thresholds; t++)
                for (int mode = 0; mode < 2; mode++) {
                    lvk_exit_config c = config(m, layers, n_exits, layers[e], draft_maxes[d], thresholds[t],
                                               (lvk_exit_mode)mode);
                    lvk_session_stats st;
                    int n = generate(m, &c, prompt, got, drafted, &st);
                    for (int i = 0; i < n && i < n_want; i++)
                        if (got[i] != want[i])
                            fail_msg("%s, draft exit %d, draft max %d, threshold %.2f, %s: token %d is %d, full depth %d",
                                     name, layers[e], draft_maxes[d], thresholds[t], lvk_exit_mode_name(c.mode), i,
                                     got[i], want[i]);
                    assert_int_equal(n, n_want);
                    long flagged = 0;
                    for (int i = 0; i < n; i++) flagged += drafted[i];
                    assert_true(st.accepted <= st.drafted);
                    assert_true(st.cycles > 0 && st.tokens >= st.cycles);
                    assert_true((long)st.accepted >= flagged); /* a drafted token after the end is not returned */
                    accepted += flagged;
                }
    return accepted;
}

static void test_default_model_greedy_equals_full_depth(void **state) {
    (void)state;
    lvk_model *m;
    assert_int_equal(lvk_model_load(ctx, LITE_MODEL, NULL, &m), LVK_OK);
    const int layers[] = {2, 4}, draft_maxes[] = {1, 7, 4, 2, 3, 5, 6}; /* the first 3 under a sanitizer */
    const float thresholds[] = {0.0f, 0.5f};
    const int n_maxes = SANITIZED ? 3 : 7;
    long accepted = check_equal_to_full_depth(m, "default model", PROMPT, layers, 2, draft_maxes, n_maxes, thresholds, 2);
    printf("  default model: %ld accepted drafts over %d configurations\n", accepted, 2 * n_maxes * 2 * 2);
    assert_true(accepted > 0);
    lvk_model_free(m);
}

static void test_untuned_model_every_block_drafts(void **state) {
    (void)state;
    lvk_model *m;
    assert_int_equal(lvk_model_load(ctx, UNTUNED_MODEL, NULL, &m), LVK_OK);
    const int layers[] = {1, 2, 3, 4}, draft_maxes[] = {1, 3, 7};
    const float thresholds[] = {0.0f};
    long accepted = check_equal_to_full_depth(m, "untuned model", PROMPT, layers, 4, draft_maxes, 3, thresholds, 1);
    printf("  untuned model: %ld accepted drafts over 24 configurations\n", accepted);
    lvk_model_free(m);
}

/* A random-weight model of one weight type, 4 blocks, drafting after block 1 or 3. */
static void check_synth(synth_params p, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/speculate_%s_%d.gguf", LITEVK_TMP_DIR, name, (int)getpid());
    p.n_layers = 4;
    assert_int_equal(synth_llama_gguf(&p, path), LVK_OK);
    lvk_model *m;
    assert_int_equal(lvk_model_load(ctx, path, NULL, &m), LVK_OK);
    const int layers[] = {1, 3}, draft_maxes[] = {2, 7};
    const float thresholds[] = {0.0f};
    long accepted = check_equal_to_full_depth(m, name, SHORT_PROMPT, layers, 2, draft_maxes, 2, thresholds, 1);
    printf("  %s: %ld accepted drafts over 8 configurations\n", name, accepted);
    lvk_model_free(m);
    unlink(path);
}

static void test_weight_types(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    check_synth(p, "f32");
    p.weight_type = GGML_F16, p.n_vocab = 333, p.tied = 0;
    check_synth(p, "f16");
    p = synth_default_params();
    p.weight_type = GGML_Q8_0, p.n_embd = 96, p.n_heads = 6, p.n_kv_heads = 2, p.n_ff = 160, p.n_vocab = 299;
    check_synth(p, "q8_0");
    p = synth_default_params();
    p.weight_type = GGML_Q4_0, p.n_ff = 224, p.n_vocab = 517;
    check_synth(p, "q4_0");
    p = synth_default_params();
    p.weight_type = GGML_Q4_K, p.output_type = GGML_Q6_K, p.tied = 0;
    p.n_embd = 256, p.n_heads = 4, p.n_kv_heads = 4, p.n_ff = 512, p.n_vocab = 299;
    check_synth(p, "q4_k");
    p = synth_default_params();
    p.weight_type = GGML_Q6_K, p.n_embd = 256, p.n_heads = 8, p.n_kv_heads = 4, p.n_ff = 512, p.n_vocab = 317;
    if (!SANITIZED) check_synth(p, "q6_k"); /* Q4_K's model has a Q6_K head */
}

/* Cycle by cycle at the device level: after each, the K/V of every accepted
 * position equal those a full-depth prompt pass leaves for the same tokens,
 * though rejected drafts wrote the positions after them. In gpu mode a cycle
 * makes the Vulkan calls of one submission, as a one-token pass does. */
static void check_kv_of_accepted_positions(lvk_exit_mode mode) {
    host_model *hm;
    gpu_model *gm;
    gpu_session *spec, *full;
    assert_int_equal(host_model_open(LITE_MODEL, &hm), LVK_OK);
    assert_int_equal(gpu_model_upload(test_device, hm, NULL, NULL, &gm), LVK_OK);
    const int n_layers = hm->hp.n_layers;
    lvk_exit_config c = {.n_exits = 2, .layers = {2, 4}, .thresholds = {1.0f, 1.0f}, .mode = mode,
                         .decode = LVK_DECODE_SPECULATE, .draft_exit = 2, .draft_max = 5, .draft_threshold = 0.0f};
    assert_int_equal(gpu_session_create(gm, &hm->hp, N_CTX, &c, &spec), LVK_OK);
    assert_int_equal(gpu_session_create(gm, &hm->hp, N_CTX, NULL, &full), LVK_OK);
    token_sampler greedy;
    speculator sp;
    assert_int_equal(sampler_init(&greedy, hm->hp.n_vocab, 0.0f, 0, 1.0f, 0.0f, 1), 0);
    assert_int_equal(speculator_init(&sp, hm->hp.n_vocab), LVK_OK);
    int32_t tokens[N_CTX] = {1, 403, 407, 261, 378, 434, 300, 261, 263, 281}; /* BOS and a 9-token prompt */
    int pos = 9, rejected = 0;
    gpu_step ignored;
    assert_int_equal(gpu_session_prefill(spec, tokens, pos, 0, &ignored), LVK_OK);
    const size_t kv_dim = (size_t)hp_kv_dim(&hm->hp);
    float *k = malloc(N_CTX * kv_dim * sizeof(float)), *v = malloc(N_CTX * kv_dim * sizeof(float));
    float *k_want = malloc(N_CTX * kv_dim * sizeof(float)), *v_want = malloc(N_CTX * kv_dim * sizeof(float));
    uint64_t calls = vk_fault_calls();
    assert_int_equal(gpu_session_decode(full, tokens[0], 0, &ignored), LVK_OK);
    const uint64_t one_submission = vk_fault_calls() - calls;
    while (pos < 40) {
        spec_cycle cycle;
        calls = vk_fault_calls();
        assert_int_equal(speculate_cycle(&sp, spec, &c, n_layers, &greedy, tokens[pos], pos, N_CTX, &cycle), LVK_OK);
        if (mode == LVK_EXIT_GPU) assert_int_equal(vk_fault_calls() - calls, one_submission);
        rejected += cycle.n_drafted - cycle.n_accepted;
        for (int i = 0; i < cycle.n_tokens; i++) tokens[pos + 1 + i] = cycle.tokens[i];
        pos += 1 + cycle.n_accepted; /* fed: the token and the accepted drafts */
        gpu_session_reset(full);
        assert_int_equal(gpu_session_prefill(full, tokens, pos, 0, &ignored), LVK_OK);
        for (int l = 0; l < n_layers; l++) {
            assert_int_equal(gpu_session_read_kv(spec, l, pos, k, v), LVK_OK);
            assert_int_equal(gpu_session_read_kv(full, l, pos, k_want, v_want), LVK_OK);
            double ek = nmse(k, k_want, (size_t)pos * kv_dim), ev = nmse(v, v_want, (size_t)pos * kv_dim);
            if (ek > KV_NMSE_TOLERANCE || ev > KV_NMSE_TOLERANCE)
                fail_msg("after %d positions, block %d: K NMSE %.2e, V NMSE %.2e", pos, l + 1, ek, ev);
        }
    }
    printf("  %s: %d positions, %d drafts rejected on the way\n", lvk_exit_mode_name(mode), pos, rejected);
    assert_true(rejected > 0);
    free(k), free(v), free(k_want), free(v_want);
    speculator_free(&sp);
    sampler_free(&greedy);
    gpu_session_free(spec);
    gpu_session_free(full);
    gpu_model_free(gm);
    host_model_free(hm);
}

static void test_kv_of_accepted_positions(void **state) {
    (void)state;
    check_kv_of_accepted_positions(LVK_EXIT_FENCE);
    check_kv_of_accepted_positions(LVK_EXIT_GPU);
}

/* The rule at one position, decision by decision: with the same random
 * numbers, accept exactly when u q(draft) < p(draft), and otherwise draw from
 * the normalised max(0, p - q). */
static void test_acceptance_rule_exactly(void **state) {
    (void)state;
    enum { V = 5, N = 20000 };
    const float p[V] = {0.5f, 0.3f, 0.2f, 0.0f, 0.0f}, q[V] = {0.1f, 0.6f, 0.1f, 0.2f, 0.0f};
    token_sampler rule, replay;
    assert_int_equal(sampler_init(&rule, V, 1.0f, 0, 1.0f, 0.0f, 42), 0);
    assert_int_equal(sampler_init(&replay, V, 1.0f, 0, 1.0f, 0.0f, 42), 0);
    float residual[V];
    int counts[V] = {0}, accepted = 0;
    for (int i = 0; i < N; i++) {
        int32_t out;
        const int32_t draft = 1; /* p/q = 0.5 */
        int acc = speculate_accept(&rule, p, q, draft, residual, &out);
        float u = sampler_uniform(&replay);
        assert_int_equal(acc, u * q[draft] < p[draft]);
        if (acc) {
            assert_int_equal(out, draft);
            accepted++;
            continue;
        }
        /* the residual max(0, p - q) = {0.4, 0, 0.1, 0, 0}: the draw uses the next number */
        assert_true(fabsf(residual[0] - 0.4f) < 1e-6f && residual[1] == 0.0f && fabsf(residual[2] - 0.1f) < 1e-6f &&
                    residual[3] == 0.0f);
        double r = sampler_uniform(&replay) * ((double)residual[0] + residual[2]);
        assert_int_equal(out, r < residual[0] ? 0 : 2);
        counts[out]++;
    }
    /* a draft whose p is at least its q is always kept */
    int32_t out;
    assert_int_equal(speculate_accept(&rule, p, q, 0, residual, &out), 1);
    assert_int_equal(out, 0);
    printf("  accepted %d of %d (expected half), residual draws %d/%d (expected 4:1)\n", accepted, N, counts[0],
           counts[2]);
    sampler_free(&rule);
    sampler_free(&replay);
}

/* Pearson's chi-square of counts against probabilities, over cells expecting
 * at least 5 (the rest pooled); *df receives the degrees of freedom. */
static double chi_square(const long *counts, const double *probs, int n, long total, int *df) {
    double chi = 0, pooled_expected = 0, pooled_count = 0;
    int cells = 0;
    for (int i = 0; i < n; i++) {
        double e = probs[i] * (double)total;
        if (e < 5) {
            pooled_expected += e, pooled_count += (double)counts[i];
            continue;
        }
        chi += (counts[i] - e) * (counts[i] - e) / e;
        cells++;
    }
    if (pooled_expected >= 5) chi += (pooled_count - pooled_expected) * (pooled_count - pooled_expected) / pooled_expected, cells++;
    *df = cells - 1;
    return chi;
}

/* Upper 0.1 % point of chi-square with df degrees of freedom (Wilson-Hilferty). */
static double chi_square_critical(int df) {
    const double z = 3.0902; /* standard normal, upper 0.1 % */
    double a = 2.0 / (9.0 * df);
    return df * pow(1 - a + z * sqrt(a), 3);
}

/* Sampling with speculation: the first two sampled tokens after a prompt,
 * over many seeds, against full depth's distributions computed with the plain-C
 * reference and the sampler's own processing (temperature, top-k, top-p, min-p).
 * Each test is a chi-square at 0.1 %: a correct implementation fails one of
 * the two with probability 0.2 % (with the fixed seed it passes or fails
 * always). */
static void test_sampled_distribution_is_full_depths(void **state) {
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/speculate_sampling_%d.gguf", LITEVK_TMP_DIR, (int)getpid());
    synth_params sy = synth_default_params();
    sy.n_layers = 3;
    sy.n_vocab = 280;
    sy.seed = 7;
    assert_int_equal(synth_llama_gguf(&sy, path), LVK_OK);
    const float temperature = 0.4f, top_p = 0.97f, min_p = 0.05f;
    const int top_k = 6, n_samples = SANITIZED ? 400 : 2000;
    const int32_t prompt[] = {1, 270, 271, 272};
    const int n_prompt = 4;

    /* the exact distributions: p1 after the prompt, p2 = sum over t1 of p1(t1) p(. | t1) */
    host_model *hm;
    ref_state *ref;
    assert_int_equal(host_model_open(path, &hm), LVK_OK);
    const int V = hm->hp.n_vocab;
    assert_int_equal(ref_create(hm, 16, &ref), LVK_OK);
    token_sampler proc;
    assert_int_equal(sampler_init(&proc, V, temperature, top_k, top_p, min_p, 1), 0);
    const float *logits;
    for (int i = 0; i < n_prompt; i++) assert_int_equal(ref_forward(ref, prompt[i], i, &logits), LVK_OK);
    float *p1 = malloc((size_t)V * sizeof(float)), *pt = malloc((size_t)V * sizeof(float));
    double *want1 = calloc((size_t)V, sizeof(double)), *want2 = calloc((size_t)V, sizeof(double));
    sampler_distribution(&proc, logits, p1);
    for (int t1 = 0; t1 < V; t1++) {
        want1[t1] = p1[t1];
        if (p1[t1] == 0) continue;
        assert_int_equal(ref_forward(ref, t1, n_prompt, &logits), LVK_OK);
        sampler_distribution(&proc, logits, pt);
        for (int t2 = 0; t2 < V; t2++) want2[t2] += (double)p1[t1] * pt[t2];
    }

    /* speculation draws them, the session's generator going on from sample to sample */
    lvk_model *m;
    assert_int_equal(lvk_model_load(ctx, path, NULL, &m), LVK_OK);
    lvk_exit_config c = config(m, (const int[]){1, 2}, 2, 1, 2, 0.0f, LVK_EXIT_FENCE);
    long *got1 = calloc((size_t)V, sizeof(long)), *got2 = calloc((size_t)V, sizeof(long));
    lvk_session_params sp = lvk_session_default_params();
    sp.n_ctx = 16;
    sp.exits = &c;
    sp.temperature = temperature;
    sp.top_k = top_k;
    sp.top_p = top_p;
    sp.min_p = min_p;
    sp.seed = 1000;
    lvk_session *s;
    assert_int_equal(lvk_session_create(m, &sp, &s), LVK_OK);
    for (int i = 0; i < n_samples; i++) {
        assert_int_equal(lvk_session_reset(s), LVK_OK);
        assert_int_equal(lvk_session_feed_tokens(s, prompt, n_prompt), LVK_OK);
        lvk_token_info t;
        assert_int_equal(lvk_session_step(s, &t), LVK_OK);
        got1[t.id]++;
        assert_int_equal(lvk_session_step(s, &t), LVK_OK);
        got2[t.id]++;
    }
    lvk_session_stats total;
    assert_int_equal(lvk_session_stats_get(s, &total), LVK_OK);
    lvk_session_free(s);
    int df1, df2;
    double chi1 = chi_square(got1, want1, V, n_samples, &df1), chi2 = chi_square(got2, want2, V, n_samples, &df2);
    printf("  %d samples: first token chi-square %.1f (df %d, limit %.1f), second %.1f (df %d, limit %.1f); "
           "%llu of %llu drafts accepted\n",
           n_samples, chi1, df1, chi_square_critical(df1), chi2, df2, chi_square_critical(df2),
           (unsigned long long)total.accepted, (unsigned long long)total.drafted);
    assert_true(df1 >= 2 && df2 >= 2);
    assert_true(chi1 < chi_square_critical(df1));
    assert_true(chi2 < chi_square_critical(df2));
    assert_true(total.accepted > 0 && total.accepted < total.drafted); /* both branches of the rule ran */
    lvk_model_free(m);
    free(got1), free(got2), free(p1), free(pt), free(want1), free(want2);
    sampler_free(&proc);
    ref_free(ref);
    host_model_free(hm);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acceptance_rule_exactly),
        cmocka_unit_test(test_default_model_greedy_equals_full_depth),
        cmocka_unit_test(test_untuned_model_every_block_drafts),
        cmocka_unit_test(test_weight_types),
        cmocka_unit_test(test_kv_of_accepted_positions),
        cmocka_unit_test(test_sampled_distribution_is_full_depths),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
