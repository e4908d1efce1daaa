/* ui_state.h — what the files of the chat window share: its state (the
 * conversation, the input, the controls, the statistics), its palette and
 * sizes, and each file's part (ui.c: actions and the loop; ui_draw.c: text
 * and widgets; ui_transcript.c: the conversation; ui_input.c: the input box;
 * ui_panel.c: the side panel). */
#ifndef LVK_CHAT_UI_STATE_H
#define LVK_CHAT_UI_STATE_H

#include "ui.h"
#include "colors.h"
#include "layout.h"

#include <SDL.h>
#include <SDL_ttf.h>
#include <string.h>

#define PANEL_W 300   /* side panel width, points */
#define PAD 12
#define MAX_LAYERS 512

static const SDL_Color BG = {0x1e, 0x1e, 0x24, 255}, PANEL_BG = {0x26, 0x26, 0x2e, 255},
                       TEXT = {0xe6, 0xe6, 0xe6, 255}, DIM = {0x9a, 0x9a, 0xa6, 255},
                       ACCENT = {0x5a, 0x8d, 0xee, 255}, ERROR_BG = {0x80, 0x24, 0x24, 255},
                       BOX = {0x33, 0x33, 0x3d, 255};

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

/* Pixels of `points` on this display (HiDPI). */
static inline int px(const ui *u, int points) { return (int)(points * u->scale + 0.5f); }

/* SDL_ttf takes NUL-terminated text: the first len bytes of text (at most a
 * buffer's worth: longer pieces are cut) into buf. */
static inline const char *to_cstr(char buf[1024], const char *text, size_t len) {
    if (len > 1023) len = 1023;
    memcpy(buf, text, len);
    buf[len] = 0;
    return buf;
}

/* ---- ui_draw.c: text, rectangles and widgets ---- */
/* Width in pixels of len bytes of UTF-8 text in font `user` (a TTF_Font *, for layout_wrap). */
int ui_measure(void *user, const char *text, size_t len);
/* Draws UTF-8 text (len bytes) at x, y; returns its width. */
int ui_draw_text(ui *u, TTF_Font *font, const char *text, size_t len, int x, int y, SDL_Color c);
int ui_draw_str(ui *u, TTF_Font *font, const char *text, int x, int y, SDL_Color c);
void ui_fill(ui *u, SDL_Rect r, SDL_Color c);
/* The colour of tokens that left after block `layer` (colors.c). */
SDL_Color ui_token_color(const ui *u, int layer);
void ui_button(ui *u, SDL_Rect r, const char *label, int active);
/* The error over the top of the transcript; sets u->banner_h. */
void ui_draw_banner(ui *u, int width);

/* ---- ui_transcript.c: the conversation ---- */
/* A new turn at the end (text: the user's; NULL for a reply to come); NULL when out of memory. */
turn *ui_add_turn(ui *u, int is_user, const char *text);
void ui_clear_conversation(ui *u);
/* The turns in `area`, scrolled; *hover: the reply token under the mouse, if any. */
void ui_draw_transcript(ui *u, SDL_Rect area, const lvk_token_info **hover);
/* What one token's exit was, beside the mouse. */
void ui_draw_tooltip(ui *u, const lvk_token_info *t);

/* ---- ui_input.c: the input box and its editing keys ---- */
void ui_draw_input(ui *u, SDL_Rect area);
/* Inserts text at the cursor (dropped when the box is full). */
void ui_insert_text(ui *u, const char *text);
void ui_on_key(ui *u, const SDL_KeyboardEvent *k);

/* ---- ui_panel.c ---- */
/* Controls, legend, statistics and the histogram of exit blocks; sets the controls' rectangles. */
void ui_draw_panel(ui *u, SDL_Rect area);

/* ---- ui.c: actions ---- */
/* Sends the input as a user turn ("/load PATH" loads a model instead). */
void ui_send_input(ui *u);
void ui_new_conversation(ui *u);

#endif
