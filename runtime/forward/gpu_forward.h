/* gpu_forward.h — a session's device state and the forward pass on the GPU,
 * with early exit.
 *
 * Passes are recorded once per exit configuration and replayed; per-token
 * values (position, token ids, thresholds) live in a small host-written
 * buffer. Only the exit heads' decisions (16 bytes each) are read back.
 *
 * Passes:
 *   prefill  prompt tokens at full depth, no exit heads, as many a pass as the
 *            device's tuning says (32 on lavapipe), in tiles of 8 columns;
 *   decode   one new token with an exit head after each exit block. In `fence`
 *            mode it is one command buffer per segment (blocks up to the next
 *            exit and its head) and the host decides between them; in `gpu`
 *            mode one command buffer whose later dispatches are indirect, their
 *            counts written by a gate kernel after each head.
 * KV fill for the blocks an exited token skipped:
 *   propagate  K/V of those blocks from the exit hidden state, right after;
 *   deferred   the token's hidden state stays in its column of x; it runs the
 *              skipped blocks in the same batched pass as the next token that
 *              goes deeper (up to 7 tokens wait; then they catch up in a pass
 *              of their own);
 *   none       attention masks the holes (the host keeps each position's depth).
 * Speculation (runtime/decode/speculate.c) adds two passes:
 *   draft    one token through blocks 1..E and the draft head after block E,
 *            a one-column pass bound to a column of x of its own, where its
 *            hidden state after block E stays;
 *   verify   a full-depth pass as wide as the cycle (n columns cost n on a
 *            device where a column is not nearly free): the drafted columns
 *            continue from block E+1, a last one may run from block 1, and
 *            the final head decides every column.
 * In exit mode `gpu` a greedy cycle is one submission: the drafts, gated on the
 * device by shaders/speculate.comp, then a verification pass as wide as the
 * most drafts allow, then the acceptance.
 * Every head writes its decision (confident(), shaders/common.glsl); the host
 * reads it and never compares a confidence with a threshold itself.
 */
#ifndef LVK_GPU_FORWARD_H
#define LVK_GPU_FORWARD_H

#include "forward/gpu_model.h"
#include "gpu_shared.h"

_Static_assert(LVK_GPU_MAX_EXITS == LVK_MAX_EXITS, "the shaders' exit count is the API's");

/* Binding 0 of every dispatch: the per-pass values (Params in shaders/common.glsl). */
typedef struct gpu_params {
    uint32_t n_tokens, pos, decide_from, pad;
    uint32_t tokens[LVK_MAX_PROMPT_COLUMNS];
    uint32_t start_layer[LVK_MAX_PROMPT_COLUMNS];
    float thresholds[LVK_GPU_MAX_EXITS];
} gpu_params;

typedef struct gpu_decision { /* one head's result, as the shader writes it */
    uint32_t token;
    float prob;         /* softmax probability of `token`: the confidence */
    float second;       /* second-highest probability */
    uint32_t confident; /* confident(prob, threshold) held: the exit or draft takes the token */
} gpu_decision;

/* The outcome of a pass: the head that chose the next token and what every
 * head that ran said. */
typedef struct gpu_step {
    gpu_decision chosen;
    int col;     /* token column of the pass whose logits chose (for gpu_session_logits) */
    int layer;   /* blocks the token ran: an exit block, or n_layers */
    int exit;    /* the exit taken, as an index of the configuration's exits; -1 at full depth */
    int n_heads; /* heads that ran: exits 0..k, then the final head at full depth */
    gpu_decision heads[LVK_MAX_EXITS + 1];
    int head_layers[LVK_MAX_EXITS + 1];
    int kv_fill_blocks; /* blocks run to fill skipped K/V: propagated, or caught up by waiting tokens */
    int catch_up_pass;  /* deferred: 7 tokens were waiting, so a full-depth pass of their own ran first */
} gpu_step;

typedef struct gpu_session gpu_session;

lvk_status gpu_session_create(const gpu_model *g, const model_hparams *hp, int n_ctx, const lvk_exit_config *exits,
                              gpu_session **out);
void gpu_session_free(gpu_session *s);
/* Changes the exits (validated by the caller); re-records the passes when the
 * exits that can fire, the mode or the KV fill change, flushing waiting
 * deferred tokens first. Exits with threshold 1 are left out of the passes
 * unless probe_all: the step's heads and layers are those of the passes. */
lvk_status gpu_session_set_exits(gpu_session *s, const lvk_exit_config *exits);
/* Runs n (0..) prompt tokens at positions pos.. at full depth; any tokens
 * waiting for deferred KV fill run their skipped blocks first. The step
 * describes the last column's final head. */
lvk_status gpu_session_prefill(gpu_session *s, const int32_t *tokens, int n, int pos, gpu_step *out);
/* Runs one token at pos with early exit. */
lvk_status gpu_session_decode(gpu_session *s, int32_t token, int pos, gpu_step *out);
/* Forgets waiting deferred tokens (the session starts over). */
void gpu_session_reset(gpu_session *s);
/* Speculation's draft: runs `token` at position pos + col in column col
 * (< draft_max) through blocks 1..draft_exit and the draft head, whose
 * decision *out is confident when its probability is above threshold; its
 * logits are column 0's of the last pass. Columns 0..col-1 keep the hidden
 * states the earlier drafts left; col 0 starts a cycle (waiting deferred
 * tokens catch up first). */
lvk_status gpu_session_draft(gpu_session *s, int32_t token, int pos, int col, float threshold, gpu_decision *out);
/* Speculation's verification, one pass at full depth over columns 0..n-1
 * (n <= draft_max + 1) at
 * positions pos..: columns 0..n_drafted-1 continue from block draft_exit+1
 * with the hidden state their draft left, the others run tokens[c] from
 * block 1. out[c] receives the final head's decision for column c. */
lvk_status gpu_session_verify(gpu_session *s, const int32_t *tokens, int n, int n_drafted, int pos, gpu_decision *out);
/* What a speculation cycle on the device yields (gpu_session_cycle). */
typedef struct gpu_cycle {
    int n_tokens;                    /* the accepted drafts, then full depth's token */
    int32_t tokens[LVK_MAX_BATCH];
    float confidence[LVK_MAX_BATCH];
    int n_drafted, draft_passes;
} gpu_cycle;
/* Exit mode `gpu`: a whole greedy cycle from `token` at pos in one submission
 * (shaders/speculate.comp), at most max_drafts (<= draft_max, within the
 * context) drafted; the host reads back only *out. */
lvk_status gpu_session_cycle(gpu_session *s, int32_t token, int pos, int max_drafts, gpu_cycle *out);
/* Copies the logits of column `col` of the last pass, as the last head that
 * ran left them, into out[n_vocab]. Heads compute only the columns a pass
 * decides (its last; every one of a verification): the other columns of a
 * prompt pass and tokens catching up leave their K/V alone. */
lvk_status gpu_session_logits(gpu_session *s, int col, float *out);
/* Reads the K and V cache of one block for positions 0..n_pos-1 ([n_pos][kv_dim] each),
 * K's head dimensions in the model's order (the GPU keeps RoPE's, rope_source_row). */
lvk_status gpu_session_read_kv(gpu_session *s, int layer, int n_pos, float *k, float *v);

/* Weight bytes one pass reads, for the decode statistics. */
typedef struct gpu_pass_bytes {
    uint64_t block;   /* one transformer block */
    uint64_t head;    /* final norm + LM head */
    uint64_t kv_fill; /* attn_norm + Wk + Wv of one block (propagate) */
} gpu_pass_bytes;
gpu_pass_bytes gpu_session_bytes(const gpu_session *s);

#endif
