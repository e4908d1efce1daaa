#version 450
// exit_reduce.comp — an exit head's decision from the logits of column
// params.logits_col: each workgroup reduces a slice of the vocabulary to
// (max, argmax, sum of exp(l - max), second largest); the last workgroup to
// finish combines the slices into what the host reads back (16 bytes per head):
// argmax token, its softmax probability (the confidence), the second-highest
// probability, the max logit.
layout(local_size_x_id = 0) in;
#include "common.glsl"

layout(binding = 1) readonly buffer Logits { float logits[]; };
// [n_slices] (max, argmax bits, sum, second), then a count of finished slices (back to 0)
layout(binding = 2) coherent buffer Partials { vec4 partials[]; };
layout(binding = 2) coherent buffer Count { uint words[]; };
layout(binding = 3) buffer Decisions { vec4 decisions[]; }; // (token bits, prob, second prob, max logit)

layout(push_constant) uniform Push { uint n_vocab; uint stride; uint per_group; uint slot; } pc;

shared uint best_idx[64];
shared bool combines;

void main() {
    const uint begin = gl_WorkGroupID.x * pc.per_group;
    const uint end = min(begin + pc.per_group, pc.n_vocab);
    const uint base = params.logits_col * pc.stride;
    float m = -3.0e38, m2 = -3.0e38; // this lane's two largest
    uint arg = 0xffffffffu;
    for (uint i = begin + gl_LocalInvocationID.x; i < end; i += gl_WorkGroupSize.x) {
        float v = logits[base + i];
        if (v > m) { m2 = m; m = v; arg = i; } // lanes visit ascending i: keeps the first max
        else m2 = max(m2, v);
    }
    // argmax: the largest value, the smallest index among equals
    const float gm = workgroup_max(m);
    uint cand = m == gm ? arg : 0xffffffffu;
    cand = subgroupMin(cand);
    if (subgroupElect()) best_idx[gl_SubgroupID] = cand;
    barrier();
    uint garg = 0xffffffffu;
    for (uint s = 0; s < gl_NumSubgroups; s++) garg = min(garg, best_idx[s]);
    // second: the largest value other than the argmax's own entry
    const float second = workgroup_max(arg == garg ? m2 : m);
    float sum = 0.0;
    for (uint i = begin + gl_LocalInvocationID.x; i < end; i += gl_WorkGroupSize.x)
        sum += exp(logits[base + i] - gm);
    sum = workgroup_sum(sum);

    const uint n_slices = gl_NumWorkGroups.x, count = 4u * n_slices;
    if (gl_LocalInvocationID.x == 0) {
        partials[gl_WorkGroupID.x] = vec4(gm, uintBitsToFloat(garg), sum, second);
        memoryBarrierBuffer();
        combines = atomicAdd(words[count], 1u) == n_slices - 1u;
    }
    barrier();
    if (!combines || gl_LocalInvocationID.x != 0) return;
    memoryBarrierBuffer();
    float top = -3.0e38;
    uint token = 0xffffffffu, best = 0u;
    for (uint g = 0; g < n_slices; g++) {
        vec4 p = partials[g];
        if (p.x > top) { top = p.x; token = floatBitsToUint(p.y); best = g; } // ascending slices: first max wins
    }
    float total = 0.0, runner_up = partials[best].w;
    for (uint g = 0; g < n_slices; g++) {
        total += partials[g].z * exp(partials[g].x - top);
        if (g != best) runner_up = max(runner_up, partials[g].x);
    }
    decisions[pc.slot] = vec4(uintBitsToFloat(token), 1.0 / total, exp(runner_up - top) / total, top);
    words[count] = 0u;
}
