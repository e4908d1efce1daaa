/* synth.c — random-weight LLaMA GGUF files. Each tensor is generated when
 * the writer asks for it, from its own seed, so a 2 GB model needs memory
 * for one tensor only. */
#include "synth.h"
#include "formats/gguf.h"
#include "formats/gguf_write.h"
#include "formats/quant.h"
#include "status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SPECIAL 3
#define FIRST_NORMAL (N_SPECIAL + 256)

synth_params synth_default_params(void) {
    return (synth_params){.n_layers = 2, .n_embd = 64, .n_heads = 4, .n_kv_heads = 2, .n_ff = 128,
                          .n_vocab = 300, .n_ctx = 128, .weight_type = GGML_F32, .tied = 1,
                          .mixed_type = -1, .output_type = -1, .rope_base = 10000.0f, .seed = 1};
}

uint64_t synth_random(uint64_t *state) { /* splitmix64 */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

float synth_uniform(uint64_t *state) { return (float)(synth_random(state) >> 40) * (2.0f / (1 << 24)) - 1.0f; }

void synth_token_text(uint32_t id, char *out, size_t size) {
    if (id < N_SPECIAL) {
        static const char *special[] = {"<unk>", "<s>", "</s>"};
        snprintf(out, size, "%s", special[id]);
        return;
    }
    if (id < FIRST_NORMAL) {
        snprintf(out, size, "<0x%02X>", id - N_SPECIAL);
        return;
    }
    /* bijective base 27: digit 0 is "▁", 1..26 are "a".."z" */
    int digits[16], n = 0;
    for (uint64_t k = (uint64_t)(id - FIRST_NORMAL) + 1; k; k = (k - 1) / 27) digits[n++] = (int)((k - 1) % 27);
    size_t len = 0;
    while (n-- > 0 && len + 4 <= size) {
        if (digits[n]) {
            out[len++] = (char)('a' + digits[n] - 1);
        } else {
            memcpy(out + len, "\xe2\x96\x81", 3);
            len += 3;
        }
    }
    out[len] = 0;
}

/* One tensor, values uniform in center ± scale. */
typedef struct synth_tensor {
    uint64_t seed, rows, cols;
    uint32_t type;
    float center, scale;
} synth_tensor;

static lvk_status fill_tensor(void *user, void *dst, uint64_t first_row, uint64_t n_rows) {
    const synth_tensor *t = user;
    float *row = malloc(t->cols * sizeof *row);
    if (!row) return status_fail(LVK_ERR_OUT_OF_MEMORY, "synth: out of memory");
    /* each value takes one step of splitmix64, whose state moves by a constant:
     * the rows before first_row are skipped in one addition */
    uint64_t state = t->seed + first_row * t->cols * 0x9e3779b97f4a7c15ull;
    uint64_t row_bytes = t->cols / ggml_block_elems(t->type) * ggml_block_bytes(t->type);
    for (uint64_t r = 0; r < n_rows; r++) {
        for (uint64_t c = 0; c < t->cols; c++) row[c] = t->center + t->scale * synth_uniform(&state);
        quantize_row(t->type, row, (uint8_t *)dst + r * row_bytes, t->cols);
    }
    free(row);
    return LVK_OK;
}

static uint32_t output_type(const synth_params *p) {
    return p->output_type < 0 ? p->weight_type : (uint32_t)p->output_type;
}

/* Adds the next tensor, jobs[*index]: a [rows][cols] matrix in `type`, or
 * (rows == 0) an F32 vector uniform in center ± scale. Each has its own seed. */
static lvk_status add_tensor(gguf_writer *g, synth_tensor *jobs, uint64_t *index, const synth_params *p,
                             const char *name, uint64_t rows, uint64_t cols, uint32_t type, float center,
                             float scale) {
    synth_tensor *t = &jobs[*index];
    uint64_t state = p->seed ^ (*index * 0xd1b54a32d192ed03ull);
    (*index)++;
    *t = (synth_tensor){.seed = synth_random(&state), .rows = rows ? rows : 1, .cols = cols,
                        .type = rows ? type : GGML_F32, .center = center, .scale = scale};
    uint64_t ne[2] = {cols, rows};
    return gguf_writer_add_tensor_fill(g, name, t->type, rows ? 2 : 1, ne, fill_tensor, t);
}

/* A matrix uniform in ±1/sqrt(cols), or (rows == 0) a norm vector, 1 ± 0.1. */
static lvk_status add_weight(gguf_writer *g, synth_tensor *jobs, uint64_t *index, const synth_params *p,
                             const char *name, uint64_t rows, uint64_t cols, uint32_t type) {
    return add_tensor(g, jobs, index, p, name, rows, cols, type, rows ? 0.0f : 1.0f,
                      rows ? 1.0f / sqrtf((float)cols) : 0.1f);
}

static const char *arch_of(const synth_params *p) { return p->arch ? p->arch : "llama"; }
static int has_biases(const synth_params *p) { return !strcmp(arch_of(p), "qwen2"); }
static int64_t head_dim_of(const synth_params *p) { return p->head_dim ? p->head_dim : p->n_embd / p->n_heads; }

static lvk_status add_tensors(gguf_writer *g, synth_tensor *jobs, const synth_params *p) {
    uint64_t embd = p->n_embd, ff = p->n_ff, vocab = p->n_vocab, hd = (uint64_t)head_dim_of(p);
    uint64_t q_dim = hd * (uint64_t)p->n_heads, kv_dim = hd * (uint64_t)p->n_kv_heads, i = 0;
    uint32_t w = p->weight_type;
    LVK_TRY(add_weight(g, jobs, &i, p, "token_embd.weight", vocab, embd, w));
    if (p->rope_freqs) /* factors from 1 (the fastest pairs) to 8, as Llama 3.1's grow */
        LVK_TRY(add_tensor(g, jobs, &i, p, "rope_freqs.weight", 0, hd / 2, GGML_F32, 4.5f, 3.5f));
    LVK_TRY(add_weight(g, jobs, &i, p, "output_norm.weight", 0, embd, GGML_F32));
    if (!p->tied) LVK_TRY(add_weight(g, jobs, &i, p, "output.weight", vocab, embd, output_type(p)));
    for (int l = 0; l < p->n_layers; l++) {
        uint32_t m = p->mixed_type >= 0 && l % 2 ? (uint32_t)p->mixed_type : w;
        const struct { const char *name; uint32_t type; uint64_t rows, cols; } t[] = {
            {"attn_norm", w, 0, embd},   {"attn_q", w, q_dim, embd},      {"attn_k", w, kv_dim, embd},
            {"attn_v", m, kv_dim, embd}, {"attn_output", w, embd, q_dim}, {"ffn_norm", w, 0, embd},
            {"ffn_gate", w, ff, embd},   {"ffn_down", m, embd, ff},      {"ffn_up", m, ff, embd},
        };
        for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, t[k].name);
            LVK_TRY(add_weight(g, jobs, &i, p, name, t[k].rows, t[k].cols, t[k].type));
        }
        if (!has_biases(p)) continue;
        const struct { const char *name; uint64_t n; } b[] = {{"attn_q", q_dim}, {"attn_k", kv_dim}, {"attn_v", kv_dim}};
        for (size_t k = 0; k < sizeof b / sizeof b[0]; k++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.bias", l, b[k].name);
            LVK_TRY(add_tensor(g, jobs, &i, p, name, 0, b[k].n, GGML_F32, 0.0f, 0.5f));
        }
    }
    return LVK_OK;
}

/* Token texts, scores and types; `texts` point into `arena`. */
typedef struct synth_vocab {
    char **texts, *arena;
    float *scores;
    int32_t *types;
} synth_vocab;

#define MAX_TEXT 32

static lvk_status make_vocab(const synth_params *p, synth_vocab *v) {
    uint32_t n = (uint32_t)p->n_vocab;
    v->texts = malloc(n * sizeof *v->texts);
    v->arena = malloc((size_t)n * MAX_TEXT);
    v->scores = malloc(n * sizeof *v->scores);
    v->types = malloc(n * sizeof *v->types);
    if (!v->texts || !v->arena || !v->scores || !v->types)
        return status_fail(LVK_ERR_OUT_OF_MEMORY, "synth: out of memory");
    for (uint32_t id = 0; id < n; id++) {
        v->texts[id] = v->arena + (size_t)id * MAX_TEXT;
        synth_token_text(id, v->texts[id], MAX_TEXT);
        v->types[id] = id == 0 ? 2 : id < N_SPECIAL ? 3 : id < FIRST_NORMAL ? 6 : 1;
        v->scores[id] = id < FIRST_NORMAL ? 0.0f : -(float)(id - FIRST_NORMAL);
    }
    for (int i = 0; i < p->n_controls; i++) {
        const synth_token *c = &p->controls[i];
        if (c->id < 0 || c->id >= p->n_vocab || strlen(c->text) >= MAX_TEXT)
            return status_fail(LVK_ERR_INVALID_ARGUMENT, "synth: control token %d '%s' does not fit", c->id, c->text);
        snprintf(v->texts[c->id], MAX_TEXT, "%s", c->text);
        v->types[c->id] = 3;
        v->scores[c->id] = 0.0f;
    }
    return LVK_OK;
}

/* The metadata key "<arch>.<key>". */
static const char *key(const synth_params *p, const char *k) {
    static _Thread_local char buf[128];
    snprintf(buf, sizeof buf, "%s.%s", arch_of(p), k);
    return buf;
}

static lvk_status add_metadata(gguf_writer *g, const synth_params *p, const synth_vocab *v) {
    LVK_TRY(gguf_writer_add_str(g, "general.architecture", arch_of(p)));
    LVK_TRY(gguf_writer_add_str(g, "general.name", "synthetic"));
    LVK_TRY(gguf_writer_add_u32(g, key(p, "context_length"), (uint32_t)p->n_ctx));
    LVK_TRY(gguf_writer_add_u32(g, key(p, "embedding_length"), (uint32_t)p->n_embd));
    LVK_TRY(gguf_writer_add_u32(g, key(p, "block_count"), (uint32_t)p->n_layers));
    LVK_TRY(gguf_writer_add_u32(g, key(p, "feed_forward_length"), (uint32_t)p->n_ff));
    LVK_TRY(gguf_writer_add_u32(g, key(p, "attention.head_count"), (uint32_t)p->n_heads));
    LVK_TRY(gguf_writer_add_u32(g, key(p, "attention.head_count_kv"), (uint32_t)p->n_kv_heads));
    if (p->head_dim) {
        LVK_TRY(gguf_writer_add_u32(g, key(p, "attention.key_length"), (uint32_t)p->head_dim));
        LVK_TRY(gguf_writer_add_u32(g, key(p, "attention.value_length"), (uint32_t)p->head_dim));
    }
    LVK_TRY(gguf_writer_add_u32(g, key(p, "rope.dimension_count"), (uint32_t)head_dim_of(p)));
    LVK_TRY(gguf_writer_add_f32(g, key(p, "rope.freq_base"), p->rope_base));
    if (p->rope_scale > 1) {
        LVK_TRY(gguf_writer_add_str(g, key(p, "rope.scaling.type"), "linear"));
        LVK_TRY(gguf_writer_add_f32(g, key(p, "rope.scaling.factor"), p->rope_scale));
    }
    LVK_TRY(gguf_writer_add_f32(g, key(p, "attention.layer_norm_rms_epsilon"), 1e-5f));
    LVK_TRY(gguf_writer_add_str(g, "tokenizer.ggml.model", "llama"));
    LVK_TRY(gguf_writer_add_str_arr(g, "tokenizer.ggml.tokens", (const char *const *)v->texts,
                                    (uint64_t)p->n_vocab));
    LVK_TRY(gguf_writer_add_f32_arr(g, "tokenizer.ggml.scores", v->scores, (uint64_t)p->n_vocab));
    LVK_TRY(gguf_writer_add_i32_arr(g, "tokenizer.ggml.token_type", v->types, (uint64_t)p->n_vocab));
    LVK_TRY(gguf_writer_add_u32(g, "tokenizer.ggml.bos_token_id", 1));
    LVK_TRY(gguf_writer_add_u32(g, "tokenizer.ggml.eos_token_id", 2));
    if (p->chat_template) LVK_TRY(gguf_writer_add_str(g, "tokenizer.chat_template", p->chat_template));
    return gguf_writer_add_u32(g, "tokenizer.ggml.unknown_token_id", 0);
}

static lvk_status check_params(const synth_params *p) {
    if (p->n_layers < 1 || p->n_embd < 2 || p->n_heads < 1 || p->n_kv_heads < 1 || p->n_ff < 1 ||
        p->n_ctx < 1 || p->n_vocab < FIRST_NORMAL || p->n_vocab > 1 << 24 || !(p->rope_base > 0))
        return status_fail(LVK_ERR_INVALID_ARGUMENT,
                        "synth: sizes must be positive and n_vocab at least %d", FIRST_NORMAL);
    if ((!p->head_dim && p->n_embd % p->n_heads) || p->n_heads % p->n_kv_heads || head_dim_of(p) % 2)
        return status_fail(LVK_ERR_INVALID_ARGUMENT,
                        "synth: n_embd %d, n_heads %d, n_kv_heads %d, head_dim %d do not give an even head size "
                        "shared by whole groups of heads", p->n_embd, p->n_heads, p->n_kv_heads, p->head_dim);
    if (strcmp(arch_of(p), "llama") != 0 && strcmp(arch_of(p), "qwen2") != 0)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "synth: architecture '%s' (llama or qwen2)", arch_of(p));
    uint32_t t = p->weight_type, o = output_type(p);
    if (!weight_type_supported(t) || !weight_type_supported(o))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "synth: weight type %s or output type %s is not one LiteVK runs",
                        ggml_type_name(t), ggml_type_name(o));
    if ((p->n_embd % ggml_block_elems(t)) || (p->n_ff % ggml_block_elems(t)))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "synth: %s needs n_embd and n_ff multiples of %u",
                        ggml_type_name(t), ggml_block_elems(t));
    if (p->n_embd % ggml_block_elems(o))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "synth: output type %s needs n_embd a multiple of %u",
                        ggml_type_name(o), ggml_block_elems(o));
    if (p->mixed_type >= 0) {
        uint32_t m = (uint32_t)p->mixed_type;
        if (!weight_type_supported(m) || p->n_embd % ggml_block_elems(m) || p->n_ff % ggml_block_elems(m))
            return status_fail(LVK_ERR_INVALID_ARGUMENT, "synth: mixed type %s does not fit n_embd and n_ff",
                            ggml_type_name(m));
    }
    return LVK_OK;
}

lvk_status synth_llama_gguf(const synth_params *p, const char *path) {
    if (!p || !path) return status_fail(LVK_ERR_INVALID_ARGUMENT, "synth_llama_gguf: NULL argument");
    LVK_TRY(check_params(p));
    synth_vocab v = {0};
    gguf_writer *g = NULL;
    synth_tensor *jobs = calloc(4 + 12 * (size_t)p->n_layers, sizeof *jobs);
    lvk_status s = jobs ? LVK_OK : status_fail(LVK_ERR_OUT_OF_MEMORY, "synth: out of memory");
    if (s == LVK_OK) s = make_vocab(p, &v);
    if (s == LVK_OK) s = gguf_writer_create(&g);
    if (s == LVK_OK) s = add_metadata(g, p, &v);
    if (s == LVK_OK) s = add_tensors(g, jobs, p);
    if (s == LVK_OK) s = gguf_writer_write(g, path);
    gguf_writer_free(g);
    free(jobs);
    free(v.texts);
    free(v.arena);
    free(v.scores);
    free(v.types);
    return s;
}
