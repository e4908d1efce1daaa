/* bench_matvec.h — the mat-vec litevk-bench times (its matvec and columns
 * parts): LLaMA-7B's FFN-up shape, 11008 x 4096, random weights of one type,
 * y = W x for 1..LVK_MAX_BATCH token columns, recorded as the forward pass
 * records it and checked against the plain-C reference mat-vec. */
#ifndef LVK_BENCH_MATVEC_H
#define LVK_BENCH_MATVEC_H

#include "bench_gpu.h"

#define MV_ROWS 11008 /* LLaMA-7B FFN up: n_ff x n_embd */
#define MV_COLS 4096
#define MV_MAX_ERR 1e-4 /* max |gpu - reference| / max |reference| a figure needs */
#define MV_FOOTPRINT (256u << 20) /* calls rotate over copies of the matrix this large in all */
#define MV_MAX_COPIES 16

typedef struct bench_matvec {
    weight_tensor w;                        /* as stored in GGUF */
    gpu_matrix copies[MV_MAX_COPIES];    /* calls take them in turn, so none finds its weights in a cache */
    uint32_t n_copies;
    vk_arena arena;
    vk_buffer x, y;                      /* [LVK_MAX_BATCH][MV_COLS], [LVK_MAX_BATCH][MV_ROWS] */
    float *x_host, *y_host, *ref;        /* ref: the reference's y of every column */
} bench_matvec;

lvk_status bench_matvec_open(bench_gpu *g, uint32_t type, bench_matvec *m);
/* Seconds per mat-vec of n_cols columns (the kernel compiled for exactly that
 * many), the repeats per timed command buffer, and the result's error: max
 * |gpu - reference| / max |reference| over the columns. */
lvk_status bench_matvec_time(bench_gpu *g, bench_matvec *m, uint32_t n_cols, double *seconds, int *repeats,
                             double *error);
void bench_matvec_close(bench_gpu *g, bench_matvec *m);

#endif
