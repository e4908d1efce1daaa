/* reference.c — the LLaMA forward pass in plain C, one token at a time. */
#include "alloc.h"
#include "forward/reference.h"
#include "formats/quant.h"
#include "status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ref_state {
    const host_model *m;
    int n_ctx;
    float *x;       /* residual stream [n_embd] */
    float *xb;      /* normalised input [n_embd] */
    float *xb2;     /* [n_embd] */
    float *hb, *hb2;/* FFN hidden [n_ff] */
    float *q;       /* [q_dim] */
    float *att_out; /* attention's output, the heads side by side [q_dim] */
    float *att;     /* attention scores [n_ctx] */
    float *logits;  /* [n_vocab] */
    float *row;     /* one dequantised weight row [max(n_embd, n_ff)] */
    float *key_cache, *value_cache; /* [n_layers][n_ctx][kv_dim] */
};

void ref_rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = 1.0f / sqrtf((float)(ss / n) + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

void ref_matvec(float *y, const weight_tensor *W, const float *x, float *row_buf) {
    uint64_t row_bytes = W->n_bytes / W->rows;
    for (uint64_t r = 0; r < W->rows; r++) {
        dequantize_row(W->type, (const uint8_t *)W->data + r * row_bytes, row_buf, W->cols);
        double acc = 0;
        for (uint64_t k = 0; k < W->cols; k++) acc += (double)row_buf[k] * x[k];
        y[r] = (float)acc;
    }
}

void ref_rope(const host_model *m, float *v, int n_heads, int pos) {
    const model_hparams *hp = &m->hp;
    const int half = hp->rope_dim / 2;
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < half; i++) {
            float angle = rope_angle(hp, pos, i), c = cosf(angle), s = sinf(angle);
            /* pair i: dimensions (2i, 2i+1) in LLaMA's order, (i, i + rope_dim/2) in NeoX's */
            float *a = v + h * hp->head_dim + (hp->arch->rope_neox ? i : 2 * i);
            float *b = a + (hp->arch->rope_neox ? half : 1);
            float x = *a, y = *b;
            *a = x * c - y * s;
            *b = x * s + y * c;
        }
}

/* y += bias, where the model has one */
static void add_bias(float *y, const weight_tensor *bias) {
    if (!bias->data) return;
    const float *b = bias->data;
    for (uint64_t i = 0; i < bias->cols; i++) y[i] += b[i];
}

void ref_softmax(float *x, int n) {
    float max = x[0];
    for (int i = 1; i < n; i++) max = fmaxf(max, x[i]);
    double sum = 0;
    for (int i = 0; i < n; i++) { x[i] = expf(x[i] - max); sum += x[i]; }
    for (int i = 0; i < n; i++) x[i] = (float)(x[i] / sum);
}

void ref_attention(float *out, const float *q, const float *keys, const float *values, int n_pos, int kv_stride,
                   int head_dim, float *scores) {
    for (int t = 0; t < n_pos; t++) {
        const float *k = keys + (size_t)t * kv_stride;
        double score = 0;
        for (int i = 0; i < head_dim; i++) score += (double)q[i] * k[i];
        scores[t] = (float)(score / sqrt((double)head_dim));
    }
    ref_softmax(scores, n_pos);
    memset(out, 0, (size_t)head_dim * sizeof *out);
    for (int t = 0; t < n_pos; t++) {
        const float *v = values + (size_t)t * kv_stride;
        for (int i = 0; i < head_dim; i++) out[i] += scores[t] * v[i];
    }
}

void ref_swiglu(float *gate, const float *up, int n) {
    for (int i = 0; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

lvk_status ref_create(const host_model *m, int n_ctx, ref_state **out) {
    if (!m || !out || n_ctx <= 0) return status_fail(LVK_ERR_INVALID_ARGUMENT, "ref_create: bad argument");
    const model_hparams *hp = &m->hp;
    ref_state *s = mem_calloc(1, sizeof *s);
    if (!s) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
    s->m = m;
    s->n_ctx = n_ctx;
    size_t d = hp->n_embd, ff = hp->n_ff, qd = (size_t)hp_q_dim(hp), kv = (size_t)hp_kv_dim(hp);
    size_t cache = (size_t)hp->n_layers * n_ctx * kv, longest_row = d > ff ? d : ff;
    s->x = mem_calloc(d, 4); s->xb = mem_calloc(d, 4); s->xb2 = mem_calloc(d, 4);
    s->q = mem_calloc(qd, 4); s->att_out = mem_calloc(qd, 4);
    s->hb = mem_calloc(ff, 4); s->hb2 = mem_calloc(ff, 4);
    s->att = mem_calloc((size_t)n_ctx, 4);
    s->logits = mem_calloc((size_t)hp->n_vocab, 4);
    s->row = mem_calloc(longest_row > qd ? longest_row : qd, 4);
    s->key_cache = mem_calloc(cache, 4);
    s->value_cache = mem_calloc(cache, 4);
    if (!s->x || !s->xb || !s->xb2 || !s->q || !s->att_out || !s->hb || !s->hb2 || !s->att || !s->logits ||
        !s->row || !s->key_cache || !s->value_cache) {
        ref_free(s);
        return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory for the reference KV cache");
    }
    *out = s;
    return LVK_OK;
}

void ref_free(ref_state *s) {
    if (!s) return;
    mem_free(s->x); mem_free(s->xb); mem_free(s->xb2); mem_free(s->q); mem_free(s->att_out);
    mem_free(s->hb); mem_free(s->hb2);
    mem_free(s->att); mem_free(s->logits); mem_free(s->row); mem_free(s->key_cache); mem_free(s->value_cache);
    mem_free(s);
}

/* logits = W_out rmsnorm(x): the exit head, the same for every exit and the final block */
static void head(ref_state *s, float *logits) {
    const host_model *m = s->m;
    ref_rmsnorm(s->xb, s->x, m->output_norm.data, m->hp.n_embd, m->hp.rms_eps);
    ref_matvec(logits, &m->output, s->xb, s->row);
}

/* The KV cache holds f16, as the GPU's does (half the bytes attention reads). */
static void round_to_f16(float *v, int n) {
    for (int i = 0; i < n; i++) v[i] = f16_to_f32(f32_to_f16(v[i]));
}

lvk_status ref_forward(ref_state *s, int token, int pos, const float **logits) {
    LVK_TRY(ref_forward_heads(s, token, pos, s->m->hp.n_layers, NULL, 0, NULL));
    head(s, s->logits);
    *logits = s->logits;
    return LVK_OK;
}

lvk_status ref_forward_heads(ref_state *s, int token, int pos, int n_blocks, const int *head_layers, int n_heads,
                             float *head_logits) {
    const host_model *m = s->m;
    const model_hparams *hp = &m->hp;
    if (token < 0 || token >= hp->n_vocab)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "token %d is outside the vocabulary", token);
    if (pos < 0 || pos >= s->n_ctx)
        return status_fail(LVK_ERR_CONTEXT_FULL, "position %d is outside the context of %d", pos, s->n_ctx);
    int d = hp->n_embd, kv_dim = hp_kv_dim(hp), hd = hp->head_dim;
    int group = hp->n_heads / hp->n_kv_heads;

    /* x = embedding row of the token */
    uint64_t row_bytes = m->tok_embd.n_bytes / m->tok_embd.rows;
    dequantize_row(m->tok_embd.type, (const uint8_t *)m->tok_embd.data + token * row_bytes, s->x, d);

    if (n_blocks < 0 || n_blocks > hp->n_layers)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "%d blocks of %d", n_blocks, hp->n_layers);
    int next_head = 0;
    for (int l = 0; l < n_blocks; l++) {
        const layer_weights *L = &m->layers[l];
        float *k = s->key_cache + ((size_t)l * s->n_ctx + pos) * kv_dim;
        float *v = s->value_cache + ((size_t)l * s->n_ctx + pos) * kv_dim;

        /* attention: xb = rmsnorm(x); q,k,v = W xb (+ b); rope(q,k) */
        ref_rmsnorm(s->xb, s->x, L->attn_norm.data, d, hp->rms_eps);
        ref_matvec(s->q, &L->wq, s->xb, s->row);
        ref_matvec(k, &L->wk, s->xb, s->row);
        ref_matvec(v, &L->wv, s->xb, s->row);
        add_bias(s->q, &L->bq);
        add_bias(k, &L->bk);
        add_bias(v, &L->bv);
        ref_rope(m, s->q, hp->n_heads, pos);
        ref_rope(m, k, hp->n_kv_heads, pos);
        round_to_f16(k, kv_dim);
        round_to_f16(v, kv_dim);

        /* each head attends over positions 0..pos of its key/value head */
        for (int h = 0; h < hp->n_heads; h++) {
            const size_t kv_head = (size_t)l * s->n_ctx * kv_dim + (size_t)(h / group) * hd;
            ref_attention(s->att_out + h * hd, s->q + h * hd, s->key_cache + kv_head, s->value_cache + kv_head,
                          pos + 1, kv_dim, hd, s->att);
        }
        /* x += Wo att_out */
        ref_matvec(s->xb2, &L->wo, s->att_out, s->row);
        for (int i = 0; i < d; i++) s->x[i] += s->xb2[i];

        /* feed-forward: x += W_down (silu(W_gate xb) * W_up xb), xb = rmsnorm(x) */
        ref_rmsnorm(s->xb, s->x, L->ffn_norm.data, d, hp->rms_eps);
        ref_matvec(s->hb, &L->w_gate, s->xb, s->row);
        ref_matvec(s->hb2, &L->w_up, s->xb, s->row);
        ref_swiglu(s->hb, s->hb2, hp->n_ff);
        ref_matvec(s->xb2, &L->w_down, s->hb, s->row);
        for (int i = 0; i < d; i++) s->x[i] += s->xb2[i];

        if (next_head < n_heads && head_layers[next_head] == l + 1) {
            head(s, head_logits + (size_t)next_head * hp->n_vocab);
            next_head++;
        }
    }
    return LVK_OK;
}

void ref_propagate_kv(ref_state *s, int pos, int from_block) {
    const host_model *m = s->m;
    const model_hparams *hp = &m->hp;
    int kv_dim = hp_kv_dim(hp);
    for (int l = from_block; l < hp->n_layers; l++) {
        float *k = s->key_cache + ((size_t)l * s->n_ctx + pos) * kv_dim;
        float *v = s->value_cache + ((size_t)l * s->n_ctx + pos) * kv_dim;
        ref_rmsnorm(s->xb, s->x, m->layers[l].attn_norm.data, hp->n_embd, hp->rms_eps);
        ref_matvec(k, &m->layers[l].wk, s->xb, s->row);
        ref_matvec(v, &m->layers[l].wv, s->xb, s->row);
        add_bias(k, &m->layers[l].bk);
        add_bias(v, &m->layers[l].bv);
        ref_rope(m, k, hp->n_kv_heads, pos);
        round_to_f16(k, kv_dim);
        round_to_f16(v, kv_dim);
    }
}

const float *ref_kv(const ref_state *s, int layer, int value) {
    return (value ? s->value_cache : s->key_cache) + (size_t)layer * s->n_ctx * hp_kv_dim(&s->m->hp);
}
