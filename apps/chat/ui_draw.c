/* ui_draw.c — text, rectangles and the widgets the window is drawn with (ui_state.h). */
#include "ui_state.h"

int ui_measure(void *user, const char *text, size_t len) {
    TTF_Font *font = user;
    char buf[1024];
    to_cstr(buf, text, len);
    int w = 0, h;
    TTF_SizeUTF8(font, buf, &w, &h);
    return w;
}

int ui_draw_text(ui *u, TTF_Font *font, const char *text, size_t len, int x, int y, SDL_Color c) {
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

int ui_draw_str(ui *u, TTF_Font *font, const char *text, int x, int y, SDL_Color c) {
    return ui_draw_text(u, font, text, strlen(text), x, y, c);
}

void ui_fill(ui *u, SDL_Rect r, SDL_Color c) {
    SDL_SetRenderDrawColor(u->ren, c.r, c.g, c.b, c.a);
    SDL_RenderFillRect(u->ren, &r);
}

SDL_Color ui_token_color(const ui *u, int layer) {
    rgb c = exit_color(layer, u->info.n_layers);
    return (SDL_Color){c.r, c.g, c.b, 255};
}

void ui_button(ui *u, SDL_Rect r, const char *label, int active) {
    ui_fill(u, r, active ? ACCENT : BOX);
    int w = ui_measure(u->small, label, strlen(label));
    ui_draw_str(u, u->small, label, r.x + (r.w - w) / 2, r.y + (r.h - u->small_h) / 2, TEXT);
}

/* Wrapped to the width: a failure's message is long enough to need several lines. */
void ui_draw_banner(ui *u, int width) {
    SDL_Surface *s = TTF_RenderUTF8_Blended_Wrapped(u->small, u->error, TEXT, (Uint32)(width - 2 * px(u, PAD)));
    u->banner_h = (s ? s->h : u->small_h) + px(u, 12);
    ui_fill(u, (SDL_Rect){0, 0, width, u->banner_h}, ERROR_BG);
    if (!s) return;
    SDL_Texture *t = SDL_CreateTextureFromSurface(u->ren, s);
    SDL_Rect dst = {px(u, PAD), px(u, 6), s->w, s->h};
    if (t) SDL_RenderCopy(u->ren, t, NULL, &dst);
    SDL_DestroyTexture(t);
    SDL_FreeSurface(s);
}
