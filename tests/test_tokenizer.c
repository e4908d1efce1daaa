/* test_tokenizer.c — both tokenizers against llama.cpp's own test vectors
 * (tests/fixtures/ggml-vocab-NAME.gguf{,.inp,.out}: SentencePiece for LLaMA
 * and Phi-3, byte-level BPE for GPT-2 and StarCoder, and for Llama 3 and
 * Qwen2 the vocabularies `litevk convert --vocab-only` makes from their
 * tokenizer.json in the build tree, when scripts/fetch-tokenizers.sh has
 * fetched them), plus decoding, special tokens, error handling and malformed
 * vocabularies built in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc.h"
#include "formats/gguf_write.h"
#include "convert/hf_vocab.h"
#include "json_write.h"
#include "model/tokenizer.h"
#include "model/unicode.h"

#define VOCAB_PATH(name) LITEVK_FIXTURES "/ggml-vocab-" name ".gguf"
/* vocabularies converted from tokenizer.json by the convert_vocab_* tests */
#define CONVERTED_VOCAB_PATH(name) LITEVK_CONVERTED_FIXTURES "/ggml-vocab-" name ".gguf"

/* ---- fixtures ---------------------------------------------------------- */

typedef struct vector {
    const char *text; /* into the .inp buffer, not NUL-terminated */
    size_t len;
    int32_t *ids;
    int n_ids;
} vector;

typedef struct fixture {
    text_tokenizer *tok;
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

/* Loads a vocabulary and the vectors at vectors.inp and vectors.out; NULL
 * when the vocabulary's file is missing and `optional`. */
static fixture *load_fixture(const char *path, const char *vectors, int optional) {
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        assert_true(optional);
        return NULL;
    }
    fclose(probe);
    fixture *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    gguf_file *f;
    assert_int_equal(gguf_open(path, &f), LVK_OK);
    assert_int_equal(tokenizer_load(f, &fx->tok), LVK_OK);
    gguf_close(f); /* the tokenizer keeps its own copy */

    enum { MAX_VECTORS = 256 };
    char name[1024];
    size_t inp_size, out_size;
    snprintf(name, sizeof name, "%s.inp", vectors);
    fx->inp = read_file(name, &inp_size);
    snprintf(name, sizeof name, "%s.out", vectors);
    char *out = read_file(name, &out_size);
    fx->vectors = calloc(MAX_VECTORS, sizeof *fx->vectors);
    assert_non_null(fx->vectors);
    fx->n_vectors = split_inputs(fx->inp, inp_size, fx->vectors, MAX_VECTORS);
    assert_int_equal(parse_outputs(out, fx->vectors, MAX_VECTORS), fx->n_vectors);
    free(out);
    return fx;
}

static void free_fixture(fixture *fx) {
    for (int i = 0; i < fx->n_vectors; i++) free(fx->vectors[i].ids);
    free(fx->vectors);
    free(fx->inp);
    tokenizer_free(fx->tok);
    free(fx);
}

/* The group's fixture: LLaMA's SentencePiece vocabulary. */
static int setup(void **state) {
    *state = load_fixture(VOCAB_PATH("llama-spm"), VOCAB_PATH("llama-spm"), 0);
    return 0;
}

static int teardown(void **state) {
    free_fixture(*state);
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
static int32_t *encode(const text_tokenizer *t, const char *text, size_t len, unsigned flags, int *n) {
    assert_int_equal(tokenizer_encode(t, text, len, flags, NULL, 0, n), LVK_OK);
    int32_t *ids = malloc(((size_t)*n + 1) * sizeof *ids);
    assert_non_null(ids);
    int n2;
    assert_int_equal(tokenizer_encode(t, text, len, flags, ids, *n, &n2), LVK_OK);
    assert_int_equal(n2, *n);
    return ids;
}

/* The concatenated pieces of ids (freed by the caller); *n receives the length. */
static char *decode(const text_tokenizer *t, const int32_t *ids, int n_ids, size_t *n) {
    size_t cap = 1;
    for (int j = 0; j < n_ids; j++) {
        size_t len;
        tokenizer_piece(t, ids[j], &len);
        cap += len;
    }
    char *text = malloc(cap);
    assert_non_null(text);
    *n = 0;
    for (int j = 0; j < n_ids; j++) {
        size_t len;
        const char *piece = tokenizer_piece(t, ids[j], &len);
        memcpy(text + *n, piece, len);
        *n += len;
    }
    return text;
}

/* Encodes text with flags and checks the ids, given after their count. */
static void expect_ids(const text_tokenizer *t, unsigned flags, const char *text, int n_expected, ...) {
    int n;
    int32_t *ids = encode(t, text, strlen(text), flags, &n);
    if (n != n_expected) {
        print_ids("got", ids, n);
        fail_msg("\"%s\" gave %d ids, expected %d", text, n, n_expected);
    }
    va_list ap;
    va_start(ap, n_expected);
    for (int i = 0; i < n; i++) assert_int_equal(ids[i], va_arg(ap, int));
    va_end(ap);
    free(ids);
}

/* ---- llama.cpp's vectors ------------------------------------------------- */

/* Every vector encodes (without BOS, as the .out files have it) to its ids. */
static void check_vectors(const fixture *fx, const char *name) {
    int failed = 0;
    assert_true(fx->n_vectors > 0);
    for (int i = 0; i < fx->n_vectors; i++) {
        const vector *v = &fx->vectors[i];
        int n;
        int32_t *ids = encode(fx->tok, v->text, v->len, 0, &n);
        if (n != v->n_ids || memcmp(ids, v->ids, (size_t)n * sizeof *ids) != 0) {
            print_message("%s vector %d differs:\n", name, i);
            print_text("  text    ", v->text, v->len);
            print_ids("  expected", v->ids, v->n_ids);
            print_ids("  got     ", ids, n);
            failed++;
        }
        free(ids);
    }
    print_message("%s: %d of %d tokenizer vectors match\n", name, fx->n_vectors - failed, fx->n_vectors);
    assert_int_equal(failed, 0);
}

/* Decoding the expected ids gives the text back: exactly for byte-level BPE,
 * after the one leading space that add_space_prefix put in front for
 * SentencePiece (llama.cpp strips it too). */
static void check_decode(const fixture *fx, const char *name) {
    int spm = strcmp(tokenizer_model_name(fx->tok), "llama") == 0;
    for (int i = 0; i < fx->n_vectors; i++) {
        const vector *v = &fx->vectors[i];
        size_t n;
        char *text = decode(fx->tok, v->ids, v->n_ids, &n);
        const char *back = text;
        if (spm && v->len > 0) {
            assert_true(n > 0 && text[0] == ' ');
            back++;
            n--;
        }
        if (n != v->len || memcmp(back, v->text, n) != 0) {
            print_message("%s vector %d does not decode back:\n", name, i);
            print_text("  text   ", v->text, v->len);
            print_text("  decoded", back, n);
            fail();
        }
        free(text);
    }
}

static void test_vectors(void **state) {
    check_vectors(*state, "llama-spm");
    check_decode(*state, "llama-spm");
}

/* A vocabulary's vectors and decoding; an optional one that is missing is
 * skipped with a message. */
static void vocab_vectors(const char *path, const char *vectors, const char *name, int optional) {
    fixture *fx = load_fixture(path, vectors, optional);
    if (!fx) {
        print_message("%s is missing, so its vectors are skipped: it is converted from the model's "
                      "tokenizer.json, which scripts/fetch-tokenizers.sh fetches\n", path);
        skip();
    }
    check_vectors(fx, name);
    check_decode(fx, name);
    free_fixture(fx);
}

static void test_vectors_phi3(void **state) {
    (void)state;
    vocab_vectors(VOCAB_PATH("phi-3"), VOCAB_PATH("phi-3"), "phi-3", 0);
}

static void test_vectors_gpt2(void **state) {
    (void)state;
    vocab_vectors(VOCAB_PATH("gpt-2"), VOCAB_PATH("gpt-2"), "gpt-2", 0);
}

static void test_vectors_starcoder(void **state) {
    (void)state;
    vocab_vectors(VOCAB_PATH("starcoder"), VOCAB_PATH("starcoder"), "starcoder", 0);
}

static void test_vectors_llama_bpe(void **state) {
    (void)state;
    vocab_vectors(CONVERTED_VOCAB_PATH("llama-bpe"), VOCAB_PATH("llama-bpe"), "llama-bpe", 1);
}

static void test_vectors_qwen2(void **state) {
    (void)state;
    vocab_vectors(CONVERTED_VOCAB_PATH("qwen2"), VOCAB_PATH("qwen2"), "qwen2", 1);
}

/* ---- a SentencePiece vocabulary through tokenizer.json ------------------------------- */

typedef struct spm_merge {
    int32_t left, right, made; /* tokens: made = left + right */
    float score;               /* the made token's */
} spm_merge;

/* Hugging Face's order for merges it derives from a SentencePiece model: by
 * the made token's score, best first (ties in token order), and the splits of
 * one token by their halves' ids. */
static int merge_before(const void *a, const void *b) {
    const spm_merge *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->made != y->made) return x->made < y->made ? -1 : 1;
    if (x->left != y->left) return x->left < y->left ? -1 : 1;
    return (x->right > y->right) - (x->right < y->right);
}

static const gguf_str *sorted_texts; /* for the comparisons below */

static int text_before(const void *a, const void *b) {
    gguf_str x = sorted_texts[*(const int32_t *)a], y = sorted_texts[*(const int32_t *)b];
    int c = memcmp(x.ptr, y.ptr, x.len < y.len ? (size_t)x.len : (size_t)y.len);
    return c ? c : (x.len > y.len) - (x.len < y.len);
}

/* The id of the token s[0..n) of a vocabulary sorted by text (ids in `by_text`), or -1. */
static int32_t lookup(const gguf_str *texts, const int32_t *by_text, int n_vocab, const char *s, size_t n) {
    int lo = 0, hi = n_vocab;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        gguf_str t = texts[by_text[mid]];
        int c = memcmp(t.ptr, s, t.len < n ? (size_t)t.len : n);
        if (!c) c = (t.len > n) - (t.len < n);
        if (!c) return by_text[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* The tokenizer.json Hugging Face's converter makes of LLaMA's SentencePiece
 * model (ggml-vocab-llama-spm.gguf holds its tokens and scores): the
 * vocabulary, merges of every token that splits into two tokens, byte
 * fallback, '▁' for spaces. malloc'd. */
static char *spm_tokenizer_json(const gguf_file *f) {
    const gguf_value *tokens = &gguf_find(f, "tokenizer.ggml.tokens")->value;
    const gguf_value *scores = &gguf_find(f, "tokenizer.ggml.scores")->value;
    int n = (int)tokens->arr_count;
    int32_t *by_text = malloc((size_t)n * sizeof *by_text);
    assert_non_null(by_text);
    for (int i = 0; i < n; i++) by_text[i] = i;
    sorted_texts = tokens->arr_strs;
    qsort(by_text, (size_t)n, sizeof *by_text, text_before);
    size_t n_merges = 0, cap = 1 << 16;
    spm_merge *merges = malloc(cap * sizeof *merges);
    assert_non_null(merges);
    for (int id = 0; id < n; id++) {
        gguf_str t = tokens->arr_strs[id];
        for (size_t cut = 1; cut < t.len; cut++) {
            if (((uint8_t)t.ptr[cut] & 0xc0) == 0x80) continue; /* inside a character */
            int32_t left = lookup(tokens->arr_strs, by_text, n, t.ptr, cut);
            int32_t right = lookup(tokens->arr_strs, by_text, n, t.ptr + cut, (size_t)t.len - cut);
            if (left < 0 || right < 0) continue;
            if (n_merges == cap) assert_non_null(merges = realloc(merges, (cap *= 2) * sizeof *merges));
            merges[n_merges++] = (spm_merge){left, right, id, (float)gguf_arr_num(scores, (uint64_t)id)};
        }
    }
    qsort(merges, n_merges, sizeof *merges, merge_before);

    char *json = NULL, text[1100];
    size_t size = 0;
    FILE *out = open_memstream(&json, &size);
    assert_non_null(out);
    fputs("{\"added_tokens\": [{\"id\": 0, \"content\": \"<unk>\", \"special\": true},"
          " {\"id\": 1, \"content\": \"<s>\", \"special\": true}, {\"id\": 2, \"content\": \"</s>\", \"special\": true}],\n"
          " \"normalizer\": {\"type\": \"Sequence\", \"normalizers\": [{\"type\": \"Prepend\", \"prepend\": \"\xe2\x96\x81\"},"
          " {\"type\": \"Replace\", \"pattern\": {\"String\": \" \"}, \"content\": \"\xe2\x96\x81\"}]},\n"
          " \"pre_tokenizer\": null,\n"
          " \"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"fuse_unk\": true, \"byte_fallback\": true,\n"
          "  \"vocab\": {", out);
    for (int id = 0; id < n; id++) {
        gguf_str t = tokens->arr_strs[id];
        memcpy(text, t.ptr, (size_t)t.len);
        text[t.len] = 0;
        fputs(id ? ", " : "", out);
        json_write_string(out, text);
        fprintf(out, ": %d", id);
    }
    fputs("},\n  \"merges\": [", out);
    for (size_t i = 0; i < n_merges; i++) {
        gguf_str l = tokens->arr_strs[merges[i].left], r = tokens->arr_strs[merges[i].right];
        snprintf(text, sizeof text, "%.*s %.*s", (int)l.len, l.ptr, (int)r.len, r.ptr);
        fputs(i ? ", " : "", out);
        json_write_string(out, text);
    }
    fputs("]}}\n", out);
    fclose(out);
    free(merges);
    free(by_text);
    return json;
}

/* llama.cpp's LLaMA vectors, with the vocabulary converted from the
 * tokenizer.json of LLaMA's SentencePiece model: scores from the merges'
 * order give the same tokens as SentencePiece's own. */
static void test_vectors_llama_spm_from_tokenizer_json(void **state) {
    (void)state;
    gguf_file *f;
    assert_int_equal(gguf_open(VOCAB_PATH("llama-spm"), &f), LVK_OK);
    char *json = spm_tokenizer_json(f);
    const char *config = "{\"bos_token\": {\"content\": \"<s>\"}, \"eos_token\": \"</s>\", \"unk_token\": \"<unk>\"}";
    hf_vocab v;
    if (hf_vocab_parse(json, strlen(json), "tokenizer.json", config, strlen(config), "tokenizer_config.json", NULL, &v) !=
        LVK_OK)
        fail_msg("%s", lvk_last_error());
    free(json);
    assert_string_equal(v.model, "llama");
    assert_int_equal(v.add_space_prefix, 1);
    assert_int_equal(v.bos, 1);
    assert_int_equal(v.eos, 2);
    assert_int_equal(v.unk, 0);
    /* the types SentencePiece gives: <unk> unknown, <s> </s> control, <0xNN> byte, the rest normal */
    const gguf_value *types = &gguf_find(f, "tokenizer.ggml.token_type")->value;
    assert_int_equal(v.n_tokens, types->arr_count);
    for (uint32_t id = 0; id < v.n_tokens; id++)
        if (v.types[id] != (int32_t)gguf_arr_num(types, id))
            fail_msg("token %u '%s' has type %d, SentencePiece's is %g", id, v.tokens[id], v.types[id], gguf_arr_num(types, id));
    gguf_close(f);

    const char *path = LITEVK_TMP_DIR "/test_tokenizer_llama_spm_from_tokenizer_json.gguf";
    gguf_writer *w;
    assert_int_equal(gguf_writer_create(&w), LVK_OK);
    assert_int_equal(hf_vocab_write(&v, w), LVK_OK);
    assert_int_equal(gguf_writer_write(w, path), LVK_OK);
    gguf_writer_free(w);
    hf_vocab_free(&v);
    vocab_vectors(path, VOCAB_PATH("llama-spm"), "llama-spm from tokenizer.json", 0);
}

static void test_pieces(void **state) {
    fixture *fx = *state;
    const text_tokenizer *t = fx->tok;
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
    assert_int_equal(tokenizer_encode(fx->tok, NULL, 0, LVK_TOKENIZE_BOS, ids, 4, &n), LVK_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 1);
    assert_int_equal(tokenizer_encode(fx->tok, "Hello world", 11, LVK_TOKENIZE_BOS, ids, 4, &n), LVK_OK);
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
        assert_int_equal(tokenizer_encode(fx->tok, bad[i], strlen(bad[i]), LVK_TOKENIZE_BOS, ids, 16, &n),
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
    assert_int_equal(tokenizer_encode(fx->tok, text, strlen(text), LVK_TOKENIZE_BOS, ids, 3, &n), LVK_OK);
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

/* ---- byte-level BPE, special tokens and flags on real vocabularies -------- */

/* Loads a fixture vocabulary without its vectors. */
static text_tokenizer *load_vocab(const char *path) {
    gguf_file *f;
    text_tokenizer *t;
    assert_int_equal(gguf_open(path, &f), LVK_OK);
    assert_int_equal(tokenizer_load(f, &t), LVK_OK);
    gguf_close(f);
    return t;
}

static void test_pieces_gpt2(void **state) {
    (void)state;
    text_tokenizer *t = load_vocab(VOCAB_PATH("gpt-2"));
    size_t len;
    assert_string_equal(tokenizer_model_name(t), "gpt2");
    assert_string_equal(tokenizer_pre_name(t), "gpt-2");
    assert_int_equal(tokenizer_n_vocab(t), 50257);
    assert_int_equal(tokenizer_bos(t), 50256);
    assert_int_equal(tokenizer_eos(t), 50256);
    assert_false(tokenizer_adds_bos(t));
    assert_string_equal(tokenizer_piece(t, 262, &len), " the"); /* "Ġthe" */
    assert_string_equal(tokenizer_piece(t, 198, &len), "\n");   /* "Ċ" */
    assert_string_equal(tokenizer_piece(t, 960, &len), "\xe2\x80\x94"); /* "âĢĶ": an em dash's bytes */
    assert_string_equal(tokenizer_piece(t, 50256, &len), "");   /* <|endoftext|>: control */
    assert_int_equal(len, 0);
    /* the first 256 tokens are the 256 bytes, each once */
    int seen[256] = {0};
    for (int32_t id = 0; id < 256; id++) {
        const char *piece = tokenizer_piece(t, id, &len);
        assert_int_equal(len, 1);
        assert_int_equal(seen[(uint8_t)piece[0]]++, 0);
    }
    tokenizer_free(t);
}

/* Random valid UTF-8 of every kind of character decodes back exactly from
 * byte-level BPE's ids, short texts and one long one (quick: merging stays
 * O(n log n) per word). */
static void test_bpe_round_trip(void **state) {
    (void)state;
    static const uint32_t pool[] = {
        'a', 'Z', 'e', ' ', ' ', ' ', '\n', '\r', '\t', '0', '7', '\'', 's', 'L', '.', '!', '(', 0, 0x1f,
        0x7f, 0x85, 0xa0, 0xad, 0xe9, 0x301, 0x3b1, 0x416, 0x663, 0x915, 0x94d, 0x1780, 0x2028, 0x3000,
        0x4e2d, 0xfeff, 0xfffd, 0x1f999, 0x1f600, 0x10ffff,
    };
    const char *const vocabs[] = {VOCAB_PATH("gpt-2"), VOCAB_PATH("starcoder")};
    enum { LONG = 1 << 17 };
    char *text = malloc(LONG + 4);
    assert_non_null(text);
    uint64_t rng = 42;
    for (size_t v = 0; v < sizeof vocabs / sizeof vocabs[0]; v++) {
        text_tokenizer *t = load_vocab(vocabs[v]);
        for (int round = 0; round < 300; round++) {
            size_t max = round == 0 ? LONG : 40, len = 0;
            while (len < max) {
                rng = rng * 6364136223846793005u + 1442695040888963407u;
                len += utf8_encode(pool[(rng >> 33) % (sizeof pool / sizeof pool[0])], text + len);
            }
            int n;
            int32_t *ids = encode(t, text, len, 0, &n);
            size_t n_back;
            char *back = decode(t, ids, n, &n_back);
            if (n_back != len || memcmp(back, text, len) != 0) {
                print_text("text   ", text, len < 200 ? len : 200);
                print_text("decoded", back, n_back < 200 ? n_back : 200);
                fail_msg("%s: round %d does not decode back", vocabs[v], round);
            }
            free(back);
            free(ids);
        }
        tokenizer_free(t);
    }
    free(text);
}

static void test_special_tokens(void **state) {
    fixture *fx = *state;
    const text_tokenizer *spm = fx->tok;
    /* SentencePiece: the text after a special token gets the space prefix too */
    expect_ids(spm, LVK_TOKENIZE_PARSE_SPECIAL, "<s>Hello</s>world", 4, 1, 15043, 2, 3186);
    expect_ids(spm, LVK_TOKENIZE_PARSE_SPECIAL, "Hello</s>", 2, 15043, 2);
    expect_ids(spm, LVK_TOKENIZE_PARSE_SPECIAL | LVK_TOKENIZE_BOS, "</s>", 2, 1, 2);
    /* without the flag they are text */
    int n;
    int32_t *ids = encode(spm, "<s>Hello</s>", 12, 0, &n);
    assert_true(n > 4);
    for (int i = 0; i < n; i++) assert_true(ids[i] > 2);
    free(ids);

    text_tokenizer *bpe = load_vocab(VOCAB_PATH("gpt-2"));
    expect_ids(bpe, LVK_TOKENIZE_PARSE_SPECIAL, "a<|endoftext|>b", 3, 64, 50256, 65);
    expect_ids(bpe, LVK_TOKENIZE_PARSE_SPECIAL, "a <|endoftext|> b", 4, 64, 220, 50256, 275);
    expect_ids(bpe, LVK_TOKENIZE_PARSE_SPECIAL, "<|endoftext|><|endoftext|>", 2, 50256, 50256);
    ids = encode(bpe, "a<|endoftext|>b", 15, 0, &n);
    for (int i = 0; i < n; i++) assert_int_not_equal(ids[i], 50256);
    free(ids);
    tokenizer_free(bpe);
}

/* LVK_TOKENIZE_ADD_SPECIAL: BOS where the model wants it. */
static void test_add_special(void **state) {
    fixture *fx = *state;
    assert_true(tokenizer_adds_bos(fx->tok)); /* add_bos_token: true */
    expect_ids(fx->tok, LVK_TOKENIZE_ADD_SPECIAL, "Hello", 2, 1, 15043);
    expect_ids(fx->tok, LVK_TOKENIZE_ADD_SPECIAL | LVK_TOKENIZE_BOS, "Hello", 2, 1, 15043);

    text_tokenizer *t = load_vocab(VOCAB_PATH("phi-3"));
    assert_string_equal(tokenizer_model_name(t), "llama");
    assert_null(tokenizer_pre_name(t));
    assert_true(tokenizer_adds_bos(t));
    assert_false(tokenizer_adds_eos(t));
    tokenizer_free(t);

    t = load_vocab(VOCAB_PATH("gpt-2")); /* byte-level BPE adds nothing by default */
    expect_ids(t, LVK_TOKENIZE_ADD_SPECIAL, "Hello", 1, 15496);
    expect_ids(t, LVK_TOKENIZE_BOS, "Hello", 2, 50256, 15496);
    tokenizer_free(t);

    t = load_vocab(VOCAB_PATH("starcoder"));
    assert_string_equal(tokenizer_pre_name(t), "starcoder");
    assert_false(tokenizer_adds_bos(t));
    tokenizer_free(t);
}

static void test_bad_flags(void **state) {
    fixture *fx = *state;
    int32_t ids[4];
    int n = -1;
    assert_int_equal(tokenizer_encode(fx->tok, "a", 1, 1u << 7, ids, 4, &n), LVK_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(lvk_last_error(), "0x80"));
    assert_int_equal(n, 0);
}

/* Every host allocation of loading a vocabulary and of encoding can fail:
 * the call returns LVK_ERR_OUT_OF_MEMORY and leaks nothing. */
static void test_out_of_memory(void **state) {
    (void)state;
    static const char text[] = "Hello <|endoftext|> world</s><s> 123 \xf0\x9f\xa6\x99<|endoftext|>";
    const char *const paths[] = {VOCAB_PATH("gpt-2"), VOCAB_PATH("llama-spm")};
    for (size_t v = 0; v < sizeof paths / sizeof paths[0]; v++) {
        gguf_file *f;
        assert_int_equal(gguf_open(paths[v], &f), LVK_OK);
        text_tokenizer *t = NULL;
        for (uint64_t n = 1; !t; n++) {
            int64_t before = mem_alloc_outstanding();
            mem_alloc_fail_at(n);
            lvk_status s = tokenizer_load(f, &t);
            mem_alloc_fail_at(0);
            if (s == LVK_OK) break;
            assert_int_equal(s, LVK_ERR_OUT_OF_MEMORY);
            assert_null(t);
            assert_int_equal(mem_alloc_outstanding(), before);
        }
        gguf_close(f);
        int32_t ids[64];
        for (uint64_t n = 1;; n++) {
            int64_t before = mem_alloc_outstanding();
            int count;
            mem_alloc_fail_at(n);
            lvk_status s = tokenizer_encode(t, text, strlen(text), LVK_TOKENIZE_PARSE_SPECIAL, ids, 64, &count);
            mem_alloc_fail_at(0);
            assert_int_equal(mem_alloc_outstanding(), before);
            if (s == LVK_OK) break;
            assert_int_equal(s, LVK_ERR_OUT_OF_MEMORY);
            assert_non_null(strstr(lvk_last_error(), "out of memory"));
        }
        tokenizer_free(t);
    }
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
static lvk_status load_image(image *b, text_tokenizer **t) {
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
    "<unk>", "<s>", "</s>", "<0x0A>", "\xe2\x96\x81", "a", "b", "ab", "ba", ("\xe2\x96\x81" "a"),
};
static const float tiny_scores[] = {0, 0, 0, 0, -1, -1, -1, -2, -2, -3};
static const int32_t tiny_types[] = {2, 3, 3, 6, 1, 1, 1, 1, 1, 1};
enum { TINY_N = sizeof tiny_tokens / sizeof tiny_tokens[0] };

static image tiny_image(const char *model, int n_scores, int n_types, int add_space_prefix) {
    image b = new_image();
    kv_string(&b, "tokenizer.ggml.model", model);
    kv_strings(&b, "tokenizer.ggml.tokens", TINY_N, tiny_tokens);
    kv_floats(&b, "tokenizer.ggml.scores", n_scores, tiny_scores);
    kv_ints(&b, "tokenizer.ggml.token_type", n_types, tiny_types);
    kv_bool(&b, "tokenizer.ggml.add_space_prefix", add_space_prefix);
    return b;
}

static void test_tiny_vocab(void **state) {
    (void)state;
    text_tokenizer *t;
    image b = tiny_image("llama", TINY_N, TINY_N, 0);
    assert_int_equal(load_image(&b, &t), LVK_OK);
    expect_ids(t, 0, "aba", 2, 7, 5); /* ab|a, not a|ba */
    expect_ids(t, 0, "x\n", 2, 0, 3); /* no token for 'x': <unk>; '\n' its byte */
    expect_ids(t, 0, " a", 1, 9);     /* '▁' + 'a' */
    tokenizer_free(t);

    b = tiny_image("llama", TINY_N, TINY_N, 1);
    assert_int_equal(load_image(&b, &t), LVK_OK);
    expect_ids(t, 0, "a", 1, 9);
    tokenizer_free(t);
}

/* A tiny byte-level BPE vocabulary. "Ġ" is the space; "b c" merges before
 * "a b"; "<|a" (control) and "a|>y" (user-defined) overlap in "<|a|>y". */
static const char *const bpe_tokens[] = {
    "a", "b", "c", "\xc4\xa0", "ab", "bc", "abc", ("\xc4\xa0" "a"), "<|a", "a|>y", "<", "|", ">", "y",
};
static const int32_t bpe_types[] = {1, 1, 1, 1, 1, 1, 1, 1, 3, 4, 1, 1, 1, 1};
enum { BPE_N = sizeof bpe_tokens / sizeof bpe_tokens[0] };
static const char *const bpe_merges[] = {"b c", "a b", "\xc4\xa0 a", "ab c"};
enum { BPE_MERGES = sizeof bpe_merges / sizeof bpe_merges[0] };

/* The tiny vocabulary with pre-tokenizer `pre` (NULL: no key), the first
 * n_merges of `merges` (negative: no key) and n_types token types. */
static image bpe_image(const char *pre, const char *const *merges, int n_merges, int n_types) {
    image b = new_image();
    kv_string(&b, "tokenizer.ggml.model", "gpt2");
    if (pre) kv_string(&b, "tokenizer.ggml.pre", pre);
    kv_strings(&b, "tokenizer.ggml.tokens", BPE_N, bpe_tokens);
    kv_ints(&b, "tokenizer.ggml.token_type", n_types, bpe_types);
    if (n_merges >= 0) kv_strings(&b, "tokenizer.ggml.merges", n_merges, merges);
    return b;
}

static void test_tiny_bpe_vocab(void **state) {
    (void)state;
    text_tokenizer *t;
    image b = bpe_image("gpt-2", bpe_merges, BPE_MERGES, BPE_N);
    assert_int_equal(load_image(&b, &t), LVK_OK);
    expect_ids(t, 0, "abc", 2, 0, 5);       /* a|bc: "b c" ranks before "a b" */
    expect_ids(t, 0, "ab", 1, 4);
    expect_ids(t, 0, "ab c", 3, 4, 3, 2);   /* words "ab", " c"; "Ġ c" is no merge */
    expect_ids(t, 0, " a", 1, 7);
    expect_ids(t, 0, "ad", 1, 0);           /* 'd' has no token and there is no UNK: dropped */
    expect_ids(t, 0, "<|a|>y", 6, 10, 11, 0, 11, 12, 13);
    /* the longer special token is cut out first, as llama.cpp does */
    expect_ids(t, LVK_TOKENIZE_PARSE_SPECIAL, "<|a|>y", 3, 10, 11, 9);
    expect_ids(t, LVK_TOKENIZE_PARSE_SPECIAL, "<|ab", 2, 8, 1);
    expect_ids(t, LVK_TOKENIZE_ADD_SPECIAL, "ab", 1, 4); /* no BOS wanted */
    int32_t ids[4];
    int n;
    assert_int_equal(tokenizer_encode(t, "ab", 2, LVK_TOKENIZE_BOS, ids, 4, &n), LVK_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(lvk_last_error(), "no BOS"));
    size_t len;
    assert_string_equal(tokenizer_piece(t, 7, &len), " a");
    assert_string_equal(tokenizer_piece(t, 8, &len), "");     /* control */
    assert_string_equal(tokenizer_piece(t, 9, &len), "a|>y"); /* user-defined: verbatim */
    assert_int_equal(tokenizer_bos(t), -1);
    assert_int_equal(tokenizer_eos(t), -1);
    tokenizer_free(t);

    /* with UNK, EOS added as the model wants, and no pre-tokenizer key ("default") */
    b = bpe_image(NULL, bpe_merges, BPE_MERGES, BPE_N);
    kv_u32(&b, "tokenizer.ggml.unknown_token_id", 13);
    kv_u32(&b, "tokenizer.ggml.eos_token_id", 12);
    kv_bool(&b, "tokenizer.ggml.add_eos_token", 1);
    assert_int_equal(load_image(&b, &t), LVK_OK);
    assert_string_equal(tokenizer_pre_name(t), "default");
    expect_ids(t, 0, "ad", 2, 0, 13);
    expect_ids(t, LVK_TOKENIZE_ADD_SPECIAL, "ab", 2, 4, 12);
    tokenizer_free(t);

    /* Llama 3's: a word that is a token is that token, merges or not; BOS wanted */
    b = bpe_image("llama-bpe", bpe_merges, BPE_MERGES, BPE_N);
    kv_u32(&b, "tokenizer.ggml.bos_token_id", 8);
    assert_int_equal(load_image(&b, &t), LVK_OK);
    expect_ids(t, 0, "abc", 1, 6);
    expect_ids(t, 0, "abcab", 3, 0, 5, 4);
    expect_ids(t, LVK_TOKENIZE_ADD_SPECIAL, "ab", 2, 8, 4);
    tokenizer_free(t);
}

/* The id a special token's text is. */
static int32_t special_id(const text_tokenizer *t, const char *text) {
    int32_t id = -1;
    int n = 0;
    assert_int_equal(tokenizer_encode(t, text, strlen(text), LVK_TOKENIZE_PARSE_SPECIAL, &id, 1, &n), LVK_OK);
    assert_int_equal(n, 1);
    return id;
}

/* Ends of generation: EOS, the metadata's EOT and EOM, and chat formats'
 * ends of turn found by their text, as llama.cpp finds them. */
static void test_end_of_generation(void **state) {
    fixture *fx = *state;
    assert_true(tokenizer_is_eog(fx->tok, 2)); /* LLaMA's </s> */
    assert_false(tokenizer_is_eog(fx->tok, 1));
    assert_false(tokenizer_is_eog(fx->tok, 15043));

    text_tokenizer *t = load_vocab(VOCAB_PATH("phi-3"));
    int32_t end = special_id(t, "<|end|>"), endoftext = special_id(t, "<|endoftext|>");
    assert_int_equal(tokenizer_eos(t), endoftext);
    assert_true(tokenizer_is_eog(t, end)); /* Phi-3's end of turn, by its text */
    assert_true(tokenizer_is_eog(t, endoftext));
    assert_true(tokenizer_is_eog(t, 2));   /* </s> */
    assert_false(tokenizer_is_eog(t, special_id(t, "<|assistant|>")));
    assert_false(tokenizer_is_eog(t, -1));
    assert_false(tokenizer_is_eog(t, 1 << 24));
    tokenizer_free(t);

    /* the metadata's end of turn and end of message, on a vocabulary without EOS */
    text_tokenizer *tiny;
    image b = bpe_image("gpt-2", bpe_merges, BPE_MERGES, BPE_N);
    kv_u32(&b, "tokenizer.ggml.eot_token_id", 10);
    kv_u32(&b, "tokenizer.ggml.eom_token_id", 3);
    assert_int_equal(load_image(&b, &tiny), LVK_OK);
    for (int32_t id = 0; id < BPE_N; id++) assert_int_equal(tokenizer_is_eog(tiny, id), id == 10 || id == 3);
    tokenizer_free(tiny);
    b = bpe_image("gpt-2", bpe_merges, BPE_MERGES, BPE_N);
    kv_u32(&b, "tokenizer.ggml.eot_token_id", BPE_N);
    assert_int_equal(load_image(&b, &tiny), LVK_ERR_FORMAT);
    assert_non_null(strstr(lvk_last_error(), "eot_token_id"));
}

static void test_malformed_vocab(void **state) {
    (void)state;
    text_tokenizer *t = NULL;
    image b = tiny_image("llama", TINY_N - 1, TINY_N, 1); /* one score short */
    assert_int_equal(load_image(&b, &t), LVK_ERR_FORMAT);
    assert_non_null(strstr(lvk_last_error(), "scores"));
    assert_null(t);

    b = tiny_image("bert", TINY_N, TINY_N, 1);
    assert_int_equal(load_image(&b, &t), LVK_ERR_UNSUPPORTED);
    assert_non_null(strstr(lvk_last_error(), "tokenizer model 'bert' is not supported"));
    assert_null(t);

    b = tiny_image("llama", TINY_N, TINY_N - 1, 1); /* a token type short */
    assert_int_equal(load_image(&b, &t), LVK_ERR_FORMAT);
    assert_non_null(strstr(lvk_last_error(), "'tokenizer.ggml.token_type' has 9 entries but there are 10 tokens"));

    b = tiny_image("llama", TINY_N, TINY_N, 1); /* EOS past the vocabulary */
    kv_u32(&b, "tokenizer.ggml.eos_token_id", TINY_N);
    assert_int_equal(load_image(&b, &t), LVK_ERR_FORMAT);
    assert_non_null(strstr(lvk_last_error(), "eos_token_id"));

    /* byte-level BPE */
    const struct {
        const char *pre;
        const char *const *merges;
        int n_merges, n_types;
        lvk_status status;
        const char *message;
    } bad[] = {
        {"gpt-2", NULL, -1, BPE_N, LVK_ERR_FORMAT, "metadata 'tokenizer.ggml.merges' is missing"},
        {"gpt-2", (const char *[]){"a b", "a x"}, 2, BPE_N, LVK_ERR_FORMAT,
         "merge 1 'a x' names 'x', which is not a token"},
        {"gpt-2", (const char *[]){"ab"}, 1, BPE_N, LVK_ERR_FORMAT,
         "merge 0 is 'ab', not two tokens separated by a space"},
        {"gpt-2", (const char *[]){" a"}, 1, BPE_N, LVK_ERR_FORMAT, "not two tokens"},
        {"gpt-2", (const char *[]){"a c"}, 1, BPE_N, LVK_ERR_FORMAT,
         "merge 0 'a c' makes 'ac', which is not a token"},
        {"gpt-2", bpe_merges, BPE_MERGES, BPE_N - 1, LVK_ERR_FORMAT,
         "metadata 'tokenizer.ggml.token_type' has 13 entries but there are 14 tokens"},
        {"xyz", bpe_merges, BPE_MERGES, BPE_N, LVK_ERR_UNSUPPORTED,
         "pre-tokenizer 'xyz' is not supported (LiteVK knows llama-bpe, "},
        {"llama-bpe", bpe_merges, BPE_MERGES, BPE_N, LVK_ERR_FORMAT,
         "the model wants BOS first, but metadata 'tokenizer.ggml.bos_token_id' is missing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = NULL;
        b = bpe_image(bad[i].pre, bad[i].merges, bad[i].n_merges, bad[i].n_types);
        assert_int_equal(load_image(&b, &t), bad[i].status);
        if (!strstr(lvk_last_error(), bad[i].message))
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, lvk_last_error(), bad[i].message);
        assert_null(t);
    }
    b = new_image(); /* merges that are not strings */
    kv_string(&b, "tokenizer.ggml.model", "gpt2");
    kv_strings(&b, "tokenizer.ggml.tokens", BPE_N, bpe_tokens);
    kv_ints(&b, "tokenizer.ggml.merges", BPE_N, bpe_types);
    assert_int_equal(load_image(&b, &t), LVK_ERR_FORMAT);
    assert_non_null(strstr(lvk_last_error(), "'tokenizer.ggml.merges' should be an array of strings"));

    b = new_image(); /* no vocabulary at all */
    kv_string(&b, "tokenizer.ggml.model", "llama");
    assert_int_equal(load_image(&b, &t), LVK_ERR_FORMAT);
    assert_non_null(strstr(lvk_last_error(), "tokenizer.ggml.tokens"));
    assert_null(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_vectors_phi3),
        cmocka_unit_test(test_vectors_gpt2),
        cmocka_unit_test(test_vectors_starcoder),
        cmocka_unit_test(test_vectors_llama_bpe),
        cmocka_unit_test(test_vectors_qwen2),
        cmocka_unit_test(test_vectors_llama_spm_from_tokenizer_json),
        cmocka_unit_test(test_pieces),
        cmocka_unit_test(test_bos_and_empty),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_long_text),
        cmocka_unit_test(test_pieces_gpt2),
        cmocka_unit_test(test_bpe_round_trip),
        cmocka_unit_test(test_special_tokens),
        cmocka_unit_test(test_add_special),
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_tiny_vocab),
        cmocka_unit_test(test_tiny_bpe_vocab),
        cmocka_unit_test(test_end_of_generation),
        cmocka_unit_test(test_malformed_vocab),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
