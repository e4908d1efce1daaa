/* layout.c — word wrapping; see layout.h.
 *
 * The runs are read as one stream of bytes cut into units: a unit is the
 * spaces before a word plus the word (a maximal sequence of bytes that are
 * neither spaces nor '\n'), and it may span several runs, since a reply's
 * tokens often split a word ("hel" + "lo"). A unit goes on the current line
 * when it fits, else at the start of the next line, and only a unit wider than
 * a whole line is split, between characters.
 *
 * A piece is the longest stretch of one run on one line, so a run of plain
 * text is drawn in a few calls. Its width is always measure(its bytes), and
 * the next piece starts where it ends: whether a unit fits is decided by
 * placing it and looking at where the line ends, then taking it back. */
#include "layout.h"
#include "litevk.h"

#include <stdlib.h>

/* A position in the stream: byte `at` of run `run`. */
typedef struct cursor {
    size_t run, at;
} cursor;

typedef struct wrapper {
    layout *out;
    const layout_run *runs;
    size_t n_runs;
    int width;
    layout_measure_fn measure;
    void *user;
    int line;          /* the line being filled */
    size_t line_first; /* index of its first piece; n_pieces when it is empty */
} wrapper;

/* What placing a unit changes, to take it back: the number of pieces, and the
 * line's last piece, which the unit may have extended. */
typedef struct mark {
    size_t n_pieces, last_end;
    int last_width;
} mark;

size_t utf8_char_len(const char *s, size_t len) {
    if (len == 0) return 0;
    size_t n = lvk_utf8_char_length(s, len);
    return n ? n : 1; /* a malformed byte is a character of its own */
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

static int at_end(const wrapper *w, cursor c) { return c.run == w->n_runs; }

static char peek(const wrapper *w, cursor c) { return w->runs[c.run].text[c.at]; }

/* Moves past empty runs and the ends of runs, so that a cursor not at the end
 * always points at a byte. */
static cursor settle(const wrapper *w, cursor c) {
    while (c.run < w->n_runs && c.at == w->runs[c.run].len) {
        c.run++;
        c.at = 0;
    }
    return c;
}

static cursor advance(const wrapper *w, cursor c, size_t n) {
    c.at += n;
    return settle(w, c);
}

static int line_is_empty(const wrapper *w) { return w->out->n_pieces == w->line_first; }

static int line_end(const wrapper *w) {
    if (line_is_empty(w)) return 0;
    const layout_piece *last = &w->out->pieces[w->out->n_pieces - 1];
    return last->x + last->width;
}

static int fits(const wrapper *w) { return line_end(w) <= w->width; }

static void new_line(wrapper *w) {
    w->line++;
    w->line_first = w->out->n_pieces;
}

static mark mark_line(const wrapper *w) {
    mark m = {.n_pieces = w->out->n_pieces};
    if (!line_is_empty(w)) {
        m.last_end = w->out->pieces[m.n_pieces - 1].end;
        m.last_width = w->out->pieces[m.n_pieces - 1].width;
    }
    return m;
}

static void undo(wrapper *w, const mark *m) {
    w->out->n_pieces = m->n_pieces;
    if (!line_is_empty(w)) {
        w->out->pieces[m->n_pieces - 1].end = m->last_end;
        w->out->pieces[m->n_pieces - 1].width = m->last_width;
    }
}

/* Appends bytes [begin, end) of run r to the current line, extending the
 * line's last piece when it is the bytes just before them. */
static int put(wrapper *w, size_t r, size_t begin, size_t end) {
    layout *l = w->out;
    const char *text = w->runs[r].text;
    if (!line_is_empty(w)) {
        layout_piece *last = &l->pieces[l->n_pieces - 1];
        if (last->run == (int)r && last->end == begin) {
            last->end = end;
            last->width = w->measure(w->user, text + last->begin, end - last->begin);
            return 0;
        }
    }
    if (l->n_pieces == l->cap_pieces) {
        size_t cap = l->cap_pieces ? 2 * l->cap_pieces : 64;
        layout_piece *p = realloc(l->pieces, cap * sizeof *p);
        if (!p) return -1;
        l->pieces = p;
        l->cap_pieces = cap;
    }
    int x = line_end(w);
    l->pieces[l->n_pieces++] = (layout_piece){.run = (int)r,
                                              .begin = begin,
                                              .end = end,
                                              .x = x,
                                              .width = w->measure(w->user, text + begin, end - begin),
                                              .line = w->line};
    return 0;
}

/* Appends the bytes between two cursors, run by run. */
static int put_span(wrapper *w, cursor from, cursor to) {
    for (size_t r = from.run; r <= to.run && r < w->n_runs; r++) {
        size_t begin = r == from.run ? from.at : 0, end = r == to.run ? to.at : w->runs[r].len;
        if (begin < end && put(w, r, begin, end)) return -1;
    }
    return 0;
}

/* Places a unit wider than a line character by character, starting a new line
 * whenever the next one does not fit; a line takes at least one character, so
 * this always ends, even when a single character is wider than the line. */
static int put_chars(wrapper *w, cursor from, cursor to) {
    for (cursor c = from; !at_end(w, c) && (c.run < to.run || c.at < to.at);) {
        const layout_run *run = &w->runs[c.run];
        size_t n = utf8_char_len(run->text + c.at, run->len - c.at);
        mark m = mark_line(w);
        if (put(w, c.run, c.at, c.at + n)) return -1;
        if (!fits(w) && m.n_pieces > w->line_first) {
            undo(w, &m);
            new_line(w);
            if (put(w, c.run, c.at, c.at + n)) return -1;
        }
        c = advance(w, c, n);
    }
    return 0;
}

static int put_unit(wrapper *w, cursor from, cursor to) {
    mark m = mark_line(w);
    if (put_span(w, from, to)) return -1;
    if (fits(w)) return 0;
    undo(w, &m);
    if (!line_is_empty(w)) {
        new_line(w);
        m = mark_line(w);
        if (put_span(w, from, to)) return -1;
        if (fits(w)) return 0;
        undo(w, &m);
    }
    return put_chars(w, from, to);
}

int layout_wrap(layout *out, const layout_run *runs, size_t n_runs, int width, layout_measure_fn measure,
                void *user) {
    wrapper w = {.out = out, .runs = runs, .n_runs = n_runs, .width = width > 0 ? width : 1,
                 .measure = measure, .user = user};
    out->n_pieces = 0;
    out->n_lines = 0;
    cursor c = settle(&w, (cursor){0, 0});
    if (at_end(&w, c)) return 0; /* no text: no lines, not one empty line */
    while (!at_end(&w, c)) {
        if (peek(&w, c) == '\n') {
            new_line(&w);
            c = advance(&w, c, 1);
            continue;
        }
        cursor from = c;
        while (!at_end(&w, c) && is_space(peek(&w, c))) c = advance(&w, c, 1);
        while (!at_end(&w, c) && !is_space(peek(&w, c)) && peek(&w, c) != '\n') c = advance(&w, c, 1);
        if (put_unit(&w, from, c)) return -1;
    }
    out->n_lines = w.line + 1;
    return 0;
}

void layout_free(layout *l) {
    free(l->pieces);
    *l = (layout){0};
}
