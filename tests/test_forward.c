/* test_forward.c — the GPU forward pass against the plain-C reference, at
 * every position, for the default model and random-weight models of every
 * weight type, Q4_K_M's Q4_K + Q6_K mix and odd shapes. Runs with the validation layer on (ctest sets
 * LITEVK_VALIDATE=1); any validation message fails the test.
 *
 * Tolerance: both sides use the very same dequantised weights (the GPU
 * repacks the ggml blocks without changing a value), so logits differ only by
 * float summation order, for every weight type alike. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "forward/gpu_forward.h"
#include "gpu_test.h"
#include "forward/reference.h"
#include "synth.h"

#define NMSE_TOLERANCE 1e-6

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Feeds `n_prompt` tokens in prompt passes as wide as the session's (the
 * device's tuning, or prompt_columns when not 0), so passes end mid-way,
 * then decodes `n_gen` greedy tokens one at a time, comparing the logits and
 * the chosen token of every pass's last column (the one its head decides)
 * with the reference, and at the end every block's K/V at every position,
 * which the other columns of a prompt pass leave. */
static void check_model_on(vk_device *device, uint64_t max_texels, uint32_t prompt_columns, const char *path,
                           int n_prompt, int n_gen) {
    host_model *hm;
    assert_int_equal(host_model_open(path, &hm), LVK_OK);
    const model_hparams *hp = &hm->hp;
    int n_ctx = n_prompt + n_gen + 1;
    gpu_model *gm;
    gpu_session *gs;
    ref_state *ref;
    uint64_t texels = device->max_texels;
    if (max_texels) device->max_texels = max_texels; /* forces weight matrices into row parts */
    assert_int_equal(gpu_model_upload(device, hm, NULL, NULL, &gm), LVK_OK);
    device->max_texels = texels;
    if (max_texels) assert_true(gm->tok_embd.n_parts > 1 && gm->layers[0].wqkv.n_parts > 1);
    if (prompt_columns) gm->tuning.prompt_columns = prompt_columns;
    const int width = (int)gm->tuning.prompt_columns;
    assert_int_equal(gpu_session_create(gm, hp, n_ctx, NULL, &gs), LVK_OK);
    assert_int_equal(ref_create(hm, n_ctx, &ref), LVK_OK);
    float *logits = malloc((size_t)hp->n_vocab * sizeof(float));
    int32_t *tokens = malloc((size_t)(n_prompt + n_gen) * sizeof(int32_t));
    for (int i = 0; i < n_prompt; i++) tokens[i] = (int32_t)((i * 7919 + 1) % hp->n_vocab);
    tokens[0] = 1; /* BOS */

    double worst = 0;
    for (int pos = 0; pos < n_prompt + n_gen;) {
        int n = pos < n_prompt ? (n_prompt - pos < width ? n_prompt - pos : width) : 1;
        gpu_step step;
        if (n > 1) assert_int_equal(gpu_session_prefill(gs, tokens + pos, n, pos, &step), LVK_OK);
        else assert_int_equal(gpu_session_decode(gs, tokens[pos], pos, &step), LVK_OK);
        const gpu_decision d = step.chosen;
        const float *ref_logits;
        for (int c = 0; c < n; c++) assert_int_equal(ref_forward(ref, tokens[pos + c], pos + c, &ref_logits), LVK_OK);
        assert_int_equal(step.col, n - 1);
        assert_int_equal(gpu_session_logits(gs, step.col, logits), LVK_OK);
        double e = nmse(logits, ref_logits, hp->n_vocab);
        if (e > worst) worst = e;
        if (e > NMSE_TOLERANCE) fail_msg("%s: position %d: logits NMSE %.3g > %.1g", path, pos + n - 1, e, NMSE_TOLERANCE);
        int want = argmax(ref_logits, hp->n_vocab);
        if ((int)d.token != want) fail_msg("%s: position %d: GPU argmax %u, reference %d", path, pos + n - 1, d.token, want);
        /* the GPU's probability of its argmax equals softmax of the reference logits */
        double sum = 0;
        for (int i = 0; i < hp->n_vocab; i++) sum += exp((double)ref_logits[i] - ref_logits[want]);
        assert_true(fabs(d.prob - 1.0 / sum) < 1e-4);
        if (pos + n < n_prompt + n_gen && pos + n >= n_prompt) tokens[pos + n] = want; /* greedy */
        pos += n;
    }
    const int n_pos = n_prompt + n_gen;
    const size_t kv = (size_t)n_pos * hp_kv_dim(hp);
    float *k = malloc(kv * sizeof(float)), *v = malloc(kv * sizeof(float));
    double worst_kv = 0;
    for (int l = 0; l < hp->n_layers; l++) {
        assert_int_equal(gpu_session_read_kv(gs, l, n_pos, k, v), LVK_OK);
        double ek = nmse(k, ref_kv(ref, l, 0), kv), ev = nmse(v, ref_kv(ref, l, 1), kv);
        if (ek > NMSE_TOLERANCE || ev > NMSE_TOLERANCE)
            fail_msg("%s: block %d: K NMSE %.3g, V NMSE %.3g > %.1g", path, l + 1, ek, ev, NMSE_TOLERANCE);
        worst_kv = fmax(worst_kv, fmax(ek, ev));
    }
    free(k);
    free(v);
    printf("  %s: %d positions, prompt passes of %d, worst logits NMSE %.3g, K/V %.3g\n", path, n_pos, width, worst,
           worst_kv);
    assert_int_equal(atomic_load(&device->validation_messages), 0);
    free(tokens);
    free(logits);
    ref_free(ref);
    gpu_session_free(gs);
    gpu_model_free(gm);
    host_model_free(hm);
}

static void check_model(const char *path, int n_prompt, int n_gen) {
    check_model_on(test_device, 0, 0, path, n_prompt, n_gen);
}

static void test_default_model(void **state) {
    (void)state;
    check_model(LITEVK_ASSETS_DIR "/stories260K.gguf", 21, 12);
}

/* The model file is this process's own (and removed after): ctest -j runs
 * test_forward and test_forward_multi_subgroup at once, and rewriting a file
 * the other has mapped kills it with SIGBUS. */
static void check_synth_on(vk_device *device, uint64_t max_texels, uint32_t prompt_columns, synth_params p,
                           const char *name, int n_prompt, int n_gen) {
    char path[512];
    snprintf(path, sizeof path, "%s/forward_%s_%d.gguf", LITEVK_TMP_DIR, name, (int)getpid());
    assert_int_equal(synth_llama_gguf(&p, path), LVK_OK);
    check_model_on(device, max_texels, prompt_columns, path, n_prompt, n_gen);
    unlink(path);
}

static void check_synth(synth_params p, const char *name) { check_synth_on(test_device, 0, 0, p, name, 19, 6); }

/* Prompt passes of every kind of width, whatever this device's tuning runs:
 * one tile of 8 columns (8 passes and a part-filled one), 64 (one, then a
 * pass whose last tile is part-filled), on the default model, and 24 on Q4_K
 * with a Q6_K head and GQA. */
static void test_prompt_pass_widths(void **state) {
    (void)state;
    check_model_on(test_device, 0, 8, LITEVK_ASSETS_DIR "/stories260K.gguf", 70, 3);
    check_model_on(test_device, 0, LVK_MAX_PROMPT_COLUMNS, LITEVK_ASSETS_DIR "/stories260K.gguf", 77, 3);
    synth_params p = synth_default_params();
    p.weight_type = GGML_Q4_K; p.output_type = GGML_Q6_K; p.tied = 0;
    p.n_embd = 256; p.n_heads = 8; p.n_kv_heads = 2; p.n_ff = 512; p.n_vocab = 299;
    check_synth_on(test_device, 0, 24, p, "wide_q4_k", 53, 2);
}

static void test_f32_gqa_tied(void **state) {
    (void)state;
    check_synth(synth_default_params(), "f32_gqa_tied");
}

/* Odd shapes: rows not a multiple of 8 or of the rows per workgroup, FFN
 * columns not a multiple of 8 (padding path), head_dim 12 with RoPE on it all. */
static void test_f32_odd_shapes(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.n_embd = 36; p.n_heads = 3; p.n_kv_heads = 1; p.n_ff = 101; p.n_vocab = 301; p.tied = 0;
    check_synth(p, "f32_odd");
}

static void test_f16_mha_separate_output(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.weight_type = GGML_F16; p.n_heads = 4; p.n_kv_heads = 4; p.n_ff = 92; p.tied = 0; p.n_vocab = 333;
    check_synth(p, "f16_mha");
}

static void test_q8_0_gqa(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.weight_type = GGML_Q8_0; p.n_embd = 96; p.n_heads = 6; p.n_kv_heads = 2; p.n_ff = 160; p.tied = 0; p.n_vocab = 299;
    check_synth(p, "q8_0_gqa");
}

static void test_q4_0_tied(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.weight_type = GGML_Q4_0; p.n_embd = 64; p.n_heads = 2; p.n_kv_heads = 1; p.n_ff = 224; p.n_layers = 3; p.n_vocab = 517;
    check_synth(p, "q4_0_tied");
}

/* The other 32-block types: Q4_1 under a BF16 LM head, with Q5_0 (the
 * symmetric 5-bit type) in odd blocks; then Q5_1 tied, 96 wide. */
static void test_q4_1_q5_0_bf16_head(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.weight_type = GGML_Q4_1; p.mixed_type = GGML_Q5_0; p.output_type = GGML_BF16; p.tied = 0;
    p.n_layers = 3; p.n_vocab = 313;
    check_synth(p, "q4_1_q5_0_bf16");
}

static void test_q5_1_tied(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.weight_type = GGML_Q5_1; p.n_embd = 96; p.n_heads = 6; p.n_kv_heads = 3; p.n_ff = 160; p.n_vocab = 307;
    check_synth(p, "q5_1_tied");
}

/* Types mixed within a block, as in Q4_K_M files: in odd blocks V is not of
 * Q/K's type (Wqkv in two parts) and up is not of gate's (no fused SwiGLU). */
static void test_mixed_types(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.weight_type = GGML_Q8_0; p.mixed_type = GGML_F16; p.n_layers = 3; p.n_vocab = 310; p.tied = 0;
    check_synth(p, "mixed");
}

/* K-quants need rows of whole 256-blocks: models 256 wide. Q4_K throughout,
 * its embedding also the classifier (embed and LM head both read Q4_K). */
static void test_q4_k_tied(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.weight_type = GGML_Q4_K; p.n_embd = 256; p.n_heads = 8; p.n_kv_heads = 2; p.n_ff = 512; p.n_vocab = 301;
    check_synth(p, "q4_k_tied");
}

/* Q4_K_M's mix: Q4_K matrices under a Q6_K LM head. */
static void test_q4_k_q6_k_head(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.weight_type = GGML_Q4_K; p.output_type = GGML_Q6_K; p.tied = 0;
    p.n_embd = 256; p.n_heads = 4; p.n_kv_heads = 4; p.n_ff = 768; p.n_vocab = 299;
    check_synth(p, "q4_k_q6_k_head");
}

/* Q5_K_M's kind of mix: Q5_K matrices, Q4_K in odd blocks, a Q6_K LM head. */
static void test_q5_k_mixed(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.weight_type = GGML_Q5_K; p.mixed_type = GGML_Q4_K; p.output_type = GGML_Q6_K; p.tied = 0;
    p.n_embd = 256; p.n_heads = 4; p.n_kv_heads = 2; p.n_ff = 768; p.n_layers = 3; p.n_vocab = 293;
    check_synth(p, "q5_k_mixed");
}

/* Llama 3.2 1B's block: 2048 wide, 32 query heads sharing 8 K/V heads of 64,
 * FFN 8192, RoPE base 500000 with Llama 3.1's frequency factors
 * (rope_freqs.weight), tied; 2 of its 16 blocks and a small vocabulary. */
static void test_llama3_shapes(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.weight_type = GGML_Q4_K; p.n_layers = 2; p.n_embd = 2048; p.n_heads = 32; p.n_kv_heads = 8; p.n_ff = 8192;
    p.n_vocab = 600; p.rope_base = 500000.0f; p.rope_freqs = 1; p.tied = 1;
    check_synth_on(test_device, 0, 0, p, "llama3_shapes", 11, 4);
}

/* Qwen2.5 0.5B's block: Q/K/V biases, RoPE in NeoX's order, 896 wide (not a
 * multiple of 256: Q8_0), 14 query heads sharing 2 K/V heads of 64, FFN
 * 4864, RoPE base 10^6, tied; 2 of its 24 blocks. */
static void test_qwen2_shapes(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.arch = "qwen2"; p.weight_type = GGML_Q8_0; p.n_layers = 2; p.n_embd = 896; p.n_heads = 14; p.n_kv_heads = 2;
    p.n_ff = 4864; p.n_vocab = 500; p.rope_base = 1000000.0f; p.tied = 1;
    check_synth_on(test_device, 0, 0, p, "qwen2_shapes", 11, 4);
}

/* Heads whose size is not n_embd / n_heads (attention.key_length: 4 heads of
 * 24 on a 64-wide model, so Q is 96 wide), NeoX RoPE with biases, and
 * linear RoPE scaling by 4. */
static void test_key_length_linear_rope(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.arch = "qwen2"; p.weight_type = GGML_F16; p.head_dim = 24; p.rope_scale = 4.0f; p.n_vocab = 290; p.tied = 0;
    check_synth(p, "key_length_linear_rope");
}

/* Q6_K throughout, every matrix and the embedding table split into row parts
 * (a 2 KiB view holds 9 rows of 256 weights, 4 of 512). */
static void test_q6_k_split_into_parts(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.weight_type = GGML_Q6_K; p.n_embd = 256; p.n_heads = 8; p.n_kv_heads = 4; p.n_ff = 512; p.n_vocab = 317; p.tied = 0;
    check_synth_on(test_device, 512, 0, p, "q6_k_split", 11, 4);
}

/* Matrices larger than one texel view are split by rows (a view holds
 * maxTexelBufferElements words: 512 MiB on lavapipe, less than a 70B model's
 * LM head): with 512 texels (2 KiB) every matrix and the embedding table
 * become many parts. */
static void test_matrices_split_into_parts(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.weight_type = GGML_F16; p.n_vocab = 517; p.tied = 0;
    check_synth_on(test_device, 512, 0, p, "split", 11, 4);
}

/* Devices whose memory the host cannot map get weights through a staging copy. */
static void test_staging_upload(void **state) {
    (void)state;
    vk_device *staging_dev;
    setenv("LITEVK_FORCE_STAGING", "1", 1);
    const char *v = getenv("LITEVK_VALIDATE");
    assert_int_equal(vk_device_create(&staging_dev, getenv("LITEVK_DEVICE"), v && v[0] == '1'), LVK_OK);
    unsetenv("LITEVK_FORCE_STAGING");
    assert_false(staging_dev->weights_mappable);
    synth_params p = synth_default_params();
    p.weight_type = GGML_Q8_0;
    check_synth_on(staging_dev, 0, 0, p, "staging", 9, 3);
    vk_device_free(staging_dev);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_model),
        cmocka_unit_test(test_prompt_pass_widths),
        cmocka_unit_test(test_f32_gqa_tied),
        cmocka_unit_test(test_f32_odd_shapes),
        cmocka_unit_test(test_f16_mha_separate_output),
        cmocka_unit_test(test_q8_0_gqa),
        cmocka_unit_test(test_q4_0_tied),
        cmocka_unit_test(test_q4_1_q5_0_bf16_head),
        cmocka_unit_test(test_q5_1_tied),
        cmocka_unit_test(test_mixed_types),
        cmocka_unit_test(test_q4_k_tied),
        cmocka_unit_test(test_q4_k_q6_k_head),
        cmocka_unit_test(test_q5_k_mixed),
        cmocka_unit_test(test_llama3_shapes),
        cmocka_unit_test(test_qwen2_shapes),
        cmocka_unit_test(test_key_length_linear_rope),
        cmocka_unit_test(test_q6_k_split_into_parts),
        cmocka_unit_test(test_matrices_split_into_parts),
        cmocka_unit_test(test_staging_upload),
    };
    return cmocka_run_group_tests(tests, test_device_setup, test_device_teardown);
}
