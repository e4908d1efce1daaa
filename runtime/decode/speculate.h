/* speculate.h — self-speculative decoding: the draft-and-verify cycle.
 *
 * From the token to feed, the draft head after block E (the configuration's
 * draft_exit) proposes tokens one at a time while it is confident; one
 * batched pass through the remaining blocks gives full depth's choice at
 * every drafted position; the longest agreeing prefix is accepted and full
 * depth's own token follows it. Greedy, the output is full depth's; at
 * temperature > 0 the speculative sampling rule keeps full depth's
 * distribution (Leviathan et al., arXiv 2211.17192; Chen et al., arXiv
 * 2302.01318). In exit mode `gpu` a greedy cycle runs on the device in one
 * submission (gpu_session_cycle); sampling needs the logits on the host, so
 * it runs the cycle from the host in both modes. */
#ifndef LVK_SPECULATE_H
#define LVK_SPECULATE_H

#include "forward/gpu_forward.h"
#include "decode/sampler.h"

/* What one cycle yields and what it cost. */
typedef struct spec_cycle {
    int n_tokens;                    /* the accepted drafts, then full depth's token (at least 1) */
    int32_t tokens[LVK_MAX_BATCH];
    float confidence[LVK_MAX_BATCH]; /* top probability of the head that proposed each */
    int n_drafted, n_accepted;
    int draft_passes;                /* draft passes run: the drafts and the one whose token was not confident */
    int verify_blocks;               /* blocks the verification pass ran (n_layers when a column started at block 1) */
} spec_cycle;

/* Buffers of the sampling rule: n_vocab floats per draft, and two more. */
typedef struct speculator {
    int n_vocab;
    float *draft_probs; /* [LVK_MAX_DRAFTS][n_vocab]: each draft's distribution q */
    float *probs;       /* [n_vocab]: full depth's distribution p at one position */
    float *logits;      /* [n_vocab] */
} speculator;

lvk_status speculator_init(speculator *sp, int n_vocab);
void speculator_free(speculator *sp);

/* One cycle: feeds `token` at position pos (with the accepted drafts after
 * it) in a session of n_ctx positions whose configuration speculates; the
 * drafts stop before the context ends. The last token of *out is not fed. */
lvk_status speculate_cycle(speculator *sp, gpu_session *g, const lvk_exit_config *cfg, int n_layers,
                           token_sampler *sampler, int32_t token, int pos, int n_ctx, spec_cycle *out);

/* The speculative sampling rule at one drafted position: accepts `draft`
 * (drawn from q) with probability min(1, p/q); on rejection *out is drawn from
 * the normalised max(0, p - q), written into residual. Returns 1 when
 * accepted (*out = draft). */
int speculate_accept(token_sampler *sampler, const float *p, const float *q, int32_t draft, float *residual,
                     int32_t *out);

#endif
