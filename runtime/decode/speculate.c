/* speculate.c — the draft-and-verify cycle (see speculate.h). */
#include "decode/speculate.h"
#include "alloc.h"
#include "status.h"

#include <string.h>

lvk_status speculator_init(speculator *sp, int n_vocab) {
    memset(sp, 0, sizeof *sp);
    sp->n_vocab = n_vocab;
    sp->draft_probs = mem_malloc((size_t)LVK_MAX_DRAFTS * (size_t)n_vocab * sizeof(float));
    sp->probs = mem_malloc((size_t)n_vocab * sizeof(float));
    sp->logits = mem_malloc((size_t)n_vocab * sizeof(float));
    if (!sp->draft_probs || !sp->probs || !sp->logits) {
        speculator_free(sp);
        return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    }
    return LVK_OK;
}

void speculator_free(speculator *sp) {
    mem_free(sp->draft_probs);
    mem_free(sp->probs);
    mem_free(sp->logits);
    memset(sp, 0, sizeof *sp);
}

int speculate_accept(token_sampler *sampler, const float *p, const float *q, int32_t draft, float *residual,
                     int32_t *out) {
    /* q[draft] > 0: the draft was drawn from q */
    if (p[draft] >= q[draft] || sampler_uniform(sampler) * q[draft] < p[draft]) {
        *out = draft;
        return 1;
    }
    int any = 0;
    for (int i = 0; i < sampler->n_vocab; i++) {
        residual[i] = p[i] > q[i] ? p[i] - q[i] : 0.0f;
        any |= residual[i] > 0;
    }
    /* p <= q everywhere means p = q, where rejection cannot happen; rounding aside, p is the answer */
    *out = sampler_draw(sampler, any ? residual : p);
    return 0;
}

/* Full depth's distribution at column col of the verification pass. */
static lvk_status verified_probs(speculator *sp, gpu_session *g, token_sampler *sampler, int col) {
    LVK_TRY(gpu_session_logits(g, col, sp->logits));
    sampler_distribution(sampler, sp->logits, sp->probs);
    return LVK_OK;
}

lvk_status speculate_cycle(speculator *sp, gpu_session *g, const lvk_exit_config *cfg, int n_layers,
                           token_sampler *sampler, int32_t token, int pos, int n_ctx, spec_cycle *out) {
    const int sampling = sampler->temperature > 0;
    memset(out, 0, sizeof *out);
    int max_drafts = cfg->draft_max < n_ctx - 1 - pos ? cfg->draft_max : n_ctx - 1 - pos;
    if (cfg->mode == LVK_EXIT_GPU && !sampling) { /* the whole cycle on the device, one submission */
        gpu_cycle c;
        LVK_TRY(gpu_session_cycle(g, token, pos, max_drafts, &c));
        out->n_tokens = c.n_tokens;
        memcpy(out->tokens, c.tokens, sizeof out->tokens);
        memcpy(out->confidence, c.confidence, sizeof out->confidence);
        out->n_drafted = c.n_drafted;
        out->n_accepted = c.n_tokens - 1;
        out->draft_passes = c.draft_passes;
        out->verify_blocks = c.draft_passes < c.n_drafted + 1 ? n_layers : n_layers - cfg->draft_exit;
        return LVK_OK;
    }
    /* Draft: column c holds the token at pos + c; the drafts must fit the context. */
    int32_t columns[LVK_MAX_BATCH] = {token};
    float draft_confidence[LVK_MAX_DRAFTS];
    int k = 0;
    while (k < max_drafts) {
        gpu_decision d;
        LVK_TRY(gpu_session_draft(g, columns[k], pos, k, cfg->draft_threshold, &d));
        out->draft_passes++;
        if (!d.confident) break; /* the head's own decision: confident() in shaders/common.glsl */
        int32_t drafted = (int32_t)d.token;
        if (sampling) {
            float *q = sp->draft_probs + (size_t)k * sp->n_vocab;
            LVK_TRY(gpu_session_logits(g, 0, sp->logits)); /* a draft pass has one column */
            drafted = sampler_sample(sampler, sp->logits, q);
        }
        draft_confidence[k] = d.prob;
        columns[++k] = drafted;
    }
    /* Verify: the columns that ran the draft blocks continue after block E;
     * when the drafts reached their maximum, the last drafted token has not
     * run at all and starts at block 1. */
    const int n = k + 1, ran = out->draft_passes;
    gpu_decision full[LVK_MAX_BATCH];
    LVK_TRY(gpu_session_verify(g, columns, n, ran, pos, full));
    out->n_drafted = k;
    out->verify_blocks = ran < n ? n_layers : n_layers - cfg->draft_exit;

    /* Accept the longest prefix full depth agrees with, then full depth's token. */
    int j = 0;
    int32_t next = (int32_t)full[0].token;
    for (; j < k; j++) {
        if (sampling) {
            LVK_TRY(verified_probs(sp, g, sampler, j));
            const float *q = sp->draft_probs + (size_t)j * sp->n_vocab;
            if (!speculate_accept(sampler, sp->probs, q, columns[j + 1], sp->logits, &next)) break;
        } else if (columns[j + 1] != (int32_t)full[j].token) {
            next = (int32_t)full[j].token;
            break;
        }
        out->tokens[j] = columns[j + 1];
        out->confidence[j] = draft_confidence[j];
    }
    if (j == k) { /* every draft accepted: full depth's token after the last one */
        next = (int32_t)full[k].token;
        if (sampling) {
            LVK_TRY(verified_probs(sp, g, sampler, k));
            next = sampler_draw(sampler, sp->probs);
        }
    }
    out->n_accepted = j;
    out->tokens[j] = next;
    out->confidence[j] = full[j].prob;
    out->n_tokens = j + 1;
    return LVK_OK;
}
