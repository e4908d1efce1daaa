/* gpu_model.h — a model's weights on the device, and the per-device tuning.
 *
 * Matrices are repacked at upload into the layout shaders/weights.glsl reads,
 * and split by rows into parts that each fit one descriptor range
 * (maxStorageBufferRange: 128 MiB on lavapipe). */
#ifndef LVK_GPU_MODEL_H
#define LVK_GPU_MODEL_H

#include "model/model.h"
#include "forward/gpu_push.h"
#include "gpu_shared.h"
#include "vk/vk_device.h"

/* Rows [row_begin, row_begin + rows) of a matrix, all of one type, in one buffer. */
typedef struct gpu_matrix_part {
    vk_buffer buf;
    uint32_t type;      /* ggml type */
    uint32_t units;     /* units of 8 weights per row */
    uint32_t row_begin, rows;
    uint32_t scale_off; /* word offset of the fp16 scales (quantised types) */
} gpu_matrix_part;

/* A matrix whose rows may come from several GGUF tensors (Q, K and V stacked;
 * gate and up interleaved), so one dispatch per part computes them all. */
typedef struct gpu_matrix {
    uint32_t rows, cols;
    uint64_t bytes; /* in the GPU layout: what one mat-vec reads */
    uint32_t n_parts;
    gpu_matrix_part *parts;
} gpu_matrix;

typedef struct gpu_layer {
    vk_buffer attn_norm, ffn_norm;
    gpu_matrix wqkv;      /* rows: Wq (q_dim), Wk (kv_dim), Wv (kv_dim), Q and K in RoPE's GPU order (rope_source_row) */
    vk_buffer qkv_bias;   /* f32 [q_dim + 2 kv_dim] in wqkv's row order, where the architecture has biases */
    gpu_matrix wo;
    gpu_matrix w_gate_up; /* interleaved gate/up rows (2i, 2i+1) when they share a type, else gate rows then up rows */
    int gate_up_interleaved;
    gpu_matrix w_down;
} gpu_layer;

/* Kernel shapes for one device, from the vendor table (runtime/forward/gpu_model.c). */
typedef struct gpu_tuning {
    uint32_t matvec_wg;  /* matvec workgroup size */
    uint32_t matvec_rows;/* rows per matvec workgroup, at one token column */
    uint32_t matvec_cells; /* at most rows x token columns per workgroup: wider passes take fewer rows */
    uint32_t reduce_wg;  /* rmsnorm, attention, logits reduction */
    uint32_t map_wg;     /* element-wise kernels */
    uint32_t attn_splits;/* flash-decoding: workgroups sharing one head's positions */
    uint32_t prompt_columns; /* token columns of a prompt pass: a multiple of LVK_MAX_BATCH up to
                                LVK_MAX_PROMPT_COLUMNS */
    lvk_exit_mode exit_mode; /* default exit decision mode on this device */
    lvk_kv_fill kv_fill;     /* default K/V fill of skipped blocks on this device */
    const char *source;  /* which table row or override chose these */
} gpu_tuning;

/* Whether a prompt pass of n token columns can be run: whole tiles, at most the widest. */
static inline int gpu_prompt_columns_valid(long n) {
    return n >= LVK_MAX_BATCH && n <= LVK_MAX_PROMPT_COLUMNS && n % LVK_MAX_BATCH == 0;
}

typedef struct gpu_model {
    vk_device *dev;
    vk_arena arena;
    gpu_tuning tuning;
    gpu_matrix tok_embd, output; /* output shares tok_embd's parts when tied */
    int output_tied;
    vk_buffer output_norm;
    gpu_layer *layers;
    int n_layers;
} gpu_model;

gpu_tuning gpu_tuning_for(const vk_device *dev);
/* Rows per mat-vec workgroup in a pass of n_cols token columns (even where
 * `pairs`: the Q/K/V and gate/up epilogues work on row pairs). */
uint32_t gpu_matvec_rows(const gpu_tuning *t, uint32_t n_cols, int pairs);
/* Bytes of one row of `cols` weights of `type` in the GPU layout (quants and
 * scales); 0 for a type without one (not in weight_types). */
uint64_t gpu_row_bytes(uint32_t type, uint64_t cols);
/* Units of 8 weights in one row of `cols` in the GPU layout (float rows are padded to 8). */
uint32_t gpu_row_units(uint32_t type, uint64_t cols);
/* Repacks rows [0, rows) of a ggml matrix into the GPU layout at dst
 * (gpu_row_bytes * rows bytes) and sets *scale_off to the scales' word
 * offset; LVK_ERR_UNSUPPORTED for a type without a GPU layout. */
lvk_status gpu_repack(uint32_t type, const void *src, uint64_t rows, uint64_t cols, void *dst, uint32_t *scale_off);
/* The same for n consecutive ggml rows at src, as rows first.. of a matrix
 * of `rows` rows (a part that stacks or interleaves several tensors). */
lvk_status gpu_repack_rows(uint32_t type, const void *src, uint64_t first, uint64_t n, uint64_t rows, uint64_t cols,
                           void *dst, uint32_t *scale_off);
/* How the rows of n tensors of equal width make one matrix. */
typedef struct gpu_row_order {
    int interleave;             /* n = 2, same type: row i of each in turn (gate, up); else stacked */
    const model_hparams *qk_rope; /* stacked Wq, Wk, Wv: Q and K rows within each head as rope_source_row orders them */
} gpu_row_order;
/* Uploads the rows of n tensors as one matrix, in `order`. Parts break where
 * the type changes or a descriptor range is full, always at an even row. */
typedef lvk_status (*gpu_upload_report)(void *ctx, uint64_t file_bytes); /* after each part; non-OK stops */
lvk_status gpu_matrix_upload(vk_device *dev, vk_arena *arena, const weight_tensor *const *w, int n, gpu_row_order order,
                             gpu_upload_report report, void *ctx, gpu_matrix *out);
void gpu_matrix_free(vk_device *dev, gpu_matrix *m);

lvk_status gpu_model_upload(vk_device *dev, const host_model *m, lvk_progress_fn progress,
                            void *user, gpu_model **out);
void gpu_model_free(gpu_model *g);

#endif
