/* columns.c — litevk-bench's columns part: the time of n token columns
 * against one, for a mat-vec alone and for a whole pass, and of a prompt in
 * passes of 8 to 64 columns. */
#include "columns.h"
#include "bench_matvec.h"
#include "model/model.h"
#include "formats/quant.h"
#include "forward/reference.h"
#include "status.h"
#include "synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PASS_MAX_NMSE 1e-6    /* logits' normalised mean squared error against the reference, as the tests allow */
#define PASS_RUNS 5           /* timed runs of a pass; the median is reported */
#define PASS_TARGET_RUN_S 0.5 /* passes per timed run are chosen to fill about this */
#define PROMPT_RUNS 3         /* timed runs of the prompt at each width; the median is reported */
#define PROMPT_TOKENS LVK_MAX_PROMPT_COLUMNS /* fills the widest prompt pass */

static const int widths[COLUMNS_WIDTHS] = {1, 2, 4, 8};
_Static_assert(8 == LVK_MAX_BATCH, "the widest measured pass is the widest the runtime runs");
static const int prompt_widths[COLUMNS_WIDTHS] = {8, 16, 32, 64};
_Static_assert(8 == LVK_MAX_BATCH && 64 == LVK_MAX_PROMPT_COLUMNS, "the prompt widths are those a device may choose");

/* One width's result: its cell of the table and its figure, or "wrong" (and
 * *ok cleared) where the check failed. base is the 1-column time, set here. */
typedef struct width_result {
    uint32_t type;
    const char *what;
    int n;
    double seconds, error, limit; /* error: as the check measures it, against limit */
} width_result;

static void report_width(const width_result *w, FILE *table, double *base, columns_report *r, int *ok) {
    if (!(w->error <= w->limit)) {
        fprintf(table, " %7s %7s", "wrong", "");
        fprintf(stderr, "bench: %s %s of %d columns: error %.2e against the reference (limit %.0e)\n",
                ggml_type_name(w->type), w->what, w->n, w->error, w->limit);
        *ok = 0;
        return;
    }
    if (*base == 0) *base = w->seconds; /* the first width's */
    fprintf(table, " %7.2f %6.2fx", w->seconds * 1e3, *base > 0 ? w->seconds / *base : 0.0);
    if (r->n_figures < COLUMNS_MAX_FIGURES)
        r->figures[r->n_figures++] = (columns_figure){.type = w->type, .what = w->what, .n = w->n, .ms = w->seconds * 1e3};
}

/* ---- one mat-vec ------------------------------------------------------------ */

static lvk_status matvec_type(bench_gpu *g, uint32_t type, FILE *table, columns_report *out, int *ok) {
    bench_matvec m;
    lvk_status s = bench_matvec_open(g, type, &m);
    fprintf(table, "  %-5s matvec", ggml_type_name(type));
    double base = 0;
    for (int i = 0; s == LVK_OK && i < COLUMNS_WIDTHS; i++) {
        const uint32_t n = (uint32_t)widths[i];
        double t = 0, err = 0;
        int repeats = 0;
        s = bench_matvec_time(g, &m, n, &t, &repeats, &err);
        if (s == LVK_OK)
            report_width(&(width_result){.type = type, .what = "matvec", .n = (int)n, .seconds = t, .error = err,
                                         .limit = MV_MAX_ERR},
                         table, &base, out, ok);
    }
    fprintf(table, "\n");
    bench_matvec_close(g, &m);
    return s;
}

lvk_status columns_matvec(bench_gpu *g, const uint32_t *types, int n_types, FILE *table, columns_report *out,
                          int *ok) {
    fprintf(table, "columns: mat-vec %d x %d (LLaMA-7B FFN up) and whole passes, at 1, 2, 4 and 8 token columns: "
           "ms per call and the ratio to 1 column\n", MV_ROWS, MV_COLS);
    fprintf(table, "  type  what        1 col           2 cols          4 cols          8 cols\n");
    for (int i = 0; i < n_types; i++) {
        fprintf(stderr, "bench: columns, mat-vec %s\n", ggml_type_name(types[i]));
        LVK_TRY(matvec_type(g, types[i], table, out, ok));
    }
    return LVK_OK;
}

/* ---- a whole pass --------------------------------------------------------------- */

/* Normalised mean squared error of a against the reference b. */
static double nmse(const float *a, const float *b, int n) {
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? num / den : num;
}

/* The reference logits of tokens[0..n) at positions 0..n-1, [n][n_vocab]. */
static lvk_status reference_logits(const host_model *hm, const int32_t *tokens, int n, float *out) {
    ref_state *ref;
    LVK_TRY(ref_create(hm, n, &ref));
    lvk_status s = LVK_OK;
    for (int i = 0; s == LVK_OK && i < n; i++) {
        const float *logits;
        s = ref_forward(ref, tokens[i], i, &logits);
        if (s == LVK_OK) memcpy(out + (size_t)i * hm->hp.n_vocab, logits, (size_t)hm->hp.n_vocab * sizeof *out);
    }
    ref_free(ref);
    return s;
}

/* Seconds of one pass of n columns at positions 0..n-1: the median of
 * PASS_RUNS runs of enough passes to fill about PASS_TARGET_RUN_S. */
static lvk_status time_pass(gpu_session *gs, const int32_t *tokens, int n, double *seconds) {
    gpu_decision d[LVK_MAX_BATCH];
    double t0 = now_s();
    LVK_TRY(gpu_session_verify(gs, tokens, n, 0, 0, d));
    int repeats = (int)(PASS_TARGET_RUN_S / (now_s() - t0));
    repeats = repeats < 1 ? 1 : repeats > 100 ? 100 : repeats;
    double runs[PASS_RUNS];
    for (int r = 0; r < PASS_RUNS; r++) {
        t0 = now_s();
        for (int i = 0; i < repeats; i++) LVK_TRY(gpu_session_verify(gs, tokens, n, 0, 0, d));
        runs[r] = (now_s() - t0) / repeats;
    }
    *seconds = bench_median(runs, PASS_RUNS);
    return LVK_OK;
}

/* Seconds per token of a PROMPT_TOKENS-token prompt at positions 0.. in
 * passes as wide as the session's: the median of PROMPT_RUNS runs. */
static lvk_status time_prompt(gpu_session *gs, const int32_t *tokens, double *seconds, gpu_step *step) {
    double runs[PROMPT_RUNS];
    for (int r = 0; r < PROMPT_RUNS; r++) {
        gpu_session_reset(gs);
        double t0 = now_s();
        LVK_TRY(gpu_session_prefill(gs, tokens, PROMPT_TOKENS, 0, step));
        runs[r] = (now_s() - t0) / PROMPT_TOKENS;
    }
    *seconds = bench_median(runs, PROMPT_RUNS);
    return LVK_OK;
}

/* The prompt at each of prompt_widths, a session of that width each; the
 * error: the last position's logits' NMSE against the reference's (want). */
static lvk_status prompt_widths_row(gpu_model *gm, const model_hparams *hp, uint32_t type, const int32_t *tokens,
                                    const float *want, float *got, FILE *table, columns_report *out, int *ok) {
    const uint32_t device_width = gm->tuning.prompt_columns;
    fprintf(table, "  %-5s prompt", ggml_type_name(type));
    double base = 0;
    lvk_status s = LVK_OK;
    for (int i = 0; s == LVK_OK && i < COLUMNS_WIDTHS; i++) {
        gpu_session *gs = NULL;
        gpu_step step;
        double t = 0;
        gm->tuning.prompt_columns = (uint32_t)prompt_widths[i];
        s = gpu_session_create(gm, hp, PROMPT_TOKENS, NULL, &gs);
        if (s == LVK_OK) s = time_prompt(gs, tokens, &t, &step);
        if (s == LVK_OK) s = gpu_session_logits(gs, step.col, got);
        if (s == LVK_OK)
            report_width(&(width_result){.type = type, .what = "prompt", .n = prompt_widths[i], .seconds = t,
                                         .error = nmse(got, want, hp->n_vocab), .limit = PASS_MAX_NMSE},
                         table, &base, out, ok);
        gpu_session_free(gs);
    }
    gm->tuning.prompt_columns = device_width;
    return s;
}

lvk_status columns_pass(bench_gpu *g, const char *path, uint32_t type, FILE *table, columns_report *out, int *ok) {
    const int max_cols = widths[COLUMNS_WIDTHS - 1];
    host_model *hm = NULL;
    gpu_model *gm = NULL;
    gpu_session *gs = NULL;
    LVK_TRY(host_model_open(path, &hm));
    const model_hparams *hp = &hm->hp;
    /* A full-depth pass of each width: speculation's verification passes, one
     * compiled per width up to LVK_MAX_BATCH columns, with nothing drafted. */
    lvk_exit_config cfg = {.n_exits = 1, .layers = {hp->n_layers / 2}, .thresholds = {1.0f}, .mode = LVK_EXIT_FENCE,
                           .kv_fill = LVK_KV_PROPAGATE, .decode = LVK_DECODE_SPECULATE,
                           .draft_exit = hp->n_layers / 2, .draft_max = LVK_MAX_DRAFTS, .draft_threshold = 0.5f};
    int32_t tokens[PROMPT_TOKENS]; /* the passes' columns are its first */
    for (int i = 0; i < PROMPT_TOKENS; i++) tokens[i] = (int32_t)((i * 7919 + 1) % hp->n_vocab);
    tokens[0] = 1; /* BOS */
    float *want = malloc((size_t)PROMPT_TOKENS * hp->n_vocab * sizeof *want), *got = malloc((size_t)hp->n_vocab * sizeof *got);
    lvk_status s = want && got ? LVK_OK : status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    fprintf(stderr, "bench: columns, %s: the reference forward of %d tokens\n", path, PROMPT_TOKENS);
    if (s == LVK_OK) s = reference_logits(hm, tokens, PROMPT_TOKENS, want);
    if (s == LVK_OK) s = gpu_model_upload(g->dev, hm, NULL, NULL, &gm);
    if (s == LVK_OK) s = gpu_session_create(gm, hp, max_cols, &cfg, &gs);
    fprintf(table, "  %-5s pass  ", ggml_type_name(type));
    double base = 0;
    for (int i = 0; s == LVK_OK && i < COLUMNS_WIDTHS; i++) {
        const int n = widths[i];
        double t = 0, worst = 0;
        s = time_pass(gs, tokens, n, &t);
        for (int c = 0; s == LVK_OK && c < n; c++) {
            s = gpu_session_logits(gs, c, got);
            double e = nmse(got, want + (size_t)c * hp->n_vocab, hp->n_vocab);
            worst = isnan(e) || e > worst ? e : worst;
        }
        if (s == LVK_OK) /* the error: the worst column's logits' NMSE */
            report_width(&(width_result){.type = type, .what = "pass", .n = n, .seconds = t, .error = worst,
                                         .limit = PASS_MAX_NMSE},
                         table, &base, out, ok);
    }
    fprintf(table, "\n");
    gpu_session_free(gs);
    if (s == LVK_OK) {
        fprintf(stderr, "bench: columns, %s: a %d-token prompt at each width\n", path, PROMPT_TOKENS);
        s = prompt_widths_row(gm, hp, type, tokens, want + (size_t)(PROMPT_TOKENS - 1) * hp->n_vocab, got, table, out,
                              ok);
        fprintf(table, "\n");
    }
    gpu_model_free(gm);
    host_model_free(hm);
    free(want);
    free(got);
    return s;
}

void columns_print_json(const columns_report *r) {
    printf("{\"columns\":[");
    for (int i = 0; i < r->n_figures; i++) {
        const columns_figure *f = &r->figures[i];
        printf("%s{\"type\":\"%s\",\"what\":\"%s\",\"n\":%d,\"ms\":%.4f}", i ? "," : "", ggml_type_name(f->type),
               f->what, f->n, f->ms);
    }
    printf("]}\n");
}
