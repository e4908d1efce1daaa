/* reply.h — a reply as it streams in, token by token, ending at a stop
 * string: a chat format's marker that the model writes out as text. Text
 * that could still become a stop string is held back; the rest is released
 * a token at a time (the litevk CLI and litevk-chat show it as it comes). */
#ifndef LVK_CLI_REPLY_H
#define LVK_CLI_REPLY_H

#include "litevk.h"

#include <stddef.h>

/* Stop-string matching over text that comes in pieces: feed each piece;
 * returns how many bytes of the text so far are final (can be shown),
 * holding back a tail that could still become a stop string, and sets
 * `stopped` when a stop string completed (the reply ends; the stop string
 * and anything after it are not part of it). */
typedef struct stop_matcher {
    const char *const *stops;
    char *text; /* the reply so far, NUL-terminated */
    size_t len, cap;
    size_t stop_at; /* length of the reply without the stop string once stopped */
    int stopped;
} stop_matcher;

void stop_matcher_init(stop_matcher *m, const char *const *stops);
/* Returns the number of bytes of the reply that are safe to show, or -1 when out of memory. */
long stop_matcher_feed(stop_matcher *m, const char *piece, size_t len);
void stop_matcher_free(stop_matcher *m);

/* Called with each token of the reply that is final, in order; a token cut
 * by a stop string comes with its piece shortened to the part before it. */
typedef void (*reply_emit_fn)(const lvk_token_info *token, void *user);

typedef struct reply_stream {
    stop_matcher matcher;
    lvk_token_info held[64]; /* tokens not released yet: they may begin a stop string */
    size_t n_held, released_bytes;
    reply_emit_fn emit;
    void *user;
} reply_stream;

void reply_stream_init(reply_stream *r, const char *const *stops, reply_emit_fn emit, void *user);
/* Takes the next token of the reply and releases what is final. Returns 1
 * when a stop string ended the reply (later tokens are not part of it). */
int reply_stream_push(reply_stream *r, const lvk_token_info *token);
/* The reply ended otherwise (end of generation, a limit, a stop by the
 * user): the tokens held back are text after all. */
void reply_stream_finish(reply_stream *r);
/* The reply's text: what was pushed, up to a stop string. */
const char *reply_stream_text(const reply_stream *r, size_t *len);
void reply_stream_free(reply_stream *r);

#endif
