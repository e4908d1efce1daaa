/* util.h — small arithmetic and timing helpers the runtime and the tools
 * (tools/bench) share, defined once. Internal: not part of litevk.h. */
#ifndef LVK_UTIL_H
#define LVK_UTIL_H

#include <stdint.h>
#include <time.h>

/* a / b rounded up: workgroups to cover a items, b per workgroup. */
static inline uint32_t div_up(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

/* n rounded up to a multiple of 8: the GPU layout pads activations and float
 * rows to whole units of 8 (two vec4s). */
static inline uint64_t pad8(uint64_t n) { return (n + 7) & ~7ull; }

/* Seconds on the monotonic clock, for timing (not a date). */
static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
