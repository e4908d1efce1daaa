/* gpu_forward.c — the LLaMA forward pass as a list of dispatches, in model order. */
#include "gpu_forward.h"
#include "status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct gpu_params { /* mirrors Params in shaders/common.glsl */
    uint32_t n_tokens, pos, logits_col, pad;
    uint32_t tokens[LVK_MAX_BATCH];
} gpu_params;

struct gpu_session {
    vk_device *dev;
    const gpu_model *g;
    const lvk_hparams *hp;
    int n_ctx;
    uint32_t x_stride, q_stride, ff_stride, vocab_stride; /* floats between token columns */
    uint32_t n_partials, per_partial;
    vk_arena arena, host_arena;
    vk_buffer params, decision, logits_host;              /* host visible */
    vk_buffer rope_table, x, xb, q, att, hb, hb2, scores, logits, partials;
    vk_buffer *k_cache, *v_cache;                          /* [n_layers] */
    VkCommandPool pool;
    VkDescriptorPool descriptors;
    VkCommandBuffer passes[2];                             /* 1 column, LVK_MAX_BATCH columns */
    VkCommandBuffer copy_logits;
    VkFence fence;
};

/* ---- recording helpers --------------------------------------------------- */

typedef struct recorder {
    vk_recorder vk;
    gpu_session *s;
    uint32_t ncols;
} recorder;

static void dispatch(recorder *r, const char *shader, const uint32_t *spec, uint32_t n_spec,
                     const vk_buffer *const *bufs, uint32_t n_bufs, const void *push, uint32_t push_size,
                     uint32_t gx, uint32_t gy) {
    vk_record_dispatch(&r->vk, shader, spec, n_spec, bufs, n_bufs, push, push_size, gx, gy);
}

static void barrier(recorder *r) { vk_record_barrier(&r->vk); }

static uint32_t div_up(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

/* ---- kernels ----------------------------------------------------------------- */

typedef struct matvec_out {
    const vk_buffer *y;
    uint32_t y_stride, y_pos_mul, accumulate;
} matvec_out;

/* y = W x (or y += W x), one dispatch per row part of W. */
static void matvec(recorder *r, const gpu_matrix *W, const vk_buffer *x, uint32_t x_stride, matvec_out out) {
    const gpu_tuning *t = &r->s->g->tuning;
    uint32_t spec[] = {t->matvec_wg, t->matvec_rows, r->ncols, W->type};
    for (uint32_t p = 0; p < W->n_parts; p++) {
        const gpu_matrix_part *part = &W->parts[p];
        uint32_t push[8] = {part->rows, W->units, x_stride, out.y_stride, part->row_begin, out.y_pos_mul,
                            part->scale_off, out.accumulate};
        const vk_buffer *bufs[] = {&part->buf, x, out.y};
        dispatch(r, "matvec", spec, 4, bufs, 3, push, sizeof push, div_up(part->rows, t->matvec_rows), 1);
    }
}

static void rmsnorm(recorder *r, const vk_buffer *w, const vk_buffer *x, const vk_buffer *out) {
    gpu_session *s = r->s;
    struct { uint32_t n, x_stride, o_stride; float eps; } push = {(uint32_t)s->hp->n_embd, s->x_stride, s->x_stride,
                                                                  s->hp->rms_eps};
    uint32_t spec[] = {s->g->tuning.reduce_wg};
    const vk_buffer *bufs[] = {w, x, out};
    dispatch(r, "rmsnorm", spec, 1, bufs, 3, &push, sizeof push, r->ncols, 1);
}

static void rope(recorder *r, const vk_buffer *v, uint32_t n_heads, uint32_t stride, uint32_t pos_mul) {
    gpu_session *s = r->s;
    uint32_t push[] = {n_heads, (uint32_t)s->hp->head_dim, (uint32_t)s->hp->rope_dim, stride, pos_mul};
    uint32_t spec[] = {s->g->tuning.map_wg};
    const vk_buffer *bufs[] = {&s->rope_table, v};
    dispatch(r, "rope", spec, 1, bufs, 2, push, sizeof push, div_up(n_heads * s->hp->rope_dim / 2, spec[0]), r->ncols);
}

static void attention(recorder *r, int layer) {
    gpu_session *s = r->s;
    const lvk_hparams *hp = s->hp;
    struct { uint32_t head_dim, group, kv_dim, n_ctx, q_stride, n_heads; float scale; } push = {
        (uint32_t)hp->head_dim, (uint32_t)(hp->n_heads / hp->n_kv_heads), (uint32_t)hp_kv_dim(hp),
        (uint32_t)s->n_ctx, s->q_stride, (uint32_t)hp->n_heads, 1.0f / sqrtf((float)hp->head_dim)};
    uint32_t spec[] = {s->g->tuning.reduce_wg};
    const vk_buffer *bufs[] = {&s->q, &s->k_cache[layer], &s->v_cache[layer], &s->scores, &s->att};
    dispatch(r, "attention", spec, 1, bufs, 5, &push, sizeof push, (uint32_t)hp->n_heads, r->ncols);
}

static void swiglu(recorder *r) {
    gpu_session *s = r->s;
    uint32_t push[] = {(uint32_t)s->hp->n_ff, s->ff_stride};
    uint32_t spec[] = {s->g->tuning.map_wg};
    const vk_buffer *bufs[] = {&s->hb, &s->hb2};
    dispatch(r, "swiglu", spec, 1, bufs, 2, push, sizeof push, div_up(push[0], spec[0]), r->ncols);
}

static void embed(recorder *r) {
    gpu_session *s = r->s;
    const gpu_matrix *E = &s->g->tok_embd;
    uint32_t spec[] = {s->g->tuning.map_wg, E->type};
    for (uint32_t p = 0; p < E->n_parts; p++) {
        const gpu_matrix_part *part = &E->parts[p];
        uint32_t push[] = {E->units, s->x_stride, part->scale_off, part->row_begin, part->rows};
        const vk_buffer *bufs[] = {&part->buf, &s->x};
        dispatch(r, "embed", spec, 2, bufs, 2, push, sizeof push, div_up(E->units, spec[0]), r->ncols);
    }
}

static void logits_decision(recorder *r) {
    gpu_session *s = r->s;
    uint32_t push1[] = {(uint32_t)s->hp->n_vocab, s->vocab_stride, s->per_partial};
    uint32_t spec1[] = {s->g->tuning.reduce_wg};
    const vk_buffer *bufs1[] = {&s->logits, &s->partials};
    dispatch(r, "logits_partial", spec1, 1, bufs1, 2, push1, sizeof push1, s->n_partials, 1);
    barrier(r);
    uint32_t push2[] = {s->n_partials};
    uint32_t spec2[] = {1};
    const vk_buffer *bufs2[] = {&s->partials, &s->decision};
    dispatch(r, "logits_final", spec2, 1, bufs2, 2, push2, sizeof push2, 1, 1);
}

/* The whole model for up to `ncols` token columns. Shapes per column:
 * x [n_embd], q/att [n_embd], k/v [kv_dim] into the caches at pos, hb [n_ff]. */
static lvk_status record_pass(gpu_session *s, VkCommandBuffer cmd, uint32_t ncols) {
    const gpu_model *g = s->g;
    const lvk_hparams *hp = s->hp;
    uint32_t kv_dim = (uint32_t)hp_kv_dim(hp);
    recorder r = {{s->dev, s->descriptors, &s->params, cmd, LVK_OK}, s, ncols};
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    LVK_TRY(vk_check(vkBeginCommandBuffer(cmd, &bi), "vkBeginCommandBuffer"));

    embed(&r);                                                               /* x = embedding rows */
    barrier(&r);
    for (int l = 0; l < hp->n_layers; l++) {
        const gpu_layer *L = &g->layers[l];
        rmsnorm(&r, &L->attn_norm, &s->x, &s->xb);                           /* xb = rmsnorm(x) */
        barrier(&r);
        matvec(&r, &L->wq, &s->xb, s->x_stride, (matvec_out){&s->q, s->q_stride, 0, 0});          /* q = Wq xb */
        matvec(&r, &L->wk, &s->xb, s->x_stride, (matvec_out){&s->k_cache[l], kv_dim, kv_dim, 0}); /* K[pos] = Wk xb */
        matvec(&r, &L->wv, &s->xb, s->x_stride, (matvec_out){&s->v_cache[l], kv_dim, kv_dim, 0}); /* V[pos] = Wv xb */
        barrier(&r);
        rope(&r, &s->q, (uint32_t)hp->n_heads, s->q_stride, 0);
        rope(&r, &s->k_cache[l], (uint32_t)hp->n_kv_heads, kv_dim, kv_dim);
        barrier(&r);
        attention(&r, l);                                                    /* att = softmax(q K^T) V */
        barrier(&r);
        matvec(&r, &L->wo, &s->att, s->q_stride, (matvec_out){&s->x, s->x_stride, 0, 1});         /* x += Wo att */
        barrier(&r);
        rmsnorm(&r, &L->ffn_norm, &s->x, &s->xb);                            /* xb = rmsnorm(x) */
        barrier(&r);
        matvec(&r, &L->w_gate, &s->xb, s->x_stride, (matvec_out){&s->hb, s->ff_stride, 0, 0});    /* hb = Wg xb */
        matvec(&r, &L->w_up, &s->xb, s->x_stride, (matvec_out){&s->hb2, s->ff_stride, 0, 0});     /* hb2 = Wu xb */
        barrier(&r);
        swiglu(&r);                                                          /* hb = silu(hb) * hb2 */
        barrier(&r);
        matvec(&r, &L->w_down, &s->hb, s->ff_stride, (matvec_out){&s->x, s->x_stride, 0, 1});     /* x += Wd hb */
        barrier(&r);
    }
    rmsnorm(&r, &g->output_norm, &s->x, &s->xb);                             /* xb = rmsnorm(x) */
    barrier(&r);
    matvec(&r, &g->output, &s->xb, s->x_stride, (matvec_out){&s->logits, s->vocab_stride, 0, 0}); /* logits = Wout xb */
    barrier(&r);
    logits_decision(&r);                                                     /* argmax, probability */
    VkMemoryBarrier to_host = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                               .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT, .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0,
                         NULL, 0, NULL);
    LVK_TRY(r.vk.status);
    return vk_check(vkEndCommandBuffer(cmd), "vkEndCommandBuffer");
}

static lvk_status record_copy_logits(gpu_session *s) {
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    LVK_TRY(vk_check(vkBeginCommandBuffer(s->copy_logits, &bi), "vkBeginCommandBuffer"));
    VkBufferCopy region = {0, 0, s->logits.size};
    vkCmdCopyBuffer(s->copy_logits, s->logits.buffer, s->logits_host.buffer, 1, &region);
    VkMemoryBarrier to_host = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                               .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT, .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    vkCmdPipelineBarrier(s->copy_logits, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host,
                         0, NULL, 0, NULL);
    return vk_check(vkEndCommandBuffer(s->copy_logits), "vkEndCommandBuffer");
}

/* ---- session ------------------------------------------------------------------ */

static uint32_t pad8(uint32_t n) { return (n + 7u) & ~7u; }

static lvk_status alloc_zeroed(gpu_session *s, VkDeviceSize size, vk_buffer *b) {
    if (size > s->dev->max_storage_range)
        return lvk_fail(LVK_ERR_UNSUPPORTED, "a %.1f MiB activation buffer exceeds the device's binding limit of %.1f MiB; use a shorter context",
                        size / 1048576.0, s->dev->max_storage_range / 1048576.0);
    LVK_TRY(vk_arena_alloc(&s->arena, size, b));
    return vk_buffer_zero(s->dev, b);
}

static lvk_status session_init(gpu_session *s) {
    const lvk_hparams *hp = s->hp;
    vk_device *dev = s->dev;
    const uint32_t B = LVK_MAX_BATCH, kv_dim = (uint32_t)hp_kv_dim(hp), ctx = (uint32_t)s->n_ctx;
    s->x_stride = pad8((uint32_t)hp->n_embd);
    s->q_stride = s->x_stride;
    s->ff_stride = pad8((uint32_t)hp->n_ff);
    s->vocab_stride = pad8((uint32_t)hp->n_vocab);
    s->per_partial = 1024;
    while (div_up((uint32_t)hp->n_vocab, s->per_partial) > 256) s->per_partial *= 2;
    s->n_partials = div_up((uint32_t)hp->n_vocab, s->per_partial);

    vk_arena_init(&s->arena, dev, 0);
    vk_arena_init(&s->host_arena, dev, 1);
    LVK_TRY(vk_arena_alloc(&s->host_arena, sizeof(gpu_params), &s->params));
    LVK_TRY(vk_arena_alloc(&s->host_arena, sizeof(gpu_decision), &s->decision));
    LVK_TRY(vk_arena_alloc(&s->host_arena, (VkDeviceSize)B * s->vocab_stride * 4, &s->logits_host));
    memset(s->params.mapped, 0, sizeof(gpu_params));

    /* cos/sin of every (position, pair), computed exactly as the reference does */
    uint32_t half = (uint32_t)hp->rope_dim / 2;
    float *table = malloc((size_t)ctx * half * 2 * sizeof(float));
    if (!table) return lvk_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t p = 0; p < ctx; p++)
        for (uint32_t i = 0; i < half; i++) {
            float freq = powf(hp->rope_base, -(float)(2 * i) / (float)hp->rope_dim);
            table[(p * half + i) * 2] = cosf((float)p * freq);
            table[(p * half + i) * 2 + 1] = sinf((float)p * freq);
        }
    lvk_status st = alloc_zeroed(s, (VkDeviceSize)ctx * half * 8, &s->rope_table);
    if (st == LVK_OK) st = vk_buffer_write(dev, &s->rope_table, 0, table, (VkDeviceSize)ctx * half * 8);
    free(table);
    LVK_TRY(st);

    LVK_TRY(alloc_zeroed(s, (VkDeviceSize)B * s->x_stride * 4, &s->x));
    LVK_TRY(alloc_zeroed(s, (VkDeviceSize)B * s->x_stride * 4, &s->xb));
    LVK_TRY(alloc_zeroed(s, (VkDeviceSize)B * s->q_stride * 4, &s->q));
    LVK_TRY(alloc_zeroed(s, (VkDeviceSize)B * s->q_stride * 4, &s->att));
    LVK_TRY(alloc_zeroed(s, (VkDeviceSize)B * s->ff_stride * 4, &s->hb));
    LVK_TRY(alloc_zeroed(s, (VkDeviceSize)B * s->ff_stride * 4, &s->hb2));
    LVK_TRY(alloc_zeroed(s, (VkDeviceSize)B * hp->n_heads * ctx * 4, &s->scores));
    LVK_TRY(alloc_zeroed(s, (VkDeviceSize)B * s->vocab_stride * 4, &s->logits));
    LVK_TRY(alloc_zeroed(s, (VkDeviceSize)s->n_partials * 16, &s->partials));
    s->k_cache = calloc((size_t)hp->n_layers, sizeof *s->k_cache);
    s->v_cache = calloc((size_t)hp->n_layers, sizeof *s->v_cache);
    if (!s->k_cache || !s->v_cache) return lvk_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    for (int l = 0; l < hp->n_layers; l++) {
        LVK_TRY(alloc_zeroed(s, (VkDeviceSize)ctx * kv_dim * 4, &s->k_cache[l]));
        LVK_TRY(alloc_zeroed(s, (VkDeviceSize)ctx * kv_dim * 4, &s->v_cache[l]));
    }

    /* descriptor sets: one per dispatch of both passes, written once */
    const gpu_model *g = s->g;
    uint32_t parts = g->tok_embd.n_parts + g->output.n_parts;
    const gpu_layer *L = &g->layers[0];
    uint32_t per_layer = 7 + L->wq.n_parts + L->wk.n_parts + L->wv.n_parts + L->wo.n_parts + L->w_gate.n_parts +
                         L->w_up.n_parts + L->w_down.n_parts;
    uint32_t sets = 2 * (parts + 4 + per_layer * (uint32_t)hp->n_layers);
    VkDescriptorPoolSize ps = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, sets * LVK_MAX_BINDINGS};
    VkDescriptorPoolCreateInfo dpi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                      .maxSets = sets, .poolSizeCount = 1, .pPoolSizes = &ps};
    LVK_TRY(vk_check(vkCreateDescriptorPool(dev->device, &dpi, NULL, &s->descriptors), "vkCreateDescriptorPool"));
    VkCommandPoolCreateInfo cpi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .queueFamilyIndex = dev->queue_family};
    LVK_TRY(vk_check(vkCreateCommandPool(dev->device, &cpi, NULL, &s->pool), "vkCreateCommandPool"));
    VkCommandBuffer cmds[3];
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = s->pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 3};
    LVK_TRY(vk_check(vkAllocateCommandBuffers(dev->device, &cai, cmds), "vkAllocateCommandBuffers"));
    s->passes[0] = cmds[0];
    s->passes[1] = cmds[1];
    s->copy_logits = cmds[2];
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    LVK_TRY(vk_check(vkCreateFence(dev->device, &fi, NULL, &s->fence), "vkCreateFence"));
    LVK_TRY(record_pass(s, s->passes[0], 1));
    LVK_TRY(record_pass(s, s->passes[1], B));
    return record_copy_logits(s);
}

lvk_status gpu_session_create(const gpu_model *g, const lvk_hparams *hp, int n_ctx, gpu_session **out) {
    gpu_session *s = calloc(1, sizeof *s);
    if (!s) return lvk_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    s->dev = g->dev;
    s->g = g;
    s->hp = hp;
    s->n_ctx = n_ctx;
    lvk_status st = session_init(s);
    if (st != LVK_OK) {
        gpu_session_free(s);
        return st;
    }
    *out = s;
    return LVK_OK;
}

void gpu_session_free(gpu_session *s) {
    if (!s) return;
    VkDevice d = s->dev->device;
    if (s->fence) vkDestroyFence(d, s->fence, NULL);
    if (s->pool) vkDestroyCommandPool(d, s->pool, NULL);
    if (s->descriptors) vkDestroyDescriptorPool(d, s->descriptors, NULL);
    vk_arena_free(&s->arena);
    vk_arena_free(&s->host_arena);
    free(s->k_cache);
    free(s->v_cache);
    free(s);
}

lvk_status gpu_session_run(gpu_session *s, const int32_t *tokens, int n, int pos, gpu_decision *out) {
    if (n < 1 || n > LVK_MAX_BATCH || pos < 0 || pos + n > s->n_ctx)
        return lvk_fail(LVK_ERR_INVALID_ARGUMENT, "gpu_session_run: %d tokens at %d do not fit a context of %d", n,
                        pos, s->n_ctx);
    gpu_params p = {(uint32_t)n, (uint32_t)pos, (uint32_t)(n - 1), 0, {0}};
    for (int i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= s->hp->n_vocab)
            return lvk_fail(LVK_ERR_INVALID_ARGUMENT, "token id %d is outside the vocabulary of %d", tokens[i],
                            s->hp->n_vocab);
        p.tokens[i] = (uint32_t)tokens[i];
    }
    memcpy(s->params.mapped, &p, sizeof p);
    LVK_TRY(vk_submit_wait(s->dev, s->passes[n == 1 ? 0 : 1], s->fence));
    memcpy(out, s->decision.mapped, sizeof *out);
    return LVK_OK;
}

lvk_status gpu_session_logits(gpu_session *s, int col, float *out) {
    if (col < 0 || col >= LVK_MAX_BATCH) return lvk_fail(LVK_ERR_INVALID_ARGUMENT, "logits column %d", col);
    LVK_TRY(vk_submit_wait(s->dev, s->copy_logits, s->fence));
    memcpy(out, s->logits_host.mapped + (size_t)col * s->vocab_stride * 4, (size_t)s->hp->n_vocab * 4);
    return LVK_OK;
}
