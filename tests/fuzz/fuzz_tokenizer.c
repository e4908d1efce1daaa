/* fuzz_tokenizer.c — both tokenizers and the pre-tokenizers. The first
 * byte's low two bits pick:
 *   0: encode the rest as text with the default model's vocabulary
 *      (SentencePiece), and decode it back (the round trip must give the text);
 *   1: decode the rest as token ids (any int32, out of range included);
 *   2: a vocabulary from fuzzed GGUF metadata: the next byte is a text
 *      length, then that text, then the GGUF image; the text is encoded
 *      and decoded with it, and every token decoded;
 *   3: encode the rest with a byte-level BPE vocabulary (GPT-2's, or
 *      StarCoder's when bit 4 is set) and decode it back (the round trip must
 *      give the text exactly), and cut it into words with every pre-tokenizer.
 * Bit 2 asks for BOS (LVK_TOKENIZE_BOS), bit 3 for special tokens
 * (LVK_TOKENIZE_PARSE_SPECIAL); a round trip is checked without the latter,
 * since special tokens' texts decode to nothing. */
#include "fuzz.h"
#include "model/pretokenize.h"
#include "model/tokenizer.h"
#include "model/unicode.h"

#include <string.h>

static text_tokenizer *load_vocabulary(const char *path) {
    gguf_file *f;
    text_tokenizer *t;
    FUZZ_CHECK(gguf_open(path, &f) == LVK_OK);
    FUZZ_CHECK(tokenizer_load(f, &t) == LVK_OK);
    gguf_close(f);
    return t;
}

static const text_tokenizer *default_tokenizer(void) {
    static text_tokenizer *t;
    if (!t) t = load_vocabulary(LITEVK_ASSETS_DIR "/stories260K.gguf");
    return t;
}

static const text_tokenizer *bpe_tokenizer(int starcoder) {
    static text_tokenizer *t[2];
    if (!t[starcoder])
        t[starcoder] = load_vocabulary(starcoder ? LITEVK_FIXTURES "/ggml-vocab-starcoder.gguf"
                                                 : LITEVK_FIXTURES "/ggml-vocab-gpt-2.gguf");
    return t[starcoder];
}

/* Encodes text (counting first, then into a buffer of that size, then into
 * one a token short) and returns the ids (malloc'd) and their count, or NULL
 * when the tokenizer refused the text. */
static int32_t *encode(const text_tokenizer *t, const char *text, size_t len, unsigned flags, int *n) {
    if (FUZZ_CALL(tokenizer_encode(t, text, len, flags, NULL, 0, n)) != LVK_OK) return NULL;
    int32_t *ids = malloc(sizeof *ids * ((size_t)*n + 1));
    FUZZ_CHECK(ids);
    int again;
    if (*n > 0) {
        FUZZ_CHECK(FUZZ_CALL(tokenizer_encode(t, text, len, flags, ids, *n - 1, &again)) == LVK_OK);
        FUZZ_CHECK(again == *n);
    }
    FUZZ_CHECK(FUZZ_CALL(tokenizer_encode(t, text, len, flags, ids, *n, &again)) == LVK_OK);
    FUZZ_CHECK(again == *n);
    for (int i = 0; i < *n; i++) FUZZ_CHECK(ids[i] >= 0 && ids[i] < tokenizer_n_vocab(t));
    return ids;
}

/* The concatenated pieces of ids (malloc'd, NUL-terminated); *len its length. */
static char *decode(const text_tokenizer *t, const int32_t *ids, int n, size_t *len) {
    size_t cap = 64;
    char *s = malloc(cap);
    FUZZ_CHECK(s);
    *len = 0;
    for (int i = 0; i < n; i++) {
        size_t k;
        const char *piece = tokenizer_piece(t, ids[i], &k);
        FUZZ_CHECK(piece);
        while (*len + k + 1 > cap) FUZZ_CHECK((s = realloc(s, cap *= 2)));
        memcpy(s + *len, piece, k);
        *len += k;
    }
    s[*len] = 0;
    return s;
}

static unsigned flags_of(uint8_t first) {
    return (first & 4 ? LVK_TOKENIZE_BOS : 0) | (first & 8 ? LVK_TOKENIZE_PARSE_SPECIAL : 0);
}

static void spm_round_trip(const text_tokenizer *t, const uint8_t *text, size_t len, unsigned flags) {
    int n;
    int32_t *ids = encode(t, (const char *)text, len, flags, &n);
    if (!ids) return;
    size_t got;
    char *back = decode(t, ids, n, &got);
    /* The vocabulary has byte tokens, so every valid text comes back, after
     * the space prefix (none for empty text), unless it holds '▁' itself:
     * that decodes as the space it stands for. */
    if (!(flags & LVK_TOKENIZE_PARSE_SPECIAL) && !memmem(text, len, "\xe2\x96\x81", 3)) {
        size_t prefix = len > 0;
        FUZZ_CHECK(got == len + prefix && (!prefix || back[0] == ' ') && !memcmp(back + prefix, text, len));
    }
    free(back);
    free(ids);
}

/* Every rule cuts the text into words that cover it, each at least one code point. */
static void cut_words(const uint8_t *text, size_t len) {
    uint32_t *cps = malloc(sizeof *cps * (len + 1));
    FUZZ_CHECK(cps);
    size_t n = 0;
    for (size_t i = 0; i < len; n++) {
        size_t k = utf8_decode(text + i, len - i, &cps[n]);
        if (!k) break; /* invalid UTF-8: the encoder refused it already */
        i += k;
    }
    const pretokenize_rule rules[] = {PRETOKENIZE_GPT2, PRETOKENIZE_STARCODER, PRETOKENIZE_LLAMA3,
                                      PRETOKENIZE_QWEN2};
    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++)
        for (size_t pos = 0; pos < n;) {
            size_t end = pretokenize_word_end(rules[r], cps, pos, n);
            FUZZ_CHECK(end > pos && end <= n);
            pos = end;
        }
    free(cps);
}

static void bpe_round_trip(const text_tokenizer *t, const uint8_t *text, size_t len, unsigned flags) {
    int n;
    int32_t *ids = encode(t, (const char *)text, len, flags, &n);
    cut_words(text, len);
    if (!ids) return;
    size_t got;
    char *back = decode(t, ids, n, &got);
    /* Every byte has a token, and BOS (a control token) decodes to nothing. */
    if (!(flags & LVK_TOKENIZE_PARSE_SPECIAL)) FUZZ_CHECK(got == len && !memcmp(back, text, len));
    free(back);
    free(ids);
}

static void decode_ids(const text_tokenizer *t, const uint8_t *data, size_t size) {
    int n = (int)(size / sizeof(int32_t));
    int32_t *ids = malloc(sizeof *ids * ((size_t)n + 1));
    FUZZ_CHECK(ids);
    memcpy(ids, data, sizeof *ids * (size_t)n);
    size_t len;
    free(decode(t, ids, n, &len));
    free(ids);
}

static void fuzzed_vocabulary(const uint8_t *data, size_t size, unsigned flags) {
    if (size < 1 || size - 1 < data[0]) return;
    const uint8_t *text = data + 1, *image = text + data[0];
    size_t text_len = data[0];
    gguf_file *f;
    if (FUZZ_CALL(gguf_parse(image, size - 1 - text_len, &f)) != LVK_OK) return;
    text_tokenizer *t;
    if (FUZZ_CALL(tokenizer_load(f, &t)) == LVK_OK) {
        gguf_close(f); /* the tokenizer keeps copies */
        int n;
        int32_t *ids = encode(t, (const char *)text, text_len, flags, &n);
        if (ids) {
            size_t len;
            free(decode(t, ids, n, &len));
            free(ids);
        }
        /* every piece, and the empty ones either side of the vocabulary */
        for (int32_t id = -1; id <= tokenizer_n_vocab(t); id++) {
            size_t len;
            const char *piece = tokenizer_piece(t, id, &len);
            FUZZ_CHECK(piece && piece[len] == 0);
        }
        tokenizer_free(t);
    } else {
        gguf_close(f);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned flags = flags_of(data[0]);
    switch (data[0] & 3) {
    case 0: spm_round_trip(default_tokenizer(), data + 1, size - 1, flags); break;
    case 1: decode_ids(default_tokenizer(), data + 1, size - 1); break;
    case 2: fuzzed_vocabulary(data + 1, size - 1, flags); break;
    case 3: bpe_round_trip(bpe_tokenizer((data[0] & 16) != 0), data + 1, size - 1, flags); break;
    }
    return 0;
}
