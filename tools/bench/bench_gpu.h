/* bench_gpu.h — timing kernels on a Vulkan device for litevk-bench: a device
 * with its own command and descriptor pools, command buffers of repeated
 * calls, and reading results back. */
#ifndef LVK_BENCH_GPU_H
#define LVK_BENCH_GPU_H

#include "forward/gpu_forward.h"
#include "median.h"
#include "util.h"
#include "vk/vk_device.h"

#define BENCH_RUNS 5               /* timed runs per figure; the median is reported */
#define BENCH_TARGET_RUN_S 0.25    /* repeats per command buffer are chosen to fill about this */
#define BENCH_MAX_DISPATCHES 4096  /* per command buffer; sizes the descriptor pool */

typedef struct bench_gpu {
    vk_device *dev;
    gpu_tuning tuning;
    vk_arena host;     /* host-visible: the params buffer */
    vk_buffer params;  /* binding 0 of every dispatch */
    VkCommandPool pool;
    VkDescriptorPool sets;
    VkFence fence;
} bench_gpu;


/* The device LITEVK_DEVICE names (validation with LITEVK_VALIDATE=1), with a
 * params buffer of one token column at position 0. */
lvk_status bench_gpu_open(bench_gpu *g);
void bench_gpu_close(bench_gpu *g);
/* The params every dispatch reads (Params in shaders/common.glsl). */
gpu_params *bench_gpu_params(bench_gpu *g);

/* Records call number `call` of the kernel(s) under test. */
typedef void (*bench_record_fn)(vk_recorder *r, const void *job, int call);
/* Seconds per call: a first run of one call warms up (first touch of memory,
 * driver caches), a second one sizes the repeats to about BENCH_TARGET_RUN_S,
 * then the median of BENCH_RUNS runs of that many calls in one command buffer. */
lvk_status bench_time_calls(bench_gpu *g, bench_record_fn fn, const void *job, uint32_t dispatches_per_call,
                            double *seconds, int *repeats);
/* Copies the first `size` bytes of a device buffer that earlier submissions
 * wrote from shaders into `out`. */
lvk_status bench_download(bench_gpu *g, const vk_buffer *src, VkDeviceSize size, void *out);

/* Random weights uniform in ±1/sqrt(cols), stored as ggml `type` rows
 * (w.data is malloc'd, NULL when out of memory). */
weight_tensor bench_random_matrix(uint32_t type, uint64_t rows, uint64_t cols, uint64_t seed);

#endif
