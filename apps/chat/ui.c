/* ui.c — the chat window (see ui.h): the actions, the worker's events, the
 * mouse, script mode and the loop; the drawing and the input box are in the
 * files ui_state.h lists.
 *
 * Screen:  +-------------------------------+-------------+
 *          | transcript (scrolls)          | controls    |
 *          |                               | legend      |
 *          +-------------------------------+ statistics  |
 *          | input box                     | histogram   |
 *          +-------------------------------+-------------+
 * The loop waits for input with a timeout of one frame, so the window stays
 * responsive while the worker loads a model or generates. */
#include "ui_state.h"
#include "font.h"
#include "png.h"

#include <stdio.h>
#include <stdlib.h>

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
    ui_draw_transcript(u, transcript, &hover);
    ui_draw_input(u, input);
    ui_draw_panel(u, panel);
    if (u->error[0]) ui_draw_banner(u, transcript.w);
    if (hover) ui_draw_tooltip(u, hover);
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

void ui_send_input(ui *u) {
    if (u->generating || u->loading || !u->input_len) return;
    u->input[u->input_len] = 0;
    if (!strncmp(u->input, "/load ", 6)) {
        load_model(u, u->input + 6);
        u->input_len = u->cursor = 0;
        return;
    }
    if (!u->loaded) return;
    if (!ui_add_turn(u, 1, u->input) || !ui_add_turn(u, 0, NULL)) {
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

void ui_new_conversation(ui *u) {
    if (u->generating) worker_stop(u->w);
    worker_reset(u->w);
    ui_clear_conversation(u);
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
        ui_clear_conversation(u);
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

static int inside(SDL_Rect r, int x, int y) { return x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h; }

static void slider_to(ui *u, int x) {
    float a = (float)(x - u->r_slider.x) / (float)(u->r_slider.w > 0 ? u->r_slider.w : 1);
    u->controls.aggressiveness = a < 0 ? 0 : a > 1 ? 1 : a;
    set_controls(u);
}

static void on_click(ui *u, int x, int y) {
    if (inside(u->r_stop, x, y) && u->generating) worker_stop(u->w);
    else if (inside(u->r_new, x, y)) ui_new_conversation(u);
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
            case SDL_KEYDOWN: ui_on_key(u, &ev.key); break;
            case SDL_TEXTINPUT:
                if (!(SDL_GetModState() & KMOD_CTRL)) ui_insert_text(u, ev.text.text);
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
                ui_send_input(u);
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
    ui_clear_conversation(u);
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
