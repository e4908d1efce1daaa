/* test_safetensors.c — the safetensors reader (runtime/formats/safetensors.c): files
 * written here from F32, F16 and BF16 tensors read back value for value,
 * sharded checkpoints through model.safetensors.index.json, and a one-line
 * error for each kind of malformed file or checkpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc.h"
#include "hf_synth.h"
#include "formats/quant.h"
#include "formats/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TMP LITEVK_TMP_DIR "/test_safetensors"

static void expect_error(lvk_status got, lvk_status want, const char *part) {
    if (got != want) fail_msg("status %d, expected %d (%s)", got, want, lvk_last_error());
    if (!strstr(lvk_last_error(), part)) fail_msg("error '%s' lacks '%s'", lvk_last_error(), part);
    if (strchr(lvk_last_error(), '\n')) fail_msg("error '%s' is more than one line", lvk_last_error());
}

/* ---- reading ---------------------------------------------------------------------- */

static void test_read_floats(void **state) {
    (void)state;
    const float f32[6] = {1.5f, -2.25f, 0, 3e-3f, -7, 65504};
    uint16_t f16[6], bf16[6];
    for (int i = 0; i < 6; i++) {
        f16[i] = f32_to_f16(f32[i]);
        bf16[i] = f32_to_bf16(f32[i]);
    }
    const int64_t ids[2] = {7, -1};
    const float scalar = 0.5f;
    const hf_tensor t[] = {
        {"model.embed_tokens.weight", "F32", 2, {2, 3}, f32},
        {"a.f16", "F16", 2, {3, 2}, f16},
        {"a.bf16", "BF16", 1, {6}, bf16},
        {"position_ids", "I64", 1, {2}, ids},
        {"scale", "F32", 0, {0}, &scalar},
    };
    size_t size;
    uint8_t *image = hf_safetensors_image(t, 5, "{\"format\":\"pt\"}", &size);
    assert_non_null(image);
    st_file *f;
    assert_int_equal(st_parse(image, size, &f), LVK_OK);
    assert_int_equal(f->n_tensors, 5);

    const st_tensor *e = st_find(f, "model.embed_tokens.weight");
    assert_non_null(e);
    assert_string_equal(e->dtype, "F32");
    assert_int_equal(e->n_dims, 2);
    assert_int_equal(e->shape[0], 2);
    assert_int_equal(e->shape[1], 3);
    assert_int_equal(e->n_elements, 6);
    float out[6];
    const char *floats[] = {"model.embed_tokens.weight", "a.f16", "a.bf16"};
    for (int k = 0; k < 3; k++) {
        const st_tensor *x = st_find(f, floats[k]);
        assert_true(st_is_float(x));
        st_read_f32(x, 0, 6, out);
        for (int i = 0; i < 6; i++) {
            float want = k == 0 ? f32[i] : k == 1 ? f16_to_f32(f16[i]) : bf16_to_f32(bf16[i]);
            assert_true(out[i] == want);
        }
        st_read_f32(x, 4, 2, out); /* a range in the middle */
        assert_true(out[1] == (k == 0 ? f32[5] : k == 1 ? f16_to_f32(f16[5]) : bf16_to_f32(bf16[5])));
    }
    const st_tensor *p = st_find(f, "position_ids");
    assert_false(st_is_float(p));
    assert_int_equal(p->elem_size, 8);
    const st_tensor *s = st_find(f, "scale");
    assert_int_equal(s->n_dims, 0);
    assert_int_equal(s->n_elements, 1);
    assert_null(st_find(f, "missing"));
    st_close(f);
    free(image);
}

/* Malformed headers and data: each is LVK_ERR_FORMAT with one line that
 * says what is wrong. */
static void test_malformed(void **state) {
    (void)state;
    const uint8_t data[64] = {0};
    const struct { const char *header; size_t n_data; const char *error; } cases[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 12,
         "tensor 'a': data_offsets [0, 16] run past the end of the data (12 bytes): the file is truncated"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}", 16,
         "tensor 'a': data_offsets [0, 12] hold 12 bytes, but its shape of 4 F32 elements needs 16"},
        {"{\"a\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", 16, "hold 16 bytes, but its shape of 6 F16"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,0]}}", 16, "data_offsets [16, 0] are reversed"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16,
         "tensors 'a' (bytes 0..16) and 'b' (bytes 8..16) overlap"},
        {"{\"a\":{\"dtype\":\"Q7\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, "tensor 'a': dtype 'Q7' is unknown"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", 16, "absurd dimension -4"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1099511627777],\"data_offsets\":[0,16]}}", 16, "absurd dimension"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 16,
         "tensor 'a' has more than 8 dimensions"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,16]}}", 16, "expected an integer, found 2.5"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0]}}", 16, "data_offsets must be [begin, end]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8,16]}}", 16, "data_offsets must be [begin, end]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[-4,12]}}", 16, "data_offsets must be [begin, end]"},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", 16, "tensor 'a' lacks its shape"},
        {"{\"a\":{\"shape\":[4],\"data_offsets\":[0,16]}}", 16, "tensor 'a' lacks its dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}", 32, "tensor 'a' appears twice"},
        {"{\"__metadata__\":{\"format\":1}}", 0, "__metadata__ values must be strings"},
        {"[1, 2]", 0, "header line 1: the header is not a JSON object"},
        {"{\"a\":{\"dtype\":\"F32\",\n\"shape\":[4],\"data_offsets\":[0,16]},}", 16,
         "header line 2: expected a key after ','"},
        {"{} x", 0, "expected nothing more after the value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t size;
        uint8_t *image = hf_raw_image(cases[i].header, data, cases[i].n_data, &size);
        st_file *f = NULL;
        int64_t before = mem_alloc_outstanding();
        expect_error(st_parse(image, size, &f), LVK_ERR_FORMAT, cases[i].error);
        assert_null(f);
        assert_int_equal(mem_alloc_outstanding(), before);
        free(image);
    }

    /* the header length: fewer than 8 bytes, past the end, absurd */
    uint8_t small[8] = {0};
    st_file *f = NULL;
    expect_error(st_parse(small, 5, &f), LVK_ERR_FORMAT, "the file is truncated: 5 bytes");
    size_t size;
    uint8_t *image = hf_raw_image("{}", NULL, 0, &size);
    expect_error(st_parse(image, size - 1, &f), LVK_ERR_FORMAT,
                 "the file is truncated: its 2-byte header runs past the end (9 bytes)");
    uint64_t absurd = 1ull << 40;
    memcpy(image, &absurd, 8);
    expect_error(st_parse(image, size, &f), LVK_ERR_FORMAT, "the header length 1099511627776 is absurd");
    free(image);

    /* an empty checkpoint file is valid */
    image = hf_raw_image("{}  ", NULL, 0, &size);
    assert_int_equal(st_parse(image, size, &f), LVK_OK);
    assert_int_equal(f->n_tensors, 0);
    st_close(f);
    free(image);
}

/* Every allocation of parsing can fail: LVK_ERR_OUT_OF_MEMORY, nothing leaks. */
static void test_out_of_memory(void **state) {
    (void)state;
    const float w[4] = {1, 2, 3, 4};
    const hf_tensor t[] = {{"x", "F32", 1, {4}, w}, {"y", "F32", 2, {2, 2}, w}};
    size_t size;
    uint8_t *image = hf_safetensors_image(t, 2, "{\"format\":\"pt\"}", &size);
    for (uint64_t n = 1;; n++) {
        int64_t before = mem_alloc_outstanding();
        st_file *f = NULL;
        mem_alloc_fail_at(n);
        lvk_status s = st_parse(image, size, &f);
        mem_alloc_fail_at(0);
        if (s == LVK_OK) {
            st_close(f);
            assert_int_equal(mem_alloc_outstanding(), before);
            break;
        }
        expect_error(s, LVK_ERR_OUT_OF_MEMORY, "out of memory");
        assert_int_equal(mem_alloc_outstanding(), before);
    }
    free(image);
}

/* ---- checkpoint directories ---------------------------------------------------------- */

static const char *make_dir(const char *name) {
    static char path[512];
    snprintf(path, sizeof path, "%s_%s", TMP, name);
    mkdir(path, 0755);
    /* start empty: a previous run may have left files */
    const char *files[] = {"model.safetensors", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                           "model-00002-of-00002.safetensors"};
    char file[600];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(file, sizeof file, "%s/%s", path, files[i]);
        remove(file);
    }
    return path;
}

static void write_in(const char *dir, const char *name, const char *text) {
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(hf_write_text(path, text), 0);
}

static void test_single_file(void **state) {
    (void)state;
    const float w[4] = {1, 2, 3, 4};
    const hf_tensor t[] = {{"x", "F32", 1, {4}, w}};
    const char *dir = make_dir("single");
    st_checkpoint *c;
    expect_error(st_checkpoint_open(dir, &c), LVK_ERR_IO, "has neither model.safetensors nor model.safetensors.index.json");
    assert_int_equal(hf_write_safetensors(dir, "model.safetensors", t, 1), 0);
    assert_int_equal(st_checkpoint_open(dir, &c), LVK_OK);
    assert_int_equal(c->n_shards, 1);
    assert_non_null(st_checkpoint_find(c, "x"));
    assert_null(st_checkpoint_find(c, "y"));
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_true(st_checkpoint_holds(c, path));
    assert_false(st_checkpoint_holds(c, LITEVK_TMP_DIR));
    st_checkpoint_close(c);

    /* a truncated file names itself */
    size_t size;
    uint8_t *image = hf_safetensors_image(t, 1, NULL, &size);
    assert_int_equal(hf_write_file(path, image, size - 3), 0);
    expect_error(st_checkpoint_open(dir, &c), LVK_ERR_FORMAT, "model.safetensors: tensor 'x': data_offsets [0, 16] run past");
    free(image);
}

static void test_sharded(void **state) {
    (void)state;
    const float a[4] = {1, 2, 3, 4}, b[2] = {5, 6};
    const hf_tensor first[] = {{"a", "F32", 1, {4}, a}}, second[] = {{"b", "F32", 1, {2}, b}, {"c", "F32", 1, {2}, b}};
    const char *dir = make_dir("sharded");
    assert_int_equal(hf_write_safetensors(dir, "model-00001-of-00002.safetensors", first, 1), 0);
    assert_int_equal(hf_write_safetensors(dir, "model-00002-of-00002.safetensors", second, 2), 0);
    /* model.safetensors is ignored when there is an index */
    assert_int_equal(hf_write_safetensors(dir, "model.safetensors", first, 1), 0);
    write_in(dir, "model.safetensors.index.json",
             "{\"metadata\": {\"total_size\": 32},\n \"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\",\n"
             "  \"b\": \"model-00002-of-00002.safetensors\", \"c\": \"model-00002-of-00002.safetensors\"}}\n");
    st_checkpoint *c;
    assert_int_equal(st_checkpoint_open(dir, &c), LVK_OK);
    assert_int_equal(c->n_shards, 2);
    float out[2];
    st_read_f32(st_checkpoint_find(c, "b"), 0, 2, out);
    assert_true(out[0] == 5 && out[1] == 6);
    assert_non_null(st_checkpoint_find(c, "a"));
    st_checkpoint_close(c);

    const struct { const char *index; lvk_status status; const char *error; } bad[] = {
        {"{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", \"z\": \"model-00002-of-00002.safetensors\"}}",
         LVK_ERR_FORMAT, "model.safetensors.index.json puts tensor 'z' in model-00002-of-00002.safetensors, which has no such tensor"},
        {"{\"weight_map\": {\"a\": \"../model-00001-of-00002.safetensors\"}}", LVK_ERR_FORMAT,
         "shard '../model-00001-of-00002.safetensors' is not a file name in the checkpoint's directory"},
        {"{\"weight_map\": {\"a\": \"model-00003-of-00003.safetensors\"}}", LVK_ERR_IO,
         "cannot open '"},
        {"{\"weight_map\": {\"a\": 3}}", LVK_ERR_FORMAT, "model.safetensors.index.json:1: weight_map values must be shard file names"},
        {"{\"metadata\": {}}", LVK_ERR_FORMAT, "there is no weight_map, or it is empty"},
        {"{\"weight_map\": {}}", LVK_ERR_FORMAT, "there is no weight_map, or it is empty"},
        {"{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\"}", LVK_ERR_FORMAT,
         "model.safetensors.index.json:1: expected ',' or '}' after an object member, found the end of the input"},
        {"{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\", \"a\": \"model.safetensors\"}}", LVK_ERR_FORMAT,
         "tensor 'a' is both in"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_in(dir, "model.safetensors.index.json", bad[i].index);
        int64_t before = mem_alloc_outstanding();
        c = NULL;
        expect_error(st_checkpoint_open(dir, &c), bad[i].status, bad[i].error);
        assert_null(c);
        assert_int_equal(mem_alloc_outstanding(), before);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_floats), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_out_of_memory), cmocka_unit_test(test_single_file),
        cmocka_unit_test(test_sharded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
