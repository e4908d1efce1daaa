/* test_gguf.c — GGUF writer and reader round trips, malformed and truncated
 * files, synthetic models, and the llama2.c converter on stories260K. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "convert/convert.h"
#include "formats/gguf.h"
#include "formats/gguf_write.h"
#include "formats/quant.h"
#include "status.h"
#include "synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECKPOINT LITEVK_FIXTURES "/stories260K.bin"
#define TOKENIZER LITEVK_FIXTURES "/tok512.bin"
#define TMP(name) LITEVK_TMP_DIR "/test_gguf_" name

/* ---- helpers ------------------------------------------------------------------ */

static uint8_t *read_all(const char *path, uint64_t *size) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    *size = (uint64_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *p = malloc(*size ? *size : 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, *size, fp), *size);
    fclose(fp);
    return p;
}

static void write_all(const char *path, const void *p, uint64_t size) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, size, fp), size);
    assert_int_equal(fclose(fp), 0);
}

static void clear_error(void) { status_fail(LVK_OK, "%s", ""); }

/* `got` must be `want`, with `keyword` in the message. */
static void expect_fail(lvk_status got, lvk_status want, const char *keyword) {
    if (got != want || !strstr(lvk_last_error(), keyword))
        fail_msg("expected %s mentioning '%s', got %s: '%s'", lvk_status_name(want), keyword,
                 lvk_status_name(got), lvk_last_error());
}

static void expect_u32(const gguf_file *f, const char *key, uint32_t want) {
    uint32_t v = ~want;
    assert_int_equal(gguf_get_u32(f, key, &v, LVK_ERR_FORMAT), LVK_OK);
    assert_int_equal(v, want);
}

static void expect_str(const gguf_file *f, const char *key, const char *want) {
    char v[256];
    assert_int_equal(gguf_get_str(f, key, v, sizeof v, LVK_ERR_FORMAT), LVK_OK);
    assert_string_equal(v, want);
}

static const gguf_value *find_arr(const gguf_file *f, const char *key, uint32_t type, uint64_t n) {
    const gguf_kv *kv = gguf_find(f, key);
    assert_non_null(kv);
    assert_int_equal(kv->value.type, GGUF_ARRAY);
    assert_int_equal(kv->value.arr_type, type);
    assert_int_equal(kv->value.arr_count, n);
    return &kv->value;
}

static const gguf_tensor *expect_tensor(const gguf_file *f, const char *name, uint32_t type,
                                        uint32_t n_dims, uint64_t ne0, uint64_t ne1) {
    const gguf_tensor *t = gguf_find_tensor(f, name);
    if (!t) fail_msg("tensor '%s' is missing", name);
    assert_int_equal(t->type, type);
    assert_int_equal(t->n_dims, n_dims);
    assert_int_equal(t->ne[0], ne0);
    assert_int_equal(t->ne[1], ne1);
    assert_int_equal(t->offset % f->alignment, 0);
    return t;
}

/* ---- writer round trip ------------------------------------------------------- */

/* Byte i of the tensor is start + i; rows are asked for in order, in ranges
 * of at most GGUF_FILL_BYTES. */
typedef struct { uint64_t row_bytes, next_row, calls; uint8_t start; } fill_pattern;

static lvk_status fill_counting(void *user, void *dst, uint64_t first_row, uint64_t n_rows) {
    fill_pattern *p = user;
    assert_int_equal(first_row, p->next_row);
    assert_true(n_rows >= 1 && (n_rows == 1 || n_rows * p->row_bytes <= GGUF_FILL_BYTES));
    for (uint64_t i = 0; i < n_rows * p->row_bytes; i++)
        ((uint8_t *)dst)[i] = (uint8_t)(p->start + first_row * p->row_bytes + i);
    p->next_row += n_rows;
    p->calls++;
    return LVK_OK;
}

static void test_writer_roundtrip(void **state) {
    (void)state;
    float vec[5] = {1, -2, 3.5f, 0, 1e-9f};
    float row[64];
    for (int i = 0; i < 64; i++) row[i] = sinf((float)i);
    block_q8_0 q8[2];
    quantize_row(GGML_Q8_0, row, q8, 64);
    float cube[24];
    for (int i = 0; i < 24; i++) cube[i] = (float)i;
    const char *words[] = {"alpha", "", "\xe2\x96\x81x"};
    float fs[3] = {0.5f, -1, 2};
    int32_t is[4] = {1, -1, 2, 6};
    fill_pattern pattern = {.row_bytes = 8 * 2, .start = 7};

    gguf_writer *w;
    assert_int_equal(gguf_writer_create(&w), LVK_OK);
    assert_int_equal(gguf_writer_add_u32(w, "u", 4000000000u), LVK_OK);
    assert_int_equal(gguf_writer_add_i32(w, "i", -5), LVK_OK);
    assert_int_equal(gguf_writer_add_f32(w, "f", 0.25f), LVK_OK);
    assert_int_equal(gguf_writer_add_bool(w, "b", 1), LVK_OK);
    assert_int_equal(gguf_writer_add_str(w, "s", "hello"), LVK_OK);
    assert_int_equal(gguf_writer_add_str_arr(w, "sa", words, 3), LVK_OK);
    assert_int_equal(gguf_writer_add_f32_arr(w, "fa", fs, 3), LVK_OK);
    assert_int_equal(gguf_writer_add_i32_arr(w, "ia", is, 4), LVK_OK);
    assert_int_equal(gguf_writer_add_i32_arr(w, "empty", NULL, 0), LVK_OK);
    uint64_t ne_vec[1] = {5}, ne_f16[2] = {8, 3}, ne_q8[1] = {64}, ne_cube[3] = {2, 3, 4};
    assert_int_equal(gguf_writer_add_tensor(w, "vec", GGML_F32, 1, ne_vec, vec), LVK_OK);
    assert_int_equal(gguf_writer_add_tensor_fill(w, "filled", GGML_F16, 2, ne_f16, fill_counting, &pattern), LVK_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "q8", GGML_Q8_0, 1, ne_q8, q8), LVK_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "cube", GGML_F32, 3, ne_cube, cube), LVK_OK);
    const char *path = TMP("roundtrip.gguf");
    assert_int_equal(gguf_writer_write(w, path), LVK_OK);
    gguf_writer_free(w);

    gguf_file *f;
    assert_int_equal(gguf_open(path, &f), LVK_OK);
    assert_int_equal(f->version, 3);
    assert_int_equal(f->n_kv, 9);
    assert_int_equal(f->n_tensors, 4);
    assert_int_equal(f->alignment, 32);
    assert_null(gguf_find(f, "general.alignment"));
    assert_int_equal(f->data_offset % 32, 0);
    expect_u32(f, "u", 4000000000u);
    assert_int_equal(gguf_find(f, "i")->value.type, GGUF_INT32);
    assert_int_equal(gguf_find(f, "i")->value.v.i64, -5);
    float fv;
    assert_int_equal(gguf_get_f32(f, "f", &fv, LVK_ERR_FORMAT), LVK_OK);
    assert_true(fv == 0.25f);
    assert_int_equal(gguf_find(f, "b")->value.type, GGUF_BOOL);
    assert_int_equal(gguf_find(f, "b")->value.v.u64, 1);
    expect_str(f, "s", "hello");
    const gguf_value *sa = find_arr(f, "sa", GGUF_STRING, 3);
    for (int i = 0; i < 3; i++) assert_true(gguf_str_eq(sa->arr_strs[i], words[i]));
    const gguf_value *fa = find_arr(f, "fa", GGUF_FLOAT32, 3);
    for (int i = 0; i < 3; i++) assert_true(gguf_arr_num(fa, i) == fs[i]);
    const gguf_value *ia = find_arr(f, "ia", GGUF_INT32, 4);
    for (int i = 0; i < 4; i++) assert_true(gguf_arr_num(ia, i) == is[i]);
    find_arr(f, "empty", GGUF_INT32, 0);

    const gguf_tensor *t = expect_tensor(f, "vec", GGML_F32, 1, 5, 1);
    assert_memory_equal(t->data, vec, sizeof vec);
    t = expect_tensor(f, "filled", GGML_F16, 2, 8, 3);
    for (uint64_t i = 0; i < t->n_bytes; i++) assert_int_equal(((const uint8_t *)t->data)[i], (uint8_t)(7 + i));
    assert_int_equal(pattern.calls, 1);
    t = expect_tensor(f, "q8", GGML_Q8_0, 1, 64, 1);
    assert_int_equal(t->n_bytes, sizeof q8);
    assert_memory_equal(t->data, q8, sizeof q8);
    t = expect_tensor(f, "cube", GGML_F32, 3, 2, 3);
    assert_int_equal(t->ne[2], 4);
    assert_memory_equal(t->data, cube, sizeof cube);
    /* every tensor is padded, the last one too, as ggml writes them */
    assert_int_equal(f->size, f->data_offset + t->offset + 96);
    gguf_close(f);
}

/* A tensor larger than GGUF_FILL_BYTES is filled a range of rows at a time,
 * and so is one whose single row is larger. */
static void test_writer_fill_in_rows(void **state) {
    (void)state;
    const uint64_t ne_tall[2] = {1024, 10000}, ne_wide[2] = {(GGUF_FILL_BYTES / 4) + 8, 2};
    fill_pattern tall = {.row_bytes = 1024 * 4, .start = 3}, wide = {.row_bytes = ne_wide[0] * 4, .start = 9};
    gguf_writer *w;
    assert_int_equal(gguf_writer_create(&w), LVK_OK);
    assert_int_equal(gguf_writer_add_tensor_fill(w, "tall", GGML_F32, 2, ne_tall, fill_counting, &tall), LVK_OK);
    assert_int_equal(gguf_writer_add_tensor_fill(w, "wide", GGML_F32, 2, ne_wide, fill_counting, &wide), LVK_OK);
    const char *path = TMP("rows.gguf");
    assert_int_equal(gguf_writer_write(w, path), LVK_OK);
    gguf_writer_free(w);
    assert_int_equal(tall.next_row, 10000);
    assert_int_equal(tall.calls, 3); /* 4096 rows of 4 KiB make 16 MiB */
    assert_int_equal(wide.calls, 2);
    gguf_file *f;
    assert_int_equal(gguf_open(path, &f), LVK_OK);
    const fill_pattern *patterns[] = {&tall, &wide};
    const char *names[] = {"tall", "wide"};
    for (int k = 0; k < 2; k++) {
        const gguf_tensor *t = gguf_find_tensor(f, names[k]);
        const uint8_t *d = t->data;
        for (uint64_t i = 0; i < t->n_bytes; i++)
            if (d[i] != (uint8_t)(patterns[k]->start + i)) fail_msg("%s: byte %llu is %u", names[k], (unsigned long long)i, d[i]);
    }
    gguf_close(f);
}

static void test_writer_alignment(void **state) {
    (void)state;
    float a[3] = {1, 2, 3}, b[1] = {4};
    uint64_t ne_a[1] = {3}, ne_b[1] = {1};
    gguf_writer *w;
    assert_int_equal(gguf_writer_create(&w), LVK_OK);
    expect_fail(gguf_writer_add_u32(w, "general.alignment", 48), LVK_ERR_INVALID_ARGUMENT, "power of two");
    assert_int_equal(gguf_writer_add_u32(w, "general.alignment", 128), LVK_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "a", GGML_F32, 1, ne_a, a), LVK_OK);
    assert_int_equal(gguf_writer_add_tensor(w, "b", GGML_F32, 1, ne_b, b), LVK_OK);
    const char *path = TMP("align.gguf");
    assert_int_equal(gguf_writer_write(w, path), LVK_OK);
    gguf_writer_free(w);
    gguf_file *f;
    assert_int_equal(gguf_open(path, &f), LVK_OK);
    assert_int_equal(f->alignment, 128);
    assert_int_equal(f->data_offset % 128, 0);
    assert_int_equal(gguf_find_tensor(f, "b")->offset, 128);
    assert_true(*(const float *)gguf_find_tensor(f, "b")->data == 4);
    gguf_close(f);
}

static lvk_status fill_failing(void *user, void *dst, uint64_t first_row, uint64_t n_rows) {
    (void)user, (void)dst, (void)first_row, (void)n_rows;
    return status_fail(LVK_ERR_OUT_OF_MEMORY, "no room for the test");
}

static void test_writer_errors(void **state) {
    (void)state;
    float data[64] = {0};
    uint64_t ne[4] = {8, 2, 1, 1}, ne10[1] = {10}, ne0[2] = {8, 0};
    gguf_writer *w;
    assert_int_equal(gguf_writer_create(&w), LVK_OK);
    assert_int_equal(gguf_writer_add_u32(w, "k", 1), LVK_OK);
    expect_fail(gguf_writer_add_str(w, "k", "again"), LVK_ERR_INVALID_ARGUMENT, "twice");
    expect_fail(gguf_writer_add_u32(w, "", 1), LVK_ERR_INVALID_ARGUMENT, "key");
    assert_int_equal(gguf_writer_add_tensor(w, "t", GGML_F32, 2, ne, data), LVK_OK);
    expect_fail(gguf_writer_add_tensor(w, "t", GGML_F32, 2, ne, data), LVK_ERR_INVALID_ARGUMENT, "twice");
    expect_fail(gguf_writer_add_tensor(w, "u", 99, 2, ne, data), LVK_ERR_INVALID_ARGUMENT, "unknown type");
    expect_fail(gguf_writer_add_tensor(w, "u", GGML_Q8_0, 1, ne10, data), LVK_ERR_INVALID_ARGUMENT, "multiple");
    expect_fail(gguf_writer_add_tensor(w, "u", GGML_F32, 0, ne, data), LVK_ERR_INVALID_ARGUMENT, "dimensions");
    expect_fail(gguf_writer_add_tensor(w, "u", GGML_F32, 5, ne, data), LVK_ERR_INVALID_ARGUMENT, "dimensions");
    expect_fail(gguf_writer_add_tensor(w, "u", GGML_F32, 2, ne0, data), LVK_ERR_INVALID_ARGUMENT, "absurd");
    char long_name[80];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    expect_fail(gguf_writer_add_tensor(w, long_name, GGML_F32, 1, ne, data), LVK_ERR_INVALID_ARGUMENT, "characters");
    expect_fail(gguf_writer_write(w, LITEVK_TMP_DIR "/no/such/dir/x.gguf"), LVK_ERR_IO,
                "No such file or directory");
    /* a failing fill passes its status on and leaves no partial file */
    assert_int_equal(gguf_writer_add_tensor_fill(w, "bad", GGML_F32, 1, ne, fill_failing, NULL), LVK_OK);
    const char *path = TMP("failed.gguf");
    expect_fail(gguf_writer_write(w, path), LVK_ERR_OUT_OF_MEMORY, "no room");
    assert_true(strstr(lvk_last_error(), "'bad'") != NULL);
    assert_int_equal(access(path, F_OK), -1);
    gguf_writer_free(w);
}

/* ---- synthetic models ---------------------------------------------------------- */

static void test_synth_model(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    const char *path = TMP("synth.gguf");
    assert_int_equal(synth_llama_gguf(&p, path), LVK_OK);
    gguf_file *f;
    assert_int_equal(gguf_open(path, &f), LVK_OK);
    expect_str(f, "general.architecture", "llama");
    expect_str(f, "tokenizer.ggml.model", "llama");
    expect_u32(f, "llama.embedding_length", 64);
    expect_u32(f, "llama.block_count", 2);
    expect_u32(f, "llama.attention.head_count", 4);
    expect_u32(f, "llama.attention.head_count_kv", 2);
    expect_u32(f, "llama.feed_forward_length", 128);
    expect_u32(f, "llama.context_length", 128);
    expect_u32(f, "llama.rope.dimension_count", 16);
    expect_u32(f, "tokenizer.ggml.bos_token_id", 1);
    expect_u32(f, "tokenizer.ggml.eos_token_id", 2);
    float base;
    assert_int_equal(gguf_get_f32(f, "llama.rope.freq_base", &base, LVK_ERR_FORMAT), LVK_OK);
    assert_true(base == 10000.0f);

    const gguf_value *tok = find_arr(f, "tokenizer.ggml.tokens", GGUF_STRING, 300);
    const gguf_value *types = find_arr(f, "tokenizer.ggml.token_type", GGUF_INT32, 300);
    const gguf_value *scores = find_arr(f, "tokenizer.ggml.scores", GGUF_FLOAT32, 300);
    const struct { int id; const char *text; } expect[] = {
        {0, "<unk>"}, {1, "<s>"}, {2, "</s>"}, {3, "<0x00>"}, {258, "<0xFF>"},
        {259, "\xe2\x96\x81"}, {260, "a"}, {285, "z"}, {286, "\xe2\x96\x81\xe2\x96\x81"},
        {287, "\xe2\x96\x81" "a"},
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        assert_true(gguf_str_eq(tok->arr_strs[expect[i].id], expect[i].text));
    for (uint64_t i = 0; i < 300; i++) {
        double type = gguf_arr_num(types, i);
        assert_true(type == (i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1));
        if (i > 259) assert_true(gguf_arr_num(scores, i) < gguf_arr_num(scores, i - 1));
        for (uint64_t j = 0; j < i; j++) /* distinct texts */
            assert_false(tok->arr_strs[i].len == tok->arr_strs[j].len &&
                         !memcmp(tok->arr_strs[i].ptr, tok->arr_strs[j].ptr, tok->arr_strs[i].len));
    }

    assert_int_equal(f->n_tensors, 2 + 9 * 2);
    assert_null(gguf_find_tensor(f, "output.weight"));
    expect_tensor(f, "token_embd.weight", GGML_F32, 2, 64, 300);
    expect_tensor(f, "blk.1.attn_k.weight", GGML_F32, 2, 64, 32);
    expect_tensor(f, "blk.1.ffn_gate.weight", GGML_F32, 2, 64, 128);
    const gguf_tensor *down = expect_tensor(f, "blk.1.ffn_down.weight", GGML_F32, 2, 128, 64);
    const gguf_tensor *norm = expect_tensor(f, "blk.0.ffn_norm.weight", GGML_F32, 1, 64, 1);
    const float *nv = norm->data, *dv = down->data;
    for (int i = 0; i < 64; i++) assert_true(nv[i] >= 0.9f && nv[i] <= 1.1f);
    for (int i = 0; i < 128 * 64; i++) assert_true(fabsf(dv[i]) <= 1.0f / sqrtf(128.0f));
    gguf_close(f);

    /* same seed, same bytes; another seed, other weights */
    uint64_t size1, size2;
    uint8_t *a = read_all(path, &size1);
    assert_int_equal(synth_llama_gguf(&p, path), LVK_OK);
    uint8_t *b = read_all(path, &size2);
    assert_int_equal(size1, size2);
    assert_memory_equal(a, b, size1);
    free(b);
    p.seed = 2;
    assert_int_equal(synth_llama_gguf(&p, path), LVK_OK);
    b = read_all(path, &size2);
    assert_int_equal(size1, size2);
    assert_memory_not_equal(a, b, size1);
    free(a);
    free(b);
}

static void test_synth_quantized(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.weight_type = GGML_Q4_0;
    p.tied = 0;
    const char *path = TMP("synth_q4.gguf");
    assert_int_equal(synth_llama_gguf(&p, path), LVK_OK);
    gguf_file *f;
    assert_int_equal(gguf_open(path, &f), LVK_OK);
    assert_int_equal(f->n_tensors, 3 + 9 * 2);
    expect_tensor(f, "output.weight", GGML_Q4_0, 2, 64, 300);
    expect_tensor(f, "blk.0.attn_q.weight", GGML_Q4_0, 2, 64, 64);
    expect_tensor(f, "blk.0.attn_norm.weight", GGML_F32, 1, 64, 1);
    gguf_close(f);

    p.n_embd = 48; /* not a multiple of Q4_0's 32-element block */
    p.n_heads = 2;
    p.n_kv_heads = 1;
    expect_fail(synth_llama_gguf(&p, path), LVK_ERR_INVALID_ARGUMENT, "multiples of 32");

    /* a Q4_K model with a Q6_K head; K-quants need rows of whole 256-blocks */
    p = synth_default_params();
    p.weight_type = GGML_Q4_K;
    p.output_type = GGML_Q6_K;
    p.tied = 0;
    p.n_embd = 256;
    p.n_ff = 512;
    assert_int_equal(synth_llama_gguf(&p, path), LVK_OK);
    assert_int_equal(gguf_open(path, &f), LVK_OK);
    expect_tensor(f, "token_embd.weight", GGML_Q4_K, 2, 256, 300);
    expect_tensor(f, "output.weight", GGML_Q6_K, 2, 256, 300);
    expect_tensor(f, "blk.1.ffn_down.weight", GGML_Q4_K, 2, 512, 256);
    gguf_close(f);
    p.n_ff = 384;
    expect_fail(synth_llama_gguf(&p, path), LVK_ERR_INVALID_ARGUMENT, "multiples of 256");
    p.n_ff = 512;
    p.weight_type = GGML_Q8_0;
    p.n_embd = 96;
    p.n_heads = 2;
    expect_fail(synth_llama_gguf(&p, path), LVK_ERR_INVALID_ARGUMENT, "output type q6_k needs n_embd a multiple of 256");
}

/* ---- malformed and truncated files ---------------------------------------------- */

typedef struct buf { uint8_t *p; size_t len, cap; } buf;

static void put(buf *b, const void *src, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}
static void put_u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(buf *b, const char *s) { put_u64(b, strlen(s)); put(b, s, strlen(s)); }

static void put_header(buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    b->len = 0;
    put(b, "GGUF", 4);
    put_u32(b, version);
    put_u64(b, n_tensors);
    put_u64(b, n_kv);
}

static void put_tensor(buf *b, const char *name, uint32_t n_dims, uint64_t ne0, uint32_t type,
                       uint64_t offset) {
    put_str(b, name);
    put_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) put_u64(b, d ? 1 : ne0);
    put_u32(b, type);
    put_u64(b, offset);
}

/* Pads to 32 and appends n bytes of tensor data. */
static void put_data(buf *b, size_t n) {
    static const uint8_t zeros[256];
    put(b, zeros, (32 - b->len % 32) % 32);
    put(b, zeros, n);
}

/* Parses the buffer from a copy of exactly its size (so valgrind sees any
 * read past the end). */
static lvk_status parse(const uint8_t *p, size_t n) {
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, p, n);
    gguf_file *f = NULL;
    clear_error();
    lvk_status s = gguf_parse(copy, n, &f);
    gguf_close(f);
    free(copy);
    return s;
}

static void test_malformed(void **state) {
    (void)state;
    buf b = {0};

    put_header(&b, 3, 0, 0);
    assert_int_equal(parse(b.p, b.len), LVK_OK);
    memcpy(b.p, "GGUX", 4);
    expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "magic");

    put_header(&b, 1, 0, 0);
    expect_fail(parse(b.p, b.len), LVK_ERR_UNSUPPORTED, "version 1");
    put_header(&b, 99, 0, 0);
    expect_fail(parse(b.p, b.len), LVK_ERR_UNSUPPORTED, "version 99");

    put_header(&b, 3, 1ull << 60, 0);
    expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "tensor count");
    put_header(&b, 3, 0, 1ull << 60);
    expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "metadata count");

    put_header(&b, 3, 0, 1); /* key length past the end */
    put_u64(&b, 1000);
    put(&b, "key and a bit", 13);
    expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "string length");

    put_header(&b, 3, 0, 1); /* string value length past the end */
    put_str(&b, "k");
    put_u32(&b, GGUF_STRING);
    put_u64(&b, 1ull << 62);
    put(&b, "abcdefghijklmnop", 16);
    expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "string length");

    put_header(&b, 3, 0, 1); /* numeric array count past the end */
    put_str(&b, "k");
    put_u32(&b, GGUF_ARRAY);
    put_u32(&b, GGUF_UINT32);
    put_u64(&b, 1ull << 40);
    put(&b, "abcdefghijklmnop", 16);
    expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "past the end");

    put_header(&b, 3, 0, 1); /* string array count past the end */
    put_str(&b, "k");
    put_u32(&b, GGUF_ARRAY);
    put_u32(&b, GGUF_STRING);
    put_u64(&b, 1ull << 61);
    put(&b, "abcdefghijklmnop", 16);
    expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "array count");

    put_header(&b, 3, 0, 1); /* unknown value type */
    put_str(&b, "k");
    put_u32(&b, 42);
    put_u64(&b, 0);
    put_u64(&b, 0);
    expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "unknown value type");

    put_header(&b, 3, 0, 1); /* bad alignment */
    put_str(&b, "general.alignment");
    put_u32(&b, GGUF_UINT32);
    put_u32(&b, 48);
    put_data(&b, 32);
    expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "alignment");

    /* nested arrays: two levels are skipped, too many levels refused */
    for (int depth = 2; depth <= 6; depth += 4) {
        put_header(&b, 3, 0, 1);
        put_str(&b, "nested");
        put_u32(&b, GGUF_ARRAY);
        for (int d = 1; d < depth; d++) {
            put_u32(&b, GGUF_ARRAY);
            put_u64(&b, 1);
        }
        put_u32(&b, GGUF_UINT8);
        put_u64(&b, 3);
        put(&b, "xyz", 3);
        if (depth == 2)
            assert_int_equal(parse(b.p, b.len), LVK_OK);
        else
            expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "nested");
    }

    put_header(&b, 3, 1, 0); /* a well-formed tensor, for reference */
    put_tensor(&b, "t", 1, 8, GGML_F32, 0);
    put_data(&b, 32);
    assert_int_equal(parse(b.p, b.len), LVK_OK);

    put_header(&b, 3, 1, 0);
    put_tensor(&b, "t", 1, 8, GGML_F32, 1024);
    put_data(&b, 32);
    expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "past the end");

    put_header(&b, 3, 1, 0); /* K-quant rows are whole 256-blocks */
    put_tensor(&b, "t", 1, 64, GGML_Q4_K, 0);
    put_data(&b, 256);
    expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "row length 64 is not a multiple of q4_k's block of 256");
    put_header(&b, 3, 1, 0);
    put_tensor(&b, "t", 1, 256, GGML_Q6_K, 0);
    put_data(&b, 210);
    assert_int_equal(parse(b.p, b.len), LVK_OK);

    put_header(&b, 3, 1, 0);
    put_tensor(&b, "t", 1, 8, 99, 0);
    put_data(&b, 32);
    expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "unknown type");

    put_header(&b, 3, 1, 0);
    put_tensor(&b, "t", 1, 8, GGML_F32, 4);
    put_data(&b, 64);
    expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "not aligned");

    put_header(&b, 3, 1, 0);
    put_tensor(&b, "t", 0, 8, GGML_F32, 0);
    put_data(&b, 32);
    expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "dimensions");

    put_header(&b, 3, 1, 0);
    put_tensor(&b, "t", 1, 0, GGML_F32, 0);
    put_data(&b, 32);
    expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "absurd dimension");

    put_header(&b, 3, 1, 0);
    put_tensor(&b, "t", 2, 1ull << 50, GGML_F32, 0);
    put_data(&b, 32);
    expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "absurd dimension");

    put_header(&b, 3, 2, 0);
    put_tensor(&b, "t", 1, 8, GGML_F32, 0);
    put_tensor(&b, "t", 1, 8, GGML_F32, 32);
    put_data(&b, 64);
    expect_fail(parse(b.p, b.len), LVK_ERR_FORMAT, "appears twice");

    free(b.p);
}

static void test_truncated(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    p.weight_type = GGML_Q8_0;
    p.tied = 0;
    const char *path = TMP("truncate.gguf");
    assert_int_equal(synth_llama_gguf(&p, path), LVK_OK);
    uint64_t size;
    uint8_t *data = read_all(path, &size);
    gguf_file *f;
    assert_int_equal(gguf_parse(data, size, &f), LVK_OK);
    uint64_t header = f->data_offset, end = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (f->tensors[i].offset + f->tensors[i].n_bytes > end)
            end = f->tensors[i].offset + f->tensors[i].n_bytes;
    end += header; /* what follows is the last tensor's padding */
    gguf_close(f);

    for (uint64_t cut = 0; cut < end; cut = cut < header ? cut + 1 : cut + (end - header) / 97 + 1) {
        lvk_status s = parse(data, cut);
        if (s != LVK_ERR_FORMAT || !*lvk_last_error())
            fail_msg("cut at %llu of %llu: %s '%s'", (unsigned long long)cut,
                     (unsigned long long)size, lvk_status_name(s), lvk_last_error());
    }
    assert_int_equal(parse(data, end), LVK_OK);
    free(data);

    clear_error();
    write_all(path, "GGU", 3);
    expect_fail(gguf_open(path, &f), LVK_ERR_FORMAT, "too small");
}

/* ---- llama2.c conversion ---------------------------------------------------------- */

/* Where each tensor of a llama2.c checkpoint lies, in floats after the header. */
typedef struct ref_tensor {
    char name[64];
    uint64_t offset, rows, cols; /* rows 0: a norm vector */
} ref_tensor;

static void add_ref(ref_tensor *out, int *n, uint64_t *pos, const char *name, uint64_t rows,
                    uint64_t cols) {
    out[*n] = (ref_tensor){.offset = *pos, .rows = rows, .cols = cols};
    snprintf(out[*n].name, sizeof out[*n].name, "%s", name);
    (*n)++;
    *pos += (rows ? rows : 1) * cols;
}

static int checkpoint_layout(const int32_t hdr[7], int has_freq, ref_tensor *out) {
    uint64_t dim = hdr[0], hidden = hdr[1], L = hdr[2], vocab = abs(hdr[5]), seq = hdr[6];
    uint64_t head = dim / hdr[3], kv = head * hdr[4], pos = 0;
    int n = 0;
    add_ref(out, &n, &pos, "token_embd.weight", vocab, dim);
    const struct { const char *name; uint64_t rows, cols; } per_layer[] = {
        {"attn_norm", 0, dim},  {"attn_q", dim, dim},  {"attn_k", kv, dim},     {"attn_v", kv, dim},
        {"attn_output", dim, dim}, {"ffn_norm", 0, dim}, {"ffn_gate", hidden, dim},
        {"ffn_down", dim, hidden}, {"ffn_up", hidden, dim},
    };
    for (size_t k = 0; k < 9; k++) /* llama2.c groups each kind over all layers */
        for (uint64_t l = 0; l < L; l++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%llu.%s.weight", (unsigned long long)l, per_layer[k].name);
            add_ref(out, &n, &pos, name, per_layer[k].rows, per_layer[k].cols);
        }
    add_ref(out, &n, &pos, "output_norm.weight", 0, dim);
    if (has_freq) pos += seq * head;
    if (hdr[5] < 0) add_ref(out, &n, &pos, "output.weight", vocab, dim);
    return n;
}

/* Checks every tensor of a conversion against the checkpoint's floats:
 * exact for F32, within the format's rounding otherwise. */
static void check_converted(const char *gguf_path, const uint8_t *ckpt, int has_freq, uint32_t type) {
    int32_t hdr[7];
    memcpy(hdr, ckpt, sizeof hdr);
    const float *w = (const float *)(ckpt + 28);
    ref_tensor ref[64];
    int n = checkpoint_layout(hdr, has_freq, ref);
    gguf_file *f;
    assert_int_equal(gguf_open(gguf_path, &f), LVK_OK);
    assert_int_equal(f->n_tensors, n);
    float out[512];
    for (int i = 0; i < n; i++) {
        const ref_tensor *r = &ref[i];
        uint32_t want = !r->rows ? GGML_F32 : r->cols % ggml_block_elems(type) ? GGML_F16 : type;
        uint64_t block = ggml_block_elems(want);
        const gguf_tensor *t = expect_tensor(f, r->name, want, r->rows ? 2 : 1, r->cols,
                                             r->rows ? r->rows : 1);
        uint64_t rows = r->rows ? r->rows : 1, row_bytes = t->n_bytes / rows;
        for (uint64_t row = 0; row < rows; row++) {
            const float *x = w + r->offset + row * r->cols;
            dequantize_row(want, (const uint8_t *)t->data + row * row_bytes, out, r->cols);
            for (uint64_t c = 0; c < r->cols; c++) {
                float amax = 0; /* of the element's block */
                for (uint64_t j = c / block * block; j < c / block * block + block; j++)
                    amax = fmaxf(amax, fabsf(x[j]));
                /* half a step of a range up to 2 amax (symmetric types: up to a
                 * whole step at the far end), plus the scales' rounding (test_quant.c) */
                float tol = want == GGML_F32 ? 0
                          : want == GGML_F16 ? fabsf(x[c]) / 1024 + 1e-7f
                          : want == GGML_BF16 ? fabsf(x[c]) / 256 + 1e-7f
                          : want == GGML_Q8_0 ? amax / 127
                          : want == GGML_Q4_0 ? amax / 8 * 1.01f
                          : want == GGML_Q5_0 ? amax / 16 * 1.01f
                          : want == GGML_Q4_1 ? amax / 14
                          : want == GGML_Q5_1 ? amax / 30
                          : want == GGML_Q4_K ? amax / 14
                          : want == GGML_Q5_K ? amax / 28 : amax / 60;
                if (fabsf(out[c] - x[c]) > tol)
                    fail_msg("%s [%llu][%llu]: %g converted to %g (%s)", r->name,
                             (unsigned long long)row, (unsigned long long)c, x[c], out[c],
                             ggml_type_name(want));
            }
        }
    }
    gguf_close(f);
}

static void test_convert_f32(void **state) {
    (void)state;
    const char *path = TMP("stories260K.gguf");
    assert_int_equal(convert_llama2c(CHECKPOINT, TOKENIZER, path, GGML_F32, NULL, NULL), LVK_OK);
    gguf_file *f;
    assert_int_equal(gguf_open(path, &f), LVK_OK);
    expect_str(f, "general.architecture", "llama");
    expect_str(f, "general.name", "stories260K");
    expect_str(f, "tokenizer.ggml.model", "llama");
    expect_u32(f, "llama.context_length", 512);
    expect_u32(f, "llama.embedding_length", 64);
    expect_u32(f, "llama.feed_forward_length", 172);
    expect_u32(f, "llama.block_count", 5);
    expect_u32(f, "llama.attention.head_count", 8);
    expect_u32(f, "llama.attention.head_count_kv", 4);
    expect_u32(f, "llama.rope.dimension_count", 8);
    expect_u32(f, "tokenizer.ggml.bos_token_id", 1);
    expect_u32(f, "tokenizer.ggml.eos_token_id", 2);
    expect_u32(f, "tokenizer.ggml.unknown_token_id", 0);
    float eps;
    assert_int_equal(gguf_get_f32(f, "llama.attention.layer_norm_rms_epsilon", &eps, LVK_ERR_FORMAT), LVK_OK);
    assert_true(eps == 1e-5f);
    assert_null(gguf_find_tensor(f, "output.weight")); /* tied */

    /* the vocabulary: llama2.c's, with '▁' for ' ' and the special tokens renamed */
    const gguf_value *tok = find_arr(f, "tokenizer.ggml.tokens", GGUF_STRING, 512);
    const gguf_value *scores = find_arr(f, "tokenizer.ggml.scores", GGUF_FLOAT32, 512);
    const gguf_value *types = find_arr(f, "tokenizer.ggml.token_type", GGUF_INT32, 512);
    assert_true(gguf_str_eq(tok->arr_strs[0], "<unk>"));
    assert_true(gguf_str_eq(tok->arr_strs[1], "<s>"));
    assert_true(gguf_str_eq(tok->arr_strs[2], "</s>"));
    assert_true(gguf_str_eq(tok->arr_strs[3], "<0x00>"));
    assert_true(gguf_str_eq(tok->arr_strs[258], "<0xFF>"));
    uint64_t size;
    uint8_t *raw = read_all(TOKENIZER, &size);
    uint64_t pos = 4;
    int spaces = 0;
    for (int id = 0; id < 512; id++) {
        float score;
        int32_t len;
        memcpy(&score, raw + pos, 4);
        memcpy(&len, raw + pos + 4, 4);
        char text[64] = "", *o = text;
        for (int32_t i = 0; i < len; i++) {
            if (raw[pos + 8 + i] == ' ') {
                o += sprintf(o, "\xe2\x96\x81");
                spaces++;
            } else {
                *o++ = (char)raw[pos + 8 + i];
            }
        }
        *o = 0;
        pos += 8 + (uint64_t)len;
        assert_true(gguf_arr_num(scores, id) == score);
        assert_true(gguf_arr_num(types, id) == (id == 0 ? 2 : id < 3 ? 3 : id < 259 ? 6 : 1));
        if (id >= 3) assert_true(gguf_str_eq(tok->arr_strs[id], text));
    }
    assert_true(spaces > 0);
    free(raw);
    gguf_close(f);

    uint8_t *ckpt = read_all(CHECKPOINT, &size);
    check_converted(path, ckpt, 1, GGML_F32);
    free(ckpt);
}

static void test_convert_quantized(void **state) {
    (void)state;
    uint64_t size;
    uint8_t *ckpt = read_all(CHECKPOINT, &size);
    for (int i = 0; i < LVK_N_WEIGHT_TYPES; i++) {
        const uint32_t type = weight_types[i];
        if (type == GGML_F32) continue; /* test_convert_f32 */
        const char *path = TMP("stories260K_q.gguf");
        assert_int_equal(convert_llama2c(CHECKPOINT, TOKENIZER, path, type, NULL, NULL), LVK_OK);
        check_converted(path, ckpt, 1, type); /* ffn_down (rows of 172) stays F16; for K-quants every matrix */
    }
    free(ckpt);

    /* a checkpoint 256 wide (FFN 512), without RoPE tables, takes K-quants in every matrix */
    const int32_t hdr[7] = {256, 512, 1, 4, 2, 512, 16};
    ref_tensor ref[64];
    int n = checkpoint_layout(hdr, 0, ref);
    uint64_t n_floats = ref[n - 1].offset + (ref[n - 1].rows ? ref[n - 1].rows : 1) * ref[n - 1].cols;
    size = 28 + 4 * n_floats;
    ckpt = malloc(size);
    assert_non_null(ckpt);
    memcpy(ckpt, hdr, 28);
    float *w = (float *)(ckpt + 28);
    uint64_t seed = 7;
    for (uint64_t i = 0; i < n_floats; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        w[i] = (float)((seed >> 40) & 0xffffff) / 16777216.0f - 0.5f;
    }
    const char *bin = TMP("wide.bin");
    write_all(bin, ckpt, size);
    const uint32_t k_quants[] = {GGML_Q4_K, GGML_Q5_K, GGML_Q6_K};
    for (size_t i = 0; i < sizeof k_quants / sizeof k_quants[0]; i++) {
        const char *path = TMP("wide_q.gguf");
        assert_int_equal(convert_llama2c(bin, TOKENIZER, path, k_quants[i], NULL, NULL), LVK_OK);
        check_converted(path, ckpt, 0, k_quants[i]);
    }
    free(ckpt);
    expect_fail(convert_llama2c(CHECKPOINT, TOKENIZER, TMP("x.gguf"), GGML_Q3_K, NULL, NULL), LVK_ERR_INVALID_ARGUMENT,
                "cannot convert to q3_k: choose f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k or q6_k");
}

/* Variants of the checkpoint: without the RoPE tables, and with a separate
 * classifier (negative vocab_size, wcls appended). */
static void test_convert_variants(void **state) {
    (void)state;
    uint64_t size;
    uint8_t *ckpt = read_all(CHECKPOINT, &size);
    const uint64_t freq_bytes = 2 * 512 * 4 * 4, emb_bytes = 512 * 64 * 4;
    const char *bin = TMP("variant.bin"), *out = TMP("variant.gguf");

    write_all(bin, ckpt, size - freq_bytes);
    assert_int_equal(convert_llama2c(bin, TOKENIZER, out, GGML_F32, NULL, NULL), LVK_OK);
    check_converted(out, ckpt, 0, GGML_F32);

    uint8_t *sep = malloc(size + emb_bytes);
    assert_non_null(sep);
    memcpy(sep, ckpt, size);
    int32_t vocab = -512;
    memcpy(sep + 20, &vocab, 4);
    float *wcls = (float *)(sep + size);
    const float *emb = (const float *)(ckpt + 28);
    for (int i = 0; i < 512 * 64; i++) wcls[i] = -emb[i];
    write_all(bin, sep, size + emb_bytes);
    assert_int_equal(convert_llama2c(bin, TOKENIZER, out, GGML_F32, NULL, NULL), LVK_OK);
    check_converted(out, sep, 1, GGML_F32);
    gguf_file *f;
    assert_int_equal(gguf_open(out, &f), LVK_OK);
    assert_memory_equal(gguf_find_tensor(f, "output.weight")->data, wcls, emb_bytes);
    gguf_close(f);
    free(sep);
    free(ckpt);
}

static void test_convert_errors(void **state) {
    (void)state;
    uint64_t size, tok_size;
    uint8_t *ckpt = read_all(CHECKPOINT, &size), *tok = read_all(TOKENIZER, &tok_size);
    const char *bin = TMP("bad.bin"), *out = TMP("bad.gguf");

    const uint64_t cuts[] = {1, 4, 1000, size - 100, size - 28, size};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_all(bin, ckpt, size - cuts[i]);
        clear_error();
        expect_fail(convert_llama2c(bin, TOKENIZER, out, GGML_F32, NULL, NULL), LVK_ERR_FORMAT,
                    size - cuts[i] < 28 ? "too small" : "truncated");
    }

    const struct { int field; int32_t value; const char *keyword; } bad_headers[] = {
        {0, 0, "dim = 0"},         {2, -3, "n_layers = -3"},  {3, 7, "multiple of n_heads"},
        {4, 3, "multiple of n_kv_heads"}, {5, INT32_MIN, "vocab_size"}, {6, 1 << 30, "seq_len"},
        {3, 64, "odd"},
    };
    for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; i++) {
        uint8_t copy[28 + 64];
        memcpy(copy, ckpt, sizeof copy);
        memcpy(copy + 4 * bad_headers[i].field, &bad_headers[i].value, 4);
        write_all(bin, copy, sizeof copy);
        expect_fail(convert_llama2c(bin, TOKENIZER, out, GGML_F32, NULL, NULL), LVK_ERR_FORMAT,
                    bad_headers[i].keyword);
    }

    /* tokenizer: cut inside a record, at a record boundary (too few tokens),
     * an impossible length */
    write_all(bin, tok, tok_size - 3);
    expect_fail(convert_llama2c(CHECKPOINT, bin, out, GGML_F32, NULL, NULL), LVK_ERR_FORMAT, "past the end");
    uint64_t pos = 4, last = 4;
    while (pos < tok_size) {
        int32_t len;
        memcpy(&len, tok + pos + 4, 4);
        last = pos;
        pos += 8 + (uint64_t)len;
    }
    write_all(bin, tok, last);
    expect_fail(convert_llama2c(CHECKPOINT, bin, out, GGML_F32, NULL, NULL), LVK_ERR_FORMAT, "511 tokens");
    int32_t huge = 1 << 30;
    memcpy(tok + 8, &huge, 4);
    write_all(bin, tok, tok_size);
    expect_fail(convert_llama2c(CHECKPOINT, bin, out, GGML_F32, NULL, NULL), LVK_ERR_FORMAT, "length");

    expect_fail(convert_llama2c(LITEVK_FIXTURES "/missing.bin", TOKENIZER, out, GGML_F32, NULL, NULL),
                LVK_ERR_IO, "missing.bin");
    write_all(bin, ckpt, size);
    expect_fail(convert_llama2c(bin, TOKENIZER, bin, GGML_F32, NULL, NULL), LVK_ERR_INVALID_ARGUMENT, "input");
    uint64_t unchanged;
    free(read_all(bin, &unchanged));
    assert_int_equal(unchanged, size);
    assert_int_equal(access(out, F_OK), -1);
    free(ckpt);
    free(tok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_roundtrip), cmocka_unit_test(test_writer_fill_in_rows),
        cmocka_unit_test(test_writer_alignment),
        cmocka_unit_test(test_writer_errors),    cmocka_unit_test(test_synth_model),
        cmocka_unit_test(test_synth_quantized),  cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_truncated),        cmocka_unit_test(test_convert_f32),
        cmocka_unit_test(test_convert_quantized), cmocka_unit_test(test_convert_variants),
        cmocka_unit_test(test_convert_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
