/* worker.h — the chat's model and generation on a thread of their own, so the
 * window never waits on the GPU. The UI sends commands; the worker answers
 * with events that the UI polls once per frame. */
#ifndef LVK_CHAT_WORKER_H
#define LVK_CHAT_WORKER_H

#include "exit_options.h"
#include "litevk.h"

typedef struct worker_config {
    const char *device;        /* NULL = automatic */
    lvk_session_params params; /* sampling and context; exits are set by the worker */
    long n_predict;            /* tokens per reply at most */
    exit_options exits;        /* --exit-layers and friends, applied to every model loaded */
    const char *format;        /* --template: the chat format of every model (a library name);
                                  NULL: each model's own */
} worker_config;

typedef enum event_kind {
    EV_PROGRESS,    /* fraction: model load progress */
    EV_LOADED,      /* the model is ready: info, exits, format */
    EV_LOAD_FAILED, /* message; the previous model (if any) stays loaded */
    EV_TOKEN,       /* token: one token of the reply, text in token.piece */
    EV_REPLY_DONE,  /* decode_ms, speculation; message: why it ended ("" = end of text) */
    EV_ERROR,       /* message: a failure the user should see */
} event_kind;

typedef struct chat_event {
    event_kind kind;
    float fraction;
    lvk_token_info token;
    double decode_ms;
    uint64_t cycles, drafted, accepted; /* EV_REPLY_DONE: the reply's speculation cycles and drafts */
    lvk_model_info info;
    lvk_exit_config exits; /* the model's configuration, before the UI's controls */
    const char *format;    /* the chat format the conversation is in (the library's string) */
    char message[320];
} chat_event;

/* How the chat app decodes: what the exit heads are for. */
typedef enum decoding {
    DECODING_FULL_DEPTH, /* no exit heads */
    DECODING_LITE_EXIT,  /* a confident token skips the remaining blocks */
    DECODING_SPECULATE,  /* the heads draft, the remaining blocks verify: full depth's output */
    N_DECODINGS
} decoding;

/* What the UI's controls say about early exit; applied from the next token. */
typedef struct exit_controls {
    decoding decoding;
    float aggressiveness; /* 0..1; 0.5 = the model's thresholds, 0 = never exit, 1 = always */
    lvk_kv_fill kv_fill;
} exit_controls;

typedef struct worker worker;

/* Starts the thread and the first model load; NULL when out of memory or
 * threads cannot start (lvk_last_error-style message in err). */
worker *worker_start(const worker_config *cfg, const char *model_path, char *err, size_t err_size);
void worker_load(worker *w, const char *model_path);
void worker_send(worker *w, const char *user_text);
void worker_stop(worker *w);  /* ends the current reply after the token being made */
void worker_reset(worker *w); /* a new conversation */
void worker_set_controls(worker *w, const exit_controls *c);
/* The thresholds the controls give for the model's configuration. */
lvk_exit_config exit_controls_apply(const exit_controls *c, const lvk_exit_config *model_exits);
/* Takes the next event; 0 when there is none. */
int worker_poll(worker *w, chat_event *out);
/* Stops the thread (cancelling a load or a reply) and frees everything. */
void worker_free(worker *w);

#endif
