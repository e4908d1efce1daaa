/* test_kernels.c — kernels alone against the plain-C reference, with odd
 * shapes: the mat-vec and embedding for every weight type (rows not a
 * multiple of the rows per workgroup, float rows not a multiple of 4, 1 to 8
 * token columns, the accumulate and fused RMSNorm modes, embedding tables in
 * several row parts); attention (grouped queries, masked positions, split
 * flash-decoding when the tuning splits); SwiGLU; the exit gate. The
 * whole-forward tests cover RoPE and the heads' epilogues at every position
 * of odd-shaped models. */
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
#include "util.h"

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

/* hb[c] = silu(gate) * up for n_cols of 8 columns of [gate rows 0..n-1, up
 * rows n..2n-1] (a stride apart), as the forward pass runs it where gate and
 * up could not be interleaved; the other columns and the up rows stay. */
static void check_swiglu(uint32_t n, uint32_t n_cols) {
    uint64_t seed = n * 17u + n_cols;
    const uint32_t stride = 2 * (uint32_t)pad8(n);
    float *h0 = malloc((size_t)8 * stride * 4);
    for (uint32_t i = 0; i < 8 * stride; i++) h0[i] = 4.0f * frand(&seed); /* silu's bend and both tails */

    gpu_run g;
    run_begin(&g, &(gpu_params){.n_tokens = n_cols});
    vk_buffer H;
    assert_int_equal(vk_arena_alloc(&g.host, (VkDeviceSize)8 * stride * 4, &H), LVK_OK);
    float *hg = (float *)H.mapped;
    memcpy(hg, h0, (size_t)8 * stride * 4);
    uint32_t spec[] = {g.tuning.map_wg};
    gpu_swiglu_push push = {.n = n, .stride = stride};
    const vk_buffer *bufs[] = {&H};
    vk_record_dispatch(&g.rec, "swiglu", spec, 1, NULL, bufs, 1, &push, sizeof push, div_up(n, spec[0]), 8);
    run_submit(&g);

    float *want = malloc((size_t)stride * 4);
    for (uint32_t c = 0; c < 8; c++) {
        memcpy(want, h0 + c * stride, (size_t)stride * 4);
        if (c < n_cols) ref_swiglu(want, want + n, (int)n);
        for (uint32_t i = 0; i < stride; i++) {
            float got = hg[c * stride + i];
            if (fabsf(got - want[i]) > 1e-5f * (1.0f + fabsf(want[i])))
                fail_msg("swiglu n=%u cols=%u: h[%u][%u] = %g, reference %g", n, n_cols, c, i, got, want[i]);
        }
    }
    run_free(&g);
    free(h0);
    free(want);
}

/* The f16 pairs of v[n] as the KV cache holds them; v is rounded to f16 in place. */
static void to_f16_words(float *v, uint32_t *words, size_t n) {
    for (size_t i = 0; i < n; i += 2) {
        uint16_t lo = f32_to_f16(v[i]), hi = f32_to_f16(v[i + 1]);
        v[i] = f16_to_f32(lo), v[i + 1] = f16_to_f32(hi);
        words[i / 2] = lo | (uint32_t)hi << 16;
    }
}

/* Attention of n_cols columns at positions pos.. (column c over positions
 * 0..pos+c), n_heads query heads sharing n_kv_heads key/value heads, in the
 * tuning's split count (flash-decoding: LITEVK_ATTN_SPLITS=3 merges 3
 * shares); with `masked`, earlier positions whose depth is at most the block
 * (KV fill `none`: their K/V were never written) are left out. */
static void check_attention(uint32_t n_heads, uint32_t n_kv_heads, uint32_t head_dim, uint32_t pos, uint32_t n_cols,
                            uint32_t masked) {
    uint64_t seed = n_heads * 1009u + head_dim * 31u + pos + n_cols + masked;
    const uint32_t layer = 2, n_ctx = pos + 8 + 3, kv_dim = n_kv_heads * head_dim, group = n_heads / n_kv_heads;
    const uint32_t q_stride = (uint32_t)pad8(n_heads * head_dim) + 8; /* a gap after the heads: it must stay unwritten */
    gpu_params p = {.n_tokens = n_cols, .pos = pos};
    gpu_run g;
    run_begin(&g, &p);
    const uint32_t splits = g.tuning.attn_splits, shares_at = 8 * n_heads;

    float *q = malloc((size_t)8 * q_stride * 4), *k = malloc((size_t)n_ctx * kv_dim * 4);
    float *v = malloc((size_t)n_ctx * kv_dim * 4);
    uint32_t *k_words = malloc((size_t)n_ctx * kv_dim * 2), *v_words = malloc((size_t)n_ctx * kv_dim * 2);
    for (uint32_t i = 0; i < 8 * q_stride; i++) q[i] = 2.0f * frand(&seed);
    for (size_t i = 0; i < (size_t)n_ctx * kv_dim; i++) k[i] = 2.0f * frand(&seed), v[i] = frand(&seed);
    to_f16_words(k, k_words, (size_t)n_ctx * kv_dim);
    to_f16_words(v, v_words, (size_t)n_ctx * kv_dim);
    uint32_t *depth = calloc(n_ctx, 4);
    for (uint32_t t = 0; t < n_ctx; t++) depth[t] = t % 3 == 1 ? layer : layer + 1; /* every third exited before */

    vk_buffer Q, K, V, scores, out, D, shares;
    const VkDeviceSize out_bytes = (VkDeviceSize)8 * q_stride * 4;
    assert_int_equal(vk_arena_alloc(&g.arena, (VkDeviceSize)8 * q_stride * 4, &Q), LVK_OK);
    assert_int_equal(vk_arena_alloc(&g.arena, (VkDeviceSize)n_ctx * kv_dim * 2, &K), LVK_OK);
    assert_int_equal(vk_arena_alloc(&g.arena, (VkDeviceSize)n_ctx * kv_dim * 2, &V), LVK_OK);
    assert_int_equal(vk_arena_alloc(&g.arena, (VkDeviceSize)8 * n_heads * n_ctx * 4, &scores), LVK_OK);
    assert_int_equal(vk_arena_alloc(&g.host, out_bytes, &out), LVK_OK);
    assert_int_equal(vk_arena_alloc(&g.host, (VkDeviceSize)n_ctx * 4, &D), LVK_OK);
    /* the finished-share counters start at 0 (the merge puts them back), then the shares */
    const VkDeviceSize shares_bytes = ((VkDeviceSize)shares_at + (VkDeviceSize)shares_at * splits * (2 + head_dim)) * 4;
    assert_int_equal(vk_arena_alloc(&g.host, shares_bytes, &shares), LVK_OK);
    memset(shares.mapped, 0, shares_bytes);
    assert_int_equal(vk_buffer_write(test_device, &Q, 0, q, (VkDeviceSize)8 * q_stride * 4), LVK_OK);
    assert_int_equal(vk_buffer_write(test_device, &K, 0, k_words, (VkDeviceSize)n_ctx * kv_dim * 2), LVK_OK);
    assert_int_equal(vk_buffer_write(test_device, &V, 0, v_words, (VkDeviceSize)n_ctx * kv_dim * 2), LVK_OK);
    memcpy(D.mapped, depth, (size_t)n_ctx * 4);
    float *og = (float *)out.mapped;
    for (uint32_t i = 0; i < 8 * q_stride; i++) og[i] = -1234.5f;

    uint32_t spec[] = {g.tuning.reduce_wg, splits};
    gpu_attention_push push = {.head_dim = head_dim, .group = group, .kv_dim = kv_dim, .n_ctx = n_ctx,
                               .q_stride = q_stride, .n_heads = n_heads, .scale = 1.0f / sqrtf((float)head_dim),
                               .layer = layer, .masked = masked, .shares_at = shares_at};
    const vk_buffer *bufs[] = {&Q, &K, &V, &scores, &out, &D, &shares};
    vk_record_dispatch(&g.rec, "attention", spec, 2, NULL, bufs, 7, &push, sizeof push, n_heads * splits, 8);
    run_submit(&g);

    /* the reference over the positions a column sees, gathered: the masked ones left out */
    float *keys = malloc((size_t)n_ctx * head_dim * 4), *values = malloc((size_t)n_ctx * head_dim * 4);
    float *att = malloc((size_t)n_ctx * 4), *want = malloc((size_t)head_dim * 4);
    for (uint32_t c = 0; c < 8; c++)
        for (uint32_t h = 0; h < n_heads; h++) {
            uint32_t n_pos = 0;
            for (uint32_t t = 0; t <= pos + c; t++) {
                if (masked && t < pos && depth[t] <= layer) continue;
                memcpy(keys + n_pos * head_dim, k + (size_t)t * kv_dim + h / group * head_dim, (size_t)head_dim * 4);
                memcpy(values + n_pos * head_dim, v + (size_t)t * kv_dim + h / group * head_dim, (size_t)head_dim * 4);
                n_pos++;
            }
            ref_attention(want, q + c * q_stride + h * head_dim, keys, values, (int)n_pos, (int)head_dim,
                          (int)head_dim, att);
            for (uint32_t i = 0; i < head_dim; i++) {
                float got = og[c * q_stride + h * head_dim + i], expect = c < n_cols ? want[i] : -1234.5f;
                if (fabsf(got - expect) > 1e-4f * (1.0f + fabsf(expect)))
                    fail_msg("attention %u heads / %u kv heads x %u, pos %u, cols %u, masked %u, %u splits: "
                             "o[%u][head %u][%u] = %g, reference %g", n_heads, n_kv_heads, head_dim, pos, n_cols,
                             masked, splits, c, h, i, got, expect);
            }
        }
    for (uint32_t c = 0; c < 8; c++) /* nothing written between the columns' heads */
        for (uint32_t i = n_heads * head_dim; i < q_stride; i++) assert_true(og[c * q_stride + i] == -1234.5f);
    uint32_t *done = (uint32_t *)shares.mapped;
    for (uint32_t i = 0; i < shares_at; i++) assert_int_equal(done[i], 0); /* ready for the next dispatch */
    run_free(&g);
    free(q); free(k); free(v); free(k_words); free(v_words); free(depth);
    free(keys); free(values); free(att); free(want);
}

#define GATE_SLOTS 300 /* indirect dispatches of the test's pass: ranges wider than a workgroup */
#define GATE_UNTOUCHED 0xdeadbeefu

/* Exit gate k of n_exits, after a head that was (not) confident: the
 * dispatches deeper than exit k keep their counts or get none, the K/V
 * propagation for the skipped blocks the other way round, every other slot is
 * left alone; `taken` says the exit when it fired, full depth (n_exits) when
 * the first gate did not. */
static void check_exit_gate(uint32_t k, uint32_t n_exits, uint32_t confident) {
    uint64_t seed = k * 7u + n_exits + confident;
    /* plan: per exit a range of deeper slots [x, y) and of propagation slots [z, w), then each slot's counts */
    uint32_t *plan = calloc(4 * (LVK_PLAN_COUNTS + GATE_SLOTS), 4);
    for (uint32_t e = 0; e < n_exits; e++) {
        uint32_t *range = plan + 4 * e;
        range[0] = 10 + 20 * e, range[1] = 170, range[2] = 200 + 10 * e, range[3] = GATE_SLOTS - 7 * e;
    }
    for (uint32_t i = 0; i < 4 * GATE_SLOTS; i++) plan[4 * LVK_PLAN_COUNTS + i] = 1 + (uint32_t)(frand(&seed) * 1000.0f + 1000.0f);
    uint32_t decisions[4 * LVK_GPU_MAX_EXITS] = {0};
    decisions[4 * k + 3] = confident;

    gpu_run g;
    run_begin(&g, &(gpu_params){.n_tokens = 1});
    vk_buffer D, counts, P, taken;
    assert_int_equal(vk_arena_alloc(&g.host, sizeof decisions, &D), LVK_OK);
    assert_int_equal(vk_arena_alloc(&g.host, (VkDeviceSize)GATE_SLOTS * 16, &counts), LVK_OK);
    assert_int_equal(vk_arena_alloc(&g.host, (VkDeviceSize)(LVK_PLAN_COUNTS + GATE_SLOTS) * 16, &P), LVK_OK);
    assert_int_equal(vk_arena_alloc(&g.host, 4, &taken), LVK_OK);
    memcpy(D.mapped, decisions, sizeof decisions);
    memcpy(P.mapped, plan, (size_t)(LVK_PLAN_COUNTS + GATE_SLOTS) * 16);
    uint32_t *cg = (uint32_t *)counts.mapped, *tg = (uint32_t *)taken.mapped;
    for (uint32_t i = 0; i < 4 * GATE_SLOTS; i++) cg[i] = GATE_UNTOUCHED;
    *tg = GATE_UNTOUCHED;
    uint32_t spec[] = {g.tuning.map_wg};
    gpu_exit_gate_push push = {.exit_index = k, .n_exits = n_exits};
    const vk_buffer *bufs[] = {&D, &counts, &P, &taken};
    vk_record_dispatch(&g.rec, "exit_gate", spec, 1, NULL, bufs, 4, &push, sizeof push, 1, 1);
    run_submit(&g);

    const uint32_t *range = plan + 4 * k, *planned = plan + 4 * LVK_PLAN_COUNTS;
    for (uint32_t slot = 0; slot < GATE_SLOTS; slot++) {
        const int deeper = slot >= range[0] && slot < range[1], propagation = slot >= range[2] && slot < range[3];
        for (uint32_t j = 0; j < 4; j++) {
            uint32_t want = !deeper && !propagation ? GATE_UNTOUCHED
                            : deeper == !confident  ? planned[4 * slot + j] /* this slot runs */
                                                    : 0;
            if (cg[4 * slot + j] != want)
                fail_msg("exit_gate %u of %u, confident %u: counts[%u].%u = %u, expected %u", k, n_exits, confident,
                         slot, j, cg[4 * slot + j], want);
        }
    }
    uint32_t want_taken = confident ? k : k == 0 ? n_exits : GATE_UNTOUCHED;
    if (*tg != want_taken)
        fail_msg("exit_gate %u of %u, confident %u: taken = %u, expected %u", k, n_exits, confident, *tg, want_taken);
    run_free(&g);
    free(plan);
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

static void test_swiglu(void **state) {
    (void)state;
    check_swiglu(37, 5);   /* not a multiple of the workgroup */
    check_swiglu(256, 8);
    check_swiglu(3, 1);
}

static void test_attention(void **state) {
    (void)state;
    check_attention(4, 4, 16, 0, 1, 0);   /* the first token: one position */
    check_attention(6, 2, 18, 13, 5, 0);  /* grouped queries, a head of 9 pairs */
    check_attention(3, 1, 64, 40, 8, 0);  /* more positions than a workgroup has lanes */
    check_attention(6, 3, 10, 21, 7, 1);  /* masked positions */
}

static void test_exit_gate(void **state) {
    (void)state;
    for (uint32_t confident = 0; confident < 2; confident++) {
        check_exit_gate(0, 3, confident);
        check_exit_gate(2, 3, confident);
        check_exit_gate(1, 2, confident);
    }
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
        cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_attention),
        cmocka_unit_test(test_exit_gate),
    };
    return cmocka_run_group_tests(tests, test_device_setup, test_device_teardown);
}
