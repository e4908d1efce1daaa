/* gpu_model.c — uploading weights in the GPU layout; the vendor tuning table. */
#include "alloc.h"
#include "forward/gpu_model.h"
#include "formats/quant.h"
#include "status.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* ---- vendor table ---------------------------------------------------------
 * Matvec: one subgroup per workgroup reduces without barriers (lavapipe's
 * subgroups are 8 wide; GPUs use their documented width). Every workgroup
 * reads x, and recomputes its RMSNorm when fused, once for all its rows: on
 * lavapipe 16 rows per workgroup decoded the TinyLlama-shaped model 1.3-1.9x
 * faster than 4 (q8_0 2.3-2.4 -> 3.8-4.9 tokens/s; 32 was no better on f16
 * and q4_0). GPUs take 4 rows: x comes from cache there, and 4 still leaves
 * hundreds of workgroups per mat-vec (not yet measured on one). Override with
 * LITEVK_MATVEC_WG / LITEVK_MATVEC_ROWS. */
gpu_tuning gpu_tuning_for(const vk_device *dev) {
    /* GPUs run prompts 64 columns a pass: the tiles of one row group are
     * neighbours, so a weight is read from memory about once per 64 tokens
     * rather than 8 (by design, not yet measured on one).
     * Early-exit defaults (docs/early-exit.md, "Defaults"). On lavapipe, measured: `fence`
     * beat `gpu` in 5 of 6 runs (a submission is a function call there, the gates
     * add dispatches), and `propagate` gave the most agreement with full depth
     * per second, because deferred fill's batched catch-up costs compute on a
     * CPU. GPUs get `gpu` (no host round trip per exit) and `deferred` (exact
     * K/V; extra token columns are nearly free when reading weights is the
     * bound) by design, not yet measured on one. */
    gpu_tuning t = {.matvec_wg = dev->info.subgroup_size ? dev->info.subgroup_size : 32, .matvec_rows = 4,
                    .matvec_cells = 4 * LVK_MAX_BATCH, .reduce_wg = 64, .map_wg = 64, .attn_splits = 4,
                    .prompt_columns = LVK_MAX_PROMPT_COLUMNS, .exit_mode = LVK_EXIT_GPU, .kv_fill = LVK_KV_DEFERRED,
                    .source = "default"};
    switch (dev->info.vendor_id) {
    /* lavapipe: a lane's sums of 16 rows x 8 columns spill out of the CPU's
     * registers; 8 rows at 8 columns are 1.3-2x faster. A prompt in passes of
     * 32 columns took 0.89-0.90x the time of passes of 8, and 64 no less
     * (litevk-bench --only columns). */
    case 0x10005:
        t = (gpu_tuning){.matvec_wg = 8, .matvec_rows = 16, .matvec_cells = 64, .reduce_wg = 32, .map_wg = 64,
                         .attn_splits = 1, .prompt_columns = 32, .exit_mode = LVK_EXIT_FENCE,
                         .kv_fill = LVK_KV_PROPAGATE,
                         .source = "lavapipe (Mesa)"};
        break;
    case 0x10de:
        t = (gpu_tuning){.matvec_wg = 32, .matvec_rows = 4, .matvec_cells = 4 * LVK_MAX_BATCH, .reduce_wg = 128,
                         .map_wg = 128, .attn_splits = 8,
                         .prompt_columns = LVK_MAX_PROMPT_COLUMNS, .exit_mode = LVK_EXIT_GPU, .kv_fill = LVK_KV_DEFERRED,
                         .source = "NVIDIA"};
        break;
    case 0x1002:
        t = (gpu_tuning){.matvec_wg = 64, .matvec_rows = 4, .matvec_cells = 4 * LVK_MAX_BATCH, .reduce_wg = 64,
                         .map_wg = 64, .attn_splits = 8,
                         .prompt_columns = LVK_MAX_PROMPT_COLUMNS, .exit_mode = LVK_EXIT_GPU, .kv_fill = LVK_KV_DEFERRED,
                         .source = "AMD"};
        break;
    case 0x8086:
        t = (gpu_tuning){.matvec_wg = 16, .matvec_rows = 4, .matvec_cells = 4 * LVK_MAX_BATCH, .reduce_wg = 64,
                         .map_wg = 64, .attn_splits = 4,
                         .prompt_columns = LVK_MAX_PROMPT_COLUMNS, .exit_mode = LVK_EXIT_GPU, .kv_fill = LVK_KV_DEFERRED,
                         .source = "Intel"};
        break;
    }
    const char *wg = getenv("LITEVK_MATVEC_WG"), *rows = getenv("LITEVK_MATVEC_ROWS");
    const char *map = getenv("LITEVK_MAP_WG"), *reduce = getenv("LITEVK_REDUCE_WG");
    const char *splits = getenv("LITEVK_ATTN_SPLITS"), *prompt = getenv("LITEVK_PROMPT_COLUMNS");
    if (wg && atoi(wg) > 0 && atoi(wg) <= 256) t.matvec_wg = (uint32_t)atoi(wg), t.source = "environment";
    if (rows && atoi(rows) > 0 && atoi(rows) <= 32) t.matvec_rows = (uint32_t)atoi(rows), t.source = "environment";
    if (map && atoi(map) > 0 && atoi(map) <= 256) t.map_wg = (uint32_t)atoi(map), t.source = "environment";
    if (reduce && atoi(reduce) > 0 && atoi(reduce) <= 256) t.reduce_wg = (uint32_t)atoi(reduce), t.source = "environment";
    if (splits && atoi(splits) > 0 && atoi(splits) <= 64) t.attn_splits = (uint32_t)atoi(splits), t.source = "environment";
    if (prompt && gpu_prompt_columns_valid(atoi(prompt)))
        t.prompt_columns = (uint32_t)atoi(prompt), t.source = "environment";
    return t;
}

uint32_t gpu_matvec_rows(const gpu_tuning *t, uint32_t n_cols, int pairs) {
    uint32_t rows = t->matvec_rows;
    while (rows > 2 && rows * n_cols > t->matvec_cells) rows /= 2;
    return pairs ? (rows + 1) & ~1u : rows;
}

/* K-quant super-blocks carry 5 scale words each (shaders/weights.glsl):
 * 148 bytes per 256 weights for Q4_K (4.625 bits a weight, GGUF 4.5), 180
 * for Q5_K (5.625, GGUF 5.5) and 212 for Q6_K (6.625, GGUF 6.5625): 4 bytes
 * more than ggml's block buy a unit's sub-block scales in one aligned word,
 * unpacked with shifts. Q5_0 takes 2 bytes more than ggml's block (24 a 32):
 * its scale and its fifth bits in two aligned words. */
#define K_SCALE_WORDS 5

uint64_t gpu_row_bytes(uint32_t type, uint64_t cols) {
    switch ((enum ggml_type)type) { /* every enumerator: -Wswitch names a type added without a layout */
    case GGML_F32: return pad8(cols) * 4;
    case GGML_F16:
    case GGML_BF16: return pad8(cols) * 2;
    case GGML_Q8_0: return cols / QK * 34;
    case GGML_Q4_0: return cols / QK * 18;
    case GGML_Q4_1: return cols / QK * 20;
    case GGML_Q5_0:
    case GGML_Q5_1: return cols / QK * 24;
    case GGML_Q4_K: return cols / QK_K * (QK_K / 2 + K_SCALE_WORDS * 4);
    case GGML_Q5_K: return cols / QK_K * (QK_K / 2 + QK_K / 8 + K_SCALE_WORDS * 4);
    case GGML_Q6_K: return cols / QK_K * (QK_K / 2 + QK_K / 4 + K_SCALE_WORDS * 4);
    case GGML_Q8_1:
    case GGML_Q2_K:
    case GGML_Q3_K:
    case GGML_Q8_K: break; /* no kernel reads these */
    }
    return 0;
}

uint32_t gpu_row_units(uint32_t type, uint64_t cols) {
    return (uint32_t)(ggml_block_elems(type) == 1 ? pad8(cols) / 8 : cols / 8);
}

/* The model loader admits only weight_types; a type reaching the upload
 * without a GPU layout is a bug in that check, reported rather than guessed. */
static lvk_status unsupported_type(uint32_t type) {
    return status_fail(LVK_ERR_UNSUPPORTED, "weights of type %s have no GPU layout (supported: %s)",
                       ggml_type_name(type), weight_type_names(", ", " and "));
}

static uint32_t bytes4(uint32_t b0, uint32_t b1, uint32_t b2, uint32_t b3) {
    return (b0 & 255) | (b1 & 255) << 8 | (b2 & 255) << 16 | (b3 & 255) << 24;
}

lvk_status gpu_repack_rows(uint32_t type, const void *src, uint64_t first, uint64_t n, uint64_t rows, uint64_t cols,
                           void *dst, uint32_t *scale_off) {
    const uint64_t nb = cols / QK, stride = pad8(cols), kb = cols / QK_K; /* blocks per row */
    uint8_t *out = dst;
    switch ((enum ggml_type)type) { /* every enumerator: -Wswitch names a type added without a layout */
    case GGML_F32:
    case GGML_F16:
    case GGML_BF16: {
        const size_t es = type == GGML_F32 ? 4 : 2;
        for (uint64_t r = 0; r < n; r++) {
            uint8_t *row = out + (first + r) * stride * es;
            memcpy(row, (const uint8_t *)src + r * cols * es, cols * es);
            memset(row + cols * es, 0, (stride - cols) * es); /* zero padding: pads multiply x's zero pads */
        }
        *scale_off = 0;
        return LVK_OK;
    }
    case GGML_Q8_0: {
        const block_q8_0 *b = src;
        uint16_t *scales = (uint16_t *)(out + rows * nb * 32);
        for (uint64_t i = 0, at = first * nb; i < n * nb; i++, at++) {
            memcpy(out + at * 32, b[i].qs, 32);
            scales[at] = b[i].d;
        }
        *scale_off = (uint32_t)(rows * nb * 8);
        return LVK_OK;
    }
    case GGML_Q4_0: {
        const block_q4_0 *b = src;
        uint16_t *scales = (uint16_t *)(out + rows * nb * 16);
        for (uint64_t i = 0, at = first * nb; i < n * nb; i++, at++) {
            memcpy(out + at * 16, b[i].qs, 16);
            scales[at] = b[i].d;
        }
        *scale_off = (uint32_t)(rows * nb * 4);
        return LVK_OK;
    }
    case GGML_Q4_1: { /* quants as in ggml, then a word d | m << 16 per block */
        const block_q4_1 *b = src;
        uint32_t *scales = (uint32_t *)(out + rows * nb * 16);
        for (uint64_t i = 0, at = first * nb; i < n * nb; i++, at++) {
            memcpy(out + at * 16, b[i].qs, 16);
            scales[at] = b[i].d | (uint32_t)b[i].m << 16;
        }
        *scale_off = (uint32_t)(rows * nb * 4);
        return LVK_OK;
    }
    case GGML_Q5_0:
    case GGML_Q5_1: { /* quants as in ggml, then two words per block: d | m << 16 (m 0 for Q5_0), qh */
        const size_t block_bytes = type == GGML_Q5_0 ? sizeof(block_q5_0) : sizeof(block_q5_1);
        uint32_t *scales = (uint32_t *)(out + rows * nb * 16);
        for (uint64_t i = 0, at = first * nb; i < n * nb; i++, at++) {
            const uint8_t *blk = (const uint8_t *)src + i * block_bytes;
            const block_q5_0 *b0 = (const block_q5_0 *)blk;
            const block_q5_1 *b1 = (const block_q5_1 *)blk;
            memcpy(out + at * 16, type == GGML_Q5_0 ? b0->qs : b1->qs, 16);
            scales[2 * at] = type == GGML_Q5_0 ? b0->d : b1->d | (uint32_t)b1->m << 16;
            memcpy(&scales[2 * at + 1], type == GGML_Q5_0 ? b0->qh : b1->qh, 4);
        }
        *scale_off = (uint32_t)(rows * nb * 4);
        return LVK_OK;
    }
    case GGML_Q4_K:
    case GGML_Q5_K: { /* quants as in ggml (Q5_K: qs then qh); scale words: d | dmin << 16,
                       * then per 64 elements sc and m of its two sub-blocks as bytes */
        const int five = type == GGML_Q5_K;
        const size_t block_bytes = five ? sizeof(block_q5_K) : sizeof(block_q4_K);
        const uint64_t quant_bytes = QK_K / 2 + (five ? QK_K / 8 : 0);
        uint32_t *scales = (uint32_t *)(out + rows * kb * quant_bytes);
        for (uint64_t i = 0, at = first * kb; i < n * kb; i++, at++) {
            const uint8_t *blk = (const uint8_t *)src + i * block_bytes;
            const block_q4_K *b4 = (const block_q4_K *)blk; /* d, dmin and scales lie alike */
            const block_q5_K *b5 = (const block_q5_K *)blk;
            memcpy(out + at * quant_bytes, five ? b5->qs : b4->qs, QK_K / 2);
            if (five) memcpy(out + at * quant_bytes + QK_K / 2, b5->qh, QK_K / 8);
            uint32_t *w = scales + at * K_SCALE_WORDS;
            w[0] = b4->d | (uint32_t)b4->dmin << 16;
            for (int c = 0; c < 4; c++) {
                uint8_t sc0, m0, sc1, m1;
                k_scale_min(b4->scales, 2 * c, &sc0, &m0);
                k_scale_min(b4->scales, 2 * c + 1, &sc1, &m1);
                w[1 + c] = bytes4(sc0, sc1, m0, m1);
            }
        }
        *scale_off = (uint32_t)(rows * kb * quant_bytes / 4);
        return LVK_OK;
    }
    case GGML_Q6_K: { /* ql then qh as in ggml; scale words: d as an f32 (exact),
                * then the int8 scales in the pairs one unit uses (its elements e, e + 64) */
        const block_q6_K *b = src;
        const uint64_t quant_bytes = QK_K / 2 + QK_K / 4;
        uint32_t *scales = (uint32_t *)(out + rows * kb * quant_bytes);
        for (uint64_t i = 0, at = first * kb; i < n * kb; i++, at++) {
            memcpy(out + at * quant_bytes, b[i].ql, QK_K / 2);
            memcpy(out + at * quant_bytes + QK_K / 2, b[i].qh, QK_K / 4);
            uint32_t *w = scales + at * K_SCALE_WORDS;
            float d = f16_to_f32(b[i].d);
            memcpy(&w[0], &d, 4);
            const int8_t *sc = b[i].scales;
            for (int k = 0; k < 4; k++) { /* pairs 2k and 2k + 1; pair p: sub-blocks p + p / 4 * 4 and that + 4 */
                int j = 2 * k + k / 2 * 4;
                w[1 + k] = bytes4((uint8_t)sc[j], (uint8_t)sc[j + 4], (uint8_t)sc[j + 1], (uint8_t)sc[j + 5]);
            }
        }
        *scale_off = (uint32_t)(rows * kb * quant_bytes / 4);
        return LVK_OK;
    }
    case GGML_Q8_1:
    case GGML_Q2_K:
    case GGML_Q3_K:
    case GGML_Q8_K: break; /* no kernel reads these */
    }
    return unsupported_type(type);
}

lvk_status gpu_repack(uint32_t type, const void *src, uint64_t rows, uint64_t cols, void *dst, uint32_t *scale_off) {
    return gpu_repack_rows(type, src, 0, rows, rows, cols, dst, scale_off);
}

/* The i-th row of the matrix gpu_matrix_upload builds: which tensor, which row of it. */
static const weight_tensor *source_row(const weight_tensor *const *w, int n, gpu_row_order order, uint64_t i, uint64_t *row) {
    if (order.interleave) {
        *row = i / 2;
        return w[i % 2];
    }
    int k = 0;
    while (k < n - 1 && i >= w[k]->rows) i -= w[k++]->rows;
    if (order.qk_rope && k < 2) i = rope_source_row(order.qk_rope, i); /* Q or K: as RoPE runs them on the GPU */
    *row = i;
    return w[k];
}

lvk_status gpu_matrix_upload(vk_device *dev, vk_arena *arena, const weight_tensor *const *w, int n, gpu_row_order order,
                             gpu_upload_report report, void *ctx, gpu_matrix *m) {
    memset(m, 0, sizeof *m);
    m->cols = (uint32_t)w[0]->cols;
    for (int k = 0; k < n; k++) m->rows += (uint32_t)w[k]->rows;
    uint64_t limit = dev->max_texels * 4 < dev->max_alloc ? dev->max_texels * 4 : dev->max_alloc; /* R32UI view */
    uint8_t *packed = NULL;
    lvk_status st = LVK_OK;
    for (uint64_t begin = 0; begin < m->rows && st == LVK_OK;) {
        /* the part: rows of one type from `begin`, as many as one descriptor range holds, an even count */
        uint64_t r0;
        const weight_tensor *first = source_row(w, n, order, begin, &r0);
        uint64_t row_bytes = gpu_row_bytes(first->type, first->cols), src_row = first->n_bytes / first->rows;
        if (row_bytes == 0) {
            st = unsupported_type(first->type);
            break;
        }
        uint64_t most = ((limit - 64) / row_bytes) & ~1ull, end = begin;
        while (end < m->rows && end - begin < most) {
            uint64_t r;
            if (source_row(w, n, order, end, &r)->type != first->type) break;
            end++;
        }
        if (end == begin) {
            st = status_fail(LVK_ERR_UNSUPPORTED, "two rows of %u weights are larger than a device buffer", m->cols);
            break;
        }
        uint64_t rows = end - begin;
        size_t size = (size_t)(row_bytes * rows + 4); /* +4: odd scale counts end in a half word */
        gpu_matrix_part part = {.type = first->type, .row_begin = (uint32_t)begin, .rows = (uint32_t)rows};
        part.units = gpu_row_units(first->type, m->cols);
        gpu_matrix_part *parts = mem_realloc(m->parts, (m->n_parts + 1) * sizeof *parts);
        if (!parts) st = status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
        if (st == LVK_OK) {
            m->parts = parts;
            st = vk_arena_alloc(arena, size, &part.buf);
        }
        /* Device memory the host can write (lavapipe, UMA) takes the repacked
         * rows straight from the file's mapping: no copy in between. */
        packed = st == LVK_OK && !part.buf.mapped ? mem_malloc(size) : NULL;
        uint8_t *dst = part.buf.mapped ? part.buf.mapped : packed;
        if (st == LVK_OK && !dst) st = status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory repacking a tensor");
        for (uint64_t i = 0; st == LVK_OK && i < rows;) { /* runs of consecutive rows of one tensor */
            uint64_t r, r_next, run = 1;
            const weight_tensor *src = source_row(w, n, order, begin + i, &r);
            while (i + run < rows && source_row(w, n, order, begin + i + run, &r_next) == src && r_next == r + run)
                run++;
            st = gpu_repack_rows(first->type, (const uint8_t *)src->data + r * src_row, i, run, rows, m->cols, dst,
                                 &part.scale_off);
            i += run;
        }
        if (st == LVK_OK) memset(dst + size - 4, 0, 4);
        if (st == LVK_OK && packed) st = vk_buffer_write(dev, &part.buf, 0, packed, size);
        if (st == LVK_OK) st = vk_buffer_texel_views(dev, &part.buf);
        if (part.buf.texels[0]) m->parts[m->n_parts++] = part; /* its views are freed with the matrix */
        if (st == LVK_OK) {
            m->bytes += row_bytes * rows;
            if (report) st = report(ctx, src_row * rows);
        }
        mem_free(packed);
        packed = NULL;
        begin = end;
    }
    mem_free(packed);
    return st;
}

void gpu_matrix_free(vk_device *dev, gpu_matrix *m) {
    for (uint32_t p = 0; p < m->n_parts; p++) vk_buffer_free_views(dev, &m->parts[p].buf);
    mem_free(m->parts);
    m->parts = NULL;
    m->n_parts = 0;
}

typedef struct upload_state {
    vk_device *dev;
    gpu_model *g;
    lvk_progress_fn progress;
    void *user;
    uint64_t done, total;
} upload_state;

static lvk_status report(void *ctx, uint64_t bytes) {
    upload_state *u = ctx;
    u->done += bytes;
    if (u->progress && u->progress(u->total ? (float)u->done / (float)u->total : 1.0f, u->user))
        return status_fail(LVK_ERR_STATE, "model loading was cancelled");
    return LVK_OK;
}

/* A norm weight vector, zero-padded to a multiple of 8 like the activations,
 * so that kernels read it in vec4s up to the padded width. */
static lvk_status upload_norm(upload_state *u, const weight_tensor *w, vk_buffer *out) {
    uint64_t n = w->cols * w->rows, padded = pad8(n);
    LVK_TRY(vk_arena_alloc(&u->g->arena, padded * 4, out));
    LVK_TRY(vk_buffer_zero(u->dev, out));
    LVK_TRY(vk_buffer_write(u->dev, out, 0, w->data, n * 4));
    return report(u, n * 4);
}

static lvk_status upload(upload_state *u, const weight_tensor *const *w, int n, gpu_row_order order, gpu_matrix *m) {
    return gpu_matrix_upload(u->dev, &u->g->arena, w, n, order, report, u, m);
}

/* Q, K and V's biases as one vector in the rows' order of wqkv (Q and K as
 * RoPE runs them on the GPU), zero-padded to a multiple of 8. */
static lvk_status upload_qkv_bias(upload_state *u, const model_hparams *hp, const layer_weights *L, vk_buffer *out) {
    const uint64_t q = (uint64_t)hp_q_dim(hp), kv = (uint64_t)hp_kv_dim(hp), n = q + 2 * kv;
    float *b = mem_calloc(pad8(n), sizeof *b);
    if (!b) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    const float *bq = L->bq.data, *bk = L->bk.data, *bv = L->bv.data;
    for (uint64_t i = 0; i < q; i++) b[i] = bq[rope_source_row(hp, i)];
    for (uint64_t i = 0; i < kv; i++) b[q + i] = bk[rope_source_row(hp, i)];
    memcpy(b + q + kv, bv, kv * sizeof *b);
    lvk_status s = vk_arena_alloc(&u->g->arena, pad8(n) * 4, out);
    if (s == LVK_OK) s = vk_buffer_write(u->dev, out, 0, b, pad8(n) * 4);
    mem_free(b);
    return s == LVK_OK ? report(u, n * 4) : s;
}

static lvk_status upload_all(upload_state *u, const host_model *m) {
    gpu_model *g = u->g;
    const gpu_row_order stacked = {0}, qkv = {.qk_rope = &m->hp};
    LVK_TRY(upload(u, (const weight_tensor *[]){&m->tok_embd}, 1, stacked, &g->tok_embd));
    if (m->output_tied) {
        g->output = g->tok_embd;
        g->output_tied = 1;
    } else {
        LVK_TRY(upload(u, (const weight_tensor *[]){&m->output}, 1, stacked, &g->output));
    }
    LVK_TRY(upload_norm(u, &m->output_norm, &g->output_norm));
    for (int l = 0; l < g->n_layers; l++) {
        const layer_weights *L = &m->layers[l];
        gpu_layer *G = &g->layers[l];
        LVK_TRY(upload_norm(u, &L->attn_norm, &G->attn_norm));
        LVK_TRY(upload_norm(u, &L->ffn_norm, &G->ffn_norm));
        LVK_TRY(upload(u, (const weight_tensor *[]){&L->wq, &L->wk, &L->wv}, 3, qkv, &G->wqkv));
        if (m->hp.arch->qkv_bias) LVK_TRY(upload_qkv_bias(u, &m->hp, L, &G->qkv_bias));
        LVK_TRY(upload(u, (const weight_tensor *[]){&L->wo}, 1, stacked, &G->wo));
        /* SwiGLU in the mat-vec's epilogue needs gate row i beside up row i */
        G->gate_up_interleaved = L->w_gate.type == L->w_up.type;
        LVK_TRY(upload(u, (const weight_tensor *[]){&L->w_gate, &L->w_up}, 2,
                       (gpu_row_order){.interleave = G->gate_up_interleaved}, &G->w_gate_up));
        LVK_TRY(upload(u, (const weight_tensor *[]){&L->w_down}, 1, stacked, &G->w_down));
    }
    return LVK_OK;
}

static uint64_t model_bytes(const host_model *m) {
    uint64_t total = m->tok_embd.n_bytes + m->output_norm.n_bytes + (m->output_tied ? 0 : m->output.n_bytes);
    for (int l = 0; l < m->hp.n_layers; l++) {
        const layer_weights *L = &m->layers[l];
        total += L->attn_norm.n_bytes + L->ffn_norm.n_bytes + L->wq.n_bytes + L->wk.n_bytes +
                 L->wv.n_bytes + L->wo.n_bytes + L->w_gate.n_bytes + L->w_up.n_bytes + L->w_down.n_bytes +
                 L->bq.n_bytes + L->bk.n_bytes + L->bv.n_bytes;
    }
    return total;
}

lvk_status gpu_model_upload(vk_device *dev, const host_model *m, lvk_progress_fn progress,
                            void *user, gpu_model **out) {
    uint64_t total = model_bytes(m);
    LVK_TRY(vk_device_check_memory(dev, total, "the model"));
    gpu_model *g = mem_calloc(1, sizeof *g);
    if (!g) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    g->dev = dev;
    g->tuning = gpu_tuning_for(dev);
    g->n_layers = m->hp.n_layers;
    vk_arena_init(&g->arena, dev, 0);
    g->layers = mem_calloc((size_t)g->n_layers, sizeof *g->layers);
    upload_state u = {.dev = dev, .g = g, .progress = progress, .user = user, .total = total};
    lvk_status s = g->layers ? upload_all(&u, m) : status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    if (s != LVK_OK) {
        gpu_model_free(g);
        return s;
    }
    *out = g;
    return LVK_OK;
}

void gpu_model_free(gpu_model *g) {
    if (!g) return;
    gpu_matrix_free(g->dev, &g->tok_embd);
    if (!g->output_tied) gpu_matrix_free(g->dev, &g->output);
    for (int l = 0; g->layers && l < g->n_layers; l++) {
        gpu_layer *G = &g->layers[l];
        gpu_matrix_free(g->dev, &G->wqkv);
        gpu_matrix_free(g->dev, &G->wo);
        gpu_matrix_free(g->dev, &G->w_gate_up);
        gpu_matrix_free(g->dev, &G->w_down);
    }
    mem_free(g->layers);
    vk_arena_free(&g->arena);
    mem_free(g);
}
