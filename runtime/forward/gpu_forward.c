/* gpu_forward.c — the LLaMA forward pass as a list of dispatches, in model
 * order, with exit heads after the exit blocks (see gpu_forward.h). */
#include "alloc.h"
#include "forward/gpu_forward.h"
#include "formats/quant.h"
#include "status.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* A recorded pass over token columns: 1..LVK_MAX_BATCH, or a prompt's width. */
typedef struct gpu_pass {
    uint32_t n_cmds;                         /* fence mode: one per segment; else 1 */
    VkCommandBuffer cmds[LVK_MAX_EXITS + 1];
    vk_buffer counts, plan;                  /* gpu mode: indirect counts and what the gates copy into them */
    uint32_t max_slots;                      /* indirect dispatches it may hold */
} gpu_pass;

#define VERIFY_SLOT LVK_MAX_BATCH /* gpu-mode speculation: the verification's decisions, after the drafts' */
#define DECODE_PASSES (LVK_MAX_BATCH - 1) /* with 7 tokens waiting they catch up in a pass of their own first */
#define PROMPT_PASSES (LVK_MAX_PROMPT_COLUMNS / LVK_MAX_BATCH) /* one per count of tiles */

/* A gpu-mode speculation cycle's results (Cycle in shaders/speculate.comp). */
typedef struct gpu_cycle_state {
    uint32_t k, ran, pos0, n_out;
    uint32_t tokens[LVK_MAX_BATCH];
    float confidence[LVK_MAX_BATCH];
    uint32_t out_tokens[LVK_MAX_BATCH];
    float out_confidence[LVK_MAX_BATCH];
} gpu_cycle_state;

struct gpu_session {
    vk_device *dev;
    const gpu_model *g;
    const model_hparams *hp;
    int n_ctx;
    lvk_exit_config exits;         /* the exits the passes hold (active_exits) */
    int exit_index[LVK_MAX_EXITS]; /* each one's index in the configuration asked for */
    uint32_t prompt_width;                                 /* columns of a prompt pass (the tuning's) */
    uint32_t x_stride, q_stride, hb_stride, vocab_stride; /* floats between token columns */
    uint32_t head_workgroups;                              /* of the LM-head mat-vec, all parts */
    uint32_t max_slots;                                    /* indirect dispatches a pass may hold */
    vk_arena arena, host_arena;
    vk_buffer params, decisions, taken, depth, logits_host; /* host visible */
    vk_buffer rope_table, x, q, att, hb, scores, logits, partials; /* hb: [2 n_ff] per column */
    vk_buffer shares;                                       /* flash-decoding: counters, then each split's share */
    uint32_t shares_at;                                     /* first word of the shares */
    vk_buffer *k_cache, *v_cache;                           /* [n_layers] */
    VkCommandPool pool;
    VkDescriptorPool descriptors;
    /* prefill[t]: t + 1 tiles of LVK_MAX_BATCH columns, up to prompt_width, no
     * exit heads: a pass as wide as the tokens (on a CPU device a tile that
     * runs no column still costs its empty workgroups) */
    gpu_pass prefill[PROMPT_PASSES];
    /* decode[m]: the new token beside the m tokens waiting for deferred K/V
     * fill, m + 1 columns: a pass as wide as the work (on a CPU device a
     * column costs about as much as a pass whether it runs or not) */
    gpu_pass decode[DECODE_PASSES];
    /* speculation: a draft at column c runs blocks 1..E and the draft head in
     * drafts[c], one column (x_columns[c]), so its hidden state stays there for
     * the verification, a full-depth pass of n columns in verify[n-1] */
    gpu_pass drafts[LVK_MAX_DRAFTS], verify[LVK_MAX_BATCH];
    vk_buffer x_columns[LVK_MAX_DRAFTS];
    gpu_pass cycle;       /* gpu mode: a whole cycle, drafts gated on the device */
    vk_buffer cycle_state; /* host visible: what the cycle yields */
    VkCommandBuffer propagate[LVK_MAX_EXITS];               /* fence mode: K/V of the blocks after exit k */
    VkCommandBuffer copy_logits[LVK_MAX_PROMPT_COLUMNS];    /* prompt_width of them recorded */
    VkFence fence;
    /* deferred KV fill: exited tokens in columns 0..n_pending-1 of x, at
     * positions pos-n_pending.., each having run pending_start[c] blocks */
    int n_pending;
    uint32_t pending_start[LVK_MAX_BATCH];
    int next_pos; /* position after the last token run */
};

/* ---- recording helpers --------------------------------------------------- */

typedef struct recorder {
    vk_recorder vk;
    gpu_session *s;
    uint32_t ncols;
    const vk_buffer *x; /* the hidden states: s->x, or a view of one of its columns (drafts) */
    const lvk_exit_config *exits;
    gpu_pass *pass;
    int gated;          /* gpu mode, after the first gate: dispatches are indirect */
    uint32_t n_slots;
    uint32_t *plan;     /* host image of pass->plan: uvec4 gate ranges, then uvec4 counts per slot */
    uint32_t segment;   /* fence mode: command buffer being recorded */
} recorder;

static void dispatch(recorder *r, const char *shader, const uint32_t *spec, uint32_t n_spec, const vk_buffer *weights,
                     const vk_buffer *const *bufs, uint32_t n_bufs, const void *push, uint32_t push_size,
                     uint32_t gx, uint32_t gy) {
    if (!r->gated) {
        vk_record_dispatch(&r->vk, shader, spec, n_spec, weights, bufs, n_bufs, push, push_size, gx, gy);
        return;
    }
    if (r->vk.status != LVK_OK) return;
    if (r->n_slots >= r->pass->max_slots) {
        r->vk.status = status_fail(LVK_ERR_UNSUPPORTED, "the decode pass needs more than %u dispatches", r->pass->max_slots);
        return;
    }
    uint32_t *c = r->plan + 4 * (LVK_PLAN_COUNTS + r->n_slots);
    c[0] = gx, c[1] = gy, c[2] = 1, c[3] = 0;
    vk_record_dispatch_indirect(&r->vk, shader, spec, n_spec, weights, bufs, n_bufs, push, push_size, &r->pass->counts,
                                (VkDeviceSize)r->n_slots * 16);
    r->n_slots++;
}

/* Recording into cmd with the session's descriptor pool and params buffer. */
static vk_recorder session_recorder(gpu_session *s, VkCommandBuffer cmd) {
    return (vk_recorder){.dev = s->dev, .pool = s->descriptors, .params = &s->params, .cmd = cmd, .status = LVK_OK};
}

static void barrier(recorder *r) { vk_record_barrier(&r->vk); }

static lvk_status begin(vk_device *dev, VkCommandBuffer cmd) {
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    return VK_CALL(dev, vkBeginCommandBuffer, cmd, &bi);
}

/* Ends the command buffer being recorded, its results visible to the host. */
static void end(recorder *r) {
    vk_record_barrier_host(&r->vk);
    if (r->vk.status == LVK_OK) r->vk.status = VK_CALL(r->vk.dev, vkEndCommandBuffer, r->vk.cmd);
}

/* ---- kernels ----------------------------------------------------------------- */

typedef struct matvec_out {
    matvec_epilogue kind;
    const vk_buffer *y; /* OUT_QKV: q; the K/V caches of `layer` take the rest */
    uint32_t y_stride, accumulate;
    uint32_t slot; /* OUT_HEAD: the decision's slot */
} matvec_out;

/* Token columns a kernel computes at once in a pass of n_cols: wider passes run in tiles of these. */
static uint32_t tile_columns(uint32_t n_cols) { return n_cols < LVK_MAX_BATCH ? n_cols : LVK_MAX_BATCH; }

/* Rows per workgroup of a mat-vec in a pass of n_cols columns: the paired epilogues need an even count. */
static uint32_t rows_per_workgroup(const gpu_tuning *t, matvec_epilogue kind, uint32_t n_cols) {
    return gpu_matvec_rows(t, tile_columns(n_cols), kind == OUT_QKV || kind == OUT_SWIGLU);
}

/* Workgroups of a mat-vec over all of W's parts. */
static uint32_t matvec_workgroups(const gpu_matrix *W, uint32_t rows_per_wg) {
    uint32_t n = 0;
    for (uint32_t p = 0; p < W->n_parts; p++) n += div_up(W->parts[p].rows, rows_per_wg);
    return n;
}

/* Block l's Q, K and V biases, or NULL where the architecture has none. */
static const vk_buffer *qkv_bias_of(const gpu_session *s, uint32_t layer) {
    return s->hp->arch->qkv_bias ? &s->g->layers[layer].qkv_bias : NULL;
}

/* Rows first_row.. of y = W x (or y += W x) for the columns that run block
 * `layer`, one dispatch per part of W that holds some of them, a workgroup per
 * tile of columns and group of rows (a head: of the tile it decides in); with
 * `norm`, of rmsnorm(x) * norm instead. */
static void matvec(recorder *r, const gpu_matrix *W, uint32_t first_row, const vk_buffer *norm, const vk_buffer *x,
                   uint32_t x_stride, matvec_out out, uint32_t layer) {
    gpu_session *s = r->s;
    const gpu_tuning *t = &s->g->tuning;
    const uint32_t rows_per_wg = rows_per_workgroup(t, out.kind, r->ncols), tile = tile_columns(r->ncols);
    const int qkv = out.kind == OUT_QKV, head = out.kind == OUT_HEAD;
    const uint32_t tiles = head ? 1 : div_up(r->ncols, tile);
    const uint32_t wg_total = matvec_workgroups(W, rows_per_wg);
    uint32_t wg_first = 0;
    for (uint32_t p = 0; p < W->n_parts; p++) {
        const gpu_matrix_part *part = &W->parts[p];
        if (part->row_begin + part->rows <= first_row) continue;
        uint32_t part_first = first_row > part->row_begin ? first_row - part->row_begin : 0;
        const vk_buffer *bias = qkv ? qkv_bias_of(s, layer) : NULL;
        uint32_t spec[MATVEC_N_SPEC] = {[MATVEC_WG] = t->matvec_wg, [MATVEC_ROWS] = rows_per_wg,
                                        [MATVEC_COLUMNS] = tile, [MATVEC_TYPE] = part->type,
                                        [MATVEC_NORM] = norm != NULL, [MATVEC_OUT] = out.kind,
                                        [MATVEC_BIAS] = bias != NULL};
        uint32_t groups = div_up(part->rows - part_first, rows_per_wg);
        gpu_matvec_push push = {.rows = part->rows, .units = part->units, .x_stride = x_stride,
                                .y_stride = out.y_stride, .row_begin = part->row_begin, .first_row = part_first,
                                .scale_off = part->scale_off, .accumulate = out.accumulate, .layer = layer,
                                .norm_n = (uint32_t)s->hp->n_embd, .norm_eps = s->hp->rms_eps,
                                .q_rows = (uint32_t)hp_q_dim(s->hp), .kv_dim = (uint32_t)hp_kv_dim(s->hp),
                                .head_dim = (uint32_t)s->hp->head_dim, .rope_dim = (uint32_t)s->hp->rope_dim,
                                .slot = out.slot, .wg_first = wg_first, .wg_total = wg_total,
                                .count_at = s->head_workgroups * LVK_MAX_BATCH};
        const vk_buffer *bufs[] = {x, out.y, norm ? norm : x, /* unused bindings get x */
                                   qkv ? &s->k_cache[layer] : head ? &s->partials : x,
                                   qkv ? &s->v_cache[layer] : head ? &s->decisions : x,
                                   qkv ? &s->rope_table : x, bias ? bias : x};
        dispatch(r, "matvec", spec, MATVEC_N_SPEC, &part->buf, bufs, 7, &push, sizeof push, tiles, groups);
        wg_first += groups;
    }
}

static void attention(recorder *r, uint32_t layer) {
    gpu_session *s = r->s;
    const model_hparams *hp = s->hp;
    gpu_attention_push push = {
        .head_dim = (uint32_t)hp->head_dim, .group = (uint32_t)(hp->n_heads / hp->n_kv_heads),
        .kv_dim = (uint32_t)hp_kv_dim(hp), .n_ctx = (uint32_t)s->n_ctx, .q_stride = s->q_stride,
        .n_heads = (uint32_t)hp->n_heads, .scale = 1.0f / sqrtf((float)hp->head_dim), .layer = layer,
        .masked = s->exits.n_exits > 0 && s->exits.kv_fill == LVK_KV_NONE, /* prompts after a hole skip it too */
        .shares_at = s->shares_at};
    uint32_t spec[] = {s->g->tuning.reduce_wg, s->g->tuning.attn_splits};
    const vk_buffer *bufs[] = {&s->q, &s->k_cache[layer], &s->v_cache[layer], &s->scores, &s->att, &s->depth, &s->shares};
    dispatch(r, "attention", spec, 2, NULL, bufs, 7, &push, sizeof push, (uint32_t)hp->n_heads * spec[1], r->ncols);
}

/* hb[c][i] = silu(gate) * up, from gate rows then up rows in hb (the mat-vec
 * could not interleave them: their types differ). */
static void swiglu(recorder *r) {
    gpu_session *s = r->s;
    gpu_swiglu_push push = {.n = (uint32_t)s->hp->n_ff, .stride = s->hb_stride};
    uint32_t spec[] = {s->g->tuning.map_wg};
    const vk_buffer *bufs[] = {&s->hb};
    dispatch(r, "swiglu", spec, 1, NULL, bufs, 1, &push, sizeof push, div_up(push.n, spec[0]), r->ncols);
}

static void embed(recorder *r) {
    gpu_session *s = r->s;
    const gpu_matrix *E = &s->g->tok_embd;
    for (uint32_t p = 0; p < E->n_parts; p++) {
        const gpu_matrix_part *part = &E->parts[p];
        uint32_t spec[] = {s->g->tuning.map_wg, part->type};
        gpu_embed_push push = {.units = part->units, .x_stride = s->x_stride, .scale_off = part->scale_off,
                               .row_begin = part->row_begin, .rows = part->rows};
        const vk_buffer *bufs[] = {r->x};
        dispatch(r, "embed", spec, 2, &part->buf, bufs, 1, &push, sizeof push, div_up(part->units, spec[0]), r->ncols);
    }
}

/* ---- the model ------------------------------------------------------------------ */

/* Block `l` for the columns that run it. Shapes per column: x [n_embd],
 * q/att [q_dim], k/v [kv_dim] into the caches at pos, hb [n_ff]. */
static void block(recorder *r, uint32_t l) {
    gpu_session *s = r->s;
    const gpu_layer *L = &s->g->layers[l];
    const matvec_out qkv = {.kind = OUT_QKV, .y = &s->q, .y_stride = s->q_stride};
    const matvec_out add_to_x = {.kind = OUT_Y, .y = r->x, .y_stride = s->x_stride, .accumulate = 1};
    const matvec_out into_hb = {.kind = L->gate_up_interleaved ? OUT_SWIGLU : OUT_Y, .y = &s->hb,
                                .y_stride = s->hb_stride};
    /* xb = rmsnorm(x) * attn_norm, computed inside the mat-vec that reads it */
    matvec(r, &L->wqkv, 0, &L->attn_norm, r->x, s->x_stride, qkv, l); /* q, K[pos], V[pos] = Wqkv xb, q and K rotated */
    barrier(r);
    attention(r, l);                                                  /* att = softmax(q K^T) V */
    barrier(r);
    matvec(r, &L->wo, 0, NULL, &s->att, s->q_stride, add_to_x, l);    /* x += Wo att */
    barrier(r);
    /* xb = rmsnorm(x) * ffn_norm, again inside the mat-vec */
    matvec(r, &L->w_gate_up, 0, &L->ffn_norm, r->x, s->x_stride, into_hb, l); /* hb = silu(Wg xb) * (Wu xb), */
    if (!L->gate_up_interleaved) {                                    /* or hb = [Wg xb; Wu xb] */
        barrier(r);
        swiglu(r);                                                    /* hb = silu(hb) * hb[n_ff..] */
    }
    barrier(r);
    matvec(r, &L->w_down, 0, NULL, &s->hb, s->hb_stride, add_to_x, l); /* x += Wd hb */
    barrier(r);
}

/* An exit head (the final one too): the final norm and LM head on x, the
 * logits of column logits_col reduced into decisions[slot] on the way out. */
static void head(recorder *r, uint32_t slot) {
    gpu_session *s = r->s;
    const gpu_model *g = s->g;
    uint32_t all = (uint32_t)s->hp->n_layers; /* every column runs the head */
    const matvec_out logits = {.kind = OUT_HEAD, .y = &s->logits, .y_stride = s->vocab_stride, .slot = slot};
    matvec(r, &g->output, 0, &g->output_norm, r->x, s->x_stride, logits, all); /* logits = Wout rmsnorm(x); */
                                                                                /* token, prob, second */
    barrier(r);
}

/* gpu mode: the decision of exit k switches the dispatches after it on or off. */
static void gate(recorder *r, uint32_t k) {
    gpu_session *s = r->s;
    gpu_exit_gate_push push = {.exit_index = k, .n_exits = (uint32_t)r->exits->n_exits};
    uint32_t spec[] = {s->g->tuning.map_wg};
    const vk_buffer *bufs[] = {&s->decisions, &r->pass->counts, &r->pass->plan, &s->taken};
    dispatch(r, "exit_gate", spec, 1, NULL, bufs, 4, &push, sizeof push, 1, 1);
    vk_record_barrier_indirect(&r->vk);
    r->gated = 1;
    r->plan[4 * k] = r->n_slots; /* deeper dispatches start here; the other ranges once they are known */
}

/* K and V of block l from the exit hidden state in x, for a token that skipped it:
 * the K and V rows of Wqkv (K rotated). */
static void propagate_kv(recorder *r, uint32_t l) {
    gpu_session *s = r->s;
    const gpu_layer *L = &s->g->layers[l];
    const matvec_out kv = {.kind = OUT_QKV, .y = &s->q, .y_stride = s->q_stride}; /* q's rows are not computed */
    matvec(r, &L->wqkv, (uint32_t)hp_q_dim(s->hp), &L->attn_norm, r->x, s->x_stride, kv, l); /* K[pos], V[pos] = Wkv rmsnorm(x) */
    barrier(r);
}

/* Records a pass over blocks 1..n_blocks: embed, the blocks with an exit head
 * after each exit block, the last head (the final one at full depth, the draft
 * head otherwise); in gpu mode with propagation, the K/V of the blocks an exit
 * skips (switched on by the gates). */
static lvk_status record_pass(gpu_session *s, gpu_pass *pass, uint32_t ncols, const vk_buffer *x,
                              const lvk_exit_config *exits, int n_blocks) {
    const int gpu_mode = exits->n_exits > 0 && exits->mode == LVK_EXIT_GPU;
    const int fence_mode = exits->n_exits > 0 && exits->mode == LVK_EXIT_FENCE;
    uint32_t *plan = mem_calloc(LVK_PLAN_COUNTS + pass->max_slots, 16);
    if (!plan) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    recorder r = {.vk = session_recorder(s, pass->cmds[0]),
                  .s = s, .ncols = ncols, .x = x, .exits = exits, .pass = pass, .plan = plan};
    r.vk.status = begin(s->dev, r.vk.cmd);
    pass->n_cmds = fence_mode ? (uint32_t)exits->n_exits + 1 : 1;

    embed(&r);                                                                  /* x = embedding rows */
    barrier(&r);
    int k = 0;
    for (int l = 0; l < n_blocks; l++) {
        block(&r, (uint32_t)l);
        if (k < exits->n_exits && l + 1 == exits->layers[k]) {                 /* exit after block l+1 */
            head(&r, (uint32_t)k);
            if (gpu_mode) gate(&r, (uint32_t)k);
            if (fence_mode) {                                                   /* the host decides here */
                end(&r);
                r.vk.cmd = pass->cmds[k + 1];
                if (r.vk.status == LVK_OK) r.vk.status = begin(s->dev, r.vk.cmd);
            }
            k++;
        }
    }
    head(&r, (uint32_t)exits->n_exits);                                         /* the last block's head */

    uint32_t *layer_slot = mem_calloc((size_t)n_blocks, sizeof *layer_slot); /* first propagation slot per block */
    if (!layer_slot) r.vk.status = status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    uint32_t first_prop = r.n_slots;
    if (gpu_mode && exits->kv_fill == LVK_KV_PROPAGATE && layer_slot)
        for (int l = exits->layers[0]; l < n_blocks; l++) {
            layer_slot[l] = r.n_slots;
            propagate_kv(&r, (uint32_t)l);
        }
    end(&r);
    if (gpu_mode && r.vk.status == LVK_OK) {
        for (int e = 0; e < exits->n_exits; e++) {
            uint32_t *range = plan + 4 * e; /* deeper [x, y), propagation [z, w) */
            range[1] = first_prop;
            range[2] = exits->kv_fill == LVK_KV_PROPAGATE ? layer_slot[exits->layers[e]] : r.n_slots;
            range[3] = r.n_slots;
        }
        r.vk.status = vk_buffer_write(s->dev, &pass->plan, 0, plan, (VkDeviceSize)(LVK_PLAN_COUNTS + r.n_slots) * 16);
    }
    mem_free(layer_slot);
    mem_free(plan);
    return r.vk.status;
}

/* Embed, blocks 1..n_blocks, and a head deciding into decisions[slot]: a pass
 * without exit heads, inside a command buffer being recorded. */
static void forward(recorder *r, int n_blocks, uint32_t slot) {
    embed(r);
    barrier(r);
    for (int l = 0; l < n_blocks; l++) block(r, (uint32_t)l);
    head(r, slot);
}

/* One stage of a gpu-mode speculation cycle (shaders/speculate.comp). */
static void speculate_stage(recorder *r, uint32_t stage, uint32_t draft) {
    gpu_session *s = r->s;
    gpu_speculate_push push = {.stage = stage, .draft = draft, .draft_exit = (uint32_t)s->exits.draft_exit,
                               .verify_slot = VERIFY_SLOT};
    uint32_t spec[] = {s->g->tuning.map_wg};
    const vk_buffer *bufs[] = {&s->cycle_state, &s->decisions, &r->pass->counts, &r->pass->plan};
    dispatch(r, "speculate", spec, 1, NULL, bufs, 4, &push, sizeof push, 1, 1);
    if (stage == 0) vk_record_barrier_indirect(&r->vk);
    else barrier(r);
}

/* gpu mode: a whole speculation cycle in one command buffer. Draft c runs
 * blocks 1..E and the draft head in x's column c, and stage 0 decides whether
 * draft c+1 runs (its dispatches are indirect, their counts written by the
 * stages); then the verification pass, as wide as the most drafts allow, and
 * the acceptance. */
static lvk_status record_cycle(gpu_session *s) {
    const lvk_exit_config *ex = &s->exits;
    gpu_pass *pass = &s->cycle;
    uint32_t *plan = mem_calloc(LVK_PLAN_COUNTS + pass->max_slots, 16);
    if (!plan) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    recorder r = {.vk = session_recorder(s, pass->cmds[0]),
                  .s = s, .ncols = 1, .exits = ex, .pass = pass, .plan = plan};
    r.vk.status = begin(s->dev, r.vk.cmd);
    pass->n_cmds = 1;
    uint32_t first_slot[LVK_MAX_DRAFTS + 1]; /* of each draft's dispatches, then of the stages after them */
    for (int c = 0; c < ex->draft_max; c++) {
        first_slot[c] = r.n_slots;
        r.x = &s->x_columns[c];
        forward(&r, ex->draft_exit, (uint32_t)c);
        speculate_stage(&r, 0, (uint32_t)c);
        r.gated = 1; /* the later drafts are switched on and off */
    }
    const uint32_t rest = first_slot[ex->draft_max] = r.n_slots;
    speculate_stage(&r, 1, 0);
    r.x = &s->x;
    r.ncols = (uint32_t)ex->draft_max + 1;
    forward(&r, s->hp->n_layers, VERIFY_SLOT);
    speculate_stage(&r, 2, 0);
    end(&r);
    for (int c = 0; c < ex->draft_max && r.vk.status == LVK_OK; c++) { /* later drafts [x, y), the rest [y, w) */
        uint32_t *range = plan + 4 * c;
        range[0] = first_slot[c + 1], range[1] = rest, range[2] = rest, range[3] = r.n_slots;
    }
    if (r.vk.status == LVK_OK)
        r.vk.status = vk_buffer_write(s->dev, &pass->plan, 0, plan, (VkDeviceSize)(LVK_PLAN_COUNTS + r.n_slots) * 16);
    mem_free(plan);
    return r.vk.status;
}

/* fence mode with propagation: the K/V of blocks exits->layers[k].. for one column. */
static lvk_status record_propagate(gpu_session *s, int k, const lvk_exit_config *exits) {
    recorder r = {.vk = session_recorder(s, s->propagate[k]),
                  .s = s, .ncols = 1, .x = &s->x, .exits = exits};
    r.vk.status = begin(s->dev, r.vk.cmd);
    for (int l = exits->layers[k]; l < s->hp->n_layers; l++) propagate_kv(&r, (uint32_t)l);
    end(&r);
    return r.vk.status;
}

static lvk_status record_copy_logits(gpu_session *s, uint32_t col) {
    VkCommandBuffer cmd = s->copy_logits[col];
    LVK_TRY(begin(s->dev, cmd));
    VkDeviceSize bytes = (VkDeviceSize)s->vocab_stride * 4;
    VkBufferCopy region = {.srcOffset = col * bytes, .dstOffset = 0, .size = bytes};
    vkCmdCopyBuffer(cmd, s->logits.buffer, s->logits_host.buffer, 1, &region);
    recorder r = {.vk = session_recorder(s, cmd), .s = s, .ncols = 1, .x = &s->x};
    end(&r);
    return r.vk.status;
}

/* (Re-)records every pass for the session's exit configuration. */
static lvk_status record_all(gpu_session *s) {
    LVK_TRY(VK_CALL(s->dev, vkResetCommandPool, s->dev->device, s->pool, 0));
    LVK_TRY(VK_CALL(s->dev, vkResetDescriptorPool, s->dev->device, s->descriptors, 0));
    static const lvk_exit_config full_depth = {0};
    const int n_layers = s->hp->n_layers;
    for (uint32_t t = 0; t < s->prompt_width / LVK_MAX_BATCH; t++)
        LVK_TRY(record_pass(s, &s->prefill[t], (t + 1) * LVK_MAX_BATCH, &s->x, &full_depth, n_layers));
    const int deferred = s->exits.n_exits > 0 && s->exits.kv_fill == LVK_KV_DEFERRED; /* else nothing waits */
    for (int m = 0; m < DECODE_PASSES; m++) {
        s->decode[m].n_cmds = 0;
        if (m == 0 || deferred) LVK_TRY(record_pass(s, &s->decode[m], (uint32_t)m + 1, &s->x, &s->exits, n_layers));
    }
    if (s->exits.decode == LVK_DECODE_SPECULATE && s->exits.mode == LVK_EXIT_GPU) LVK_TRY(record_cycle(s));
    if (s->exits.decode == LVK_DECODE_SPECULATE)
        for (int c = 0; c < s->exits.draft_max; c++) {
            LVK_TRY(record_pass(s, &s->drafts[c], 1, &s->x_columns[c], &full_depth, s->exits.draft_exit));
            LVK_TRY(record_pass(s, &s->verify[c + 1], (uint32_t)c + 2, &s->x, &full_depth, n_layers));
            if (c == 0) LVK_TRY(record_pass(s, &s->verify[0], 1, &s->x, &full_depth, n_layers));
        }
    if (s->exits.mode == LVK_EXIT_FENCE && s->exits.kv_fill == LVK_KV_PROPAGATE)
        for (int k = 0; k < s->exits.n_exits; k++) LVK_TRY(record_propagate(s, k, &s->exits));
    for (uint32_t c = 0; c < s->prompt_width; c++) LVK_TRY(record_copy_logits(s, c));
    return LVK_OK;
}

/* ---- session ------------------------------------------------------------------ */

static lvk_status alloc_zeroed(gpu_session *s, VkDeviceSize size, vk_buffer *b) {
    if (size > s->dev->max_storage_range)
        return status_fail(LVK_ERR_UNSUPPORTED, "a %.1f MiB activation buffer exceeds the device's binding limit of %.1f MiB; use a shorter context",
                        size / 1048576.0, s->dev->max_storage_range / 1048576.0);
    LVK_TRY(vk_arena_alloc(&s->arena, size, b));
    return vk_buffer_zero(s->dev, b);
}

/* Host-visible memory that is not coherent needs explicit flushes and invalidations. */
static lvk_status host_memory_sync(gpu_session *s, int to_device) {
    if (s->dev->readback_coherent) return LVK_OK;
    for (uint32_t i = 0; i < s->host_arena.n_blocks; i++) {
        VkMappedMemoryRange r = {.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
                                 .memory = s->host_arena.blocks[i], .offset = 0, .size = VK_WHOLE_SIZE};
        LVK_TRY(to_device ? VK_CALL(s->dev, vkFlushMappedMemoryRanges, s->dev->device, 1, &r)
                          : VK_CALL(s->dev, vkInvalidateMappedMemoryRanges, s->dev->device, 1, &r));
    }
    return LVK_OK;
}

/* Dispatches of one block and of its K/V propagation (the most over all blocks:
 * their weight types, and so their parts, may differ). */
static void block_dispatches(const gpu_model *g, uint32_t *per_block, uint32_t *per_propagate) {
    *per_block = *per_propagate = 0;
    for (int l = 0; l < g->n_layers; l++) {
        const gpu_layer *L = &g->layers[l];
        uint32_t n = 2 + L->wqkv.n_parts + L->wo.n_parts + L->w_gate_up.n_parts + L->w_down.n_parts; /* + attention, swiglu */
        if (n > *per_block) *per_block = n;
        if (L->wqkv.n_parts > *per_propagate) *per_propagate = L->wqkv.n_parts;
    }
}

static lvk_status submit(gpu_session *s, VkCommandBuffer cmd);

/* Runs every recorded command buffer once with no token columns, so each
 * kernel is compiled now rather than in the first prompt (lavapipe compiles
 * a shader on its first dispatch: ~0.2 s in all for a 5-block model). No
 * column runs, so nothing a token keeps is written. */
static lvk_status warm_up(gpu_session *s) {
    gpu_params p;
    memset(&p, 0, sizeof p);
    for (int e = 0; e < LVK_MAX_EXITS; e++) p.thresholds[e] = (float)LVK_NEVER_EXIT; /* gates leave every dispatch on */
    memcpy(s->params.mapped, &p, sizeof p);
    LVK_TRY(submit(s, s->prefill[0].cmds[0])); /* the wider ones run the same kernels */
    for (int m = 0; m < DECODE_PASSES; m++)
        for (uint32_t k = 0; k < s->decode[m].n_cmds; k++) LVK_TRY(submit(s, s->decode[m].cmds[k]));
    if (s->exits.decode == LVK_DECODE_SPECULATE && s->exits.mode == LVK_EXIT_GPU)
        LVK_TRY(submit(s, s->cycle.cmds[0])); /* no column: drafting stops at once, verification runs none */
    if (s->exits.decode == LVK_DECODE_SPECULATE) /* the drafts share one-column kernels; each width has its own */
        LVK_TRY(submit(s, s->drafts[0].cmds[0]));
    for (int c = 0; s->exits.decode == LVK_DECODE_SPECULATE && c <= s->exits.draft_max; c++)
        LVK_TRY(submit(s, s->verify[c].cmds[0]));
    if (s->exits.mode == LVK_EXIT_FENCE && s->exits.kv_fill == LVK_KV_PROPAGATE)
        for (int k = 0; k < s->exits.n_exits; k++) LVK_TRY(submit(s, s->propagate[k]));
    return LVK_OK;
}

static lvk_status session_init(gpu_session *s) {
    const model_hparams *hp = s->hp;
    vk_device *dev = s->dev;
    const gpu_model *g = s->g;
    const uint32_t kv_dim = (uint32_t)hp_kv_dim(hp), ctx = (uint32_t)s->n_ctx;
    /* The prompt's passes, the widest: the activations have a column for each.
     * As wide as the tuning says, but no wider than the context, nor than
     * lets a pass's attention scores fit one binding (a long context on
     * lavapipe's 128 MiB keeps 8 columns rather than failing). */
    uint32_t W = g->tuning.prompt_columns;
    if (!gpu_prompt_columns_valid(W))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "a prompt pass of %u token columns: it takes a multiple of %d up to %d",
                        W, LVK_MAX_BATCH, LVK_MAX_PROMPT_COLUMNS);
    const VkDeviceSize column_scores = (VkDeviceSize)hp->n_heads * ctx * 4;
    if (W > pad8(ctx)) W = (uint32_t)pad8(ctx);
    if (W * column_scores > dev->max_storage_range) {
        const VkDeviceSize fits = dev->max_storage_range / column_scores / LVK_MAX_BATCH * LVK_MAX_BATCH;
        W = fits > LVK_MAX_BATCH ? (uint32_t)fits : LVK_MAX_BATCH;
    }
    s->prompt_width = W;
    const uint32_t n_layers = (uint32_t)hp->n_layers;
    /* a column of x is bound on its own for the drafts, as a buffer and as
     * texels: its offset must meet the device's alignment for both */
    const VkPhysicalDeviceLimits *lim = &dev->props.limits;
    const uint32_t align = (uint32_t)(lim->minStorageBufferOffsetAlignment > lim->minTexelBufferOffsetAlignment
                                          ? lim->minStorageBufferOffsetAlignment
                                          : lim->minTexelBufferOffsetAlignment) / 4;
    s->x_stride = (uint32_t)pad8((uint64_t)hp->n_embd);
    if (align > 8) s->x_stride = (s->x_stride + align - 1) / align * align;
    s->q_stride = (uint32_t)pad8((uint64_t)hp_q_dim(hp));
    s->hb_stride = 2 * (uint32_t)pad8((uint64_t)hp->n_ff);
    s->vocab_stride = (uint32_t)pad8((uint64_t)hp->n_vocab);
    /* the most workgroups a head has: in the widest pass, which takes the fewest rows each */
    s->head_workgroups = matvec_workgroups(&g->output, rows_per_workgroup(&g->tuning, OUT_HEAD, LVK_MAX_BATCH));

    /* dispatches of the longest pass: embed, blocks, every head and gate, propagation */
    uint32_t per_block, per_propagate, per_head = g->output.n_parts;
    block_dispatches(g, &per_block, &per_propagate);
    s->max_slots = g->tok_embd.n_parts + n_layers * (per_block + per_propagate) + (LVK_MAX_EXITS + 1) * (per_head + 1);

    /* The buffers that grow with the context, checked against the device's
     * limits before any is made: one layer's K (and V) cache in f16 and the
     * attention scores of a batch must each fit one binding, and all of
     * them, with the RoPE table, the device's memory. */
    const uint32_t half = (uint32_t)hp->rope_dim / 2;
    const VkDeviceSize kv_layer_bytes = (VkDeviceSize)ctx * kv_dim * 2,
                       scores_bytes = W * column_scores,
                       rope_bytes = (VkDeviceSize)ctx * half * 8;
    const VkDeviceSize widest = kv_layer_bytes > scores_bytes ? kv_layer_bytes : scores_bytes;
    if (widest > dev->max_storage_range)
        return status_fail(LVK_ERR_UNSUPPORTED,
                        "a context of %u tokens needs %.1f MiB buffers, the device binds at most %.1f MiB: "
                        "use a context of at most %llu tokens",
                        ctx, widest / 1048576.0, dev->max_storage_range / 1048576.0,
                        (unsigned long long)(dev->max_storage_range / (widest / ctx)));
    char what[64];
    snprintf(what, sizeof what, "a context of %u tokens", ctx);
    LVK_TRY(vk_device_check_memory(dev, 2 * n_layers * kv_layer_bytes + scores_bytes + rope_bytes, what));

    vk_arena_init(&s->arena, dev, 0);
    vk_arena_init(&s->host_arena, dev, 1);
    LVK_TRY(vk_arena_alloc(&s->host_arena, sizeof(gpu_params), &s->params));
    LVK_TRY(vk_arena_alloc(&s->host_arena, (LVK_MAX_EXITS + 1) * sizeof(gpu_decision), &s->decisions));
    LVK_TRY(vk_arena_alloc(&s->host_arena, 16, &s->taken));
    LVK_TRY(vk_arena_alloc(&s->host_arena, sizeof(gpu_cycle_state), &s->cycle_state));
    LVK_TRY(vk_arena_alloc(&s->host_arena, (VkDeviceSize)ctx * 4, &s->depth));
    LVK_TRY(vk_arena_alloc(&s->host_arena, (VkDeviceSize)s->vocab_stride * 4, &s->logits_host));
    memset(s->params.mapped, 0, sizeof(gpu_params));
    memset(s->depth.mapped, 0, (size_t)ctx * 4);

    /* cos/sin of every (position, pair), of the angles the reference takes */
    float *table = mem_malloc((size_t)ctx * half * 2 * sizeof(float));
    if (!table) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t p = 0; p < ctx; p++)
        for (uint32_t i = 0; i < half; i++) {
            float angle = rope_angle(hp, (int)p, (int)i);
            table[(p * half + i) * 2] = cosf(angle);
            table[(p * half + i) * 2 + 1] = sinf(angle);
        }
    lvk_status st = alloc_zeroed(s, rope_bytes, &s->rope_table);
    if (st == LVK_OK) st = vk_buffer_write(dev, &s->rope_table, 0, table, rope_bytes);
    mem_free(table);
    LVK_TRY(st);

    /* the mat-vecs' inputs (x, att, hb) are read as texels */
    LVK_TRY(alloc_zeroed(s, (VkDeviceSize)W * s->x_stride * 4, &s->x));
    LVK_TRY(vk_buffer_texel_views(dev, &s->x));
    for (uint32_t c = 0; c < LVK_MAX_DRAFTS; c++) {
        s->x_columns[c] = vk_buffer_view(&s->x, (VkDeviceSize)c * s->x_stride * 4, (VkDeviceSize)s->x_stride * 4);
        LVK_TRY(vk_buffer_texel_views(dev, &s->x_columns[c]));
    }
    LVK_TRY(alloc_zeroed(s, (VkDeviceSize)W * s->q_stride * 4, &s->q));
    LVK_TRY(alloc_zeroed(s, (VkDeviceSize)W * s->q_stride * 4, &s->att));
    LVK_TRY(vk_buffer_texel_views(dev, &s->att));
    LVK_TRY(alloc_zeroed(s, (VkDeviceSize)W * s->hb_stride * 4, &s->hb));
    LVK_TRY(vk_buffer_texel_views(dev, &s->hb));
    LVK_TRY(alloc_zeroed(s, scores_bytes, &s->scores));
    LVK_TRY(alloc_zeroed(s, (VkDeviceSize)W * s->vocab_stride * 4, &s->logits));
    LVK_TRY(alloc_zeroed(s, ((VkDeviceSize)s->head_workgroups * LVK_MAX_BATCH + 1) * 16, &s->partials)); /* + the count */
    for (int t = 0; t < PROMPT_PASSES; t++) s->prefill[t].max_slots = s->max_slots;
    for (int m = 0; m < DECODE_PASSES; m++) s->decode[m].max_slots = s->max_slots;
    for (int c = 0; c < LVK_MAX_DRAFTS; c++) s->drafts[c].max_slots = s->max_slots;
    for (int c = 0; c < LVK_MAX_BATCH; c++) s->verify[c].max_slots = s->max_slots;
    s->cycle.max_slots = (LVK_MAX_DRAFTS + 1) * s->max_slots; /* every draft and the verification */
    gpu_pass *gated[DECODE_PASSES + 1] = {&s->cycle}; /* gpu mode: the cycle and the decode passes */
    for (int m = 0; m < DECODE_PASSES; m++) gated[m + 1] = &s->decode[m];
    for (int i = 0; i <= DECODE_PASSES; i++) {
        LVK_TRY(alloc_zeroed(s, (VkDeviceSize)gated[i]->max_slots * 16, &gated[i]->counts));
        LVK_TRY(alloc_zeroed(s, (VkDeviceSize)(LVK_PLAN_COUNTS + gated[i]->max_slots) * 16, &gated[i]->plan));
    }
    s->k_cache = mem_calloc(n_layers, sizeof *s->k_cache);
    s->v_cache = mem_calloc(n_layers, sizeof *s->v_cache);
    if (!s->k_cache || !s->v_cache) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    for (uint32_t l = 0; l < n_layers; l++) { /* f16 */
        LVK_TRY(alloc_zeroed(s, kv_layer_bytes, &s->k_cache[l]));
        LVK_TRY(alloc_zeroed(s, kv_layer_bytes, &s->v_cache[l]));
    }
    s->shares_at = W * (uint32_t)hp->n_heads;
    uint32_t splits = g->tuning.attn_splits;
    LVK_TRY(alloc_zeroed(s, ((VkDeviceSize)s->shares_at + (VkDeviceSize)s->shares_at * splits * (2 + hp->head_dim)) * 4,
                         &s->shares));

    /* descriptor sets: one per dispatch of the passes and the propagation buffers */
    uint32_t sets = (W / LVK_MAX_BATCH + DECODE_PASSES + LVK_MAX_DRAFTS + LVK_MAX_BATCH) * s->max_slots +
                    s->cycle.max_slots +
                    LVK_MAX_EXITS * n_layers * per_propagate;
    LVK_TRY(vk_descriptor_pool_create(dev, sets, &s->descriptors));
    VkCommandPoolCreateInfo cpi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .queueFamilyIndex = dev->queue_family};
    LVK_TRY(VK_CALL(dev, vkCreateCommandPool, dev->device, &cpi, NULL, &s->pool));
    enum { PER_PASS = LVK_MAX_EXITS + 1, /* fence mode: a command buffer per exit segment */
           SPECULATION = LVK_MAX_DRAFTS + LVK_MAX_BATCH + 1, /* one each, and the gpu-mode cycle */
           PASSES = DECODE_PASSES * PER_PASS + PROMPT_PASSES, /* decode, then the prompt's (one each) */
           N_CMDS = PASSES + SPECULATION + LVK_MAX_EXITS + LVK_MAX_PROMPT_COLUMNS };
    VkCommandBuffer cmds[N_CMDS];
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = s->pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = N_CMDS};
    LVK_TRY(VK_CALL(dev, vkAllocateCommandBuffers, dev->device, &cai, cmds));
    for (int m = 0; m < DECODE_PASSES; m++) memcpy(s->decode[m].cmds, cmds + m * PER_PASS, sizeof s->decode[m].cmds);
    for (int t = 0; t < PROMPT_PASSES; t++) s->prefill[t].cmds[0] = cmds[DECODE_PASSES * PER_PASS + t];
    for (int c = 0; c < LVK_MAX_DRAFTS; c++) s->drafts[c].cmds[0] = cmds[PASSES + c];
    for (int c = 0; c < LVK_MAX_BATCH; c++) s->verify[c].cmds[0] = cmds[PASSES + LVK_MAX_DRAFTS + c];
    s->cycle.cmds[0] = cmds[PASSES + LVK_MAX_DRAFTS + LVK_MAX_BATCH];
    memcpy(s->propagate, cmds + PASSES + SPECULATION, sizeof s->propagate);
    memcpy(s->copy_logits, cmds + PASSES + SPECULATION + LVK_MAX_EXITS, sizeof s->copy_logits);
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    LVK_TRY(VK_CALL(dev, vkCreateFence, dev->device, &fi, NULL, &s->fence));
    LVK_TRY(record_all(s));
    return warm_up(s);
}

/* The exits the passes hold: an exit whose threshold is 1 can never fire, so
 * its head is left out unless every head is wanted (probe_all); speculation
 * drafts instead of exiting, so its decode passes hold no exit. index[k]
 * receives the index of exit k in the requested configuration. */
static lvk_exit_config active_exits(const lvk_exit_config *requested, int index[LVK_MAX_EXITS]) {
    lvk_exit_config a = *requested;
    a.n_exits = 0;
    memset(a.layers, 0, sizeof a.layers);
    memset(a.thresholds, 0, sizeof a.thresholds);
    for (int k = 0; k < requested->n_exits; k++)
        if (requested->probe_all || (requested->decode == LVK_DECODE_EXIT && requested->thresholds[k] < 1.0f)) {
            index[a.n_exits] = k;
            a.layers[a.n_exits] = requested->layers[k];
            a.thresholds[a.n_exits++] = requested->thresholds[k];
        }
    return a;
}

lvk_status gpu_session_create(const gpu_model *g, const model_hparams *hp, int n_ctx, const lvk_exit_config *exits,
                              gpu_session **out) {
    gpu_session *s = mem_calloc(1, sizeof *s);
    if (!s) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    s->dev = g->dev;
    s->g = g;
    s->hp = hp;
    s->n_ctx = n_ctx;
    if (exits) s->exits = active_exits(exits, s->exit_index);
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
    if (s->fence) VK_DESTROY(vkDestroyFence, d, s->fence, NULL);
    if (s->pool) VK_DESTROY(vkDestroyCommandPool, d, s->pool, NULL);
    if (s->descriptors) VK_DESTROY(vkDestroyDescriptorPool, d, s->descriptors, NULL);
    vk_buffer *views[] = {&s->x, &s->att, &s->hb};
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) vk_buffer_free_views(s->dev, views[i]);
    for (int c = 0; c < LVK_MAX_DRAFTS; c++) vk_buffer_free_views(s->dev, &s->x_columns[c]);
    vk_arena_free(&s->arena);
    vk_arena_free(&s->host_arena);
    mem_free(s->k_cache);
    mem_free(s->v_cache);
    mem_free(s);
}

void gpu_session_reset(gpu_session *s) {
    s->n_pending = 0;
    s->next_pos = 0;
}

/* ---- running passes ----------------------------------------------------------- */

/* Writes the per-pass values: the tokens waiting for deferred KV fill in
 * columns 0..n_pending-1 (when `with_pending`), then the new tokens. */
static gpu_params pass_params(gpu_session *s, const int32_t *tokens, int n, int pos, int with_pending) {
    gpu_params p;
    memset(&p, 0, sizeof p);
    int m = with_pending ? s->n_pending : 0;
    p.n_tokens = (uint32_t)(m + n);
    p.pos = (uint32_t)(pos - m);
    p.decide_from = p.n_tokens - 1;
    for (int c = 0; c < m; c++) p.start_layer[c] = s->pending_start[c];
    for (int i = 0; i < n; i++) p.tokens[m + i] = (uint32_t)tokens[i];
    for (int e = 0; e < LVK_MAX_EXITS; e++) p.thresholds[e] = e < s->exits.n_exits ? s->exits.thresholds[e] : (float)LVK_NEVER_EXIT;
    return p;
}

static lvk_status submit(gpu_session *s, VkCommandBuffer cmd) {
    LVK_TRY(host_memory_sync(s, 1));
    LVK_TRY(vk_submit_wait(s->dev, cmd, s->fence));
    return host_memory_sync(s, 0);
}

static gpu_decision read_decision(gpu_session *s, int slot) {
    gpu_decision d;
    memcpy(&d, s->decisions.mapped + (size_t)slot * sizeof d, sizeof d);
    return d;
}

static void set_depth(gpu_session *s, int pos, int n, int layer) {
    uint32_t *depth = (uint32_t *)s->depth.mapped;
    for (int i = 0; i < n; i++) depth[pos + i] = (uint32_t)layer;
}

lvk_status gpu_session_prefill(gpu_session *s, const int32_t *tokens, int n, int pos, gpu_step *out) {
    if (n < 0 || pos < 0 || pos + n > s->n_ctx)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "gpu_session_prefill: %d tokens at %d do not fit a context of %d",
                        n, pos, s->n_ctx);
    memset(out, 0, sizeof *out);
    int done = 0;
    uint32_t col = 0;
    while (done < n || s->n_pending > 0) {
        /* waiting tokens first: they catch up in the columns before the new ones */
        int room = (int)s->prompt_width - s->n_pending, chunk = n - done < room ? n - done : room;
        gpu_params p = pass_params(s, tokens + done, chunk, pos + done, 1);
        memcpy(s->params.mapped, &p, sizeof p);
        LVK_TRY(submit(s, s->prefill[div_up(p.n_tokens, LVK_MAX_BATCH) - 1].cmds[0]));
        s->n_pending = 0;
        col = p.decide_from;
        set_depth(s, (int)p.pos, (int)p.n_tokens, s->hp->n_layers);
        done += chunk;
    }
    s->next_pos = pos + n;
    out->chosen = read_decision(s, 0);
    out->col = (int)col;
    out->layer = s->hp->n_layers;
    out->n_heads = 1;
    out->heads[0] = out->chosen;
    out->head_layers[0] = s->hp->n_layers;
    out->exit = -1;
    return LVK_OK;
}

lvk_status gpu_session_decode(gpu_session *s, int32_t token, int pos, gpu_step *out) {
    if (pos < 0 || pos >= s->n_ctx)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "gpu_session_decode: position %d is outside the context of %d", pos,
                        s->n_ctx);
    const lvk_exit_config *ex = &s->exits;
    const int n_layers = s->hp->n_layers;
    int catch_up = 0, caught_up_blocks = 0;
    if (s->n_pending == LVK_MAX_BATCH - 1) { /* no column left: the waiting tokens catch up in a pass of their own */
        for (int c = 0; c < s->n_pending; c++) caught_up_blocks += n_layers - (int)s->pending_start[c];
        gpu_step ignored;
        LVK_TRY(gpu_session_prefill(s, NULL, 0, pos, &ignored));
        catch_up = 1;
    }
    const int m = s->n_pending;
    gpu_pass *pass = &s->decode[m];
    gpu_params p = pass_params(s, &token, 1, pos, 1);
    memcpy(s->params.mapped, &p, sizeof p);

    int taken = ex->n_exits; /* exit index, n_exits = full depth */
    if (ex->n_exits > 0 && ex->mode == LVK_EXIT_FENCE) {
        for (int k = 0; k <= ex->n_exits; k++) {
            LVK_TRY(submit(s, pass->cmds[k]));
            if (k < ex->n_exits && read_decision(s, k).confident) { /* what the head decided */
                taken = k;
                break;
            }
        }
    } else {
        LVK_TRY(submit(s, pass->cmds[0]));
        if (ex->n_exits > 0) memcpy(&taken, s->taken.mapped, sizeof taken);
    }
    if (taken < 0 || taken > ex->n_exits)
        return status_fail(LVK_ERR_DEVICE, "the device reported exit %d of %d: its results are not trustworthy", taken,
                        ex->n_exits);
    const int layer = taken < ex->n_exits ? ex->layers[taken] : n_layers;

    memset(out, 0, sizeof *out);
    out->layer = layer;
    out->exit = taken < ex->n_exits ? s->exit_index[taken] : -1;
    out->catch_up_pass = catch_up;
    out->kv_fill_blocks = caught_up_blocks;
    out->n_heads = taken + 1;
    for (int k = 0; k <= taken; k++) {
        out->heads[k] = read_decision(s, k);
        out->head_layers[k] = k < ex->n_exits ? ex->layers[k] : n_layers;
    }
    out->chosen = out->heads[taken];
    out->col = (int)p.decide_from;

    /* KV fill for the blocks this token skipped */
    if (taken < ex->n_exits && ex->kv_fill == LVK_KV_PROPAGATE) {
        if (ex->mode == LVK_EXIT_FENCE) LVK_TRY(submit(s, s->propagate[taken]));
        out->kv_fill_blocks += n_layers - layer;
    }
    set_depth(s, pos, 1, layer);
    s->next_pos = pos + 1;
    if (ex->n_exits > 0 && ex->kv_fill == LVK_KV_DEFERRED) {
        for (int c = 0; c < m; c++) /* the waiting tokens ran blocks start..layer-1 with this one */
            if ((int)s->pending_start[c] < layer) {
                out->kv_fill_blocks += layer - (int)s->pending_start[c];
                s->pending_start[c] = (uint32_t)layer;
            }
        if (layer < n_layers) {
            s->pending_start[m] = (uint32_t)layer;
            s->n_pending = m + 1;
        } else {
            s->n_pending = 0;
        }
    }
    return LVK_OK;
}

lvk_status gpu_session_draft(gpu_session *s, int32_t token, int pos, int col, float threshold, gpu_decision *out) {
    if (s->exits.decode != LVK_DECODE_SPECULATE || col < 0 || col >= s->exits.draft_max || pos < 0 ||
        pos + col >= s->n_ctx)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "gpu_session_draft: column %d at %d (context %d, speculation %s)", col,
                        pos, s->n_ctx, s->exits.decode == LVK_DECODE_SPECULATE ? "on" : "off");
    if (col == 0 && s->n_pending > 0) { /* the drafts need the columns: waiting tokens catch up first */
        gpu_step ignored;
        LVK_TRY(gpu_session_prefill(s, NULL, 0, pos, &ignored));
    }
    gpu_params p = pass_params(s, &token, 1, pos + col, 0); /* one column: x's column col */
    p.thresholds[0] = threshold;
    memcpy(s->params.mapped, &p, sizeof p);
    LVK_TRY(submit(s, s->drafts[col].cmds[0]));
    *out = read_decision(s, 0);
    return LVK_OK;
}

lvk_status gpu_session_verify(gpu_session *s, const int32_t *tokens, int n, int n_drafted, int pos, gpu_decision *out) {
    if (s->exits.decode != LVK_DECODE_SPECULATE || n < 1 || n > s->exits.draft_max + 1 || n_drafted < 0 || n_drafted > n ||
        pos < 0 || pos + n > s->n_ctx)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "gpu_session_verify: %d columns (%d drafted) at %d, context %d", n,
                        n_drafted, pos, s->n_ctx);
    gpu_params p = pass_params(s, tokens, n, pos, 0);
    p.decide_from = 0;
    for (int c = 0; c < n_drafted; c++) p.start_layer[c] = (uint32_t)s->exits.draft_exit;
    memcpy(s->params.mapped, &p, sizeof p);
    LVK_TRY(submit(s, s->verify[n - 1].cmds[0]));
    for (int c = 0; c < n; c++) out[c] = read_decision(s, c);
    set_depth(s, pos, n, s->hp->n_layers);
    s->next_pos = pos + n;
    return LVK_OK;
}

lvk_status gpu_session_cycle(gpu_session *s, int32_t token, int pos, int max_drafts, gpu_cycle *out) {
    const lvk_exit_config *ex = &s->exits;
    if (ex->decode != LVK_DECODE_SPECULATE || ex->mode != LVK_EXIT_GPU || max_drafts < 0 ||
        max_drafts > ex->draft_max || pos < 0 || pos + max_drafts >= s->n_ctx)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "gpu_session_cycle: %d drafts at %d (context %d)", max_drafts, pos,
                        s->n_ctx);
    if (s->n_pending > 0) { /* the drafts need the columns: waiting tokens catch up first */
        gpu_step ignored;
        LVK_TRY(gpu_session_prefill(s, NULL, 0, pos, &ignored));
    }
    gpu_params p = pass_params(s, &token, 1, pos, 0);
    for (int c = 0; c < ex->draft_max; c++) p.thresholds[c] = ex->draft_threshold; /* draft c's head decides at slot c */
    p.pad = (uint32_t)max_drafts;
    memcpy(s->params.mapped, &p, sizeof p);
    LVK_TRY(submit(s, s->cycle.cmds[0]));
    gpu_cycle_state c;
    memcpy(&c, s->cycle_state.mapped, sizeof c);
    if (c.k > (uint32_t)max_drafts || c.ran < 1 || c.ran > (uint32_t)ex->draft_max || c.n_out < 1 || c.n_out > c.k + 1)
        return status_fail(LVK_ERR_DEVICE, "the device reported a speculation cycle of %u drafts, %u passes and %u tokens: "
                        "its results are not trustworthy", c.k, c.ran, c.n_out);
    memset(out, 0, sizeof *out);
    out->n_tokens = (int)c.n_out;
    out->n_drafted = (int)c.k;
    out->draft_passes = (int)c.ran;
    for (uint32_t i = 0; i < c.n_out; i++) {
        out->tokens[i] = (int32_t)c.out_tokens[i];
        out->confidence[i] = c.out_confidence[i];
    }
    set_depth(s, pos, (int)c.k + 1, s->hp->n_layers);
    s->next_pos = pos + (int)c.k + 1;
    return LVK_OK;
}

lvk_status gpu_session_set_exits(gpu_session *s, const lvk_exit_config *requested) {
    int index[LVK_MAX_EXITS], old_index[LVK_MAX_EXITS];
    lvk_exit_config old = s->exits, next = active_exits(requested, index);
    const lvk_exit_config *exits = &next;
    memcpy(old_index, s->exit_index, sizeof old_index);
    memcpy(s->exit_index, index, sizeof index);
    int same_draft = old.decode == exits->decode && (exits->decode != LVK_DECODE_SPECULATE ||
                                                     (old.draft_exit == exits->draft_exit && old.draft_max == exits->draft_max));
    int same_passes = old.n_exits == exits->n_exits && old.mode == exits->mode && old.kv_fill == exits->kv_fill &&
                      !memcmp(old.layers, exits->layers, sizeof old.layers) && same_draft;
    if (same_passes) { /* thresholds are per-pass values: nothing to re-record */
        s->exits = *exits;
        return LVK_OK;
    }
    if (s->n_pending > 0) { /* the waiting tokens catch up before the passes change */
        gpu_step ignored;
        LVK_TRY(gpu_session_prefill(s, NULL, 0, s->next_pos, &ignored));
    }
    s->exits = *exits;
    lvk_status st = record_all(s);
    if (st != LVK_OK) { /* keep a session that works: back to the old passes */
        s->exits = old;
        memcpy(s->exit_index, old_index, sizeof old_index);
        if (record_all(s) != LVK_OK) return status_fail(LVK_ERR_DEVICE, "re-recording the passes failed twice: %s", lvk_last_error());
    }
    return st;
}

lvk_status gpu_session_logits(gpu_session *s, int col, float *out) {
    if (col < 0 || col >= (int)s->prompt_width) return status_fail(LVK_ERR_INVALID_ARGUMENT, "logits column %d", col);
    LVK_TRY(submit(s, s->copy_logits[col]));
    memcpy(out, s->logits_host.mapped, (size_t)s->hp->n_vocab * 4);
    return LVK_OK;
}

lvk_status gpu_session_read_kv(gpu_session *s, int layer, int n_pos, float *k, float *v) {
    if (layer < 0 || layer >= s->hp->n_layers || n_pos < 0 || n_pos > s->n_ctx)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "gpu_session_read_kv: block %d, %d positions", layer, n_pos);
    size_t n = (size_t)n_pos * hp_kv_dim(s->hp);
    uint16_t *half = mem_malloc(n * 2 + 2);
    if (!half) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    lvk_status st = LVK_OK;
    for (int which = 0; which < 2 && st == LVK_OK; which++) {
        float *out = which ? v : k;
        st = vk_buffer_read(s->dev, which ? &s->v_cache[layer] : &s->k_cache[layer], 0, half, n * 2);
        /* K in the model's order of each head's dimensions, as the reference keeps it
         * (positions hold whole heads, so a K cache index is a row as rope_source_row takes it) */
        for (size_t i = 0; st == LVK_OK && i < n; i++)
            out[which ? i : (size_t)rope_source_row(s->hp, i)] = f16_to_f32(half[i]);
    }
    mem_free(half);
    return st;
}

/* Weight bytes of rows first_row.. of W in the GPU layout. */
static uint64_t rows_bytes(const gpu_matrix *W, uint32_t first_row) {
    uint64_t b = 0;
    for (uint32_t p = 0; p < W->n_parts; p++) {
        const gpu_matrix_part *part = &W->parts[p];
        uint32_t end = part->row_begin + part->rows, begin = part->row_begin > first_row ? part->row_begin : first_row;
        if (end > begin) b += (end - begin) * gpu_row_bytes(part->type, W->cols);
    }
    return b;
}

/* Per block, the mean over blocks (their weight types may differ). */
gpu_pass_bytes gpu_session_bytes(const gpu_session *s) {
    const gpu_model *g = s->g;
    uint64_t norm = (uint64_t)s->hp->n_embd * 4, block = 0, kv = 0;
    for (int l = 0; l < g->n_layers; l++) {
        const gpu_layer *L = &g->layers[l];
        block += 2 * norm + L->wqkv.bytes + L->wo.bytes + L->w_gate_up.bytes + L->w_down.bytes;
        kv += norm + rows_bytes(&L->wqkv, (uint32_t)hp_q_dim(s->hp));
    }
    gpu_pass_bytes b;
    b.block = block / (uint64_t)g->n_layers;
    b.head = norm + g->output.bytes;
    b.kv_fill = kv / (uint64_t)g->n_layers;
    return b;
}
