/* gpu_forward.h — a session's device state and the forward pass on the GPU.
 *
 * The forward pass is recorded once per session into two command buffers
 * (1 token column for decode, 8 for prompt batches) and replayed; per-token
 * values (position, token ids) live in a small host-written buffer. Only the
 * decision (token, logit, probability: 16 bytes) is read back. */
#ifndef LVK_GPU_FORWARD_H
#define LVK_GPU_FORWARD_H

#include "gpu_model.h"

#define LVK_MAX_BATCH 8 /* token columns per pass */

typedef struct gpu_decision {
    uint32_t token;
    float max_logit;
    float prob; /* softmax probability of `token` */
    uint32_t pad;
} gpu_decision;

typedef struct gpu_session gpu_session;

lvk_status gpu_session_create(const gpu_model *g, const lvk_hparams *hp, int n_ctx, gpu_session **out);
void gpu_session_free(gpu_session *s);
/* Runs n (1..8) tokens at positions pos.. through the model; the decision is
 * for the last of them. */
lvk_status gpu_session_run(gpu_session *s, const int32_t *tokens, int n, int pos, gpu_decision *out);
/* Copies the logits of column `col` (0..n-1) of the last run into out[n_vocab]. */
lvk_status gpu_session_logits(gpu_session *s, int col, float *out);

#endif
