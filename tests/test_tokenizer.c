/* test_tokenizer.c — the SentencePiece tokenizer against llama.cpp's own
 * test vectors (models/ggml-vocab-llama-spm.gguf.{inp,out}), plus decoding,
 * error handling and malformed vocabularies built in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tokenizer.h"

#define VOCAB LITEVK_FIXTURES "/ggml-vocab-llama-spm.gguf"

/* ---- fixtures ---------------------------------------------------------- */

typedef struct vector {
    const char *text; /* into the .inp buffer, not NUL-terminated */
    size_t len;
    int32_t *ids;
    int n_ids;
} vector;

typedef struct fixture {
    lvk_tokenizer *tok;
    char *inp;
    vector *vectors;
    int n_vectors;
} fixture;

static char *read_file(const char *path, size_t *size) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = 0;
    fclose(fp);
    *size = (size_t)n;
    return buf;
}

/* Splits the .inp file as llama.cpp's test-tokenizer-0 does: on the
 * separator "\n__ggml_vocab_test__\n", so the newline before a separator
 * line is not part of the string; text after the last separator, if any,
 * is one more string. */
static int split_inputs(char *inp, size_t size, vector *v, int max) {
    static const char sep[] = "\n__ggml_vocab_test__\n";
    size_t pos = 0;
    int n = 0;
    while (pos < size) {
        assert_true(n < max);
        char *next = memmem(inp + pos, size - pos, sep, strlen(sep));
        size_t end = next ? (size_t)(next - inp) : size;
        v[n].text = inp + pos;
        v[n].len = end - pos;
        n++;
        if (!next) break;
        pos = end + strlen(sep);
    }
    return n;
}

/* One line of the .out file per string: space-separated ids, no BOS. */
static int parse_outputs(char *out, vector *v, int max) {
    int n = 0;
    for (char *line = out; *line; n++) {
        assert_true(n < max);
        char *eol = strchr(line, '\n');
        if (eol) *eol = 0;
        v[n].ids = malloc((strlen(line) / 2 + 1) * sizeof *v[n].ids);
        assert_non_null(v[n].ids);
        v[n].n_ids = 0;
        for (char *p = line, *q;; p = q) {
            long id = strtol(p, &q, 10);
            if (q == p) break;
            v[n].ids[v[n].n_ids++] = (int32_t)id;
        }
        line = eol ? eol + 1 : line + strlen(line);
    }
    return n;
}

static int setup(void **state) {
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    gguf_file *f;
    assert_int_equal(gguf_open(VOCAB, &f), LVK_OK);
    assert_int_equal(tokenizer_load(f, &fx->tok), LVK_OK);
    gguf_close(f); /* the tokenizer keeps its own copy */

    enum { MAX_VECTORS = 256 };
    size_t inp_size, out_size;
    fx->inp = read_file(VOCAB ".inp", &inp_size);
    char *out = read_file(VOCAB ".out", &out_size);
    fx->vectors = calloc(MAX_VECTORS, sizeof *fx->vectors);
    assert_non_null(fx->vectors);
    fx->n_vectors = split_inputs(fx->inp, inp_size, fx->vectors, MAX_VECTORS);
    assert_int_equal(parse_outputs(out, fx->vectors, MAX_VECTORS), fx->n_vectors);
    free(out);
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    for (int i = 0; i < fx->n_vectors; i++) free(fx->vectors[i].ids);
    free(fx->vectors);
    free(fx->inp);
    tokenizer_free(fx->tok);
    free(fx);
    return 0;
}

/* ---- helpers ----------------------------------------------------------- */

/* Prints text with C escapes for anything that is not printable ASCII. */
static void print_text(const char *label, const char *s, size_t n) {
    print_message("%s \"", label);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') print_message("\\n");
        else if (c == '\t') print_message("\\t");
        else if (c == '"' || c == '\\') print_message("\\%c", c);
        else if (c < 0x20 || c >= 0x7f) print_message("\\x%02x", c);
        else print_message("%c", c);
    }
    print_message("\"\n");
}

static void print_ids(const char *label, const int32_t *ids, int n) {
    print_message("%s", label);
    for (int i = 0; i < n; i++) print_message(" %d", ids[i]);
    print_message("\n");
}

/* Encodes into a fresh array (freed by the caller); *n receives the count. */
static int32_t *encode(const lvk_tokenizer *t, const char *text, size_t len, int add_bos,
                       int *n) {
    assert_int_equal(tokenizer_encode(t, text, len, add_bos, NULL, 0, n), LVK_OK);
    int32_t *ids = malloc(((size_t)*n + 1) * sizeof *ids);
    assert_non_null(ids);
    int n2;
    assert_int_equal(tokenizer_encode(t, text, len, add_bos, ids, *n, &n2), LVK_OK);
    assert_int_equal(n2, *n);
    return ids;
}

/* ---- tests ------------------------------------------------------------- */

static void test_vectors(void **state) {
    fixture *fx = *state;
    int failed = 0;
    assert_true(fx->n_vectors > 0);
    for (int i = 0; i < fx->n_vectors; i++) {
        const vector *v = &fx->vectors[i];
        int n;
        int32_t *ids = encode(fx->tok, v->text, v->len, 0, &n);
        if (n != v->n_ids || memcmp(ids, v->ids, (size_t)n * sizeof *ids) != 0) {
            print_message("vector %d differs:\n", i);
            print_text("  text    ", v->text, v->len);
            print_ids("  expected", v->ids, v->n_ids);
            print_ids("  got     ", ids, n);
            failed++;
        }
        free(ids);
    }
    print_message("%d of %d tokenizer vectors match\n", fx->n_vectors - failed, fx->n_vectors);
    assert_int_equal(failed, 0);
}

/* Decoding the expected ids gives the text back, after the one leading
 * space that add_space_prefix put in front (llama.cpp strips it too). */
static void test_decode_round_trip(void **state) {
    fixture *fx = *state;
    for (int i = 0; i < fx->n_vectors; i++) {
        const vector *v = &fx->vectors[i];
        size_t cap = 64, n = 0;
        for (int j = 0; j < v->n_ids; j++) {
            size_t len;
            tokenizer_piece(fx->tok, v->ids[j], &len);
            cap += len;
        }
        char *text = malloc(cap);
        assert_non_null(text);
        for (int j = 0; j < v->n_ids; j++) {
            size_t len;
            const char *piece = tokenizer_piece(fx->tok, v->ids[j], &len);
            memcpy(text + n, piece, len);
            n += len;
        }
        const char *back = text;
        if (v->len > 0) {
            assert_true(n > 0 && text[0] == ' ');
            back++;
            n--;
        }
        if (n != v->len || memcmp(back, v->text, n) != 0) {
            print_message("vector %d does not decode back:\n", i);
            print_text("  text   ", v->text, v->len);
            print_text("  decoded", back, n);
            fail();
        }
        free(text);
    }
}

static void test_pieces(void **state) {
    fixture *fx = *state;
    const lvk_tokenizer *t = fx->tok;
    size_t len;
    assert_int_equal(tokenizer_n_vocab(t), 32000);
    assert_int_equal(tokenizer_bos(t), 1);
    assert_int_equal(tokenizer_eos(t), 2);
    assert_string_equal(tokenizer_piece(t, 15043, &len), " Hello");
    assert_int_equal(len, 6);
    assert_string_equal(tokenizer_piece(t, 13, &len), "\n"); /* <0x0A> */
    assert_int_equal(len, 1);
    assert_string_equal(tokenizer_piece(t, 3, &len), ""); /* <0x00>: one NUL byte */
    assert_int_equal(len, 1);
    for (int32_t id = 0; id < 3; id++) { /* <unk> <s> </s> */
        assert_string_equal(tokenizer_piece(t, id, &len), "");
        assert_int_equal(len, 0);
    }
    const int32_t bad[] = {-1, 32000, INT32_MAX, INT32_MIN};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        len = 99;
        assert_string_equal(tokenizer_piece(t, bad[i], &len), "");
        assert_int_equal(len, 0);
    }
}

static void test_bos_and_empty(void **state) {
    fixture *fx = *state;
    int32_t ids[4];
    int n = -1;
    assert_int_equal(tokenizer_encode(fx->tok, "", 0, 0, ids, 4, &n), LVK_OK);
    assert_int_equal(n, 0);
    assert_int_equal(tokenizer_encode(fx->tok, NULL, 0, 1, ids, 4, &n), LVK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 1);
    assert_int_equal(tokenizer_encode(fx->tok, "Hello world", 11, 1, ids, 4, &n), LVK_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 15043);
    assert_int_equal(ids[2], 3186);
}

static void test_invalid_utf8(void **state) {
    fixture *fx = *state;
    static const char *const bad[] = {
        "\xff",             /* never valid */
        "ok \xe2\x96",      /* 3-byte sequence cut short */
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong '/' in 3 bytes */
        "\xed\xa0\x80",     /* UTF-16 surrogate */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "a\x80z",           /* stray continuation byte */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int32_t ids[16];
        int n = -1;
        assert_int_equal(tokenizer_encode(fx->tok, bad[i], strlen(bad[i]), 1, ids, 16, &n),
                         LVK_ERR_INVALID_ARGUMENT);
        assert_true(lvk_last_error()[0] != 0);
        assert_int_equal(n, 0);
    }
    /* A NUL is valid UTF-8 and has a byte token. */
    int32_t ids[4];
    int n;
    assert_int_equal(tokenizer_encode(fx->tok, "\0", 1, 0, ids, 4, &n), LVK_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 29871); /* '▁' */
    assert_int_equal(ids[1], 3);     /* <0x00> */
}

/* Too small a buffer: LVK_OK, *n_out is the full count, and nothing is
 * written past `capacity`. */
static void test_capacity(void **state) {
    fixture *fx = *state;
    const char *text = " Hello, world!"; /* 29871 15043 29892 3186 29991 */
    int32_t ids[8];
    for (int i = 0; i < 8; i++) ids[i] = -7;
    int n;
    assert_int_equal(tokenizer_encode(fx->tok, text, strlen(text), 1, ids, 3, &n), LVK_OK);
    assert_int_equal(n, 6);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 29871);
    assert_int_equal(ids[2], 15043);
    for (int i = 3; i < 8; i++) assert_int_equal(ids[i], -7);

    assert_int_equal(tokenizer_encode(fx->tok, text, strlen(text), 0, ids, -1, &n),
                     LVK_ERR_INVALID_ARGUMENT);
    assert_int_equal(tokenizer_encode(fx->tok, text, strlen(text), 0, NULL, 4, &n),
                     LVK_ERR_INVALID_ARGUMENT);
    assert_int_equal(tokenizer_encode(fx->tok, text, strlen(text), 0, ids, 8, NULL),
                     LVK_ERR_INVALID_ARGUMENT);
}

/* Merging stays O(n log n): a long text of mixed content is quick. */
static void test_long_text(void **state) {
    fixture *fx = *state;
    size_t len = 0;
    char *text = malloc(1 << 18);
    assert_non_null(text);
    for (int i = 0; len + 4096 < (1 << 18); i = (i + 1) % fx->n_vectors) {
        memcpy(text + len, fx->vectors[i].text, fx->vectors[i].len);
        len += fx->vectors[i].len;
        text[len++] = ' ';
    }
    int n;
    int32_t *ids = encode(fx->tok, text, len, 0, &n);
    assert_true(n > (int)(len / 8) && n <= (int)(3 * len + 1));
    free(ids);
    free(text);
}

/* ---- vocabularies built in memory --------------------------------------- */

typedef struct image {
    uint8_t *p;
    size_t n, cap;
    uint64_t n_kv;
} image;

static void put(image *b, const void *data, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
}
static void put_u32(image *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(image *b, uint64_t v) { put(b, &v, 8); }
static void put_str(image *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

/* Header of a GGUF v3 file without tensors; the KV count is patched in by
 * parse_image. */
static image new_image(void) {
    image b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, 0); /* tensors */
    put_u64(&b, 0); /* KVs */
    return b;
}

static void kv(image *b, const char *key, uint32_t type) {
    put_str(b, key);
    put_u32(b, type);
    b->n_kv++;
}
static void kv_string(image *b, const char *key, const char *v) {
    kv(b, key, GGUF_STRING);
    put_str(b, v);
}
static void kv_u32(image *b, const char *key, uint32_t v) {
    kv(b, key, GGUF_UINT32);
    put_u32(b, v);
}
static void kv_bool(image *b, const char *key, int v) {
    kv(b, key, GGUF_BOOL);
    uint8_t u = (uint8_t)v;
    put(b, &u, 1);
}
static void kv_strings(image *b, const char *key, int n, const char *const *v) {
    kv(b, key, GGUF_ARRAY);
    put_u32(b, GGUF_STRING);
    put_u64(b, (uint64_t)n);
    for (int i = 0; i < n; i++) put_str(b, v[i]);
}
static void kv_floats(image *b, const char *key, int n, const float *v) {
    kv(b, key, GGUF_ARRAY);
    put_u32(b, GGUF_FLOAT32);
    put_u64(b, (uint64_t)n);
    put(b, v, (size_t)n * sizeof *v);
}
static void kv_ints(image *b, const char *key, int n, const int32_t *v) {
    kv(b, key, GGUF_ARRAY);
    put_u32(b, GGUF_INT32);
    put_u64(b, (uint64_t)n);
    put(b, v, (size_t)n * sizeof *v);
}

/* Parses the image and loads a tokenizer from it; frees the image. */
static lvk_status load_image(image *b, lvk_tokenizer **t) {
    memcpy(b->p + 16, &b->n_kv, 8);
    gguf_file *f;
    assert_int_equal(gguf_parse(b->p, b->n, &f), LVK_OK);
    lvk_status s = tokenizer_load(f, t);
    gguf_close(f);
    free(b->p);
    return s;
}

/* A tiny vocabulary: "ab" and "ba" score the same, so "aba" shows that the
 * leftmost pair wins; "x" has neither a token nor a byte token. */
static const char *const tiny_tokens[] = {
    "<unk>", "<s>", "</s>", "<0x0A>", "\xe2\x96\x81", "a", "b", "ab", "ba", "\xe2\x96\x81" "a",
};
static const float tiny_scores[] = {0, 0, 0, 0, -1, -1, -1, -2, -2, -3};
static const int32_t tiny_types[] = {2, 3, 3, 6, 1, 1, 1, 1, 1, 1};
enum { TINY_N = sizeof tiny_tokens / sizeof tiny_tokens[0] };

static image tiny_image(const char *model, int n_scores, int add_space_prefix) {
    image b = new_image();
    kv_string(&b, "tokenizer.ggml.model", model);
    kv_strings(&b, "tokenizer.ggml.tokens", TINY_N, tiny_tokens);
    kv_floats(&b, "tokenizer.ggml.scores", n_scores, tiny_scores);
    kv_ints(&b, "tokenizer.ggml.token_type", TINY_N, tiny_types);
    kv_bool(&b, "tokenizer.ggml.add_space_prefix", add_space_prefix);
    return b;
}

static void expect_ids(const lvk_tokenizer *t, const char *text, int n_expected, ...) {
    int n;
    int32_t *ids = encode(t, text, strlen(text), 0, &n);
    assert_int_equal(n, n_expected);
    va_list ap;
    va_start(ap, n_expected);
    for (int i = 0; i < n; i++) assert_int_equal(ids[i], va_arg(ap, int));
    va_end(ap);
    free(ids);
}

static void test_tiny_vocab(void **state) {
    (void)state;
    lvk_tokenizer *t;
    image b = tiny_image("llama", TINY_N, 0);
    assert_int_equal(load_image(&b, &t), LVK_OK);
    expect_ids(t, "aba", 2, 7, 5);       /* ab|a, not a|ba */
    expect_ids(t, "x\n", 2, 0, 3);       /* no token for 'x': <unk>; '\n' its byte */
    expect_ids(t, " a", 1, 9);           /* '▁' + 'a' */
    tokenizer_free(t);

    b = tiny_image("llama", TINY_N, 1);
    assert_int_equal(load_image(&b, &t), LVK_OK);
    expect_ids(t, "a", 1, 9);
    tokenizer_free(t);
}

static void test_malformed_vocab(void **state) {
    (void)state;
    lvk_tokenizer *t = NULL;
    image b = tiny_image("llama", TINY_N - 1, 1); /* one score short */
    assert_int_equal(load_image(&b, &t), LVK_ERR_FORMAT);
    assert_non_null(strstr(lvk_last_error(), "scores"));
    assert_null(t);

    b = tiny_image("gpt2", TINY_N, 1);
    assert_int_equal(load_image(&b, &t), LVK_ERR_UNSUPPORTED);
    assert_non_null(strstr(lvk_last_error(), "gpt2"));
    assert_null(t);

    b = tiny_image("llama", TINY_N, 1); /* EOS past the vocabulary */
    kv_u32(&b, "tokenizer.ggml.eos_token_id", TINY_N);
    assert_int_equal(load_image(&b, &t), LVK_ERR_FORMAT);
    assert_non_null(strstr(lvk_last_error(), "eos_token_id"));

    b = new_image(); /* no vocabulary at all */
    kv_string(&b, "tokenizer.ggml.model", "llama");
    assert_int_equal(load_image(&b, &t), LVK_ERR_FORMAT);
    assert_non_null(strstr(lvk_last_error(), "tokenizer.ggml.tokens"));
    assert_null(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_decode_round_trip),
        cmocka_unit_test(test_pieces),
        cmocka_unit_test(test_bos_and_empty),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_long_text),
        cmocka_unit_test(test_tiny_vocab),
        cmocka_unit_test(test_malformed_vocab),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
