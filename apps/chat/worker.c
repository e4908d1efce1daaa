/* worker.c — see worker.h. One thread owns the context, the model and the
 * session; commands come in through a small queue, events go out through
 * another. Stopping is a flag the generation loop reads between tokens. */
#include "worker.h"
#include "cli.h"
#include "reply.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

typedef enum command_kind { CMD_LOAD, CMD_SEND, CMD_RESET, CMD_QUIT } command_kind;

typedef struct command {
    command_kind kind;
    char *text; /* model path or user text, owned */
} command;

struct worker {
    worker_config cfg;
    thrd_t thread;
    mtx_t lock;
    cnd_t wake;
    command *commands;  /* FIFO */
    size_t n_commands, cap_commands;
    chat_event *events; /* FIFO */
    size_t n_events, head_events, cap_events;
    exit_controls controls; /* under lock; `controls_version` counts changes */
    unsigned controls_version;
    atomic_int stop, quit;

    /* owned by the thread */
    lvk_context *ctx;
    lvk_model *model;
    lvk_session *session;
    char *path; /* of the model loaded */
    lvk_model_info info;
    lvk_exit_config model_exits;
    const char *format;         /* the conversation's chat format */
    lvk_chat_message *messages; /* the conversation; contents owned */
    size_t n_messages, cap_messages;
    int n_fed; /* messages in the session */
};

static void push_event(worker *w, const chat_event *e) {
    mtx_lock(&w->lock);
    if (w->n_events == w->cap_events) { /* grow and unwrap the ring */
        size_t cap = w->cap_events ? 2 * w->cap_events : 64;
        chat_event *grown = malloc(cap * sizeof *grown);
        if (grown) {
            for (size_t i = 0; i < w->n_events; i++) grown[i] = w->events[(w->head_events + i) % w->cap_events];
            free(w->events);
            w->events = grown;
            w->cap_events = cap;
            w->head_events = 0;
        }
    }
    if (w->n_events < w->cap_events) { /* out of memory drops the event rather than the program */
        w->events[(w->head_events + w->n_events) % w->cap_events] = *e;
        w->n_events++;
    }
    mtx_unlock(&w->lock);
}

static void push_message(worker *w, event_kind kind, const char *fmt, const char *arg) {
    chat_event e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    snprintf(e.message, sizeof e.message, fmt, arg);
    push_event(w, &e);
}

int worker_poll(worker *w, chat_event *out) {
    mtx_lock(&w->lock);
    int got = w->n_events > 0;
    if (got) {
        *out = w->events[w->head_events];
        w->head_events = (w->head_events + 1) % w->cap_events;
        w->n_events--;
    }
    mtx_unlock(&w->lock);
    return got;
}

static void push_command(worker *w, command_kind kind, const char *text) {
    char *copy = text ? strdup(text) : NULL;
    mtx_lock(&w->lock);
    if (w->n_commands == w->cap_commands) {
        size_t cap = w->cap_commands ? 2 * w->cap_commands : 8;
        command *grown = realloc(w->commands, cap * sizeof *grown);
        if (grown) w->commands = grown, w->cap_commands = cap;
    }
    if (w->n_commands < w->cap_commands && (copy || !text)) w->commands[w->n_commands++] = (command){kind, copy};
    else free(copy);
    cnd_signal(&w->wake);
    mtx_unlock(&w->lock);
}

void worker_load(worker *w, const char *path) { push_command(w, CMD_LOAD, path); }
void worker_send(worker *w, const char *text) { push_command(w, CMD_SEND, text); }
void worker_reset(worker *w) { push_command(w, CMD_RESET, NULL); }
void worker_stop(worker *w) { atomic_store(&w->stop, 1); }

void worker_set_controls(worker *w, const exit_controls *c) {
    mtx_lock(&w->lock);
    w->controls = *c;
    w->controls_version++;
    mtx_unlock(&w->lock);
}

lvk_exit_config exit_controls_apply(const exit_controls *c, const lvk_exit_config *model_exits) {
    lvk_exit_config cfg = *model_exits;
    cfg.kv_fill = c->kv_fill;
    cfg.decode = c->decoding == DECODING_SPECULATE && cfg.n_exits > 0 ? LVK_DECODE_SPECULATE : LVK_DECODE_EXIT;
    if (c->decoding == DECODING_FULL_DEPTH) cfg.n_exits = 0;
    /* below the middle, thresholds move towards 1 (never); above, towards 0 (always) */
    float a = c->aggressiveness < 0 ? 0 : c->aggressiveness > 1 ? 1 : c->aggressiveness;
    for (int k = 0; k < cfg.n_exits; k++) {
        float t = model_exits->thresholds[k];
        cfg.thresholds[k] = a < 0.5f ? t + (1 - t) * (0.5f - a) * 2 : t * (1 - (a - 0.5f) * 2);
    }
    return cfg;
}

/* ---- on the thread ------------------------------------------------------------ */

/* Forgets the conversation: its messages and the session's tokens. */
static void forget_conversation(worker *w) {
    for (size_t i = 0; i < w->n_messages; i++) free((char *)w->messages[i].content);
    w->n_messages = 0;
    w->n_fed = 0;
    if (w->session) lvk_session_reset(w->session);
}

/* Appends a message, its content copied; 0 when out of memory. */
static int add_message(worker *w, const char *role, const char *content, size_t len) {
    if (w->n_messages == w->cap_messages) {
        size_t cap = w->cap_messages ? 2 * w->cap_messages : 16;
        lvk_chat_message *grown = realloc(w->messages, cap * sizeof *grown);
        if (!grown) return 0;
        w->messages = grown;
        w->cap_messages = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return 0;
    memcpy(copy, content, len);
    copy[len] = 0;
    w->messages[w->n_messages++] = (lvk_chat_message){.role = role, .content = copy};
    return 1;
}

static int load_progress(float fraction, void *user) {
    worker *w = user;
    chat_event e = {.kind = EV_PROGRESS, .fraction = fraction};
    push_event(w, &e);
    return atomic_load(&w->quit);
}

/* A load that failed: its message goes to the window. After a device error
 * the context may be lost for good: when no model uses it, it goes, and the
 * next load makes a new one. Returns 0. */
static int load_failed(worker *w, lvk_status st, char *path_copy) {
    push_message(w, EV_LOAD_FAILED, "%s", lvk_last_error());
    if (st == LVK_ERR_DEVICE && !w->model) {
        lvk_context_free(w->ctx);
        w->ctx = NULL;
    }
    free(path_copy);
    return 0;
}

/* Loads a model and its session; 0 when that failed (an EV_LOAD_FAILED says why). */
static int load(worker *w, const char *path) {
    char *copy = strdup(path);
    if (!copy) {
        push_message(w, EV_LOAD_FAILED, "%s", "out of memory");
        return 0;
    }
    if (!w->ctx) { /* sized for the first model: a later one shares the context and its threads */
        if (cli_create_context(w->cfg.device, path, &w->ctx) != 0) {
            push_message(w, EV_LOAD_FAILED, "no usable Vulkan device: %s", lvk_last_error());
            free(copy);
            return 0;
        }
    }
    lvk_model_params mp = lvk_model_default_params();
    mp.progress = load_progress;
    mp.progress_user = w;
    lvk_model *model;
    lvk_status st = lvk_model_load(w->ctx, path, &mp, &model);
    if (st != LVK_OK) return load_failed(w, st, copy);
    lvk_exit_config exits;
    lvk_model_info info;
    lvk_model_get_info(model, &info);
    lvk_model_exit_config(model, &exits, NULL);
    const exit_options *o = &w->cfg.exits; /* the command line's exit flags, applied to every model loaded */
    if ((o->layers || o->thresholds || o->no_exit || o->mode_given || o->kv_fill_given || o->speculate) &&
        exit_options_config(o, model, "litevk-chat", &exits) != 0) {
        lvk_model_free(model);
        push_message(w, EV_LOAD_FAILED, "%s: the exit options do not fit this model", path);
        free(copy);
        return 0;
    }
    lvk_session_params sp = w->cfg.params;
    sp.exits = &exits;
    lvk_session *session;
    if ((st = lvk_session_create(model, &sp, &session)) != LVK_OK) {
        lvk_model_free(model);
        return load_failed(w, st, copy);
    }
    lvk_session_free(w->session);
    lvk_model_free(w->model);
    free(w->path);
    w->path = copy;
    w->model = model;
    w->session = session;
    w->info = info;
    w->model_exits = exits;
    forget_conversation(w);
    /* --template, else the model's own; a template LiteVK cannot read leaves raw text, and says so */
    char unknown[256] = "";
    w->format = w->cfg.format;
    if (!w->format && lvk_model_chat_format(model, &w->format) != LVK_OK) {
        snprintf(unknown, sizeof unknown, "%s", lvk_last_error());
        w->format = "raw";
    }
    chat_event e = {.kind = EV_LOADED, .info = info, .exits = exits, .format = w->format};
    push_event(w, &e);
    if (unknown[0]) push_message(w, EV_ERROR, "%s; the conversation is raw text (--template picks a format)", unknown);
    return 1;
}

/* After a failed reply the session's KV cache cannot be trusted, so the
 * conversation starts over. A device error may be a lost device, which stays
 * lost: then the model is loaded again on a new context. */
static void recover(worker *w, lvk_status st) {
    char why[200]; /* with the words around it, fits an event's message */
    snprintf(why, sizeof why, "%s", lvk_last_error());
    if (st == LVK_ERR_DEVICE && w->path) {
        char *path = w->path;
        w->path = NULL;
        lvk_session_free(w->session);
        lvk_model_free(w->model);
        lvk_context_free(w->ctx);
        w->session = NULL, w->model = NULL, w->ctx = NULL;
        int loaded = load(w, path); /* its EV_LOADED clears the window's conversation */
        free(path);
        if (loaded) push_message(w, EV_ERROR, "the reply failed: %s; the model was loaded again, and the "
                                              "conversation starts over", why);
        return;
    }
    forget_conversation(w);
    push_message(w, EV_ERROR, "the reply failed: %s; the conversation starts over", why);
}

/* Applies the UI's controls when they changed since the last token. */
static void apply_controls(worker *w, unsigned *seen) {
    mtx_lock(&w->lock);
    exit_controls c = w->controls;
    unsigned version = w->controls_version;
    mtx_unlock(&w->lock);
    if (version == *seen) return;
    *seen = version;
    lvk_exit_config cfg = exit_controls_apply(&c, &w->model_exits);
    if (lvk_session_set_exits(w->session, &cfg) != LVK_OK) push_message(w, EV_ERROR, "%s", lvk_last_error());
}

static void emit_token(const lvk_token_info *token, void *user) {
    chat_event e = {.kind = EV_TOKEN, .token = *token};
    push_event(user, &e);
}

/* One reply: feed the user's turn in the conversation's format, then step
 * until end of generation, -n, a stop string, Stop, or a full context. The
 * reply joins the conversation, which the next turn continues. */
static void reply(worker *w, const char *user_text, unsigned *seen) {
    chat_event done = {.kind = EV_REPLY_DONE};
    if (!w->session) {
        push_message(w, EV_ERROR, "%s", "no model is loaded: drop a .gguf file on the window");
        push_event(w, &done);
        return;
    }
    apply_controls(w, seen);
    if (!add_message(w, "user", user_text, strlen(user_text))) {
        snprintf(done.message, sizeof done.message, "out of memory");
        push_event(w, &done);
        return;
    }
    lvk_status st = lvk_session_feed_chat(w->session, w->format, w->messages, (int)w->n_messages, w->n_fed, 1);
    if (st != LVK_OK) {
        snprintf(done.message, sizeof done.message, "%s", lvk_last_error());
        if (st == LVK_ERR_CONTEXT_FULL) forget_conversation(w);
        else recover(w, st);
        push_event(w, &done);
        return;
    }
    w->n_fed = (int)w->n_messages;
    lvk_session_stats before;
    lvk_session_stats_get(w->session, &before);
    reply_stream stream;
    reply_stream_init(&stream, lvk_chat_format_stop_strings(w->format), emit_token, w);
    double decode_ms = 0;
    for (long i = 0; i < w->cfg.n_predict; i++) {
        if (atomic_load(&w->stop) || atomic_load(&w->quit)) {
            snprintf(done.message, sizeof done.message, "stopped");
            break;
        }
        apply_controls(w, seen);
        lvk_token_info t;
        double t0 = cli_now_ms();
        st = lvk_session_step(w->session, &t);
        decode_ms += cli_now_ms() - t0;
        if (st != LVK_OK) {
            snprintf(done.message, sizeof done.message, "%s%s", lvk_last_error(),
                     st == LVK_ERR_CONTEXT_FULL ? " (Ctrl+L starts a new conversation)" : "");
            break;
        }
        if (t.is_eog || reply_stream_push(&stream, &t)) break;
    }
    reply_stream_finish(&stream);
    size_t len;
    const char *text = reply_stream_text(&stream, &len);
    if (st != LVK_OK && st != LVK_ERR_CONTEXT_FULL) {
        recover(w, st);
    } else if (add_message(w, "assistant", text, len)) {
        w->n_fed = (int)w->n_messages;
    } else { /* a conversation without the reply cannot continue the session's tokens */
        forget_conversation(w);
        push_message(w, EV_ERROR, "%s", "out of memory: the conversation starts over");
    }
    reply_stream_free(&stream);
    done.decode_ms = decode_ms;
    lvk_session_stats after;
    if (lvk_session_stats_get(w->session, &after) == LVK_OK && after.cycles >= before.cycles) { /* same session */
        done.cycles = after.cycles - before.cycles;
        done.drafted = after.drafted - before.drafted;
        done.accepted = after.accepted - before.accepted;
    }
    push_event(w, &done);
}

static int run(void *arg) {
    worker *w = arg;
    unsigned seen = 0;
    for (;;) {
        mtx_lock(&w->lock);
        while (!w->n_commands && !atomic_load(&w->quit)) cnd_wait(&w->wake, &w->lock);
        if (atomic_load(&w->quit)) {
            mtx_unlock(&w->lock);
            break;
        }
        command c = w->commands[0];
        memmove(w->commands, w->commands + 1, --w->n_commands * sizeof *w->commands);
        atomic_store(&w->stop, 0); /* a Stop pressed before this command does not cancel it */
        mtx_unlock(&w->lock);
        switch (c.kind) {
        case CMD_LOAD: load(w, c.text); seen--; break; /* a new session takes the current controls */
        case CMD_SEND: reply(w, c.text, &seen); break;
        case CMD_RESET: forget_conversation(w); break;
        case CMD_QUIT: break;
        }
        free(c.text);
    }
    return 0;
}

worker *worker_start(const worker_config *cfg, const char *model_path, char *err, size_t err_size) {
    worker *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    w->cfg = *cfg;
    w->controls = (exit_controls){.decoding = DECODING_LITE_EXIT, .aggressiveness = 0.5f, .kv_fill = LVK_KV_DEFERRED};
    if (mtx_init(&w->lock, mtx_plain) != thrd_success || cnd_init(&w->wake) != thrd_success) {
        snprintf(err, err_size, "cannot create a lock");
        free(w);
        return NULL;
    }
    push_command(w, CMD_LOAD, model_path);
    if (thrd_create(&w->thread, run, w) != thrd_success) {
        snprintf(err, err_size, "cannot start the generation thread");
        free(w->commands[0].text);
        free(w->commands);
        free(w);
        return NULL;
    }
    return w;
}

void worker_free(worker *w) {
    if (!w) return;
    mtx_lock(&w->lock);
    atomic_store(&w->quit, 1);
    cnd_signal(&w->wake);
    mtx_unlock(&w->lock);
    thrd_join(w->thread, NULL);
    for (size_t i = 0; i < w->n_commands; i++) free(w->commands[i].text);
    free(w->commands);
    free(w->events);
    forget_conversation(w);
    free(w->messages);
    lvk_session_free(w->session);
    lvk_model_free(w->model);
    lvk_context_free(w->ctx);
    free(w->path);
    cnd_destroy(&w->wake);
    mtx_destroy(&w->lock);
    free(w);
}
