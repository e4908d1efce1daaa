/* pretokenize.c — the pre-tokenizers' regular expressions as scanners.
 *
 * Each scanner tries the alternatives of its expression in order at the
 * word's first code point and returns where the first that matches ends, as
 * a backtracking regex engine (and llama.cpp's own scanners) would. Reading
 * past the text gives NONE, which no class matches; StarCoder's rule reads
 * the text up to the next \p{N} that way, since llama.cpp first splits the
 * digits off and then runs GPT-2's expression on each piece between them.
 */
#include "model/pretokenize.h"

#include "model/unicode.h"

#include <string.h>

const pretokenizer pretokenizers[] = {
    {.name = "llama-bpe", .rule = PRETOKENIZE_LLAMA3, .ignore_merges = 1, .add_bos = 1},
    {.name = "llama3", .rule = PRETOKENIZE_LLAMA3, .ignore_merges = 1, .add_bos = 1},
    {.name = "llama-v3", .rule = PRETOKENIZE_LLAMA3, .ignore_merges = 1, .add_bos = 1},
    {.name = "qwen2", .rule = PRETOKENIZE_QWEN2},
    {.name = "deepseek-r1-qwen", .rule = PRETOKENIZE_QWEN2},
    {.name = "gpt-2", .rule = PRETOKENIZE_GPT2},
    {.name = "starcoder", .rule = PRETOKENIZE_STARCODER},
    {.name = "refact", .rule = PRETOKENIZE_STARCODER},
    {.name = "smollm", .rule = PRETOKENIZE_STARCODER},
    {.name = "default", .rule = PRETOKENIZE_GPT2},
};
const int n_pretokenizers = sizeof pretokenizers / sizeof pretokenizers[0];

const pretokenizer *pretokenizer_find(const char *name, size_t len) {
    for (int i = 0; i < n_pretokenizers; i++)
        if (strlen(pretokenizers[i].name) == len && memcmp(pretokenizers[i].name, name, len) == 0)
            return &pretokenizers[i];
    return NULL;
}

/* ---- reading the text ----------------------------------------------------- */

#define NONE UINT32_MAX /* a code point past the end of the text the rule sees */

typedef struct text {
    const uint32_t *cps;
    size_t n;
    int stop_at_number; /* StarCoder: the text ends before the next \p{N} */
} text;

static uint32_t char_at(const text *t, size_t i) {
    if (i >= t->n) return NONE;
    if (t->stop_at_number && unicode_category_of(t->cps[i]) == UNICODE_NUMBER) return NONE;
    return t->cps[i];
}

/* Whether the code point at i exists and is of category c. */
static int is(const text *t, size_t i, unicode_category c) {
    uint32_t cp = char_at(t, i);
    return cp != NONE && unicode_category_of(cp) == c;
}

/* The end of the run of category c that starts at i. */
static size_t run_end(const text *t, size_t i, unicode_category c) {
    while (is(t, i, c)) i++;
    return i;
}

/* 's|'t|'re|'ve|'m|'ll|'d, or with ignore_case (?i:...) of the same: the end
 * of the match at pos, or 0. Only ASCII letters fold: no other code point
 * lowercases to one of these letters. */
static size_t contraction_end(const text *t, size_t pos, int ignore_case) {
    if (char_at(t, pos) != '\'') return 0;
    uint32_t a = char_at(t, pos + 1), b = char_at(t, pos + 2);
    if (ignore_case) {
        if (a >= 'A' && a <= 'Z') a += 'a' - 'A';
        if (b >= 'A' && b <= 'Z') b += 'a' - 'A';
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return pos + 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return pos + 3;
    return 0;
}

/* \s+(?!\S)|\s+ at pos: a run of white space, less its last code point when
 * something follows it (that one then leads the next word). At least one
 * code point, so that every scanner advances. */
static size_t space_end(const text *t, size_t pos) {
    size_t end = run_end(t, pos, UNICODE_SPACE);
    if (end - pos > 1 && char_at(t, end) != NONE) return end - 1;
    return end > pos ? end : pos + 1;
}

/* ---- the rules ------------------------------------------------------------ */

static size_t gpt2_word_end(const text *t, size_t pos) {
    size_t end = contraction_end(t, pos, 0);
    if (end) return end;
    /* ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': one optional space, then a run */
    size_t first = pos + (char_at(t, pos) == ' ');
    if (is(t, first, UNICODE_LETTER)) return run_end(t, first, UNICODE_LETTER);
    if (is(t, first, UNICODE_NUMBER)) return run_end(t, first, UNICODE_NUMBER);
    if (is(t, first, UNICODE_OTHER)) return run_end(t, first, UNICODE_OTHER);
    return space_end(t, pos);
}

static int is_newline(uint32_t cp) { return cp == '\r' || cp == '\n'; }

static size_t llama3_word_end(const text *t, size_t pos, size_t max_digits) {
    size_t end = contraction_end(t, pos, 1);
    if (end) return end;

    /* [^\r\n\p{L}\p{N}]?\p{L}+: letters, after at most one code point that is
     * neither a newline nor a letter or number */
    uint32_t cp = char_at(t, pos);
    if (!is_newline(cp) && !is(t, pos, UNICODE_NUMBER) &&
        (is(t, pos, UNICODE_LETTER) || is(t, pos + 1, UNICODE_LETTER)))
        return run_end(t, pos + 1, UNICODE_LETTER);

    /* \p{N}{1,3} (Llama 3) or \p{N} (Qwen2) */
    if (is(t, pos, UNICODE_NUMBER)) {
        end = pos;
        while (end - pos < max_digits && is(t, end, UNICODE_NUMBER)) end++;
        return end;
    }

    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    size_t first = pos + (cp == ' ');
    if (is(t, first, UNICODE_OTHER)) {
        end = run_end(t, first, UNICODE_OTHER);
        while (is_newline(char_at(t, end))) end++;
        return end;
    }

    /* \s*[\r\n]+: white space up to its last newline */
    size_t newline_end = 0;
    for (end = pos; is(t, end, UNICODE_SPACE); end++)
        if (is_newline(char_at(t, end))) newline_end = end + 1;
    if (newline_end) return newline_end;
    return space_end(t, pos);
}

size_t pretokenize_word_end(pretokenize_rule rule, const uint32_t *cps, size_t pos, size_t n) {
    text t = {.cps = cps, .n = n};
    switch (rule) {
    case PRETOKENIZE_GPT2: return gpt2_word_end(&t, pos);
    case PRETOKENIZE_STARCODER:
        if (unicode_category_of(cps[pos]) == UNICODE_NUMBER) return pos + 1;
        t.stop_at_number = 1;
        return gpt2_word_end(&t, pos);
    case PRETOKENIZE_LLAMA3: return llama3_word_end(&t, pos, 3);
    case PRETOKENIZE_QWEN2: return llama3_word_end(&t, pos, 1);
    }
    return pos + 1;
}
