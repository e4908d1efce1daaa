/* columns.h — litevk-bench's columns part: what n token columns of one pass
 * cost against one. Prompts, deferred K/V fill and speculation's verification
 * all run several token columns through the same weights; where a column is
 * nearly free they pay, where it costs as much as a pass they cannot. */
#ifndef LVK_BENCH_COLUMNS_H
#define LVK_BENCH_COLUMNS_H

#include "bench_gpu.h"

#include <stdio.h>

#define COLUMNS_WIDTHS 4 /* 1, 2, 4 and 8 columns; a prompt's passes: 8, 16, 32 and 64 */
#define COLUMNS_MAX_FIGURES (3 * 8 * COLUMNS_WIDTHS)

typedef struct columns_figure {
    uint32_t type;
    const char *what; /* "matvec", "pass" or "prompt" */
    int n;            /* token columns (of a prompt's passes) */
    double ms;        /* per call, pass, or prompt token */
} columns_figure;

typedef struct columns_report {
    columns_figure figures[COLUMNS_MAX_FIGURES];
    int n_figures;
} columns_report;

/* The mat-vec kernel on the 11008 x 4096 matrix at each width, per type;
 * each width's result is first checked against the reference mat-vec (*ok is
 * cleared, and no figure kept, where it is wrong). The table goes to `table`. */
lvk_status columns_matvec(bench_gpu *g, const uint32_t *types, int n_types, FILE *table, columns_report *out,
                          int *ok);
/* A whole full-depth pass (every block and the final head) of the model at
 * `path` at each width, every column's logits first checked against the
 * plain-C reference forward; then a 64-token prompt in passes of 8, 16, 32
 * and 64 columns (the widths a device's tuning may choose), its last logits
 * checked likewise. */
lvk_status columns_pass(bench_gpu *g, const char *path, uint32_t type, FILE *table, columns_report *out, int *ok);
/* {"columns":[{"type":"q4_0","what":"matvec","n":1,"ms":12.3},...]} */
void columns_print_json(const columns_report *r);

#endif
