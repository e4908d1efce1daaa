/* chat_format.c — the chat formats (see chat_format.h).
 *
 * A format is a table of strings: what opens and closes a message of each
 * role, what opens the assistant's turn when a reply is wanted, and the few
 * rules some formats add: a turn that "[INST]" opens and a reply closes,
 * content stripped of white space, a system message folded into the next
 * user message. For the formats llama.cpp has, the text is what its
 * llm_chat_apply_template writes (tests/test_chat_format.c compares with its
 * expected outputs); "llama2" is Meta's format with BOS and EOS around every
 * exchange, "zephyr" ends messages with "</s>" as Zephyr-7B and
 * TinyLlama-Chat do, and "alpaca" is Stanford Alpaca's, which LITE trains on. */
#include "model/chat_format.h"

#include "alloc.h"
#include "status.h"

#include <stdio.h>
#include <string.h>

enum role { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT, N_ROLES };
static const char *const role_names[N_ROLES] = {"system", "user", "assistant"};

typedef enum trim { TRIM_NONE, TRIM_ASSISTANT, TRIM_ALL } trim;

struct chat_format {
    const char *name;
    const char *open[N_ROLES], *close[N_ROLES]; /* NULL: nothing */
    const char *generation;                     /* opens the assistant's turn: the model continues it */
    /* "[INST]" formats: a message that starts the conversation, or follows a
     * reply, opens a turn first (with first_turn, then later_turn); a reply
     * closes it */
    const char *first_turn, *later_turn;
    const char *preamble;       /* before the first user message when no system message came first */
    const char *system_in_user; /* no system role: system content opens the next user message, then this */
    trim trim;                  /* white space around content that the format's template strips */
    const char *const *stops;
};

/* Stanford Alpaca's PROMPT_DICT "prompt_no_input", as LITE trained on it. */
#define ALPACA_PREAMBLE \
    "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"

static const char *const no_stops[] = {NULL};
static const char *const alpaca_stops[] = {"### Instruction:", NULL};
static const char *const inst_stops[] = {"[INST]", NULL};
static const char *const llama3_stops[] = {"<|eot_id|>", "<|start_header_id|>", NULL};
static const char *const chatml_stops[] = {"<|im_end|>", "<|im_start|>", NULL};
static const char *const zephyr_stops[] = {"</s>", "<|user|>", NULL};
static const char *const phi3_stops[] = {"<|end|>", "<|user|>", NULL};
static const char *const gemma_stops[] = {"<end_of_turn>", "<start_of_turn>", NULL};

static const chat_format raw = {.name = "raw", .stops = no_stops};

static const chat_format alpaca = {
    .name = "alpaca",
    .open = {[ROLE_USER] = "### Instruction:\n"},
    .close = {[ROLE_SYSTEM] = "\n\n", [ROLE_USER] = "\n\n### Response:\n", [ROLE_ASSISTANT] = "\n\n"},
    .preamble = ALPACA_PREAMBLE,
    .stops = alpaca_stops,
};

/* <s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {reply} </s><s>[INST] {user} [/INST]
 * (the first BOS is the tokenizer's) */
static const chat_format llama2 = {
    .name = "llama2",
    .open = {[ROLE_SYSTEM] = "<<SYS>>\n", [ROLE_ASSISTANT] = " "},
    .close = {[ROLE_SYSTEM] = "\n<</SYS>>\n\n", [ROLE_USER] = " [/INST]", [ROLE_ASSISTANT] = " </s>"},
    .first_turn = "[INST] ",
    .later_turn = "<s>[INST] ",
    .stops = inst_stops,
};

static const chat_format mistral_v1 = {
    .name = "mistral-v1",
    .open = {[ROLE_ASSISTANT] = " "},
    .close = {[ROLE_SYSTEM] = "\n\n", [ROLE_USER] = " [/INST]", [ROLE_ASSISTANT] = "</s>"},
    .first_turn = " [INST] ",
    .later_turn = " [INST] ",
    .stops = inst_stops,
};

static const chat_format mistral_v3 = {
    .name = "mistral-v3",
    .open = {[ROLE_ASSISTANT] = " "},
    .close = {[ROLE_SYSTEM] = "\n\n", [ROLE_USER] = "[/INST]", [ROLE_ASSISTANT] = "</s>"},
    .first_turn = "[INST] ",
    .later_turn = "[INST] ",
    .trim = TRIM_ASSISTANT,
    .stops = inst_stops,
};

static const chat_format mistral_v7 = {
    .name = "mistral-v7",
    .open = {[ROLE_SYSTEM] = "[SYSTEM_PROMPT] ", [ROLE_USER] = "[INST] ", [ROLE_ASSISTANT] = " "},
    .close = {[ROLE_SYSTEM] = "[/SYSTEM_PROMPT]", [ROLE_USER] = "[/INST]", [ROLE_ASSISTANT] = "</s>"},
    .stops = inst_stops,
};

static const chat_format llama3 = {
    .name = "llama3",
    .open = {[ROLE_SYSTEM] = "<|start_header_id|>system<|end_header_id|>\n\n",
             [ROLE_USER] = "<|start_header_id|>user<|end_header_id|>\n\n",
             [ROLE_ASSISTANT] = "<|start_header_id|>assistant<|end_header_id|>\n\n"},
    .close = {"<|eot_id|>", "<|eot_id|>", "<|eot_id|>"},
    .generation = "<|start_header_id|>assistant<|end_header_id|>\n\n",
    .trim = TRIM_ALL,
    .stops = llama3_stops,
};

static const chat_format chatml = {
    .name = "chatml",
    .open = {"<|im_start|>system\n", "<|im_start|>user\n", "<|im_start|>assistant\n"},
    .close = {"<|im_end|>\n", "<|im_end|>\n", "<|im_end|>\n"},
    .generation = "<|im_start|>assistant\n",
    .stops = chatml_stops,
};

static const chat_format zephyr = {
    .name = "zephyr",
    .open = {"<|system|>\n", "<|user|>\n", "<|assistant|>\n"},
    .close = {"</s>\n", "</s>\n", "</s>\n"},
    .generation = "<|assistant|>\n",
    .stops = zephyr_stops,
};

static const chat_format phi3 = {
    .name = "phi3",
    .open = {"<|system|>\n", "<|user|>\n", "<|assistant|>\n"},
    .close = {"<|end|>\n", "<|end|>\n", "<|end|>\n"},
    .generation = "<|assistant|>\n",
    .stops = phi3_stops,
};

static const chat_format gemma = {
    .name = "gemma",
    .open = {[ROLE_USER] = "<start_of_turn>user\n", [ROLE_ASSISTANT] = "<start_of_turn>model\n"},
    .close = {[ROLE_USER] = "<end_of_turn>\n", [ROLE_ASSISTANT] = "<end_of_turn>\n"},
    .generation = "<start_of_turn>model\n",
    .system_in_user = "\n\n",
    .trim = TRIM_ALL,
    .stops = gemma_stops,
};

const chat_format *const chat_formats[] = {&raw,    &alpaca, &llama2, &mistral_v1, &mistral_v3, &mistral_v7,
                                           &llama3, &chatml, &zephyr, &phi3,       &gemma};
const int n_chat_formats = sizeof chat_formats / sizeof chat_formats[0];

const char *chat_format_name(const chat_format *f) { return f->name; }
const char *const *chat_format_stop_strings(const chat_format *f) { return f->stops; }

/* ---- finding a format ---------------------------------------------------- */

typedef struct text {
    const char *ptr;
    size_t len;
} text;

static int has(text t, const char *marker) { return memmem(t.ptr, t.len, marker, strlen(marker)) != NULL; }

/* The format a Jinja template is written for, by the markers that tell the
 * formats apart (the order matters: Mistral's templates say "[INST]" too),
 * as llama.cpp's llm_chat_detect_template; NULL when none. */
static const chat_format *detect(text t) {
    if (has(t, "<|im_start|>")) return has(t, "<|im_sep|>") ? NULL : &chatml; /* Phi-4: not ChatML's separator */
    if (has(t, "[INST]")) {
        if (has(t, "[SYSTEM_PROMPT]")) return &mistral_v7;
        /* Mistral's official v1 and v3 templates */
        if (has(t, "' [INST] ' + system_message") || has(t, "[AVAILABLE_TOOLS]")) {
            if (has(t, " [INST]")) return &mistral_v1;
            return has(t, "\"[INST]\"") ? NULL : &mistral_v3; /* v3-tekken: without v3's spaces */
        }
        return &llama2;
    }
    if (has(t, "<|assistant|>") && has(t, "<|end|>")) return &phi3;
    if (has(t, "<|user|>")) return &zephyr;
    if (has(t, "<start_of_turn>")) return &gemma;
    if (has(t, "<|start_header_id|>")) return &llama3;
    if (has(t, "### Instruction")) return &alpaca;
    return NULL;
}

/* "raw, alpaca, ..., gemma" */
static void list_names(char *out, size_t size) {
    out[0] = 0;
    for (int i = 0; i < n_chat_formats; i++) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", i ? ", " : "", chat_formats[i]->name);
    }
}

lvk_status chat_format_find(const char *s, size_t len, const chat_format **out) {
    text t = {s, len};
    for (int i = 0; i < n_chat_formats; i++)
        if (strlen(chat_formats[i]->name) == len && !memcmp(chat_formats[i]->name, s, len)) {
            *out = chat_formats[i];
            return LVK_OK;
        }
    if ((*out = detect(t))) return LVK_OK;
    char known[256];
    list_names(known, sizeof known);
    if (has(t, "{%") || has(t, "{{"))
        return status_fail(LVK_ERR_UNSUPPORTED,
                        "the chat template is none of the formats LiteVK knows (%s): name one instead", known);
    return status_fail(LVK_ERR_INVALID_ARGUMENT, "chat format '%.*s' is unknown: LiteVK knows %s (or a Jinja chat "
                    "template written for one of them)", len > 40 ? 40 : (int)len, s, known);
}

/* ---- rendering ---------------------------------------------------------------- */

static lvk_status put(chat_pieces *p, const char *s, size_t len, int message, chat_part part) {
    if (!s || len == 0) return LVK_OK;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 32;
        chat_piece *items = mem_realloc(p->items, cap * sizeof *items);
        if (!items) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory formatting a conversation");
        p->items = items;
        p->cap = cap;
    }
    p->items[p->n++] = (chat_piece){.text = s, .len = len, .message = message, .part = part};
    return LVK_OK;
}

static lvk_status put_marker(chat_pieces *p, const char *s, int message, chat_part part) {
    return put(p, s, s ? strlen(s) : 0, message, part);
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* The content, stripped of white space at both ends when `strip`. */
static text content_of(const char *s, int strip) {
    text t = {s, strlen(s)};
    if (!strip) return t;
    while (t.len && is_space(t.ptr[0])) t.ptr++, t.len--;
    while (t.len && is_space(t.ptr[t.len - 1])) t.len--;
    return t;
}

static lvk_status role_of(const lvk_chat_message *m, int i, enum role *out) {
    if (!m->role || !m->content) return status_fail(LVK_ERR_INVALID_ARGUMENT, "message %d: role or content is NULL", i);
    for (int r = 0; r < N_ROLES; r++)
        if (!strcmp(m->role, role_names[r])) {
            *out = (enum role)r;
            return LVK_OK;
        }
    return status_fail(LVK_ERR_INVALID_ARGUMENT, "message %d has role '%.40s': the chat formats know system, user "
                    "and assistant", i, m->role);
}

/* Gemma's system messages: the contents of those between the previous user
 * message and user message i, then the separator, at the start of message i. */
static lvk_status put_system_in_user(const chat_format *f, chat_pieces *p, const lvk_chat_message *messages,
                                     int i) {
    int start = i;
    while (start > 0 && strcmp(messages[start - 1].role, role_names[ROLE_USER])) start--;
    int any = 0;
    for (int k = start; k < i; k++) {
        if (strcmp(messages[k].role, role_names[ROLE_SYSTEM])) continue;
        text c = content_of(messages[k].content, 1);
        LVK_TRY(put(p, c.ptr, c.len, i, CHAT_CONTENT));
        any |= c.len > 0;
    }
    return any ? put_marker(p, f->system_in_user, i, CHAT_OPENING) : LVK_OK;
}

lvk_status chat_format_render(const chat_format *f, const lvk_chat_message *messages, int n, int add_assistant,
                              chat_pieces *p) {
    if (n < 0 || (n > 0 && !messages))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "a conversation of %d messages at %p", n, (const void *)messages);
    for (int i = 0; i < n; i++) {
        enum role r;
        LVK_TRY(role_of(&messages[i], i, &r));
    }
    int inside_turn = 0, turns = 0, preamble_due = f->preamble != NULL;
    for (int i = 0; i < n; i++) {
        enum role r = ROLE_USER;
        (void)role_of(&messages[i], i, &r); /* checked above */
        if (r == ROLE_SYSTEM) {
            preamble_due = 0;
            if (f->system_in_user) continue;
        }
        if (f->first_turn && r != ROLE_ASSISTANT && !inside_turn) {
            LVK_TRY(put_marker(p, turns++ ? f->later_turn : f->first_turn, i, CHAT_OPENING));
            inside_turn = 1;
        }
        if (r == ROLE_USER && preamble_due) {
            LVK_TRY(put_marker(p, f->preamble, i, CHAT_OPENING));
            preamble_due = 0;
        }
        LVK_TRY(put_marker(p, f->open[r], i, CHAT_OPENING));
        if (r == ROLE_USER && f->system_in_user) LVK_TRY(put_system_in_user(f, p, messages, i));
        text c = content_of(messages[i].content, f->trim == TRIM_ALL || (f->trim == TRIM_ASSISTANT && r == ROLE_ASSISTANT));
        LVK_TRY(put(p, c.ptr, c.len, i, CHAT_CONTENT));
        LVK_TRY(put_marker(p, f->close[r], i, CHAT_CLOSING));
        if (r == ROLE_ASSISTANT) inside_turn = 0;
    }
    if (add_assistant) LVK_TRY(put_marker(p, f->generation, n, CHAT_OPENING));
    return LVK_OK;
}

void chat_pieces_free(chat_pieces *p) {
    mem_free(p->items);
    *p = (chat_pieces){0};
}

/* ---- tokenizing ------------------------------------------------------------------ */

lvk_status chat_pieces_encode(const text_tokenizer *t, const chat_piece *pieces, size_t n, unsigned flags,
                              int32_t **ids, int *n_ids) {
    *ids = NULL;
    *n_ids = 0;
    size_t len = 0, n_content = 0;
    for (size_t i = 0; i < n; i++) {
        len += pieces[i].len;
        n_content += pieces[i].part == CHAT_CONTENT;
    }
    char *joined = mem_malloc(len + 1);
    text_range *plain = mem_malloc((n_content ? n_content : 1) * sizeof *plain);
    lvk_status s = joined && plain ? LVK_OK : status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory tokenizing a conversation");
    size_t at = 0, k = 0;
    for (size_t i = 0; s == LVK_OK && i < n; i++) {
        if (pieces[i].part == CHAT_CONTENT) plain[k++] = (text_range){.start = at, .len = pieces[i].len};
        memcpy(joined + at, pieces[i].text, pieces[i].len);
        at += pieces[i].len;
    }
    flags |= LVK_TOKENIZE_PARSE_SPECIAL;
    int count = 0;
    if (s == LVK_OK) s = tokenizer_encode_guarded(t, joined, len, flags, plain, k, NULL, 0, &count);
    if (s == LVK_OK && !(*ids = mem_malloc((size_t)(count ? count : 1) * sizeof **ids)))
        s = status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory tokenizing a conversation");
    if (s == LVK_OK) s = tokenizer_encode_guarded(t, joined, len, flags, plain, k, *ids, count, n_ids);
    if (s != LVK_OK) {
        mem_free(*ids);
        *ids = NULL;
        *n_ids = 0;
    }
    mem_free(joined);
    mem_free(plain);
    return s;
}
