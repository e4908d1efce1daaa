/* bench_copy.c — litevk-bench's copy part: the memory bandwidth of a plain
 * copy kernel (shaders/bench_copy.comp), the bound of every kernel that
 * streams weights. */
#include "bench.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COPY_BYTES (96u << 20)

typedef struct copy_job {
    const vk_buffer *src, *dst;
    uint32_t n_vec4, wg, groups;
} copy_job;

static void record_copy(vk_recorder *r, const void *job, int call) {
    (void)call; /* every call copies the same 2 x 96 MiB: more than most last-level caches hold */
    const copy_job *j = job;
    uint32_t spec[] = {j->wg};
    const vk_buffer *bufs[] = {j->dst};
    vk_record_dispatch(r, "bench_copy", spec, 1, j->src, bufs, 1, &j->n_vec4, sizeof j->n_vec4, j->groups, 1);
}

lvk_status bench_copy(bench_gpu *g, double *gbps) {
    vk_device *dev = g->dev;
    VkDeviceSize size = dev->max_storage_range < COPY_BYTES ? dev->max_storage_range & ~(VkDeviceSize)15 : COPY_BYTES;
    uint32_t *pattern = malloc(size), *back = malloc(size);
    vk_arena a;
    vk_arena_init(&a, dev, 0);
    vk_buffer src, dst;
    lvk_status s = pattern && back ? LVK_OK : status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    /* A written source: untouched memory of a CPU device may all map one zero
     * page, which reads from cache. */
    for (VkDeviceSize i = 0; s == LVK_OK && i < size / 4; i++) pattern[i] = (uint32_t)i * 2654435761u;
    if (s == LVK_OK) s = vk_arena_alloc(&a, size, &src);
    if (s == LVK_OK) s = vk_arena_alloc(&a, size, &dst);
    if (s == LVK_OK) s = vk_buffer_write(dev, &src, 0, pattern, size);
    if (s == LVK_OK) s = vk_buffer_texel_views(dev, &src);
    /* lavapipe runs a workgroup as a loop over its subgroups on one thread, and
     * streams 3x faster with one subgroup per workgroup than with 64 lanes;
     * GPUs want many lanes in flight. 1024 workgroups fill a large GPU and
     * keep lavapipe's cost per workgroup small. */
    copy_job job = {.src = &src, .dst = &dst, .n_vec4 = (uint32_t)(size / 16), .wg = 256, .groups = 1024};
    if (!strcmp(dev->info.type, "cpu") && dev->info.subgroup_size) job.wg = dev->info.subgroup_size;
    if (div_up(job.n_vec4, job.wg) < job.groups) job.groups = div_up(job.n_vec4, job.wg);
    double t = 0;
    int repeats = 0;
    if (s == LVK_OK) s = bench_time_calls(g, record_copy, &job, 1, &t, &repeats);
    if (s == LVK_OK) s = bench_download(g, &dst, size, back);
    if (s == LVK_OK && memcmp(pattern, back, size) != 0)
        s = status_fail(LVK_ERR_DEVICE, "bench_copy.comp copied wrong values: no figure");
    if (s == LVK_OK) {
        *gbps = 2.0 * size / t / 1e9;
        printf("copy: %.0f MiB -> %.0f MiB in %.3f ms (median of %d runs of %d copies; workgroup %u x %u): "
               "%.1f GB/s read + write\n", size / 1048576.0, size / 1048576.0, t * 1e3, BENCH_RUNS, repeats, job.wg,
               job.groups, *gbps);
    }
    vk_buffer_free_views(dev, &src);
    vk_arena_free(&a);
    free(pattern);
    free(back);
    return s;
}
