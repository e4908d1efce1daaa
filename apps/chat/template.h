/* template.h — chat prompt formats and the stop strings that end a reply. */
#ifndef LVK_CHAT_TEMPLATE_H
#define LVK_CHAT_TEMPLATE_H

#include <stddef.h>

typedef enum chat_template {
    TEMPLATE_RAW,    /* the text continues the conversation as is (TinyStories) */
    TEMPLATE_ALPACA, /* "### Instruction:\n...\n\n### Response:\n" (LITE's training format) */
    TEMPLATE_LLAMA2, /* "[INST] ... [/INST]" */
    TEMPLATE_CHATML, /* "<|im_start|>user\n...<|im_end|>\n<|im_start|>assistant\n" */
} chat_template;

/* "raw", "alpaca", "llama2", "chatml"; -1 for anything else. */
int template_parse(const char *name);
const char *template_name(chat_template t);

/* From a GGUF's tokenizer.chat_template text (Jinja, as llama.cpp's
 * converters store it): ChatML when it mentions "<|im_start|>", llama2 when
 * "[INST]", Alpaca when "### Instruction", else raw. NULL gives raw. */
chat_template template_detect(const char *jinja);

/* The text to feed for one user turn, appended to what the session already
 * holds: `first` is 1 for the first turn of a conversation (llama2 and
 * Alpaca have a preamble then). Returns a malloc'ed NUL-terminated string,
 * or NULL when out of memory. For raw: the user's text as is. */
char *template_user_turn(chat_template t, const char *user_text, int first);

/* The stop strings of a format (NULL-terminated list; raw has none). */
const char *const *template_stops(chat_template t);

/* Stop-string matching over a reply that streams in token by token: feed each
 * piece; returns how many bytes of the reply so far are final (can be shown),
 * holding back a tail that could still become a stop string, and sets *stopped
 * when a stop string completed (the reply ends; the stop string and anything
 * after it are not part of it). */
typedef struct stop_matcher {
    const char *const *stops;
    char *text;            /* the reply so far */
    size_t len, cap;
    size_t stop_at;        /* length of the reply without the stop string once stopped */
    int stopped;
} stop_matcher;

void stop_matcher_init(stop_matcher *m, const char *const *stops);
/* Returns the number of bytes of the reply that are safe to show, or -1 when out of memory. */
long stop_matcher_feed(stop_matcher *m, const char *piece, size_t len);
void stop_matcher_free(stop_matcher *m);

#endif
