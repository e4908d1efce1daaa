/* api.c — the public API (include/litevk.h) over the runtime's parts. */
#include "gpu_forward.h"
#include "sampler.h"
#include "status.h"

#include <stdlib.h>
#include <string.h>

struct lvk_context {
    vk_device *dev;
};

struct lvk_model {
    lvk_context *ctx;
    lvk_host_model *host;
    gpu_model *gpu;
};

struct lvk_session {
    lvk_model *model;
    gpu_session *gpu;
    lvk_sampler sampler;
    int n_ctx;
    int n_past;          /* tokens in the KV cache */
    int has_decision;    /* the last pass left logits for the next token */
    gpu_decision decision;
    int last_col;        /* column of the last pass whose logits are next */
    float *logits;       /* [n_vocab] host copy for sampling at temperature > 0 */
};

#define CHECK_ARG(cond, ...) \
    do { if (!(cond)) return lvk_fail(LVK_ERR_INVALID_ARGUMENT, __VA_ARGS__); } while (0)

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
    lvk_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return lvk_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    lvk_status s = vk_device_create(&ctx->dev, device, want_validation);
    if (s != LVK_OK) {
        free(ctx);
        return s;
    }
    *out = ctx;
    return LVK_OK;
}

void lvk_context_free(lvk_context *ctx) {
    if (!ctx) return;
    vk_device_free(ctx->dev);
    free(ctx);
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
    lvk_model_params p = {NULL, NULL};
    return p;
}

lvk_status lvk_model_load(lvk_context *ctx, const char *path, const lvk_model_params *params, lvk_model **out) {
    CHECK_ARG(ctx && path && out, "lvk_model_load: NULL argument");
    lvk_model_params p = params ? *params : lvk_model_default_params();
    lvk_model *m = calloc(1, sizeof *m);
    if (!m) return lvk_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    m->ctx = ctx;
    lvk_status s = host_model_open(path, &m->host);
    if (s == LVK_OK) {
        s = gpu_model_upload(ctx->dev, m->host, p.progress, p.progress_user, &m->gpu);
        if (s != LVK_OK) lvk_fail_prefix(s, "%s", path);
    }
    if (s != LVK_OK) {
        lvk_model_free(m);
        return s;
    }
    *out = m;
    return LVK_OK;
}

void lvk_model_free(lvk_model *m) {
    if (!m) return;
    gpu_model_free(m->gpu);
    host_model_free(m->host);
    free(m);
}

lvk_status lvk_model_get_info(const lvk_model *m, lvk_model_info *out) {
    CHECK_ARG(m && out, "lvk_model_get_info: NULL argument");
    const lvk_hparams *hp = &m->host->hp;
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
    return LVK_OK;
}

lvk_status lvk_tokenize(const lvk_model *m, const char *text, int add_bos, int32_t *tokens, int capacity,
                        int *n_tokens) {
    CHECK_ARG(m && text && n_tokens && (tokens || capacity == 0), "lvk_tokenize: NULL argument");
    return tokenizer_encode(m->host->tokenizer, text, strlen(text), add_bos, tokens, capacity, n_tokens);
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

/* ---- sessions ------------------------------------------------------------------ */

lvk_session_params lvk_session_default_params(void) {
    lvk_session_params p = {0, 0.0f, 0, 1.0f, 0};
    return p;
}

lvk_status lvk_session_create(lvk_model *m, const lvk_session_params *params, lvk_session **out) {
    CHECK_ARG(m && out, "lvk_session_create: NULL argument");
    lvk_session_params p = params ? *params : lvk_session_default_params();
    CHECK_ARG(p.n_ctx >= 0, "context length %d is negative", p.n_ctx);
    CHECK_ARG(p.temperature >= 0 && p.temperature <= 100, "temperature %g is outside 0..100", p.temperature);
    CHECK_ARG(p.top_k >= 0, "top-k %d is negative", p.top_k);
    CHECK_ARG(p.top_p > 0 && p.top_p <= 1, "top-p %g is outside (0, 1]", p.top_p);
    const lvk_hparams *hp = &m->host->hp;
    int n_ctx = p.n_ctx ? p.n_ctx : (hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096);
    if (n_ctx > hp->n_ctx_train)
        return lvk_fail(LVK_ERR_INVALID_ARGUMENT, "context length %d is longer than the model's %d", n_ctx,
                        hp->n_ctx_train);
    lvk_session *s = calloc(1, sizeof *s);
    if (!s) return lvk_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    s->model = m;
    s->n_ctx = n_ctx;
    lvk_status st = LVK_OK;
    s->logits = malloc((size_t)hp->n_vocab * sizeof(float));
    if (!s->logits || sampler_init(&s->sampler, hp->n_vocab, p.temperature, p.top_k, p.top_p, p.seed) != 0)
        st = lvk_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    if (st == LVK_OK) st = gpu_session_create(m->gpu, hp, n_ctx, &s->gpu);
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
    free(s->logits);
    free(s);
}

lvk_status lvk_session_feed_tokens(lvk_session *s, const int32_t *tokens, int n) {
    CHECK_ARG(s && (tokens || n == 0), "lvk_session_feed_tokens: NULL argument");
    CHECK_ARG(n > 0, "nothing to feed: the prompt is empty");
    if (s->n_past + n > s->n_ctx)
        return lvk_fail(LVK_ERR_CONTEXT_FULL,
                        "%d tokens do not fit: the context holds %d and %d are used (raise -c or reset)", n,
                        s->n_ctx, s->n_past);
    for (int i = 0; i < n; i++)
        CHECK_ARG(tokens[i] >= 0 && tokens[i] < s->model->host->hp.n_vocab,
                  "token id %d is outside the vocabulary of %d", tokens[i], s->model->host->hp.n_vocab);
    for (int i = 0; i < n; i += LVK_MAX_BATCH) {
        int chunk = n - i < LVK_MAX_BATCH ? n - i : LVK_MAX_BATCH;
        lvk_status st = gpu_session_run(s->gpu, tokens + i, chunk, s->n_past, &s->decision);
        if (st != LVK_OK) {
            s->has_decision = 0; /* the KV cache may be partly written: a reset recovers */
            return st;
        }
        s->n_past += chunk;
        s->last_col = chunk - 1;
    }
    s->has_decision = 1;
    return LVK_OK;
}

lvk_status lvk_session_feed(lvk_session *s, const char *text, int add_bos) {
    CHECK_ARG(s && text, "lvk_session_feed: NULL argument");
    int n = 0;
    const lvk_tokenizer *tok = s->model->host->tokenizer;
    int bos = add_bos && s->n_past == 0;
    LVK_TRY(tokenizer_encode(tok, text, strlen(text), bos, NULL, 0, &n));
    if (n == 0) return lvk_fail(LVK_ERR_INVALID_ARGUMENT, "nothing to feed: the prompt is empty");
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    if (!ids) return lvk_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    lvk_status st = tokenizer_encode(tok, text, strlen(text), bos, ids, n, &n);
    if (st == LVK_OK) st = lvk_session_feed_tokens(s, ids, n);
    free(ids);
    return st;
}

lvk_status lvk_session_step(lvk_session *s, lvk_token_info *out) {
    CHECK_ARG(s && out, "lvk_session_step: NULL argument");
    if (!s->has_decision)
        return s->n_past >= s->n_ctx
                   ? lvk_fail(LVK_ERR_CONTEXT_FULL, "the context of %d tokens is full (raise -c or reset)", s->n_ctx)
                   : lvk_fail(LVK_ERR_STATE, "nothing to continue: feed a prompt first");
    const lvk_host_model *hm = s->model->host;
    int32_t token = (int32_t)s->decision.token;
    if (s->sampler.temperature > 0) {
        LVK_TRY(gpu_session_logits(s->gpu, s->last_col, s->logits));
        token = sampler_sample(&s->sampler, s->logits);
    }
    memset(out, 0, sizeof *out);
    out->id = token;
    out->layer = hm->hp.n_layers;
    out->n_layers = hm->hp.n_layers;
    out->confidence = s->decision.prob;
    out->is_eos = token == tokenizer_eos(hm->tokenizer);
    size_t len;
    const char *piece = tokenizer_piece(hm->tokenizer, token, &len);
    if (len >= sizeof out->piece) len = sizeof out->piece - 1;
    memcpy(out->piece, piece, len);
    if (out->is_eos || s->n_past >= s->n_ctx) {
        s->has_decision = 0; /* the text ended, or there is no room to feed the token back */
        return LVK_OK;
    }
    return lvk_session_feed_tokens(s, &token, 1);
}

lvk_status lvk_session_reset(lvk_session *s) {
    CHECK_ARG(s, "lvk_session_reset: NULL argument");
    /* Positions >= n_past are never read, so the cache needs no clearing. */
    s->n_past = 0;
    s->has_decision = 0;
    return LVK_OK;
}

int lvk_session_n_past(const lvk_session *s) { return s ? s->n_past : 0; }
int lvk_session_n_ctx(const lvk_session *s) { return s ? s->n_ctx : 0; }
