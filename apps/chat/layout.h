/* layout.h — word wrapping of styled UTF-8 runs into lines, independent of SDL:
 * the caller supplies a text-measuring function (SDL2_ttf in the app, a fixed
 * width per character in the tests). */
#ifndef LVK_CHAT_LAYOUT_H
#define LVK_CHAT_LAYOUT_H

#include <stddef.h>

/* Width in pixels of the UTF-8 bytes text[0..len) drawn in one piece. */
typedef int (*layout_measure_fn)(void *user, const char *text, size_t len);

/* A run of text with one style (one token of a reply, or a user's message).
 * `tag` is the caller's (e.g. the token index, or -1 for plain text). */
typedef struct layout_run {
    const char *text; /* UTF-8, not necessarily NUL-terminated */
    size_t len;
    int tag;
} layout_run;

/* A piece of a run placed on a line: bytes [begin, end) of run `run`, at x. */
typedef struct layout_piece {
    int run;
    size_t begin, end;
    int x, width;
    int line;
} layout_piece;

typedef struct layout {
    layout_piece *pieces;
    size_t n_pieces, cap_pieces;
    int n_lines;
} layout;

/* Lays out the runs, in order, into lines at most `width` pixels wide. Lines
 * break at '\n' and, when a line is full, before the word that does not fit
 * (a word longer than a line is split between UTF-8 characters, never inside
 * one). Spaces at the start of a wrapped line are kept with the word they
 * precede. Text without any byte has no lines (n_lines 0). Returns 0, or -1
 * when out of memory. The layout is reused: start from a zeroed one, and call
 * layout_free once at the end. */
int layout_wrap(layout *out, const layout_run *runs, size_t n_runs, int width, layout_measure_fn measure,
                void *user);
void layout_free(layout *l);

/* Byte length of the UTF-8 sequence starting at s[0] (1 for an invalid byte),
 * never more than `len`. */
size_t utf8_char_len(const char *s, size_t len);

#endif
