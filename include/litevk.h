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

/* Evaluates a call that returns an lvk_status and, when it fails, returns
 * that status from the enclosing function (whose message stays for
 * lvk_last_error). */
#define LVK_TRY(expr)                        \
    do {                                     \
        lvk_status try_status_ = (expr);     \
        if (try_status_ != LVK_OK)           \
            return try_status_;              \
    } while (0)

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
    /* Read and check the whole file as a load does (hyper-parameters,
     * vocabulary, tensors, exit configuration) but upload nothing: ctx may be
     * NULL and no device is needed. Such a model answers everything about the
     * file (lvk_model_get_info, lvk_model_meta*, lvk_model_tensor*,
     * lvk_model_exit_config) and tokenizes, but lvk_session_create refuses it
     * (LVK_ERR_STATE). `litevk info` loads models this way. */
    int inspect_only;
} lvk_model_params;

typedef struct lvk_model_info {
    int n_layers, n_embd, n_heads, n_kv_heads, n_ff, n_vocab, n_ctx_train;
    int head_dim, rope_dim;
    float rms_eps, rope_base;
    int bos_id, eos_id;      /* -1 when the vocabulary has none */
    uint64_t n_params;
    uint64_t weight_bytes; /* bytes of weights as stored in the file */
    char name[128];
    /* What sets the architecture apart ("" and 0 for a vocab_only model): */
    char architecture[32];  /* general.architecture: "llama", "qwen2", ... */
    int qkv_bias;           /* Q, K and V have biases */
    int rope_neox;          /* RoPE pairs dimension i with i + rope_dim/2 (GPT-NeoX's order), else i + 1 */
    float rope_freq_scale;  /* positions are scaled by this (linear RoPE scaling); 1: none */
    int rope_freq_factors;  /* the model has frequency factors (rope_freqs, Llama 3.1's RoPE scaling) */
    int output_tied;        /* the embedding doubles as the output matrix */
    /* The vocabulary's tokenizer: */
    char tokenizer[16];     /* tokenizer.ggml.model: "llama" (SentencePiece BPE) or "gpt2" (byte-level BPE) */
    char pre_tokenizer[32]; /* a byte-level BPE vocabulary's pre-tokenizer ("default" when the file names
                               none); "" for SentencePiece, which has none */
    int adds_bos, adds_eos; /* the model wants BOS first / EOS last (LVK_TOKENIZE_ADD_SPECIAL) */
    /* The file: */
    uint32_t file_version;  /* GGUF version */
    uint64_t file_bytes;
} lvk_model_info;

lvk_model_params lvk_model_default_params(void);
lvk_status lvk_model_load(lvk_context *ctx, const char *path, const lvk_model_params *params,
                          lvk_model **out);
void lvk_model_free(lvk_model *model);
lvk_status lvk_model_get_info(const lvk_model *model, lvk_model_info *out);

/* ---- inspecting a model's file ---------------------------------------------
 *
 * Every metadata key and tensor of the GGUF a model came from, in the file's
 * order, for tools that show or check a file (`litevk info`). Load with
 * inspect_only (or vocab_only) to do this without a device. Names and string
 * values point into the model's file: they stay valid until lvk_model_free,
 * and they are not NUL-terminated (GGUF strings carry their length), so print
 * them with "%.*s". */

/* GGUF's value types, numbered as the file stores them. */
typedef enum lvk_value_type {
    LVK_VALUE_UINT8 = 0, LVK_VALUE_INT8 = 1, LVK_VALUE_UINT16 = 2, LVK_VALUE_INT16 = 3,
    LVK_VALUE_UINT32 = 4, LVK_VALUE_INT32 = 5, LVK_VALUE_FLOAT32 = 6, LVK_VALUE_BOOL = 7,
    LVK_VALUE_STRING = 8, LVK_VALUE_ARRAY = 9, LVK_VALUE_UINT64 = 10, LVK_VALUE_INT64 = 11,
    LVK_VALUE_FLOAT64 = 12,
} lvk_value_type;

typedef struct lvk_meta_value {
    lvk_value_type type;
    uint64_t u;          /* unsigned integers and bool */
    int64_t i;           /* signed integers */
    double f;            /* every number (and bool) as a double: floats exactly, integers to the nearest */
    const char *str;     /* LVK_VALUE_STRING: into the file, str_len bytes, not NUL-terminated */
    uint64_t str_len;
    lvk_value_type array_type; /* LVK_VALUE_ARRAY: its elements' type (lvk_model_meta_element reads them) */
    uint64_t array_count;
} lvk_meta_value;

typedef struct lvk_meta_entry {
    const char *key;     /* into the file, key_len bytes, not NUL-terminated */
    size_t key_len;
    lvk_meta_value value;
} lvk_meta_entry;

/* Number of metadata keys (0 for NULL). */
uint64_t lvk_model_meta_count(const lvk_model *model);
/* Metadata key `index` (0..count-1) and its value. */
lvk_status lvk_model_meta(const lvk_model *model, uint64_t index, lvk_meta_entry *out);
/* Element `element` of the array at metadata key `index`: a number or a
 * string. LVK_ERR_UNSUPPORTED for an array of arrays (checked when the
 * file is read, but not kept). */
lvk_status lvk_model_meta_element(const lvk_model *model, uint64_t index, uint64_t element, lvk_meta_value *out);
/* "uint8", "int32", "float32", "string", "array", ... ("unknown" for an unknown type). */
const char *lvk_value_type_name(lvk_value_type type);

#define LVK_MAX_DIMS 4

typedef struct lvk_tensor_info {
    const char *name;    /* into the file, name_len bytes, not NUL-terminated */
    size_t name_len;
    uint32_t type;       /* ggml's type number, as the file stores it: lvk_type_name */
    int n_dims;
    uint64_t shape[LVK_MAX_DIMS]; /* shape[0] is the innermost dimension (a row's length), as GGUF's ne; 1 past n_dims */
    uint64_t n_elements;
    uint64_t n_bytes;    /* as stored in the file */
} lvk_tensor_info;

/* Number of tensors (0 for NULL, and for a vocabulary file). */
uint64_t lvk_model_tensor_count(const lvk_model *model);
/* Tensor `index` (0..count-1). */
lvk_status lvk_model_tensor(const lvk_model *model, uint64_t index, lvk_tensor_info *out);
/* The name of a ggml type number: "f32", "q8_0", "q4_k", ... ("type N" for an unknown one). */
const char *lvk_type_name(uint32_t type);

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
/* Bytes of the well-formed UTF-8 character at s[0..n): 1..4, or 0 when it is
 * malformed or cut off (a stray continuation byte, overlong, a surrogate, past
 * U+10FFFF, or n too short). For text assembled from pieces, which may split
 * a character. */
size_t lvk_utf8_char_length(const char *s, size_t n);
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

/* ---- conversion -------------------------------------------------------------
 *
 * Other checkpoints to GGUF, and a GGUF to another weight type (`litevk
 * convert`). Conversion reads and writes files only: no device is used. */

/* The weight types LiteVK computes with, and converts matrices to, by name
 * ("f32", "f16", "bf16", "q8_0", ...): the name of type `index` (0, 1, ...),
 * NULL past the last. */
const char *lvk_weight_type_name(int index);
/* Their names joined by sep, with last_sep before the last ("f32, f16, ... or
 * q6_k"), for help texts and messages; truncated to size as snprintf. */
lvk_status lvk_weight_type_names(const char *sep, const char *last_sep, char *buf, size_t size);
/* The weight type called `name` into *type; LVK_ERR_INVALID_ARGUMENT naming
 * the weight types when there is none. */
lvk_status lvk_weight_type_parse(const char *name, uint32_t *type);

/* Called as each tensor starts being written: `done` of `total` tensors are
 * written, `tensor` (NUL-terminated, valid during the call) starts. */
typedef void (*lvk_convert_progress_fn)(uint64_t done, uint64_t total, const char *tensor, void *user);

typedef struct lvk_convert_params {
    /* The matrices' type (lvk_weight_type_parse), or f16 where a row is not a
     * whole number of the type's blocks (32 weights, 256 for the k-quants), as
     * llama.cpp's converters fall back. Vectors (norms, biases) stay f32. */
    uint32_t weight_type;
    /* Hugging Face only: the vocabulary and metadata, no tensors (llama.cpp's
     * ggml-vocab-*.gguf); config.json may then be absent. */
    int vocab_only;
    /* Called as each tensor starts being written, by every converter (NULL:
     * none). It cannot cancel. */
    lvk_convert_progress_fn progress;
    void *progress_user;
} lvk_convert_params;

/* f16 (llama.cpp's converters' default), no vocab_only, no progress. */
lvk_convert_params lvk_convert_default_params(void);
/* A Hugging Face checkpoint directory (config.json, tokenizer.json (+
 * tokenizer_config.json), model.safetensors or the shards of
 * model.safetensors.index.json, in F32, F16 or BF16) to a GGUF laid out as
 * llama.cpp's convert_hf_to_gguf.py writes it. LlamaForCausalLM becomes a
 * "llama" GGUF, Qwen2ForCausalLM a "qwen2" one. Memory use does not grow
 * with the model. */
lvk_status lvk_convert_hf(const char *dir, const char *out_path, const lvk_convert_params *params);
/* A llama2.c checkpoint (run.c's .bin) and its tokenizer .bin to a LLaMA GGUF
 * with the tensors and vocabulary of llama.cpp's convert-llama2c-to-ggml. */
lvk_status lvk_convert_llama2c(const char *checkpoint_path, const char *tokenizer_path, const char *out_path,
                               const lvk_convert_params *params);
/* A GGUF LiteVK loads, its matrices dequantised and written in weight_type (a
 * matrix already in it is copied as it is). Every metadata key is kept,
 * litevk.* too, but general.file_type, which names the new type; tensors keep
 * their order. */
lvk_status lvk_convert_gguf(const char *in_path, const char *out_path, const lvk_convert_params *params);

/* ---- prompt sets ---------------------------------------------------------------
 *
 * The prompts calibration and benchmarks run on (`litevk calibrate` and
 * `bench --prompts`). Two formats:
 *   JSONL: one object per line (blank lines skipped) with a "prompt",
 *          "instruction" (+ "input", or Self-Instruct's "instances":
 *          [{"input": ...}]) or "text" string — LITE's four test sets;
 *   JSON:  an Alpaca-style array of {"instruction", "input", "output"}.
 * A record with several of them counts the first of prompt, instruction,
 * text. Field names match without regard to case (WizardLM writes
 * "Instruction"); other fields are skipped. Instruction records are wrapped
 * in the Alpaca prompt template LITE was fine-tuned with; "prompt" and "text"
 * are used as they are. The caller reads the file (from a path, a pipe, an
 * archive) and hands over its bytes. */

typedef struct lvk_prompt_set lvk_prompt_set;

/* Parses a prompt file's bytes; `name` stands for the file in messages
 * ("NAME:17: expected ',' or '}' after an object member, found ']'", "no
 * prompts in NAME": LVK_ERR_FORMAT). */
lvk_status lvk_prompt_set_parse(const char *data, size_t size, const char *name, lvk_prompt_set **out);
void lvk_prompt_set_free(lvk_prompt_set *set);
/* Number of prompts (at least 1 in a parsed set; 0 for NULL). */
int lvk_prompt_set_count(const lvk_prompt_set *set);
/* Prompt `index`, ready to feed (never empty); NULL outside the set. Valid
 * until lvk_prompt_set_free. */
const char *lvk_prompt_set_text(const lvk_prompt_set *set, int index);
/* FNV-1a 64 of the file's bytes: names the set in calibration metadata
 * (lvk_calibration_record.prompts_hash). */
uint64_t lvk_prompt_set_hash(const lvk_prompt_set *set);

/* One line of a JSONL file of texts (`litevk tokenize --jsonl`): a JSON string
 * and nothing else but whitespace, decoded to UTF-8 into buf. The text is
 * never longer than the line, so size + 1 bytes always hold it; a smaller buf
 * is LVK_ERR_INVALID_ARGUMENT. A malformed line is LVK_ERR_FORMAT
 * ("NAME:LINE: expected a string, found '{'"). */
lvk_status lvk_text_line_parse(const char *line, size_t size, const char *name, int line_no, char *buf,
                               size_t buf_size);

/* ---- calibration ----------------------------------------------------------------
 *
 * A threshold per exit from what the exit heads said while the model wrote
 * text at full depth (`litevk calibrate`): run a session with the exits to
 * calibrate, thresholds 1 and probe_all, greedily after each prompt, and hand
 * every step to lvk_calibrator_observe; then lvk_calibrator_thresholds, and
 * lvk_write_calibrated_copy to store them in the model's file. */

typedef enum lvk_calibration_rule {
    /* LITE's rule: the mean confidence of the tokens whose exit token is the
     * final block's (1 when none is) */
    LVK_CALIBRATE_LITE = 0,
    /* the smallest threshold at which the tokens that would exit (at least
     * one) agree with the final block at least `target` of the time (1 when none) */
    LVK_CALIBRATE_AGREEMENT = 1,
} lvk_calibration_rule;

typedef struct lvk_exit_calibration {
    float threshold;
    uint64_t tokens;   /* tokens measured */
    double agreement;  /* share of the tokens whose exit token is the final block's */
    double exit_share; /* share of the tokens with confidence > threshold (earlier exits ignored) */
} lvk_exit_calibration;

typedef struct lvk_calibrator lvk_calibrator;

/* A calibrator for the exits of `exits` (at least one), which the observed
 * session must run with thresholds 1 and probe_all. */
lvk_status lvk_calibrator_create(const lvk_exit_config *exits, lvk_calibrator **out);
void lvk_calibrator_free(lvk_calibrator *calibrator);
/* Notes what every exit head said in the pass that chose the session's last
 * token (lvk_session_last_probes): its confidence, and whether its token is
 * the final block's. LVK_ERR_STATE when the session's last pass did not run
 * every exit head and then the final block. */
lvk_status lvk_calibrator_observe(lvk_calibrator *calibrator, const lvk_session *session);
/* Tokens observed so far. */
uint64_t lvk_calibrator_tokens(const lvk_calibrator *calibrator);
/* Each exit's threshold by `rule` into out[0..n_exits) (target: the
 * agreement rule's, in (0, 1]; ignored by LITE's). LVK_ERR_INVALID_ARGUMENT
 * when nothing was observed, or naming the exit when target is out of range. */
lvk_status lvk_calibrator_thresholds(const lvk_calibrator *calibrator, lvk_calibration_rule rule, double target,
                                     lvk_exit_calibration *out);

/* How thresholds were measured: the litevk.calibration.* keys. */
typedef struct lvk_calibration_record {
    lvk_calibration_rule rule;
    float target;          /* the agreement rule's target, in (0, 1]; not written for LITE's */
    uint64_t prompts_hash; /* lvk_prompt_set_hash of the prompts */
    uint32_t tokens;       /* tokens the thresholds were measured on */
    char date[16];         /* ISO 8601 ("2025-01-31"); "": today's, in local time */
} lvk_calibration_record;

/* Copies the GGUF at src_path to dst_path (another file: src is read while
 * dst is written) with `exits` as its litevk.exit_* keys and, when its
 * draft settings are usable, its litevk.speculate.* keys; with `record` as
 * its litevk.calibration.* keys (NULL: none, unless `exits` has src's exits
 * and thresholds, when src's record stays). Every other key and every tensor
 * is copied unchanged. No device is used; lvk_model_exit_config of the copy
 * gives `exits` back. */
lvk_status lvk_write_calibrated_copy(const char *src_path, const char *dst_path, const lvk_exit_config *exits,
                                     const lvk_calibration_record *record);

/* ---- benchmark metrics --------------------------------------------------------
 *
 * What `litevk bench` reports, from runs over a prompt set on one session,
 * greedy: full depth, early exit (and its other exit mode, timed only),
 * teacher-forced agreement and, optionally, speculation. The caller runs the
 * generations and adds up lvk_bench_totals; lvk_bench_metrics_compute turns
 * them into the figures. */

/* One decoding strategy's decode steps over the prompts. */
typedef struct lvk_bench_decode {
    uint64_t tokens; /* tokens generated, end of text not included */
    uint64_t passes; /* decode steps, the one that chose end of text included */
    double ms;       /* wall clock of those steps, not the prompts' */
} lvk_bench_decode;

typedef struct lvk_bench_totals {
    int prompts;
    lvk_bench_decode full, exit, exit_other_mode; /* other mode: the same exits in the other lvk_exit_mode */
    uint64_t exit_blocks;                    /* blocks early exit's passes ran */
    uint64_t exits_taken[LVK_MAX_EXITS + 1]; /* early exit's passes per exit point; [n_exits]: full depth */
    uint64_t forced, agreed; /* teacher-forced positions (full depth's output fed back), and those where
                                early exit chose full depth's token */
    double rouge_l_sum;      /* lvk_rouge_l_f1 of early exit's output against full depth's, summed over prompts */
    uint64_t weight_bytes, full_depth_bytes; /* early exit's lvk_session_stats, summed */
    struct {                                 /* speculation, when it ran */
        lvk_bench_decode run, other_mode;
        uint64_t forced, agreed;
        uint64_t cycles, drafted, accepted, weight_bytes, full_depth_bytes; /* its lvk_session_stats, summed */
    } speculate;
} lvk_bench_totals;

/* Ratios are 0 where their denominator is (no NaN or infinity). */
typedef struct lvk_bench_metrics {
    double full_tokens_per_s, exit_tokens_per_s, exit_other_mode_tokens_per_s;
    double speedup;            /* early exit's tokens/s over full depth's */
    double blocks_per_token;   /* early exit's */
    double blocks_skipped_pct; /* LITE's cost reduction: 100 (1 - blocks run / (passes x n_layers)) */
    double bytes_ratio;        /* weight bytes read relative to full depth (exit heads, K/V fill included) */
    double agreement;          /* agreed / forced */
    double rouge_l;            /* mean over prompts */
    double length_ratio;       /* early exit's tokens / full depth's */
    double exit_share[LVK_MAX_EXITS + 1]; /* exits_taken / early exit's passes */
    double speculate_tokens_per_s, speculate_other_mode_tokens_per_s, speculate_speedup, speculate_agreement;
    double acceptance;         /* accepted drafts / drafts */
    double tokens_per_cycle;   /* (accepted + cycles) / cycles */
    double speculate_bytes_ratio;
} lvk_bench_metrics;

/* The figures of totals gathered with `n_exits` exits on a model of n_layers blocks. */
lvk_status lvk_bench_metrics_compute(const lvk_bench_totals *totals, int n_layers, int n_exits,
                                     lvk_bench_metrics *out);
/* ROUGE-L F1 of two token sequences (Lin 2004, beta = 1): from the length L
 * of their longest common subsequence, precision L / n_candidate, recall
 * L / n_reference. Two empty sequences score 1, one empty sequence 0. */
lvk_status lvk_rouge_l_f1(const int32_t *reference, int n_reference, const int32_t *candidate, int n_candidate,
                          double *f1);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif
