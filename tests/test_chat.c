/* test_chat.c — the chat app's modules that need no window: word wrapping
 * (apps/chat/layout.c), the exit colours (colors.c), the PNG writer (png.c),
 * and a reply that ends at its chat format's stop strings (apps/cli/reply.c,
 * which the CLI shares). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colors.h"
#include "layout.h"
#include "litevk.h"
#include "png.h"
#include "reply.h"

/* ---- layout ------------------------------------------------------------------ */

/* A monospaced font: 10 pixels a character. */
static int measure_chars(void *user, const char *text, size_t len) {
    (void)user;
    int n = 0;
    for (size_t i = 0; i < len; i += utf8_char_len(text + i, len - i)) n++;
    return 10 * n;
}

/* Lays out the strings, one run each, tagged with their index. */
static void wrap(layout *l, const char *const *texts, size_t n, int width) {
    layout_run runs[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++) runs[i] = (layout_run){texts[i], strlen(texts[i]), (int)i};
    assert_int_equal(layout_wrap(l, runs, n, width, measure_chars, NULL), 0);
}

/* Checks that the layout of `texts` has the expected lines, and that its
 * pieces are consistent: in order, not empty, each as wide as its bytes
 * measure, and each starting where the one before it on its line ends. */
static void check_lines(const layout *l, const char *const *texts, const char *const *lines, int n_lines) {
    assert_int_equal(l->n_lines, n_lines);
    char got[16][64] = {{0}};
    for (size_t i = 0; i < l->n_pieces; i++) {
        const layout_piece *p = &l->pieces[i];
        assert_true(p->line >= 0 && p->line < n_lines);
        assert_true(p->begin < p->end && p->end <= strlen(texts[p->run]));
        assert_int_equal(p->width, measure_chars(NULL, texts[p->run] + p->begin, p->end - p->begin));
        if (i > 0 && l->pieces[i - 1].line == p->line) {
            assert_int_equal(p->x, l->pieces[i - 1].x + l->pieces[i - 1].width);
            /* pieces of one run on one line are merged */
            assert_false(l->pieces[i - 1].run == p->run && l->pieces[i - 1].end == p->begin);
        } else {
            assert_int_equal(p->x, 0);
            if (i > 0) assert_true(l->pieces[i - 1].line < p->line);
        }
        strncat(got[p->line], texts[p->run] + p->begin, p->end - p->begin);
    }
    for (int i = 0; i < n_lines; i++) assert_string_equal(got[i], lines[i]);
}

static void test_wrap_keeps_words_whole(void **state) {
    (void)state;
    layout l = {0};
    const char *texts[] = {"the quick brown fox jumps"};
    wrap(&l, texts, 1, 100); /* 10 characters a line */
    /* the space before a wrapped word goes with it to the next line */
    check_lines(&l, texts, (const char *[]){"the quick", " brown fox", " jumps"}, 3);
    /* a word that ends exactly at the width still fits */
    wrap(&l, texts, 1, 90);
    check_lines(&l, texts, (const char *[]){"the quick", " brown", " fox", " jumps"}, 4);
    layout_free(&l);
    assert_null(l.pieces);
}

static void test_wrap_word_across_runs(void **state) {
    (void)state;
    layout l = {0};
    /* "hello" comes as two tokens: it moves to the next line whole */
    const char *tokens[] = {"say", " hel", "lo"};
    wrap(&l, tokens, 3, 70);
    check_lines(&l, tokens, (const char *[]){"say", " hello"}, 2);
    assert_int_equal(l.n_pieces, 3);
    assert_int_equal(l.pieces[1].run, 1);
    assert_int_equal(l.pieces[2].run, 2);
    assert_int_equal(l.pieces[2].x, 40);

    /* "bbb" spans two runs, each of which holds other words too */
    const char *runs[] = {"aaa bb", "b ccc"};
    wrap(&l, runs, 2, 60);
    check_lines(&l, runs, (const char *[]){"aaa", " bbb", " ccc"}, 3);
    /* empty runs inside a word change nothing */
    const char *with_empty[] = {"say", " h", "", "el", "", "lo", ""};
    wrap(&l, with_empty, 7, 70);
    check_lines(&l, with_empty, (const char *[]){"say", " hello"}, 2);
    layout_free(&l);
}

static void test_wrap_long_word_between_characters(void **state) {
    (void)state;
    layout l = {0};
    /* 8 characters of 1, 2, 3 and 4 bytes, 3 to a line */
    const char *texts[] = {"a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" "bcd\xc3\xa9"}; /* aé€😀bcdé */
    wrap(&l, texts, 1, 30);
    check_lines(&l, texts,
                (const char *[]){"a\xc3\xa9\xe2\x82\xac", "\xf0\x9f\x98\x80" "bc", "d\xc3\xa9"}, 3);
    /* a width between two characters rounds down */
    wrap(&l, texts, 1, 39);
    check_lines(&l, texts,
                (const char *[]){"a\xc3\xa9\xe2\x82\xac", "\xf0\x9f\x98\x80" "bc", "d\xc3\xa9"}, 3);

    /* a long word after a short one starts a line of its own, and may be split
     * where its runs meet */
    const char *runs[] = {"hi ab", "cdefgh"};
    wrap(&l, runs, 2, 40);
    check_lines(&l, runs, (const char *[]){"hi", " abc", "defg", "h"}, 4);
    layout_free(&l);
}

static void test_wrap_newlines(void **state) {
    (void)state;
    layout l = {0};
    const char *texts[] = {"one\ntwo\n\nthree"};
    wrap(&l, texts, 1, 1000);
    check_lines(&l, texts, (const char *[]){"one", "two", "", "three"}, 4);
    /* a final newline opens an empty last line; a newline ends a run's line */
    const char *runs[] = {"x\n", "y", " z\n"};
    wrap(&l, runs, 3, 1000);
    check_lines(&l, runs, (const char *[]){"x", "y z", ""}, 3);
    /* a newline and wrapping together */
    const char *mixed[] = {"aaa bbb\nccc"};
    wrap(&l, mixed, 1, 50);
    check_lines(&l, mixed, (const char *[]){"aaa", " bbb", "ccc"}, 3);
    layout_free(&l);
}

static void test_wrap_no_width(void **state) {
    (void)state;
    layout l = {0};
    /* every character on its own line, spaces too */
    const char *texts[] = {"ab \xc3\xa9"};
    const char *lines[] = {"a", "b", " ", "\xc3\xa9"};
    wrap(&l, texts, 1, 0);
    check_lines(&l, texts, lines, 4);
    wrap(&l, texts, 1, -5);
    check_lines(&l, texts, lines, 4);
    layout_free(&l);
}

static void test_wrap_empty(void **state) {
    (void)state;
    layout l = {0};
    assert_int_equal(layout_wrap(&l, NULL, 0, 100, measure_chars, NULL), 0);
    assert_int_equal(l.n_lines, 0);
    assert_int_equal(l.n_pieces, 0);
    const char *empty[] = {"", ""};
    wrap(&l, empty, 2, 100);
    check_lines(&l, empty, NULL, 0);
    const char *one[] = {"", "a", ""};
    wrap(&l, one, 3, 100);
    check_lines(&l, one, (const char *[]){"a"}, 1);
    /* the layout is reused: the previous pieces are gone */
    wrap(&l, empty, 2, 100);
    assert_int_equal(l.n_pieces, 0);
    layout_free(&l);
}

static void test_wrap_invalid_utf8(void **state) {
    (void)state;
    layout l = {0};
    /* a stray continuation byte, a byte never in UTF-8, and a cut-off "€":
     * one character a byte */
    const char *texts[] = {"\x80\xff", "\xe2\x82"};
    wrap(&l, texts, 2, 10);
    check_lines(&l, texts, (const char *[]){"\x80", "\xff", "\xe2", "\x82"}, 4);
    layout_free(&l);
}

static void test_utf8_char_len(void **state) {
    (void)state;
    assert_int_equal(utf8_char_len("a", 1), 1);
    assert_int_equal(utf8_char_len("\xc3\xa9", 2), 2);
    assert_int_equal(utf8_char_len("\xe2\x82\xac", 3), 3);
    assert_int_equal(utf8_char_len("\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(utf8_char_len("\xe2\x82\xac", 2), 1);     /* cut off */
    assert_int_equal(utf8_char_len("\xe2" "a\xac", 3), 1);     /* not a continuation byte */
    assert_int_equal(utf8_char_len("\xc0\xaf", 2), 1);         /* overlong '/' */
    assert_int_equal(utf8_char_len("\xe0\x80\xaf", 3), 1);     /* overlong '/' */
    assert_int_equal(utf8_char_len("\xed\xa0\x80", 3), 1);     /* a surrogate */
    assert_int_equal(utf8_char_len("\xf4\x90\x80\x80", 4), 1); /* past U+10FFFF */
    assert_int_equal(utf8_char_len("\x80", 1), 1);
    assert_int_equal(utf8_char_len("", 0), 0);
}

/* ---- colours --------------------------------------------------------------- */

/* The hue of a colour in degrees, as HSV has it. */
static double hue_of(rgb c) {
    double r = c.r / 255.0, g = c.g / 255.0, b = c.b / 255.0;
    double max = fmax(r, fmax(g, b)), min = fmin(r, fmin(g, b)), d = max - min;
    assert_true(d > 0.1); /* a colour, not a grey */
    double h = max == r ? fmod((g - b) / d + 6, 6) : max == g ? (b - r) / d + 2 : (r - g) / d + 4;
    return 60 * h;
}

/* WCAG 2 relative luminance. */
static double luminance(rgb c) {
    double v[3] = {c.r / 255.0, c.g / 255.0, c.b / 255.0};
    for (int i = 0; i < 3; i++) v[i] = v[i] <= 0.04045 ? v[i] / 12.92 : pow((v[i] + 0.055) / 1.055, 2.4);
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
}

static int same_color(rgb a, rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

static void test_colors_endpoints(void **state) {
    (void)state;
    rgb early = exit_color(1, 5), full = exit_color(5, 5);
    /* warm: red leads; cool: blue leads */
    assert_true(early.r > early.g && early.g > early.b);
    assert_true(full.b > full.g && full.g > full.r);
    assert_true(hue_of(early) < 20);
    assert_true(hue_of(full) > 195 && hue_of(full) < 240);
}

static void test_colors_ordered_and_readable(void **state) {
    (void)state;
    const double background = luminance((rgb){0x1e, 0x1e, 0x24});
    const int sizes[] = {2, 3, 5, 12, 32, 80};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int n = sizes[s];
        double previous = -1;
        for (int layer = 1; layer <= n; layer++) {
            rgb c = exit_color(layer, n);
            double h = hue_of(c);
            assert_true(h >= previous); /* red, orange, yellow, green, cyan, blue */
            previous = h;
            /* WCAG AA for text: a contrast ratio of 4.5 at least */
            assert_true((luminance(c) + 0.05) / (background + 0.05) >= 4.5);
        }
    }
    /* a few layers: neighbours are far apart */
    for (int layer = 1; layer < 5; layer++) {
        rgb a = exit_color(layer, 5), b = exit_color(layer + 1, 5);
        assert_true(hue_of(b) - hue_of(a) >= 25);
        double d = sqrt(pow(a.r - b.r, 2) + pow(a.g - b.g, 2) + pow(a.b - b.b, 2));
        assert_true(d >= 60);
    }
}

static void test_colors_clamped(void **state) {
    (void)state;
    assert_true(same_color(exit_color(0, 5), exit_color(1, 5)));
    assert_true(same_color(exit_color(-7, 5), exit_color(1, 5)));
    assert_true(same_color(exit_color(9, 5), exit_color(5, 5)));
    /* one block (or none) is all full depth */
    assert_true(same_color(exit_color(1, 1), exit_color(5, 5)));
    assert_true(same_color(exit_color(3, 0), exit_color(5, 5)));
    assert_true(same_color(exit_color(-1, -4), exit_color(5, 5)));
}

/* ---- stop strings ---------------------------------------------------------------- */

static long feed(stop_matcher *m, const char *piece) { return stop_matcher_feed(m, piece, strlen(piece)); }

static void test_stop_split_across_pieces(void **state) {
    (void)state;
    stop_matcher m;
    stop_matcher_init(&m, lvk_chat_format_stop_strings("alpaca"));
    assert_int_equal(feed(&m, "Sure.\n\n"), 7);
    assert_int_equal(feed(&m, "###"), 7); /* could be the start of "### Instruction:" */
    assert_int_equal(feed(&m, " Instr"), 7);
    assert_false(m.stopped);
    assert_int_equal(feed(&m, "uction:"), 7);
    assert_true(m.stopped);
    assert_int_equal(m.stop_at, 7);
    /* what comes after the stop is not part of the reply */
    size_t len = m.len;
    assert_int_equal(feed(&m, "\nWrite a poem."), 7);
    assert_int_equal(m.len, len);
    assert_int_equal(m.stop_at, 7);
    stop_matcher_free(&m);
    assert_null(m.text);
}

static void test_stop_false_start(void **state) {
    (void)state;
    stop_matcher m;
    stop_matcher_init(&m, lvk_chat_format_stop_strings("alpaca"));
    assert_int_equal(feed(&m, "a #"), 2);
    assert_int_equal(feed(&m, "## Inst"), 2);
    /* "### Instant" is no stop: all of it is released */
    assert_int_equal(feed(&m, "ant"), 13);
    assert_false(m.stopped);
    assert_string_equal(m.text, "a ### Instant");
    /* a false start can hold the start of a true one */
    assert_int_equal(feed(&m, " ##"), 14);
    assert_int_equal(feed(&m, "### Instruction:"), 16);
    assert_true(m.stopped);
    assert_int_equal(m.stop_at, 16);
    stop_matcher_free(&m);
}

static void test_stop_several_strings(void **state) {
    (void)state;
    stop_matcher m;
    stop_matcher_init(&m, lvk_chat_format_stop_strings("chatml"));
    assert_int_equal(feed(&m, "Hello<|im_"), 5); /* the start of both stops */
    assert_int_equal(feed(&m, "end|>\n<|im_start|>user"), 5);
    assert_true(m.stopped);
    stop_matcher_free(&m);

    /* the earliest of two stops in one piece wins */
    stop_matcher_init(&m, lvk_chat_format_stop_strings("chatml"));
    assert_int_equal(feed(&m, "ok<|im_start|>x<|im_end|>"), 2);
    assert_int_equal(m.stop_at, 2);
    stop_matcher_free(&m);

    /* a stop at the very start leaves an empty reply */
    stop_matcher_init(&m, lvk_chat_format_stop_strings("llama2"));
    assert_int_equal(feed(&m, "[INST]"), 0);
    assert_true(m.stopped);
    stop_matcher_free(&m);

    /* raw text has no stops: everything is final */
    stop_matcher_init(&m, lvk_chat_format_stop_strings("raw"));
    assert_int_equal(feed(&m, "### Instruction:"), 16);
    assert_int_equal(feed(&m, "<|im_"), 21);
    assert_false(m.stopped);
    stop_matcher_free(&m);
}

/* The tokens a reply stream releases, their pieces joined with '|'. */
static void collect(const lvk_token_info *token, void *user) {
    char *out = user;
    strcat(out, token->piece);
    strcat(out, "|");
}

static int push(reply_stream *r, const char *piece) {
    lvk_token_info t = {.id = 7};
    snprintf(t.piece, sizeof t.piece, "%s", piece);
    return reply_stream_push(r, &t);
}

static void test_reply_stream_releases_tokens(void **state) {
    (void)state;
    char out[256] = "";
    reply_stream r;
    reply_stream_init(&r, lvk_chat_format_stop_strings("chatml"), collect, out);
    assert_false(push(&r, "Hi"));
    assert_string_equal(out, "Hi|");
    assert_false(push(&r, " there<"));   /* could begin "<|im_end|>": held back */
    assert_false(push(&r, "|im"));
    assert_string_equal(out, "Hi|");
    assert_true(push(&r, "_end|>\n")); /* a stop: the token before it is cut short */
    assert_string_equal(out, "Hi| there|");
    assert_true(push(&r, "more"));      /* nothing after a stop */
    reply_stream_finish(&r);
    assert_string_equal(out, "Hi| there|");
    size_t len;
    const char *text = reply_stream_text(&r, &len);
    assert_int_equal(len, 8);
    assert_memory_equal(text, "Hi there", 8);
    reply_stream_free(&r);

    /* a false start is released when the reply ends otherwise */
    out[0] = 0;
    reply_stream_init(&r, lvk_chat_format_stop_strings("chatml"), collect, out);
    assert_false(push(&r, "a<|im"));
    assert_string_equal(out, "");
    reply_stream_finish(&r);
    assert_string_equal(out, "a<|im|");
    text = reply_stream_text(&r, &len);
    assert_int_equal(len, 5);
    reply_stream_free(&r);
}

/* ---- PNG ------------------------------------------------------------------- */

/* The CRC-32 bit by bit, not from a table as the writer computes it. */
static uint32_t crc32_bitwise(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

static uint8_t *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    rewind(f);
    uint8_t *data = malloc(*size);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, *size, f), *size);
    fclose(f);
    return data;
}

/* Checks the chunks of a PNG of width x height RGBA pixels (pitch apart), its
 * chunk CRCs, and that its zlib stream of stored blocks holds the rows. */
static void check_png(const uint8_t *png, size_t size, const uint8_t *pixels, int width, int height, int pitch) {
    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    assert_memory_equal(png, signature, 8);
    /* IHDR, IDAT, IEND, each with a correct CRC over its type and data */
    const char *types[] = {"IHDR", "IDAT", "IEND"};
    const uint8_t *data[3];
    size_t len[3], at = 8;
    for (int i = 0; i < 3; i++) {
        assert_true(at + 12 <= size);
        len[i] = be32(png + at);
        assert_true(at + 12 + len[i] <= size);
        assert_memory_equal(png + at + 4, types[i], 4);
        data[i] = png + at + 8;
        assert_int_equal(be32(data[i] + len[i]), crc32_bitwise(png + at + 4, 4 + len[i]));
        at += 12 + len[i];
    }
    assert_int_equal(at, size);
    assert_int_equal(len[0], 13);
    assert_int_equal(be32(data[0]), width);
    assert_int_equal(be32(data[0] + 4), height);
    assert_memory_equal(data[0] + 8, ((uint8_t[]){8, 6, 0, 0, 0}), 5);
    assert_int_equal(len[2], 0);
    assert_memory_equal(png + size - 4, ((uint8_t[]){0xAE, 0x42, 0x60, 0x82}), 4); /* IEND's CRC */

    /* inflate: a zlib header, stored blocks, the Adler-32 of what they hold */
    const uint8_t *z = data[1];
    size_t n = len[1];
    assert_int_equal(z[0], 0x78);
    assert_int_equal((z[0] * 256 + z[1]) % 31, 0);
    size_t row = 1 + 4 * (size_t)width, n_raw = row * height, got = 0, pos = 2;
    uint8_t *raw = malloc(n_raw);
    assert_non_null(raw);
    for (int final = 0; !final;) {
        assert_true(pos + 5 <= n - 4);
        assert_int_equal(z[pos] & 6, 0); /* BTYPE 00: stored */
        final = z[pos] & 1;
        size_t block = z[pos + 1] | z[pos + 2] << 8, nlen = z[pos + 3] | z[pos + 4] << 8;
        assert_int_equal(block ^ nlen, 0xFFFF);
        assert_true(got + block <= n_raw && pos + 5 + block <= n - 4);
        assert_true(final || block == 65535); /* all blocks but the last are full */
        memcpy(raw + got, z + pos + 5, block);
        got += block;
        pos += 5 + block;
    }
    assert_int_equal(got, n_raw);
    assert_int_equal(pos, n - 4);
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n_raw; i++) a = (a + raw[i]) % 65521, b = (b + a) % 65521;
    assert_int_equal(be32(z + pos), b << 16 | a);
    /* each row: filter type 0, then the pixels as they are */
    for (int y = 0; y < height; y++) {
        assert_int_equal(raw[y * row], 0);
        assert_memory_equal(raw + y * row + 1, pixels + y * pitch, 4 * (size_t)width);
    }
    free(raw);
}

static void test_png_small(void **state) {
    (void)state;
    /* 3 x 2 pixels, rows 16 bytes apart: the 4 bytes of padding are not written */
    const uint8_t pixels[32] = {
        255, 0,   0,   255, 0,   255, 0,  255, 0,   0,   255, 255, 0xEE, 0xEE, 0xEE, 0xEE,
        0,   0,   0,   0,   128, 128, 128, 64, 255, 255, 255, 255, 0xEE, 0xEE, 0xEE, 0xEE,
    };
    const char *path = LITEVK_TMP_DIR "/chat_small.png";
    assert_int_equal(png_write_rgba(path, pixels, 3, 2, 16), 0);
    size_t size;
    uint8_t *png = read_file(path, &size);
    /* signature 8, IHDR 12 + 13, IDAT 12 + (zlib 2 + block 5 + 2 rows of 13 + Adler 4), IEND 12 */
    assert_int_equal(size, 8 + 25 + 12 + 37 + 12);
    assert_memory_equal(png + 33, ((uint8_t[]){0, 0, 0, 37, 'I', 'D', 'A', 'T', 0x78, 0x01}), 10);
    /* one final stored block of 26 bytes (NLEN = ~26), starting with row 0 */
    assert_memory_equal(png + 43, ((uint8_t[]){0x01, 26, 0, 0xE5, 0xFF, 0, 255, 0, 0, 255}), 10);
    check_png(png, size, pixels, 3, 2, 16);
    free(png);
}

static void test_png_several_blocks(void **state) {
    (void)state;
    /* 200 x 100: 100 rows of 801 bytes, 80100 bytes in two stored blocks */
    enum { W = 200, H = 100 };
    uint8_t *pixels = malloc(W * H * 4);
    assert_non_null(pixels);
    for (int i = 0; i < W * H * 4; i++) pixels[i] = (uint8_t)(i * 7 + i / 13);
    const char *path = LITEVK_TMP_DIR "/chat_large.png";
    assert_int_equal(png_write_rgba(path, pixels, W, H, W * 4), 0);
    size_t size;
    uint8_t *png = read_file(path, &size);
    assert_int_equal(size, 8 + 25 + 12 + (2 + 2 * 5 + 80100 + 4) + 12);
    check_png(png, size, pixels, W, H, W * 4);
    free(png);
    free(pixels);
}

static void test_png_errors(void **state) {
    (void)state;
    const uint8_t pixel[4] = {1, 2, 3, 4};
    errno = 0;
    assert_int_equal(png_write_rgba(LITEVK_TMP_DIR "/no/such/dir.png", pixel, 1, 1, 4), -1);
    assert_int_equal(errno, ENOENT);
    errno = 0;
    assert_int_equal(png_write_rgba(LITEVK_TMP_DIR "/empty.png", pixel, 0, 1, 4), -1);
    assert_int_equal(errno, EINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrap_keeps_words_whole),
        cmocka_unit_test(test_wrap_word_across_runs),
        cmocka_unit_test(test_wrap_long_word_between_characters),
        cmocka_unit_test(test_wrap_newlines),
        cmocka_unit_test(test_wrap_no_width),
        cmocka_unit_test(test_wrap_empty),
        cmocka_unit_test(test_wrap_invalid_utf8),
        cmocka_unit_test(test_utf8_char_len),
        cmocka_unit_test(test_colors_endpoints),
        cmocka_unit_test(test_colors_ordered_and_readable),
        cmocka_unit_test(test_colors_clamped),
        cmocka_unit_test(test_stop_split_across_pieces),
        cmocka_unit_test(test_stop_false_start),
        cmocka_unit_test(test_stop_several_strings),
        cmocka_unit_test(test_reply_stream_releases_tokens),
        cmocka_unit_test(test_png_small),
        cmocka_unit_test(test_png_several_blocks),
        cmocka_unit_test(test_png_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
