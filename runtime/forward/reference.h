/* reference.h — the plain-C forward pass: the oracle every GPU test compares with.
 * Written for clarity, not speed: weights are dequantised row by row as they are used. */
#ifndef LVK_REFERENCE_H
#define LVK_REFERENCE_H

#include "model/model.h"

typedef struct ref_state ref_state;

lvk_status ref_create(const host_model *m, int n_ctx, ref_state **out);
void ref_free(ref_state *s);
/* Runs token `token` at position `pos` (0 <= pos < n_ctx) and returns the
 * logits [n_vocab] (owned by the state, valid until the next call). */
lvk_status ref_forward(ref_state *s, int token, int pos, const float **logits);
/* Runs blocks 0..n_blocks-1 only (an early exit: K/V of the later blocks are
 * not written) and, after block head_layers[i] (1-based, ascending), the exit
 * head into head_logits[i][n_vocab]. */
lvk_status ref_forward_heads(ref_state *s, int token, int pos, int n_blocks, const int *head_layers, int n_heads,
                             float *head_logits);
/* CALM's propagation: K/V at pos of blocks from_block.. computed from the
 * hidden state the last forward stopped at. */
void ref_propagate_kv(ref_state *s, int pos, int from_block);
/* The key (value = 0) or value cache of one block: [n_ctx][kv_dim]. */
const float *ref_kv(const ref_state *s, int layer, int value);

/* Building blocks, exposed so kernel tests compare against exactly these. */
void ref_rmsnorm(float *out, const float *x, const float *w, int n, float eps);
/* y[rows] = W x, W of any supported type; `row_buf` holds one dequantised row. */
void ref_matvec(float *y, const weight_tensor *W, const float *x, float *row_buf);
/* Rotates the RoPE pairs of the first rope_dim dims of each of n_heads heads
 * of v at position pos: (2i, 2i+1) in LLaMA's order, (i, i + rope_dim/2) in
 * NeoX's, by rope_angle(&m->hp, pos, i). */
void ref_rope(const host_model *m, float *v, int n_heads, int pos);
void ref_softmax(float *x, int n);
/* One query head over positions 0..n_pos-1: out[head_dim] = softmax(q K^T /
 * sqrt(head_dim)) V, key and value t at keys/values + t * kv_stride;
 * scores[n_pos] is scratch. */
void ref_attention(float *out, const float *q, const float *keys, const float *values, int n_pos, int kv_stride,
                   int head_dim, float *scores);
/* gate[i] = silu(gate[i]) * up[i]: SwiGLU's gated activation. */
void ref_swiglu(float *gate, const float *up, int n);

#endif
