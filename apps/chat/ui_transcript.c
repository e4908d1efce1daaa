/* ui_transcript.c — the conversation: its turns, each laid out once per width
 * (layout.c) with its pieces rendered to textures once, and drawn scrolled. A
 * reply that is streaming is laid out again per token. */
#include "ui_state.h"

#include <stdio.h>
#include <stdlib.h>

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

turn *ui_add_turn(ui *u, int is_user, const char *text) {
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

void ui_clear_conversation(ui *u) {
    for (size_t i = 0; i < u->n_turns; i++) turn_free(&u->turns[i]);
    u->n_turns = 0;
    u->scroll = 0;
    u->follow = 1;
    memset(&u->reply, 0, sizeof u->reply);
    memset(&u->total, 0, sizeof u->total);
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
    int ok = layout_wrap(&t->lay, runs, n_runs, width, ui_measure, u->font) == 0;
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
        SDL_Color c = t->is_user ? TEXT : ui_token_color(u, t->tokens[p->run].layer);
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

void ui_draw_transcript(ui *u, SDL_Rect area, const lvk_token_info **hover) {
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
            ui_draw_str(u, u->small, label, area.x + px(u, PAD), y, t->is_user ? ACCENT : DIM);
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
                        ui_fill(u, (SDL_Rect){r.x, r.y + th - px(u, 2), tw, px(u, 1) > 0 ? px(u, 1) : 1},
                             ui_token_color(u, t->tokens[p->run].layer));
                }
                if (!t->is_user && u->mouse_x >= dst.x && u->mouse_x < dst.x + dst.w && u->mouse_y >= dst.y &&
                    u->mouse_y < dst.y + dst.h && u->mouse_y >= area.y && u->mouse_y < area.y + area.h)
                    *hover = &t->tokens[p->run];
            }
            if (t->note[0])
                ui_draw_str(u, u->small, t->note, area.x + px(u, PAD),
                         top + (t->lay.n_lines > 0 ? t->lay.n_lines : 1) * u->line_h, DIM);
        }
        y += h;
    }
    if (u->loading || (!u->loaded && !u->error[0])) {
        char msg[1200];
        snprintf(msg, sizeof msg, "loading %s … %.0f %%", u->loading_path, 100 * u->load_fraction);
        ui_draw_str(u, u->font, msg, area.x + px(u, PAD), area.y + area.h / 2 - u->line_h, DIM);
        SDL_Rect bar = {area.x + px(u, PAD), area.y + area.h / 2 + px(u, 4), area.w - 2 * px(u, PAD), px(u, 8)};
        ui_fill(u, bar, BOX);
        bar.w = (int)(bar.w * u->load_fraction);
        ui_fill(u, bar, ACCENT);
    }
    SDL_RenderSetClipRect(u->ren, NULL);
}

void ui_draw_tooltip(ui *u, const lvk_token_info *t) {
    char buf[200];
    snprintf(buf, sizeof buf, "%s %d of %d · confidence %.3f · token id %d",
             t->drafted ? "drafted after block" : "exit after block", t->layer, t->n_layers, t->confidence, t->id);
    int w = ui_measure(u->small, buf, strlen(buf)) + px(u, 12), h = u->small_h + px(u, 8);
    int x = u->mouse_x + px(u, 14), y = u->mouse_y + px(u, 18);
    if (x + w > u->win_w) x = u->win_w - w;
    if (y + h > u->win_h) y = u->mouse_y - h - px(u, 4);
    ui_fill(u, (SDL_Rect){x, y, w, h}, (SDL_Color){0x10, 0x10, 0x14, 240});
    ui_draw_str(u, u->small, buf, x + px(u, 6), y + px(u, 4), TEXT);
}
