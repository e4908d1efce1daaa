/* metrics.c — see metrics.h. */
#include "metrics.h"

#include <stdlib.h>

double rouge_l_f1(const int32_t *reference, int n_reference, const int32_t *candidate, int n_candidate) {
    if (n_reference == 0 || n_candidate == 0) return n_reference == n_candidate ? 1.0 : 0.0;
    /* The classic LCS table, one row at a time: row[j] = LCS of the reference
     * so far and candidate[0..j). */
    int *row = calloc((size_t)n_candidate + 1, sizeof *row);
    if (!row) return -1;
    for (int i = 0; i < n_reference; i++) {
        int diagonal = 0; /* the previous row's row[j - 1] */
        for (int j = 1; j <= n_candidate; j++) {
            int above = row[j];
            row[j] = reference[i] == candidate[j - 1] ? diagonal + 1 : above > row[j - 1] ? above : row[j - 1];
            diagonal = above;
        }
    }
    int lcs = row[n_candidate];
    free(row);
    if (lcs == 0) return 0.0;
    double precision = (double)lcs / n_candidate, recall = (double)lcs / n_reference;
    return 2 * precision * recall / (precision + recall);
}
