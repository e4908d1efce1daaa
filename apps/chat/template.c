/* template.c — see template.h. */
#include "template.h"

#include <stdlib.h>
#include <string.h>

static const char *const names[] = {
    [TEMPLATE_RAW] = "raw",
    [TEMPLATE_ALPACA] = "alpaca",
    [TEMPLATE_LLAMA2] = "llama2",
    [TEMPLATE_CHATML] = "chatml",
};
enum { N_TEMPLATES = sizeof names / sizeof names[0] };

int template_parse(const char *name) {
    if (!name) return -1;
    for (int t = 0; t < N_TEMPLATES; t++)
        if (!strcmp(name, names[t])) return t;
    return -1;
}

const char *template_name(chat_template t) { return (unsigned)t < N_TEMPLATES ? names[t] : "?"; }

chat_template template_detect(const char *jinja) {
    if (!jinja) return TEMPLATE_RAW;
    if (strstr(jinja, "<|im_start|>")) return TEMPLATE_CHATML;
    if (strstr(jinja, "[INST]")) return TEMPLATE_LLAMA2;
    if (strstr(jinja, "### Instruction")) return TEMPLATE_ALPACA;
    return TEMPLATE_RAW;
}

/* A user turn is the text between a prefix and a suffix; the first turn of a
 * conversation has its own prefix (Alpaca's preamble; no leading separator). */
typedef struct turn_format {
    const char *first, *later, *suffix;
} turn_format;

/* Stanford Alpaca's PROMPT_DICT "prompt_no_input", as LITE trained on it. */
#define ALPACA_PREAMBLE                                                                                     \
    "Below is an instruction that describes a task. Write a response that appropriately completes the " \
    "request."

static const turn_format formats[] = {
    [TEMPLATE_RAW] = {"", "", ""},
    [TEMPLATE_ALPACA] = {ALPACA_PREAMBLE "\n\n### Instruction:\n", "\n\n### Instruction:\n", "\n\n### Response:\n"},
    /* BOS and EOS around each exchange are tokens, added by the session */
    [TEMPLATE_LLAMA2] = {"[INST] ", " [INST] ", " [/INST]"},
    /* the reply's "<|im_end|>" is a stop string: it is not in the context
     * when the next turn comes, which starts on a new line */
    [TEMPLATE_CHATML] = {"<|im_start|>user\n", "\n<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n"},
};

char *template_user_turn(chat_template t, const char *user_text, int first) {
    const turn_format *f = &formats[(unsigned)t < N_TEMPLATES ? t : TEMPLATE_RAW];
    const char *prefix = first ? f->first : f->later;
    size_t np = strlen(prefix), nt = strlen(user_text), ns = strlen(f->suffix);
    char *s = malloc(np + nt + ns + 1);
    if (!s) return NULL;
    memcpy(s, prefix, np);
    memcpy(s + np, user_text, nt);
    memcpy(s + np + nt, f->suffix, ns + 1);
    return s;
}

const char *const *template_stops(chat_template t) {
    static const char *const none[] = {NULL};
    static const char *const alpaca[] = {"### Instruction:", NULL};
    static const char *const llama2[] = {"[INST]", NULL};
    static const char *const chatml[] = {"<|im_end|>", "<|im_start|>", NULL};
    switch (t) {
    case TEMPLATE_ALPACA: return alpaca;
    case TEMPLATE_LLAMA2: return llama2;
    case TEMPLATE_CHATML: return chatml;
    default: return none;
    }
}

void stop_matcher_init(stop_matcher *m, const char *const *stops) { *m = (stop_matcher){.stops = stops}; }

/* The earliest start of a stop string in text[from..len), or -1. */
static long find_stop(const stop_matcher *m, size_t from) {
    long best = -1;
    for (const char *const *s = m->stops; s && *s; s++) {
        const char *hit = memmem(m->text + from, m->len - from, *s, strlen(*s));
        if (hit && (best < 0 || hit - m->text < best)) best = hit - m->text;
    }
    return best;
}

/* The length of the longest end of the text that is the start of a stop
 * string (and not a whole one): bytes that a later piece may turn into a stop. */
static size_t held_back(const stop_matcher *m) {
    size_t held = 0;
    for (const char *const *s = m->stops; s && *s; s++) {
        size_t n = strlen(*s);
        for (size_t k = n - 1 < m->len ? n - 1 : m->len; k > held; k--)
            if (!memcmp(m->text + m->len - k, *s, k)) {
                held = k;
                break;
            }
    }
    return held;
}

long stop_matcher_feed(stop_matcher *m, const char *piece, size_t len) {
    if (m->stopped) return (long)m->stop_at; /* the reply has ended: the rest is not part of it */
    /* The text is kept NUL-terminated, for the caller to use as a string. */
    if (m->len + len + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 256;
        while (cap < m->len + len + 1) cap *= 2;
        char *text = realloc(m->text, cap);
        if (!text) return -1;
        m->text = text;
        m->cap = cap;
    }
    /* A stop string that this piece completes ends in it, so it starts at most
     * its length - 1 bytes before: earlier text was searched already. */
    size_t longest = 0;
    for (const char *const *s = m->stops; s && *s; s++)
        if (strlen(*s) > longest) longest = strlen(*s);
    size_t from = longest && m->len >= longest ? m->len - (longest - 1) : 0;
    memcpy(m->text + m->len, piece, len);
    m->len += len;
    m->text[m->len] = '\0';

    long stop = find_stop(m, from);
    if (stop >= 0) {
        m->stopped = 1;
        m->stop_at = (size_t)stop;
        return stop;
    }
    return (long)(m->len - held_back(m));
}

void stop_matcher_free(stop_matcher *m) {
    free(m->text);
    *m = (stop_matcher){0};
}
