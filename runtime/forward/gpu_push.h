/* gpu_push.h — the push constants of each kernel, field for field as the
 * shader's Push block declares them (std430: 4-byte fields in order, no
 * padding). Fill them with designated initializers, so a field's name, not its
 * place, says which shader value it sets. */
#ifndef LVK_GPU_PUSH_H
#define LVK_GPU_PUSH_H

#include "vk/vk_device.h"

#include <stdint.h>

/* shaders/matvec.comp */
typedef struct gpu_matvec_push {
    uint32_t rows, units, x_stride, y_stride, row_begin, first_row, scale_off, accumulate, layer, norm_n;
    float norm_eps;
    uint32_t q_rows, kv_dim, head_dim, rope_dim; /* OUT 1 */
    uint32_t slot, wg_first, wg_total, count_at; /* OUT 3 */
} gpu_matvec_push;

/* matvec.comp's specialisation constants by constant_id, for designated
 * array initializers: {[MATVEC_WG] = ..., [MATVEC_TYPE] = ...}. */
enum gpu_matvec_spec {
    MATVEC_WG,       /* workgroup size */
    MATVEC_ROWS,     /* NR: rows per workgroup */
    MATVEC_COLUMNS,  /* NCOLS: token columns of a tile */
    MATVEC_TYPE,     /* WTYPE: ggml type of W */
    MATVEC_NORM,     /* 1: W rmsnorm(x) * norm */
    MATVEC_OUT,      /* the epilogue (OUT) */
    MATVEC_BIAS,     /* OUT 1: add the Q/K/V biases */
    MATVEC_N_SPEC
};

/* What a mat-vec does with its rows (MATVEC_OUT: OUT in shaders/matvec.comp). */
typedef enum { OUT_Y, OUT_QKV, OUT_SWIGLU, OUT_HEAD } matvec_epilogue;

/* shaders/attention.comp */
typedef struct gpu_attention_push {
    uint32_t head_dim, group, kv_dim, n_ctx, q_stride, n_heads;
    float scale;
    uint32_t layer, masked, shares_at;
} gpu_attention_push;

/* shaders/swiglu.comp: gate rows 0..n-1 and up rows n..2n-1 of each column */
typedef struct gpu_swiglu_push {
    uint32_t n, stride;
} gpu_swiglu_push;

/* shaders/embed.comp */
typedef struct gpu_embed_push {
    uint32_t units, x_stride, scale_off, row_begin, rows;
} gpu_embed_push;

/* shaders/exit_gate.comp */
typedef struct gpu_exit_gate_push {
    uint32_t exit_index, n_exits;
} gpu_exit_gate_push;

/* shaders/speculate.comp */
typedef struct gpu_speculate_push {
    uint32_t stage, draft, draft_exit, verify_slot;
} gpu_speculate_push;

_Static_assert(sizeof(gpu_matvec_push) == 19 * 4 && sizeof(gpu_matvec_push) <= LVK_PUSH_CONSTANT_BYTES,
               "matvec's Push block: 19 words that fit the layout");
_Static_assert(sizeof(gpu_attention_push) == 10 * 4, "attention's Push block: 10 words");
_Static_assert(sizeof(gpu_swiglu_push) == 2 * 4, "swiglu's Push block: 2 words");
_Static_assert(sizeof(gpu_embed_push) == 5 * 4, "embed's Push block: 5 words");
_Static_assert(sizeof(gpu_exit_gate_push) == 2 * 4, "exit_gate's Push block: 2 words");
_Static_assert(sizeof(gpu_speculate_push) == 4 * 4, "speculate's Push block: 4 words");

#endif
