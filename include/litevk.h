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

/* The library is built with hidden visibility: what this header declares is
 * what it exports, and nothing else. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
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
    /* Load only the vocabulary (the tokenizer.ggml.* metadata), as llama.cpp's
     * vocab_only: nothing goes to a device, so ctx may be NULL, and neither
     * the architecture nor the weights are read, so a vocabulary file
     * (llama.cpp's ggml-vocab-*.gguf, `litevk convert --vocab-only`) loads
     * too. Such a model tokenizes (lvk_tokenize*, lvk_token_piece,
     * lvk_token_is_eog, lvk_chat_tokenize) and lvk_model_get_info gives its
     * vocabulary (hyper-parameters are 0), but lvk_session_create refuses it
     * (LVK_ERR_STATE). `litevk tokenize` loads models this way. */
    int vocab_only;
} lvk_model_params;

typedef struct lvk_model_info {
    int n_layers, n_embd, n_heads, n_kv_heads, n_ff, n_vocab, n_ctx_train;
    int head_dim, rope_dim;
    float rms_eps, rope_base;
    int bos_id, eos_id;      /* -1 when the vocabulary has none */
    uint64_t n_params;
    uint64_t weight_bytes; /* bytes of weights as stored in the file */
    char name[128];
} lvk_model_info;

lvk_model_params lvk_model_default_params(void);
lvk_status lvk_model_load(lvk_context *ctx, const char *path, const lvk_model_params *params,
                          lvk_model **out);
void lvk_model_free(lvk_model *model);
lvk_status lvk_model_get_info(const lvk_model *model, lvk_model_info *out);

/* The model's chat template (GGUF tokenizer.chat_template, Jinja text as
 * llama.cpp's converters store it), truncated to size; "" when it has none. */
lvk_status lvk_model_chat_template(const lvk_model *model, char *buf, size_t size);

/* How text becomes tokens: flags of lvk_tokenize_ex and lvk_session_feed_ex,
 * ORed together (0: the text alone, as plain text). */
enum lvk_tokenize_flags {
    /* BOS first, whatever the model says (add_bos of lvk_tokenize). */
    LVK_TOKENIZE_BOS = 1 << 0,
    /* BOS first and EOS last as the model wants them: its
     * tokenizer.ggml.add_bos_token and add_eos_token, else the tokenizer's
     * default (SentencePiece and Llama 3 add BOS, other byte-level BPE
     * vocabularies nothing). llama.cpp's add_special. */
    LVK_TOKENIZE_ADD_SPECIAL = 1 << 1,
    /* Control, user-defined and unknown tokens written in the text
     * ("<|im_start|>", "</s>") become those tokens, the longest first; without
     * this flag they are tokenized as the plain text they look like.
     * llama.cpp's parse_special. */
    LVK_TOKENIZE_PARSE_SPECIAL = 1 << 2,
};

/* Tokenizer of the model. Writes up to `capacity` ids; *n_tokens receives the
 * number needed (call with capacity 0 to size). */
lvk_status lvk_tokenize_ex(const lvk_model *model, const char *text, unsigned flags, int32_t *tokens,
                           int capacity, int *n_tokens);
/* lvk_tokenize_ex with flags LVK_TOKENIZE_BOS when add_bos, else 0. */
lvk_status lvk_tokenize(const lvk_model *model, const char *text, int add_bos, int32_t *tokens,
                        int capacity, int *n_tokens);
/* Text of one token: the bytes it stands for, which may be part of a UTF-8
 * character (byte tokens, byte-level BPE); control tokens (BOS/EOS) give "". */
lvk_status lvk_token_piece(const lvk_model *model, int32_t token, char *buf, size_t size);
/* Whether a token ends generation: the model's EOS, its end-of-turn and
 * end-of-message tokens (tokenizer.ggml.eot_token_id, eom_token_id), or a
 * token whose text is a chat format's end of turn, as llama.cpp finds them
 * ("<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
 * "<|endoftext|>", "<|end_of_text|>", "</s>", "<EOT>", "<end_of_utterance>").
 * 0 for an id outside the vocabulary. */
int lvk_token_is_eog(const lvk_model *model, int32_t token);

/* ---- chat formats ---------------------------------------------------------
 *
 * A conversation is a list of messages, each a role ("system", "user" or
 * "assistant") and its content. A chat format turns it into the text a model
 * was trained on, as llama.cpp's llama_chat_apply_template does (without a
 * Jinja interpreter: a model's tokenizer.chat_template is recognised by its
 * markers). Formats: "raw" (the contents as they are: text continues text),
 * "alpaca", "llama2" (BOS and EOS around every exchange), "mistral-v1",
 * "mistral-v3", "mistral-v7", "llama3", "chatml", "zephyr", "phi3", "gemma".
 *
 * Wherever a format is asked for, it may be a name or a Jinja chat template;
 * where a model is given, NULL means the model's own (raw when it has none).
 * When a conversation is tokenized, the format's markers ("<|im_start|>")
 * become special tokens and the messages' content never does: "</s>" typed
 * by a user is text, not the end of the turn. */

typedef struct lvk_chat_message {
    const char *role;    /* "system", "user" or "assistant" */
    const char *content; /* UTF-8 */
} lvk_chat_message;

/* The name of format `index` (0, 1, ...); NULL past the last. */
const char *lvk_chat_format_name(int index);
/* The format `text` names, or the one whose distinctive markers the Jinja
 * template `text` has (as llama.cpp's llm_chat_detect_template), into *name
 * (a string of the library's). When it is neither: LVK_ERR_INVALID_ARGUMENT
 * for a name, LVK_ERR_UNSUPPORTED for a template, with a message that names
 * the known formats. */
lvk_status lvk_chat_format_detect(const char *text, const char **name);
/* The model's format: its tokenizer.chat_template's, "raw" when it has none;
 * LVK_ERR_UNSUPPORTED when its template is none LiteVK knows. */
lvk_status lvk_model_chat_format(const lvk_model *model, const char **name);
/* The strings that end a reply when the model writes them out as text (a
 * format's markers, whose special tokens end it anyway as end-of-generation
 * tokens), NULL-terminated; NULL when `format` is neither a name nor a
 * recognised template. */
const char *const *lvk_chat_format_stop_strings(const char *format);
/* The conversation as text, with the opening of the assistant's turn when
 * add_assistant. Writes at most size - 1 bytes and a NUL (as snprintf);
 * *length receives the whole text's length. BOS at the very start is not
 * written: the tokenizer adds it (as llama.cpp). */
lvk_status lvk_chat_apply_template(const char *format, const lvk_chat_message *messages, int n_messages,
                                   int add_assistant, char *buf, size_t size, size_t *length);
/* The conversation as token ids (BOS first as the model wants it): writes
 * up to `capacity`; *n_tokens receives the number needed. */
lvk_status lvk_chat_tokenize(const lvk_model *model, const char *format, const lvk_chat_message *messages,
                             int n_messages, int add_assistant, int32_t *tokens, int capacity, int *n_tokens);

/* ---- sessions ------------------------------------------------------------ */

/* ---- early exit ------------------------------------------------------------
 *
 * After each exit block, the exit head (the model's final RMSNorm and LM head,
 * shared by every exit) gives a next-token distribution on the GPU. When its
 * top probability ("confidence") is greater than that exit's threshold, the
 * token is chosen there and the remaining blocks are skipped. Thresholds lie in
 * [0, 1]: 0 exits at the first exit every time, 1 never exits.
 *
 * Exit configuration in a GGUF (written by `litevk calibrate`):
 *   litevk.exit_layers        int32 array, ascending, each in 1..n_layers-1
 *   litevk.exit_thresholds    float32 array, one per exit layer
 *   litevk.calibration.rule   string: "lite" or "agreement"
 *   litevk.calibration.target float32 (agreement rule only)
 *   litevk.calibration.prompts_hash  string: FNV-1a 64 of the prompts file, hex
 *   litevk.calibration.tokens uint32: tokens the thresholds were measured on
 *   litevk.calibration.date   string: ISO 8601 date
 * A model without them gets exits after every 4th block from n_layers/4 (at
 * least one) with thresholds 1 (never), until it is calibrated.
 *
 * Self-speculative decoding uses the same heads without changing the output:
 * from the last accepted token, blocks 1..E and the exit head after block E
 * (the draft exit) draft tokens one by one while the head's confidence is above
 * the draft threshold, up to draft_max; one batched pass through the remaining
 * blocks then gives full depth's token at every drafted position. The longest
 * prefix on which the drafts agree is accepted, and full depth's token at the
 * first disagreement follows it: greedy output is exactly full depth's.
 *   litevk.speculate.exit      uint32: E, one of the exit layers
 *   litevk.speculate.threshold float32: the draft threshold
 *   litevk.speculate.max       uint32: draft_max
 * (written by `litevk calibrate --speculate`, and kept by `litevk calibrate`).
 * Without them: the first exit, threshold LVK_DEFAULT_DRAFT_THRESHOLD, and
 * LVK_DEFAULT_DRAFT_MAX drafts. */

#define LVK_MAX_EXITS 16
#define LVK_MAX_DRAFTS 7 /* drafted tokens per speculation cycle: 8 columns verify them with the last */
#define LVK_DEFAULT_DRAFT_MAX 4
#define LVK_DEFAULT_DRAFT_THRESHOLD 0.5f

typedef enum lvk_exit_mode {
    LVK_EXIT_FENCE = 0, /* one submission per exit point; the host reads the decision and stops or goes on */
    LVK_EXIT_GPU = 1,   /* one submission per token; a kernel zeroes the skipped blocks' indirect dispatches */
} lvk_exit_mode;

typedef enum lvk_kv_fill {
    LVK_KV_PROPAGATE = 0, /* K/V of skipped blocks computed from the exit hidden state (CALM) */
    LVK_KV_DEFERRED = 1,  /* exited tokens run the skipped blocks with the next deeper token (FREE): exact KV */
    LVK_KV_NONE = 2,      /* skipped blocks' K/V stay holes that attention masks (ablation only) */
} lvk_kv_fill;

/* What the exit heads do. Full depth is LVK_DECODE_EXIT with no exits. */
typedef enum lvk_decode {
    LVK_DECODE_EXIT = 0,      /* LITE: a confident token skips the remaining blocks */
    LVK_DECODE_SPECULATE = 1, /* self-speculative: the draft exit drafts, the remaining blocks verify */
} lvk_decode;

typedef struct lvk_exit_config {
    int n_exits;                     /* 0 = full depth */
    int layers[LVK_MAX_EXITS];       /* exit after block N (1-based), ascending, 1..n_layers-1 */
    float thresholds[LVK_MAX_EXITS]; /* in [0, 1]; exit when confidence > threshold */
    lvk_exit_mode mode;
    lvk_kv_fill kv_fill;
    /* 0: an exit whose threshold is 1 can never fire, so its head is not run
     * (an uncalibrated model costs nothing extra); 1: every exit head runs,
     * for lvk_session_last_probes (calibration). */
    int probe_all;
    lvk_decode decode;
    /* LVK_DECODE_SPECULATE only (checked then): */
    int draft_exit;        /* one of layers[]: the exit head after this block drafts */
    int draft_max;         /* drafts per cycle, 1..LVK_MAX_DRAFTS */
    float draft_threshold; /* in [0, 1]: drafting goes on while the draft head's confidence is above it */
} lvk_exit_config;

/* The model's exit configuration: from its litevk.* metadata, else the
 * defaults above. *calibrated (may be NULL) receives 1 when it came from the
 * metadata. Mode and KV fill are the defaults for this context's device. */
lvk_status lvk_model_exit_config(const lvk_model *model, lvk_exit_config *out, int *calibrated);
/* Checks a configuration against a model with n_layers blocks. */
lvk_status lvk_exit_config_validate(const lvk_exit_config *config, int n_layers);
/* Parses "8,12,16" into layers and/or "0.9,0.85,0.8" into thresholds (NULL
 * keeps the current ones; new layers without thresholds get 1.0; new layers
 * without the draft exit make the first of them the draft exit), then
 * validates. On error *config is unchanged. */
lvk_status lvk_exit_config_parse(lvk_exit_config *config, int n_layers, const char *layers,
                                 const char *thresholds);
/* "fence"/"gpu" and "propagate"/"deferred"/"none". In speculation both
 * modes run the draft loop and the verification from the host. */
lvk_status lvk_exit_mode_parse(const char *text, lvk_exit_mode *out);
lvk_status lvk_kv_fill_parse(const char *text, lvk_kv_fill *out);
const char *lvk_exit_mode_name(lvk_exit_mode mode);
const char *lvk_kv_fill_name(lvk_kv_fill fill);

typedef struct lvk_session_params {
    int n_ctx;           /* context length; 0 = the model's training context (capped at 4096) */
    float temperature;   /* 0 = greedy */
    int top_k;           /* 0 = off */
    float top_p;         /* 1 = off */
    float min_p;         /* 0 = off: drops tokens less likely than min_p times the most likely
                            one, by the model's own probabilities (before temperature) */
    /* llama.cpp's repetition penalty: each distinct token among the last
     * repeat_last_n of the context (prompt included) has its logit divided by
     * repeat_penalty when positive, multiplied when not, before the rest of
     * sampling. 1 = off (the default), in (0, 100]; repeat_last_n: -1 = the
     * whole context, 0 = off. At temperature 0 a penalty costs a read-back of
     * the logits (n_vocab floats) per token, which greedy decoding otherwise
     * avoids. Not with speculative decoding (its output is full depth's). */
    float repeat_penalty;
    int repeat_last_n;
    uint64_t seed;
    /* Early exit or speculation: NULL = the model's configuration
     * (lvk_model_exit_config). Speculation at temperature > 0 samples each
     * token from exactly full depth's distribution (speculative sampling). */
    const lvk_exit_config *exits;
} lvk_session_params;

typedef struct lvk_token_info {
    int32_t id;
    char piece[64];    /* UTF-8 bytes of the token's text, NUL-terminated */
    int layer;         /* blocks run for this token (1-based), n_layers at full depth;
                          a drafted token: the draft exit block */
    int n_layers;
    float confidence;  /* top probability of the head that chose the token */
    int is_eog;        /* an end-of-generation token (lvk_token_is_eog): the reply or text
                          ended; the token is not printable and is not fed back */
    int drafted;       /* speculation: a drafted token that verification accepted */
} lvk_token_info;

lvk_session_params lvk_session_default_params(void);
lvk_status lvk_session_create(lvk_model *model, const lvk_session_params *params,
                              lvk_session **out);
void lvk_session_free(lvk_session *session);
/* Feed text, tokenized with the model's tokenizer and `flags`
 * (LVK_TOKENIZE_*); LVK_TOKENIZE_BOS and LVK_TOKENIZE_ADD_SPECIAL apply only
 * while the session is empty (later text continues it, as llama.cpp's chat
 * does). Runs the prompt through the model in batches. */
lvk_status lvk_session_feed_ex(lvk_session *session, const char *text, unsigned flags);
/* lvk_session_feed_ex with flags LVK_TOKENIZE_BOS when add_bos, else 0. */
lvk_status lvk_session_feed(lvk_session *session, const char *text, int add_bos);
/* Feed token ids. */
lvk_status lvk_session_feed_tokens(lvk_session *session, const int32_t *tokens, int n_tokens);
/* Feed a conversation in a chat format (NULL: the model's), a turn at a
 * time: messages[0..first) are in the session already, and the rest is fed,
 * then the opening of the assistant's turn when add_assistant. When the last
 * call opened the assistant's turn and messages[first-1] is the reply the
 * session generated after it, the reply's end of turn is fed first (the
 * reply itself is in the session; its end-of-generation token is not).
 * Markers are parsed as special tokens, content never is; BOS goes first
 * as the model wants it while the session is empty. */
lvk_status lvk_session_feed_chat(lvk_session *session, const char *format, const lvk_chat_message *messages,
                                 int n_messages, int first, int add_assistant);
/* Choose the next token and feed it back, so the next step continues. In
 * speculation a cycle yields several tokens; they are returned one per call
 * (the later ones are already fed), and a call after the last runs the next
 * cycle. */
lvk_status lvk_session_step(lvk_session *session, lvk_token_info *out);
/* Like lvk_session_step, but feeds `token` instead of the session's own
 * choice, which *out describes (teacher forcing: bench's agreement metric). */
lvk_status lvk_session_step_forced(lvk_session *session, int32_t token, lvk_token_info *out);

/* Exit configuration of a live session (decode strategy included); a change
 * applies from the next token, after the tokens of a speculation cycle
 * already accepted. */
lvk_status lvk_session_set_exits(lvk_session *session, const lvk_exit_config *config);
lvk_status lvk_session_get_exits(const lvk_session *session, lvk_exit_config *out);

/* What each exit head said in the pass that chose the last token: one entry
 * per head that ran (the exits up to the one taken, then the final block at
 * full depth). With thresholds of 1 and probe_all, every head runs and none
 * is taken: calibration uses that. */
typedef struct lvk_exit_probe {
    int layer;         /* the head read the hidden state after this block */
    int32_t token;     /* its argmax */
    float confidence;  /* its top probability */
    float second;      /* its second-highest probability */
} lvk_exit_probe;
lvk_status lvk_session_last_probes(const lvk_session *session, lvk_exit_probe *out, int capacity, int *n);

/* Decode counters since the session was created or lvk_session_stats_reset
 * (prompt feeding is not counted). Bytes are the weight bytes the passes read,
 * estimated from the tensors' sizes on the device. */
typedef struct lvk_session_stats {
    uint64_t tokens;           /* decode passes (one per token fed back by step) */
    uint64_t blocks_run;       /* blocks run by those tokens (tokens × n_layers at full depth) */
    uint64_t exit_heads_run;   /* exit heads evaluated, the final block's head not counted */
    uint64_t kv_fill_blocks;   /* blocks run to fill skipped K/V (propagate: K/V only; deferred: whole blocks) */
    uint64_t weight_bytes;     /* blocks + exit heads + final head + K/V fill */
    uint64_t full_depth_bytes; /* the same tokens at full depth without exit heads */
    uint64_t exits_taken[LVK_MAX_EXITS + 1]; /* tokens per exit; [n_exits] = full depth */
    /* speculation: `tokens` counts every token a cycle yields; `blocks_run` and
     * `weight_bytes` count each pass once, however many token columns it ran
     * (a draft: draft_exit blocks and its head; the verification: the blocks
     * after the draft exit, or all when a column starts at block 1) */
    uint64_t cycles;           /* draft-and-verify cycles */
    uint64_t drafted;          /* tokens drafted */
    uint64_t accepted;         /* drafted tokens that verification accepted */
} lvk_session_stats;
lvk_status lvk_session_stats_get(const lvk_session *session, lvk_session_stats *out);
lvk_status lvk_session_stats_reset(lvk_session *session);

/* Forget the conversation: position 0, empty KV cache. */
lvk_status lvk_session_reset(lvk_session *session);
/* Number of tokens in the session's KV cache, and its capacity. */
int lvk_session_n_past(const lvk_session *session);
int lvk_session_n_ctx(const lvk_session *session);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif
