/* median.h — the figure every benchmark here reports from repeated runs. */
#ifndef LVK_BENCH_MEDIAN_H
#define LVK_BENCH_MEDIAN_H

/* The median of v[0..n) (n >= 1), which it sorts in place. */
double bench_median(double *v, int n);

#endif
