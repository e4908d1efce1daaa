/*
 * litevk.h — the public C API of LiteVK, the only header an embedder needs.
 *
 * LiteVK runs LLaMA-family GGUF models on any Vulkan GPU.
 *
 * Objects:
 *   lvk_context  one Vulkan device (instance, queue, pipelines)
 *   lvk_model    weights of one GGUF file, uploaded to the context's device
 *   lvk_session  one conversation: its own KV cache, sampler and position
 *
 * Errors: every function that can fail returns an lvk_status. On failure,
 * lvk_last_error() returns a readable message for the last failed call made
 * on the calling thread. Nothing in the library aborts or exits.
 *
 * Threading: a context and a model may be shared by many threads; their
 * creation and destruction must not race with any other use. A session
 * belongs to one thread at a time (no concurrent calls on one session).
 * Many sessions may run on one model at once, each on its own thread.
 *
 * Block numbering: "exited after block N" means the hidden state produced by
 * block N, counting from 1, was used to choose the token. At full depth the
 * layer reported is n_layers.
 */
#ifndef LITEVK_H
#define LITEVK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LVK_VERSION_STRING "0.1.0"

typedef enum lvk_status {
    LVK_OK = 0,
    LVK_ERR_INVALID_ARGUMENT, /* NULL pointer, out-of-range value, bad flag */
    LVK_ERR_IO,               /* file cannot be opened or read */
    LVK_ERR_FORMAT,           /* malformed or truncated model file */
    LVK_ERR_UNSUPPORTED,      /* valid file, but a type/architecture we do not run */
    LVK_ERR_DEVICE,           /* Vulkan failure (no device, device lost, ...) */
    LVK_ERR_OUT_OF_MEMORY,    /* host or device memory exhausted */
    LVK_ERR_CONTEXT_FULL,     /* prompt or generation would pass the context length */
    LVK_ERR_STATE,            /* call out of order (step before any prompt, ...) */
} lvk_status;

/* Message for the last failed call on this thread ("" if none). */
const char *lvk_last_error(void);
/* Short name of a status code ("invalid argument", ...). */
const char *lvk_status_name(lvk_status status);

typedef struct lvk_context lvk_context;
typedef struct lvk_model lvk_model;
typedef struct lvk_session lvk_session;

/* ---- devices and context ---------------------------------------------- */

typedef struct lvk_device_info {
    int index;               /* index among Vulkan physical devices */
    char name[256];
    char type[16];           /* "discrete", "integrated", "virtual", "cpu", "other" */
    uint32_t vendor_id;
    uint32_t api_version;    /* VK_MAKE_API_VERSION encoding */
    uint64_t device_local_bytes;
    uint32_t subgroup_size;
    uint64_t max_storage_buffer_range;
    int usable;              /* meets LiteVK's requirements */
    char why[160];           /* why it is or is not usable */
} lvk_device_info;

/* Lists up to `capacity` devices into `out`; *count receives the total.
 * *chosen receives the index automatic choice (and LITEVK_DEVICE) would pick,
 * or -1 when none is usable. */
lvk_status lvk_list_devices(lvk_device_info *out, int capacity, int *count, int *chosen);

typedef struct lvk_context_params {
    /* Device to use: NULL or "" = automatic (discrete > integrated > virtual >
     * CPU), else an index ("0") or a substring of the device name.
     * The environment variable LITEVK_DEVICE is used when this is NULL. */
    const char *device;
    /* Enable the Khronos validation layer (also LITEVK_VALIDATE=1). */
    int validate;
} lvk_context_params;

lvk_context_params lvk_context_default_params(void);
lvk_status lvk_context_create(const lvk_context_params *params, lvk_context **out);
void lvk_context_free(lvk_context *ctx);
/* The device this context runs on. */
lvk_status lvk_context_device(const lvk_context *ctx, lvk_device_info *out);
/* Number of messages the validation layer reported so far (0 if it is off). */
uint32_t lvk_context_validation_messages(const lvk_context *ctx);

/* ---- models -------------------------------------------------------------- */

/* Called during loading with a fraction in [0,1]. Return non-zero to cancel. */
typedef int (*lvk_progress_fn)(float fraction, void *user);

typedef struct lvk_model_params {
    lvk_progress_fn progress;
    void *progress_user;
} lvk_model_params;

typedef struct lvk_model_info {
    int n_layers, n_embd, n_heads, n_kv_heads, n_ff, n_vocab, n_ctx_train;
    int head_dim, rope_dim;
    float rms_eps, rope_base;
    int bos_id, eos_id;
    uint64_t n_params;
    uint64_t weight_bytes; /* bytes of weights as stored in the file */
    char name[128];
} lvk_model_info;

lvk_model_params lvk_model_default_params(void);
lvk_status lvk_model_load(lvk_context *ctx, const char *path, const lvk_model_params *params,
                          lvk_model **out);
void lvk_model_free(lvk_model *model);
lvk_status lvk_model_get_info(const lvk_model *model, lvk_model_info *out);

/* Tokenizer of the model. Writes up to `capacity` ids; *n_tokens receives the
 * number needed (call with capacity 0 to size). */
lvk_status lvk_tokenize(const lvk_model *model, const char *text, int add_bos, int32_t *tokens,
                        int capacity, int *n_tokens);
/* Text of one token (byte tokens give their byte; BOS/EOS give ""). */
lvk_status lvk_token_piece(const lvk_model *model, int32_t token, char *buf, size_t size);

/* ---- sessions ------------------------------------------------------------ */

typedef struct lvk_session_params {
    int n_ctx;           /* context length; 0 = the model's training context (capped at 4096) */
    float temperature;   /* 0 = greedy */
    int top_k;           /* 0 = off */
    float top_p;         /* 1 = off */
    uint64_t seed;
} lvk_session_params;

typedef struct lvk_token_info {
    int32_t id;
    char piece[64];    /* UTF-8 bytes of the token's text, NUL-terminated */
    int layer;         /* blocks run for this token (1-based), n_layers at full depth */
    int n_layers;
    float confidence;  /* softmax probability of the chosen token's argmax */
    int is_eos;        /* the model ended its text; the token is not printable */
} lvk_token_info;

lvk_session_params lvk_session_default_params(void);
lvk_status lvk_session_create(lvk_model *model, const lvk_session_params *params,
                              lvk_session **out);
void lvk_session_free(lvk_session *session);
/* Feed text (tokenized with the model's tokenizer; BOS added when add_bos
 * and the session is empty). Runs the prompt through the model in batches. */
lvk_status lvk_session_feed(lvk_session *session, const char *text, int add_bos);
/* Feed token ids. */
lvk_status lvk_session_feed_tokens(lvk_session *session, const int32_t *tokens, int n_tokens);
/* Choose the next token and feed it back, so the next step continues. */
lvk_status lvk_session_step(lvk_session *session, lvk_token_info *out);
/* Forget the conversation: position 0, empty KV cache. */
lvk_status lvk_session_reset(lvk_session *session);
/* Number of tokens in the session's KV cache, and its capacity. */
int lvk_session_n_past(const lvk_session *session);
int lvk_session_n_ctx(const lvk_session *session);

#ifdef __cplusplus
}
#endif
#endif
