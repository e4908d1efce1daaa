// common.glsl — what every LiteVK kernel shares: the per-token parameters and
// workgroup reductions. Every kernel declares `layout(local_size_x_id = 0) in;`
// so the runtime sets the workgroup size per device.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "gpu_shared.h"

// Per-token values, written by the host before each submission, so command
// buffers can be recorded once and replayed.
#ifndef PARAMS_ACCESS
#define PARAMS_ACCESS readonly // only speculate.comp writes them
#endif
layout(binding = 0) PARAMS_ACCESS buffer Params {
    uint n_tokens;        // token columns in this pass (1..LVK_MAX_PROMPT_COLUMNS)
    uint pos;             // position of the first column
    uint decide_from;     // heads decide columns decide_from..n_tokens-1, one slot each
    uint pad;             // speculate.comp: the drafts a cycle may make
    uint tokens[LVK_MAX_PROMPT_COLUMNS];      // token ids of the columns
    uint start_layer[LVK_MAX_PROMPT_COLUMNS]; // blocks a column already ran: > 0 for tokens that exited
                                     // earlier and now catch up (deferred KV fill) or drafted
                                     // tokens being verified; LVK_COLUMN_HELD for a column that
                                     // keeps its x and runs nothing (drafting); else 0
    float thresholds[LVK_GPU_MAX_EXITS]; // per head slot: the threshold of confident()
} params;

// Whether column c runs block `layer` (0-based; n_layers for the heads) in
// this pass. Kernels skip the columns that do not: they neither compute for
// them nor write state they keep (x, the KV cache).
bool column_runs(uint c, uint layer) { return c < params.n_tokens && params.start_layer[c] <= layer; }

// The one decision rule of every head: an exit head's token is taken (LITE
// exit), and a draft head's token is drafted (speculation), when the head's top
// probability is above its threshold. The heads write this decision; the exit
// gate and the host read it and never compare again.
bool confident(float prob, float threshold) { return prob > threshold; }

shared float reduce_scratch[64]; // one value per subgroup (>= 64 subgroups never happens)

// Sum / max over the whole workgroup. Call from uniform control flow.
float workgroup_sum(float v) {
    v = subgroupAdd(v);
    if (gl_NumSubgroups == 1) return v;
    barrier();
    if (subgroupElect()) reduce_scratch[gl_SubgroupID] = v;
    barrier();
    float total = 0.0;
    for (uint i = 0; i < gl_NumSubgroups; i++) total += reduce_scratch[i];
    return total;
}

uint workgroup_min(uint v) {
    v = subgroupMin(v);
    if (gl_NumSubgroups == 1) return v;
    barrier();
    if (subgroupElect()) reduce_scratch[gl_SubgroupID] = uintBitsToFloat(v);
    barrier();
    uint m = floatBitsToUint(reduce_scratch[0]);
    for (uint i = 1; i < gl_NumSubgroups; i++) m = min(m, floatBitsToUint(reduce_scratch[i]));
    return m;
}

float workgroup_max(float v) {
    v = subgroupMax(v);
    if (gl_NumSubgroups == 1) return v;
    barrier();
    if (subgroupElect()) reduce_scratch[gl_SubgroupID] = v;
    barrier();
    float m = reduce_scratch[0];
    for (uint i = 1; i < gl_NumSubgroups; i++) m = max(m, reduce_scratch[i]);
    return m;
}
