/* convert.c — llama2.c checkpoint + tokenizer -> GGUF.
 *
 * The checkpoint is memory-mapped and each tensor is converted only when the
 * writer asks for it, so memory use is one tensor, not the model.
 */
#include "alloc.h"
#include "convert/convert.h"
#include "formats/mapped_file.h"
#include "formats/gguf.h"
#include "formats/gguf_write.h"
#include "formats/quant.h"
#include "status.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fixed by llama2.c's tokenizer and by llama.cpp's conversion. */
enum { TOKEN_UNK = 0, TOKEN_BOS = 1, TOKEN_EOS = 2 };
enum { TYPE_NORMAL = 1, TYPE_UNKNOWN = 2, TYPE_CONTROL = 3, TYPE_BYTE = 6 };

/* ---- checkpoint ------------------------------------------------------------- */

typedef struct config {
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
} config;

#define HEADER_BYTES 28

/* Pointers into the mapped checkpoint, in llama2.c's TransformerWeights order. */
typedef struct weights {
    const float *token_embedding, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3,
        *rms_final, *wcls; /* wcls NULL when shared with the embedding */
} weights;

static lvk_status check_config(const config *c, const char *path) {
    /* the sign of vocab_size only says whether wcls is present */
    int64_t vocab = c->vocab_size < 0 ? -(int64_t)c->vocab_size : c->vocab_size;
    const struct { const char *name; int64_t v, max; } f[] = {
        {"dim", c->dim, 1 << 16},           {"hidden_dim", c->hidden_dim, 1 << 18},
        {"n_layers", c->n_layers, 1 << 12}, {"n_heads", c->n_heads, 1 << 12},
        {"n_kv_heads", c->n_kv_heads, 1 << 12}, {"vocab_size", vocab, 1 << 24},
        {"seq_len", c->seq_len, 1 << 24},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v <= 0 || f[i].v > f[i].max)
            return status_fail(LVK_ERR_FORMAT,
                            "'%s' is not a llama2.c checkpoint: header %s = %lld is not in 1..%lld",
                            path, f[i].name, (long long)f[i].v, (long long)f[i].max);
    if (c->dim % c->n_heads)
        return status_fail(LVK_ERR_FORMAT, "'%s': dim %d is not a multiple of n_heads %d", path,
                        c->dim, c->n_heads);
    if (c->n_heads % c->n_kv_heads)
        return status_fail(LVK_ERR_FORMAT, "'%s': n_heads %d is not a multiple of n_kv_heads %d",
                        path, c->n_heads, c->n_kv_heads);
    if ((c->dim / c->n_heads) % 2)
        return status_fail(LVK_ERR_FORMAT, "'%s': head size %d is odd (RoPE rotates pairs)", path,
                        c->dim / c->n_heads);
    return LVK_OK;
}

/* Validates the header and the file size and points `w` at each tensor. */
static lvk_status read_checkpoint(const mapped_file *m, const char *path, config *c, weights *w) {
    if (m->size < HEADER_BYTES)
        return status_fail(LVK_ERR_FORMAT, "'%s' is too small for a llama2.c checkpoint (%llu bytes)",
                        path, (unsigned long long)m->size);
    memcpy(c, m->data, HEADER_BYTES);
    LVK_TRY(check_config(c, path));
    int shared = c->vocab_size > 0;
    uint64_t dim = c->dim, hidden = c->hidden_dim, L = c->n_layers, vocab = abs(c->vocab_size);
    uint64_t head_size = dim / c->n_heads, kv_dim = head_size * c->n_kv_heads;
    uint64_t n_weights = vocab * dim + 2 * L * dim + 2 * L * dim * dim + 2 * L * kv_dim * dim +
                         3 * L * hidden * dim + dim;
    uint64_t n_freq = c->seq_len * head_size; /* freq_cis_real and _imag, [seq_len][head_size/2] each */
    uint64_t n_wcls = shared ? 0 : vocab * dim;
    uint64_t with_freq = HEADER_BYTES + 4 * (n_weights + n_freq + n_wcls);
    uint64_t without_freq = HEADER_BYTES + 4 * (n_weights + n_wcls);
    if (m->size != with_freq && m->size != without_freq)
        return status_fail(LVK_ERR_FORMAT,
                        "'%s' is %llu bytes, but its header (dim %d, hidden_dim %d, n_layers %d, "
                        "n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d) implies %llu bytes "
                        "(%llu without the RoPE tables): truncated or not a llama2.c checkpoint",
                        path, (unsigned long long)m->size, c->dim, c->hidden_dim, c->n_layers,
                        c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len,
                        (unsigned long long)with_freq, (unsigned long long)without_freq);
    const float *p = (const float *)(m->data + HEADER_BYTES);
    w->token_embedding = p; p += vocab * dim;
    w->rms_att = p;         p += L * dim;
    w->wq = p;              p += L * dim * dim;
    w->wk = p;              p += L * kv_dim * dim;
    w->wv = p;              p += L * kv_dim * dim;
    w->wo = p;              p += L * dim * dim;
    w->rms_ffn = p;         p += L * dim;
    w->w1 = p;              p += L * hidden * dim;
    w->w2 = p;              p += L * dim * hidden;
    w->w3 = p;              p += L * hidden * dim;
    w->rms_final = p;       p += dim;
    if (m->size == with_freq) p += n_freq;
    w->wcls = shared ? NULL : p;
    return LVK_OK;
}

/* ---- tokenizer ------------------------------------------------------------- */

typedef struct vocab_data {
    char **texts; /* into `arena` */
    char *arena;
    float *scores;
    int32_t *types;
} vocab_data;

static void vocab_free(vocab_data *v) {
    mem_free(v->texts);
    mem_free(v->arena);
    mem_free(v->scores);
    mem_free(v->types);
}

/* "<0xNN>": llama.cpp gives these the byte type */
static int is_byte_token(const uint8_t *s, int32_t len) {
    return len == 6 && !memcmp(s, "<0x", 3) && isxdigit(s[3]) && isxdigit(s[4]) && s[5] == '>';
}

/* Reads llama2.c's tokenizer: int32 max_token_length, then per token float32
 * score, int32 length, bytes. Texts become llama.cpp's: '▁' for spaces, and
 * the special tokens' plain names. */
static lvk_status read_vocab(const mapped_file *m, const char *path, int32_t n_vocab, vocab_data *v) {
    if (m->size < 4)
        return status_fail(LVK_ERR_FORMAT, "'%s' is too small for a llama2.c tokenizer", path);
    /* First pass: count and bound-check the records, and size the texts. */
    uint64_t pos = 4, count = 0, text_bytes = 0;
    while (pos < m->size) {
        int32_t len;
        if (m->size - pos < 8)
            return status_fail(LVK_ERR_FORMAT, "'%s': token %llu is truncated", path,
                            (unsigned long long)count);
        memcpy(&len, m->data + pos + 4, 4);
        if (len < 0 || (uint64_t)len > m->size - pos - 8)
            return status_fail(LVK_ERR_FORMAT, "'%s': token %llu has length %d, past the end of the file",
                            path, (unsigned long long)count, len);
        if (memchr(m->data + pos + 8, 0, (size_t)len))
            return status_fail(LVK_ERR_FORMAT, "'%s': token %llu contains a NUL byte", path,
                            (unsigned long long)count);
        text_bytes += 3 * (uint64_t)len + 1; /* each space may grow to 3 bytes */
        pos += 8 + (uint64_t)len;
        count++;
    }
    if (count != (uint64_t)n_vocab)
        return status_fail(LVK_ERR_FORMAT, "'%s' has %llu tokens but the checkpoint's vocab_size is %d",
                        path, (unsigned long long)count, n_vocab);

    v->texts = mem_malloc(count * sizeof *v->texts);
    v->arena = mem_malloc(text_bytes + sizeof "<unk>" + sizeof "<s>" + sizeof "</s>");
    v->scores = mem_malloc(count * sizeof *v->scores);
    v->types = mem_malloc(count * sizeof *v->types);
    if (!v->texts || !v->arena || !v->scores || !v->types)
        return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory reading '%s'", path);
    char *out = v->arena;
    pos = 4;
    for (int32_t id = 0; id < n_vocab; id++) {
        int32_t len;
        memcpy(&v->scores[id], m->data + pos, 4);
        memcpy(&len, m->data + pos + 4, 4);
        const uint8_t *s = m->data + pos + 8;
        pos += 8 + (uint64_t)len;
        v->texts[id] = out;
        /* llama2.c stores BOS/EOS as "\n<s>\n" and "\n</s>\n" */
        const char *special = id == TOKEN_UNK ? "<unk>" : id == TOKEN_BOS ? "<s>"
                            : id == TOKEN_EOS ? "</s>" : NULL;
        if (special) {
            strcpy(out, special);
            out += strlen(special) + 1;
            v->types[id] = id == TOKEN_UNK ? TYPE_UNKNOWN : TYPE_CONTROL;
            continue;
        }
        v->types[id] = len == 0 ? TYPE_CONTROL : is_byte_token(s, len) ? TYPE_BYTE : TYPE_NORMAL;
        for (int32_t i = 0; i < len; i++) {
            if (s[i] == ' ') {
                memcpy(out, "\xe2\x96\x81", 3); /* U+2581, SentencePiece's space */
                out += 3;
            } else {
                *out++ = (char)s[i];
            }
        }
        *out++ = 0;
    }
    return LVK_OK;
}

/* ---- output ------------------------------------------------------------------ */

/* One tensor to convert when the writer asks for its bytes. */
typedef struct conv_tensor {
    const float *src;
    uint64_t rows, cols;
    uint32_t type;
} conv_tensor;

static lvk_status fill_tensor(void *user, void *dst, uint64_t first_row, uint64_t n_rows) {
    const conv_tensor *t = user;
    uint64_t row_bytes = t->cols / ggml_block_elems(t->type) * ggml_block_bytes(t->type);
    for (uint64_t r = 0; r < n_rows; r++)
        quantize_row(t->type, t->src + (first_row + r) * t->cols, (uint8_t *)dst + r * row_bytes, t->cols);
    return LVK_OK;
}

/* Adds a [rows][cols] matrix (ne = {cols, rows}) in `type`, or a norm vector
 * (rows == 0) in F32. */
static lvk_status add_weight(gguf_writer *g, conv_tensor *job, const char *name, const float *src,
                             uint64_t rows, uint64_t cols, uint32_t type) {
    /* stories260K's hidden_dim 172 keeps ffn_down F16; for K-quants its every
     * matrix, 64 wide */
    *job = (conv_tensor){src, rows ? rows : 1, cols, rows ? quant_row_type(type, cols) : GGML_F32};
    uint64_t ne[2] = {cols, rows};
    return gguf_writer_add_tensor_fill(g, name, job->type, rows ? 2 : 1, ne, fill_tensor, job);
}

static lvk_status add_tensors(gguf_writer *g, conv_tensor *jobs, const config *c, const weights *w,
                              uint32_t type) {
    uint64_t dim = c->dim, hidden = c->hidden_dim, vocab = abs(c->vocab_size);
    uint64_t kv_dim = dim / c->n_heads * c->n_kv_heads;
    LVK_TRY(add_weight(g, jobs++, "token_embd.weight", w->token_embedding, vocab, dim, type));
    LVK_TRY(add_weight(g, jobs++, "output_norm.weight", w->rms_final, 0, dim, type));
    if (w->wcls) LVK_TRY(add_weight(g, jobs++, "output.weight", w->wcls, vocab, dim, type));
    for (uint64_t l = 0; l < (uint64_t)c->n_layers; l++) {
        const struct { const char *name; const float *src; uint64_t rows, cols; } t[] = {
            {"attn_norm", w->rms_att + l * dim, 0, dim},
            {"attn_q", w->wq + l * dim * dim, dim, dim},
            {"attn_k", w->wk + l * kv_dim * dim, kv_dim, dim},
            {"attn_v", w->wv + l * kv_dim * dim, kv_dim, dim},
            {"attn_output", w->wo + l * dim * dim, dim, dim},
            {"ffn_norm", w->rms_ffn + l * dim, 0, dim},
            {"ffn_gate", w->w1 + l * hidden * dim, hidden, dim},
            {"ffn_down", w->w2 + l * dim * hidden, dim, hidden},
            {"ffn_up", w->w3 + l * hidden * dim, hidden, dim},
        };
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%llu.%s.weight", (unsigned long long)l, t[i].name);
            LVK_TRY(add_weight(g, jobs++, name, t[i].src, t[i].rows, t[i].cols, type));
        }
    }
    return LVK_OK;
}

static lvk_status add_metadata(gguf_writer *g, const config *c, const vocab_data *v, const char *name) {
    uint32_t n_vocab = (uint32_t)abs(c->vocab_size);
    LVK_TRY(gguf_writer_add_str(g, "general.architecture", "llama"));
    LVK_TRY(gguf_writer_add_str(g, "general.name", name));
    LVK_TRY(gguf_writer_add_u32(g, "llama.context_length", (uint32_t)c->seq_len));
    LVK_TRY(gguf_writer_add_u32(g, "llama.embedding_length", (uint32_t)c->dim));
    LVK_TRY(gguf_writer_add_u32(g, "llama.block_count", (uint32_t)c->n_layers));
    LVK_TRY(gguf_writer_add_u32(g, "llama.feed_forward_length", (uint32_t)c->hidden_dim));
    LVK_TRY(gguf_writer_add_u32(g, "llama.attention.head_count", (uint32_t)c->n_heads));
    LVK_TRY(gguf_writer_add_u32(g, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads));
    LVK_TRY(gguf_writer_add_u32(g, "llama.rope.dimension_count", (uint32_t)(c->dim / c->n_heads)));
    LVK_TRY(gguf_writer_add_f32(g, "llama.attention.layer_norm_rms_epsilon", 1e-5f));
    LVK_TRY(gguf_writer_add_str(g, "tokenizer.ggml.model", "llama"));
    LVK_TRY(gguf_writer_add_str_arr(g, "tokenizer.ggml.tokens", (const char *const *)v->texts, n_vocab));
    LVK_TRY(gguf_writer_add_f32_arr(g, "tokenizer.ggml.scores", v->scores, n_vocab));
    LVK_TRY(gguf_writer_add_i32_arr(g, "tokenizer.ggml.token_type", v->types, n_vocab));
    LVK_TRY(gguf_writer_add_u32(g, "tokenizer.ggml.bos_token_id", TOKEN_BOS));
    LVK_TRY(gguf_writer_add_u32(g, "tokenizer.ggml.eos_token_id", TOKEN_EOS));
    return gguf_writer_add_u32(g, "tokenizer.ggml.unknown_token_id", TOKEN_UNK);
}

/* general.name: the checkpoint's file name without directory or extension. */
static void model_name(const char *path, char *out, size_t size) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), base);
}

lvk_status convert_llama2c(const char *checkpoint_path, const char *tokenizer_path, const char *out_path,
                           uint32_t out_type, lvk_convert_progress_fn progress, void *progress_user) {
    if (!checkpoint_path || !tokenizer_path || !out_path)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "convert_llama2c: NULL path");
    if (!weight_type_supported(out_type))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "cannot convert to %s: choose %s", ggml_type_name(out_type),
                        weight_type_names(", ", " or "));
    mapped_file ckpt = {0}, tok = {0};
    vocab_data v = {0};
    conv_tensor *jobs = NULL;
    gguf_writer *g = NULL;
    config c = {0};
    weights w = {0};
    char name[128];
    lvk_status s = map_file(checkpoint_path, &ckpt);
    if (s == LVK_OK) s = read_checkpoint(&ckpt, checkpoint_path, &c, &w);
    if (s == LVK_OK) s = map_file(tokenizer_path, &tok);
    if (s == LVK_OK) s = read_vocab(&tok, tokenizer_path, abs(c.vocab_size), &v);
    if (s == LVK_OK) {
        jobs = mem_calloc(3 + 9 * (size_t)c.n_layers, sizeof *jobs);
        if (!jobs) s = status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory converting '%s'", checkpoint_path);
    }
    if (s == LVK_OK && (mapped_file_is(&ckpt, out_path) || mapped_file_is(&tok, out_path)))
        s = status_fail(LVK_ERR_INVALID_ARGUMENT, "output '%s' is one of the input files", out_path);
    if (s == LVK_OK) s = gguf_writer_create(&g);
    if (s == LVK_OK) {
        model_name(checkpoint_path, name, sizeof name);
        s = add_metadata(g, &c, &v, name);
    }
    if (s == LVK_OK) s = add_tensors(g, jobs, &c, &w, out_type);
    if (s == LVK_OK) gguf_writer_set_progress(g, progress, progress_user);
    if (s == LVK_OK) s = gguf_writer_write(g, out_path);
    gguf_writer_free(g);
    mem_free(jobs);
    vocab_free(&v);
    unmap_file(&tok);
    unmap_file(&ckpt);
    return s;
}
