/* test_kernels.c — the mat-vec and embedding kernels alone against the
 * plain-C reference, for every weight type, with odd shapes: rows not a
 * multiple of the rows per workgroup, float rows not a multiple of 4
 * (padding), 1 to 8 token columns, the accumulate (residual add) and fused
 * RMSNorm modes, embedding tables in several row parts. The whole-forward
 * tests cover the other kernels at every position of odd-shaped models. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward/gpu_forward.h"
#include "formats/quant.h"
#include "gpu_test.h"
#include "forward/reference.h"

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

/* A random [rows][cols] matrix in ggml's `type` layout. */
static uint8_t *random_matrix(uint32_t type, uint32_t rows, uint32_t cols, uint64_t *seed, size_t *row_bytes) {
    *row_bytes = (size_t)cols / ggml_block_elems(type) * ggml_block_bytes(type);
    float *wf = malloc((size_t)cols * 4);
    uint8_t *wq = malloc(rows * *row_bytes);
    for (uint32_t r = 0; r < rows; r++) {
        for (uint32_t k = 0; k < cols; k++) wf[k] = frand(seed);
        quantize_row(type, wf, wq + r * *row_bytes, cols);
    }
    free(wf);
    return wq;
}

/* One command buffer of dispatches, its buffers and the params every kernel reads. */
typedef struct gpu_run {
    vk_arena arena, host;
    vk_buffer params;
    VkDescriptorPool pool;
    VkCommandPool cmd_pool;
    VkCommandBuffer cmd;
    VkFence fence;
    vk_recorder rec;
    gpu_tuning tuning;
    vk_buffer *weights[4]; /* buffers whose texel views are freed with the run */
    int n_weights;
} gpu_run;

/* Rows [row_begin, row_begin + rows) of a ggml matrix in the GPU layout, in a
 * device buffer with its texel views; returns the scales' word offset. */
static uint32_t upload_rows(gpu_run *g, uint32_t type, const uint8_t *wq, size_t row_bytes, uint32_t row_begin,
                            uint32_t rows, uint32_t cols, vk_buffer *out) {
    size_t packed = gpu_row_bytes(type, cols) * rows + 4;
    uint8_t *pw = calloc(1, packed);
    uint32_t scale_off;
    assert_int_equal(gpu_repack(type, wq + row_begin * row_bytes, rows, cols, pw, &scale_off), LVK_OK);
    assert_int_equal(vk_arena_alloc(&g->arena, packed, out), LVK_OK);
    assert_int_equal(vk_buffer_write(test_device, out, 0, pw, packed), LVK_OK);
    assert_int_equal(vk_buffer_texel_views(test_device, out), LVK_OK);
    assert_true(g->n_weights < 4);
    g->weights[g->n_weights++] = out;
    free(pw);
    return scale_off;
}

static void run_begin(gpu_run *g, const gpu_params *p) {
    vk_arena_init(&g->arena, test_device, 0);
    vk_arena_init(&g->host, test_device, 1);
    assert_int_equal(vk_arena_alloc(&g->host, sizeof(gpu_params), &g->params), LVK_OK);
    memcpy(g->params.mapped, p, sizeof *p);
    assert_int_equal(vk_descriptor_pool_create(test_device, 4, &g->pool), LVK_OK);
    g->n_weights = 0;
    VkCommandPoolCreateInfo cpi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO, .queueFamilyIndex = test_device->queue_family};
    assert_int_equal(vkCreateCommandPool(test_device->device, &cpi, NULL, &g->cmd_pool), VK_SUCCESS);
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = g->cmd_pool,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1};
    assert_int_equal(vkAllocateCommandBuffers(test_device->device, &cai, &g->cmd), VK_SUCCESS);
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    assert_int_equal(vkCreateFence(test_device->device, &fi, NULL, &g->fence), VK_SUCCESS);
    g->tuning = gpu_tuning_for(test_device);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    vkBeginCommandBuffer(g->cmd, &bi);
    g->rec = (vk_recorder){.dev = test_device, .pool = g->pool, .params = &g->params, .cmd = g->cmd, .status = LVK_OK};
}

/* Ends the command buffer, runs it and makes its writes visible to the host. */
static void run_submit(gpu_run *g) {
    vk_record_barrier_host(&g->rec);
    assert_int_equal(g->rec.status, LVK_OK);
    vkEndCommandBuffer(g->cmd);
    assert_int_equal(vk_submit_wait(test_device, g->cmd, g->fence), LVK_OK);
}

static void run_free(gpu_run *g) {
    vkDestroyFence(test_device->device, g->fence, NULL);
    vkDestroyCommandPool(test_device->device, g->cmd_pool, NULL);
    vkDestroyDescriptorPool(test_device->device, g->pool, NULL);
    for (int i = 0; i < g->n_weights; i++) vk_buffer_free_views(test_device, g->weights[i]);
    vk_arena_free(&g->arena);
    vk_arena_free(&g->host);
}

/* y[c] (+)= W x[c] (NORM: W rmsnorm(x[c]) * norm_w) on the GPU for n_cols
 * columns, compared with the reference. */
static void check_matvec(uint32_t type, uint32_t rows, uint32_t cols, uint32_t n_cols, uint32_t accumulate,
                         uint32_t norm) {
    uint64_t seed = rows * 131u + cols * 7u + type;
    size_t row_bytes;
    uint8_t *wq = random_matrix(type, rows, cols, &seed, &row_bytes);
    uint32_t x_stride = (cols + 7) & ~7u, y_stride = rows + 3;
    float *x = malloc((size_t)8 * cols * 4), *y0 = malloc((size_t)8 * rows * 4), *norm_w = calloc(x_stride, 4);
    float *xg = calloc((size_t)8 * x_stride, 4);
    for (uint32_t c = 0; c < 8; c++)
        for (uint32_t k = 0; k < cols; k++) xg[c * x_stride + k] = x[c * cols + k] = frand(&seed);
    for (uint32_t c = 0; c < 8; c++)
        for (uint32_t r = 0; r < rows; r++) y0[c * rows + r] = frand(&seed);
    for (uint32_t k = 0; k < cols; k++) norm_w[k] = 1.0f + 0.5f * frand(&seed);

    gpu_run g;
    run_begin(&g, &(gpu_params){.n_tokens = n_cols});
    vk_buffer W, X, Y, N;
    uint32_t scale_off = upload_rows(&g, type, wq, row_bytes, 0, rows, cols, &W);
    assert_int_equal(vk_arena_alloc(&g.arena, (VkDeviceSize)8 * x_stride * 4, &X), LVK_OK);
    assert_int_equal(vk_arena_alloc(&g.arena, (VkDeviceSize)x_stride * 4, &N), LVK_OK);
    assert_int_equal(vk_arena_alloc(&g.host, (VkDeviceSize)8 * y_stride * 4, &Y), LVK_OK);
    assert_int_equal(vk_buffer_write(test_device, &X, 0, xg, (VkDeviceSize)8 * x_stride * 4), LVK_OK);
    assert_int_equal(vk_buffer_texel_views(test_device, &X), LVK_OK); /* the mat-vec reads x as texels */
    g.weights[g.n_weights++] = &X;
    assert_int_equal(vk_buffer_write(test_device, &N, 0, norm_w, (VkDeviceSize)x_stride * 4), LVK_OK);
    float *yg = (float *)Y.mapped;
    memset(yg, 0, (size_t)8 * y_stride * 4);
    for (uint32_t c = 0; c < 8; c++) memcpy(yg + c * y_stride, y0 + c * rows, (size_t)rows * 4);

    const float eps = 1e-5f;
    const uint32_t rows_per_wg = gpu_matvec_rows(&g.tuning, 8, 0);
    uint32_t spec[MATVEC_N_SPEC] = {[MATVEC_WG] = g.tuning.matvec_wg, [MATVEC_ROWS] = rows_per_wg,
                                    [MATVEC_COLUMNS] = 8, [MATVEC_TYPE] = type, [MATVEC_NORM] = norm,
                                    [MATVEC_OUT] = OUT_Y}; /* y (+)= W x */
    gpu_matvec_push push = {.rows = rows, .units = gpu_row_units(type, cols), .x_stride = x_stride, .y_stride = y_stride,
                            .scale_off = scale_off, .accumulate = accumulate, .norm_n = cols, .norm_eps = eps};
    const vk_buffer *bufs[] = {&X, &Y, &N, &X, &X, &X, &X}; /* bindings 4-7 are unused with OUT_Y */
    vk_record_dispatch(&g.rec, "matvec", spec, MATVEC_N_SPEC, &W, bufs, 7, &push, sizeof push,
                       1, (rows + rows_per_wg - 1) / rows_per_wg); /* one tile of 8 columns, the row groups */
    run_submit(&g);

    weight_tensor w = {.type = type, .rows = rows, .cols = cols, .data = wq, .n_bytes = rows * row_bytes};
    float *ref = malloc((size_t)rows * 4), *row_buf = malloc((size_t)cols * 4), *xn = malloc((size_t)cols * 4);
    for (uint32_t c = 0; c < 8; c++) {
        if (norm) ref_rmsnorm(xn, x + (size_t)c * cols, norm_w, (int)cols, eps);
        ref_matvec(ref, &w, norm ? xn : x + (size_t)c * cols, row_buf);
        for (uint32_t r = 0; r < rows; r++) {
            /* columns >= n_cols must stay untouched */
            float want = c >= n_cols ? y0[c * rows + r] : ref[r] + (accumulate ? y0[c * rows + r] : 0.0f);
            float got = yg[c * y_stride + r];
            if (fabsf(got - want) > 1e-4f * (1.0f + fabsf(want)))
                fail_msg("%s %ux%u cols=%u acc=%u norm=%u: y[%u][%u] = %g, reference %g", ggml_type_name(type), rows,
                         cols, n_cols, accumulate, norm, c, r, got, want);
        }
        for (uint32_t r = rows; r < y_stride; r++) assert_true(yg[c * y_stride + r] == 0.0f); /* no write past rows */
    }
    run_free(&g);
    free(wq); free(x); free(y0); free(norm_w); free(xg); free(ref); free(row_buf); free(xn);
}

/* x[c] = row tokens[c] of a [rows][cols] table held in n_parts row parts (one
 * dispatch each, as the forward pass does), for n_cols of 8 columns: each must
 * equal the dequantised row exactly (the same f32 operations as ggml's), and
 * the other columns keep their x. */
static void check_embed(uint32_t type, uint32_t rows, uint32_t cols, uint32_t n_cols, uint32_t n_parts) {
    uint64_t seed = rows * 31u + cols + type;
    size_t row_bytes;
    uint8_t *wq = random_matrix(type, rows, cols, &seed, &row_bytes);
    uint32_t x_stride = (cols + 7) & ~7u, units = gpu_row_units(type, cols), part_rows = (rows + n_parts - 1) / n_parts;
    gpu_params p = {.n_tokens = n_cols};
    for (uint32_t c = 0; c < 8; c++) p.tokens[c] = c == 0 ? rows - 1 : (c * 7919u) % rows; /* the last row too */

    gpu_run g;
    run_begin(&g, &p);
    vk_buffer X, W[4];
    assert_true(n_parts <= 4);
    assert_int_equal(vk_arena_alloc(&g.host, (VkDeviceSize)8 * x_stride * 4, &X), LVK_OK);
    float *xg = (float *)X.mapped;
    for (uint32_t i = 0; i < 8 * x_stride; i++) xg[i] = -1234.5f;
    uint32_t spec[] = {g.tuning.map_wg, type};
    for (uint32_t part = 0; part < n_parts; part++) {
        uint32_t begin = part * part_rows, n = rows - begin < part_rows ? rows - begin : part_rows;
        gpu_embed_push push = {.units = units, .x_stride = x_stride,
                               .scale_off = upload_rows(&g, type, wq, row_bytes, begin, n, cols, &W[part]),
                               .row_begin = begin, .rows = n};
        const vk_buffer *bufs[] = {&X};
        vk_record_dispatch(&g.rec, "embed", spec, 2, &W[part], bufs, 1, &push, sizeof push, (units + spec[0] - 1) / spec[0], 8);
    }
    run_submit(&g);

    float *want = malloc((size_t)cols * 4);
    for (uint32_t c = 0; c < 8; c++) {
        dequantize_row(type, wq + p.tokens[c] * row_bytes, want, cols);
        for (uint32_t k = 0; k < cols; k++) {
            float expect = c < n_cols ? want[k] : -1234.5f;
            if (xg[c * x_stride + k] != expect)
                fail_msg("%s %ux%u in %u parts: x[%u][%u] (row %u) = %g, expected %g", ggml_type_name(type), rows,
                         cols, n_parts, c, k, p.tokens[c], xg[c * x_stride + k], expect);
        }
    }
    run_free(&g);
    free(wq);
    free(want);
}

static void test_matvec_f32(void **state) {
    (void)state;
    check_matvec(GGML_F32, 37, 101, 1, 0, 0); /* 101: not a multiple of 4 */
    check_matvec(GGML_F32, 61, 64, 8, 1, 0);
    check_matvec(GGML_F32, 5, 3, 5, 0, 1);
}

static void test_matvec_f16(void **state) {
    (void)state;
    check_matvec(GGML_F16, 37, 102, 1, 0, 0);
    check_matvec(GGML_F16, 83, 250, 7, 1, 1);
}

static void test_matvec_bf16(void **state) {
    (void)state;
    check_matvec(GGML_BF16, 37, 102, 1, 0, 0);
    check_matvec(GGML_BF16, 83, 250, 7, 1, 1);
}

static void test_matvec_q8_0(void **state) {
    (void)state;
    check_matvec(GGML_Q8_0, 37, 96, 1, 0, 0); /* odd number of blocks per row: scales straddle words */
    check_matvec(GGML_Q8_0, 131, 320, 8, 1, 1);
}

static void test_matvec_q4_0(void **state) {
    (void)state;
    check_matvec(GGML_Q4_0, 37, 96, 3, 0, 0);
    check_matvec(GGML_Q4_0, 129, 544, 8, 1, 1);
}

static void test_matvec_q4_1(void **state) {
    (void)state;
    check_matvec(GGML_Q4_1, 37, 96, 3, 0, 0);
    check_matvec(GGML_Q4_1, 129, 544, 8, 1, 1);
}

static void test_matvec_q5_0(void **state) {
    (void)state;
    check_matvec(GGML_Q5_0, 37, 96, 1, 0, 0);
    check_matvec(GGML_Q5_0, 131, 320, 8, 1, 1);
}

static void test_matvec_q5_1(void **state) {
    (void)state;
    check_matvec(GGML_Q5_1, 19, 160, 5, 1, 0);
    check_matvec(GGML_Q5_1, 129, 544, 8, 0, 1);
}

static void test_matvec_q4_k(void **state) {
    (void)state;
    check_matvec(GGML_Q4_K, 37, 256, 1, 0, 0);
    check_matvec(GGML_Q4_K, 131, 768, 8, 1, 0); /* 3 super-blocks a row */
    check_matvec(GGML_Q4_K, 19, 512, 5, 0, 1);
}

static void test_matvec_q5_k(void **state) {
    (void)state;
    check_matvec(GGML_Q5_K, 37, 256, 1, 0, 0);
    check_matvec(GGML_Q5_K, 131, 768, 8, 1, 0);
    check_matvec(GGML_Q5_K, 19, 512, 6, 1, 1);
}

static void test_matvec_q6_k(void **state) {
    (void)state;
    check_matvec(GGML_Q6_K, 37, 256, 2, 0, 0);
    check_matvec(GGML_Q6_K, 131, 768, 8, 1, 0);
    check_matvec(GGML_Q6_K, 19, 512, 6, 1, 1);
}

static void test_embed(void **state) {
    (void)state;
    check_embed(GGML_F32, 37, 101, 3, 1);
    check_embed(GGML_F16, 41, 250, 8, 3);
    check_embed(GGML_BF16, 29, 250, 6, 2);
    check_embed(GGML_Q4_1, 37, 96, 5, 2);
    check_embed(GGML_Q5_0, 41, 544, 8, 3);
    check_embed(GGML_Q5_1, 23, 160, 7, 1);
    check_embed(GGML_Q5_K, 37, 768, 8, 3);
    check_embed(GGML_Q8_0, 37, 96, 5, 2);
    check_embed(GGML_Q4_0, 53, 544, 8, 3);
    check_embed(GGML_Q4_K, 37, 768, 8, 3);
    check_embed(GGML_Q4_K, 5, 256, 1, 1);
    check_embed(GGML_Q6_K, 61, 512, 7, 4);
    check_embed(GGML_Q6_K, 3, 256, 8, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matvec_f32),
        cmocka_unit_test(test_matvec_f16),
        cmocka_unit_test(test_matvec_bf16),
        cmocka_unit_test(test_matvec_q8_0),
        cmocka_unit_test(test_matvec_q4_0),
        cmocka_unit_test(test_matvec_q4_1),
        cmocka_unit_test(test_matvec_q5_0),
        cmocka_unit_test(test_matvec_q5_1),
        cmocka_unit_test(test_matvec_q4_k),
        cmocka_unit_test(test_matvec_q5_k),
        cmocka_unit_test(test_matvec_q6_k),
        cmocka_unit_test(test_embed),
    };
    return cmocka_run_group_tests(tests, test_device_setup, test_device_teardown);
}
