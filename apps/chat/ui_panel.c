/* ui_panel.c — the side panel: the controls (stop, new chat, decoding,
 * thresholds, K/V fill), the legend of exit colours, the statistics of the
 * last reply and the conversation, and the histogram of exit blocks. */
#include "ui_state.h"

#include <stdio.h>

void ui_draw_panel(ui *u, SDL_Rect area) {
    ui_fill(u, area, PANEL_BG);
    int x = area.x + px(u, PAD), w = area.w - 2 * px(u, PAD), y = area.y + px(u, PAD), bh = px(u, 26);
    char buf[256];

    /* controls */
    u->r_stop = (SDL_Rect){x, y, (w - px(u, 8)) / 2, bh};
    u->r_new = (SDL_Rect){x + (w + px(u, 8)) / 2, y, (w - px(u, 8)) / 2, bh};
    ui_button(u, u->r_stop, "Stop (Esc)", u->generating);
    ui_button(u, u->r_new, "New chat (Ctrl+L)", 0);
    y += bh + px(u, 10);
    u->r_toggle = (SDL_Rect){x, y, w, bh};
    static const char *const decoding_names[N_DECODINGS] = {"full depth", "LITE exit", "speculate (exact)"};
    snprintf(buf, sizeof buf, "Decoding: %s", decoding_names[u->controls.decoding]);
    ui_button(u, u->r_toggle, buf, u->controls.decoding != DECODING_FULL_DEPTH);
    y += bh + px(u, 10);
    lvk_exit_config eff = exit_controls_apply(&u->controls, &u->model_exits);
    ui_draw_str(u, u->small, "stricter            thresholds            more exits", x, y, DIM);
    y += u->small_h;
    u->r_slider = (SDL_Rect){x, y + px(u, 6), w, px(u, 6)};
    ui_fill(u, u->r_slider, BOX);
    SDL_Rect knob = {x + (int)(u->controls.aggressiveness * (w - px(u, 12))), y, px(u, 12), px(u, 18)};
    ui_fill(u, knob, u->controls.decoding == DECODING_LITE_EXIT ? ACCENT : DIM);
    y += px(u, 24);
    int n = 0;
    n += snprintf(buf + n, sizeof buf - n, "exits:");
    for (int k = 0; k < eff.n_exits && n < (int)sizeof buf; k++)
        n += snprintf(buf + n, sizeof buf - n, " %d@%.2f", eff.layers[k], eff.thresholds[k]);
    if (!eff.n_exits) snprintf(buf + n, sizeof buf - n, " none");
    ui_draw_str(u, u->small, buf, x, y, DIM);
    y += u->small_h;
    snprintf(buf, sizeof buf, "chat format: %s", u->format ? u->format : "-");
    ui_draw_str(u, u->small, buf, x, y, DIM);
    y += u->small_h + px(u, 6);
    u->r_fill = (SDL_Rect){x, y, w, bh};
    snprintf(buf, sizeof buf, "K/V fill: %s", lvk_kv_fill_name(u->controls.kv_fill));
    ui_button(u, u->r_fill, buf, 0);
    y += bh + px(u, 14);

    /* legend: the colour of each exit block and of full depth */
    ui_draw_str(u, u->small, "exit block colours:", x, y, DIM);
    y += u->small_h;
    int lx = x;
    for (int k = 0; k <= u->model_exits.n_exits; k++) {
        int layer = k < u->model_exits.n_exits ? u->model_exits.layers[k] : u->info.n_layers;
        snprintf(buf, sizeof buf, k < u->model_exits.n_exits ? "block %d" : "%d (full)", layer);
        int tw = ui_measure(u->small, buf, strlen(buf)) + px(u, 10);
        if (lx + tw > x + w) lx = x, y += u->small_h;
        ui_draw_str(u, u->small, buf, lx, y, ui_token_color(u, layer));
        lx += tw;
    }
    y += u->small_h + px(u, 14);

    /* statistics of the last reply and of the conversation */
    const stats *s[2] = {&u->reply, &u->total};
    const char *names[2] = {"last reply", "conversation"};
    for (int i = 0; i < 2; i++) {
        int nl = u->info.n_layers > 0 ? u->info.n_layers : 1;
        double bpt = s[i]->tokens ? (double)s[i]->blocks / s[i]->tokens : 0;
        ui_draw_str(u, u->small, names[i], x, y, ACCENT);
        y += u->small_h;
        snprintf(buf, sizeof buf, "%ld tokens, %.1f tokens/s", s[i]->tokens,
                 s[i]->decode_ms > 0 ? s[i]->tokens / (s[i]->decode_ms / 1e3) : 0.0);
        ui_draw_str(u, u->small, buf, x, y, TEXT);
        y += u->small_h;
        snprintf(buf, sizeof buf, "%.2f blocks/token, %.1f %% skipped", bpt, s[i]->tokens ? 100 * (1 - bpt / nl) : 0.0);
        ui_draw_str(u, u->small, buf, x, y, TEXT);
        y += u->small_h;
        if (s[i]->cycles) { /* accepted drafts and the verified token of each cycle */
            snprintf(buf, sizeof buf, "%.1f %% of %llu drafts accepted",
                     s[i]->drafted ? 100.0 * s[i]->accepted / s[i]->drafted : 0.0, (unsigned long long)s[i]->drafted);
            ui_draw_str(u, u->small, buf, x, y, TEXT);
            y += u->small_h;
            snprintf(buf, sizeof buf, "%.2f tokens per cycle", (double)(s[i]->accepted + s[i]->cycles) / s[i]->cycles);
            ui_draw_str(u, u->small, buf, x, y, TEXT);
            y += u->small_h;
        }
        y += px(u, 6);
    }

    /* histogram of exit blocks over the conversation */
    ui_draw_str(u, u->small, "exits by block (conversation)", x, y, DIM);
    y += u->small_h + px(u, 4);
    int hist_h = area.y + area.h - y - u->small_h - px(u, PAD);
    int nl = u->info.n_layers > 0 && u->info.n_layers <= MAX_LAYERS ? u->info.n_layers : 1;
    long peak = 1;
    for (int l = 1; l <= nl; l++) peak = u->total.hist[l] > peak ? u->total.hist[l] : peak;
    int bw = w / nl;
    for (int l = 1; l <= nl && hist_h > 0; l++) {
        int h = (int)((double)u->total.hist[l] / peak * hist_h);
        if (h > 0) ui_fill(u, (SDL_Rect){x + (l - 1) * bw, y + hist_h - h, bw > 2 ? bw - 1 : 1, h}, ui_token_color(u, l));
    }
    if (hist_h > 0) {
        snprintf(buf, sizeof buf, "1");
        ui_draw_str(u, u->small, buf, x, y + hist_h, DIM);
        snprintf(buf, sizeof buf, "%d", nl);
        ui_draw_str(u, u->small, buf, x + w - ui_measure(u->small, buf, strlen(buf)), y + hist_h, DIM);
    }
}
