/* test_api_tools.c — the public API behind the CLI's tools (litevk.h):
 * inspecting a model's file, conversion, calibration and its calibrated copy,
 * and the benchmark's metrics. Only the calibration's observations need a
 * device. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "litevk.h"
#include "synth.h"

#define TMP LITEVK_TMP_DIR "/test_api_tools"
#define LLAMA2C_CHECKPOINT LITEVK_FIXTURES "/stories260K.bin"
#define LLAMA2C_TOKENIZER LITEVK_FIXTURES "/tok512.bin"

static void expect_error(lvk_status got, lvk_status want, const char *message_part) {
    assert_int_equal(got, want);
    if (!strstr(lvk_last_error(), message_part)) fail_msg("'%s' does not say '%s'", lvk_last_error(), message_part);
}

/* The model at path, loaded for inspection: no device. */
static lvk_model *inspect(const char *path) {
    lvk_model_params p = lvk_model_default_params();
    p.inspect_only = 1;
    lvk_model *m;
    if (lvk_model_load(NULL, path, &p, &m) != LVK_OK) fail_msg("%s: %s", path, lvk_last_error());
    return m;
}

/* The index of metadata key `key`, failing the test when the file has none. */
static uint64_t find_key(const lvk_model *m, const char *key) {
    for (uint64_t i = 0; i < lvk_model_meta_count(m); i++) {
        lvk_meta_entry kv;
        assert_int_equal(lvk_model_meta(m, i, &kv), LVK_OK);
        if (kv.key_len == strlen(key) && !memcmp(kv.key, key, kv.key_len)) return i;
    }
    fail_msg("no metadata key %s", key);
    return 0;
}

/* ---- inspection ------------------------------------------------------------------ */

/* A synthetic model's metadata and tensors, as synth_llama_gguf wrote them, without a device. */
static void test_inspect_synthetic(void **state) {
    (void)state;
    synth_params sp = synth_default_params();
    sp.arch = "qwen2";
    sp.n_layers = 3;
    assert_int_equal(synth_llama_gguf(&sp, TMP "_inspect.gguf"), LVK_OK);
    lvk_model *m = inspect(TMP "_inspect.gguf");

    lvk_model_info info;
    assert_int_equal(lvk_model_get_info(m, &info), LVK_OK);
    assert_string_equal(info.architecture, "qwen2");
    assert_true(info.qkv_bias && info.rope_neox && info.output_tied);
    assert_int_equal(info.n_layers, 3);
    assert_int_equal(info.n_vocab, sp.n_vocab);
    assert_string_equal(info.tokenizer, "llama");
    assert_string_equal(info.pre_tokenizer, ""); /* SentencePiece has none */
    assert_true(info.file_version >= 2 && info.file_bytes > info.weight_bytes);

    lvk_meta_entry kv;
    assert_int_equal(lvk_model_meta(m, find_key(m, "general.architecture"), &kv), LVK_OK);
    assert_int_equal(kv.value.type, LVK_VALUE_STRING);
    assert_int_equal(kv.value.str_len, 5);
    assert_memory_equal(kv.value.str, "qwen2", 5);
    uint64_t blocks = find_key(m, "qwen2.block_count");
    assert_int_equal(lvk_model_meta(m, blocks, &kv), LVK_OK);
    assert_true(kv.value.u == 3 || kv.value.i == 3);
    assert_true(kv.value.f == 3.0);
    uint64_t tokens = find_key(m, "tokenizer.ggml.tokens");
    assert_int_equal(lvk_model_meta(m, tokens, &kv), LVK_OK);
    assert_int_equal(kv.value.type, LVK_VALUE_ARRAY);
    assert_int_equal(kv.value.array_type, LVK_VALUE_STRING);
    assert_int_equal(kv.value.array_count, (uint64_t)sp.n_vocab);
    lvk_meta_value e;
    assert_int_equal(lvk_model_meta_element(m, tokens, 1, &e), LVK_OK);
    assert_int_equal(e.type, LVK_VALUE_STRING);
    assert_int_equal(e.str_len, 3);
    assert_memory_equal(e.str, "<s>", 3);
    uint64_t scores = find_key(m, "tokenizer.ggml.scores");
    assert_int_equal(lvk_model_meta_element(m, scores, 0, &e), LVK_OK);
    assert_int_equal(e.type, LVK_VALUE_FLOAT32);
    expect_error(lvk_model_meta_element(m, tokens, (uint64_t)sp.n_vocab, &e), LVK_ERR_INVALID_ARGUMENT, "outside");
    expect_error(lvk_model_meta_element(m, blocks, 0, &e), LVK_ERR_INVALID_ARGUMENT, "not an array");
    expect_error(lvk_model_meta(m, lvk_model_meta_count(m), &kv), LVK_ERR_INVALID_ARGUMENT, "outside");
    assert_string_equal(lvk_value_type_name(LVK_VALUE_FLOAT32), "float32");

    /* tensors: every one, the embedding with its GGUF shape {n_embd, n_vocab} */
    uint64_t n = lvk_model_tensor_count(m), params = 0, bytes = 0;
    int found_embedding = 0;
    for (uint64_t i = 0; i < n; i++) {
        lvk_tensor_info t;
        assert_int_equal(lvk_model_tensor(m, i, &t), LVK_OK);
        params += t.n_elements;
        bytes += t.n_bytes;
        assert_int_equal(t.shape[0] * t.shape[1] * t.shape[2] * t.shape[3], t.n_elements);
        if (t.name_len == 17 && !memcmp(t.name, "token_embd.weight", 17)) {
            found_embedding = 1;
            assert_int_equal(t.n_dims, 2);
            assert_int_equal(t.shape[0], (uint64_t)sp.n_embd);
            assert_int_equal(t.shape[1], (uint64_t)sp.n_vocab);
            assert_string_equal(lvk_type_name(t.type), "f32");
        }
    }
    assert_true(found_embedding);
    assert_int_equal(params, info.n_params);
    assert_int_equal(bytes, info.weight_bytes);
    lvk_tensor_info t;
    expect_error(lvk_model_tensor(m, n, &t), LVK_ERR_INVALID_ARGUMENT, "outside");

    /* such a model cannot run: no device was used */
    lvk_session *s;
    expect_error(lvk_session_create(m, NULL, &s), LVK_ERR_STATE, "inspect_only");
    lvk_model_free(m);
}

/* A vocabulary file has keys but no tensors; bad paths and malformed files say what is wrong. */
static void test_inspect_errors(void **state) {
    (void)state;
    lvk_model_params p = lvk_model_default_params();
    p.vocab_only = 1;
    lvk_model *m;
    assert_int_equal(lvk_model_load(NULL, LITEVK_FIXTURES "/ggml-vocab-llama-spm.gguf", &p, &m), LVK_OK);
    assert_true(lvk_model_meta_count(m) > 0);
    assert_int_equal(lvk_model_tensor_count(m), 0);
    lvk_model_free(m);
    assert_int_equal(lvk_model_meta_count(NULL), 0);
    assert_int_equal(lvk_model_tensor_count(NULL), 0);

    p = lvk_model_default_params();
    p.inspect_only = 1;
    expect_error(lvk_model_load(NULL, TMP "_missing.gguf", &p, &m), LVK_ERR_IO, "_missing.gguf");
    /* a vocabulary file is no model */
    expect_error(lvk_model_load(NULL, LITEVK_FIXTURES "/ggml-vocab-llama-spm.gguf", &p, &m), LVK_ERR_FORMAT,
                 "token_embd.weight");
    FILE *f = fopen(TMP "_garbage.gguf", "wb");
    assert_non_null(f);
    fputs("GGUF\x03", f); /* the magic, then a header cut short */
    fclose(f);
    expect_error(lvk_model_load(NULL, TMP "_garbage.gguf", &p, &m), LVK_ERR_FORMAT, "_garbage.gguf");
    /* without inspect_only (or vocab_only) a model needs a context */
    expect_error(lvk_model_load(NULL, TMP "_inspect.gguf", NULL, &m), LVK_ERR_INVALID_ARGUMENT, "NULL");
}

/* ---- conversion ------------------------------------------------------------------- */

static void test_weight_types(void **state) {
    (void)state;
    uint32_t type;
    assert_int_equal(lvk_weight_type_parse("q8_0", &type), LVK_OK);
    assert_string_equal(lvk_type_name(type), "q8_0");
    expect_error(lvk_weight_type_parse("q3_k", &type), LVK_ERR_INVALID_ARGUMENT, "f32, f16");
    int n = 0;
    while (lvk_weight_type_name(n)) n++;
    assert_true(n > 4);
    assert_string_equal(lvk_weight_type_name(0), "f32");
    char names[256];
    assert_int_equal(lvk_weight_type_names("|", "|", names, sizeof names), LVK_OK);
    assert_non_null(strstr(names, "f32|f16|"));
    assert_string_equal(strrchr(names, '|') + 1, lvk_weight_type_name(n - 1));
}

/* What a converter's progress callback was told: calls, the last `done`, the
 * total, and whether `done` ever went backwards or past the total. */
typedef struct progress_log {
    uint64_t calls, last_done, total;
    int out_of_order;
    char first_tensor[64];
} progress_log;

static void log_progress(uint64_t done, uint64_t total, const char *tensor, void *user) {
    progress_log *log = user;
    if (log->calls == 0) snprintf(log->first_tensor, sizeof log->first_tensor, "%s", tensor);
    else if (done != log->last_done + 1) log->out_of_order = 1;
    if (done >= total) log->out_of_order = 1;
    log->calls++;
    log->last_done = done;
    log->total = total;
}

/* One call per tensor, in order, the last saying all but one are written. */
static void check_progress(const progress_log *log, uint64_t n_tensors) {
    assert_false(log->out_of_order);
    assert_int_equal(log->calls, n_tensors);
    assert_int_equal(log->total, n_tensors);
    assert_int_equal(log->last_done + 1, n_tensors);
}

/* llama2.c -> GGUF (f32) -> q8_0 -> f32 through the API: each file loads for
 * inspection with the same shapes, in the type asked for, and every converter
 * reports each tensor as it starts. */
static void test_convert_round_trip(void **state) {
    (void)state;
    progress_log l2c_log = {0}, gguf_log = {0};
    lvk_convert_params p = lvk_convert_default_params();
    p.progress = log_progress;
    p.progress_user = &l2c_log;
    assert_int_equal(lvk_weight_type_parse("f32", &p.weight_type), LVK_OK);
    if (lvk_convert_llama2c(LLAMA2C_CHECKPOINT, LLAMA2C_TOKENIZER, TMP "_l2c.gguf", &p) != LVK_OK)
        fail_msg("%s", lvk_last_error());
    assert_int_equal(lvk_weight_type_parse("q8_0", &p.weight_type), LVK_OK);
    p.progress_user = &gguf_log;
    if (lvk_convert_gguf(TMP "_l2c.gguf", TMP "_q8.gguf", &p) != LVK_OK) fail_msg("%s", lvk_last_error());
    p.progress = NULL;
    assert_int_equal(lvk_weight_type_parse("f32", &p.weight_type), LVK_OK);
    if (lvk_convert_gguf(TMP "_q8.gguf", TMP "_back.gguf", &p) != LVK_OK) fail_msg("%s", lvk_last_error());

    lvk_model *f32 = inspect(TMP "_l2c.gguf"), *q8 = inspect(TMP "_q8.gguf"), *back = inspect(TMP "_back.gguf");
    assert_int_equal(lvk_model_tensor_count(q8), lvk_model_tensor_count(f32));
    check_progress(&l2c_log, lvk_model_tensor_count(f32));
    check_progress(&gguf_log, lvk_model_tensor_count(f32));
    lvk_tensor_info first;
    assert_int_equal(lvk_model_tensor(f32, 0, &first), LVK_OK);
    assert_int_equal(strlen(gguf_log.first_tensor), first.name_len);
    assert_memory_equal(gguf_log.first_tensor, first.name, first.name_len);
    int any_q8 = 0;
    for (uint64_t i = 0; i < lvk_model_tensor_count(f32); i++) {
        lvk_tensor_info a, b, c;
        assert_int_equal(lvk_model_tensor(f32, i, &a), LVK_OK);
        assert_int_equal(lvk_model_tensor(q8, i, &b), LVK_OK);
        assert_int_equal(lvk_model_tensor(back, i, &c), LVK_OK);
        assert_int_equal(a.name_len, b.name_len);
        assert_memory_equal(a.name, b.name, a.name_len);
        assert_memory_equal(a.shape, b.shape, sizeof a.shape);
        assert_memory_equal(a.shape, c.shape, sizeof a.shape);
        any_q8 |= !strcmp(lvk_type_name(b.type), "q8_0");
        assert_string_equal(lvk_type_name(c.type), "f32");
    }
    assert_true(any_q8);
    lvk_model_free(f32);
    lvk_model_free(q8);
    lvk_model_free(back);
}

static void test_convert_errors(void **state) {
    (void)state;
    lvk_convert_params p = lvk_convert_default_params();
    expect_error(lvk_convert_gguf(TMP "_missing.gguf", TMP "_out.gguf", &p), LVK_ERR_IO, "_missing.gguf");
    expect_error(lvk_convert_hf(TMP "_no_such_dir", TMP "_out.gguf", &p), LVK_ERR_IO, "_no_such_dir");
    p.vocab_only = 1;
    expect_error(lvk_convert_gguf(TMP "_l2c.gguf", TMP "_out.gguf", &p), LVK_ERR_INVALID_ARGUMENT, "vocab_only");
    p = lvk_convert_default_params();
    p.weight_type = 11; /* q3_k: a type LiteVK does not compute with */
    expect_error(lvk_convert_llama2c(LLAMA2C_CHECKPOINT, LLAMA2C_TOKENIZER, TMP "_out.gguf", &p),
                 LVK_ERR_INVALID_ARGUMENT, "cannot convert to q3_k");
}

/* ---- calibration ------------------------------------------------------------------- */

/* Observing a few greedy tokens, choosing thresholds and writing them into a
 * copy, which lvk_model_exit_config reads back. */
static void test_calibrated_copy(void **state) {
    (void)state;
    const char *src = LITEVK_ASSETS_DIR "/stories260K.gguf";
    lvk_context *ctx;
    lvk_model *model;
    if (lvk_context_create(NULL, &ctx) != LVK_OK || lvk_model_load(ctx, src, NULL, &model) != LVK_OK)
        fail_msg("%s", lvk_last_error());
    lvk_exit_config cfg;
    assert_int_equal(lvk_model_exit_config(model, &cfg, NULL), LVK_OK);
    assert_true(cfg.n_exits > 0);
    for (int k = 0; k < cfg.n_exits; k++) cfg.thresholds[k] = 1.0f;
    cfg.probe_all = 1;
    lvk_calibrator *calibrator;
    assert_int_equal(lvk_calibrator_create(&cfg, &calibrator), LVK_OK);
    lvk_exit_calibration res[LVK_MAX_EXITS];
    expect_error(lvk_calibrator_thresholds(calibrator, LVK_CALIBRATE_LITE, 0, res), LVK_ERR_INVALID_ARGUMENT,
                 "no tokens");

    lvk_session_params sp = lvk_session_default_params();
    sp.exits = &cfg;
    lvk_session *s;
    assert_int_equal(lvk_session_create(model, &sp, &s), LVK_OK);
    assert_int_equal(lvk_session_feed(s, "Once upon a time", 1), LVK_OK);
    for (int t = 0; t < 300; t++) { /* more than the calibrator's first arrays hold */
        lvk_token_info tok;
        assert_int_equal(lvk_session_step(s, &tok), LVK_OK);
        assert_int_equal(lvk_calibrator_observe(calibrator, s), LVK_OK);
        if (tok.is_eog) assert_int_equal(lvk_session_feed(s, "Once", 0), LVK_OK);
    }
    assert_int_equal(lvk_calibrator_tokens(calibrator), 300);
    assert_int_equal(lvk_calibrator_thresholds(calibrator, LVK_CALIBRATE_AGREEMENT, 0.9, res), LVK_OK);
    expect_error(lvk_calibrator_thresholds(calibrator, LVK_CALIBRATE_AGREEMENT, 1.5, res), LVK_ERR_INVALID_ARGUMENT,
                 "exit after block");
    for (int k = 0; k < cfg.n_exits; k++) {
        assert_int_equal(res[k].tokens, 300);
        assert_true(res[k].threshold >= 0 && res[k].threshold <= 1);
        cfg.thresholds[k] = res[k].threshold;
    }

    /* a session whose last pass took an exit did not run every head */
    lvk_exit_config early = cfg;
    early.probe_all = 0;
    for (int k = 0; k < early.n_exits; k++) early.thresholds[k] = 0;
    assert_int_equal(lvk_session_set_exits(s, &early), LVK_OK);
    lvk_token_info tok;
    assert_int_equal(lvk_session_step(s, &tok), LVK_OK);
    assert_int_equal(lvk_session_step(s, &tok), LVK_OK);
    expect_error(lvk_calibrator_observe(calibrator, s), LVK_ERR_STATE, "exit probes");
    lvk_session_free(s);
    lvk_calibrator_free(calibrator);
    lvk_model_free(model);
    lvk_context_free(ctx);

    lvk_calibration_record record = {.rule = LVK_CALIBRATE_AGREEMENT, .target = 0.9f,
                                     .prompts_hash = 0x0123456789abcdefull, .tokens = 300, .date = "2025-01-31"};
    if (lvk_write_calibrated_copy(src, TMP "_calibrated.gguf", &cfg, &record) != LVK_OK)
        fail_msg("%s", lvk_last_error());
    lvk_model *copy = inspect(TMP "_calibrated.gguf"); /* read back without a device */
    lvk_exit_config back;
    int calibrated = 0;
    assert_int_equal(lvk_model_exit_config(copy, &back, &calibrated), LVK_OK);
    assert_true(calibrated);
    assert_int_equal(back.n_exits, cfg.n_exits);
    for (int k = 0; k < cfg.n_exits; k++) {
        assert_int_equal(back.layers[k], cfg.layers[k]);
        assert_float_equal(back.thresholds[k], cfg.thresholds[k], 0);
    }
    lvk_meta_entry kv;
    assert_int_equal(lvk_model_meta(copy, find_key(copy, "litevk.calibration.prompts_hash"), &kv), LVK_OK);
    assert_int_equal(kv.value.str_len, 16);
    assert_memory_equal(kv.value.str, "0123456789abcdef", 16);
    assert_int_equal(lvk_model_meta(copy, find_key(copy, "litevk.calibration.rule"), &kv), LVK_OK);
    assert_memory_equal(kv.value.str, "agreement", 9);
    lvk_model_free(copy);

    /* an empty date is today's */
    record.date[0] = 0;
    assert_int_equal(lvk_write_calibrated_copy(src, TMP "_calibrated.gguf", &cfg, &record), LVK_OK);
    copy = inspect(TMP "_calibrated.gguf");
    assert_int_equal(lvk_model_meta(copy, find_key(copy, "litevk.calibration.date"), &kv), LVK_OK);
    assert_int_equal(kv.value.str_len, 10);
    lvk_model_free(copy);
    expect_error(lvk_write_calibrated_copy(TMP "_missing.gguf", TMP "_calibrated.gguf", &cfg, &record), LVK_ERR_IO,
                 "_missing.gguf");
}

/* ---- benchmark metrics ------------------------------------------------------------------ */

static double rouge(const int32_t *a, int na, const int32_t *b, int nb) {
    double f1 = -1;
    assert_int_equal(lvk_rouge_l_f1(a, na, b, nb, &f1), LVK_OK);
    return f1;
}

/* ROUGE-L F1 over token ids, against values worked out by hand. */
/* lvk_utf8_char_length: whole characters, and 0 for every way a byte string is not one. */
static void test_utf8_char_length(void **state) {
    (void)state;
    assert_int_equal(lvk_utf8_char_length("a", 1), 1);
    assert_int_equal(lvk_utf8_char_length("\xc3\xa9!", 3), 2);
    assert_int_equal(lvk_utf8_char_length("\xe2\x82\xac", 3), 3);
    assert_int_equal(lvk_utf8_char_length("\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(lvk_utf8_char_length("\xe2\x82\xac", 2), 0);     /* cut off: the next piece holds the rest */
    assert_int_equal(lvk_utf8_char_length("\x80", 1), 0);             /* a stray continuation byte */
    assert_int_equal(lvk_utf8_char_length("\xc0\xaf", 2), 0);         /* overlong */
    assert_int_equal(lvk_utf8_char_length("\xed\xa0\x80", 3), 0);     /* a surrogate */
    assert_int_equal(lvk_utf8_char_length("\xf4\x90\x80\x80", 4), 0); /* past U+10FFFF */
    assert_int_equal(lvk_utf8_char_length("a", 0), 0);
    assert_int_equal(lvk_utf8_char_length(NULL, 4), 0);
}

static void test_rouge_l(void **state) {
    (void)state;
    const int32_t a[] = {5, 6, 7, 8}, b[] = {4, 5};
    assert_float_equal(rouge(a, 4, a, 4), 1.0, 1e-12);
    assert_float_equal(rouge(a, 3, b, 1), 0.0, 1e-12); /* disjoint */
    assert_float_equal(rouge(a, 0, a, 0), 1.0, 1e-12);
    assert_float_equal(rouge(a, 1, a, 0), 0.0, 1e-12);
    assert_float_equal(rouge(a, 0, a, 1), 0.0, 1e-12);
    /* LCS of "1 2 3 4 5" and "1 3 9 5" is "1 3 5": P = 3/4, R = 3/5, F1 = 2/3, either way round */
    const int32_t ref[] = {1, 2, 3, 4, 5}, cand[] = {1, 3, 9, 5};
    assert_float_equal(rouge(ref, 5, cand, 4), 2.0 / 3.0, 1e-12);
    assert_float_equal(rouge(cand, 4, ref, 5), 2.0 / 3.0, 1e-12);
    /* same tokens reversed: the LCS is one token long */
    const int32_t fwd[] = {1, 2, 3, 4}, rev[] = {4, 3, 2, 1};
    assert_float_equal(rouge(fwd, 4, rev, 4), 0.25, 1e-12);
    /* LCS of "7 7 7" and "7 8 7" is "7 7" */
    const int32_t r1[] = {7, 7, 7}, r2[] = {7, 8, 7};
    assert_float_equal(rouge(r1, 3, r2, 3), 2.0 / 3.0, 1e-12);
    double f1;
    expect_error(lvk_rouge_l_f1(NULL, 2, a, 1, &f1), LVK_ERR_INVALID_ARGUMENT, "lvk_rouge_l_f1");
}

static void test_bench_metrics(void **state) {
    (void)state;
    lvk_bench_totals t = {.prompts = 2,
                          .full = {.tokens = 100, .passes = 100, .ms = 1000},
                          .exit = {.tokens = 90, .passes = 100, .ms = 500},
                          .exit_other_mode = {.tokens = 90, .passes = 100, .ms = 400},
                          .exit_blocks = 250, /* of 4 blocks: 2.5 a token */
                          .exits_taken = {25, 75},
                          .forced = 80, .agreed = 60, .rouge_l_sum = 1.5,
                          .weight_bytes = 700, .full_depth_bytes = 1000,
                          .speculate = {.run = {.tokens = 100, .passes = 100, .ms = 250}, .forced = 10, .agreed = 10,
                                        .cycles = 20, .drafted = 80, .accepted = 60}};
    lvk_bench_metrics m;
    assert_int_equal(lvk_bench_metrics_compute(&t, 4, 1, &m), LVK_OK);
    assert_float_equal(m.full_tokens_per_s, 100, 1e-9);
    assert_float_equal(m.exit_tokens_per_s, 200, 1e-9);
    assert_float_equal(m.exit_other_mode_tokens_per_s, 250, 1e-9);
    assert_float_equal(m.speedup, 2, 1e-9);
    assert_float_equal(m.blocks_per_token, 2.5, 1e-9);
    assert_float_equal(m.blocks_skipped_pct, 37.5, 1e-9);
    assert_float_equal(m.bytes_ratio, 0.7, 1e-9);
    assert_float_equal(m.agreement, 0.75, 1e-9);
    assert_float_equal(m.rouge_l, 0.75, 1e-9);
    assert_float_equal(m.length_ratio, 0.9, 1e-9);
    assert_float_equal(m.exit_share[0], 0.25, 1e-9);
    assert_float_equal(m.exit_share[1], 0.75, 1e-9);
    assert_float_equal(m.speculate_speedup, 4, 1e-9);
    assert_float_equal(m.acceptance, 0.75, 1e-9);
    assert_float_equal(m.tokens_per_cycle, 4, 1e-9); /* (60 accepted + 20 cycles' own tokens) / 20 */
    assert_float_equal(m.speculate_bytes_ratio, 0, 0);  /* no bytes counted: 0, not NaN */
    /* nothing run: every figure 0 */
    lvk_bench_totals none = {0};
    assert_int_equal(lvk_bench_metrics_compute(&none, 4, 1, &m), LVK_OK);
    assert_float_equal(m.speedup, 0, 0);
    assert_float_equal(m.blocks_skipped_pct, 0, 0);
    expect_error(lvk_bench_metrics_compute(&t, 0, 1, &m), LVK_ERR_INVALID_ARGUMENT, "0 blocks");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inspect_synthetic), cmocka_unit_test(test_inspect_errors),
        cmocka_unit_test(test_weight_types),      cmocka_unit_test(test_convert_round_trip),
        cmocka_unit_test(test_convert_errors),    cmocka_unit_test(test_calibrated_copy),
        cmocka_unit_test(test_utf8_char_length), cmocka_unit_test(test_rouge_l),           cmocka_unit_test(test_bench_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
