/* convert_hf.c — a Hugging Face checkpoint directory -> GGUF; see
 * convert_hf.h.
 *
 * Every tensor the GGUF will hold is planned first — its source, shape and
 * type checked against config.json — and every tensor of the checkpoint must
 * find a place in that plan, so that a checkpoint LiteVK does not understand
 * fails before anything is written. The writer then asks for each tensor's
 * rows, which are read from the mapped safetensors, reordered where RoPE
 * needs it, and converted.
 */
#include "convert/convert_hf.h"

#include "alloc.h"
#include "formats/gguf.h"
#include "formats/gguf_write.h"
#include "convert/hf_config.h"
#include "convert/hf_vocab.h"
#include "formats/quant.h"
#include "formats/safetensors.h"
#include "status.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ggml's quantisation version, which llama.cpp's converter writes */
#define QUANTIZATION_VERSION 2

/* One tensor of the GGUF. */
typedef struct job {
    char name[64];
    const st_tensor *src;  /* NULL for a tensor computed here (rope_freqs) */
    const float *values;   /* that tensor's values */
    uint64_t rows, cols;   /* a vector has one row */
    uint32_t n_dims, type;
    /* Q and K of "llama": the heads whose rows are reordered; 0: none */
    uint64_t rotary_heads;
    struct converter *conv;
} job;

typedef struct converter {
    const hf_config *config;
    const convert_hf_params *params;
    st_checkpoint *checkpoint;
    job *jobs;
    uint64_t n_jobs;
    float *row;        /* one source row as F32 */
    float *rope_freqs; /* llama3 RoPE scaling's frequency factors */
} converter;

/* ---- what llama.cpp's converter computes ---------------------------------------- */

/* The source row of row r of a rotary (Q or K) matrix of `heads` heads.
 * Hugging Face rotates each head's halves together (rotate_half: element k
 * with k + d/2); GGUF's llama rotates neighbours (2k with 2k + 1). llama.cpp's
 * converter regroups each head's rows so that the pairs become neighbours:
 * row 2k + j of a head comes from row j * d/2 + k. */
static uint64_t rotary_source_row(uint64_t r, uint64_t rows, uint64_t heads) {
    uint64_t d = rows / heads, head = r / d, i = r % d;
    return head * d + (i % 2) * (d / 2) + i / 2;
}

/* Llama 3.1's RoPE scaling, as frequency factors per rotated pair: high
 * frequencies keep theirs (1), low ones are divided by `factor`, and those
 * between blend smoothly. In float, as llama.cpp's converter computes them
 * with PyTorch. */
static void llama3_rope_factors(const hf_config *c, float *out) {
    const double low = c->rope_scaling.low_freq_factor, high = c->rope_scaling.high_freq_factor;
    const double old_context = (double)c->rope_scaling.original_context, factor = c->rope_scaling.factor;
    const double low_freq_wavelen = old_context / low, high_freq_wavelen = old_context / high;
    const int64_t dim = c->head_dim;
    for (int64_t i = 0; i < dim / 2; i++) {
        float freq = 1.0f / powf((float)c->rope_theta, (float)(2 * i) / (float)dim);
        float wavelen = (float)(2 * M_PI) / freq;
        if (wavelen < high_freq_wavelen) {
            out[i] = 1.0f;
        } else if (wavelen > low_freq_wavelen) {
            out[i] = (float)factor;
        } else {
            float smooth = ((float)old_context / wavelen - (float)low) / (float)(high - low);
            out[i] = 1.0f / ((1.0f - smooth) / (float)factor + smooth);
        }
    }
}

/* ---- planning the tensors -------------------------------------------------------------- */

/* The sizes a tensor's dimensions are given in. */
typedef enum dim { HIDDEN, FF, Q_DIM, KV_DIM, VOCAB } dim;

static uint64_t dim_size(const hf_config *c, dim d) {
    switch (d) {
    case HIDDEN: return (uint64_t)c->hidden_size;
    case FF: return (uint64_t)c->intermediate_size;
    case Q_DIM: return (uint64_t)(c->n_heads * c->head_dim);
    case KV_DIM: return (uint64_t)(c->n_kv_heads * c->head_dim);
    case VOCAB: return (uint64_t)c->vocab_size;
    }
    return 0;
}

/* A tensor of the checkpoint and where it goes: a matrix [rows][cols] (PyTorch's
 * [out, in]) or a vector (cols 0 then, rows its length). */
typedef struct mapping {
    const char *hf, *gguf;
    dim rows;
    int is_matrix;
    dim cols;
    int rotary;     /* Q or K: reordered for "llama" */
    int qwen2_only; /* Qwen2's Q/K/V biases */
} mapping;

static const mapping block_tensors[] = {
    {.hf = "input_layernorm.weight", .gguf = "attn_norm.weight", .rows = HIDDEN, .is_matrix = 0, .cols = HIDDEN},
    {.hf = "self_attn.q_proj.weight", .gguf = "attn_q.weight", .rows = Q_DIM, .is_matrix = 1, .cols = HIDDEN, .rotary = 1},
    {.hf = "self_attn.k_proj.weight", .gguf = "attn_k.weight", .rows = KV_DIM, .is_matrix = 1, .cols = HIDDEN, .rotary = 1},
    {.hf = "self_attn.v_proj.weight", .gguf = "attn_v.weight", .rows = KV_DIM, .is_matrix = 1, .cols = HIDDEN},
    {.hf = "self_attn.o_proj.weight", .gguf = "attn_output.weight", .rows = HIDDEN, .is_matrix = 1, .cols = Q_DIM},
    {.hf = "self_attn.q_proj.bias", .gguf = "attn_q.bias", .rows = Q_DIM, .is_matrix = 0, .cols = HIDDEN, .qwen2_only = 1},
    {.hf = "self_attn.k_proj.bias", .gguf = "attn_k.bias", .rows = KV_DIM, .is_matrix = 0, .cols = HIDDEN, .qwen2_only = 1},
    {.hf = "self_attn.v_proj.bias", .gguf = "attn_v.bias", .rows = KV_DIM, .is_matrix = 0, .cols = HIDDEN, .qwen2_only = 1},
    {.hf = "post_attention_layernorm.weight", .gguf = "ffn_norm.weight", .rows = HIDDEN, .is_matrix = 0, .cols = HIDDEN},
    {.hf = "mlp.gate_proj.weight", .gguf = "ffn_gate.weight", .rows = FF, .is_matrix = 1, .cols = HIDDEN},
    {.hf = "mlp.up_proj.weight", .gguf = "ffn_up.weight", .rows = FF, .is_matrix = 1, .cols = HIDDEN},
    {.hf = "mlp.down_proj.weight", .gguf = "ffn_down.weight", .rows = HIDDEN, .is_matrix = 1, .cols = FF},
};
enum { N_BLOCK_TENSORS = sizeof block_tensors / sizeof block_tensors[0] };

static const mapping embedding = {.hf = "model.embed_tokens.weight", .gguf = "token_embd.weight", .rows = VOCAB, .is_matrix = 1, .cols = HIDDEN};
static const mapping final_norm = {.hf = "model.norm.weight", .gguf = "output_norm.weight", .rows = HIDDEN, .is_matrix = 0, .cols = HIDDEN};
static const mapping lm_head = {.hf = "lm_head.weight", .gguf = "output.weight", .rows = VOCAB, .is_matrix = 1, .cols = HIDDEN};

/* "[a, b]" */
static void shape_text(const uint64_t *shape, uint32_t n_dims, char *out, size_t size) {
    size_t n = (size_t)snprintf(out, size, "[");
    for (uint32_t d = 0; d < n_dims && n < size; d++)
        n += (size_t)snprintf(out + n, size - n, "%s%llu", d ? ", " : "", (unsigned long long)shape[d]);
    if (n < size) snprintf(out + n, size - n, "]");
}

/* Finds the source of a mapping and checks it against config.json. */
static lvk_status plan(converter *c, const mapping *m, const char *hf_name, const char *gguf_name, job *j) {
    const hf_config *cfg = c->config;
    const st_tensor *t = st_checkpoint_find(c->checkpoint, hf_name);
    if (!t) return status_fail(LVK_ERR_FORMAT, "the checkpoint has no tensor '%s'%s", hf_name,
                            m == &lm_head ? " (config.json says tie_word_embeddings is false)" : "");
    if (!st_is_float(t))
        return status_fail(LVK_ERR_UNSUPPORTED, "tensor '%s' is %s; LiteVK converts F32, F16 and BF16 tensors", hf_name,
                        t->dtype);
    uint64_t want[2] = {dim_size(cfg, m->rows), dim_size(cfg, m->cols)};
    uint32_t want_dims = m->is_matrix ? 2 : 1;
    if (t->n_dims != want_dims || t->shape[0] != want[0] || (m->is_matrix && t->shape[1] != want[1])) {
        char got[96], expected[64];
        shape_text(t->shape, t->n_dims, got, sizeof got);
        shape_text(want, want_dims, expected, sizeof expected);
        return status_fail(LVK_ERR_FORMAT,
                        "tensor '%s' is %s, but config.json makes it %s (hidden_size %lld, intermediate_size %lld, "
                        "%lld heads of %lld, %lld key/value heads, vocab_size %lld)",
                        hf_name, got, expected, (long long)cfg->hidden_size, (long long)cfg->intermediate_size,
                        (long long)cfg->n_heads, (long long)cfg->head_dim, (long long)cfg->n_kv_heads,
                        (long long)cfg->vocab_size);
    }
    *j = (job){.src = t, .rows = want[0], .cols = m->is_matrix ? want[1] : want[0], .n_dims = want_dims, .conv = c};
    if (!m->is_matrix) j->rows = 1;
    snprintf(j->name, sizeof j->name, "%s", gguf_name);
    j->type = m->is_matrix ? quant_row_type(c->params->out_type, j->cols) : GGML_F32;
    if (m->rotary && cfg->arch == HF_LLAMA) j->rotary_heads = (uint64_t)(m->rows == Q_DIM ? cfg->n_heads : cfg->n_kv_heads);
    return LVK_OK;
}

static lvk_status plan_tensors(converter *c) {
    const hf_config *cfg = c->config;
    int rope_freqs = cfg->rope_scaling.type == HF_ROPE_LLAMA3;
    uint64_t max_jobs = 3 + (uint64_t)rope_freqs + (uint64_t)cfg->n_layers * N_BLOCK_TENSORS;
    c->jobs = mem_calloc(max_jobs, sizeof *c->jobs);
    if (!c->jobs) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
    if (rope_freqs) {
        c->rope_freqs = mem_malloc((size_t)(cfg->head_dim / 2) * sizeof *c->rope_freqs);
        if (!c->rope_freqs) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
        llama3_rope_factors(cfg, c->rope_freqs);
        c->jobs[c->n_jobs++] = (job){.name = "rope_freqs.weight", .values = c->rope_freqs, .rows = 1,
                                     .cols = (uint64_t)cfg->head_dim / 2, .n_dims = 1, .type = GGML_F32, .conv = c};
    }
    LVK_TRY(plan(c, &embedding, embedding.hf, embedding.gguf, &c->jobs[c->n_jobs++]));
    LVK_TRY(plan(c, &final_norm, final_norm.hf, final_norm.gguf, &c->jobs[c->n_jobs++]));
    if (!cfg->tie_word_embeddings) LVK_TRY(plan(c, &lm_head, lm_head.hf, lm_head.gguf, &c->jobs[c->n_jobs++]));
    for (int64_t l = 0; l < cfg->n_layers; l++)
        for (int i = 0; i < N_BLOCK_TENSORS; i++) {
            const mapping *m = &block_tensors[i];
            if (m->qwen2_only && cfg->arch != HF_QWEN2) continue;
            char hf_name[128], gguf_name[64];
            snprintf(hf_name, sizeof hf_name, "model.layers.%lld.%s", (long long)l, m->hf);
            snprintf(gguf_name, sizeof gguf_name, "blk.%lld.%s", (long long)l, m->gguf);
            LVK_TRY(plan(c, m, hf_name, gguf_name, &c->jobs[c->n_jobs++]));
        }
    return LVK_OK;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* Every tensor of the checkpoint goes somewhere, but for those llama.cpp's
 * converter drops too: RoPE's inverse frequencies (recomputed at run time)
 * and a tied model's copy of the embedding. */
static lvk_status check_all_used(const converter *c) {
    const st_checkpoint *ck = c->checkpoint;
    for (int s = 0; s < ck->n_shards; s++)
        for (uint64_t i = 0; i < ck->shards[s]->n_tensors; i++) {
            const st_tensor *t = &ck->shards[s]->tensors[i];
            int used = ends_with(t->name, ".rotary_emb.inv_freq") ||
                       (c->config->tie_word_embeddings && !strcmp(t->name, lm_head.hf));
            for (uint64_t k = 0; k < c->n_jobs && !used; k++) used = c->jobs[k].src == t;
            if (!used)
                return status_fail(LVK_ERR_UNSUPPORTED, "%s holds tensor '%.80s', which is not part of a %s as LiteVK "
                                                     "converts it", ck->shard_paths[s], t->name, c->config->architecture);
        }
    return LVK_OK;
}

/* ---- writing ---------------------------------------------------------------------- */

static lvk_status fill_tensor(void *user, void *dst, uint64_t first_row, uint64_t n_rows) {
    const job *j = user;
    const converter *c = j->conv;
    uint64_t row_bytes = j->cols / ggml_block_elems(j->type) * ggml_block_bytes(j->type);
    for (uint64_t r = first_row; r < first_row + n_rows; r++) {
        const float *row = c->row;
        if (j->values) {
            row = j->values + r * j->cols;
        } else {
            uint64_t from = j->rotary_heads ? rotary_source_row(r, j->rows, j->rotary_heads) : r;
            st_read_f32(j->src, from * j->cols, j->cols, c->row);
        }
        quantize_row(j->type, row, (uint8_t *)dst + (r - first_row) * row_bytes, j->cols);
    }
    return LVK_OK;
}

static lvk_status add_tensors(converter *c, gguf_writer *w) {
    uint64_t max_cols = 0;
    for (uint64_t i = 0; i < c->n_jobs; i++) {
        const job *j = &c->jobs[i];
        uint64_t ne[2] = {j->cols, j->rows};
        LVK_TRY(gguf_writer_add_tensor_fill(w, j->name, j->type, j->n_dims, ne, fill_tensor, &c->jobs[i]));
        if (j->cols > max_cols) max_cols = j->cols;
    }
    if (!(c->row = mem_malloc((size_t)max_cols * sizeof *c->row)))
        return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory for a row of %llu weights", (unsigned long long)max_cols);
    return LVK_OK;
}

/* The keys llama.cpp's converter writes for the architecture. */
static lvk_status add_hparams(const hf_config *c, uint32_t out_type, gguf_writer *w) {
    char key[96];
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", c->gguf_arch, suffix), key)
    if (c->context_length) LVK_TRY(gguf_writer_add_u32(w, KEY("context_length"), (uint32_t)c->context_length));
    LVK_TRY(gguf_writer_add_u32(w, KEY("embedding_length"), (uint32_t)c->hidden_size));
    LVK_TRY(gguf_writer_add_u32(w, KEY("block_count"), (uint32_t)c->n_layers));
    LVK_TRY(gguf_writer_add_u32(w, KEY("feed_forward_length"), (uint32_t)c->intermediate_size));
    LVK_TRY(gguf_writer_add_u32(w, KEY("attention.head_count"), (uint32_t)c->n_heads));
    LVK_TRY(gguf_writer_add_u32(w, KEY("attention.head_count_kv"), (uint32_t)c->n_kv_heads));
    LVK_TRY(gguf_writer_add_f32(w, KEY("rope.freq_base"), (float)c->rope_theta));
    LVK_TRY(gguf_writer_add_f32(w, KEY("attention.layer_norm_rms_epsilon"), (float)c->rms_norm_eps));
    if (c->head_dim_given && c->head_dim * c->n_heads != c->hidden_size) {
        LVK_TRY(gguf_writer_add_u32(w, KEY("attention.key_length"), (uint32_t)c->head_dim));
        LVK_TRY(gguf_writer_add_u32(w, KEY("attention.value_length"), (uint32_t)c->head_dim));
    }
    LVK_TRY(gguf_writer_add_u32(w, "general.file_type", quant_file_type(out_type)));
    LVK_TRY(gguf_writer_add_u32(w, KEY("vocab_size"), (uint32_t)c->vocab_size));
    LVK_TRY(gguf_writer_add_u32(w, KEY("rope.dimension_count"), (uint32_t)c->head_dim));
    if (c->rope_scaling.type == HF_ROPE_LINEAR) {
        LVK_TRY(gguf_writer_add_str(w, KEY("rope.scaling.type"), "linear"));
        LVK_TRY(gguf_writer_add_f32(w, KEY("rope.scaling.factor"), (float)c->rope_scaling.factor));
    }
#undef KEY
    return LVK_OK;
}

/* general.name: the directory's name, as llama.cpp's converter falls back to. */
static void model_name(const char *dir, char *out, size_t size) {
    char resolved[PATH_MAX];
    const char *path = realpath(dir, resolved) ? resolved : dir;
    const char *base = strrchr(path, '/');
    snprintf(out, size, "%.*s", (int)size - 1, base && base[1] ? base + 1 : path);
}

static int same_file(const char *a, const char *b) {
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* Writing over an input would destroy it (or truncate a mapped shard under us). */
static lvk_status check_output(const char *dir, const char *out_path, const st_checkpoint *ck) {
    static const char *const inputs[] = {"config.json", "tokenizer.json", "tokenizer_config.json",
                                         "chat_template.jinja", "model.safetensors.index.json"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, inputs[i]);
        if (same_file(path, out_path))
            return status_fail(LVK_ERR_INVALID_ARGUMENT, "output '%s' is the checkpoint's %s", out_path, inputs[i]);
    }
    if (ck && st_checkpoint_holds(ck, out_path))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "output '%s' is one of the checkpoint's safetensors files", out_path);
    return LVK_OK;
}

static lvk_status convert(const char *dir, const char *out_path, const convert_hf_params *p, converter *c,
                          hf_config *config, hf_vocab *vocab, gguf_writer **w) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/config.json", dir);
    int have_config = access(path, F_OK) == 0;
    if (!have_config && !p->vocab_only)
        return status_fail(LVK_ERR_IO, "'%s' has no config.json (a Hugging Face checkpoint's hyper-parameters)", dir);
    if (have_config) LVK_TRY(hf_config_load(path, config));
    c->config = config;
    LVK_TRY(hf_vocab_load(dir, have_config ? config : NULL, vocab));
    if (!p->vocab_only) {
        LVK_TRY(st_checkpoint_open(dir, &c->checkpoint));
        LVK_TRY(plan_tensors(c));
        LVK_TRY(check_all_used(c));
    }
    LVK_TRY(check_output(dir, out_path, c->checkpoint));

    char name[256];
    model_name(dir, name, sizeof name);
    LVK_TRY(gguf_writer_create(w));
    if (have_config) LVK_TRY(gguf_writer_add_str(*w, "general.architecture", config->gguf_arch));
    LVK_TRY(gguf_writer_add_str(*w, "general.name", name));
    if (have_config) LVK_TRY(add_hparams(config, p->out_type, *w));
    LVK_TRY(gguf_writer_add_u32(*w, "general.quantization_version", QUANTIZATION_VERSION));
    LVK_TRY(hf_vocab_write(vocab, *w));
    if (!p->vocab_only) LVK_TRY(add_tensors(c, *w));
    gguf_writer_set_progress(*w, p->progress, p->progress_user);
    return gguf_writer_write(*w, out_path);
}

lvk_status convert_hf(const char *dir, const char *out_path, const convert_hf_params *params) {
    if (!dir || !out_path || !params) return status_fail(LVK_ERR_INVALID_ARGUMENT, "convert_hf: NULL argument");
    if (!weight_type_supported(params->out_type))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "cannot convert to %s: choose %s", ggml_type_name(params->out_type),
                        weight_type_names(", ", " or "));
    converter c = {.params = params};
    hf_config config;
    hf_vocab vocab = {0};
    gguf_writer *w = NULL;
    lvk_status s = convert(dir, out_path, params, &c, &config, &vocab, &w);
    gguf_writer_free(w);
    hf_vocab_free(&vocab);
    st_checkpoint_close(c.checkpoint);
    mem_free(c.jobs);
    mem_free(c.row);
    mem_free(c.rope_freqs);
    return s;
}
