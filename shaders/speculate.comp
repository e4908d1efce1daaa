#version 450
// speculate.comp — a speculation cycle on the device (exit mode `gpu`), in one
// submission: draft passes, each followed by stage 0; then stage 1, the
// verification pass, and stage 2. The host writes the cycle's first token at
// Params.tokens[0], its position, the draft threshold at thresholds[0] and the
// drafts the context allows at Params.pad, and reads back only the result.
//   stage 0, after draft c: takes the draft head's decision (confident(), as the
//            head wrote it); a confident token is drafted, and while drafts may
//            go on it becomes the next draft's token and position. The
//            workgroup counts of the later drafts' dispatches are their
//            recorded ones or, once drafting stops, 0; the rest always run.
//   stage 1: the verification pass's columns: the first token and the drafts,
//            those that ran the draft blocks continuing after them.
//   stage 2: the longest prefix of drafts the final head agrees with, then its
//            own token: the tokens of the cycle.
layout(local_size_x_id = 0) in;
#define PARAMS_ACCESS /* stages 0 and 1 write the next pass's values */
#include "common.glsl"

layout(binding = 1) buffer Cycle {
    uint k;                       // tokens drafted
    uint ran;                     // draft passes run
    uint pos0;                    // position of the cycle's first token
    uint n_out;                   // tokens of the cycle: the accepted drafts, then the verified token
    uint tokens[LVK_MAX_BATCH];   // the first token, then the drafts
    float confidence[LVK_MAX_BATCH]; // of each draft's head
    uint out_tokens[LVK_MAX_BATCH];
    float out_confidence[LVK_MAX_BATCH];
} cycle;
layout(binding = 2) readonly buffer Decisions { uvec4 decisions[]; }; // (token, prob bits, second bits, confident)
layout(binding = 3) writeonly buffer Counts { uvec4 counts[]; };      // VkDispatchIndirectCommand per slot
layout(binding = 4) readonly buffer Plan { uvec4 plan[]; };          // per draft: later drafts [x, y), the rest [y, w)

layout(push_constant) uniform Push {
    uint stage;
    uint draft;        // stage 0: the draft just run (its decision's slot)
    uint draft_exit;   // stage 1: blocks the drafts ran
    uint verify_slot;  // stage 2: slot of the verification's first decision
} pc;

void main() {
    const uint lid = gl_LocalInvocationID.x;
    if (pc.stage == 0u) {
        const uint c = pc.draft, limit = params.pad;
        const uvec4 d = decisions[c];
        const bool drafted = d.w != 0u && c < limit;
        const bool more = drafted && c + 1u < limit; // another draft runs
        const uvec4 r = plan[c];
        for (uint i = r.x + lid; i < r.y; i += gl_WorkGroupSize.x) counts[i] = more ? plan[LVK_PLAN_COUNTS + i] : uvec4(0u);
        for (uint i = r.y + lid; i < r.w; i += gl_WorkGroupSize.x) counts[i] = plan[LVK_PLAN_COUNTS + i];
        if (lid != 0u) return;
        if (c == 0u) {
            cycle.k = 0u;
            cycle.pos0 = params.pos;
            cycle.tokens[0] = params.tokens[0];
        }
        cycle.ran = c + 1u;
        if (!drafted) return;
        cycle.k = c + 1u;
        cycle.tokens[c + 1u] = d.x;
        cycle.confidence[c] = uintBitsToFloat(d.y);
        if (more) {
            params.tokens[0] = d.x;
            params.pos = cycle.pos0 + c + 1u;
        }
    } else if (pc.stage == 1u) {
        if (lid != 0u) return;
        const uint n = cycle.k + 1u;
        params.n_tokens = params.n_tokens == 0u ? 0u : n; // 0: a warm-up, which runs no column
        params.pos = cycle.pos0;
        params.decide_from = 0u;
        for (uint c = 0u; c < n; c++) {
            params.tokens[c] = cycle.tokens[c];
            params.start_layer[c] = c < cycle.ran ? pc.draft_exit : 0u;
        }
    } else {
        if (lid != 0u) return;
        uint j = 0u;
        while (j < cycle.k && cycle.tokens[j + 1u] == decisions[pc.verify_slot + j].x) {
            cycle.out_tokens[j] = cycle.tokens[j + 1u];
            cycle.out_confidence[j] = cycle.confidence[j];
            j++;
        }
        cycle.out_tokens[j] = decisions[pc.verify_slot + j].x;
        cycle.out_confidence[j] = uintBitsToFloat(decisions[pc.verify_slot + j].y);
        cycle.n_out = j + 1u;
    }
}
