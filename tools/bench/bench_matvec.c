/* bench_matvec.c — the mat-vec litevk-bench times (see bench_matvec.h). */
#include "bench.h"
#include "bench_matvec.h"
#include "forward/reference.h"
#include "status.h"
#include "synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

lvk_status bench_matvec_open(bench_gpu *g, uint32_t type, bench_matvec *m) {
    memset(m, 0, sizeof *m);
    vk_arena_init(&m->arena, g->dev, 0);
    const size_t B = LVK_MAX_BATCH;
    m->w = bench_random_matrix(type, MV_ROWS, MV_COLS, 0x5eed + type);
    m->x_host = malloc(B * MV_COLS * sizeof *m->x_host);
    m->y_host = malloc(B * MV_ROWS * sizeof *m->y_host);
    m->ref = malloc(B * MV_ROWS * sizeof *m->ref);
    float *row = malloc(MV_COLS * sizeof *row);
    lvk_status s = m->w.data && m->x_host && m->y_host && m->ref && row
                       ? LVK_OK : status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    uint64_t state = 42;
    for (size_t i = 0; s == LVK_OK && i < B * MV_COLS; i++) m->x_host[i] = synth_uniform(&state);
    for (size_t c = 0; s == LVK_OK && c < B; c++) ref_matvec(m->ref + c * MV_ROWS, &m->w, m->x_host + c * MV_COLS, row);
    free(row);
    m->n_copies = div_up(MV_FOOTPRINT, (uint32_t)(gpu_row_bytes(type, MV_COLS) * MV_ROWS));
    if (m->n_copies > MV_MAX_COPIES) m->n_copies = MV_MAX_COPIES;
    for (uint32_t c = 0; s == LVK_OK && c < m->n_copies; c++)
        s = gpu_matrix_upload(g->dev, &m->arena, (const weight_tensor *[]){&m->w}, 1, (gpu_row_order){0}, NULL, NULL,
                              &m->copies[c]);
    if (s == LVK_OK) s = vk_arena_alloc(&m->arena, B * MV_COLS * sizeof *m->x_host, &m->x); /* MV_COLS % 8 == 0: no padding */
    if (s == LVK_OK) s = vk_buffer_write(g->dev, &m->x, 0, m->x_host, B * MV_COLS * sizeof *m->x_host);
    if (s == LVK_OK) s = vk_buffer_texel_views(g->dev, &m->x); /* the mat-vec reads x as texels */
    if (s == LVK_OK) s = vk_arena_alloc(&m->arena, B * MV_ROWS * sizeof *m->y_host, &m->y);
    return s;
}

typedef struct matvec_job {
    const bench_matvec *m;
    uint32_t n_cols;
    gpu_tuning t;
} matvec_job;

/* y = W x for n_cols columns, one dispatch per part as runtime/forward/gpu_forward.c
 * records it; calls take the copies in turn: in a forward pass other matrices
 * come between two reads of one. */
static void record_matvec(vk_recorder *r, const void *job, int call) {
    const matvec_job *j = job;
    const gpu_matrix *W = &j->m->copies[(uint32_t)call % j->m->n_copies];
    const uint32_t rows = gpu_matvec_rows(&j->t, j->n_cols, 0);
    for (uint32_t p = 0; p < W->n_parts; p++) {
        const gpu_matrix_part *part = &W->parts[p];
        uint32_t spec[MATVEC_N_SPEC] = {[MATVEC_WG] = j->t.matvec_wg, [MATVEC_ROWS] = rows,
                                        [MATVEC_COLUMNS] = j->n_cols, [MATVEC_TYPE] = part->type,
                                        [MATVEC_OUT] = OUT_Y}; /* no norm; y = W x */
        gpu_matvec_push push = {.rows = part->rows, .units = part->units, .x_stride = W->cols, .y_stride = W->rows,
                                .row_begin = part->row_begin, .scale_off = part->scale_off};
        const vk_buffer *x = &j->m->x, *bufs[] = {x, &j->m->y, x, x, x, x, x}; /* bindings 3-7 unused here */
        vk_record_dispatch(r, "matvec", spec, MATVEC_N_SPEC, &part->buf, bufs, 7, &push, sizeof push,
                           1, div_up(part->rows, rows)); /* one tile of columns, the row groups */
    }
}

lvk_status bench_matvec_time(bench_gpu *g, bench_matvec *m, uint32_t n_cols, double *seconds, int *repeats,
                             double *error) {
    bench_gpu_params(g)->n_tokens = n_cols;
    matvec_job job = {.m = m, .n_cols = n_cols, .t = g->tuning};
    lvk_status s = bench_time_calls(g, record_matvec, &job, m->copies[0].n_parts, seconds, repeats);
    bench_gpu_params(g)->n_tokens = 1;
    LVK_TRY(s);
    LVK_TRY(bench_download(g, &m->y, (VkDeviceSize)n_cols * MV_ROWS * sizeof *m->y_host, m->y_host));
    /* the error relative to the largest output: single outputs near zero
     * would make a per-element relative error meaningless */
    double err = 0, top = 0;
    for (size_t i = 0; i < (size_t)n_cols * MV_ROWS; i++) {
        double e = fabs((double)m->y_host[i] - m->ref[i]);
        err = isnan(e) || e > err ? e : err;
        top = fabs(m->ref[i]) > top ? fabs(m->ref[i]) : top;
    }
    *error = err / top;
    return LVK_OK;
}

void bench_matvec_close(bench_gpu *g, bench_matvec *m) {
    for (uint32_t c = 0; c < m->n_copies; c++) gpu_matrix_free(g->dev, &m->copies[c]);
    vk_buffer_free_views(g->dev, &m->x);
    vk_arena_free(&m->arena);
    free((void *)m->w.data);
    free(m->x_host);
    free(m->y_host);
    free(m->ref);
    memset(m, 0, sizeof *m);
}

/* ---- the matvec part of litevk-bench ---- */

/* One weight type: a figure line, or a line saying why there is none.
 * *ok is cleared when the kernel's result is wrong. */
static lvk_status bench_matvec_type(bench_gpu *g, uint32_t type, double copy_gbps, int *ok) {
    bench_matvec m;
    double t = 0, err = 0;
    int repeats = 0;
    lvk_status s = bench_matvec_open(g, type, &m);
    if (s == LVK_OK) s = bench_matvec_time(g, &m, 1, &t, &repeats, &err);
    if (s == LVK_OK && !(err <= MV_MAX_ERR)) {
        printf("  %-5s  wrong result: max error %.2e of max |y| (limit %.0e); no figure\n", ggml_type_name(type), err,
               MV_MAX_ERR);
        *ok = 0;
    } else if (s == LVK_OK) {
        double gbps = m.w.n_bytes / t / 1e9;
        printf("  %-5s %8.1f %9.3f %9.1f %10.2f %8.0f%% %10.1e %6d %6u %5u\n", ggml_type_name(type),
               m.w.n_bytes / 1e6, t * 1e3, gbps, (double)MV_ROWS * MV_COLS / t / 1e9, 100.0 * gbps / copy_gbps, err,
               repeats, m.n_copies, m.copies[0].n_parts);
    }
    bench_matvec_close(g, &m);
    return s;
}

lvk_status bench_matvec_part(bench_gpu *g, const uint32_t *types, int n_types, double copy_gbps, int *ok) {
    printf("matvec: %d x %d (LLaMA-7B FFN up), 1 column; tuning \"%s\": workgroup %u, %u rows per workgroup\n",
           MV_ROWS, MV_COLS, g->tuning.source, g->tuning.matvec_wg, g->tuning.matvec_rows);
    printf("  type   MB read   ms/call      GB/s  Gweights/s  of copy  max error  calls copies parts\n");
    for (int i = 0; i < n_types; i++) {
        fprintf(stderr, "bench: matvec %s\n", ggml_type_name(types[i]));
        LVK_TRY(bench_matvec_type(g, types[i], copy_gbps, ok));
    }
    printf("  (MB as stored in GGUF; max error = max |gpu - reference| / max |reference|; calls per timed\n"
           "   command buffer, taking %.0f MiB of matrix copies in turn; parts = dispatches per call)\n",
           MV_FOOTPRINT / 1048576.0);
    return LVK_OK;
}
