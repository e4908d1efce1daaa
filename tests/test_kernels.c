/* test_kernels.c — the mat-vec kernel alone against ref_matvec, for every
 * weight type, with odd shapes: rows not a multiple of the rows per workgroup,
 * float rows not a multiple of 4 (padding), 1 to 8 token columns, and the
 * accumulate (residual add) mode. The whole-forward tests cover the other
 * kernels at every position of odd-shaped models. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_forward.h"
#include "quant.h"
#include "gpu_test.h"
#include "reference.h"

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}


/* y[c] (+)= W x[c] on the GPU for n_cols columns, compared with the reference. */
static void check_matvec(uint32_t type, uint32_t rows, uint32_t cols, uint32_t n_cols, uint32_t accumulate) {
    uint64_t seed = rows * 131u + cols * 7u + type;
    uint32_t be = type == GGML_F32 || type == GGML_F16 ? 1 : 32;
    size_t row_bytes = (size_t)cols / be * ggml_block_bytes(type);
    float *wf = malloc((size_t)rows * cols * 4), *x = malloc((size_t)8 * cols * 4), *y0 = malloc((size_t)8 * rows * 4);
    uint8_t *wq = malloc(rows * row_bytes);
    for (size_t i = 0; i < (size_t)rows * cols; i++) wf[i] = frand(&seed);
    for (uint32_t r = 0; r < rows; r++) lvk_quantize_row(type, wf + (size_t)r * cols, wq + r * row_bytes, cols);
    uint32_t x_stride = (cols + 7) & ~7u, y_stride = rows + 3;
    float *xg = calloc((size_t)8 * x_stride, 4), *yg = calloc((size_t)8 * y_stride, 4);
    for (uint32_t c = 0; c < 8; c++)
        for (uint32_t k = 0; k < cols; k++) xg[c * x_stride + k] = x[c * cols + k] = frand(&seed);
    for (uint32_t c = 0; c < 8; c++)
        for (uint32_t r = 0; r < rows; r++) yg[c * y_stride + r] = y0[c * rows + r] = frand(&seed);

    size_t packed = gpu_row_bytes(type, cols) * rows + 4;
    uint8_t *pw = calloc(1, packed);
    uint32_t scale_off = gpu_repack(type, wq, rows, cols, pw);

    vk_arena arena, host;
    vk_arena_init(&arena, test_device, 0);
    vk_arena_init(&host, test_device, 1);
    vk_buffer params, W, X, Y;
    assert_int_equal(vk_arena_alloc(&host, sizeof(gpu_params), &params), LVK_OK);
    assert_int_equal(vk_arena_alloc(&host, (VkDeviceSize)8 * y_stride * 4, &Y), LVK_OK);
    assert_int_equal(vk_arena_alloc(&arena, packed, &W), LVK_OK);
    assert_int_equal(vk_arena_alloc(&arena, (VkDeviceSize)8 * x_stride * 4, &X), LVK_OK);
    assert_int_equal(vk_buffer_write(test_device, &W, 0, pw, packed), LVK_OK);
    assert_int_equal(vk_buffer_texel_views(test_device, &W), LVK_OK);
    assert_int_equal(vk_buffer_write(test_device, &X, 0, xg, (VkDeviceSize)8 * x_stride * 4), LVK_OK);
    memcpy(Y.mapped, yg, (size_t)8 * y_stride * 4);
    gpu_params p = {.n_tokens = n_cols};
    memcpy(params.mapped, &p, sizeof p);

    VkDescriptorPool pool;
    assert_int_equal(vk_descriptor_pool_create(test_device, 1, &pool), LVK_OK);
    VkCommandPoolCreateInfo cpi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, .queueFamilyIndex = test_device->queue_family};
    VkCommandPool cmd_pool;
    assert_int_equal(vkCreateCommandPool(test_device->device, &cpi, NULL, &cmd_pool), VK_SUCCESS);
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = cmd_pool,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1};
    VkCommandBuffer cmd;
    assert_int_equal(vkAllocateCommandBuffers(test_device->device, &cai, &cmd), VK_SUCCESS);
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkFence fence;
    assert_int_equal(vkCreateFence(test_device->device, &fi, NULL, &fence), VK_SUCCESS);

    gpu_tuning t = gpu_tuning_for(test_device);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    vkBeginCommandBuffer(cmd, &bi);
    vk_recorder rec = {test_device, pool, &params, cmd, LVK_OK};
    uint32_t spec[] = {t.matvec_wg, t.matvec_rows, 8, type, 0, 0}; /* no norm; y (+)= W x */
    uint32_t units = type == GGML_F32 || type == GGML_F16 ? x_stride / 8 : cols / 8;
    uint32_t push[15] = {rows, units, x_stride, y_stride, 0, 0, scale_off, accumulate}; /* shaders/matvec.comp Push */
    const vk_buffer *bufs[] = {&X, &Y, &X, &X, &X, &X}; /* bindings 3-6 are unused in this form */
    vk_record_dispatch(&rec, "matvec", spec, 6, &W, bufs, 6, push, sizeof push, (rows + t.matvec_rows - 1) / t.matvec_rows, 1);
    VkMemoryBarrier to_host = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                               .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, NULL, 0, NULL);
    assert_int_equal(rec.status, LVK_OK);
    vkEndCommandBuffer(cmd);
    assert_int_equal(vk_submit_wait(test_device, cmd, fence), LVK_OK);

    lvk_weight w = {type, rows, cols, wq, rows * row_bytes};
    float *ref = malloc((size_t)rows * 4), *row_buf = malloc((size_t)cols * 4);
    const float *gpu = (const float *)Y.mapped;
    for (uint32_t c = 0; c < 8; c++) {
        ref_matvec(ref, &w, x + (size_t)c * cols, row_buf);
        for (uint32_t r = 0; r < rows; r++) {
            /* columns >= n_cols must stay untouched */
            float want = c >= n_cols ? y0[c * rows + r] : ref[r] + (accumulate ? y0[c * rows + r] : 0.0f);
            float got = gpu[c * y_stride + r];
            if (fabsf(got - want) > 1e-4f * (1.0f + fabsf(want)))
                fail_msg("%s %ux%u cols=%u acc=%u: y[%u][%u] = %g, reference %g", ggml_type_name(type), rows, cols,
                         n_cols, accumulate, c, r, got, want);
        }
        for (uint32_t r = rows; r < y_stride; r++) assert_true(gpu[c * y_stride + r] == 0.0f); /* no write past rows */
    }
    vkDestroyFence(test_device->device, fence, NULL);
    vkDestroyCommandPool(test_device->device, cmd_pool, NULL);
    vkDestroyDescriptorPool(test_device->device, pool, NULL);
    vk_buffer_free_views(test_device, &W);
    vk_arena_free(&arena);
    vk_arena_free(&host);
    free(wf); free(x); free(y0); free(wq); free(xg); free(yg); free(pw); free(ref); free(row_buf);
}

static void test_matvec_f32(void **state) {
    (void)state;
    check_matvec(GGML_F32, 37, 101, 1, 0); /* 101: not a multiple of 4 */
    check_matvec(GGML_F32, 61, 64, 8, 1);
    check_matvec(GGML_F32, 5, 3, 5, 0);
}

static void test_matvec_f16(void **state) {
    (void)state;
    check_matvec(GGML_F16, 37, 102, 1, 0);
    check_matvec(GGML_F16, 83, 250, 7, 1);
}

static void test_matvec_q8_0(void **state) {
    (void)state;
    check_matvec(GGML_Q8_0, 37, 96, 1, 0); /* odd number of blocks per row: scales straddle words */
    check_matvec(GGML_Q8_0, 131, 320, 8, 1);
}

static void test_matvec_q4_0(void **state) {
    (void)state;
    check_matvec(GGML_Q4_0, 37, 96, 3, 0);
    check_matvec(GGML_Q4_0, 129, 544, 8, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matvec_f32),
        cmocka_unit_test(test_matvec_f16),
        cmocka_unit_test(test_matvec_q8_0),
        cmocka_unit_test(test_matvec_q4_0),
    };
    return cmocka_run_group_tests(tests, test_device_setup, test_device_teardown);
}
