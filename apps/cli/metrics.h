/* metrics.h — how close an early-exit output is to the full-depth one. */
#ifndef LVK_CLI_METRICS_H
#define LVK_CLI_METRICS_H

#include <stdint.h>

/* ROUGE-L F1 of two token sequences (Lin 2004, with beta = 1): from the length
 * L of their longest common subsequence, precision P = L / n_candidate, recall
 * R = L / n_reference, F1 = 2PR / (P + R). Two empty sequences score 1, one
 * empty sequence 0. Returns -1 when memory runs out. */
double rouge_l_f1(const int32_t *reference, int n_reference, const int32_t *candidate, int n_candidate);

#endif
