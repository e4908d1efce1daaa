/* tokenizer.c — SentencePiece BPE ("llama") and byte-level BPE ("gpt2"),
 * matching llama.cpp.
 *
 * Both turn a piece of text into symbols and then, repeatedly, merge the
 * adjacent pair that ranks best into one symbol (ties: leftmost first):
 *
 *   SentencePiece: the text, with a leading space when add_space_prefix is
 *   set, has every ' ' replaced by U+2581 '▁' and starts as one symbol per
 *   UTF-8 character. A pair ranks by the score of the token its concatenation
 *   is. A final symbol that is not a token becomes one <0xNN> token per byte.
 *
 *   Byte-level BPE: a pre-tokenizer (pretokenize.h) first cuts the text into
 *   words, and each word starts as one symbol per byte. In the vocabulary a
 *   byte is written as a printable character (GPT-2's byte-to-unicode
 *   mapping: 'Ġ' is ' '), and each such character is a token. A pair ranks by
 *   its position in tokenizer.ggml.merges, the first merging first.
 *
 * When the caller asks (LVK_TOKENIZE_PARSE_SPECIAL), the texts of control,
 * user-defined and unknown tokens ("<|im_start|>") are cut out of the text
 * first, as those tokens, and the pieces between are encoded as above.
 */
#include "model/tokenizer.h"

#include "alloc.h"
#include "model/pretokenize.h"
#include "status.h"
#include "model/unicode.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Far above any real vocabulary; keeps every size below in int range, and
 * every merge rank exact as a float. */
#define MAX_VOCAB (1 << 24)
/* StarCoder's longest token is 512 bytes; real vocabularies stay below
 * this, so anything longer means a corrupt file. */
#define MAX_TOKEN_BYTES 1024

enum token_type {
    TOKEN_NORMAL = 1, TOKEN_UNKNOWN = 2, TOKEN_CONTROL = 3,
    TOKEN_USER_DEFINED = 4, TOKEN_UNUSED = 5, TOKEN_BYTE = 6,
};

typedef enum vocab_kind { VOCAB_SPM, VOCAB_BPE } vocab_kind;

/* A BPE merge: tokens left and right, adjacent, become token result. */
typedef struct bpe_merge {
    int32_t left, right; /* left is -1 in an empty slot */
    int32_t result;
    int32_t rank; /* its index in tokenizer.ggml.merges: lower merges first */
} bpe_merge;

struct text_tokenizer {
    vocab_kind kind;
    const pretokenizer *pre; /* byte-level BPE only */
    int n_vocab;
    int bos, eos, unk; /* -1: none */
    int32_t *eog;      /* the end-of-generation tokens, ascending */
    int n_eog;
    int add_space_prefix;   /* SentencePiece only */
    int add_bos, add_eos;   /* what LVK_TOKENIZE_ADD_SPECIAL adds */
    float *scores;          /* SentencePiece only */
    /* token i's text is texts[text_off[i] .. text_off[i+1]) */
    size_t *text_off;
    char *texts;
    /* token i's decoded piece starts at pieces[piece_off[i]], NUL-terminated,
     * piece_off[i+1] - piece_off[i] - 1 bytes long */
    size_t *piece_off;
    char *pieces;
    /* open-addressing hash table from token text to id; -1 marks empty */
    int32_t *table;
    uint32_t table_mask;
    /* the token that stands for each byte, or -1 */
    int32_t byte_token[256];
    /* byte-level BPE: open-addressing hash table of merges by token pair */
    bpe_merge *merges;
    uint32_t merges_mask;
    /* tokens that LVK_TOKENIZE_PARSE_SPECIAL cuts out of text, longest first */
    int32_t *specials;
    int n_specials;
};

static size_t text_len(const text_tokenizer *t, int32_t id) { return t->text_off[id + 1] - t->text_off[id]; }
static const char *text_of(const text_tokenizer *t, int32_t id) { return t->texts + t->text_off[id]; }

/* At most 64 bytes of a string, for messages. */
static int shown(size_t len) { return len > 64 ? 64 : (int)len; }

/* ---- token lookup ------------------------------------------------------ */

static uint32_t hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

static int text_eq(const text_tokenizer *t, int32_t id, const char *s, size_t n) {
    return text_len(t, id) == n && memcmp(text_of(t, id), s, n) == 0;
}

/* The id of the token whose text is exactly s[0..n), or -1. */
static int32_t find_token(const text_tokenizer *t, const char *s, size_t n) {
    for (uint32_t i = hash_bytes(s, n) & t->table_mask;; i = (i + 1) & t->table_mask) {
        int32_t id = t->table[i];
        if (id < 0 || text_eq(t, id, s, n)) return id;
    }
}

/* When two tokens share a text the later id wins, as in llama.cpp (its map
 * is filled in id order with assignment). */
static void insert_token(text_tokenizer *t, int32_t id) {
    const char *s = text_of(t, id);
    size_t n = text_len(t, id);
    uint32_t i = hash_bytes(s, n) & t->table_mask;
    while (t->table[i] >= 0 && !text_eq(t, t->table[i], s, n)) i = (i + 1) & t->table_mask;
    t->table[i] = id;
}

static uint32_t hash_pair(int32_t left, int32_t right) {
    return (uint32_t)left * 0x9e3779b1u ^ (uint32_t)right * 0x85ebca77u;
}

/* The slot of the merge of left and right, or the empty slot where it would go. */
static bpe_merge *merge_slot(const text_tokenizer *t, int32_t left, int32_t right) {
    for (uint32_t i = hash_pair(left, right) & t->merges_mask;; i = (i + 1) & t->merges_mask) {
        bpe_merge *m = &t->merges[i];
        if (m->left < 0 || (m->left == left && m->right == right)) return m;
    }
}

/* ---- GPT-2's byte-to-unicode mapping ------------------------------------ */

/* The character that stands for byte b: printable Latin-1 characters stand
 * for themselves, the other 68 bytes (controls, space, 0x7f..0xa0 and the
 * soft hyphen 0xad) for U+0100.. in byte order. */
static uint32_t byte_char(uint8_t b) {
    if (b <= 0x20) return 0x100 + b;
    if (b >= 0x7f && b <= 0xa0) return 0x121 + (b - 0x7f);
    if (b == 0xad) return 0x143;
    return b;
}

/* The byte that character cp stands for, or -1. */
static int char_byte(uint32_t cp) {
    if (cp < 0x100) return byte_char((uint8_t)cp) == cp ? (int)cp : -1;
    if (cp <= 0x120) return (int)(cp - 0x100);
    if (cp <= 0x142) return (int)(cp - 0x121 + 0x7f);
    if (cp == 0x143) return 0xad;
    return -1;
}

/* ---- loading ----------------------------------------------------------- */

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Writes normal token `id`'s decoded bytes to dst and returns their count. */
static size_t normal_piece(const text_tokenizer *t, int32_t id, char *dst) {
    const char *s = text_of(t, id);
    size_t n = text_len(t, id), k = 0;
    for (size_t i = 0; i < n;) {
        if (t->kind == VOCAB_SPM) {
            if (i + 2 < n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                dst[k++] = ' ';
                i += 3;
            } else {
                dst[k++] = s[i++];
            }
            continue;
        }
        /* Byte-level: a character that stands for a byte is that byte;
         * anything else (not from the mapping, or not UTF-8) is kept as it is. */
        uint32_t cp;
        size_t len = utf8_decode((const uint8_t *)s + i, n - i, &cp);
        int byte = len ? char_byte(cp) : -1;
        if (byte >= 0) {
            dst[k++] = (char)byte;
            i += len;
        } else {
            size_t keep = len ? len : 1;
            memcpy(dst + k, s + i, keep);
            k += keep;
            i += keep;
        }
    }
    return k;
}

/* Writes token `id`'s decoded bytes to `dst` (at most its text length) and
 * their count to *n_piece. */
static lvk_status make_piece(const text_tokenizer *t, int32_t id, int type, char *dst,
                             size_t *n_piece) {
    const char *s = text_of(t, id);
    size_t n = text_len(t, id);
    *n_piece = 0;
    switch (type) {
    case TOKEN_NORMAL:
        *n_piece = normal_piece(t, id, dst);
        break;
    case TOKEN_USER_DEFINED: /* llama.cpp emits these verbatim */
        memcpy(dst, s, n);
        *n_piece = n;
        break;
    case TOKEN_BYTE: {
        int hi = n == 6 ? hex_value(s[3]) : -1, lo = n == 6 ? hex_value(s[4]) : -1;
        if (hi < 0 || lo < 0 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
            return status_fail(LVK_ERR_FORMAT, "byte token %d is '%.*s', not of the form <0xNN>",
                            (int)id, shown(n), s);
        dst[0] = (char)(hi * 16 + lo);
        *n_piece = 1;
        break;
    }
    default: /* control, unknown and unused tokens decode to nothing */
        break;
    }
    return LVK_OK;
}

/* An array-valued key: NULL when absent, an error unless its elements are of
 * a type `ok` accepts and it has `count` of them (when count is non-zero). */
static lvk_status find_array(const gguf_file *f, const char *key, int (*ok)(uint32_t),
                             const char *what, uint64_t count, const gguf_value **out) {
    const gguf_kv *kv = gguf_find(f, key);
    *out = NULL;
    if (!kv) return LVK_OK;
    const gguf_value *v = &kv->value;
    if (v->type != GGUF_ARRAY || !ok(v->arr_type))
        return status_fail(LVK_ERR_FORMAT, "metadata '%s' should be an array of %s, is %s%s%s", key,
                        what, gguf_value_type_name(v->type), v->type == GGUF_ARRAY ? " of " : "",
                        v->type == GGUF_ARRAY ? gguf_value_type_name(v->arr_type) : "");
    if (count && v->arr_count != count)
        return status_fail(LVK_ERR_FORMAT, "metadata '%s' has %llu entries but there are %llu tokens",
                        key, (unsigned long long)v->arr_count, (unsigned long long)count);
    *out = v;
    return LVK_OK;
}

static int is_string(uint32_t type) { return type == GGUF_STRING; }
static int is_number(uint32_t type) {
    return type != GGUF_STRING && type != GGUF_ARRAY && type != GGUF_BOOL &&
           type < GGUF_N_VALUE_TYPES;
}
static int is_integer(uint32_t type) {
    return is_number(type) && type != GGUF_FLOAT32 && type != GGUF_FLOAT64;
}

/* A token id key; `fallback` (-1: none) when absent, or none when the
 * vocabulary is too small for it (as llama.cpp). */
static lvk_status read_special_id(const gguf_file *f, const char *key, int fallback, int n_vocab,
                                  int *out) {
    *out = fallback < n_vocab ? fallback : -1;
    if (!gguf_find(f, key)) return LVK_OK;
    uint32_t id;
    LVK_TRY(gguf_get_u32(f, key, &id, LVK_OK));
    if (id >= (uint32_t)n_vocab)
        return status_fail(LVK_ERR_FORMAT, "metadata '%s' is %u, but there are only %d tokens", key,
                        id, n_vocab);
    *out = (int)id;
    return LVK_OK;
}

/* A bool key; *out is left as it is when absent. */
static lvk_status read_bool(const gguf_file *f, const char *key, int *out) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return LVK_OK;
    if (kv->value.type != GGUF_BOOL)
        return status_fail(LVK_ERR_FORMAT, "metadata '%s' should be a bool, is %s", key,
                        gguf_value_type_name(kv->value.type));
    *out = kv->value.v.u64 != 0;
    return LVK_OK;
}

/* A string key; found is 0 when absent. */
static lvk_status read_string(const gguf_file *f, const char *key, gguf_str *out, int *found) {
    const gguf_kv *kv = gguf_find(f, key);
    *found = kv != NULL;
    if (!kv) return LVK_OK;
    if (kv->value.type != GGUF_STRING)
        return status_fail(LVK_ERR_FORMAT, "metadata '%s' should be a string, is %s", key,
                        gguf_value_type_name(kv->value.type));
    *out = kv->value.v.str;
    return LVK_OK;
}

static lvk_status read_kind(const gguf_file *f, text_tokenizer *t) {
    const char *key = "tokenizer.ggml.model";
    gguf_str s;
    int found;
    LVK_TRY(read_string(f, key, &s, &found));
    if (!found) return status_fail(LVK_ERR_FORMAT, "metadata '%s' is missing", key);
    if (gguf_str_eq(s, "llama")) {
        t->kind = VOCAB_SPM;
    } else if (gguf_str_eq(s, "gpt2")) {
        t->kind = VOCAB_BPE;
    } else {
        return status_fail(LVK_ERR_UNSUPPORTED,
                        "tokenizer model '%.*s' is not supported (LiteVK knows 'llama', "
                        "SentencePiece BPE, and 'gpt2', byte-level BPE)",
                        shown(s.len), s.ptr);
    }
    return LVK_OK;
}

/* The pre-tokenizer of a byte-level BPE vocabulary: tokenizer.ggml.pre, or
 * "default" when the key is absent (as llama.cpp, which warns). */
static lvk_status read_pretokenizer(const gguf_file *f, text_tokenizer *t) {
    gguf_str name = {.ptr = "default", .len = 7};
    int found;
    LVK_TRY(read_string(f, "tokenizer.ggml.pre", &name, &found));
    t->pre = pretokenizer_find(name.ptr, (size_t)name.len);
    if (t->pre) return LVK_OK;
    char known[256] = "";
    for (int i = 0; i < n_pretokenizers; i++) {
        size_t used = strlen(known);
        snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", pretokenizers[i].name);
    }
    return status_fail(LVK_ERR_UNSUPPORTED, "pre-tokenizer '%.*s' is not supported (LiteVK knows %s)",
                    shown(name.len), name.ptr, known);
}

/* tokenizer.ggml.merges: "left right" strings, best first. Each must name
 * two tokens whose concatenation is a token too (Hugging Face's tokenizers
 * refuses anything else as well). A pair listed twice keeps its first rank. */
static lvk_status load_merges(const gguf_file *f, text_tokenizer *t) {
    const char *key = "tokenizer.ggml.merges";
    const gguf_value *merges;
    LVK_TRY(find_array(f, key, is_string, "strings", 0, &merges));
    if (!merges)
        return status_fail(LVK_ERR_FORMAT,
                        "metadata '%s' is missing: a byte-level BPE vocabulary needs its merges", key);
    if (merges->arr_count > MAX_VOCAB)
        return status_fail(LVK_ERR_FORMAT, "there are %llu merges (at most %d supported)",
                        (unsigned long long)merges->arr_count, MAX_VOCAB);
    int n = (int)merges->arr_count;
    uint32_t size = 1;
    while (size < 2u * (uint32_t)n) size *= 2; /* at most half full */
    t->merges_mask = size - 1;
    t->merges = mem_malloc(size * sizeof *t->merges);
    if (!t->merges) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory loading %d merges", n);
    for (uint32_t i = 0; i < size; i++) t->merges[i].left = -1;

    for (int i = 0; i < n; i++) {
        gguf_str s = merges->arr_strs[i];
        /* the separator is the first space after the first byte, as llama.cpp splits */
        const char *space = s.len > 1 ? memchr(s.ptr + 1, ' ', (size_t)s.len - 1) : NULL;
        if (!space)
            return status_fail(LVK_ERR_FORMAT, "merge %d is '%.*s', not two tokens separated by a space",
                            i, shown(s.len), s.ptr);
        size_t n_left = (size_t)(space - s.ptr), n_right = (size_t)s.len - n_left - 1;
        int32_t left = find_token(t, s.ptr, n_left), right = find_token(t, space + 1, n_right);
        if (left < 0 || right < 0) {
            const char *what = left < 0 ? s.ptr : space + 1;
            size_t len = left < 0 ? n_left : n_right;
            return status_fail(LVK_ERR_FORMAT, "merge %d '%.*s' names '%.*s', which is not a token", i,
                            shown(s.len), s.ptr, shown(len), what);
        }
        char joined[2 * MAX_TOKEN_BYTES];
        memcpy(joined, s.ptr, n_left);
        memcpy(joined + n_left, space + 1, n_right);
        int32_t result = find_token(t, joined, n_left + n_right);
        if (result < 0)
            return status_fail(LVK_ERR_FORMAT, "merge %d '%.*s' makes '%.*s', which is not a token", i,
                            shown(s.len), s.ptr, shown(n_left + n_right), joined);
        bpe_merge *m = merge_slot(t, left, right);
        if (m->left < 0) *m = (bpe_merge){.left = left, .right = right, .result = result, .rank = i};
    }
    return LVK_OK;
}

static int is_valid_utf8(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_decode((const uint8_t *)s + i, n - i, &cp);
        if (!len) return 0;
        i += len;
    }
    return 1;
}

typedef struct special_entry {
    size_t len;
    int32_t id;
} special_entry;

/* Longest first; equal lengths in id order, so that the order is defined. */
static int special_before(const void *a, const void *b) {
    const special_entry *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The tokens LVK_TOKENIZE_PARSE_SPECIAL matches: control, user-defined and
 * unknown ones, as llama.cpp's special token cache, longest first. Only
 * non-empty texts that are valid UTF-8: a match of those in valid text starts
 * and ends at character boundaries, so every piece left is valid UTF-8. */
static lvk_status collect_specials(text_tokenizer *t, const gguf_value *types) {
    if (!types) return LVK_OK;
    special_entry *entries = mem_malloc((size_t)t->n_vocab * sizeof *entries);
    if (!entries) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
    int n = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        double type = gguf_arr_num(types, (uint64_t)id);
        int special = type == TOKEN_CONTROL || type == TOKEN_USER_DEFINED || type == TOKEN_UNKNOWN;
        if (special && text_len(t, id) > 0 && is_valid_utf8(text_of(t, id), text_len(t, id)))
            entries[n++] = (special_entry){.len = text_len(t, id), .id = id};
    }
    qsort(entries, (size_t)n, sizeof *entries, special_before);
    t->specials = mem_malloc((size_t)(n ? n : 1) * sizeof *t->specials);
    if (!t->specials) {
        mem_free(entries);
        return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (int i = 0; i < n; i++) t->specials[i] = entries[i].id;
    t->n_specials = n;
    mem_free(entries);
    return LVK_OK;
}

/* Texts of tokens that end a reply in the chat formats of the models that
 * have them, as llama.cpp collects its end-of-generation tokens (it finds
 * them by text too: converters rarely say which they are), with "</s>". */
static const char *const end_of_generation_texts[] = {
    "</s>", "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<|end_of_text|>", "<EOT>", "_<EOT>", "<end_of_utterance>",
};
enum { N_EOG_TEXTS = sizeof end_of_generation_texts / sizeof end_of_generation_texts[0] };

static int id_before(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The end-of-generation tokens: EOS, the metadata's end of turn (EOT) and
 * end of message (EOM), and the tokens whose text is one of the above. */
static lvk_status collect_end_of_generation(const gguf_file *f, text_tokenizer *t) {
    int eot, eom;
    LVK_TRY(read_special_id(f, "tokenizer.ggml.eot_token_id", -1, t->n_vocab, &eot));
    LVK_TRY(read_special_id(f, "tokenizer.ggml.eom_token_id", -1, t->n_vocab, &eom));
    int32_t found[3 + N_EOG_TEXTS];
    int n = 0;
    const int by_id[3] = {t->eos, eot, eom};
    for (int i = 0; i < 3; i++)
        if (by_id[i] >= 0) found[n++] = by_id[i];
    for (int i = 0; i < N_EOG_TEXTS; i++) {
        int32_t id = find_token(t, end_of_generation_texts[i], strlen(end_of_generation_texts[i]));
        if (id >= 0) found[n++] = id;
    }
    qsort(found, (size_t)n, sizeof *found, id_before);
    t->eog = mem_malloc((size_t)(n ? n : 1) * sizeof *t->eog);
    if (!t->eog) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < n; i++)
        if (i == 0 || found[i] != found[i - 1]) t->eog[t->n_eog++] = found[i];
    return LVK_OK;
}

/* The token for each byte: SentencePiece's "<0xNN>", else a token that is
 * the byte itself (llama.cpp's byte_to_token); byte-level BPE's character
 * for the byte. */
static void find_byte_tokens(text_tokenizer *t) {
    for (int b = 0; b < 256; b++) {
        int32_t id;
        if (t->kind == VOCAB_SPM) {
            static const char hex[] = "0123456789ABCDEF";
            char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
            char raw = (char)b;
            id = find_token(t, name, sizeof name);
            if (id < 0) id = find_token(t, &raw, 1);
        } else {
            char c[4];
            id = find_token(t, c, utf8_encode(byte_char((uint8_t)b), c));
        }
        t->byte_token[b] = id;
    }
}

static lvk_status load(const gguf_file *f, text_tokenizer *t) {
    LVK_TRY(read_kind(f, t));
    int spm = t->kind == VOCAB_SPM;
    if (!spm) LVK_TRY(read_pretokenizer(f, t));

    const gguf_value *tokens, *scores, *types;
    LVK_TRY(find_array(f, "tokenizer.ggml.tokens", is_string, "strings", 0, &tokens));
    if (!tokens) return status_fail(LVK_ERR_FORMAT, "metadata 'tokenizer.ggml.tokens' is missing");
    if (tokens->arr_count == 0 || tokens->arr_count > MAX_VOCAB)
        return status_fail(LVK_ERR_FORMAT, "vocabulary has %llu tokens (1..%d supported)",
                        (unsigned long long)tokens->arr_count, MAX_VOCAB);
    int n = t->n_vocab = (int)tokens->arr_count;
    LVK_TRY(find_array(f, "tokenizer.ggml.scores", is_number, "numbers", (uint64_t)n, &scores));
    LVK_TRY(find_array(f, "tokenizer.ggml.token_type", is_integer, "integers", (uint64_t)n,
                       &types));

    /* SentencePiece defaults to LLaMA's ids, as llama.cpp. Byte-level BPE
     * files name their own; llama.cpp's fallback there (id 11) is no
     * vocabulary's BOS, so here there is none. */
    LVK_TRY(read_special_id(f, "tokenizer.ggml.bos_token_id", spm ? 1 : -1, n, &t->bos));
    LVK_TRY(read_special_id(f, "tokenizer.ggml.eos_token_id", spm ? 2 : -1, n, &t->eos));
    LVK_TRY(read_special_id(f, "tokenizer.ggml.unknown_token_id", spm ? 0 : -1, n, &t->unk));

    t->add_space_prefix = spm;
    if (spm) LVK_TRY(read_bool(f, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix));
    t->add_bos = spm || t->pre->add_bos;
    t->add_eos = 0;
    LVK_TRY(read_bool(f, "tokenizer.ggml.add_bos_token", &t->add_bos));
    LVK_TRY(read_bool(f, "tokenizer.ggml.add_eos_token", &t->add_eos));
    if (t->add_bos && t->bos < 0)
        return status_fail(LVK_ERR_FORMAT, "the model wants BOS first, but "
                                        "metadata 'tokenizer.ggml.bos_token_id' is missing");
    if (t->add_eos && t->eos < 0)
        return status_fail(LVK_ERR_FORMAT, "the model wants EOS last, but "
                                        "metadata 'tokenizer.ggml.eos_token_id' is missing");

    /* Copy texts and scores: the gguf_file may be closed after loading. */
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        gguf_str s = tokens->arr_strs[i];
        if (s.len > MAX_TOKEN_BYTES)
            return status_fail(LVK_ERR_FORMAT, "token %d is %llu bytes long (at most %d allowed)", i,
                            (unsigned long long)s.len, MAX_TOKEN_BYTES);
        total += (size_t)s.len;
    }
    if (spm) t->scores = mem_malloc((size_t)n * sizeof *t->scores);
    t->text_off = mem_malloc(((size_t)n + 1) * sizeof *t->text_off);
    t->texts = mem_malloc(total ? total : 1);
    t->piece_off = mem_malloc(((size_t)n + 1) * sizeof *t->piece_off);
    t->pieces = mem_malloc(total + (size_t)n); /* a piece is never longer than its text */
    uint32_t table_size = 1;
    while (table_size < 2u * (uint32_t)n) table_size *= 2; /* at most half full */
    t->table_mask = table_size - 1;
    t->table = mem_malloc(table_size * sizeof *t->table);
    if ((spm && !t->scores) || !t->text_off || !t->texts || !t->piece_off || !t->pieces || !t->table)
        return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory loading a vocabulary of %d tokens",
                        n);

    t->text_off[0] = 0;
    for (int i = 0; i < n; i++) {
        gguf_str s = tokens->arr_strs[i];
        memcpy(t->texts + t->text_off[i], s.ptr, (size_t)s.len);
        t->text_off[i + 1] = t->text_off[i] + (size_t)s.len;
        if (!spm) continue;
        t->scores[i] = scores ? (float)gguf_arr_num(scores, (uint64_t)i) : 0.0f;
        if (isnan(t->scores[i]))
            return status_fail(LVK_ERR_FORMAT, "score of token %d is not a number", i);
    }

    t->piece_off[0] = 0;
    for (int i = 0; i < n; i++) {
        double type = types ? gguf_arr_num(types, (uint64_t)i) : TOKEN_NORMAL;
        if (type < TOKEN_NORMAL || type > TOKEN_BYTE)
            return status_fail(LVK_ERR_FORMAT, "token %d has type %.0f (1..6 expected)", i, type);
        size_t k = 0;
        LVK_TRY(make_piece(t, i, (int)type, t->pieces + t->piece_off[i], &k));
        t->pieces[t->piece_off[i] + k] = 0;
        t->piece_off[i + 1] = t->piece_off[i] + k + 1;
    }

    memset(t->table, 0xff, table_size * sizeof *t->table);
    for (int i = 0; i < n; i++) insert_token(t, i);
    find_byte_tokens(t);
    if (!spm) LVK_TRY(load_merges(f, t));
    LVK_TRY(collect_specials(t, types));
    return collect_end_of_generation(f, t);
}

lvk_status tokenizer_load(const gguf_file *f, text_tokenizer **out) {
    if (!f || !out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "tokenizer_load: NULL argument");
    text_tokenizer *t = mem_calloc(1, sizeof *t);
    if (!t) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
    lvk_status s = load(f, t);
    if (s != LVK_OK) {
        tokenizer_free(t);
        return status_fail_prefix(s, "tokenizer");
    }
    *out = t;
    return LVK_OK;
}

void tokenizer_free(text_tokenizer *t) {
    if (!t) return;
    mem_free(t->scores);
    mem_free(t->text_off);
    mem_free(t->texts);
    mem_free(t->piece_off);
    mem_free(t->pieces);
    mem_free(t->table);
    mem_free(t->merges);
    mem_free(t->specials);
    mem_free(t->eog);
    mem_free(t);
}

int tokenizer_n_vocab(const text_tokenizer *t) { return t->n_vocab; }
int tokenizer_bos(const text_tokenizer *t) { return t->bos; }
int tokenizer_eos(const text_tokenizer *t) { return t->eos; }

int tokenizer_is_eog(const text_tokenizer *t, int32_t id) {
    for (int i = 0; i < t->n_eog && t->eog[i] <= id; i++)
        if (t->eog[i] == id) return 1;
    return 0;
}
int tokenizer_adds_bos(const text_tokenizer *t) { return t->add_bos; }
int tokenizer_adds_eos(const text_tokenizer *t) { return t->add_eos; }
const char *tokenizer_model_name(const text_tokenizer *t) { return t->kind == VOCAB_SPM ? "llama" : "gpt2"; }
const char *tokenizer_pre_name(const text_tokenizer *t) { return t->pre ? t->pre->name : NULL; }

const char *tokenizer_piece(const text_tokenizer *t, int32_t id, size_t *len) {
    if (!t || id < 0 || id >= t->n_vocab) {
        if (len) *len = 0;
        return "";
    }
    if (len) *len = t->piece_off[id + 1] - t->piece_off[id] - 1;
    return t->pieces + t->piece_off[id];
}

/* ---- merging ----------------------------------------------------------- */

/* A run of bytes of the text being merged (SentencePiece: the escaped text;
 * byte-level BPE: the word), linked to its neighbours, and its token, or -1
 * for a character or byte that has none. Merging moves the right symbol's
 * bytes into the left one and leaves it empty. */
typedef struct symbol {
    int prev, next;
    size_t start, n;
    int32_t id;
} symbol;

/* A candidate merge of symbols left and right (adjacent when pushed) into
 * token id; higher priority merges first. */
typedef struct bigram {
    float priority;
    int left, right;
    size_t n; /* bytes of the merged symbol, to recognise stale entries */
    int32_t id;
} bigram;

/* Max-heap order: higher priority first, then the leftmost pair. */
static int bigram_before(const bigram *a, const bigram *b) {
    return a->priority > b->priority || (a->priority == b->priority && a->left < b->left);
}

typedef struct heap {
    bigram *items;
    size_t n;
} heap;

static void heap_push(heap *h, bigram b) {
    size_t i = h->n++;
    while (i > 0 && bigram_before(&b, &h->items[(i - 1) / 2])) {
        h->items[i] = h->items[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->items[i] = b;
}

static bigram heap_pop(heap *h) {
    bigram top = h->items[0], last = h->items[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && bigram_before(&h->items[c + 1], &h->items[c])) c++;
        if (!bigram_before(&h->items[c], &last)) break;
        h->items[i] = h->items[c];
        i = c;
    }
    if (h->n > 0) h->items[i] = last;
    return top;
}

/* One encode call: where ids go, and work space sized for the whole text. */
typedef struct encoder {
    const text_tokenizer *t;
    int32_t *out;
    int capacity, count;
    char *buf;     /* SentencePiece: the escaped text; byte-level: a word in characters */
    uint32_t *cps; /* byte-level: the code points of the text being cut into words */
    symbol *syms;
    heap heap;
} encoder;

static void emit(encoder *e, int32_t id) {
    if (e->count < e->capacity) e->out[e->count] = id;
    e->count++;
}

/* A byte with no token of its own becomes UNK; without UNK it is dropped, as
 * llama.cpp drops it in byte-level BPE. */
static void emit_byte(encoder *e, uint8_t b) {
    int32_t id = e->t->byte_token[b] >= 0 ? e->t->byte_token[b] : e->t->unk;
    if (id >= 0) emit(e, id);
}

/* Pushes the merge of symbols left and right, when there is one: SentencePiece
 * merges a pair whose concatenation is a token, by its score; byte-level BPE
 * one listed in the merges, by its rank. */
static void try_bigram(encoder *e, const char *text, int left, int right) {
    if (left < 0 || right < 0) return;
    const text_tokenizer *t = e->t;
    const symbol *l = &e->syms[left], *r = &e->syms[right];
    bigram b = {.left = left, .right = right, .n = l->n + r->n, .id = -1};
    if (t->kind == VOCAB_SPM) {
        b.id = find_token(t, text + l->start, b.n);
        if (b.id >= 0) b.priority = t->scores[b.id];
    } else if (l->id >= 0 && r->id >= 0) {
        const bpe_merge *m = merge_slot(t, l->id, r->id);
        if (m->left >= 0) {
            b.id = m->result;
            b.priority = -(float)m->rank;
        }
    }
    if (b.id >= 0) heap_push(&e->heap, b);
}

/* Merges the n_syms symbols of text until no pair merges, then emits them. */
static void merge_and_emit(encoder *e, const char *text, int n_syms) {
    symbol *syms = e->syms;
    e->heap.n = 0;
    for (int i = 1; i < n_syms; i++) try_bigram(e, text, i - 1, i);
    while (e->heap.n > 0) {
        bigram b = heap_pop(&e->heap);
        symbol *l = &syms[b.left], *r = &syms[b.right];
        /* Skip pairs that an earlier merge changed: a symbol only ever grows
         * by absorbing its right neighbour, so the pair is intact exactly
         * when both are non-empty and their sizes still add up. */
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.n) continue;
        l->n += r->n;
        l->id = b.id;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) syms[r->next].prev = b.left;
        try_bigram(e, text, l->prev, b.left);
        try_bigram(e, text, b.left, l->next);
    }
    /* A merged symbol is a token by construction, so only unmerged
     * characters (bytes) can be missing from the vocabulary: those become
     * byte tokens. (This is why llama.cpp's re-segmentation of a symbol into
     * the pair it was merged from is not needed: for valid UTF-8 it never
     * applies.) */
    for (int i = 0; i >= 0; i = syms[i].next) {
        const symbol *sym = &syms[i];
        if (sym->id >= 0) {
            emit(e, sym->id);
        } else {
            for (size_t j = 0; j < sym->n; j++) emit_byte(e, (uint8_t)text[sym->start + j]);
        }
    }
}

/* ---- SentencePiece ---------------------------------------------------------- */

static void encode_spm(encoder *e, const char *text, size_t len, int space_prefix) {
    /* Escape, then make one symbol per character (the result is still valid
     * UTF-8: '▁' is a whole character). */
    char *esc = e->buf;
    size_t n_esc = 0;
    if (space_prefix) {
        memcpy(esc, "\xe2\x96\x81", 3);
        n_esc = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(esc + n_esc, "\xe2\x96\x81", 3);
            n_esc += 3;
        } else {
            esc[n_esc++] = text[i];
        }
    }
    int n_syms = 0;
    for (size_t i = 0; i < n_esc; n_syms++) {
        symbol *sym = &e->syms[n_syms];
        uint32_t cp;
        sym->prev = n_syms - 1;
        sym->next = n_syms + 1;
        sym->start = i;
        sym->n = utf8_decode((const uint8_t *)esc + i, n_esc - i, &cp);
        sym->id = find_token(e->t, esc + i, sym->n);
        i += sym->n;
    }
    e->syms[n_syms - 1].next = -1;
    merge_and_emit(e, esc, n_syms);
}

/* ---- byte-level BPE --------------------------------------------------------- */

static void encode_bpe_word(encoder *e, const char *word, size_t len) {
    const text_tokenizer *t = e->t;
    if (t->pre->ignore_merges) {
        size_t n = 0;
        for (size_t i = 0; i < len; i++) n += utf8_encode(byte_char((uint8_t)word[i]), e->buf + n);
        int32_t id = find_token(t, e->buf, n);
        if (id >= 0) {
            emit(e, id);
            return;
        }
    }
    for (size_t i = 0; i < len; i++)
        e->syms[i] = (symbol){.prev = (int)i - 1, .next = (int)i + 1, .start = i, .n = 1,
                              .id = t->byte_token[(uint8_t)word[i]]};
    e->syms[len - 1].next = -1;
    merge_and_emit(e, word, (int)len);
}

static void encode_bpe(encoder *e, const char *text, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; n++) i += utf8_decode((const uint8_t *)text + i, len - i, &e->cps[n]);
    size_t byte = 0;
    for (size_t pos = 0; pos < n;) {
        size_t end = pretokenize_word_end(e->t->pre->rule, e->cps, pos, n), bytes = 0;
        for (size_t i = pos; i < end; i++) bytes += utf8_length(e->cps[i]);
        encode_bpe_word(e, text + byte, bytes);
        byte += bytes;
        pos = end;
    }
}

/* ---- special tokens ------------------------------------------------------- */

/* A piece of the text: plain text, or a special token written in it. */
typedef struct fragment {
    size_t start, len;
    int32_t token; /* -1: text[start .. start+len) */
} fragment;

typedef struct fragments {
    fragment *items;
    size_t n, cap;
} fragments;

static lvk_status push_fragment(fragments *f, fragment x) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        fragment *items = mem_realloc(f->items, cap * sizeof *items);
        if (!items) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory cutting special tokens");
        f->items = items;
        f->cap = cap;
    }
    f->items[f->n++] = x;
    return LVK_OK;
}

/* Whether bytes [at, at + n) overlap one of the plain ranges. */
static int overlaps(const text_range *plain, size_t n_plain, size_t at, size_t n) {
    for (size_t i = 0; i < n_plain; i++)
        if (at < plain[i].start + plain[i].len && plain[i].start < at + n) return 1;
    return 0;
}

/* Cuts special tokens out of text as llama.cpp does: each in turn, longest
 * first, at each of its occurrences in the text not cut out yet, except
 * where it overlaps a plain range. Into `out` (empty), with `spare` as work
 * space; both are freed by the caller. */
static lvk_status cut_specials(const text_tokenizer *t, const char *text, size_t len, const text_range *plain,
                               size_t n_plain, fragments *out, fragments *spare) {
    LVK_TRY(push_fragment(out, (fragment){.start = 0, .len = len, .token = -1}));
    for (int s = 0; s < t->n_specials; s++) {
        int32_t id = t->specials[s];
        const char *needle = text_of(t, id);
        size_t n_needle = text_len(t, id);
        spare->n = 0;
        for (size_t i = 0; i < out->n; i++) {
            fragment f = out->items[i];
            size_t pos = f.start, from = f.start, end = f.start + f.len;
            if (f.token >= 0) {
                LVK_TRY(push_fragment(spare, f));
                continue;
            }
            const char *hit;
            while ((hit = memmem(text + from, end - from, needle, n_needle))) {
                size_t at = (size_t)(hit - text);
                from = at + 1;
                if (overlaps(plain, n_plain, at, n_needle)) continue;
                if (at > pos) LVK_TRY(push_fragment(spare, (fragment){.start = pos, .len = at - pos, .token = -1}));
                LVK_TRY(push_fragment(spare, (fragment){.start = at, .len = n_needle, .token = id}));
                pos = from = at + n_needle;
            }
            if (pos < end) LVK_TRY(push_fragment(spare, (fragment){.start = pos, .len = end - pos, .token = -1}));
        }
        fragments swap = *out;
        *out = *spare;
        *spare = swap;
    }
    return LVK_OK;
}

/* ---- encoding ---------------------------------------------------------- */

static void encode_fragments(encoder *e, const char *text, const fragment *frags, size_t n) {
    const text_tokenizer *t = e->t;
    /* SentencePiece's space prefix goes before the text at the start and
     * after every special token, as llama.cpp does. */
    int prefix_due = 1;
    for (size_t i = 0; i < n; i++) {
        const fragment *f = &frags[i];
        if (f->token >= 0) {
            emit(e, f->token);
            prefix_due = 1;
        } else if (t->kind == VOCAB_SPM) {
            encode_spm(e, text + f->start, f->len, t->add_space_prefix && prefix_due);
            prefix_due = 0;
        } else {
            encode_bpe(e, text + f->start, f->len);
        }
    }
}

lvk_status tokenizer_encode(const text_tokenizer *t, const char *text, size_t len, unsigned flags,
                            int32_t *out, int capacity, int *n_out) {
    return tokenizer_encode_guarded(t, text, len, flags, NULL, 0, out, capacity, n_out);
}

lvk_status tokenizer_encode_guarded(const text_tokenizer *t, const char *text, size_t len, unsigned flags,
                                    const text_range *plain, size_t n_plain, int32_t *out, int capacity,
                                    int *n_out) {
    if (n_out) *n_out = 0;
    const unsigned known = LVK_TOKENIZE_BOS | LVK_TOKENIZE_ADD_SPECIAL | LVK_TOKENIZE_PARSE_SPECIAL;
    if (!t || !n_out || (!text && len > 0) || capacity < 0 || (!out && capacity > 0) || (!plain && n_plain > 0))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "tokenizer_encode: bad argument");
    if (flags & ~known)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "tokenizer flags 0x%x are unknown", flags & ~known);
    /* Escaping turns a byte into at most 3; every count below then fits an int. */
    if (len > (size_t)(INT_MAX / 3 - 4))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "text of %zu bytes is too long to tokenize", len);
    const uint8_t *u = (const uint8_t *)text;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = utf8_decode(u + i, len - i, &cp);
        if (k == 0)
            return status_fail(LVK_ERR_INVALID_ARGUMENT,
                            "text is not valid UTF-8 (byte 0x%02x at offset %zu)", u[i], i);
        i += k;
    }
    int bos = (flags & LVK_TOKENIZE_BOS) || ((flags & LVK_TOKENIZE_ADD_SPECIAL) && t->add_bos);
    int eos = (flags & LVK_TOKENIZE_ADD_SPECIAL) && t->add_eos;
    if (bos && t->bos < 0)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "BOS asked for, but the vocabulary has no BOS token");

    encoder e = {.t = t, .out = out, .capacity = capacity};
    if (bos) emit(&e, t->bos);
    /* Like llama.cpp, empty text has no fragments, so no space prefix either. */
    if (len > 0) {
        fragments frags = {0}, spare = {0};
        fragment whole = {.start = 0, .len = len, .token = -1};
        e.buf = mem_malloc(3 * (len + 1));
        e.cps = t->kind == VOCAB_BPE ? mem_malloc(len * sizeof *e.cps) : NULL;
        e.syms = mem_malloc((len + 1) * sizeof *e.syms);
        /* n - 1 initial pairs, then each of at most n - 1 merges pushes two. */
        e.heap.items = mem_malloc(3 * (len + 1) * sizeof *e.heap.items);
        lvk_status s = LVK_OK;
        if (!e.buf || (t->kind == VOCAB_BPE && !e.cps) || !e.syms || !e.heap.items)
            s = status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory tokenizing %zu bytes", len);
        else if (flags & LVK_TOKENIZE_PARSE_SPECIAL)
            s = cut_specials(t, text, len, plain, n_plain, &frags, &spare);
        if (s == LVK_OK) {
            int cut = (flags & LVK_TOKENIZE_PARSE_SPECIAL) != 0;
            encode_fragments(&e, text, cut ? frags.items : &whole, cut ? frags.n : 1);
        }
        mem_free(frags.items);
        mem_free(spare.items);
        mem_free(e.buf);
        mem_free(e.cps);
        mem_free(e.syms);
        mem_free(e.heap.items);
        if (s != LVK_OK) return s;
    }
    if (eos) emit(&e, t->eos);
    *n_out = e.count;
    return LVK_OK;
}
