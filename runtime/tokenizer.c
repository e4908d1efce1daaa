/* tokenizer.c — SentencePiece BPE (LLaMA "spm"), matching llama.cpp.
 *
 * Encoding: the text (with a leading space when add_space_prefix is set) has
 * every ' ' replaced by U+2581 '▁' and is split into UTF-8 characters. Then,
 * repeatedly, the adjacent pair of symbols whose concatenation is a
 * vocabulary token with the highest score is merged (ties: leftmost first).
 * Each final symbol becomes its token, or, when it is not in the vocabulary,
 * one <0xNN> byte token per byte.
 */
#include "alloc.h"
#include "tokenizer.h"

#include "status.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Far above any real vocabulary; keeps every size below in int range. */
#define MAX_VOCAB (1 << 24)
/* LLaMA's longest token is 16 '▁' (48 bytes); real vocabularies stay far
 * below this, so anything longer means a corrupt file. */
#define MAX_TOKEN_BYTES 1024

enum token_type {
    TOKEN_NORMAL = 1, TOKEN_UNKNOWN = 2, TOKEN_CONTROL = 3,
    TOKEN_USER_DEFINED = 4, TOKEN_UNUSED = 5, TOKEN_BYTE = 6,
};

struct lvk_tokenizer {
    int n_vocab;
    int bos, eos, unk;
    int add_space_prefix;
    float *scores;
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
    /* the token for each byte when a symbol has no token of its own */
    int32_t byte_token[256];
};

/* ---- token lookup ------------------------------------------------------ */

static uint32_t hash_bytes(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

static int text_eq(const lvk_tokenizer *t, int32_t id, const char *s, size_t n) {
    size_t len = t->text_off[id + 1] - t->text_off[id];
    return len == n && memcmp(t->texts + t->text_off[id], s, n) == 0;
}

/* The id of the token whose text is exactly s[0..n), or -1. */
static int32_t find_token(const lvk_tokenizer *t, const char *s, size_t n) {
    for (uint32_t i = hash_bytes(s, n) & t->table_mask;; i = (i + 1) & t->table_mask) {
        int32_t id = t->table[i];
        if (id < 0 || text_eq(t, id, s, n)) return id;
    }
}

/* When two tokens share a text the later id wins, as in llama.cpp (its map
 * is filled in id order with assignment). */
static void insert_token(lvk_tokenizer *t, int32_t id) {
    const char *s = t->texts + t->text_off[id];
    size_t n = t->text_off[id + 1] - t->text_off[id];
    uint32_t i = hash_bytes(s, n) & t->table_mask;
    while (t->table[i] >= 0 && !text_eq(t, t->table[i], s, n)) i = (i + 1) & t->table_mask;
    t->table[i] = id;
}

/* ---- loading ----------------------------------------------------------- */

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Writes token `id`'s decoded bytes to `dst` (at most its text length) and
 * their count to *n_piece. */
static lvk_status make_piece(const lvk_tokenizer *t, int32_t id, int type, char *dst,
                             size_t *n_piece) {
    const char *s = t->texts + t->text_off[id];
    size_t n = t->text_off[id + 1] - t->text_off[id];
    size_t k = 0;
    switch (type) {
    case TOKEN_NORMAL:
        for (size_t i = 0; i < n; i++) {
            if (i + 2 < n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                dst[k++] = ' ';
                i += 2;
            } else {
                dst[k++] = s[i];
            }
        }
        break;
    case TOKEN_USER_DEFINED: /* llama.cpp emits these verbatim */
        memcpy(dst, s, n);
        k = n;
        break;
    case TOKEN_BYTE: {
        int hi = n == 6 ? hex_value(s[3]) : -1, lo = n == 6 ? hex_value(s[4]) : -1;
        if (hi < 0 || lo < 0 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
            return lvk_fail(LVK_ERR_FORMAT, "byte token %d is '%.*s', not of the form <0xNN>",
                            (int)id, (int)n, s);
        dst[k++] = (char)(hi * 16 + lo);
        break;
    }
    default: /* control, unknown and unused tokens decode to nothing */
        break;
    }
    *n_piece = k;
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
        return lvk_fail(LVK_ERR_FORMAT, "metadata '%s' should be an array of %s, is %s%s%s", key,
                        what, gguf_value_type_name(v->type), v->type == GGUF_ARRAY ? " of " : "",
                        v->type == GGUF_ARRAY ? gguf_value_type_name(v->arr_type) : "");
    if (count && v->arr_count != count)
        return lvk_fail(LVK_ERR_FORMAT, "metadata '%s' has %llu entries but there are %llu tokens",
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

static lvk_status read_special_id(const gguf_file *f, const char *key, uint32_t fallback,
                                  int n_vocab, int *out) {
    uint32_t id = fallback;
    LVK_TRY(gguf_get_u32(f, key, &id, LVK_OK));
    if (id >= (uint32_t)n_vocab)
        return lvk_fail(LVK_ERR_FORMAT, "metadata '%s' is %u, but there are only %d tokens", key,
                        id, n_vocab);
    *out = (int)id;
    return LVK_OK;
}

static lvk_status check_model(const gguf_file *f) {
    const char *key = "tokenizer.ggml.model";
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return lvk_fail(LVK_ERR_FORMAT, "metadata '%s' is missing", key);
    if (kv->value.type != GGUF_STRING)
        return lvk_fail(LVK_ERR_FORMAT, "metadata '%s' should be a string, is %s", key,
                        gguf_value_type_name(kv->value.type));
    gguf_str s = kv->value.v.str;
    if (!gguf_str_eq(s, "llama"))
        return lvk_fail(LVK_ERR_UNSUPPORTED,
                        "tokenizer model '%.*s' is not supported (only 'llama', the "
                        "SentencePiece BPE tokenizer of LLaMA 1/2 models)",
                        s.len > 64 ? 64 : (int)s.len, s.ptr);
    return LVK_OK;
}

static lvk_status load(const gguf_file *f, lvk_tokenizer *t) {
    LVK_TRY(check_model(f));

    const gguf_value *tokens, *scores, *types;
    LVK_TRY(find_array(f, "tokenizer.ggml.tokens", is_string, "strings", 0, &tokens));
    if (!tokens) return lvk_fail(LVK_ERR_FORMAT, "metadata 'tokenizer.ggml.tokens' is missing");
    if (tokens->arr_count == 0 || tokens->arr_count > MAX_VOCAB)
        return lvk_fail(LVK_ERR_FORMAT, "vocabulary has %llu tokens (1..%d supported)",
                        (unsigned long long)tokens->arr_count, MAX_VOCAB);
    int n = t->n_vocab = (int)tokens->arr_count;
    LVK_TRY(find_array(f, "tokenizer.ggml.scores", is_number, "numbers", (uint64_t)n, &scores));
    LVK_TRY(find_array(f, "tokenizer.ggml.token_type", is_integer, "integers", (uint64_t)n,
                       &types));

    LVK_TRY(read_special_id(f, "tokenizer.ggml.bos_token_id", 1, n, &t->bos));
    LVK_TRY(read_special_id(f, "tokenizer.ggml.eos_token_id", 2, n, &t->eos));
    LVK_TRY(read_special_id(f, "tokenizer.ggml.unknown_token_id", 0, n, &t->unk));

    t->add_space_prefix = 1;
    const gguf_kv *sp = gguf_find(f, "tokenizer.ggml.add_space_prefix");
    if (sp) {
        if (sp->value.type != GGUF_BOOL)
            return lvk_fail(LVK_ERR_FORMAT,
                            "metadata 'tokenizer.ggml.add_space_prefix' should be a bool, is %s",
                            gguf_value_type_name(sp->value.type));
        t->add_space_prefix = sp->value.v.u64 != 0;
    }

    /* Copy texts and scores: the gguf_file may be closed after loading. */
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        gguf_str s = tokens->arr_strs[i];
        if (s.len > MAX_TOKEN_BYTES)
            return lvk_fail(LVK_ERR_FORMAT, "token %d is %llu bytes long (at most %d allowed)", i,
                            (unsigned long long)s.len, MAX_TOKEN_BYTES);
        total += (size_t)s.len;
    }
    t->scores = lvk_malloc((size_t)n * sizeof *t->scores);
    t->text_off = lvk_malloc(((size_t)n + 1) * sizeof *t->text_off);
    t->texts = lvk_malloc(total ? total : 1);
    t->piece_off = lvk_malloc(((size_t)n + 1) * sizeof *t->piece_off);
    t->pieces = lvk_malloc(total + (size_t)n); /* a piece is never longer than its text */
    uint32_t table_size = 1;
    while (table_size < 2u * (uint32_t)n) table_size *= 2; /* at most half full */
    t->table_mask = table_size - 1;
    t->table = lvk_malloc(table_size * sizeof *t->table);
    if (!t->scores || !t->text_off || !t->texts || !t->piece_off || !t->pieces || !t->table)
        return lvk_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory loading a vocabulary of %d tokens",
                        n);

    t->text_off[0] = 0;
    for (int i = 0; i < n; i++) {
        gguf_str s = tokens->arr_strs[i];
        memcpy(t->texts + t->text_off[i], s.ptr, (size_t)s.len);
        t->text_off[i + 1] = t->text_off[i] + (size_t)s.len;
        t->scores[i] = scores ? (float)gguf_arr_num(scores, (uint64_t)i) : 0.0f;
        if (isnan(t->scores[i]))
            return lvk_fail(LVK_ERR_FORMAT, "score of token %d is not a number", i);
    }

    t->piece_off[0] = 0;
    for (int i = 0; i < n; i++) {
        double type = types ? gguf_arr_num(types, (uint64_t)i) : TOKEN_NORMAL;
        if (type < TOKEN_NORMAL || type > TOKEN_BYTE)
            return lvk_fail(LVK_ERR_FORMAT, "token %d has type %.0f (1..6 expected)", i, type);
        size_t k = 0;
        LVK_TRY(make_piece(t, i, (int)type, t->pieces + t->piece_off[i], &k));
        t->pieces[t->piece_off[i] + k] = 0;
        t->piece_off[i + 1] = t->piece_off[i] + k + 1;
    }

    memset(t->table, 0xff, table_size * sizeof *t->table);
    for (int i = 0; i < n; i++) insert_token(t, i);

    /* Byte fallback as llama.cpp: "<0xNN>", else a token that is the byte
     * itself. A vocabulary with neither (llama.cpp would throw) gets UNK. */
    for (int b = 0; b < 256; b++) {
        static const char hex[] = "0123456789ABCDEF";
        char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        char raw = (char)b;
        int32_t id = find_token(t, name, sizeof name);
        if (id < 0) id = find_token(t, &raw, 1);
        t->byte_token[b] = id < 0 ? t->unk : id;
    }
    return LVK_OK;
}

lvk_status tokenizer_load(const gguf_file *f, lvk_tokenizer **out) {
    if (!f || !out) return lvk_fail(LVK_ERR_INVALID_ARGUMENT, "tokenizer_load: NULL argument");
    lvk_tokenizer *t = lvk_calloc(1, sizeof *t);
    if (!t) return lvk_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
    lvk_status s = load(f, t);
    if (s != LVK_OK) {
        tokenizer_free(t);
        return lvk_fail_prefix(s, "tokenizer");
    }
    *out = t;
    return LVK_OK;
}

void tokenizer_free(lvk_tokenizer *t) {
    if (!t) return;
    lvk_free(t->scores);
    lvk_free(t->text_off);
    lvk_free(t->texts);
    lvk_free(t->piece_off);
    lvk_free(t->pieces);
    lvk_free(t->table);
    lvk_free(t);
}

int tokenizer_n_vocab(const lvk_tokenizer *t) { return t->n_vocab; }
int tokenizer_bos(const lvk_tokenizer *t) { return t->bos; }
int tokenizer_eos(const lvk_tokenizer *t) { return t->eos; }

const char *tokenizer_piece(const lvk_tokenizer *t, int32_t id, size_t *len) {
    if (!t || id < 0 || id >= t->n_vocab) {
        if (len) *len = 0;
        return "";
    }
    if (len) *len = t->piece_off[id + 1] - t->piece_off[id] - 1;
    return t->pieces + t->piece_off[id];
}

/* ---- encoding ---------------------------------------------------------- */

/* Length of the UTF-8 character at s[0..n), or 0 when it is malformed:
 * truncated, a stray continuation byte, overlong, a surrogate or past
 * U+10FFFF (RFC 3629). */
static size_t utf8_char_len(const uint8_t *s, size_t n) {
    uint8_t b = s[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (b < 0x80) return 1;
    if (b >= 0xc2 && b <= 0xdf) len = 2;
    else if (b >= 0xe0 && b <= 0xef) {
        len = 3;
        if (b == 0xe0) lo = 0xa0;      /* overlong */
        else if (b == 0xed) hi = 0x9f; /* surrogates */
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4;
        if (b == 0xf0) lo = 0x90;      /* overlong */
        else if (b == 0xf4) hi = 0x8f; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

/* A run of bytes of the escaped text, linked to its neighbours; merging
 * moves the right symbol's bytes into the left one and leaves it empty. */
typedef struct symbol {
    int prev, next;
    size_t start, n;
} symbol;

/* A candidate merge of symbols left and right (adjacent when pushed). */
typedef struct bigram {
    float score;
    int left, right;
    size_t n; /* bytes of the merged text, to recognise stale entries */
} bigram;

/* Max-heap order: higher score first, then the leftmost pair. */
static int bigram_before(const bigram *a, const bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
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

typedef struct session {
    const lvk_tokenizer *t;
    const char *text; /* the escaped text */
    symbol *syms;
    heap heap;
} session;

static void try_bigram(session *s, int left, int right) {
    if (left < 0 || right < 0) return;
    size_t n = s->syms[left].n + s->syms[right].n;
    int32_t id = find_token(s->t, s->text + s->syms[left].start, n);
    if (id < 0) return;
    bigram b = {s->t->scores[id], left, right, n};
    heap_push(&s->heap, b);
}

static void merge_symbols(session *s) {
    while (s->heap.n > 0) {
        bigram b = heap_pop(&s->heap);
        symbol *l = &s->syms[b.left], *r = &s->syms[b.right];
        /* Skip pairs that an earlier merge changed: a symbol only ever grows
         * by absorbing its right neighbour, so the pair is intact exactly
         * when both are non-empty and their sizes still add up. */
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.n) continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) s->syms[r->next].prev = b.left;
        try_bigram(s, l->prev, b.left);
        try_bigram(s, b.left, l->next);
    }
}

lvk_status tokenizer_encode(const lvk_tokenizer *t, const char *text, size_t len, int add_bos,
                            int32_t *out, int capacity, int *n_out) {
    if (n_out) *n_out = 0;
    if (!t || !n_out || (!text && len > 0) || capacity < 0 || (!out && capacity > 0))
        return lvk_fail(LVK_ERR_INVALID_ARGUMENT, "tokenizer_encode: bad argument");
    /* Escaping turns a byte into at most 3; every count below then fits an int. */
    if (len > (size_t)(INT_MAX / 3 - 4))
        return lvk_fail(LVK_ERR_INVALID_ARGUMENT, "text of %zu bytes is too long to tokenize",
                        len);
    const uint8_t *u = (const uint8_t *)text;
    size_t n_chars = 0;
    for (size_t i = 0; i < len; n_chars++) {
        size_t k = utf8_char_len(u + i, len - i);
        if (k == 0)
            return lvk_fail(LVK_ERR_INVALID_ARGUMENT,
                            "text is not valid UTF-8 (byte 0x%02x at offset %zu)", u[i], i);
        i += k;
    }

    int count = 0;
#define EMIT(id) do { if (count < capacity) out[count] = (id); count++; } while (0)
    if (add_bos) EMIT(t->bos);
    /* Like llama.cpp, empty text gets no space prefix and so no tokens. */
    if (len == 0) {
        *n_out = count;
        return LVK_OK;
    }

    int prefix = t->add_space_prefix;
    n_chars += (size_t)prefix;
    session s = {.t = t};
    char *esc = lvk_malloc(3 * (len + 1));
    s.syms = lvk_malloc(n_chars * sizeof *s.syms);
    /* n - 1 initial pairs, then each of at most n - 1 merges pushes two. */
    s.heap.items = lvk_malloc(3 * n_chars * sizeof *s.heap.items);
    if (!esc || !s.syms || !s.heap.items) {
        lvk_free(esc);
        lvk_free(s.syms);
        lvk_free(s.heap.items);
        return lvk_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory tokenizing %zu bytes", len);
    }

    /* Escape, then make one symbol per character (the result is still
     * valid UTF-8: '▁' is a whole character). */
    size_t n_esc = 0;
    if (prefix) {
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
        symbol *sym = &s.syms[n_syms];
        sym->prev = n_syms - 1;
        sym->next = n_syms + 1;
        sym->start = i;
        sym->n = utf8_char_len((const uint8_t *)esc + i, n_esc - i);
        i += sym->n;
    }
    s.syms[n_syms - 1].next = -1;
    s.text = esc;

    for (int i = 1; i < n_syms; i++) try_bigram(&s, i - 1, i);
    merge_symbols(&s);

    /* A merged symbol is a token by construction, so only single characters
     * can be missing from the vocabulary: those become byte tokens. (This is
     * why llama.cpp's re-segmentation of a symbol into the pair it was merged
     * from is not needed: for valid UTF-8 it never applies.) */
    for (int i = 0; i >= 0; i = s.syms[i].next) {
        const symbol *sym = &s.syms[i];
        int32_t id = find_token(t, esc + sym->start, sym->n);
        if (id >= 0) {
            EMIT(id);
        } else {
            for (size_t j = 0; j < sym->n; j++) EMIT(t->byte_token[(uint8_t)esc[sym->start + j]]);
        }
    }
#undef EMIT

    lvk_free(esc);
    lvk_free(s.syms);
    lvk_free(s.heap.items);
    *n_out = count;
    return LVK_OK;
}
