/* hf_vocab.c — tokenizer.json + tokenizer_config.json -> GGUF vocabulary;
 * see hf_vocab.h.
 *
 * Reading collects what the files say (the model's vocabulary and merges,
 * the added tokens, what the normalizer and pre-tokenizer do, the special
 * tokens) without judging it; building then decides the tokenizer's kind,
 * lays the tokens out by id and checks every merge.
 */
#include "convert/hf_vocab.h"

#include "alloc.h"
#include "formats/json.h"
#include "formats/mapped_file.h"
#include "status.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The tokenizer's own limit on a vocabulary. */
#define MAX_VOCAB (1 << 24)
/* Sequences nest; real files nest once. */
#define MAX_COMPONENT_DEPTH 8

enum token_type {
    TOKEN_NORMAL = 1, TOKEN_UNKNOWN = 2, TOKEN_CONTROL = 3,
    TOKEN_USER_DEFINED = 4, TOKEN_UNUSED = 5, TOKEN_BYTE = 6,
};

/* The pre-tokenizers' regular expressions as tokenizer.json writes them
 * (after JSON's escapes are decoded). */
static const struct { const char *regex, *pre; } known_regexes[] = {
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
     "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", "llama-bpe"},
    {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
     "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", "qwen2"},
};

static const char *const special_kinds[] = {"bos", "eos", "unk", "pad"};
enum { N_SPECIAL_KINDS = 4 };

/* At most 60 bytes of a string, for messages. */
static int shown(const char *s) { return (int)strnlen(s, 60); }

/* ---- what the files say ---------------------------------------------------------- */

/* What a normalizer or pre-tokenizer does, gathered over its Sequence. */
typedef struct pipeline {
    char *split_regex;    /* the first Split's regular expression (Isolated, not inverted) */
    int n_splits;
    int byte_level, byte_level_regex; /* ByteLevel, and whether it applies GPT-2's expression */
    int digits, individual_digits;
    int metaspace, metaspace_prefix;  /* Metaspace, and whether it prepends '▁' */
    int prepend_space;    /* normalizer Prepend("▁") */
    int replace_space;    /* normalizer Replace(" " -> "▁") */
    char unknown[64];     /* the first step LiteVK cannot reproduce, for messages */
} pipeline;

typedef struct vocab_entry {
    char *text;
    int64_t id;
    int special; /* added tokens */
} vocab_entry;

typedef struct entries {
    vocab_entry *items;
    uint64_t n, cap;
} entries;

typedef struct raw_tokenizer {
    char *model_type, *unk_token;
    int byte_fallback, have_model;
    entries vocab, added;
    char **merges;
    uint64_t n_merges, cap_merges;
    pipeline normalizer, pre_tokenizer;
    /* tokenizer_config.json */
    char *special[N_SPECIAL_KINDS]; /* bos_token ... pad_token's text */
    int add_bos, add_eos, add_prefix_space;
    char *chat_template;
} raw_tokenizer;

static void raw_free(raw_tokenizer *t) {
    mem_free(t->model_type);
    mem_free(t->unk_token);
    for (uint64_t i = 0; i < t->vocab.n; i++) mem_free(t->vocab.items[i].text);
    for (uint64_t i = 0; i < t->added.n; i++) mem_free(t->added.items[i].text);
    mem_free(t->vocab.items);
    mem_free(t->added.items);
    for (uint64_t i = 0; i < t->n_merges; i++) mem_free(t->merges[i]);
    mem_free(t->merges);
    mem_free(t->normalizer.split_regex);
    mem_free(t->pre_tokenizer.split_regex);
    for (int k = 0; k < N_SPECIAL_KINDS; k++) mem_free(t->special[k]);
    mem_free(t->chat_template);
}

/* `items` (n used of *cap, each `size` bytes) with room for one more: the
 * same block or a larger one; NULL (items untouched) when out of memory. */
static void *grow(json_reader *r, void *items, uint64_t n, uint64_t *cap, size_t size) {
    if (n < *cap) return items;
    uint64_t grown = *cap ? 2 * *cap : 1024;
    void *p = mem_realloc(items, grown * size);
    if (!p) {
        json_out_of_memory(r);
        return NULL;
    }
    *cap = grown;
    return p;
}

static int add_entry(json_reader *r, entries *e, char *text, int64_t id, int special) {
    vocab_entry *items = grow(r, e->items, e->n, &e->cap, sizeof *items);
    if (!items) {
        mem_free(text);
        return -1;
    }
    e->items = items;
    e->items[e->n++] = (vocab_entry){.text = text, .id = id, .special = special};
    return 0;
}

/* A string member, replacing what *out held; null leaves NULL. */
static int read_string_or_null(json_reader *r, const char *what, char **out) {
    mem_free(*out);
    *out = NULL;
    if (json_peek(r) == 'n') return json_skip(r);
    if (json_peek(r) != '"') return json_fail(r, "%s must be a string", what);
    return json_string(r, out);
}

static int read_bool_or_null(json_reader *r, const char *what, int *out) {
    if (json_peek(r) == 'n') return json_skip(r);
    if (json_peek(r) != 't' && json_peek(r) != 'f') return json_fail(r, "%s must be true or false", what);
    return json_bool(r, out);
}

/* model.vocab: {"text": id, ...} */
static int read_vocab(json_reader *r, raw_tokenizer *t) {
    int count = 0, more;
    char *text;
    if (json_peek(r) != '{') return json_fail(r, "model.vocab must be an object of token ids");
    while ((more = json_object_next(r, &count, &text)) == 1) {
        int64_t id;
        if (json_integer(r, &id)) {
            mem_free(text);
            return -1;
        }
        if (add_entry(r, &t->vocab, text, id, 0)) return -1;
    }
    return more;
}

/* One merge: "left right", or ["left", "right"] (newer files, which allow
 * spaces inside a token: llama.cpp writes those as U+0120 'Ġ', the byte-level
 * character of a space, and so does this). */
static int read_merge(json_reader *r, char **out) {
    if (json_peek(r) == '"') return json_string(r, out);
    char *part[2] = {NULL, NULL};
    int count = 0, more, bad = 0;
    if (json_peek(r) != '[') return json_fail(r, "a merge must be \"left right\" or [\"left\", \"right\"]");
    while (!bad && (more = json_array_next(r, &count)) == 1)
        bad = count > 2 || json_peek(r) != '"' || json_string(r, &part[count - 1]);
    if (!bad && (more < 0 || count != 2)) bad = 1;
    size_t n = !bad ? 2 * (strlen(part[0]) + strlen(part[1])) + 2 : 0;
    char *joined = n ? mem_malloc(n) : NULL;
    if (!bad && !joined) bad = json_out_of_memory(r);
    if (!bad) {
        char *o = joined;
        for (int k = 0; k < 2; k++) {
            for (const char *c = part[k]; *c; c++)
                if (*c == ' ') o += sprintf(o, "\xc4\xa0");
                else *o++ = *c;
            if (k == 0) *o++ = ' ';
        }
        *o = 0;
        *out = joined;
    }
    mem_free(part[0]);
    mem_free(part[1]);
    return bad ? json_fail(r, "a merge must be \"left right\" or [\"left\", \"right\"]") : 0;
}

static int read_merges(json_reader *r, raw_tokenizer *t) {
    int count = 0, more;
    if (json_peek(r) != '[') return json_fail(r, "model.merges must be a list");
    while ((more = json_array_next(r, &count)) == 1) {
        char **merges = grow(r, t->merges, t->n_merges, &t->cap_merges, sizeof *merges);
        if (!merges) return -1;
        t->merges = merges;
        t->merges[t->n_merges] = NULL;
        if (read_merge(r, &t->merges[t->n_merges++])) return -1;
    }
    return more;
}

static int read_model(json_reader *r, raw_tokenizer *t) {
    int count = 0, more;
    char *key;
    if (json_peek(r) != '{') return json_fail(r, "'model' must be an object");
    t->have_model = 1;
    while ((more = json_object_next(r, &count, &key)) == 1) {
        int bad;
        if (!strcmp(key, "type")) bad = read_string_or_null(r, "model.type", &t->model_type);
        else if (!strcmp(key, "vocab")) bad = read_vocab(r, t);
        else if (!strcmp(key, "merges")) bad = read_merges(r, t);
        else if (!strcmp(key, "byte_fallback")) bad = read_bool_or_null(r, "model.byte_fallback", &t->byte_fallback);
        else if (!strcmp(key, "unk_token")) bad = read_string_or_null(r, "model.unk_token", &t->unk_token);
        else bad = json_skip(r);
        mem_free(key);
        if (bad) return -1;
    }
    return more;
}

/* added_tokens: [{"id": 128000, "content": "<|begin_of_text|>", "special": true, ...}, ...] */
static int read_added_token(json_reader *r, raw_tokenizer *t) {
    int count = 0, more, special = 0, bad = 0;
    int64_t id = -1;
    char *key, *content = NULL;
    if (json_peek(r) != '{') return json_fail(r, "added_tokens must be a list of objects");
    while (!bad && (more = json_object_next(r, &count, &key)) == 1) {
        if (!strcmp(key, "id")) bad = json_integer(r, &id);
        else if (!strcmp(key, "content")) bad = read_string_or_null(r, "an added token's content", &content);
        else if (!strcmp(key, "special")) bad = read_bool_or_null(r, "an added token's special", &special);
        else bad = json_skip(r);
        mem_free(key);
    }
    if (!bad && more == 0 && (id < 0 || !content))
        bad = json_fail(r, "an added token needs an id and a content");
    if (bad || more < 0) {
        mem_free(content);
        return -1;
    }
    return add_entry(r, &t->added, content, id, special);
}

static int read_added_tokens(json_reader *r, raw_tokenizer *t) {
    int count = 0, more;
    if (json_peek(r) != '[') return json_fail(r, "added_tokens must be a list");
    while ((more = json_array_next(r, &count)) == 1)
        if (read_added_token(r, t)) return -1;
    return more;
}

/* A Split's pattern: {"Regex": "..."} (kept) or {"String": "..."}. */
static int read_pattern(json_reader *r, char **regex, char **string) {
    int count = 0, more;
    char *key;
    if (json_peek(r) != '{') return json_skip(r);
    while ((more = json_object_next(r, &count, &key)) == 1) {
        int bad = !strcmp(key, "Regex") ? read_string_or_null(r, "a Regex pattern", regex)
                : !strcmp(key, "String") ? read_string_or_null(r, "a String pattern", string)
                : json_skip(r);
        mem_free(key);
        if (bad) return -1;
    }
    return more;
}

static int read_component(json_reader *r, pipeline *p, int depth);

static int read_components(json_reader *r, pipeline *p, int depth) {
    int count = 0, more;
    if (json_peek(r) != '[') return json_fail(r, "a Sequence's steps must be a list");
    while ((more = json_array_next(r, &count)) == 1)
        if (read_component(r, p, depth + 1)) return -1;
    return more;
}

/* The fields of a normalizer or pre-tokenizer step; what they mean depends
 * on its type, which may come last. */
typedef struct step {
    char *type, *regex, *string, *content, *prepend, *behavior, *replacement, *prepend_scheme;
    int use_regex, invert, individual_digits, add_prefix_space;
} step;

static void step_free(step *s) {
    char **strings[] = {&s->type, &s->regex, &s->string, &s->content, &s->prepend, &s->behavior,
                        &s->replacement, &s->prepend_scheme};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) mem_free(*strings[i]);
}

static int is(const char *s, const char *value) { return s && !strcmp(s, value); }

/* What a step of a known kind does to the pipeline; any other step is noted
 * as one LiteVK cannot reproduce. */
static int apply_step(json_reader *r, const step *s, pipeline *p) {
    const char *space_mark = "\xe2\x96\x81"; /* U+2581, SentencePiece's space */
    const char *unknown = NULL;
    if (is(s->type, "Sequence")) {
        /* its steps were applied as they were read */
    } else if (is(s->type, "Split")) {
        if (!s->regex || !is(s->behavior, "Isolated") || s->invert) {
            unknown = "Split other than an isolating regular expression";
        } else {
            if (!p->split_regex && !(p->split_regex = mem_strdup(s->regex))) return json_out_of_memory(r);
            p->n_splits++;
        }
    } else if (is(s->type, "ByteLevel")) {
        if (s->add_prefix_space == 1) unknown = "ByteLevel with add_prefix_space";
        p->byte_level = 1;
        p->byte_level_regex = s->use_regex;
    } else if (is(s->type, "Digits")) {
        p->digits = 1;
        p->individual_digits = s->individual_digits;
    } else if (is(s->type, "Metaspace")) {
        if (s->replacement && !is(s->replacement, space_mark)) unknown = "Metaspace with another replacement";
        p->metaspace = 1;
        p->metaspace_prefix = s->prepend_scheme ? !is(s->prepend_scheme, "never") : s->add_prefix_space != 0;
    } else if (is(s->type, "Prepend")) {
        if (!is(s->prepend, space_mark)) unknown = "Prepend of another text than '\xe2\x96\x81'";
        p->prepend_space = 1;
    } else if (is(s->type, "Replace")) {
        if (!is(s->string, " ") || !is(s->content, space_mark)) unknown = "Replace other than ' ' by '\xe2\x96\x81'";
        p->replace_space = 1;
    } else if (!is(s->type, "NFC")) { /* Qwen2's; llama.cpp does not normalise either */
        unknown = s->type ? s->type : "a step without a type";
    }
    if (unknown && !p->unknown[0]) snprintf(p->unknown, sizeof p->unknown, "%s", unknown);
    return 0;
}

/* Reads the value of a step's member `key` (a Sequence's steps are read, and applied, as they come). */
static int read_step_member(json_reader *r, const char *key, step *s, pipeline *p, int depth) {
    struct { const char *key; char **value; } strings[] = {
        {"type", &s->type}, {"content", &s->content}, {"prepend", &s->prepend}, {"behavior", &s->behavior},
        {"replacement", &s->replacement}, {"prepend_scheme", &s->prepend_scheme},
    };
    struct { const char *key; int *value; } bools[] = {
        {"use_regex", &s->use_regex}, {"invert", &s->invert}, {"individual_digits", &s->individual_digits},
        {"add_prefix_space", &s->add_prefix_space},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        if (!strcmp(key, strings[i].key)) return read_string_or_null(r, key, strings[i].value);
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++)
        if (!strcmp(key, bools[i].key)) return read_bool_or_null(r, key, bools[i].value);
    if (!strcmp(key, "pattern")) return read_pattern(r, &s->regex, &s->string);
    if (!strcmp(key, "pretokenizers") || !strcmp(key, "normalizers")) return read_components(r, p, depth);
    return json_skip(r);
}

static int read_component(json_reader *r, pipeline *p, int depth) {
    if (json_peek(r) == 'n') return json_skip(r);
    if (json_peek(r) != '{') return json_fail(r, "a normalizer or pre-tokenizer must be an object or null");
    if (depth > MAX_COMPONENT_DEPTH) return json_fail(r, "Sequences nested more than %d deep", MAX_COMPONENT_DEPTH);
    step s = {.use_regex = 1, .add_prefix_space = -1};
    int count = 0, more, bad = 0;
    char *key;
    while (!bad && (more = json_object_next(r, &count, &key)) == 1) {
        bad = read_step_member(r, key, &s, p, depth);
        mem_free(key);
    }
    if (!bad && more == 0) bad = apply_step(r, &s, p);
    step_free(&s);
    return bad || more < 0 ? -1 : 0;
}

static int read_tokenizer_json(json_reader *r, raw_tokenizer *t) {
    int count = 0, more;
    char *key;
    if (json_peek(r) != '{') return json_fail(r, "tokenizer.json must be a JSON object");
    while ((more = json_object_next(r, &count, &key)) == 1) {
        int bad;
        if (!strcmp(key, "model")) bad = read_model(r, t);
        else if (!strcmp(key, "added_tokens")) bad = read_added_tokens(r, t);
        else if (!strcmp(key, "normalizer")) bad = read_component(r, &t->normalizer, 0);
        else if (!strcmp(key, "pre_tokenizer")) bad = read_component(r, &t->pre_tokenizer, 0);
        else bad = json_skip(r);
        mem_free(key);
        if (bad) return -1;
    }
    return more < 0 ? -1 : json_end(r);
}

/* A special token in tokenizer_config.json: its text, or {"content": text, ...}. */
static int read_special_token(json_reader *r, char **out) {
    if (json_peek(r) != '{') return read_string_or_null(r, "a special token", out);
    int count = 0, more;
    char *key;
    while ((more = json_object_next(r, &count, &key)) == 1) {
        int bad = !strcmp(key, "content") ? read_string_or_null(r, "a special token's content", out) : json_skip(r);
        mem_free(key);
        if (bad) return -1;
    }
    return more;
}

/* The chat template: a string, or a list of {"name": ..., "template": ...}
 * of which the one named "default" is taken. */
static int read_chat_template(json_reader *r, char **out) {
    if (json_peek(r) != '[') return read_string_or_null(r, "chat_template", out);
    int count = 0, more;
    while ((more = json_array_next(r, &count)) == 1) {
        int n = 0, more_keys, bad = 0;
        char *key, *name = NULL, *text = NULL;
        if (json_peek(r) != '{') return json_fail(r, "chat_template must be a string or a list of named templates");
        while (!bad && (more_keys = json_object_next(r, &n, &key)) == 1) {
            bad = !strcmp(key, "name") ? read_string_or_null(r, "a chat template's name", &name)
                : !strcmp(key, "template") ? read_string_or_null(r, "a chat template", &text)
                : json_skip(r);
            mem_free(key);
        }
        if (!bad && more_keys == 0 && is(name, "default") && text) {
            mem_free(*out);
            *out = text;
            text = NULL;
        }
        mem_free(name);
        mem_free(text);
        if (bad || more_keys < 0) return -1;
    }
    return more;
}

/* The index in special_kinds of a key "bos_token" ... "pad_token", or -1. */
static int special_kind(const char *key) {
    for (int k = 0; k < N_SPECIAL_KINDS; k++) {
        size_t n = strlen(special_kinds[k]);
        if (!strncmp(key, special_kinds[k], n) && !strcmp(key + n, "_token")) return k;
    }
    return -1;
}

static int read_tokenizer_config(json_reader *r, raw_tokenizer *t) {
    int count = 0, more;
    char *key;
    if (json_peek(r) != '{') return json_fail(r, "tokenizer_config.json must be a JSON object");
    while ((more = json_object_next(r, &count, &key)) == 1) {
        int kind = special_kind(key), bad;
        if (kind >= 0) bad = read_special_token(r, &t->special[kind]);
        else if (!strcmp(key, "add_bos_token")) bad = read_bool_or_null(r, key, &t->add_bos);
        else if (!strcmp(key, "add_eos_token")) bad = read_bool_or_null(r, key, &t->add_eos);
        else if (!strcmp(key, "add_prefix_space")) bad = read_bool_or_null(r, key, &t->add_prefix_space);
        else if (!strcmp(key, "chat_template")) bad = read_chat_template(r, &t->chat_template);
        else bad = json_skip(r);
        mem_free(key);
        if (bad) return -1;
    }
    return more < 0 ? -1 : json_end(r);
}

/* ---- building the vocabulary ------------------------------------------------------- */

/* Token text -> id, open addressing; -1 marks an empty slot. */
typedef struct token_index {
    int32_t *slots;
    uint32_t mask;
} token_index;

static uint32_t hash_text(const char *s, size_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static int text_is(const char *token, const char *s, size_t n) { return strlen(token) == n && !memcmp(token, s, n); }

static int32_t find_text(const token_index *ix, char *const *tokens, const char *s, size_t n) {
    for (uint32_t i = hash_text(s, n) & ix->mask;; i = (i + 1) & ix->mask) {
        int32_t id = ix->slots[i];
        if (id < 0 || text_is(tokens[id], s, n)) return id;
    }
}

/* When two tokens share a text the later id wins, as in the tokenizer. */
static lvk_status build_index(token_index *ix, char *const *tokens, uint32_t n) {
    uint32_t size = 1;
    while (size < 2 * n) size *= 2;
    ix->mask = size - 1;
    ix->slots = mem_malloc(size * sizeof *ix->slots);
    if (!ix->slots) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory indexing %u tokens", n);
    memset(ix->slots, 0xff, size * sizeof *ix->slots);
    for (uint32_t id = 0; id < n; id++) {
        size_t len = strlen(tokens[id]);
        uint32_t i = hash_text(tokens[id], len) & ix->mask;
        while (ix->slots[i] >= 0 && !text_is(tokens[ix->slots[i]], tokens[id], len)) i = (i + 1) & ix->mask;
        ix->slots[i] = (int32_t)id;
    }
    return LVK_OK;
}

/* "<0x0A>": SentencePiece's byte tokens */
static int is_byte_token(const char *s) {
    const char *hex = "0123456789ABCDEFabcdef";
    return strlen(s) == 6 && !memcmp(s, "<0x", 3) && strchr(hex, s[3]) && strchr(hex, s[4]) && s[5] == '>';
}

/* llama.cpp's converter makes added tokens like "<|im_start|>" control tokens
 * even when tokenizer.json does not call them special. */
static int looks_special(const char *s) {
    size_t n = strlen(s);
    return n >= 4 && !memcmp(s, "<|", 2) && !memcmp(s + n - 2, "|>", 2);
}

/* Which tokenizer the files describe: sets v->model and v->pre. */
static lvk_status decide_kind(const raw_tokenizer *t, const char *name, hf_vocab *v) {
    const pipeline *pre = &t->pre_tokenizer, *norm = &t->normalizer;
    if (!t->have_model) return status_fail(LVK_ERR_FORMAT, "%s has no 'model'", name);
    if (!is(t->model_type, "BPE"))
        return status_fail(LVK_ERR_UNSUPPORTED, "%s: model type '%.40s' is not supported (LiteVK converts BPE models)",
                        name, t->model_type ? t->model_type : "(none)");
    if (pre->unknown[0])
        return status_fail(LVK_ERR_UNSUPPORTED, "%s: pre-tokenizer step '%s' is not one LiteVK can reproduce", name,
                        pre->unknown);
    if (norm->unknown[0])
        return status_fail(LVK_ERR_UNSUPPORTED, "%s: normalizer step '%s' is not one LiteVK can reproduce", name,
                        norm->unknown);
    if (pre->byte_level) {
        if (norm->prepend_space || norm->replace_space)
            return status_fail(LVK_ERR_UNSUPPORTED, "%s: a byte-level model whose normalizer writes '\xe2\x96\x81' "
                                                 "is not supported", name);
        v->model = "gpt2";
        if (pre->n_splits == 1 && !pre->byte_level_regex && !pre->digits) {
            for (size_t i = 0; i < sizeof known_regexes / sizeof known_regexes[0]; i++)
                if (!strcmp(pre->split_regex, known_regexes[i].regex)) v->pre = known_regexes[i].pre;
            if (!v->pre)
                return status_fail(LVK_ERR_UNSUPPORTED,
                                "%s: the pre-tokenizer's regular expression '%.*s%s' is not one LiteVK knows "
                                "(Llama 3's, Qwen2's; GPT-2's ByteLevel)",
                                name, shown(pre->split_regex), pre->split_regex,
                                strlen(pre->split_regex) > 60 ? "..." : "");
        } else if (pre->n_splits == 0 && pre->byte_level_regex && !pre->digits) {
            v->pre = "gpt-2";
        } else if (pre->n_splits == 0 && pre->byte_level_regex && pre->digits && pre->individual_digits) {
            v->pre = "starcoder";
        } else {
            return status_fail(LVK_ERR_UNSUPPORTED,
                            "%s: a byte-level pre-tokenizer with %d Split expressions%s%s is not one LiteVK knows "
                            "(Llama 3's, Qwen2's; GPT-2's ByteLevel)",
                            name, pre->n_splits, pre->byte_level_regex ? ", GPT-2's expression" : "",
                            pre->digits ? ", Digits" : "");
        }
        return LVK_OK;
    }
    if (t->byte_fallback || pre->metaspace || norm->replace_space) {
        if (pre->n_splits || pre->digits)
            return status_fail(LVK_ERR_UNSUPPORTED, "%s: a SentencePiece-style model with a Split or Digits "
                                                 "pre-tokenizer is not supported", name);
        v->model = "llama";
        v->pre = "default";
        v->add_space_prefix = norm->prepend_space || (pre->metaspace && pre->metaspace_prefix);
        if (t->add_prefix_space != -1) v->add_space_prefix = t->add_prefix_space; /* as llama.cpp */
        return LVK_OK;
    }
    return status_fail(LVK_ERR_UNSUPPORTED, "%s: a BPE model with neither a ByteLevel pre-tokenizer nor "
                                         "SentencePiece's byte fallback or '\xe2\x96\x81' is not supported", name);
}

/* Lays the tokens out by id: the model's vocabulary, the added tokens, and
 * "[PADn]" for ids neither uses up to config.json's vocab_size. Moves the
 * texts out of t. */
static lvk_status lay_out_tokens(raw_tokenizer *t, const char *name, const hf_config *config, hf_vocab *v) {
    int64_t max_id = -1;
    const entries *lists[] = {&t->vocab, &t->added};
    for (int l = 0; l < 2; l++)
        for (uint64_t i = 0; i < lists[l]->n; i++) {
            int64_t id = lists[l]->items[i].id;
            if (id < 0 || id >= MAX_VOCAB)
                return status_fail(LVK_ERR_FORMAT, "%s: token '%.*s' has id %lld (0..%d allowed)", name,
                                shown(lists[l]->items[i].text), lists[l]->items[i].text, (long long)id, MAX_VOCAB - 1);
            if (id > max_id) max_id = id;
        }
    if (max_id < 0) return status_fail(LVK_ERR_FORMAT, "%s has no tokens", name);
    if (config && config->vocab_size <= max_id)
        return status_fail(LVK_ERR_FORMAT, "config.json's vocab_size %lld is too small for %s's token id %lld",
                        (long long)config->vocab_size, name, (long long)max_id);
    v->n_tokens = (uint32_t)(config ? config->vocab_size : max_id + 1);
    v->tokens = mem_calloc(v->n_tokens, sizeof *v->tokens);
    v->types = mem_malloc(v->n_tokens * sizeof *v->types);
    if (!v->tokens || !v->types) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory for %u tokens", v->n_tokens);
    for (uint64_t i = 0; i < t->vocab.n; i++) {
        vocab_entry *e = &t->vocab.items[i];
        if (v->tokens[e->id])
            return status_fail(LVK_ERR_FORMAT, "%s: tokens '%.*s' and '%.*s' both have id %lld", name,
                            shown(v->tokens[e->id]), v->tokens[e->id], shown(e->text), e->text, (long long)e->id);
        v->tokens[e->id] = e->text;
        v->types[e->id] = TOKEN_NORMAL;
        e->text = NULL;
    }
    for (uint64_t i = 0; i < t->added.n; i++) {
        vocab_entry *e = &t->added.items[i];
        if (v->tokens[e->id] && strcmp(v->tokens[e->id], e->text))
            return status_fail(LVK_ERR_FORMAT, "%s: id %lld is '%.*s' in model.vocab but '%.*s' in added_tokens", name,
                            (long long)e->id, shown(v->tokens[e->id]), v->tokens[e->id], shown(e->text), e->text);
        if (!v->tokens[e->id]) {
            v->tokens[e->id] = e->text;
            e->text = NULL;
        }
        v->types[e->id] = e->special || looks_special(v->tokens[e->id]) ? TOKEN_CONTROL : TOKEN_USER_DEFINED;
    }
    for (uint32_t id = 0; id < v->n_tokens; id++) {
        if (v->tokens[id]) continue;
        char pad[32];
        snprintf(pad, sizeof pad, "[PAD%u]", id);
        if (!(v->tokens[id] = mem_strdup(pad))) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
        v->types[id] = TOKEN_UNUSED;
    }
    return LVK_OK;
}

/* Every merge names two tokens whose concatenation is a token (Hugging
 * Face's tokenizers and LiteVK's refuse anything else). A SentencePiece-style
 * vocabulary scores its tokens by the first merge that makes them. */
static lvk_status check_merges(const raw_tokenizer *t, const char *name, const token_index *ix, hf_vocab *v) {
    int spm = !strcmp(v->model, "llama");
    if (spm) {
        if (!(v->scores = mem_malloc(v->n_tokens * sizeof *v->scores)))
            return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
        for (uint32_t id = 0; id < v->n_tokens; id++) v->scores[id] = 1; /* 1: not made by a merge yet */
    }
    if (!spm && t->n_merges == 0) return status_fail(LVK_ERR_FORMAT, "%s: a byte-level BPE model needs its merges", name);
    char *joined = NULL;
    size_t cap = 0;
    lvk_status s = LVK_OK;
    for (uint64_t i = 0; i < t->n_merges && s == LVK_OK; i++) {
        const char *m = t->merges[i];
        size_t len = strlen(m);
        /* the separator is the first space after the first byte, as the tokenizer splits */
        const char *space = len > 1 ? strchr(m + 1, ' ') : NULL;
        if (!space) {
            s = status_fail(LVK_ERR_FORMAT, "%s: merge %llu '%.*s' is not two tokens separated by a space", name,
                         (unsigned long long)i, shown(m), m);
            break;
        }
        size_t n_left = (size_t)(space - m), n_right = len - n_left - 1;
        int32_t left = find_text(ix, v->tokens, m, n_left), right = find_text(ix, v->tokens, space + 1, n_right);
        if (left < 0 || right < 0) {
            size_t n_named = left < 0 ? n_left : n_right;
            s = status_fail(LVK_ERR_FORMAT, "%s: merge %llu '%.*s' names '%.*s', which is not a token", name,
                         (unsigned long long)i, shown(m), m, (int)(n_named < 60 ? n_named : 60),
                         left < 0 ? m : space + 1);
            break;
        }
        if (len > cap) {
            char *grown = mem_realloc(joined, 2 * len);
            if (!grown) {
                s = status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
                break;
            }
            joined = grown;
            cap = 2 * len;
        }
        memcpy(joined, m, n_left);
        memcpy(joined + n_left, space + 1, n_right);
        int32_t result = find_text(ix, v->tokens, joined, n_left + n_right);
        if (result < 0)
            s = status_fail(LVK_ERR_FORMAT, "%s: merge %llu '%.*s' makes '%.*s', which is not a token", name,
                         (unsigned long long)i, shown(m), m, (int)(n_left + n_right < 60 ? n_left + n_right : 60),
                         joined);
        else if (spm && v->scores[result] > 0)
            v->scores[result] = -(float)i;
    }
    mem_free(joined);
    if (s != LVK_OK || !spm) return s;
    for (uint32_t id = 0; id < v->n_tokens; id++)
        if (v->scores[id] > 0) v->scores[id] = v->types[id] == TOKEN_NORMAL ? -(float)t->n_merges : 0;
    return LVK_OK;
}

/* Special token ids: tokenizer_config.json's texts looked up among the added
 * tokens, then config.json's ids, then (unknown only) the model's unk_token;
 * as llama.cpp's converter. */
static lvk_status find_specials(const raw_tokenizer *t, const token_index *ix, const hf_config *config,
                                const char *name, hf_vocab *v) {
    int32_t *ids[N_SPECIAL_KINDS] = {&v->bos, &v->eos, &v->unk, &v->pad};
    int64_t from_config[N_SPECIAL_KINDS] = {-1, -1, -1, -1};
    if (config) {
        from_config[0] = config->bos_token_id;
        from_config[1] = config->eos_token_id;
        from_config[2] = config->unk_token_id;
        from_config[3] = config->pad_token_id;
    }
    for (int k = 0; k < N_SPECIAL_KINDS; k++) {
        *ids[k] = -1;
        for (uint64_t i = 0; i < t->added.n && *ids[k] < 0 && t->special[k]; i++)
            if (!strcmp(v->tokens[t->added.items[i].id], t->special[k])) *ids[k] = (int32_t)t->added.items[i].id;
        if (*ids[k] >= 0 || from_config[k] < 0) continue;
        if (from_config[k] >= v->n_tokens)
            return status_fail(LVK_ERR_FORMAT, "config.json's %s_token_id %lld is not below the %u tokens of %s",
                            special_kinds[k], (long long)from_config[k], v->n_tokens, name);
        *ids[k] = (int32_t)from_config[k];
    }
    if (v->unk < 0 && t->unk_token) v->unk = find_text(ix, v->tokens, t->unk_token, strlen(t->unk_token));
    /* SentencePiece's unknown token keeps its type, as in tokenizer.model */
    if (v->unk >= 0 && !strcmp(v->model, "llama")) v->types[v->unk] = TOKEN_UNKNOWN;
    return LVK_OK;
}

static lvk_status build(raw_tokenizer *t, const char *name, const hf_config *config, hf_vocab *v) {
    LVK_TRY(decide_kind(t, name, v));
    LVK_TRY(lay_out_tokens(t, name, config, v));
    if (!strcmp(v->model, "llama"))
        for (uint32_t id = 0; id < v->n_tokens; id++)
            if (v->types[id] == TOKEN_NORMAL && is_byte_token(v->tokens[id])) v->types[id] = TOKEN_BYTE;
    token_index ix;
    LVK_TRY(build_index(&ix, v->tokens, v->n_tokens));
    lvk_status s = check_merges(t, name, &ix, v);
    if (s == LVK_OK) s = find_specials(t, &ix, config, name, v);
    mem_free(ix.slots);
    if (s != LVK_OK) return s;
    if (!strcmp(v->model, "gpt2")) { /* the merges are written as they are */
        v->merges = t->merges;
        v->n_merges = (uint32_t)t->n_merges;
        t->merges = NULL;
        t->n_merges = 0;
    }
    v->add_bos = t->add_bos;
    v->add_eos = t->add_eos;
    v->chat_template = t->chat_template;
    t->chat_template = NULL;
    return LVK_OK;
}

lvk_status hf_vocab_parse(const char *json, size_t json_len, const char *json_name,
                          const char *tokenizer_config, size_t config_len, const char *config_name,
                          const hf_config *config, hf_vocab *out) {
    if ((!json && json_len) || !json_name || !config_name || !out)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "hf_vocab_parse: NULL argument");
    *out = (hf_vocab){.bos = -1, .eos = -1, .unk = -1, .pad = -1, .add_bos = -1, .add_eos = -1,
                      .add_space_prefix = -1};
    raw_tokenizer t = {.add_bos = -1, .add_eos = -1, .add_prefix_space = -1};
    json_reader r;
    json_init(&r, json, json_len, 1);
    lvk_status s = read_tokenizer_json(&r, &t) ? json_status(&r, json_name) : LVK_OK;
    if (s == LVK_OK && tokenizer_config) {
        json_init(&r, tokenizer_config, config_len, 1);
        if (read_tokenizer_config(&r, &t)) s = json_status(&r, config_name);
    }
    if (s == LVK_OK) s = build(&t, json_name, config, out);
    raw_free(&t);
    if (s != LVK_OK) hf_vocab_free(out);
    return s;
}

void hf_vocab_free(hf_vocab *v) {
    if (!v) return;
    for (uint32_t i = 0; v->tokens && i < v->n_tokens; i++) mem_free(v->tokens[i]);
    for (uint32_t i = 0; i < v->n_merges; i++) mem_free(v->merges[i]);
    mem_free(v->tokens);
    mem_free(v->types);
    mem_free(v->scores);
    mem_free(v->merges);
    mem_free(v->chat_template);
    *v = (hf_vocab){.bos = -1, .eos = -1, .unk = -1, .pad = -1, .add_bos = -1, .add_eos = -1, .add_space_prefix = -1};
}

/* ---- files ----------------------------------------------------------------------------- */

static char *join_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = mem_malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

lvk_status hf_vocab_load(const char *dir, const hf_config *config, hf_vocab *out) {
    if (!dir || !out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "hf_vocab_load: NULL argument");
    char *json_path = join_path(dir, "tokenizer.json"), *config_path = join_path(dir, "tokenizer_config.json");
    char *model_path = join_path(dir, "tokenizer.model"), *template_path = join_path(dir, "chat_template.jinja");
    mapped_file json = {0}, tok_config = {0}, jinja = {0};
    lvk_status s = LVK_OK;
    if (!json_path || !config_path || !model_path || !template_path)
        s = status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
    else if (access(json_path, F_OK) != 0)
        s = status_fail(LVK_ERR_IO, "'%s' has no tokenizer.json%s", dir,
                     access(model_path, F_OK) == 0 ? ", only tokenizer.model (SentencePiece's), which LiteVK does not read"
                                                   : " (LiteVK converts the vocabulary from it)");
    if (s == LVK_OK) s = map_file(json_path, &json);
    int have_config = s == LVK_OK && access(config_path, F_OK) == 0;
    if (have_config) s = map_file(config_path, &tok_config);
    /* an empty tokenizer_config.json is there, and not valid JSON */
    const char *config_text = !have_config ? NULL : tok_config.data ? (const char *)tok_config.data : "";
    if (s == LVK_OK)
        s = hf_vocab_parse((const char *)json.data, (size_t)json.size, json_path, config_text,
                           (size_t)tok_config.size, config_path, config, out);
    if (s == LVK_OK && !out->chat_template && access(template_path, F_OK) == 0) {
        s = map_file(template_path, &jinja);
        if (s == LVK_OK && !(out->chat_template = mem_malloc((size_t)jinja.size + 1)))
            s = status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
        if (s == LVK_OK) {
            if (jinja.size) memcpy(out->chat_template, jinja.data, (size_t)jinja.size);
            out->chat_template[jinja.size] = 0;
        }
        if (s != LVK_OK) hf_vocab_free(out);
    }
    unmap_file(&jinja);
    unmap_file(&tok_config);
    unmap_file(&json);
    mem_free(json_path);
    mem_free(config_path);
    mem_free(model_path);
    mem_free(template_path);
    return s;
}

/* ---- GGUF -------------------------------------------------------------------------------- */

lvk_status hf_vocab_write(const hf_vocab *v, gguf_writer *w) {
    LVK_TRY(gguf_writer_add_str(w, "tokenizer.ggml.model", v->model));
    LVK_TRY(gguf_writer_add_str(w, "tokenizer.ggml.pre", v->pre));
    LVK_TRY(gguf_writer_add_str_arr(w, "tokenizer.ggml.tokens", (const char *const *)v->tokens, v->n_tokens));
    if (v->scores) LVK_TRY(gguf_writer_add_f32_arr(w, "tokenizer.ggml.scores", v->scores, v->n_tokens));
    LVK_TRY(gguf_writer_add_i32_arr(w, "tokenizer.ggml.token_type", v->types, v->n_tokens));
    if (v->merges) LVK_TRY(gguf_writer_add_str_arr(w, "tokenizer.ggml.merges", (const char *const *)v->merges, v->n_merges));
    const struct { const char *key; int32_t id; } ids[] = {
        {"tokenizer.ggml.bos_token_id", v->bos}, {"tokenizer.ggml.eos_token_id", v->eos},
        {"tokenizer.ggml.unknown_token_id", v->unk}, {"tokenizer.ggml.padding_token_id", v->pad},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        if (ids[i].id >= 0) LVK_TRY(gguf_writer_add_u32(w, ids[i].key, (uint32_t)ids[i].id));
    const struct { const char *key; int value; } flags[] = {
        {"tokenizer.ggml.add_bos_token", v->add_bos}, {"tokenizer.ggml.add_eos_token", v->add_eos},
        {"tokenizer.ggml.add_space_prefix", v->add_space_prefix},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (flags[i].value >= 0) LVK_TRY(gguf_writer_add_bool(w, flags[i].key, flags[i].value));
    if (v->chat_template) LVK_TRY(gguf_writer_add_str(w, "tokenizer.chat_template", v->chat_template));
    return LVK_OK;
}
