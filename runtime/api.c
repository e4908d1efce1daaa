/* api.c — the public API (include/litevk.h) over the runtime's parts. */
#include "alloc.h"
#include "api_model.h"
#include "model/chat_format.h"
#include "decode/exit_config.h"
#include "forward/gpu_forward.h"
#include "decode/sampler.h"
#include "decode/speculate.h"
#include "status.h"
#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lvk_context {
    vk_device *dev;
};


struct lvk_session {
    lvk_model *model;
    gpu_session *gpu;
    token_sampler sampler;
    lvk_exit_config exits;
    int n_ctx;
    int n_past;          /* tokens in the KV cache */
    int has_decision;    /* the next token is chosen: by the last pass (LITE), or by a cycle */
    gpu_step next;       /* LITE: that pass: which head chose, what every head said */
    gpu_step last;       /* LITE: the pass that chose the token the last step returned */
    spec_cycle cycle;    /* speculation: the tokens of the last cycle... */
    int cycle_at;        /* ...of which those from here on are still to be returned */
    speculator speculator;
    lvk_session_stats stats;
    gpu_pass_bytes bytes; /* weight bytes of a block, a head, a K/V fill: the statistics' units */
    int assistant_turn_open; /* the last feed was lvk_session_feed_chat's, with add_assistant */
    float *logits;       /* [n_vocab] host copy for sampling at temperature > 0 */
    float *probs;        /* [n_vocab] the distribution sampled from */
    float repeat_penalty; /* 1: off */
    int repeat_last_n;    /* -1: the whole context */
    int32_t *tokens;      /* [n_ctx] the tokens in the KV cache: the repeat penalty's window */
    uint8_t *penalized;   /* [n_vocab] zeros: the penalty's marks */
};

#define CHECK_ARG(cond, ...) \
    do { if (!(cond)) return status_fail(LVK_ERR_INVALID_ARGUMENT, __VA_ARGS__); } while (0)

/* ---- devices and context ----------------------------------------------------- */

lvk_status lvk_list_devices(lvk_device_info *out, int capacity, int *count, int *chosen) {
    CHECK_ARG(count && chosen && (out || capacity == 0), "lvk_list_devices: NULL argument");
    return vk_list_devices(out, capacity, count, chosen, getenv("LITEVK_DEVICE"));
}

lvk_context_params lvk_context_default_params(void) {
    lvk_context_params p = {NULL, 0};
    return p;
}

lvk_status lvk_context_create(const lvk_context_params *params, lvk_context **out) {
    CHECK_ARG(out, "lvk_context_create: out is NULL");
    lvk_context_params p = params ? *params : lvk_context_default_params();
    const char *device = p.device ? p.device : getenv("LITEVK_DEVICE");
    const char *validate = getenv("LITEVK_VALIDATE");
    int want_validation = p.validate || (validate && validate[0] && strcmp(validate, "0") != 0);
    lvk_context *ctx = mem_calloc(1, sizeof *ctx);
    if (!ctx) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    lvk_status s = vk_device_create(&ctx->dev, device, want_validation);
    if (s != LVK_OK) {
        mem_free(ctx);
        return s;
    }
    *out = ctx;
    return LVK_OK;
}

void lvk_context_free(lvk_context *ctx) {
    if (!ctx) return;
    vk_device_free(ctx->dev);
    mem_free(ctx);
}

lvk_status lvk_context_device(const lvk_context *ctx, lvk_device_info *out) {
    CHECK_ARG(ctx && out, "lvk_context_device: NULL argument");
    *out = ctx->dev->info;
    return LVK_OK;
}

uint32_t lvk_context_validation_messages(const lvk_context *ctx) {
    return ctx ? atomic_load(&ctx->dev->validation_messages) : 0;
}

/* ---- models --------------------------------------------------------------------- */

lvk_model_params lvk_model_default_params(void) {
    return (lvk_model_params){.progress = NULL, .progress_user = NULL, .vocab_only = 0, .inspect_only = 0};
}

lvk_status lvk_model_load(lvk_context *ctx, const char *path, const lvk_model_params *params, lvk_model **out) {
    lvk_model_params p = params ? *params : lvk_model_default_params();
    CHECK_ARG((ctx || p.vocab_only || p.inspect_only) && path && out, "lvk_model_load: NULL argument");
    lvk_model *m = mem_calloc(1, sizeof *m);
    if (!m) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    m->ctx = ctx;
    m->vocab_only = p.vocab_only;
    if (p.vocab_only) {
        lvk_status s = host_vocab_open(path, &m->host);
        if (s != LVK_OK) mem_free(m);
        else *out = m;
        return s;
    }
    lvk_status s = host_model_open(path, &m->host);
    if (s == LVK_OK) {
        s = exit_config_from_gguf(m->host->file, m->host->hp.n_layers, &m->exits, &m->exits_calibrated);
        if (s != LVK_OK) status_fail_prefix(s, "%s", path);
    }
    if (s == LVK_OK && !p.inspect_only) {
        s = gpu_model_upload(ctx->dev, m->host, p.progress, p.progress_user, &m->gpu);
        if (s != LVK_OK) status_fail_prefix(s, "%s", path);
    }
    if (s != LVK_OK) {
        lvk_model_free(m);
        return s;
    }
    if (m->gpu) { /* else the defaults: there is no device to tune for */
        m->exits.mode = m->gpu->tuning.exit_mode;
        m->exits.kv_fill = m->gpu->tuning.kv_fill;
    }
    *out = m;
    return LVK_OK;
}

void lvk_model_free(lvk_model *m) {
    if (!m) return;
    gpu_model_free(m->gpu);
    host_model_free(m->host);
    mem_free(m);
}

lvk_status lvk_model_get_info(const lvk_model *m, lvk_model_info *out) {
    CHECK_ARG(m && out, "lvk_model_get_info: NULL argument");
    const model_hparams *hp = &m->host->hp;
    memset(out, 0, sizeof *out);
    out->n_layers = hp->n_layers;
    out->n_embd = hp->n_embd;
    out->n_heads = hp->n_heads;
    out->n_kv_heads = hp->n_kv_heads;
    out->n_ff = hp->n_ff;
    out->n_vocab = hp->n_vocab;
    out->n_ctx_train = hp->n_ctx_train;
    out->head_dim = hp->head_dim;
    out->rope_dim = hp->rope_dim;
    out->rms_eps = hp->rms_eps;
    out->rope_base = hp->rope_base;
    out->bos_id = tokenizer_bos(m->host->tokenizer);
    out->eos_id = tokenizer_eos(m->host->tokenizer);
    for (uint64_t i = 0; i < m->host->file->n_tensors; i++) {
        out->n_params += m->host->file->tensors[i].n_elements;
        out->weight_bytes += m->host->file->tensors[i].n_bytes;
    }
    memcpy(out->name, m->host->name, sizeof out->name);
    if (hp->arch) { /* a vocab_only model has none */
        snprintf(out->architecture, sizeof out->architecture, "%s", hp->arch->name);
        out->qkv_bias = hp->arch->qkv_bias;
        out->rope_neox = hp->arch->rope_neox;
    }
    out->rope_freq_scale = hp->rope_freq_scale;
    out->rope_freq_factors = hp->rope_factors != NULL;
    out->output_tied = m->host->output_tied;
    const text_tokenizer *t = m->host->tokenizer;
    const char *pre = tokenizer_pre_name(t);
    snprintf(out->tokenizer, sizeof out->tokenizer, "%s", tokenizer_model_name(t));
    snprintf(out->pre_tokenizer, sizeof out->pre_tokenizer, "%s", pre ? pre : "");
    out->adds_bos = tokenizer_adds_bos(t);
    out->adds_eos = tokenizer_adds_eos(t);
    out->file_version = m->host->file->version;
    out->file_bytes = m->host->file->size;
    return LVK_OK;
}

lvk_status lvk_model_exit_config(const lvk_model *m, lvk_exit_config *out, int *calibrated) {
    CHECK_ARG(m && out, "lvk_model_exit_config: NULL argument");
    *out = m->exits;
    if (calibrated) *calibrated = m->exits_calibrated;
    return LVK_OK;
}

lvk_status lvk_model_chat_template(const lvk_model *m, char *buf, size_t size) {
    CHECK_ARG(m && buf && size > 0, "lvk_model_chat_template: NULL argument");
    const gguf_kv *kv = gguf_find(m->host->file, "tokenizer.chat_template");
    buf[0] = 0;
    if (!kv || kv->value.type != GGUF_STRING) return LVK_OK;
    size_t len = kv->value.v.str.len < size - 1 ? (size_t)kv->value.v.str.len : size - 1;
    memcpy(buf, kv->value.v.str.ptr, len);
    buf[len] = 0;
    return LVK_OK;
}

lvk_status lvk_tokenize_ex(const lvk_model *m, const char *text, unsigned flags, int32_t *tokens, int capacity,
                           int *n_tokens) {
    CHECK_ARG(m && text && n_tokens && (tokens || capacity == 0), "lvk_tokenize: NULL argument");
    return tokenizer_encode(m->host->tokenizer, text, strlen(text), flags, tokens, capacity, n_tokens);
}

lvk_status lvk_tokenize(const lvk_model *m, const char *text, int add_bos, int32_t *tokens, int capacity,
                        int *n_tokens) {
    return lvk_tokenize_ex(m, text, add_bos ? LVK_TOKENIZE_BOS : 0, tokens, capacity, n_tokens);
}

int lvk_token_is_eog(const lvk_model *m, int32_t token) {
    return m && token >= 0 && token < m->host->hp.n_vocab && tokenizer_is_eog(m->host->tokenizer, token);
}

lvk_status lvk_token_piece(const lvk_model *m, int32_t token, char *buf, size_t size) {
    CHECK_ARG(m && buf && size > 0, "lvk_token_piece: NULL argument");
    CHECK_ARG(token >= 0 && token < m->host->hp.n_vocab, "token %d is outside the vocabulary of %d", token,
              m->host->hp.n_vocab);
    size_t len;
    const char *p = tokenizer_piece(m->host->tokenizer, token, &len);
    if (len >= size) len = size - 1;
    memcpy(buf, p, len);
    buf[len] = 0;
    return LVK_OK;
}

size_t lvk_utf8_char_length(const char *s, size_t n) {
    uint32_t cp;
    return s && n ? utf8_decode((const uint8_t *)s, n, &cp) : 0;
}

/* ---- chat formats ---------------------------------------------------------------- */

const char *lvk_chat_format_name(int index) {
    return index >= 0 && index < n_chat_formats ? chat_format_name(chat_formats[index]) : NULL;
}

lvk_status lvk_chat_format_detect(const char *text, const char **name) {
    CHECK_ARG(text && name, "lvk_chat_format_detect: NULL argument");
    const chat_format *f;
    LVK_TRY(chat_format_find(text, strlen(text), &f));
    *name = chat_format_name(f);
    return LVK_OK;
}

/* The format of a model's tokenizer.chat_template: raw when it has none. */
static lvk_status model_format(const lvk_model *m, const chat_format **out) {
    const gguf_kv *kv = gguf_find(m->host->file, "tokenizer.chat_template");
    if (!kv || kv->value.type != GGUF_STRING || kv->value.v.str.len == 0) return chat_format_find("raw", 3, out);
    lvk_status s = chat_format_find(kv->value.v.str.ptr, (size_t)kv->value.v.str.len, out);
    return s == LVK_OK ? s : status_fail_prefix(LVK_ERR_UNSUPPORTED, "the model's tokenizer.chat_template");
}

/* `format` (a name or a Jinja template), or the model's when NULL. */
static lvk_status format_of(const lvk_model *m, const char *format, const chat_format **out) {
    return format ? chat_format_find(format, strlen(format), out) : model_format(m, out);
}

lvk_status lvk_model_chat_format(const lvk_model *m, const char **name) {
    CHECK_ARG(m && name, "lvk_model_chat_format: NULL argument");
    const chat_format *f;
    LVK_TRY(model_format(m, &f));
    *name = chat_format_name(f);
    return LVK_OK;
}

const char *const *lvk_chat_format_stop_strings(const char *format) {
    const chat_format *f;
    return format && chat_format_find(format, strlen(format), &f) == LVK_OK ? chat_format_stop_strings(f) : NULL;
}

lvk_status lvk_chat_apply_template(const char *format, const lvk_chat_message *messages, int n_messages,
                                   int add_assistant, char *buf, size_t size, size_t *length) {
    CHECK_ARG(format && length && (buf || size == 0), "lvk_chat_apply_template: NULL argument");
    const chat_format *f;
    LVK_TRY(chat_format_find(format, strlen(format), &f));
    chat_pieces p = {0};
    lvk_status s = chat_format_render(f, messages, n_messages, add_assistant, &p);
    size_t len = 0;
    for (size_t i = 0; s == LVK_OK && i < p.n; i++) {
        if (len < size) memcpy(buf + len, p.items[i].text, len + p.items[i].len < size ? p.items[i].len : size - len);
        len += p.items[i].len;
    }
    if (size > 0) buf[len < size ? len : size - 1] = 0;
    *length = len;
    chat_pieces_free(&p);
    return s;
}

/* BOS as the model wants it first. */
static unsigned bos_flags(const lvk_model *m) { return tokenizer_adds_bos(m->host->tokenizer) ? LVK_TOKENIZE_BOS : 0; }

lvk_status lvk_chat_tokenize(const lvk_model *m, const char *format, const lvk_chat_message *messages,
                             int n_messages, int add_assistant, int32_t *tokens, int capacity, int *n_tokens) {
    CHECK_ARG(m && n_tokens && (tokens || capacity == 0), "lvk_chat_tokenize: NULL argument");
    *n_tokens = 0;
    const chat_format *f;
    LVK_TRY(format_of(m, format, &f));
    chat_pieces p = {0};
    int32_t *ids = NULL;
    lvk_status s = chat_format_render(f, messages, n_messages, add_assistant, &p);
    if (s == LVK_OK) s = chat_pieces_encode(m->host->tokenizer, p.items, p.n, bos_flags(m), &ids, n_tokens);
    if (s == LVK_OK && capacity > 0) memcpy(tokens, ids, (size_t)(*n_tokens < capacity ? *n_tokens : capacity) * sizeof *ids);
    mem_free(ids);
    chat_pieces_free(&p);
    return s;
}

/* ---- sessions ------------------------------------------------------------------ */

/* A repeat penalty changes the distribution that speculation's output must equal. */
static lvk_status check_penalty_decode(float repeat_penalty, const lvk_exit_config *exits) {
    if (repeat_penalty != 1.0f && exits->decode == LVK_DECODE_SPECULATE)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "a repeat penalty (%g) cannot be combined with speculative "
                        "decoding, whose output is full depth's", repeat_penalty);
    return LVK_OK;
}

lvk_session_params lvk_session_default_params(void) {
    return (lvk_session_params){.n_ctx = 0, .temperature = 0.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f,
                                .repeat_penalty = 1.0f, .repeat_last_n = 64, .seed = 0, .exits = NULL};
}

lvk_status lvk_session_create(lvk_model *m, const lvk_session_params *params, lvk_session **out) {
    CHECK_ARG(m && out, "lvk_session_create: NULL argument");
    if (!m->gpu)
        return status_fail(LVK_ERR_STATE, "the model was loaded with %s: it %s but cannot run; load it without "
                                          "%s to create a session", m->vocab_only ? "vocab_only" : "inspect_only",
                           m->vocab_only ? "tokenizes" : "can be inspected", m->vocab_only ? "vocab_only" : "inspect_only");
    lvk_session_params p = params ? *params : lvk_session_default_params();
    CHECK_ARG(p.n_ctx >= 0, "context length %d is negative", p.n_ctx);
    CHECK_ARG(p.temperature >= 0 && p.temperature <= 100, "temperature %g is outside 0..100", p.temperature);
    CHECK_ARG(p.top_k >= 0, "top-k %d is negative", p.top_k);
    CHECK_ARG(p.top_p > 0 && p.top_p <= 1, "top-p %g is outside (0, 1]", p.top_p);
    CHECK_ARG(p.min_p >= 0 && p.min_p <= 1, "min-p %g is outside 0..1", p.min_p);
    CHECK_ARG(p.repeat_penalty > 0 && p.repeat_penalty <= 100, "repeat penalty %g is outside (0, 100]",
              p.repeat_penalty);
    CHECK_ARG(p.repeat_last_n >= -1, "repeat-last-n %d is below -1 (the whole context)", p.repeat_last_n);
    const model_hparams *hp = &m->host->hp;
    if (p.exits) LVK_TRY(lvk_exit_config_validate(p.exits, hp->n_layers));
    LVK_TRY(check_penalty_decode(p.repeat_penalty, p.exits ? p.exits : &m->exits));
    int n_ctx = p.n_ctx ? p.n_ctx : (hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096);
    if (n_ctx > hp->n_ctx_train)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "context length %d is longer than the model's %d", n_ctx,
                        hp->n_ctx_train);
    lvk_session *s = mem_calloc(1, sizeof *s);
    if (!s) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    s->model = m;
    s->n_ctx = n_ctx;
    s->exits = p.exits ? *p.exits : m->exits;
    lvk_status st = LVK_OK;
    s->repeat_penalty = p.repeat_penalty;
    s->repeat_last_n = p.repeat_last_n;
    s->logits = mem_malloc((size_t)hp->n_vocab * sizeof(float));
    s->probs = mem_malloc((size_t)hp->n_vocab * sizeof(float));
    s->tokens = mem_malloc((size_t)n_ctx * sizeof *s->tokens);
    s->penalized = mem_calloc((size_t)hp->n_vocab, 1);
    if (!s->logits || !s->probs || !s->tokens || !s->penalized ||
        sampler_init(&s->sampler, hp->n_vocab, p.temperature, p.top_k, p.top_p, p.min_p, p.seed) != 0)
        st = status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    if (st == LVK_OK) st = speculator_init(&s->speculator, hp->n_vocab);
    if (st == LVK_OK) st = gpu_session_create(m->gpu, hp, n_ctx, &s->exits, &s->gpu);
    if (st == LVK_OK) s->bytes = gpu_session_bytes(s->gpu);
    if (st != LVK_OK) {
        lvk_session_free(s);
        return st;
    }
    *out = s;
    return LVK_OK;
}

void lvk_session_free(lvk_session *s) {
    if (!s) return;
    gpu_session_free(s->gpu);
    sampler_free(&s->sampler);
    speculator_free(&s->speculator);
    mem_free(s->logits);
    mem_free(s->probs);
    mem_free(s->tokens);
    mem_free(s->penalized);
    mem_free(s);
}

/* The token at position n_past is in the KV cache now. */
static void push_token(lvk_session *s, int32_t token) { s->tokens[s->n_past++] = token; }

/* Runs one token with early exit: the pass that chooses the next token. */
static lvk_status decode(lvk_session *s, int32_t token) {
    LVK_TRY(gpu_session_decode(s->gpu, token, s->n_past, &s->next));
    push_token(s, token);
    s->has_decision = 1;
    const gpu_pass_bytes b = s->bytes;
    const lvk_exit_config *ex = &s->exits;
    int n_layers = s->model->host->hp.n_layers, exit_heads = s->next.n_heads;
    int reached_final = s->next.layer == n_layers;
    if (reached_final) exit_heads--;
    lvk_session_stats *st = &s->stats;
    st->tokens++;
    st->blocks_run += (uint64_t)s->next.layer;
    st->exit_heads_run += (uint64_t)exit_heads;
    st->kv_fill_blocks += (uint64_t)s->next.kv_fill_blocks;
    st->weight_bytes += (uint64_t)s->next.layer * b.block + (uint64_t)s->next.n_heads * b.head;
    if (ex->kv_fill == LVK_KV_PROPAGATE) st->weight_bytes += (uint64_t)s->next.kv_fill_blocks * b.kv_fill;
    if (s->next.catch_up_pass) st->weight_bytes += (uint64_t)n_layers * b.block + b.head;
    st->full_depth_bytes += (uint64_t)n_layers * b.block + b.head;
    st->exits_taken[s->next.exit >= 0 ? s->next.exit : ex->n_exits]++;
    return LVK_OK;
}

/* Runs one speculation cycle from `token`: the tokens that the next steps return. */
static lvk_status speculate(lvk_session *s, int32_t token) {
    const int n_layers = s->model->host->hp.n_layers;
    LVK_TRY(speculate_cycle(&s->speculator, s->gpu, &s->exits, n_layers, &s->sampler, token, s->n_past, s->n_ctx,
                            &s->cycle));
    push_token(s, token);
    s->cycle_at = 0;
    s->has_decision = 1;
    const spec_cycle *c = &s->cycle;
    const gpu_pass_bytes b = s->bytes;
    const uint64_t draft_blocks = (uint64_t)c->draft_passes * (uint64_t)s->exits.draft_exit;
    lvk_session_stats *st = &s->stats;
    st->tokens += (uint64_t)c->n_tokens;
    st->blocks_run += draft_blocks + (uint64_t)c->verify_blocks; /* blocks of weights read, per pass */
    st->weight_bytes += (draft_blocks + (uint64_t)c->verify_blocks) * b.block + (uint64_t)(c->draft_passes + 1) * b.head;
    st->full_depth_bytes += (uint64_t)c->n_tokens * ((uint64_t)n_layers * b.block + b.head);
    st->cycles++;
    st->drafted += (uint64_t)c->n_drafted;
    st->accepted += (uint64_t)c->n_accepted;
    return LVK_OK;
}

/* Feeds the token at n_past: one pass with early exit, or a speculation cycle. */
static lvk_status advance(lvk_session *s, int32_t token) {
    return s->exits.decode == LVK_DECODE_SPECULATE ? speculate(s, token) : decode(s, token);
}

lvk_status lvk_session_feed_tokens(lvk_session *s, const int32_t *tokens, int n) {
    CHECK_ARG(s && (tokens || n == 0), "lvk_session_feed_tokens: NULL argument");
    CHECK_ARG(n > 0, "nothing to feed: the prompt is empty");
    if (s->n_past + n > s->n_ctx)
        return status_fail(LVK_ERR_CONTEXT_FULL,
                        "%d tokens do not fit: the context holds %d and %d are used (raise -c or reset)", n,
                        s->n_ctx, s->n_past);
    for (int i = 0; i < n; i++)
        CHECK_ARG(tokens[i] >= 0 && tokens[i] < s->model->host->hp.n_vocab,
                  "token id %d is outside the vocabulary of %d", tokens[i], s->model->host->hp.n_vocab);
    /* The prompt runs at full depth in batches; its last token chooses the
     * first new one, so it runs like every generated token, with exits. */
    s->has_decision = 0; /* until both passes succeed; on failure a reset recovers */
    s->assistant_turn_open = 0;
    s->cycle_at = s->cycle.n_tokens = 0;
    gpu_step prompt;
    LVK_TRY(gpu_session_prefill(s->gpu, tokens, n - 1, s->n_past, &prompt));
    for (int i = 0; i < n - 1; i++) push_token(s, tokens[i]);
    return advance(s, tokens[n - 1]);
}

lvk_status lvk_session_feed_ex(lvk_session *s, const char *text, unsigned flags) {
    CHECK_ARG(s && text, "lvk_session_feed: NULL argument");
    int n = 0;
    const text_tokenizer *tok = s->model->host->tokenizer;
    if (s->n_past > 0) flags &= ~(unsigned)(LVK_TOKENIZE_BOS | LVK_TOKENIZE_ADD_SPECIAL); /* text that continues */
    LVK_TRY(tokenizer_encode(tok, text, strlen(text), flags, NULL, 0, &n));
    if (n == 0) return status_fail(LVK_ERR_INVALID_ARGUMENT, "nothing to feed: the prompt is empty");
    int32_t *ids = mem_malloc((size_t)n * sizeof *ids);
    if (!ids) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    lvk_status st = tokenizer_encode(tok, text, strlen(text), flags, ids, n, &n);
    if (st == LVK_OK) st = lvk_session_feed_tokens(s, ids, n);
    mem_free(ids);
    return st;
}

lvk_status lvk_session_feed(lvk_session *s, const char *text, int add_bos) {
    return lvk_session_feed_ex(s, text, add_bos ? LVK_TOKENIZE_BOS : 0);
}

lvk_status lvk_session_feed_chat(lvk_session *s, const char *format, const lvk_chat_message *messages, int n,
                                 int first, int add_assistant) {
    CHECK_ARG(s && (messages || n == 0), "lvk_session_feed_chat: NULL argument");
    CHECK_ARG(first >= 0 && first <= n, "first message %d is outside the conversation of %d", first, n);
    const chat_format *f;
    LVK_TRY(format_of(s->model, format, &f));
    chat_pieces p = {0};
    LVK_TRY(chat_format_render(f, messages, n, add_assistant, &p)); /* nothing to free on failure */
    /* The pieces from message `first` on; after a reply the session
     * generated, that reply's closing first. */
    int reply_closes = s->assistant_turn_open && first > 0 && !strcmp(messages[first - 1].role, "assistant");
    size_t from = 0;
    while (from < p.n && p.items[from].message < first &&
           !(reply_closes && p.items[from].message == first - 1 && p.items[from].part == CHAT_CLOSING))
        from++;
    int32_t *ids = NULL;
    int n_ids = 0;
    lvk_status st = chat_pieces_encode(s->model->host->tokenizer, p.items + from, p.n - from,
                                       s->n_past == 0 ? bos_flags(s->model) : 0, &ids, &n_ids);
    if (st == LVK_OK) st = lvk_session_feed_tokens(s, ids, n_ids);
    if (st == LVK_OK) s->assistant_turn_open = add_assistant;
    mem_free(ids);
    chat_pieces_free(&p);
    return st;
}

/* Fills *out for token id. */
static void describe(const lvk_session *s, int32_t id, int layer, float confidence, int drafted, lvk_token_info *out) {
    const host_model *hm = s->model->host;
    memset(out, 0, sizeof *out);
    out->id = id;
    out->layer = layer;
    out->n_layers = hm->hp.n_layers;
    out->confidence = confidence;
    out->is_eog = tokenizer_is_eog(hm->tokenizer, id);
    out->drafted = drafted;
    size_t len;
    const char *piece = tokenizer_piece(hm->tokenizer, id, &len);
    if (len >= sizeof out->piece) len = sizeof out->piece - 1;
    memcpy(out->piece, piece, len);
}

/* The next token of the last speculation cycle. An accepted draft is already
 * fed, unless `forced` replaces it, which is fed at its position instead; the
 * cycle's last token is fed now, starting the next cycle. */
static lvk_status step_cycle(lvk_session *s, int32_t forced, lvk_token_info *out) {
    const spec_cycle *c = &s->cycle;
    const int i = s->cycle_at++, is_draft = i < c->n_accepted;
    const int32_t id = c->tokens[i];
    describe(s, id, is_draft ? s->exits.draft_exit : s->model->host->hp.n_layers, c->confidence[i], is_draft, out);
    memset(&s->last, 0, sizeof s->last); /* no exit heads ran: no probes */
    int32_t token = forced >= 0 ? forced : id;
    if (tokenizer_is_eog(s->model->host->tokenizer, token)) { /* the text ended: the rest of the cycle is dropped */
        s->has_decision = 0;
        return LVK_OK;
    }
    if (is_draft && token == id) { /* in the KV cache already */
        push_token(s, token);
        return LVK_OK;
    }
    s->has_decision = 0; /* the rest of the cycle, if any, followed another token */
    if (s->n_past >= s->n_ctx) return LVK_OK;
    return advance(s, token);
}

/* Chooses the next token and feeds `forced` (or, when it is negative, the
 * chosen token) back. */
static lvk_status step(lvk_session *s, int32_t forced, lvk_token_info *out) {
    if (!s->has_decision)
        return s->n_past >= s->n_ctx
                   ? status_fail(LVK_ERR_CONTEXT_FULL, "the context of %d tokens is full (raise -c or reset)", s->n_ctx)
                   : status_fail(LVK_ERR_STATE, "nothing to continue: feed a prompt first");
    if (s->cycle_at < s->cycle.n_tokens) return step_cycle(s, forced, out);
    const host_model *hm = s->model->host;
    int32_t token = (int32_t)s->next.chosen.token;
    const int window = s->repeat_last_n < 0 || s->repeat_last_n > s->n_past ? s->n_past : s->repeat_last_n;
    const int penalize = s->repeat_penalty != 1.0f && window > 0;
    if (s->sampler.temperature > 0 || penalize) {
        /* Sampling, and a repeat penalty, read back the logits column the
         * choosing head left (n_vocab floats) and choose on the host (at
         * temperature 0 the argmax); greedy decoding otherwise reads only the
         * heads' 16-byte decisions. */
        LVK_TRY(gpu_session_logits(s->gpu, s->next.col, s->logits));
        if (penalize)
            sampler_penalize(s->logits, s->tokens + s->n_past - window, window, s->repeat_penalty, s->penalized);
        token = sampler_sample(&s->sampler, s->logits, s->probs);
    }
    s->last = s->next;
    describe(s, token, s->next.layer, s->next.chosen.prob, 0, out);
    if (forced >= 0) token = forced;
    s->has_decision = 0;
    if (tokenizer_is_eog(hm->tokenizer, token) || s->n_past >= s->n_ctx) return LVK_OK; /* the text ended, or no room */
    return advance(s, token);
}

lvk_status lvk_session_step(lvk_session *s, lvk_token_info *out) {
    CHECK_ARG(s && out, "lvk_session_step: NULL argument");
    return step(s, -1, out);
}

lvk_status lvk_session_step_forced(lvk_session *s, int32_t token, lvk_token_info *out) {
    CHECK_ARG(s && out, "lvk_session_step_forced: NULL argument");
    CHECK_ARG(token >= 0 && token < s->model->host->hp.n_vocab, "token id %d is outside the vocabulary of %d", token,
              s->model->host->hp.n_vocab);
    return step(s, token, out);
}

lvk_status lvk_session_set_exits(lvk_session *s, const lvk_exit_config *config) {
    CHECK_ARG(s && config, "lvk_session_set_exits: NULL argument");
    LVK_TRY(lvk_exit_config_validate(config, s->model->host->hp.n_layers));
    LVK_TRY(check_penalty_decode(s->repeat_penalty, config));
    LVK_TRY(gpu_session_set_exits(s->gpu, config));
    s->exits = *config;
    return LVK_OK;
}

lvk_status lvk_session_get_exits(const lvk_session *s, lvk_exit_config *out) {
    CHECK_ARG(s && out, "lvk_session_get_exits: NULL argument");
    *out = s->exits;
    return LVK_OK;
}

lvk_status lvk_session_last_probes(const lvk_session *s, lvk_exit_probe *out, int capacity, int *n) {
    CHECK_ARG(s && n && (out || capacity == 0), "lvk_session_last_probes: NULL argument");
    *n = s->last.n_heads;
    for (int i = 0; i < s->last.n_heads && i < capacity; i++)
        out[i] = (lvk_exit_probe){s->last.head_layers[i], (int32_t)s->last.heads[i].token, s->last.heads[i].prob,
                                  s->last.heads[i].second};
    return LVK_OK;
}

lvk_status lvk_session_stats_get(const lvk_session *s, lvk_session_stats *out) {
    CHECK_ARG(s && out, "lvk_session_stats_get: NULL argument");
    *out = s->stats;
    return LVK_OK;
}

lvk_status lvk_session_stats_reset(lvk_session *s) {
    CHECK_ARG(s, "lvk_session_stats_reset: NULL argument");
    memset(&s->stats, 0, sizeof s->stats);
    return LVK_OK;
}

lvk_status lvk_session_reset(lvk_session *s) {
    CHECK_ARG(s, "lvk_session_reset: NULL argument");
    /* Positions >= n_past are never read, so the cache needs no clearing. */
    s->n_past = 0;
    s->has_decision = 0;
    s->assistant_turn_open = 0;
    s->cycle_at = s->cycle.n_tokens = 0;
    memset(&s->last, 0, sizeof s->last);
    gpu_session_reset(s->gpu);
    return LVK_OK;
}

int lvk_session_n_past(const lvk_session *s) { return s ? s->n_past : 0; }
int lvk_session_n_ctx(const lvk_session *s) { return s ? s->n_ctx : 0; }
