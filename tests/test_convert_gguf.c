/* test_convert_gguf.c — re-typing a GGUF (runtime/convert/convert_gguf.c): a random
 * F32 Llama (GQA, untied, head size from key_length, Llama 3.1 rope_freqs,
 * exits in its litevk.* keys) to Q8_0 and back to F32, every value within
 * Q8_0's rounding, metadata and tensor order kept, both files loading in the
 * runtime, re-typing to Q8_0 again copying the bytes; a Qwen2 (F16, biases)
 * to Q4_K, whose 64-wide rows fall back to F16;
 * and a one-line error for each bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "convert/convert_gguf.h"
#include "decode/exit_config.h"
#include "formats/gguf.h"
#include "model/model.h"
#include "formats/quant.h"
#include "synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TMP LITEVK_TMP_DIR "/test_convert_gguf"

static const char *path(const char *name) {
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s_%s", TMP, name);
    return p;
}

/* A synthetic model with exits after block 1 at threshold 0.5 in its litevk.* keys. */
static void write_model(const synth_params *p, const char *out) {
    const char *plain = path("plain.gguf");
    assert_int_equal(synth_llama_gguf(p, plain), LVK_OK);
    lvk_exit_config cfg = exit_config_default(p->n_layers);
    cfg.n_exits = 1;
    cfg.layers[0] = 1;
    cfg.thresholds[0] = 0.5f;
    if (exit_config_write_gguf(plain, out, &cfg, NULL) != LVK_OK) fail_msg("%s", lvk_last_error());
}

static gguf_file *open_gguf(const char *p) {
    gguf_file *f;
    if (gguf_open(p, &f) != LVK_OK) fail_msg("%s", lvk_last_error());
    return f;
}

static int same_str(gguf_str a, gguf_str b) { return a.len == b.len && !memcmp(a.ptr, b.ptr, (size_t)a.len); }

/* Every metadata key of a in b, in the same place with the same value, but
 * general.file_type, which must say `file_type`. */
static void expect_same_metadata(const gguf_file *a, const gguf_file *b, uint32_t file_type) {
    assert_int_equal(a->n_kv, b->n_kv);
    for (uint64_t i = 0; i < a->n_kv; i++) {
        const gguf_value *x = &a->kv[i].value, *y = &b->kv[i].value;
        assert_true(same_str(a->kv[i].key, b->kv[i].key));
        assert_int_equal(x->type, y->type);
        if (gguf_str_eq(a->kv[i].key, "general.file_type")) {
            assert_int_equal(y->v.u64, file_type);
        } else if (x->type == GGUF_STRING) {
            assert_true(same_str(x->v.str, y->v.str));
        } else if (x->type != GGUF_ARRAY) {
            assert_memory_equal(&x->v, &y->v, sizeof x->v);
        } else {
            assert_int_equal(x->arr_type, y->arr_type);
            assert_int_equal(x->arr_count, y->arr_count);
            for (uint64_t k = 0; x->arr_type == GGUF_STRING && k < x->arr_count; k++)
                assert_true(same_str(x->arr_strs[k], y->arr_strs[k]));
            if (x->arr_type != GGUF_STRING)
                assert_memory_equal(x->arr_data, y->arr_data, x->arr_count * gguf_scalar_size(x->arr_type));
        }
    }
}

/* The same tensors in the same order and shapes; returns b's. */
static void expect_same_tensors(const gguf_file *a, const gguf_file *b) {
    assert_int_equal(a->n_tensors, b->n_tensors);
    for (uint64_t i = 0; i < a->n_tensors; i++) {
        assert_true(same_str(a->tensors[i].name, b->tensors[i].name));
        assert_int_equal(a->tensors[i].n_dims, b->tensors[i].n_dims);
        assert_memory_equal(a->tensors[i].ne, b->tensors[i].ne, sizeof a->tensors[i].ne);
    }
}

static void expect_loads(const char *p) {
    host_model *m;
    if (host_model_open(p, &m) != LVK_OK) fail_msg("%s", lvk_last_error());
    host_model_free(m);
}

static void test_round_trip_q8_0(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.tied = 0;
    p.head_dim = 24; /* 4 heads of 24: q_dim 96, not the 64-wide embedding */
    p.rope_freqs = 1;
    const char *src = path("llama.gguf"), *q8 = path("llama-q8_0.gguf"), *back = path("llama-f32.gguf");
    write_model(&p, src);
    if (convert_gguf(src, q8, GGML_Q8_0, NULL, NULL) != LVK_OK) fail_msg("%s", lvk_last_error());
    if (convert_gguf(q8, back, GGML_F32, NULL, NULL) != LVK_OK) fail_msg("%s", lvk_last_error());

    gguf_file *a = open_gguf(src), *q = open_gguf(q8), *b = open_gguf(back);
    expect_same_metadata(a, q, 7);
    expect_same_metadata(a, b, 0);
    expect_same_tensors(a, q);
    expect_same_tensors(a, b);
    lvk_exit_config cfg;
    int calibrated;
    assert_int_equal(exit_config_from_gguf(b, p.n_layers, &cfg, &calibrated), LVK_OK);
    assert_true(calibrated);
    assert_int_equal(cfg.n_exits, 1);
    assert_int_equal(cfg.layers[0], 1);
    assert_true(cfg.thresholds[0] == 0.5f);
    for (uint64_t i = 0; i < a->n_tensors; i++) {
        const gguf_tensor *x = &a->tensors[i], *y = &b->tensors[i];
        assert_int_equal(x->type, GGML_F32);
        assert_int_equal(q->tensors[i].type, x->n_dims == 1 ? GGML_F32 : GGML_Q8_0);
        assert_int_equal(y->type, GGML_F32);
        const float *u = x->data, *v = y->data;
        /* Q8_0: d = amax / 127 rounded to f16 (relative error 2^-11), each
         * weight within d/2 of its value, or clipped by at most amax 2^-11
         * where d rounded down; vectors are copied */
        for (uint64_t k = 0; k < x->n_elements; k += QK) {
            float amax = 0;
            for (int e = 0; e < QK; e++) amax = fmaxf(amax, fabsf(u[k + e]));
            float bound = x->n_dims == 1 ? 0.0f : amax / 254 + amax / 2048;
            for (int e = 0; e < QK; e++)
                if (fabsf(u[k + e] - v[k + e]) > bound)
                    fail_msg("%.*s[%llu]: %g became %g", (int)x->name.len, x->name.ptr,
                             (unsigned long long)(k + e), u[k + e], v[k + e]);
        }
    }
    gguf_close(a);
    gguf_close(q);
    gguf_close(b);
    expect_loads(q8);
    expect_loads(back);

    /* Q8_0 again: the matrices already are, so their bytes are copied */
    const char *again = path("llama-q8_0-again.gguf");
    if (convert_gguf(q8, again, GGML_Q8_0, NULL, NULL) != LVK_OK) fail_msg("%s", lvk_last_error());
    q = open_gguf(q8);
    gguf_file *g = open_gguf(again);
    assert_int_equal(q->size, g->size);
    assert_memory_equal(q->map, g->map, (size_t)q->size);
    gguf_close(q);
    gguf_close(g);
}

static void test_qwen2_to_q4_k(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.arch = "qwen2";
    p.weight_type = GGML_F16;
    const char *src = path("qwen2.gguf"), *out = path("qwen2-q4_k.gguf");
    assert_int_equal(synth_llama_gguf(&p, src), LVK_OK);
    if (convert_gguf(src, out, GGML_Q4_K, NULL, NULL) != LVK_OK) fail_msg("%s", lvk_last_error());
    gguf_file *a = open_gguf(src), *b = open_gguf(out);
    expect_same_metadata(a, b, 14);
    expect_same_tensors(a, b);
    int biases = 0;
    for (uint64_t i = 0; i < b->n_tensors; i++) {
        const gguf_tensor *t = &b->tensors[i];
        /* rows of 64 and 128 are not whole 256-blocks: F16, as every converter falls back */
        assert_int_equal(t->type, t->n_dims == 1 ? GGML_F32 : GGML_F16);
        if (t->name.len > 5 && !memcmp(t->name.ptr + t->name.len - 5, ".bias", 5)) {
            biases++;
            assert_memory_equal(t->data, a->tensors[i].data, t->n_bytes);
        }
    }
    assert_int_equal(biases, 3 * p.n_layers);
    gguf_close(a);
    gguf_close(b);
    expect_loads(out);
}

static void expect_error(const char *in, const char *out, uint32_t type, lvk_status want, const char *message) {
    assert_int_equal(convert_gguf(in, out, type, NULL, NULL), want);
    if (!strstr(lvk_last_error(), message)) fail_msg("'%s' does not say '%s'", lvk_last_error(), message);
}

static void test_errors(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    const char *model = path("model.gguf"), *out = path("unused.gguf");
    assert_int_equal(synth_llama_gguf(&p, model), LVK_OK);
    const char *text = path("text.gguf");
    FILE *f = fopen(text, "w");
    assert_non_null(f);
    fputs("this is not a GGUF file, only some text long enough for a header\n", f);
    fclose(f);
    remove(out);

    expect_error(text, out, GGML_F32, LVK_ERR_FORMAT, "not a GGUF file");
    expect_error(path("missing.gguf"), out, GGML_F32, LVK_ERR_IO, "cannot open");
    expect_error(LITEVK_FIXTURES "/ggml-vocab-gpt-2.gguf", out, GGML_F32, LVK_ERR_UNSUPPORTED,
                 "architecture 'gpt2' is not supported");
    expect_error(model, model, GGML_F16, LVK_ERR_INVALID_ARGUMENT, "is the input file");
    expect_error(model, out, GGML_Q8_1, LVK_ERR_INVALID_ARGUMENT, "cannot convert to q8_1");
    expect_error(model, LITEVK_TMP_DIR "/no-such-dir/out.gguf", GGML_F16, LVK_ERR_IO, "cannot create");
    assert_int_equal(access(out, F_OK), -1); /* nothing written */
    expect_loads(model);                      /* nor the input touched */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_q8_0),
        cmocka_unit_test(test_qwen2_to_q4_k),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
