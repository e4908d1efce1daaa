/* bench.h — what the parts of litevk-bench share: the options, the rows of
 * the --compare table, and each part's entry (bench.c lists the parts). */
#ifndef LVK_BENCH_H
#define LVK_BENCH_H

#include "bench_gpu.h"
#include "formats/quant.h"

#define DEFAULT_TOKENS 200   /* decode steps on stories260K, API and reference each */
#define PROMPT "Once upon a time, there"
#define PROMPT_TOKENS (8 * LVK_MAX_BATCH) /* BOS + PROMPT's tokens repeated: 8 full prompt passes */
#define MAX_COLUMNS 4        /* --compare columns */

enum { PART_COPY = 1, PART_MATVEC = 2, PART_DECODE = 4, PART_DEFAULT = 8, PART_OVERHEAD = 16, PART_COLUMNS = 32 };

/* The models whose decode tokens/s --compare sets side by side: the default
 * part's, then the decode part's, one per weight type. */
enum { ROW_STORIES, ROW_F32, ROW_F16, ROW_Q8_0, ROW_Q4_0, ROW_Q4_K, ROW_Q6_K, N_ROWS };
extern const char *const row_keys[N_ROWS];  /* --compare's keys */
extern const char *const row_names[N_ROWS]; /* the table's first column */
extern const uint32_t row_types[N_ROWS];

/* One --compare: reference figures, tokens/s, by row. */
typedef struct ref_column {
    char label[64];
    char text[N_ROWS][24]; /* as given ("15-17"); "" where the column has no figure */
    double value[N_ROWS];  /* the figure, a range's midpoint */
} ref_column;

/* LiteVK's figures for the --compare table; 0 where not measured. */
typedef struct measured {
    double tps[N_ROWS];   /* decode tokens/s */
    double bound[N_ROWS]; /* copy bandwidth / weight bytes per token */
} measured;

typedef struct options {
    unsigned parts;
    uint32_t types[LVK_N_WEIGHT_TYPES];
    int n_types; /* 0: each part's default types */
    long decode_tokens;
    const char *tmp;
    int clean;
    ref_column columns[MAX_COLUMNS];
    int n_columns;
    int json; /* the columns part's figures as JSON on stdout, its table on stderr */
} options;

/* bench_copy.c: copy bandwidth in GB/s (bytes read + written), checked by reading dst back. */
lvk_status bench_copy(bench_gpu *g, double *gbps);
/* bench_matvec.c: the matvec part's table, one line per type. *ok is cleared when a result is wrong. */
lvk_status bench_matvec_part(bench_gpu *g, const uint32_t *types, int n_types, double copy_gbps, int *ok);
/* bench_decode.c: the decode, default and overhead parts through the public API. */
lvk_status bench_decode(lvk_context *ctx, const options *o, const uint32_t *types, int n_types, double copy_gbps,
                        measured *m);
lvk_status bench_default(lvk_context *ctx, measured *m);
lvk_status bench_overhead(lvk_context *ctx, const options *o);
/* The TinyLlama-shaped random-weight model of `type` under o->tmp, written when missing; its path into path[size]. */
lvk_status ensure_model(const options *o, uint32_t type, char *path, size_t size);
/* bench_compare.c: whether a --compare column has a figure for `row`, and the table. */
int row_compared(const options *o, int row);
void print_compare(const options *o, const measured *m);

#endif
