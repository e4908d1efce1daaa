/* ui.c — the chat window (see ui.h).
 *
 * Screen:  +-------------------------------+-------------+
 *          | transcript (scrolls)          | controls    |
 *          |                               | legend      |
 *          +-------------------------------+ statistics  |
 *          | input box                     | histogram   |
 *          +-------------------------------+-------------+
 * Each turn is laid out once per width (layout.c) and its pieces are rendered
 * to textures once; a reply that is streaming is laid out again per token.
 * The loop waits for input with a timeout of one frame, so the window stays
 * responsive while the worker loads a model or generates. */
#include "ui.h"
#include "colors.h"
#include "font.h"
#include "layout.h"
#include "png.h"

#include <SDL.h>
#include <SDL_ttf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PANEL_W 300   /* side panel width, points */
#define PAD 12
#define MAX_LAYERS 512

static const SDL_Color BG = {0x1e, 0x1e, 0x24, 255}, PANEL_BG = {0x26, 0x26, 0x2e, 255},
                       TEXT = {0xe6, 0xe6, 0xe6, 255}, DIM = {0x9a, 0x9a, 0xa6, 255},
                       ACCENT = {0x5a, 0x8d, 0xee, 255}, ERROR_BG = {0x80, 0x24, 0x24, 255},
                       BOX = {0x33, 0x33, 0x3d, 255};

/* ---- the conversation ---------------------------------------------------------- */

typedef struct turn {
    int is_user;
    char *text;              /* the user's text */
    lvk_token_info *tokens;  /* the reply's tokens */
    size_t n_tokens, cap_tokens;
    char note[336];          /* why a reply ended, when not at end of text */
    layout lay;              /* cached for lay_width; -1 = stale */
    int lay_width;
    SDL_Texture **tex;       /* one per piece */
    size_t n_tex;
} turn;

typedef struct stats {
    long tokens, blocks;
    double decode_ms;
    uint64_t cycles, drafted, accepted; /* speculation */
    long hist[MAX_LAYERS + 1];
} stats;

typedef struct rect_btn { SDL_Rect r; } rect_btn;

typedef struct ui {
    const ui_options *o;
    worker *w;
    SDL_Window *win;
    SDL_Renderer *ren;
    TTF_Font *font, *small;
    float scale;             /* pixels per point (HiDPI) */
    int line_h, small_h;
    int win_w, win_h;        /* pixels */
    turn *turns;
    size_t n_turns, cap_turns;
    char input[8192];
    size_t input_len, cursor;
    int scroll, max_scroll, follow; /* follow: stay at the bottom while generating */
    int generating, loaded, loading;
    float load_fraction;
    char loading_path[1024];  /* the model being loaded */
    char status[320], error[320];
    int banner_h;             /* pixels of the error banner drawn last */
    lvk_model_info info;
    lvk_exit_config model_exits;
    const char *format;       /* the conversation's chat format */
    exit_controls controls;
    stats reply, total;
    SDL_Rect r_toggle, r_slider, r_fill, r_stop, r_new;
    int dragging_slider;
    int mouse_x, mouse_y;
    /* script mode */
    char **script;
    size_t n_script, next_script;
    int script_waiting;
} ui;

static void turn_clear_cache(turn *t) {
    for (size_t i = 0; i < t->n_tex; i++)
        if (t->tex[i]) SDL_DestroyTexture(t->tex[i]);
    free(t->tex);
    t->tex = NULL;
    t->n_tex = 0;
    t->lay_width = -1;
}

static void turn_free(turn *t) {
    turn_clear_cache(t);
    layout_free(&t->lay);
    free(t->text);
    free(t->tokens);
}

static turn *add_turn(ui *u, int is_user, const char *text) {
    if (u->n_turns == u->cap_turns) {
        size_t cap = u->cap_turns ? 2 * u->cap_turns : 16;
        turn *grown = realloc(u->turns, cap * sizeof *grown);
        if (!grown) return NULL;
        u->turns = grown;
        u->cap_turns = cap;
    }
    turn *t = &u->turns[u->n_turns++];
    memset(t, 0, sizeof *t);
    t->is_user = is_user;
    t->lay_width = -1;
    if (text && !(t->text = strdup(text))) {
        u->n_turns--;
        return NULL;
    }
    return t;
}

static void clear_conversation(ui *u) {
    for (size_t i = 0; i < u->n_turns; i++) turn_free(&u->turns[i]);
    u->n_turns = 0;
    u->scroll = 0;
    u->follow = 1;
    memset(&u->reply, 0, sizeof u->reply);
    memset(&u->total, 0, sizeof u->total);
}

/* ---- text ------------------------------------------------------------------------ */

/* SDL_ttf takes NUL-terminated text: the first len bytes of text (at most a
 * buffer's worth: longer pieces are cut) into buf. */
static const char *to_cstr(char buf[1024], const char *text, size_t len) {
    if (len > 1023) len = 1023;
    memcpy(buf, text, len);
    buf[len] = 0;
    return buf;
}

static int measure(void *user, const char *text, size_t len) {
    TTF_Font *font = user;
    char buf[1024];
    to_cstr(buf, text, len);
    int w = 0, h;
    TTF_SizeUTF8(font, buf, &w, &h);
    return w;
}

/* Draws UTF-8 text (len bytes) at x, y; returns its width. */
static int draw_text(ui *u, TTF_Font *font, const char *text, size_t len, int x, int y, SDL_Color c) {
    char buf[1024];
    if (!*to_cstr(buf, text, len)) return 0;
    SDL_Surface *s = TTF_RenderUTF8_Blended(font, buf, c);
    if (!s) return 0;
    SDL_Texture *t = SDL_CreateTextureFromSurface(u->ren, s);
    SDL_Rect dst = {x, y, s->w, s->h};
    if (t) SDL_RenderCopy(u->ren, t, NULL, &dst);
    SDL_DestroyTexture(t);
    SDL_FreeSurface(s);
    return dst.w;
}

static int draw_str(ui *u, TTF_Font *font, const char *text, int x, int y, SDL_Color c) {
    return draw_text(u, font, text, strlen(text), x, y, c);
}

static void fill(ui *u, SDL_Rect r, SDL_Color c) {
    SDL_SetRenderDrawColor(u->ren, c.r, c.g, c.b, c.a);
    SDL_RenderFillRect(u->ren, &r);
}

static int px(const ui *u, int points) { return (int)(points * u->scale + 0.5f); }

static SDL_Color token_color(const ui *u, int layer) {
    rgb c = exit_color(layer, u->info.n_layers);
    return (SDL_Color){c.r, c.g, c.b, 255};
}

/* Lays a turn out for `width` pixels and renders its pieces (cached). */
static void layout_turn(ui *u, turn *t, int width) {
    if (t->lay_width == width) return;
    turn_clear_cache(t);
    layout_run one = {t->text ? t->text : "", t->text ? strlen(t->text) : 0, -1};
    layout_run *runs = &one;
    size_t n_runs = 1;
    if (!t->is_user) {
        runs = malloc((t->n_tokens + 1) * sizeof *runs);
        if (!runs) return;
        for (size_t i = 0; i < t->n_tokens; i++)
            runs[i] = (layout_run){t->tokens[i].piece, strlen(t->tokens[i].piece), (int)i};
        n_runs = t->n_tokens;
    }
    int ok = layout_wrap(&t->lay, runs, n_runs, width, measure, u->font) == 0;
    if (runs != &one) free(runs);
    if (!ok) return;
    t->tex = calloc(t->lay.n_pieces ? t->lay.n_pieces : 1, sizeof *t->tex);
    if (!t->tex) return;
    t->n_tex = t->lay.n_pieces;
    for (size_t i = 0; i < t->lay.n_pieces; i++) {
        const layout_piece *p = &t->lay.pieces[i];
        const char *text = t->is_user ? t->text : t->tokens[p->run].piece;
        char buf[1024];
        to_cstr(buf, text + p->begin, p->end - p->begin);
        if (!buf[0] || !strcmp(buf, " ")) continue;
        SDL_Color c = t->is_user ? TEXT : token_color(u, t->tokens[p->run].layer);
        SDL_Surface *s = TTF_RenderUTF8_Blended(u->font, buf, c);
        if (!s) continue;
        t->tex[i] = SDL_CreateTextureFromSurface(u->ren, s);
        SDL_FreeSurface(s);
    }
    t->lay_width = width;
}

static int turn_height(const ui *u, const turn *t) {
    int lines = t->lay.n_lines > 0 ? t->lay.n_lines : 1;
    return u->small_h + lines * u->line_h + (t->note[0] ? u->small_h : 0) + px(u, PAD);
}

/* ---- drawing ------------------------------------------------------------------- */

static void draw_transcript(ui *u, SDL_Rect area, const lvk_token_info **hover) {
    int width = area.w - 2 * px(u, PAD);
    int total = 0;
    for (size_t i = 0; i < u->n_turns; i++) {
        layout_turn(u, &u->turns[i], width);
        total += turn_height(u, &u->turns[i]);
    }
    u->max_scroll = total > area.h ? total - area.h + px(u, PAD) : 0;
    if (u->follow) u->scroll = u->max_scroll;
    if (u->scroll > u->max_scroll) u->scroll = u->max_scroll;
    if (u->scroll < 0) u->scroll = 0;
    SDL_RenderSetClipRect(u->ren, &area);
    int y = area.y + px(u, PAD) - u->scroll;
    for (size_t i = 0; i < u->n_turns; i++) {
        turn *t = &u->turns[i];
        int h = turn_height(u, t);
        if (y + h >= area.y && y < area.y + area.h) {
            char label[200];
            if (t->is_user) snprintf(label, sizeof label, "You");
            else snprintf(label, sizeof label, "%s", u->info.name[0] ? u->info.name : "model");
            draw_str(u, u->small, label, area.x + px(u, PAD), y, t->is_user ? ACCENT : DIM);
            int top = y + u->small_h;
            for (size_t k = 0; k < t->n_tex; k++) {
                const layout_piece *p = &t->lay.pieces[k];
                SDL_Rect dst = {area.x + px(u, PAD) + p->x, top + p->line * u->line_h, p->width, u->line_h};
                if (t->tex[k]) {
                    int tw, th;
                    SDL_QueryTexture(t->tex[k], NULL, NULL, &tw, &th);
                    SDL_Rect r = {dst.x, dst.y, tw, th};
                    SDL_RenderCopy(u->ren, t->tex[k], NULL, &r);
                    if (!t->is_user && t->tokens[p->run].drafted) /* an accepted draft: underlined in its colour */
                        fill(u, (SDL_Rect){r.x, r.y + th - px(u, 2), tw, px(u, 1) > 0 ? px(u, 1) : 1},
                             token_color(u, t->tokens[p->run].layer));
                }
                if (!t->is_user && u->mouse_x >= dst.x && u->mouse_x < dst.x + dst.w && u->mouse_y >= dst.y &&
                    u->mouse_y < dst.y + dst.h && u->mouse_y >= area.y && u->mouse_y < area.y + area.h)
                    *hover = &t->tokens[p->run];
            }
            if (t->note[0])
                draw_str(u, u->small, t->note, area.x + px(u, PAD),
                         top + (t->lay.n_lines > 0 ? t->lay.n_lines : 1) * u->line_h, DIM);
        }
        y += h;
    }
    if (u->loading || (!u->loaded && !u->error[0])) {
        char msg[1200];
        snprintf(msg, sizeof msg, "loading %s … %.0f %%", u->loading_path, 100 * u->load_fraction);
        draw_str(u, u->font, msg, area.x + px(u, PAD), area.y + area.h / 2 - u->line_h, DIM);
        SDL_Rect bar = {area.x + px(u, PAD), area.y + area.h / 2 + px(u, 4), area.w - 2 * px(u, PAD), px(u, 8)};
        fill(u, bar, BOX);
        bar.w = (int)(bar.w * u->load_fraction);
        fill(u, bar, ACCENT);
    }
    SDL_RenderSetClipRect(u->ren, NULL);
}

static void draw_input(ui *u, SDL_Rect area) {
    fill(u, area, BOX);
    SDL_RenderSetClipRect(u->ren, &area);
    int x = area.x + px(u, PAD), y = area.y + px(u, 8);
    if (!u->input_len) {
        draw_str(u, u->font,
                 u->generating ? "generating… (Esc stops)" : "Type a message; Enter sends, Shift+Enter for a new line",
                 x, y, DIM);
    }
    /* lines of the input; the cursor is a bar after the bytes before it */
    size_t start = 0;
    int line = 0, cx = x, cy = y;
    for (size_t i = 0; i <= u->input_len; i++) {
        if (i == u->input_len || u->input[i] == '\n') {
            draw_text(u, u->font, u->input + start, i - start, x, y + line * u->line_h, TEXT);
            if (u->cursor >= start && u->cursor <= i) {
                cx = x + measure(u->font, u->input + start, u->cursor - start);
                cy = y + line * u->line_h;
            }
            start = i + 1;
            line++;
        }
    }
    fill(u, (SDL_Rect){cx, cy, px(u, 2), u->line_h}, TEXT);
    SDL_RenderSetClipRect(u->ren, NULL);
}

static void button(ui *u, SDL_Rect r, const char *label, int active) {
    fill(u, r, active ? ACCENT : BOX);
    int w = measure(u->small, label, strlen(label));
    draw_str(u, u->small, label, r.x + (r.w - w) / 2, r.y + (r.h - u->small_h) / 2, TEXT);
}

static void draw_panel(ui *u, SDL_Rect area) {
    fill(u, area, PANEL_BG);
    int x = area.x + px(u, PAD), w = area.w - 2 * px(u, PAD), y = area.y + px(u, PAD), bh = px(u, 26);
    char buf[256];

    /* controls */
    u->r_stop = (SDL_Rect){x, y, (w - px(u, 8)) / 2, bh};
    u->r_new = (SDL_Rect){x + (w + px(u, 8)) / 2, y, (w - px(u, 8)) / 2, bh};
    button(u, u->r_stop, "Stop (Esc)", u->generating);
    button(u, u->r_new, "New chat (Ctrl+L)", 0);
    y += bh + px(u, 10);
    u->r_toggle = (SDL_Rect){x, y, w, bh};
    static const char *const decoding_names[N_DECODINGS] = {"full depth", "LITE exit", "speculate (exact)"};
    snprintf(buf, sizeof buf, "Decoding: %s", decoding_names[u->controls.decoding]);
    button(u, u->r_toggle, buf, u->controls.decoding != DECODING_FULL_DEPTH);
    y += bh + px(u, 10);
    lvk_exit_config eff = exit_controls_apply(&u->controls, &u->model_exits);
    draw_str(u, u->small, "stricter            thresholds            more exits", x, y, DIM);
    y += u->small_h;
    u->r_slider = (SDL_Rect){x, y + px(u, 6), w, px(u, 6)};
    fill(u, u->r_slider, BOX);
    SDL_Rect knob = {x + (int)(u->controls.aggressiveness * (w - px(u, 12))), y, px(u, 12), px(u, 18)};
    fill(u, knob, u->controls.decoding == DECODING_LITE_EXIT ? ACCENT : DIM);
    y += px(u, 24);
    int n = 0;
    n += snprintf(buf + n, sizeof buf - n, "exits:");
    for (int k = 0; k < eff.n_exits && n < (int)sizeof buf; k++)
        n += snprintf(buf + n, sizeof buf - n, " %d@%.2f", eff.layers[k], eff.thresholds[k]);
    if (!eff.n_exits) snprintf(buf + n, sizeof buf - n, " none");
    draw_str(u, u->small, buf, x, y, DIM);
    y += u->small_h;
    snprintf(buf, sizeof buf, "chat format: %s", u->format ? u->format : "-");
    draw_str(u, u->small, buf, x, y, DIM);
    y += u->small_h + px(u, 6);
    u->r_fill = (SDL_Rect){x, y, w, bh};
    snprintf(buf, sizeof buf, "K/V fill: %s", lvk_kv_fill_name(u->controls.kv_fill));
    button(u, u->r_fill, buf, 0);
    y += bh + px(u, 14);

    /* legend: the colour of each exit block and of full depth */
    draw_str(u, u->small, "exit block colours:", x, y, DIM);
    y += u->small_h;
    int lx = x;
    for (int k = 0; k <= u->model_exits.n_exits; k++) {
        int layer = k < u->model_exits.n_exits ? u->model_exits.layers[k] : u->info.n_layers;
        snprintf(buf, sizeof buf, k < u->model_exits.n_exits ? "block %d" : "%d (full)", layer);
        int tw = measure(u->small, buf, strlen(buf)) + px(u, 10);
        if (lx + tw > x + w) lx = x, y += u->small_h;
        draw_str(u, u->small, buf, lx, y, token_color(u, layer));
        lx += tw;
    }
    y += u->small_h + px(u, 14);

    /* statistics of the last reply and of the conversation */
    const stats *s[2] = {&u->reply, &u->total};
    const char *names[2] = {"last reply", "conversation"};
    for (int i = 0; i < 2; i++) {
        int nl = u->info.n_layers > 0 ? u->info.n_layers : 1;
        double bpt = s[i]->tokens ? (double)s[i]->blocks / s[i]->tokens : 0;
        draw_str(u, u->small, names[i], x, y, ACCENT);
        y += u->small_h;
        snprintf(buf, sizeof buf, "%ld tokens, %.1f tokens/s", s[i]->tokens,
                 s[i]->decode_ms > 0 ? s[i]->tokens / (s[i]->decode_ms / 1e3) : 0.0);
        draw_str(u, u->small, buf, x, y, TEXT);
        y += u->small_h;
        snprintf(buf, sizeof buf, "%.2f blocks/token, %.1f %% skipped", bpt, s[i]->tokens ? 100 * (1 - bpt / nl) : 0.0);
        draw_str(u, u->small, buf, x, y, TEXT);
        y += u->small_h;
        if (s[i]->cycles) { /* accepted drafts and the verified token of each cycle */
            snprintf(buf, sizeof buf, "%.1f %% of %llu drafts accepted",
                     s[i]->drafted ? 100.0 * s[i]->accepted / s[i]->drafted : 0.0, (unsigned long long)s[i]->drafted);
            draw_str(u, u->small, buf, x, y, TEXT);
            y += u->small_h;
            snprintf(buf, sizeof buf, "%.2f tokens per cycle", (double)(s[i]->accepted + s[i]->cycles) / s[i]->cycles);
            draw_str(u, u->small, buf, x, y, TEXT);
            y += u->small_h;
        }
        y += px(u, 6);
    }

    /* histogram of exit blocks over the conversation */
    draw_str(u, u->small, "exits by block (conversation)", x, y, DIM);
    y += u->small_h + px(u, 4);
    int hist_h = area.y + area.h - y - u->small_h - px(u, PAD);
    int nl = u->info.n_layers > 0 && u->info.n_layers <= MAX_LAYERS ? u->info.n_layers : 1;
    long peak = 1;
    for (int l = 1; l <= nl; l++) peak = u->total.hist[l] > peak ? u->total.hist[l] : peak;
    int bw = w / nl;
    for (int l = 1; l <= nl && hist_h > 0; l++) {
        int h = (int)((double)u->total.hist[l] / peak * hist_h);
        if (h > 0) fill(u, (SDL_Rect){x + (l - 1) * bw, y + hist_h - h, bw > 2 ? bw - 1 : 1, h}, token_color(u, l));
    }
    if (hist_h > 0) {
        snprintf(buf, sizeof buf, "1");
        draw_str(u, u->small, buf, x, y + hist_h, DIM);
        snprintf(buf, sizeof buf, "%d", nl);
        draw_str(u, u->small, buf, x + w - measure(u->small, buf, strlen(buf)), y + hist_h, DIM);
    }
}

static void draw_tooltip(ui *u, const lvk_token_info *t) {
    char buf[200];
    snprintf(buf, sizeof buf, "%s %d of %d · confidence %.3f · token id %d",
             t->drafted ? "drafted after block" : "exit after block", t->layer, t->n_layers, t->confidence, t->id);
    int w = measure(u->small, buf, strlen(buf)) + px(u, 12), h = u->small_h + px(u, 8);
    int x = u->mouse_x + px(u, 14), y = u->mouse_y + px(u, 18);
    if (x + w > u->win_w) x = u->win_w - w;
    if (y + h > u->win_h) y = u->mouse_y - h - px(u, 4);
    fill(u, (SDL_Rect){x, y, w, h}, (SDL_Color){0x10, 0x10, 0x14, 240});
    draw_str(u, u->small, buf, x + px(u, 6), y + px(u, 4), TEXT);
}

/* The error over the top of the transcript, wrapped to its width: a
 * failure's message is long enough to need several lines. */
static void draw_banner(ui *u, int width) {
    SDL_Surface *s = TTF_RenderUTF8_Blended_Wrapped(u->small, u->error, TEXT, (Uint32)(width - 2 * px(u, PAD)));
    u->banner_h = (s ? s->h : u->small_h) + px(u, 12);
    fill(u, (SDL_Rect){0, 0, width, u->banner_h}, ERROR_BG);
    if (!s) return;
    SDL_Texture *t = SDL_CreateTextureFromSurface(u->ren, s);
    SDL_Rect dst = {px(u, PAD), px(u, 6), s->w, s->h};
    if (t) SDL_RenderCopy(u->ren, t, NULL, &dst);
    SDL_DestroyTexture(t);
    SDL_FreeSurface(s);
}

/* Shows msg in the banner; script mode also prints it, for tests. */
static void show_error(ui *u, const char *msg) {
    snprintf(u->error, sizeof u->error, "%s", msg);
    if (u->o->script) printf("litevk-chat: error shown: %s\n", msg);
}

static void render(ui *u) {
    SDL_GetRendererOutputSize(u->ren, &u->win_w, &u->win_h);
    SDL_SetRenderDrawColor(u->ren, BG.r, BG.g, BG.b, 255);
    SDL_RenderClear(u->ren);
    int panel_w = px(u, PANEL_W), input_h = px(u, 16) + 3 * u->line_h;
    SDL_Rect transcript = {0, 0, u->win_w - panel_w, u->win_h - input_h};
    SDL_Rect input = {0, u->win_h - input_h, u->win_w - panel_w, input_h};
    SDL_Rect panel = {u->win_w - panel_w, 0, panel_w, u->win_h};
    const lvk_token_info *hover = NULL;
    draw_transcript(u, transcript, &hover);
    draw_input(u, input);
    draw_panel(u, panel);
    if (u->error[0]) draw_banner(u, transcript.w);
    if (hover) draw_tooltip(u, hover);
    SDL_RenderPresent(u->ren);
}

/* ---- actions --------------------------------------------------------------------- */

/* Loads another model (drag and drop, or "/load PATH" typed in the input). */
static void load_model(ui *u, const char *path) {
    if (u->generating) {
        show_error(u, "stop the reply before loading another model");
        return;
    }
    u->loaded = 0, u->loading = 1, u->load_fraction = 0;
    snprintf(u->loading_path, sizeof u->loading_path, "%s", path);
    worker_load(u->w, path);
}

static void send_input(ui *u) {
    if (u->generating || u->loading || !u->input_len) return;
    u->input[u->input_len] = 0;
    if (!strncmp(u->input, "/load ", 6)) {
        load_model(u, u->input + 6);
        u->input_len = u->cursor = 0;
        return;
    }
    if (!u->loaded) return;
    if (!add_turn(u, 1, u->input) || !add_turn(u, 0, NULL)) {
        show_error(u, "out of memory");
        return;
    }
    worker_send(u->w, u->input);
    u->input_len = u->cursor = 0;
    u->generating = 1;
    u->follow = 1;
    u->error[0] = 0;
    memset(&u->reply, 0, sizeof u->reply);
}

static void new_conversation(ui *u) {
    if (u->generating) worker_stop(u->w);
    worker_reset(u->w);
    clear_conversation(u);
}

static void set_controls(ui *u) { worker_set_controls(u->w, &u->controls); }

static void on_event(ui *u, const chat_event *e) {
    switch (e->kind) {
    case EV_PROGRESS:
        u->loading = 1;
        u->load_fraction = e->fraction;
        break;
    case EV_LOADED:
        u->loading = 0;
        u->loaded = 1;
        u->info = e->info;
        u->model_exits = e->exits;
        u->format = e->format;
        u->controls = (exit_controls){.decoding = e->exits.n_exits == 0                       ? DECODING_FULL_DEPTH
                                                  : e->exits.decode == LVK_DECODE_SPECULATE ? DECODING_SPECULATE
                                                                                            : DECODING_LITE_EXIT,
                                      .aggressiveness = 0.5f,
                                      .kv_fill = e->exits.kv_fill};
        set_controls(u);
        clear_conversation(u);
        u->error[0] = 0;
        break;
    case EV_LOAD_FAILED:
        u->loading = 0;
        u->loaded = u->info.n_layers > 0; /* the model loaded before, if any, is still there */
        show_error(u, e->message);
        break;
    case EV_TOKEN: {
        turn *t = u->n_turns ? &u->turns[u->n_turns - 1] : NULL;
        if (!t || t->is_user) break;
        if (t->n_tokens == t->cap_tokens) {
            size_t cap = t->cap_tokens ? 2 * t->cap_tokens : 64;
            lvk_token_info *grown = realloc(t->tokens, cap * sizeof *grown);
            if (!grown) break;
            t->tokens = grown;
            t->cap_tokens = cap;
        }
        t->tokens[t->n_tokens++] = e->token;
        t->lay_width = -1;
        int layer = e->token.layer >= 1 && e->token.layer <= MAX_LAYERS ? e->token.layer : 0;
        u->reply.tokens++, u->total.tokens++;
        const int blocks = e->token.drafted ? e->token.n_layers : e->token.layer; /* a draft was verified at full depth */
        u->reply.blocks += blocks, u->total.blocks += blocks;
        u->reply.hist[layer]++, u->total.hist[layer]++;
        break;
    }
    case EV_REPLY_DONE: {
        u->generating = 0;
        u->reply.decode_ms = e->decode_ms;
        u->total.decode_ms += e->decode_ms;
        u->reply.cycles = e->cycles, u->reply.drafted = e->drafted, u->reply.accepted = e->accepted;
        u->total.cycles += e->cycles, u->total.drafted += e->drafted, u->total.accepted += e->accepted;
        turn *t = u->n_turns ? &u->turns[u->n_turns - 1] : NULL;
        if (t && !t->is_user && e->message[0]) {
            snprintf(t->note, sizeof t->note, "(%s)", e->message);
            t->lay_width = -1;
        }
        u->script_waiting = 0;
        break;
    }
    case EV_ERROR: show_error(u, e->message); break;
    }
}

/* Moves the cursor one UTF-8 character left or right. */
static void cursor_step(ui *u, int dir) {
    if (dir < 0)
        while (u->cursor > 0 && ((unsigned char)u->input[--u->cursor] & 0xc0) == 0x80) {}
    else if (u->cursor < u->input_len)
        u->cursor += utf8_char_len(u->input + u->cursor, u->input_len - u->cursor);
}

static void insert_text(ui *u, const char *text) {
    size_t n = strlen(text);
    if (u->input_len + n >= sizeof u->input) return;
    memmove(u->input + u->cursor + n, u->input + u->cursor, u->input_len - u->cursor);
    memcpy(u->input + u->cursor, text, n);
    u->input_len += n;
    u->cursor += n;
}

static void delete_range(ui *u, size_t from, size_t to) {
    memmove(u->input + from, u->input + to, u->input_len - to);
    u->input_len -= to - from;
    u->cursor = from;
}

static void on_key(ui *u, const SDL_KeyboardEvent *k) {
    int ctrl = k->keysym.mod & KMOD_CTRL, shift = k->keysym.mod & KMOD_SHIFT;
    int page = (int)(u->win_h * 0.8);
    switch (k->keysym.sym) {
    case SDLK_RETURN:
    case SDLK_KP_ENTER:
        if (shift) insert_text(u, "\n");
        else send_input(u);
        break;
    case SDLK_ESCAPE:
        if (u->generating) worker_stop(u->w);
        break;
    case SDLK_BACKSPACE:
        if (u->cursor > 0) {
            size_t end = u->cursor;
            cursor_step(u, -1);
            delete_range(u, u->cursor, end);
        }
        break;
    case SDLK_DELETE:
        if (u->cursor < u->input_len) {
            size_t begin = u->cursor;
            cursor_step(u, 1);
            delete_range(u, begin, u->cursor);
        }
        break;
    case SDLK_LEFT: cursor_step(u, -1); break;
    case SDLK_RIGHT: cursor_step(u, 1); break;
    case SDLK_HOME: while (u->cursor > 0 && u->input[u->cursor - 1] != '\n') u->cursor--; break;
    case SDLK_END: while (u->cursor < u->input_len && u->input[u->cursor] != '\n') u->cursor++; break;
    case SDLK_PAGEUP: u->scroll -= page, u->follow = 0; break;
    case SDLK_PAGEDOWN: u->scroll += page, u->follow = u->scroll >= u->max_scroll; break;
    case SDLK_v:
        if (ctrl && SDL_HasClipboardText()) {
            char *clip = SDL_GetClipboardText();
            if (clip) insert_text(u, clip);
            SDL_free(clip);
        }
        break;
    case SDLK_l:
        if (ctrl) new_conversation(u);
        break;
    default: break;
    }
}

static int inside(SDL_Rect r, int x, int y) { return x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h; }

static void slider_to(ui *u, int x) {
    float a = (float)(x - u->r_slider.x) / (float)(u->r_slider.w > 0 ? u->r_slider.w : 1);
    u->controls.aggressiveness = a < 0 ? 0 : a > 1 ? 1 : a;
    set_controls(u);
}

static void on_click(ui *u, int x, int y) {
    if (inside(u->r_stop, x, y) && u->generating) worker_stop(u->w);
    else if (inside(u->r_new, x, y)) new_conversation(u);
    else if (inside(u->r_toggle, x, y))
        u->controls.decoding = (decoding)((u->controls.decoding + 1) % N_DECODINGS), set_controls(u);
    else if (inside(u->r_fill, x, y)) u->controls.kv_fill = (lvk_kv_fill)((u->controls.kv_fill + 1) % 3), set_controls(u);
    else if (inside((SDL_Rect){u->r_slider.x, u->r_slider.y - px(u, 8), u->r_slider.w, px(u, 22)}, x, y)) {
        u->dragging_slider = 1;
        slider_to(u, x);
    } else if (u->error[0] && y < u->banner_h) u->error[0] = 0;
}

/* ---- script mode --------------------------------------------------------------------- */

static int load_script(ui *u, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        char **grown = realloc(u->script, (u->n_script + 1) * sizeof *grown);
        if (!grown || !(grown[u->n_script] = strdup(line))) {
            if (grown) u->script = grown;
            fclose(f);
            return -1;
        }
        u->script = grown;
        u->n_script++;
    }
    fclose(f);
    return 0;
}

static int save_screenshot(ui *u, const char *path) {
    int w, h;
    SDL_GetRendererOutputSize(u->ren, &w, &h);
    uint8_t *pixels = malloc((size_t)w * h * 4);
    if (!pixels) return -1;
    /* ABGR8888 as a 32-bit value is R, G, B, A in memory on little-endian machines */
    Uint32 format = SDL_BYTEORDER == SDL_LIL_ENDIAN ? SDL_PIXELFORMAT_ABGR8888 : SDL_PIXELFORMAT_RGBA8888;
    int r = SDL_RenderReadPixels(u->ren, NULL, format, pixels, w * 4) == 0 ? png_write_rgba(path, pixels, w, h, w * 4) : -1;
    free(pixels);
    return r;
}

/* ---- the loop ------------------------------------------------------------------------- */

static int open_window(ui *u) {
    SDL_SetHint(SDL_HINT_VIDEO_X11_NET_WM_BYPASS_COMPOSITOR, "0");
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        fprintf(stderr, "litevk-chat: cannot open a window: %s\n", SDL_GetError());
        return -1;
    }
    if (TTF_Init() != 0) {
        fprintf(stderr, "litevk-chat: SDL_ttf: %s\n", TTF_GetError());
        return -1;
    }
    u->win = SDL_CreateWindow("LiteVK chat", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, u->o->width,
                              u->o->height, SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
    if (!u->win) {
        fprintf(stderr, "litevk-chat: cannot open a window: %s\n", SDL_GetError());
        return -1;
    }
    u->ren = SDL_CreateRenderer(u->win, -1, SDL_RENDERER_ACCELERATED | SDL_RENDERER_PRESENTVSYNC);
    if (!u->ren) u->ren = SDL_CreateRenderer(u->win, -1, SDL_RENDERER_SOFTWARE);
    if (!u->ren) {
        fprintf(stderr, "litevk-chat: no renderer: %s\n", SDL_GetError());
        return -1;
    }
    int ww, dw, h;
    SDL_GetWindowSize(u->win, &ww, &h);
    SDL_GetRendererOutputSize(u->ren, &dw, &h);
    u->scale = ww > 0 ? (float)dw / ww : 1;
    char path[1024];
    const char *font = u->o->font_path;
    if (!font) {
        if (font_find(path, sizeof path) != 0) {
            fprintf(stderr, "litevk-chat: no font found (install fonts-dejavu-core, or pass --font PATH to a .ttf)\n");
            return -1;
        }
        font = path;
    }
    u->font = TTF_OpenFont(font, px(u, 15));
    u->small = TTF_OpenFont(font, px(u, 12));
    if (!u->font || !u->small) {
        fprintf(stderr, "litevk-chat: cannot open the font %s: %s\n", font, TTF_GetError());
        return -1;
    }
    u->line_h = TTF_FontLineSkip(u->font);
    u->small_h = TTF_FontLineSkip(u->small);
    SDL_StartTextInput();
    return 0;
}

int ui_run(const ui_options *o, worker *w) {
    ui *u = calloc(1, sizeof *u);
    if (!u) return 1;
    u->o = o;
    u->w = w;
    u->follow = 1;
    u->loading = 1;
    snprintf(u->loading_path, sizeof u->loading_path, "%s", o->model_path);
    int status = 0;
    if (o->script && load_script(u, o->script) != 0) {
        fprintf(stderr, "litevk-chat: cannot read the script %s\n", o->script);
        status = 1;
    }
    if (!status && open_window(u) != 0) status = 1;
    for (int running = !status; running;) {
        SDL_Event ev;
        int got = SDL_WaitEventTimeout(&ev, 16); /* one frame: worker events arrive without input */
        int changed = got;
        while (got) {
            switch (ev.type) {
            case SDL_QUIT: running = 0; break;
            case SDL_KEYDOWN: on_key(u, &ev.key); break;
            case SDL_TEXTINPUT:
                if (!(SDL_GetModState() & KMOD_CTRL)) insert_text(u, ev.text.text);
                break;
            case SDL_MOUSEWHEEL:
                u->scroll -= ev.wheel.y * 3 * u->line_h;
                u->follow = u->scroll >= u->max_scroll;
                break;
            case SDL_MOUSEMOTION:
                u->mouse_x = (int)(ev.motion.x * u->scale), u->mouse_y = (int)(ev.motion.y * u->scale);
                if (u->dragging_slider) slider_to(u, u->mouse_x);
                break;
            case SDL_MOUSEBUTTONDOWN: on_click(u, (int)(ev.button.x * u->scale), (int)(ev.button.y * u->scale)); break;
            case SDL_MOUSEBUTTONUP: u->dragging_slider = 0; break;
            case SDL_DROPFILE:
                load_model(u, ev.drop.file);
                SDL_free(ev.drop.file);
                break;
            case SDL_WINDOWEVENT:
                if (ev.window.event == SDL_WINDOWEVENT_SIZE_CHANGED)
                    for (size_t i = 0; i < u->n_turns; i++) u->turns[i].lay_width = -1;
                break;
            }
            got = SDL_PollEvent(&ev);
        }
        changed |= u->generating || u->loading;
        chat_event e;
        while (worker_poll(w, &e)) {
            changed = 1;
            on_event(u, &e);
            if (o->script && e.kind == EV_LOAD_FAILED && !u->loaded) { /* no model at all: nothing to script */
                fprintf(stderr, "litevk-chat: %s\n", e.message);
                status = 1, running = 0;
            }
        }
        if (o->script && u->loaded && !u->generating && !u->script_waiting) {
            if (u->next_script < u->n_script) { /* type the next line and press Enter */
                snprintf(u->input, sizeof u->input, "%s", u->script[u->next_script++]);
                u->input_len = u->cursor = strlen(u->input);
                send_input(u);
                u->script_waiting = u->generating; /* "/load" lines wait for the load instead */
            } else {
                render(u);
                if (o->screenshot && save_screenshot(u, o->screenshot) != 0) {
                    fprintf(stderr, "litevk-chat: cannot write %s\n", o->screenshot);
                    status = 1;
                }
                printf("litevk-chat: legend");
                for (int k = 0; k <= u->model_exits.n_exits; k++) {
                    int layer = k < u->model_exits.n_exits ? u->model_exits.layers[k] : u->info.n_layers;
                    rgb c = exit_color(layer, u->info.n_layers);
                    printf(" %d:#%02x%02x%02x", layer, c.r, c.g, c.b);
                }
                printf("\n");
                running = 0;
            }
        }
        if (running && changed) render(u); /* an idle window costs nothing */
    }
    clear_conversation(u);
    free(u->turns);
    for (size_t i = 0; i < u->n_script; i++) free(u->script[i]);
    free(u->script);
    if (u->font) TTF_CloseFont(u->font);
    if (u->small) TTF_CloseFont(u->small);
    if (u->ren) SDL_DestroyRenderer(u->ren);
    if (u->win) SDL_DestroyWindow(u->win);
    TTF_Quit();
    SDL_Quit();
    free(u);
    return status;
}
