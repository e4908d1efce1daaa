/* bench_gpu.c — timing kernels on a Vulkan device for litevk-bench. */
#include "bench_gpu.h"
#include "formats/quant.h"
#include "status.h"
#include "synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

gpu_params *bench_gpu_params(bench_gpu *g) { return (gpu_params *)g->params.mapped; }

lvk_status bench_gpu_open(bench_gpu *g) {
    const char *validate = getenv("LITEVK_VALIDATE");
    memset(g, 0, sizeof *g);
    LVK_TRY(vk_device_create(&g->dev, getenv("LITEVK_DEVICE"),
                             validate && validate[0] && strcmp(validate, "0") != 0));
    vk_device *dev = g->dev;
    g->tuning = gpu_tuning_for(dev);
    vk_arena_init(&g->host, dev, 1);
    /* Params as in shaders/common.glsl: n_tokens (offset 0) = 1 column, pos 0 */
    LVK_TRY(vk_arena_alloc(&g->host, sizeof(gpu_params), &g->params));
    memset(g->params.mapped, 0, sizeof(gpu_params));
    g->params.mapped[0] = 1; /* n_tokens */
    VkCommandPoolCreateInfo cpi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .queueFamilyIndex = dev->queue_family};
    LVK_TRY(vk_check(vkCreateCommandPool(dev->device, &cpi, NULL, &g->pool), "vkCreateCommandPool"));
    LVK_TRY(vk_descriptor_pool_create(dev, BENCH_MAX_DISPATCHES, &g->sets));
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    return vk_check(vkCreateFence(dev->device, &fi, NULL, &g->fence), "vkCreateFence");
}

void bench_gpu_close(bench_gpu *g) {
    if (!g->dev) return;
    VkDevice d = g->dev->device;
    vkDeviceWaitIdle(d);
    if (g->fence) vkDestroyFence(d, g->fence, NULL);
    if (g->sets) vkDestroyDescriptorPool(d, g->sets, NULL);
    if (g->pool) vkDestroyCommandPool(d, g->pool, NULL);
    vk_arena_free(&g->host);
    vk_device_free(g->dev);
    memset(g, 0, sizeof *g);
}

static lvk_status begin_cmd(bench_gpu *g, VkCommandBuffer *cmd) {
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = g->pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    LVK_TRY(vk_check(vkAllocateCommandBuffers(g->dev->device, &ai, cmd), "vkAllocateCommandBuffers"));
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    return vk_check(vkBeginCommandBuffer(*cmd, &bi), "vkBeginCommandBuffer");
}

static void memory_barrier(VkCommandBuffer cmd, VkPipelineStageFlags src_stage, VkAccessFlags src,
                           VkPipelineStageFlags dst_stage, VkAccessFlags dst) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = src, .dstAccessMask = dst};
    vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 1, &mb, 0, NULL, 0, NULL);
}

lvk_status bench_download(bench_gpu *g, const vk_buffer *src, VkDeviceSize size, void *out) {
    vk_arena a;
    vk_arena_init(&a, g->dev, 1);
    vk_buffer host;
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    lvk_status s = vk_arena_alloc(&a, size, &host);
    if (s == LVK_OK) s = begin_cmd(g, &cmd);
    if (s == LVK_OK) {
        memory_barrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                       VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT);
        VkBufferCopy region = {0, 0, size};
        vkCmdCopyBuffer(cmd, src->buffer, host.buffer, 1, &region);
        memory_barrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                       VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
        s = vk_check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
    }
    if (s == LVK_OK) s = vk_submit_wait(g->dev, cmd, g->fence);
    if (s == LVK_OK) memcpy(out, host.mapped, size);
    if (cmd) vkFreeCommandBuffers(g->dev->device, g->pool, 1, &cmd);
    vk_arena_free(&a);
    return s;
}

/* A command buffer of `repeats` calls, each followed by a barrier: every call
 * writes the same output, and the barrier keeps the calls from overlapping. */
static lvk_status record_calls(bench_gpu *g, bench_record_fn fn, const void *job, int repeats, VkCommandBuffer *cmd) {
    LVK_TRY(begin_cmd(g, cmd));
    vk_recorder r = {.dev = g->dev, .pool = g->sets, .params = &g->params, .cmd = *cmd, .status = LVK_OK};
    for (int i = 0; i < repeats; i++) {
        fn(&r, job, i);
        vk_record_barrier(&r);
    }
    LVK_TRY(r.status);
    return vk_check(vkEndCommandBuffer(*cmd), "vkEndCommandBuffer");
}

lvk_status bench_time_calls(bench_gpu *g, bench_record_fn fn, const void *job, uint32_t dispatches_per_call,
                             double *seconds, int *repeats) {
    VkCommandBuffer one, many;
    LVK_TRY(record_calls(g, fn, job, 1, &one));
    LVK_TRY(vk_submit_wait(g->dev, one, g->fence));
    double t0 = now_s();
    LVK_TRY(vk_submit_wait(g->dev, one, g->fence));
    double t_one = now_s() - t0;
    int max_repeats = (int)(BENCH_MAX_DISPATCHES / dispatches_per_call) - 1;
    int n = t_one > 0 ? (int)(BENCH_TARGET_RUN_S / t_one) : max_repeats;
    n = n < 3 ? 3 : n > max_repeats ? max_repeats : n;
    LVK_TRY(record_calls(g, fn, job, n, &many));
    double runs[BENCH_RUNS];
    for (int i = 0; i < BENCH_RUNS; i++) {
        t0 = now_s();
        LVK_TRY(vk_submit_wait(g->dev, many, g->fence));
        runs[i] = (now_s() - t0) / n;
    }
    *seconds = bench_median(runs, BENCH_RUNS);
    *repeats = n;
    vkResetCommandPool(g->dev->device, g->pool, 0);
    return vk_check(vkResetDescriptorPool(g->dev->device, g->sets, 0), "vkResetDescriptorPool");
}


weight_tensor bench_random_matrix(uint32_t type, uint64_t rows, uint64_t cols, uint64_t seed) {
    uint64_t row_bytes = cols / ggml_block_elems(type) * ggml_block_bytes(type);
    weight_tensor w = {.type = type, .rows = rows, .cols = cols, .n_bytes = rows * row_bytes};
    uint8_t *data = malloc(w.n_bytes);
    float *row = malloc(cols * sizeof *row);
    if (data && row) {
        float scale = 1.0f / sqrtf((float)cols);
        for (uint64_t r = 0; r < rows; r++) {
            for (uint64_t c = 0; c < cols; c++) row[c] = scale * synth_uniform(&seed);
            quantize_row(type, row, data + r * row_bytes, cols);
        }
        w.data = data;
    } else {
        free(data);
    }
    free(row);
    return w;
}

