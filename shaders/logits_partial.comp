#version 450
// logits_partial.comp — stage 1 of an exit head's reduction, over column
// params.logits_col: each workgroup reduces a slice of the vocabulary to
// (max, argmax, sum of exp(l - max), second largest).
layout(local_size_x_id = 0) in;
#include "common.glsl"

layout(binding = 1) readonly buffer Logits { float logits[]; };
layout(binding = 2) writeonly buffer Partials { vec4 partials[]; }; // (max, argmax bits, sum, second)

layout(push_constant) uniform Push { uint n_vocab; uint stride; uint per_group; } pc;

shared uint best_idx[64];

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
    if (gl_LocalInvocationID.x == 0) partials[gl_WorkGroupID.x] = vec4(gm, uintBitsToFloat(garg), sum, second);
}
