/* test_exit_config.c — early-exit configurations: defaults, parsing and
 * checking, mode names, the calibration rules, and the litevk.* keys of a
 * GGUF file, read and written. No Vulkan device is needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "decode/calibration.h"
#include "decode/exit_config.h"
#include "formats/gguf.h"
#include "formats/gguf_write.h"
#include "model/model.h"
#include "synth.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define TMP(name) LITEVK_TMP_DIR "/test_exit_config_" name

/* ---- helpers ------------------------------------------------------------------ */

/* `got` must be `want`, with `keyword` in the message. */
static void expect_fail(lvk_status got, lvk_status want, const char *keyword) {
    if (got != want || !strstr(lvk_last_error(), keyword))
        fail_msg("expected %s mentioning '%s', got %s: '%s'", lvk_status_name(want), keyword,
                 lvk_status_name(got), lvk_last_error());
}

static lvk_exit_config make_config(int n, const int *layers, const float *thresholds) {
    lvk_exit_config c = exit_config_default(32);
    c.n_exits = n;
    for (int i = 0; i < n; i++) {
        c.layers[i] = layers[i];
        c.thresholds[i] = thresholds[i];
    }
    return c;
}

static void expect_config(const lvk_exit_config *c, int n, const int *layers,
                          const float *thresholds) {
    assert_int_equal(c->n_exits, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(c->layers[i], layers[i]);
        if (c->thresholds[i] != thresholds[i])
            fail_msg("threshold %d is %g, expected %g", i, c->thresholds[i], thresholds[i]);
    }
}

static int values_equal(const gguf_value *a, const gguf_value *b) {
    if (a->type != b->type) return 0;
    switch (a->type) {
    case GGUF_STRING:
        return a->v.str.len == b->v.str.len && !memcmp(a->v.str.ptr, b->v.str.ptr, a->v.str.len);
    case GGUF_FLOAT32: case GGUF_FLOAT64:
        return a->v.f64 == b->v.f64;
    case GGUF_ARRAY:
        if (a->arr_type != b->arr_type || a->arr_count != b->arr_count) return 0;
        if (a->arr_type != GGUF_STRING)
            return !a->arr_count ||
                   !memcmp(a->arr_data, b->arr_data, a->arr_count * gguf_scalar_size(a->arr_type));
        for (uint64_t i = 0; i < a->arr_count; i++)
            if (a->arr_strs[i].len != b->arr_strs[i].len ||
                memcmp(a->arr_strs[i].ptr, b->arr_strs[i].ptr, a->arr_strs[i].len))
                return 0;
        return 1;
    default:
        return a->v.u64 == b->v.u64;
    }
}

static int count_keys(const gguf_file *f, const char *prefix) {
    int n = 0;
    for (uint64_t i = 0; i < f->n_kv; i++)
        n += f->kv[i].key.len >= strlen(prefix) && !memcmp(f->kv[i].key.ptr, prefix, strlen(prefix));
    return n;
}

/* Every key of src but its litevk.* ones is in dst with the same value, and
 * every tensor has the same name, type, shape and bytes. */
static void expect_copied(const char *src_path, const char *dst_path) {
    gguf_file *src, *dst;
    assert_int_equal(gguf_open(src_path, &src), LVK_OK);
    assert_int_equal(gguf_open(dst_path, &dst), LVK_OK);
    for (uint64_t i = 0; i < src->n_kv; i++) {
        const gguf_kv *kv = &src->kv[i];
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)kv->key.len, kv->key.ptr);
        if (!strncmp(key, "litevk.", 7)) continue;
        const gguf_kv *copy = gguf_find(dst, key);
        if (!copy) fail_msg("key '%s' was not copied", key);
        if (!values_equal(&kv->value, &copy->value)) fail_msg("key '%s' changed", key);
    }
    assert_int_equal(dst->alignment, src->alignment);
    assert_int_equal(dst->n_tensors, src->n_tensors);
    for (uint64_t i = 0; i < src->n_tensors; i++) {
        const gguf_tensor *a = &src->tensors[i];
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)a->name.len, a->name.ptr);
        const gguf_tensor *b = gguf_find_tensor(dst, name);
        if (!b) fail_msg("tensor '%s' was not copied", name);
        assert_int_equal(b->type, a->type);
        assert_int_equal(b->n_dims, a->n_dims);
        assert_memory_equal(b->ne, a->ne, sizeof a->ne);
        assert_int_equal(b->n_bytes, a->n_bytes);
        assert_memory_equal(b->data, a->data, a->n_bytes);
    }
    gguf_close(src);
    gguf_close(dst);
}

static gguf_value int_array(uint32_t type, const void *data, uint64_t n) {
    return (gguf_value){.type = GGUF_ARRAY, .arr_type = type, .arr_count = n, .arr_data = data};
}

/* A tensor-less GGUF of `n_layers` blocks with the given litevk.exit_* values
 * (NULL: absent). */
static void write_meta(const char *path, int n_layers, const gguf_value *layers,
                       const gguf_value *thresholds) {
    gguf_writer *w;
    assert_int_equal(gguf_writer_create(&w), LVK_OK);
    assert_int_equal(gguf_writer_add_str(w, "general.architecture", "llama"), LVK_OK);
    assert_int_equal(gguf_writer_add_u32(w, "llama.block_count", (uint32_t)n_layers), LVK_OK);
    if (layers) assert_int_equal(gguf_writer_add_value(w, "litevk.exit_layers", layers), LVK_OK);
    if (thresholds)
        assert_int_equal(gguf_writer_add_value(w, "litevk.exit_thresholds", thresholds), LVK_OK);
    assert_int_equal(gguf_writer_write(w, path), LVK_OK);
    gguf_writer_free(w);
}

/* ---- defaults, checking, parsing ---------------------------------------------------- */

static void test_defaults(void **state) {
    (void)state;
    struct { int n_layers, n; int layers[8]; } cases[] = {
        {32, 6, {8, 12, 16, 20, 24, 28}}, {22, 5, {5, 9, 13, 17, 21}}, {5, 1, {1}},
        {2, 1, {1}}, {1, 0, {0}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        lvk_exit_config c = exit_config_default(cases[k].n_layers);
        assert_int_equal(c.n_exits, cases[k].n);
        for (int i = 0; i < c.n_exits; i++) {
            assert_int_equal(c.layers[i], cases[k].layers[i]);
            assert_true(c.thresholds[i] == 1.0f);
        }
        assert_int_equal(c.mode, LVK_EXIT_FENCE);
        assert_int_equal(c.kv_fill, LVK_KV_DEFERRED);
        assert_int_equal(lvk_exit_config_validate(&c, cases[k].n_layers), LVK_OK);
    }
    /* a deep model is capped at LVK_MAX_EXITS */
    lvk_exit_config deep = exit_config_default(400);
    assert_int_equal(deep.n_exits, LVK_MAX_EXITS);
    assert_int_equal(deep.layers[0], 100);
    assert_int_equal(lvk_exit_config_validate(&deep, 400), LVK_OK);
}

static void test_parse(void **state) {
    (void)state;
    lvk_exit_config c = exit_config_default(32);
    assert_int_equal(lvk_exit_config_parse(&c, 32, " 4 ,8,  16 ", NULL), LVK_OK);
    expect_config(&c, 3, (int[]){4, 8, 16}, (float[]){1, 1, 1});
    assert_int_equal(lvk_exit_config_parse(&c, 32, NULL, "0.5, 0.25 ,1"), LVK_OK);
    expect_config(&c, 3, (int[]){4, 8, 16}, (float[]){0.5f, 0.25f, 1});
    /* new layers without thresholds never exit, whatever the old count */
    assert_int_equal(lvk_exit_config_parse(&c, 32, "1,2,3", NULL), LVK_OK);
    expect_config(&c, 3, (int[]){1, 2, 3}, (float[]){1, 1, 1});
    assert_int_equal(lvk_exit_config_parse(&c, 32, "31", "0"), LVK_OK);
    expect_config(&c, 1, (int[]){31}, (float[]){0});
    assert_int_equal(lvk_exit_config_parse(&c, 32, NULL, NULL), LVK_OK);
    expect_config(&c, 1, (int[]){31}, (float[]){0});
    assert_int_equal(lvk_exit_config_parse(&c, 32, "", NULL), LVK_OK);
    assert_int_equal(c.n_exits, 0);
    assert_int_equal(lvk_exit_config_parse(&c, 32, "  ", ""), LVK_OK);
    assert_int_equal(c.n_exits, 0);
    assert_int_equal(lvk_exit_config_parse(&c, 1, "", NULL), LVK_OK);
    /* mode and KV fill are kept */
    c.mode = LVK_EXIT_GPU;
    c.kv_fill = LVK_KV_NONE;
    assert_int_equal(lvk_exit_config_parse(&c, 32, "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", NULL), LVK_OK);
    assert_int_equal(c.n_exits, LVK_MAX_EXITS);
    assert_int_equal(c.mode, LVK_EXIT_GPU);
    assert_int_equal(c.kv_fill, LVK_KV_NONE);
}

static void test_parse_errors(void **state) {
    (void)state;
    struct { const char *layers, *thresholds, *keyword; } cases[] = {
        {"40", NULL, "exit layer 40 is outside 1..31 (the model has 32 blocks"},
        {"0", NULL, "exit layer 0 is outside 1..31"},
        {"-3", NULL, "outside 1..31"},
        {"32", NULL, "last block"},
        {"12,8", NULL, "unsorted: 8 comes after 12"},
        {"8,8", NULL, "exit layer 8 is duplicated"},
        {"8,12,8", NULL, "exit layer 8 is duplicated"},
        {"8,12", "0.5", "1 threshold for 2 exit layers"},
        {"8,12", "0.5,0.5,0.5", "3 thresholds for 2 exit layers"},
        {"8", "", "0 thresholds for 1 exit layer"},
        {NULL, "0.5", "1 threshold for 3 exit layers"},
        {"8", "-0.1", "threshold -0.1 of the exit after block 8 is outside 0..1"},
        {"8", "1.5", "outside 0..1"},
        {"8", "nan", "threshold nan"},
        {"8", "inf", "outside 0..1"},
        {"8x", NULL, "'8x' in exit layers '8x' is not an integer"},
        {"8.5", NULL, "not an integer"},
        {"8 12", NULL, "not an integer"},
        {"0x10", NULL, "not an integer"},
        {"eight", NULL, "not an integer"},
        {"8", "0.5x", "'0.5x' in thresholds '0.5x' is not a number"},
        {"8", "half", "not a number"},
        {"8,,12", NULL, "empty item"},
        {"8,", NULL, "empty item"},
        {",8", NULL, "empty item"},
        {"8", " , ", "empty item"},
        {"99999999999", NULL, "out of range"},
        {"1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", NULL, "17 exit layers"},
    };
    const lvk_exit_config before = make_config(3, (int[]){4, 8, 16}, (float[]){0.5f, 0.25f, 1});
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        lvk_exit_config c = before;
        lvk_status s = lvk_exit_config_parse(&c, 32, cases[k].layers, cases[k].thresholds);
        expect_fail(s, LVK_ERR_INVALID_ARGUMENT, cases[k].keyword);
        if (memcmp(&c, &before, sizeof c))
            fail_msg("'%s' / '%s' changed the configuration", cases[k].layers ? cases[k].layers : "NULL",
                     cases[k].thresholds ? cases[k].thresholds : "NULL");
    }
    expect_fail(lvk_exit_config_parse(NULL, 32, "8", NULL), LVK_ERR_INVALID_ARGUMENT, "NULL");

    /* what parsing cannot produce */
    lvk_exit_config c = before;
    c.n_exits = -1;
    expect_fail(lvk_exit_config_validate(&c, 32), LVK_ERR_INVALID_ARGUMENT, "-1 exits is outside 0..16");
    c.n_exits = LVK_MAX_EXITS + 1;
    expect_fail(lvk_exit_config_validate(&c, 32), LVK_ERR_INVALID_ARGUMENT, "17 exits");
    c = before;
    c.mode = (lvk_exit_mode)5;
    expect_fail(lvk_exit_config_validate(&c, 32), LVK_ERR_INVALID_ARGUMENT, "exit mode 5");
    c = before;
    c.kv_fill = (lvk_kv_fill)-1;
    expect_fail(lvk_exit_config_validate(&c, 32), LVK_ERR_INVALID_ARGUMENT, "KV fill -1");
    c = make_config(1, (int[]){1}, (float[]){1});
    expect_fail(lvk_exit_config_validate(&c, 1), LVK_ERR_INVALID_ARGUMENT, "single block");
    expect_fail(lvk_exit_config_validate(NULL, 32), LVK_ERR_INVALID_ARGUMENT, "NULL");
}

static void test_names(void **state) {
    (void)state;
    lvk_exit_mode modes[] = {LVK_EXIT_FENCE, LVK_EXIT_GPU};
    for (size_t i = 0; i < 2; i++) {
        lvk_exit_mode m = (lvk_exit_mode)-1;
        assert_int_equal(lvk_exit_mode_parse(lvk_exit_mode_name(modes[i]), &m), LVK_OK);
        assert_int_equal(m, modes[i]);
    }
    lvk_kv_fill fills[] = {LVK_KV_PROPAGATE, LVK_KV_DEFERRED, LVK_KV_NONE};
    for (size_t i = 0; i < 3; i++) {
        lvk_kv_fill f = (lvk_kv_fill)-1;
        assert_int_equal(lvk_kv_fill_parse(lvk_kv_fill_name(fills[i]), &f), LVK_OK);
        assert_int_equal(f, fills[i]);
    }
    assert_string_equal(lvk_exit_mode_name(LVK_EXIT_GPU), "gpu");
    assert_string_equal(lvk_kv_fill_name(LVK_KV_DEFERRED), "deferred");
    assert_string_equal(lvk_exit_mode_name((lvk_exit_mode)9), "unknown");
    assert_string_equal(lvk_kv_fill_name((lvk_kv_fill)9), "unknown");

    lvk_exit_mode m = LVK_EXIT_GPU;
    expect_fail(lvk_exit_mode_parse("Fence", &m), LVK_ERR_INVALID_ARGUMENT, "choose one of: fence, gpu");
    assert_int_equal(m, LVK_EXIT_GPU);
    lvk_kv_fill f = LVK_KV_NONE;
    expect_fail(lvk_kv_fill_parse("", &f), LVK_ERR_INVALID_ARGUMENT, "propagate, deferred, none");
    assert_int_equal(f, LVK_KV_NONE);
    expect_fail(lvk_exit_mode_parse(NULL, &m), LVK_ERR_INVALID_ARGUMENT, "NULL");
    expect_fail(lvk_kv_fill_parse("none", NULL), LVK_ERR_INVALID_ARGUMENT, "NULL");
}

/* ---- calibration -------------------------------------------------------------- */

static void test_calibration(void **state) {
    (void)state;
    /* Six tokens (unsorted, to exercise the sort):
     *   confidence 0.5  0.875 0.25 0.625 0.75 0.375
     *   agrees     1    1     1    0     1    0
     * LITE: mean confidence of the agreeing four = (0.5 + 0.875 + 0.25 + 0.75) / 4
     *   = 2.375 / 4 = 0.59375; above it: 0.875, 0.75, 0.625 -> exit share 3/6.
     * Agreement, target 0.75 (exit when confidence > t):
     *   t = 0     accepts all 6, 4 agree: 0.667
     *   t = 0.25  accepts 5, 3 agree: 0.6
     *   t = 0.375 accepts 0.5, 0.625, 0.75, 0.875: 3 of 4 agree = 0.75 -> chosen; share 4/6.
     * Agreement, target 1:
     *   t = 0.5   accepts 0.625, 0.75, 0.875: 2/3
     *   t = 0.625 accepts 0.75, 0.875: 2/2 -> chosen; share 2/6.
     * Agreement is 4/6 of all tokens whatever the rule. */
    const float conf[6] = {0.5f, 0.875f, 0.25f, 0.625f, 0.75f, 0.375f};
    const uint8_t agrees[6] = {1, 1, 1, 0, 1, 0};
    lvk_exit_calibration r;
    assert_int_equal(calibration_threshold(LVK_CALIBRATE_LITE, 0, conf, agrees, 6, &r), LVK_OK);
    assert_true(r.threshold == 0.59375f);
    assert_int_equal(r.tokens, 6);
    assert_true(r.agreement == 4.0 / 6.0);
    assert_true(r.exit_share == 3.0 / 6.0);
    assert_int_equal(calibration_threshold(LVK_CALIBRATE_AGREEMENT, 0.75, conf, agrees, 6, &r), LVK_OK);
    assert_true(r.threshold == 0.375f);
    assert_true(r.agreement == 4.0 / 6.0);
    assert_true(r.exit_share == 4.0 / 6.0);
    assert_int_equal(calibration_threshold(LVK_CALIBRATE_AGREEMENT, 1.0, conf, agrees, 6, &r), LVK_OK);
    assert_true(r.threshold == 0.625f);
    assert_true(r.exit_share == 2.0 / 6.0);
    /* a low target is met by exiting everything */
    assert_int_equal(calibration_threshold(LVK_CALIBRATE_AGREEMENT, 0.5, conf, agrees, 6, &r), LVK_OK);
    assert_true(r.threshold == 0.0f);
    assert_true(r.exit_share == 1.0);

    /* Nothing agrees: both rules never exit. */
    const uint8_t none[6] = {0};
    assert_int_equal(calibration_threshold(LVK_CALIBRATE_LITE, 0, conf, none, 6, &r), LVK_OK);
    assert_true(r.threshold == 1.0f);
    assert_true(r.agreement == 0.0 && r.exit_share == 0.0);
    assert_int_equal(calibration_threshold(LVK_CALIBRATE_AGREEMENT, 0.9, conf, none, 6, &r), LVK_OK);
    assert_true(r.threshold == 1.0f);

    /* Ties: {0.5 agrees, 0.5 does not, 0.25 agrees}, target 1. t = 0 and
     * t = 0.25 accept both 0.5s (1/2); t = 0.5 accepts nothing -> 1. */
    const float tied[3] = {0.5f, 0.5f, 0.25f};
    const uint8_t tied_agree[3] = {1, 0, 1};
    assert_int_equal(calibration_threshold(LVK_CALIBRATE_AGREEMENT, 1.0, tied, tied_agree, 3, &r), LVK_OK);
    assert_true(r.threshold == 1.0f);
    assert_true(r.exit_share == 0.0);

    expect_fail(calibration_threshold(LVK_CALIBRATE_LITE, 0, conf, agrees, 0, &r), LVK_ERR_INVALID_ARGUMENT,
                "no tokens to calibrate on");
    expect_fail(calibration_threshold(LVK_CALIBRATE_AGREEMENT, 0, conf, agrees, 6, &r),
                LVK_ERR_INVALID_ARGUMENT, "outside (0, 1]");
    expect_fail(calibration_threshold(LVK_CALIBRATE_AGREEMENT, 1.01, conf, agrees, 6, &r),
                LVK_ERR_INVALID_ARGUMENT, "outside (0, 1]");
    const float bad[2] = {0.5f, NAN};
    expect_fail(calibration_threshold(LVK_CALIBRATE_LITE, 0, bad, agrees, 2, &r), LVK_ERR_INVALID_ARGUMENT,
                "token 1");
    expect_fail(calibration_threshold((lvk_calibration_rule)7, 0.5, conf, agrees, 6, &r),
                LVK_ERR_INVALID_ARGUMENT, "rule 7");

    /* FNV-1a 64 reference values; a split input hashes the same */
    assert_true(fnv1a64("", 0, FNV1A64_INIT) == 0xcbf29ce484222325ull);
    assert_true(fnv1a64("a", 1, FNV1A64_INIT) == 0xaf63dc4c8601ec8cull);
    assert_true(fnv1a64("foobar", 6, FNV1A64_INIT) == 0x85944171f73967e8ull);
    assert_true(fnv1a64("bar", 3, fnv1a64("foo", 3, FNV1A64_INIT)) == 0x85944171f73967e8ull);
}

/* ---- GGUF metadata -------------------------------------------------------------- */

static void test_write_gguf(void **state) {
    (void)state;
    const char *src = TMP("src.gguf"), *once = TMP("once.gguf"), *twice = TMP("twice.gguf");
    synth_params p = synth_default_params();
    p.n_layers = 4;
    p.weight_type = GGML_Q8_0;
    p.tied = 0;
    assert_int_equal(synth_llama_gguf(&p, src), LVK_OK);

    /* an uncalibrated model gets the defaults */
    gguf_file *f;
    lvk_exit_config c;
    int calibrated = -1;
    assert_int_equal(gguf_open(src, &f), LVK_OK);
    uint64_t n_kv = f->n_kv;
    assert_int_equal(exit_config_from_gguf(f, 4, &c, &calibrated), LVK_OK);
    assert_int_equal(calibrated, 0);
    lvk_exit_config def = exit_config_default(4);
    assert_memory_equal(&c, &def, sizeof c);
    gguf_close(f);

    lvk_exit_config want = make_config(2, (int[]){1, 3}, (float[]){0.5f, 0.25f});
    exit_calibration cal = {.rule = "agreement", .target = 0.9f, .prompts_hash = "0123456789abcdef",
                            .tokens = 1234, .date = "2025-01-31"};
    assert_int_equal(exit_config_write_gguf(src, once, &want, &cal), LVK_OK);
    expect_copied(src, once);
    assert_int_equal(gguf_open(once, &f), LVK_OK);
    assert_int_equal(f->n_kv, n_kv + 7);
    assert_int_equal(exit_config_from_gguf(f, 4, &c, &calibrated), LVK_OK);
    assert_int_equal(calibrated, 1);
    expect_config(&c, 2, (int[]){1, 3}, (float[]){0.5f, 0.25f});
    assert_int_equal(c.mode, def.mode);
    assert_int_equal(c.kv_fill, def.kv_fill);
    char text[64];
    assert_int_equal(gguf_get_str(f, "litevk.calibration.rule", text, sizeof text, LVK_ERR_FORMAT), LVK_OK);
    assert_string_equal(text, "agreement");
    float target = 0;
    assert_int_equal(gguf_get_f32(f, "litevk.calibration.target", &target, LVK_ERR_FORMAT), LVK_OK);
    assert_true(target == 0.9f);
    assert_int_equal(gguf_get_str(f, "litevk.calibration.prompts_hash", text, sizeof text, LVK_ERR_FORMAT), LVK_OK);
    assert_string_equal(text, "0123456789abcdef");
    uint32_t tokens = 0;
    assert_int_equal(gguf_get_u32(f, "litevk.calibration.tokens", &tokens, LVK_ERR_FORMAT), LVK_OK);
    assert_int_equal(tokens, 1234);
    assert_int_equal(gguf_get_str(f, "litevk.calibration.date", text, sizeof text, LVK_ERR_FORMAT), LVK_OK);
    assert_string_equal(text, "2025-01-31");
    assert_int_equal(gguf_find(f, "litevk.exit_layers")->value.arr_type, GGUF_INT32);
    gguf_close(f);
    /* the copy is still a loadable model */
    host_model *m;
    assert_int_equal(host_model_open(once, &m), LVK_OK);
    host_model_free(m);

    /* Writing over a calibrated file replaces its litevk keys; the LITE rule has no target. */
    lvk_exit_config again = make_config(1, (int[]){2}, (float[]){0.75f});
    cal.rule = "lite";
    assert_int_equal(exit_config_write_gguf(once, twice, &again, &cal), LVK_OK);
    expect_copied(src, twice);
    assert_int_equal(gguf_open(twice, &f), LVK_OK);
    assert_int_equal(f->n_kv, n_kv + 6);
    assert_int_equal(count_keys(f, "litevk."), 6);
    for (uint64_t i = 0; i < f->n_kv; i++)
        for (uint64_t j = 0; j < i; j++)
            if (f->kv[i].key.len == f->kv[j].key.len &&
                !memcmp(f->kv[i].key.ptr, f->kv[j].key.ptr, f->kv[i].key.len))
                fail_msg("key '%.*s' appears twice", (int)f->kv[i].key.len, f->kv[i].key.ptr);
    assert_null(gguf_find(f, "litevk.calibration.target"));
    assert_int_equal(exit_config_from_gguf(f, 4, &c, &calibrated), LVK_OK);
    expect_config(&c, 1, (int[]){2}, (float[]){0.75f});
    gguf_close(f);

    /* No calibration record: only the exits; no exits is a calibration too. */
    lvk_exit_config empty = make_config(0, NULL, NULL);
    assert_int_equal(exit_config_write_gguf(twice, once, &empty, NULL), LVK_OK);
    assert_int_equal(gguf_open(once, &f), LVK_OK);
    assert_int_equal(count_keys(f, "litevk."), 2);
    assert_int_equal(exit_config_from_gguf(f, 4, &c, &calibrated), LVK_OK);
    assert_int_equal(calibrated, 1);
    assert_int_equal(c.n_exits, 0);
    gguf_close(f);
}

/* The draft settings go into litevk.speculate.* and come back; a new draft
 * setting keeps the calibration record of unchanged exits; a draft exit that
 * is not an exit is a format error naming the keys. */
static void test_speculate_keys(void **state) {
    (void)state;
    const char *src = TMP("spec_src.gguf"), *cal_path = TMP("spec_cal.gguf"), *spec = TMP("spec.gguf");
    synth_params p = synth_default_params();
    p.n_layers = 4;
    assert_int_equal(synth_llama_gguf(&p, src), LVK_OK);
    lvk_exit_config c = make_config(2, (int[]){1, 3}, (float[]){0.5f, 0.25f});
    exit_calibration cal = {.rule = "lite", .prompts_hash = "0123456789abcdef", .tokens = 10, .date = "2025-01-31"};
    assert_int_equal(exit_config_write_gguf(src, cal_path, &c, &cal), LVK_OK);
    c.draft_exit = 3, c.draft_max = 6, c.draft_threshold = 0.125f;
    assert_int_equal(exit_config_write_gguf(cal_path, spec, &c, NULL), LVK_OK);
    gguf_file *f;
    lvk_exit_config back;
    assert_int_equal(gguf_open(spec, &f), LVK_OK);
    assert_int_equal(exit_config_from_gguf(f, 4, &back, NULL), LVK_OK);
    assert_int_equal(back.draft_exit, 3);
    assert_int_equal(back.draft_max, 6);
    assert_true(back.draft_threshold == 0.125f);
    assert_int_equal(back.decode, LVK_DECODE_EXIT); /* the file configures speculation; it does not turn it on */
    assert_int_equal(count_keys(f, "litevk.calibration."), 4);
    assert_int_equal(count_keys(f, "litevk.speculate."), 3);
    gguf_close(f);
    /* an uncalibrated file's draft settings follow its default exits */
    assert_int_equal(gguf_open(src, &f), LVK_OK);
    assert_int_equal(exit_config_from_gguf(f, 4, &back, NULL), LVK_OK);
    assert_int_equal(back.draft_exit, back.layers[0]);
    assert_int_equal(back.draft_max, LVK_DEFAULT_DRAFT_MAX);
    gguf_close(f);
    /* keys that do not make a usable draft setting (the default exits of 4 blocks: after block 1) */
    const char *bad = TMP("spec_bad.gguf");
    for (int k = 0; k < 3; k++) {
        gguf_writer *w;
        assert_int_equal(gguf_writer_create(&w), LVK_OK);
        if (k == 0) assert_int_equal(gguf_writer_add_u32(w, "litevk.speculate.exit", 3), LVK_OK);
        if (k == 1) assert_int_equal(gguf_writer_add_u32(w, "litevk.speculate.max", 8), LVK_OK);
        if (k == 2) assert_int_equal(gguf_writer_add_str(w, "litevk.speculate.threshold", "high"), LVK_OK);
        assert_int_equal(gguf_writer_write(w, bad), LVK_OK);
        gguf_writer_free(w);
        assert_int_equal(gguf_open(bad, &f), LVK_OK);
        static const char *const why[] = {"'litevk.speculate.*': draft exit 3 is not an exit block",
                                          "'litevk.speculate.*': draft maximum 8 is outside 1..7",
                                          "'litevk.speculate.threshold' should be a number"};
        expect_fail(exit_config_from_gguf(f, 4, &back, NULL), LVK_ERR_FORMAT, why[k]);
        gguf_close(f);
    }
}

/* The block count comes from the model's own architecture's key (qwen2.block_count). */
static void test_write_gguf_qwen2(void **state) {
    (void)state;
    const char *src = TMP("qwen2.gguf"), *dst = TMP("qwen2_exits.gguf");
    synth_params p = synth_default_params();
    p.arch = "qwen2";
    p.n_layers = 4;
    assert_int_equal(synth_llama_gguf(&p, src), LVK_OK);
    lvk_exit_config c = make_config(1, (int[]){3}, (float[]){0.5f});
    if (exit_config_write_gguf(src, dst, &c, NULL) != LVK_OK) fail_msg("%s", lvk_last_error());
    host_model *m;
    assert_int_equal(host_model_open(dst, &m), LVK_OK);
    lvk_exit_config got;
    assert_int_equal(exit_config_from_gguf(m->file, m->hp.n_layers, &got, NULL), LVK_OK);
    assert_int_equal(got.n_exits, 1);
    assert_int_equal(got.layers[0], 3);
    host_model_free(m);
    c = make_config(1, (int[]){4}, (float[]){0.5f});
    expect_fail(exit_config_write_gguf(src, dst, &c, NULL), LVK_ERR_INVALID_ARGUMENT, "last block");
}

static void test_write_gguf_errors(void **state) {
    (void)state;
    const char *src = TMP("errors.gguf");
    synth_params p = synth_default_params();
    p.n_layers = 4;
    assert_int_equal(synth_llama_gguf(&p, src), LVK_OK);
    lvk_exit_config c = make_config(1, (int[]){2}, (float[]){0.5f});
    /* the source is mapped: writing over it would corrupt what is being copied */
    expect_fail(exit_config_write_gguf(src, src, &c, NULL), LVK_ERR_INVALID_ARGUMENT, "another path");
    expect_fail(exit_config_write_gguf(src, LITEVK_TMP_DIR "/./test_exit_config_errors.gguf", &c, NULL),
                LVK_ERR_INVALID_ARGUMENT, "another path");
    host_model *m;
    assert_int_equal(host_model_open(src, &m), LVK_OK);
    host_model_free(m);

    const char *dst = TMP("errors_out.gguf");
    remove(dst);
    c = make_config(1, (int[]){4}, (float[]){0.5f});
    expect_fail(exit_config_write_gguf(src, dst, &c, NULL), LVK_ERR_INVALID_ARGUMENT, "last block");
    c = make_config(1, (int[]){2}, (float[]){0.5f});
    exit_calibration cal = {.rule = "median", .prompts_hash = "0", .date = "2025-01-31"};
    expect_fail(exit_config_write_gguf(src, dst, &c, &cal), LVK_ERR_INVALID_ARGUMENT, "lite or agreement");
    cal.rule = "agreement";
    expect_fail(exit_config_write_gguf(src, dst, &c, &cal), LVK_ERR_INVALID_ARGUMENT, "target 0");
    FILE *fp = fopen(dst, "rb");
    assert_null(fp); /* nothing was written */
    expect_fail(exit_config_write_gguf(TMP("missing.gguf"), dst, &c, NULL), LVK_ERR_IO, "missing.gguf");
}

/* Metadata of every kind survives the copy, general.alignment included, and
 * exit layers of any integer type are read. */
static void test_copy_any_value(void **state) {
    (void)state;
    const char *src = TMP("values.gguf"), *dst = TMP("values_out.gguf");
    const uint8_t layers8[2] = {1, 2};
    const float thresholds[2] = {0.5f, 0.125f};
    const uint16_t u16s[3] = {1, 65535, 7};
    gguf_str words[3] = {{"a", 1}, {"", 0}, {"\xe2\x96\x81x", 4}};
    gguf_value scalars[] = {
        {.type = GGUF_INT8, .v.i64 = -5},       {.type = GGUF_UINT8, .v.u64 = 250},
        {.type = GGUF_INT16, .v.i64 = -30000},  {.type = GGUF_UINT16, .v.u64 = 60000},
        {.type = GGUF_INT32, .v.i64 = -2000000000}, {.type = GGUF_UINT32, .v.u64 = 4000000000u},
        {.type = GGUF_INT64, .v.i64 = -1000000000000}, {.type = GGUF_UINT64, .v.u64 = UINT64_MAX},
        {.type = GGUF_FLOAT32, .v.f64 = 0.1f},  {.type = GGUF_FLOAT64, .v.f64 = 0.1},
        {.type = GGUF_BOOL, .v.u64 = 1},        {.type = GGUF_STRING, .v.str = {"hello", 5}},
        int_array(GGUF_UINT16, u16s, 3),        int_array(GGUF_UINT16, NULL, 0),
        {.type = GGUF_ARRAY, .arr_type = GGUF_STRING, .arr_count = 3, .arr_strs = words},
    };
    gguf_writer *w;
    assert_int_equal(gguf_writer_create(&w), LVK_OK);
    assert_int_equal(gguf_writer_add_str(w, "general.architecture", "llama"), LVK_OK);
    assert_int_equal(gguf_writer_add_u32(w, "llama.block_count", 3), LVK_OK);
    gguf_value al = {.type = GGUF_UINT32, .v.u64 = 64};
    assert_int_equal(gguf_writer_add_value(w, "general.alignment", &al), LVK_OK);
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        char key[32];
        snprintf(key, sizeof key, "value.%zu", i);
        assert_int_equal(gguf_writer_add_value(w, key, &scalars[i]), LVK_OK);
    }
    gguf_value lv = int_array(GGUF_UINT8, layers8, 2), tv = int_array(GGUF_FLOAT32, thresholds, 2);
    assert_int_equal(gguf_writer_add_value(w, "litevk.exit_layers", &lv), LVK_OK);
    assert_int_equal(gguf_writer_add_value(w, "litevk.exit_thresholds", &tv), LVK_OK);
    gguf_value nested = {.type = GGUF_ARRAY, .arr_type = GGUF_ARRAY};
    expect_fail(gguf_writer_add_value(w, "nested", &nested), LVK_ERR_UNSUPPORTED, "array of arrays");
    float a[3] = {1, 2, 3}, b[8] = {4, 5, 6, 7, 8, 9, 10, 11};
    uint64_t ne_a[1] = {3}, ne_b[2] = {4, 2};
    assert_int_equal(gguf_writer_add_tensor(w, "a", GGML_F32, 1, ne_a, a), LVK_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "b", GGML_F32, 2, ne_b, b), LVK_OK);
    assert_int_equal(gguf_writer_write(w, src), LVK_OK);
    gguf_writer_free(w);

    gguf_file *f;
    lvk_exit_config c;
    int calibrated = 0;
    assert_int_equal(gguf_open(src, &f), LVK_OK);
    assert_int_equal(f->alignment, 64);
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        char key[32];
        snprintf(key, sizeof key, "value.%zu", i);
        if (!values_equal(&gguf_find(f, key)->value, &scalars[i])) fail_msg("%s was not written as given", key);
    }
    assert_int_equal(exit_config_from_gguf(f, 3, &c, &calibrated), LVK_OK);
    assert_int_equal(calibrated, 1);
    expect_config(&c, 2, (int[]){1, 2}, thresholds);
    gguf_close(f);

    lvk_exit_config want = make_config(1, (int[]){2}, (float[]){0});
    assert_int_equal(exit_config_write_gguf(src, dst, &want, NULL), LVK_OK);
    expect_copied(src, dst);
    assert_int_equal(gguf_open(dst, &f), LVK_OK);
    assert_int_equal(f->alignment, 64);
    assert_int_equal(f->data_offset % 64, 0);
    assert_int_equal(gguf_find_tensor(f, "b")->offset, 64);
    assert_int_equal(exit_config_from_gguf(f, 3, &c, &calibrated), LVK_OK);
    expect_config(&c, 1, (int[]){2}, (float[]){0});
    gguf_close(f);
}

static void test_malformed_metadata(void **state) {
    (void)state;
    const int32_t l2[2] = {1, 2}, unsorted[2] = {2, 1}, last[1] = {4};
    const float t1[1] = {0.5f}, t2[2] = {0.5f, 0.25f}, too_big[2] = {0.5f, 2.0f};
    const double t2_f64[2] = {0.5, 0.25};
    const int32_t many[LVK_MAX_EXITS + 1] = {0};
    const float many_t[LVK_MAX_EXITS + 1] = {0};
    gguf_value layers = int_array(GGUF_INT32, l2, 2), thresholds = int_array(GGUF_FLOAT32, t2, 2);
    gguf_value scalar = {.type = GGUF_INT32, .v.i64 = 1};
    struct { gguf_value layers, thresholds; int has_layers, has_thresholds; const char *keyword; } cases[] = {
        {layers, int_array(GGUF_FLOAT32, t1, 1), 1, 1, "'litevk.exit_thresholds' has 1 thresholds for 2 exit layers"},
        {layers, int_array(GGUF_INT32, l2, 2), 1, 1, "'litevk.exit_thresholds' should be an array of float32, is array of int32"},
        {layers, int_array(GGUF_FLOAT64, t2_f64, 2), 1, 1, "litevk.exit_thresholds"},
        {int_array(GGUF_FLOAT32, t2, 2), thresholds, 1, 1, "'litevk.exit_layers' should be an array of integers, is array of float32"},
        {scalar, thresholds, 1, 1, "'litevk.exit_layers' should be an array of integers, is int32"},
        {int_array(GGUF_INT32, unsorted, 2), thresholds, 1, 1, "'litevk.exit_layers': exit layers are unsorted"},
        {int_array(GGUF_INT32, last, 1), int_array(GGUF_FLOAT32, t1, 1), 1, 1, "'litevk.exit_layers': exit layer 4 is the last block"},
        {layers, int_array(GGUF_FLOAT32, too_big, 2), 1, 1, "'litevk.exit_thresholds': threshold 2"},
        {int_array(GGUF_INT32, many, LVK_MAX_EXITS + 1), int_array(GGUF_FLOAT32, many_t, LVK_MAX_EXITS + 1), 1, 1, "at most 16"},
        {layers, thresholds, 1, 0, "'litevk.exit_layers' is present without 'litevk.exit_thresholds'"},
        {layers, thresholds, 0, 1, "'litevk.exit_thresholds' is present without 'litevk.exit_layers'"},
    };
    const char *path = TMP("malformed.gguf");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        write_meta(path, 4, cases[k].has_layers ? &cases[k].layers : NULL,
                   cases[k].has_thresholds ? &cases[k].thresholds : NULL);
        gguf_file *f;
        assert_int_equal(gguf_open(path, &f), LVK_OK);
        lvk_exit_config c = make_config(1, (int[]){3}, (float[]){0.5f}), before = c;
        int calibrated = -1;
        expect_fail(exit_config_from_gguf(f, 4, &c, &calibrated), LVK_ERR_FORMAT, cases[k].keyword);
        assert_memory_equal(&c, &before, sizeof c);
        assert_int_equal(calibrated, -1);
        gguf_close(f);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),         cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_errors),     cmocka_unit_test(test_names),
        cmocka_unit_test(test_calibration),      cmocka_unit_test(test_write_gguf),
        cmocka_unit_test(test_speculate_keys),
        cmocka_unit_test(test_write_gguf_qwen2),
        cmocka_unit_test(test_write_gguf_errors), cmocka_unit_test(test_copy_any_value),
        cmocka_unit_test(test_malformed_metadata),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
