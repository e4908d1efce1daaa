/* reply.c — see reply.h. */
#include "reply.h"

#include <stdlib.h>
#include <string.h>

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

void reply_stream_init(reply_stream *r, const char *const *stops, reply_emit_fn emit, void *user) {
    *r = (reply_stream){.emit = emit, .user = user};
    stop_matcher_init(&r->matcher, stops);
}

int reply_stream_push(reply_stream *r, const lvk_token_info *token) {
    stop_matcher *m = &r->matcher;
    if (m->stopped) return 1;
    long safe = stop_matcher_feed(m, token->piece, strlen(token->piece));
    if (r->n_held == sizeof r->held / sizeof r->held[0] || safe < 0) safe = (long)m->len; /* show rather than lose */
    r->held[r->n_held++] = *token;
    /* release the held tokens that end within the final bytes (once stopped,
     * those before the stop string, the last one cut short) */
    size_t limit = m->stopped ? m->stop_at : (size_t)safe, k = 0;
    for (; k < r->n_held; k++) {
        size_t len = strlen(r->held[k].piece);
        if (r->released_bytes + len > limit) {
            if (m->stopped && r->released_bytes < limit) {
                r->held[k].piece[limit - r->released_bytes] = 0;
                r->emit(&r->held[k], r->user);
            }
            break;
        }
        r->emit(&r->held[k], r->user);
        r->released_bytes += len;
    }
    memmove(r->held, r->held + k, (r->n_held - k) * sizeof *r->held);
    r->n_held -= k;
    return m->stopped;
}

void reply_stream_finish(reply_stream *r) {
    if (r->matcher.stopped) return;
    for (size_t k = 0; k < r->n_held; k++) r->emit(&r->held[k], r->user);
    r->n_held = 0;
}

const char *reply_stream_text(const reply_stream *r, size_t *len) {
    *len = r->matcher.stopped ? r->matcher.stop_at : r->matcher.len;
    return r->matcher.text ? r->matcher.text : "";
}

void reply_stream_free(reply_stream *r) { stop_matcher_free(&r->matcher); }
