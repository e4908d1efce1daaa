/* ui_input.c — the input box: drawing it with its cursor, and the keys that
 * edit it, send it, scroll the transcript and stop a reply. */
#include "ui_state.h"

void ui_draw_input(ui *u, SDL_Rect area) {
    ui_fill(u, area, BOX);
    SDL_RenderSetClipRect(u->ren, &area);
    int x = area.x + px(u, PAD), y = area.y + px(u, 8);
    if (!u->input_len) {
        ui_draw_str(u, u->font,
                 u->generating ? "generating… (Esc stops)" : "Type a message; Enter sends, Shift+Enter for a new line",
                 x, y, DIM);
    }
    /* lines of the input; the cursor is a bar after the bytes before it */
    size_t start = 0;
    int line = 0, cx = x, cy = y;
    for (size_t i = 0; i <= u->input_len; i++) {
        if (i == u->input_len || u->input[i] == '\n') {
            ui_draw_text(u, u->font, u->input + start, i - start, x, y + line * u->line_h, TEXT);
            if (u->cursor >= start && u->cursor <= i) {
                cx = x + ui_measure(u->font, u->input + start, u->cursor - start);
                cy = y + line * u->line_h;
            }
            start = i + 1;
            line++;
        }
    }
    ui_fill(u, (SDL_Rect){cx, cy, px(u, 2), u->line_h}, TEXT);
    SDL_RenderSetClipRect(u->ren, NULL);
}

/* Moves the cursor one UTF-8 character left or right. */
static void cursor_step(ui *u, int dir) {
    if (dir < 0)
        while (u->cursor > 0 && ((unsigned char)u->input[--u->cursor] & 0xc0) == 0x80) {}
    else if (u->cursor < u->input_len)
        u->cursor += utf8_char_len(u->input + u->cursor, u->input_len - u->cursor);
}

void ui_insert_text(ui *u, const char *text) {
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

void ui_on_key(ui *u, const SDL_KeyboardEvent *k) {
    int ctrl = k->keysym.mod & KMOD_CTRL, shift = k->keysym.mod & KMOD_SHIFT;
    int page = (int)(u->win_h * 0.8);
    switch (k->keysym.sym) {
    case SDLK_RETURN:
    case SDLK_KP_ENTER:
        if (shift) ui_insert_text(u, "\n");
        else ui_send_input(u);
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
            if (clip) ui_insert_text(u, clip);
            SDL_free(clip);
        }
        break;
    case SDLK_l:
        if (ctrl) ui_new_conversation(u);
        break;
    default: break;
    }
}
