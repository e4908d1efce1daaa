/* api_bench.c — the public API's benchmark metrics (litevk.h, "benchmark
 * metrics"): what `litevk bench` reports, from the totals of its runs. */
#include "alloc.h"
#include "status.h"

lvk_status lvk_rouge_l_f1(const int32_t *reference, int n_reference, const int32_t *candidate, int n_candidate,
                          double *f1) {
    if (!f1 || n_reference < 0 || n_candidate < 0 || (!reference && n_reference) || (!candidate && n_candidate))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_rouge_l_f1: NULL or negative argument");
    if (n_reference == 0 || n_candidate == 0) {
        *f1 = n_reference == n_candidate ? 1.0 : 0.0;
        return LVK_OK;
    }
    /* The classic LCS table, one row at a time: row[j] = LCS of the reference
     * so far and candidate[0..j). */
    int *row = mem_calloc((size_t)n_candidate + 1, sizeof *row);
    if (!row) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory for ROUGE-L");
    for (int i = 0; i < n_reference; i++) {
        int diagonal = 0; /* the previous row's row[j - 1] */
        for (int j = 1; j <= n_candidate; j++) {
            int above = row[j];
            row[j] = reference[i] == candidate[j - 1] ? diagonal + 1 : above > row[j - 1] ? above : row[j - 1];
            diagonal = above;
        }
    }
    int lcs = row[n_candidate];
    mem_free(row);
    double precision = (double)lcs / n_candidate, recall = (double)lcs / n_reference;
    *f1 = lcs == 0 ? 0.0 : 2 * precision * recall / (precision + recall);
    return LVK_OK;
}

/* a / b, 0 when b is 0 (no NaN or infinity in the figures) */
static double ratio(double a, double b) { return b != 0 ? a / b : 0; }

/* Tokens per second of a run's decode steps. */
static double tokens_per_s(const lvk_bench_decode *d) { return ratio((double)d->passes, d->ms / 1e3); }

lvk_status lvk_bench_metrics_compute(const lvk_bench_totals *t, int n_layers, int n_exits, lvk_bench_metrics *out) {
    if (!t || !out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_bench_metrics_compute: NULL argument");
    if (n_layers < 1 || n_exits < 0 || n_exits > LVK_MAX_EXITS)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_bench_metrics_compute: %d blocks and %d exits", n_layers,
                           n_exits);
    lvk_bench_metrics f = {0};
    f.full_tokens_per_s = tokens_per_s(&t->full);
    f.exit_tokens_per_s = tokens_per_s(&t->exit);
    f.exit_other_mode_tokens_per_s = tokens_per_s(&t->exit_other_mode);
    f.speedup = ratio(f.exit_tokens_per_s, f.full_tokens_per_s);
    f.blocks_per_token = ratio((double)t->exit_blocks, (double)t->exit.passes);
    f.blocks_skipped_pct = t->exit.passes ? 100 * (1 - f.blocks_per_token / n_layers) : 0;
    f.bytes_ratio = ratio((double)t->weight_bytes, (double)t->full_depth_bytes);
    f.agreement = ratio((double)t->agreed, (double)t->forced);
    f.rouge_l = ratio(t->rouge_l_sum, t->prompts);
    f.length_ratio = ratio((double)t->exit.tokens, (double)t->full.tokens);
    for (int k = 0; k <= n_exits; k++) f.exit_share[k] = ratio((double)t->exits_taken[k], (double)t->exit.passes);
    f.speculate_tokens_per_s = tokens_per_s(&t->speculate.run);
    f.speculate_other_mode_tokens_per_s = tokens_per_s(&t->speculate.other_mode);
    f.speculate_speedup = ratio(f.speculate_tokens_per_s, f.full_tokens_per_s);
    f.speculate_agreement = ratio((double)t->speculate.agreed, (double)t->speculate.forced);
    f.acceptance = ratio((double)t->speculate.accepted, (double)t->speculate.drafted);
    f.tokens_per_cycle = ratio((double)(t->speculate.accepted + t->speculate.cycles), (double)t->speculate.cycles);
    f.speculate_bytes_ratio = ratio((double)t->speculate.weight_bytes, (double)t->speculate.full_depth_bytes);
    *out = f;
    return LVK_OK;
}
