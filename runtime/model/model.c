/* model.c — LLaMA hyper-parameters and weight tensors from a GGUF file. */
#include "alloc.h"
#include "model/model.h"
#include "formats/quant.h"
#include "status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lvk_status get_int(const gguf_file *f, const char *key, int *out, int required, int min,
                          int max) {
    uint32_t v = (uint32_t)*out;
    LVK_TRY(gguf_get_u32(f, key, &v, required ? LVK_ERR_FORMAT : LVK_OK));
    if ((int64_t)v < min || (int64_t)v > max)
        return status_fail(LVK_ERR_FORMAT, "metadata '%s' = %u is out of range (%d..%d)", key, v, min,
                        max);
    *out = (int)v;
    return LVK_OK;
}

static const arch_desc archs[] = {
    {.name = "llama", .rope_neox = 0, .qkv_bias = 0}, /* also Mistral's files, which use its name */
    {.name = "qwen2", .rope_neox = 1, .qkv_bias = 1},
};

/* The metadata key "<arch>.<key>". */
static const char *arch_key(const model_hparams *hp, const char *key) {
    static _Thread_local char buf[128];
    snprintf(buf, sizeof buf, "%s.%s", hp->arch->name, key);
    return buf;
}

static lvk_status read_arch(const gguf_file *f, model_hparams *hp) {
    char arch[64] = "";
    LVK_TRY(gguf_get_str(f, "general.architecture", arch, sizeof arch, LVK_ERR_FORMAT));
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (!strcmp(arch, archs[i].name)) {
            hp->arch = &archs[i];
            return LVK_OK;
        }
    return status_fail(LVK_ERR_UNSUPPORTED, "architecture '%s' is not supported (LiteVK runs llama and qwen2 models)",
                    arch);
}

/* RoPE's positions: plain, or linearly scaled (rope.scaling.type "linear",
 * positions divided by rope.scaling.factor). Other scalings (YaRN) would
 * silently give wrong text: refused. Llama 3.1's frequency factors come as a
 * tensor (rope_freqs.weight), read with the weights. */
static lvk_status read_rope_scaling(const gguf_file *f, model_hparams *hp) {
    char scaling[32] = "";
    LVK_TRY(gguf_get_str(f, arch_key(hp, "rope.scaling.type"), scaling, sizeof scaling, LVK_OK));
    hp->rope_freq_scale = 1.0f;
    if (!scaling[0] || !strcmp(scaling, "none")) return LVK_OK;
    if (strcmp(scaling, "linear") != 0)
        return status_fail(LVK_ERR_UNSUPPORTED, "RoPE scaling '%s' is not supported (LiteVK runs none and linear)",
                        scaling);
    float factor = 1.0f;
    LVK_TRY(gguf_get_f32(f, arch_key(hp, "rope.scaling.factor"), &factor, LVK_ERR_FORMAT));
    if (!(factor >= 1.0f && factor <= 1024.0f))
        return status_fail(LVK_ERR_FORMAT, "RoPE scaling factor %g is out of range (1..1024)", factor);
    hp->rope_freq_scale = 1.0f / factor;
    return LVK_OK;
}

lvk_status block_count_from_gguf(const gguf_file *f, int *n_layers) {
    model_hparams hp = {0};
    LVK_TRY(read_arch(f, &hp));
    return get_int(f, arch_key(&hp, "block_count"), n_layers, 1, 1, 1024);
}

static lvk_status read_hparams(const gguf_file *f, model_hparams *hp) {
    memset(hp, 0, sizeof *hp);
    LVK_TRY(read_arch(f, hp));
    LVK_TRY(get_int(f, arch_key(hp, "block_count"), &hp->n_layers, 1, 1, 1024));
    LVK_TRY(get_int(f, arch_key(hp, "embedding_length"), &hp->n_embd, 1, 1, 1 << 16));
    LVK_TRY(get_int(f, arch_key(hp, "attention.head_count"), &hp->n_heads, 1, 1, 1024));
    hp->n_kv_heads = hp->n_heads;
    LVK_TRY(get_int(f, arch_key(hp, "attention.head_count_kv"), &hp->n_kv_heads, 0, 1, hp->n_heads));
    LVK_TRY(get_int(f, arch_key(hp, "feed_forward_length"), &hp->n_ff, 1, 1, 1 << 18));
    hp->n_ctx_train = 2048;
    LVK_TRY(get_int(f, arch_key(hp, "context_length"), &hp->n_ctx_train, 0, 1, 1 << 24));
    if (hp->n_heads % hp->n_kv_heads)
        return status_fail(LVK_ERR_FORMAT, "%d heads are not a multiple of %d key/value heads",
                        hp->n_heads, hp->n_kv_heads);
    /* the head size: key_length where a model gives it (it need not be n_embd / n_heads) */
    hp->head_dim = hp->n_embd % hp->n_heads == 0 ? hp->n_embd / hp->n_heads : 0;
    LVK_TRY(get_int(f, arch_key(hp, "attention.key_length"), &hp->head_dim, 0, 1, 1 << 16));
    int value_dim = hp->head_dim;
    LVK_TRY(get_int(f, arch_key(hp, "attention.value_length"), &value_dim, 0, 1, 1 << 16));
    if (hp->head_dim == 0)
        return status_fail(LVK_ERR_FORMAT, "embedding length %d is not a multiple of %d heads, and no key_length "
                        "gives the head size", hp->n_embd, hp->n_heads);
    if (value_dim != hp->head_dim)
        return status_fail(LVK_ERR_UNSUPPORTED, "value heads of %d dimensions and key heads of %d are not supported "
                        "(LiteVK needs them equal)", value_dim, hp->head_dim);
    if (hp->head_dim > 256 || hp->head_dim % 2)
        return status_fail(LVK_ERR_UNSUPPORTED, "head dimension %d is not supported (an even number up to 256)",
                        hp->head_dim);
    hp->rope_dim = hp->head_dim;
    LVK_TRY(get_int(f, arch_key(hp, "rope.dimension_count"), &hp->rope_dim, 0, 2, hp->head_dim));
    if (hp->rope_dim % 2)
        return status_fail(LVK_ERR_FORMAT, "rope dimension %d is odd", hp->rope_dim);
    hp->rope_base = 10000.0f;
    LVK_TRY(gguf_get_f32(f, arch_key(hp, "rope.freq_base"), &hp->rope_base, LVK_OK));
    hp->rms_eps = 1e-5f;
    LVK_TRY(gguf_get_f32(f, arch_key(hp, "attention.layer_norm_rms_epsilon"), &hp->rms_eps, LVK_OK));
    /* a base below 1 would turn the angles up, not down, past float's range */
    if (!(hp->rope_base >= 1 && hp->rope_base <= 1e12f) || !(hp->rms_eps > 0) || hp->rms_eps > 1)
        return status_fail(LVK_ERR_FORMAT, "rope base %g or RMS epsilon %g is out of range",
                        hp->rope_base, hp->rms_eps);
    return read_rope_scaling(f, hp);
}

float rope_angle(const model_hparams *hp, int pos, int pair) {
    float angle = (float)pos * hp->rope_freq_scale * powf(hp->rope_base, -(float)(2 * pair) / (float)hp->rope_dim);
    return hp->rope_factors ? angle / hp->rope_factors[pair] : angle;
}

uint64_t rope_source_row(const model_hparams *hp, uint64_t gpu_row) {
    const uint64_t hd = (uint64_t)hp->head_dim, d = gpu_row % hd, head_start = gpu_row - d;
    if (!hp->arch->rope_neox || d >= (uint64_t)hp->rope_dim) return gpu_row;
    return head_start + (d % 2 ? (uint64_t)hp->rope_dim / 2 + d / 2 : d / 2);
}

/* Looks up a tensor and checks its shape ({cols, rows}, rows 1 for vectors). */
static lvk_status bind_weight(const gguf_file *f, const char *name, uint64_t cols, uint64_t rows,
                              int vector, weight_tensor *w) {
    const gguf_tensor *t = gguf_find_tensor(f, name);
    if (!t) return status_fail(LVK_ERR_FORMAT, "tensor '%s' is missing", name);
    uint64_t want_dims = vector ? 1 : 2;
    if (t->n_dims != want_dims || t->ne[0] != cols || (!vector && t->ne[1] != rows))
        return status_fail(LVK_ERR_FORMAT,
                        "tensor '%s' has shape [%llu, %llu] (%u dims), expected [%llu, %llu]", name,
                        (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], t->n_dims,
                        (unsigned long long)cols, (unsigned long long)rows);
    if (vector ? t->type != GGML_F32 : !weight_type_supported(t->type))
        return status_fail(LVK_ERR_UNSUPPORTED,
                        "tensor '%s' has type %s; LiteVK runs %s%s", name, ggml_type_name(t->type),
                        vector ? "f32 vectors (norms, biases, RoPE factors)" : weight_type_names(", ", " and "), vector ? "" : " matrices");
    w->type = t->type;
    w->rows = rows;
    w->cols = cols;
    w->data = t->data;
    w->n_bytes = t->n_bytes;
    return LVK_OK;
}

static lvk_status bind_weights(host_model *m) {
    const gguf_file *f = m->file;
    model_hparams *hp = &m->hp;
    uint64_t d = hp->n_embd, q = hp_q_dim(hp), kv = hp_kv_dim(hp), ff = hp->n_ff, V = hp->n_vocab;
    LVK_TRY(bind_weight(f, "token_embd.weight", d, V, 0, &m->tok_embd));
    if (gguf_find_tensor(f, "rope_freqs.weight")) {
        weight_tensor factors;
        LVK_TRY(bind_weight(f, "rope_freqs.weight", (uint64_t)hp->rope_dim / 2, 1, 1, &factors));
        hp->rope_factors = factors.data;
        for (int i = 0; i < hp->rope_dim / 2; i++)
            if (!(hp->rope_factors[i] > 0 && hp->rope_factors[i] < 1e30f))
                return status_fail(LVK_ERR_FORMAT, "rope_freqs.weight[%d] = %g: frequency factors must be positive", i,
                                hp->rope_factors[i]);
    }
    LVK_TRY(bind_weight(f, "output_norm.weight", d, 1, 1, &m->output_norm));
    if (gguf_find_tensor(f, "output.weight")) {
        LVK_TRY(bind_weight(f, "output.weight", d, V, 0, &m->output));
    } else {
        m->output = m->tok_embd;
        m->output_tied = 1;
    }
    m->layers = mem_calloc((size_t)hp->n_layers, sizeof *m->layers);
    if (!m->layers) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
    for (int l = 0; l < hp->n_layers; l++) {
        layer_weights *L = &m->layers[l];
        struct { const char *name; uint64_t cols, rows; int vector; weight_tensor *w; } table[] = {
            {"attn_norm", d, 1, 1, &L->attn_norm},  {"attn_q", d, q, 0, &L->wq},
            {"attn_k", d, kv, 0, &L->wk},           {"attn_v", d, kv, 0, &L->wv},
            {"attn_output", q, d, 0, &L->wo},       {"ffn_norm", d, 1, 1, &L->ffn_norm},
            {"ffn_gate", d, ff, 0, &L->w_gate},     {"ffn_up", d, ff, 0, &L->w_up},
            {"ffn_down", ff, d, 0, &L->w_down},
        };
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, table[i].name);
            LVK_TRY(bind_weight(f, name, table[i].cols, table[i].rows, table[i].vector, table[i].w));
        }
        if (!hp->arch->qkv_bias) continue;
        struct { const char *name; uint64_t n; weight_tensor *w; } biases[] = {
            {"attn_q", q, &L->bq}, {"attn_k", kv, &L->bk}, {"attn_v", kv, &L->bv}};
        for (size_t i = 0; i < sizeof biases / sizeof biases[0]; i++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.bias", l, biases[i].name);
            LVK_TRY(bind_weight(f, name, biases[i].n, 1, 1, biases[i].w));
        }
    }
    return LVK_OK;
}

/* The model in f, or with vocab_only its vocabulary and name alone: neither
 * the architecture nor the weights are read, so a vocabulary file loads too. */
static lvk_status from_gguf(gguf_file *f, int vocab_only, host_model **out) {
    if (!f || !out) {
        gguf_close(f);
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "host_model_from_gguf: NULL argument");
    }
    host_model *m = mem_calloc(1, sizeof *m);
    if (!m) {
        gguf_close(f);
        return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
    }
    m->file = f;
    lvk_status s;
    if (!vocab_only && (s = read_hparams(m->file, &m->hp)) != LVK_OK) goto fail;
    if ((s = tokenizer_load(m->file, &m->tokenizer)) != LVK_OK) goto fail;
    m->hp.n_vocab = tokenizer_n_vocab(m->tokenizer);
    if (!vocab_only && (s = bind_weights(m)) != LVK_OK) goto fail;
    snprintf(m->name, sizeof m->name, "%s", "");
    if ((s = gguf_get_str(m->file, "general.name", m->name, sizeof m->name, LVK_OK)) != LVK_OK)
        goto fail;
    *out = m;
    return LVK_OK;
fail:
    host_model_free(m);
    return s;
}

lvk_status host_model_from_gguf(gguf_file *f, host_model **out) { return from_gguf(f, 0, out); }

static lvk_status open_path(const char *path, int vocab_only, host_model **out) {
    if (!path || !out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "model path is NULL");
    gguf_file *f;
    LVK_TRY(gguf_open(path, &f));
    lvk_status s = from_gguf(f, vocab_only, out);
    return s == LVK_OK ? s : status_fail_prefix(s, "%s", path);
}

lvk_status host_model_open(const char *path, host_model **out) { return open_path(path, 0, out); }

lvk_status host_vocab_open(const char *path, host_model **out) { return open_path(path, 1, out); }

void host_model_free(host_model *m) {
    if (!m) return;
    tokenizer_free(m->tokenizer);
    mem_free(m->layers);
    gguf_close(m->file);
    mem_free(m);
}
