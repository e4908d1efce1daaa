#version 450
// exit_decision.comp — stage 2 of an exit head: combines the partials into the
// decision the host reads back (16 bytes per head): argmax token, its softmax
// probability (the confidence), the second-highest probability, the max logit.
layout(local_size_x_id = 0) in;
#include "common.glsl"

layout(binding = 1) readonly buffer Partials { vec4 partials[]; };
layout(binding = 2) buffer Decisions { vec4 decisions[]; }; // (token bits, prob, second prob, max logit)

layout(push_constant) uniform Push { uint n_partials; uint slot; } pc;

void main() {
    if (gl_LocalInvocationID.x != 0) return;
    float m = -3.0e38;
    uint arg = 0xffffffffu, best = 0u;
    for (uint g = 0; g < pc.n_partials; g++) {
        vec4 p = partials[g];
        if (p.x > m) { m = p.x; arg = floatBitsToUint(p.y); best = g; } // ascending slices: first max wins
    }
    float sum = 0.0, second = partials[best].w;
    for (uint g = 0; g < pc.n_partials; g++) {
        sum += partials[g].z * exp(partials[g].x - m);
        if (g != best) second = max(second, partials[g].x);
    }
    decisions[pc.slot] = vec4(uintBitsToFloat(arg), 1.0 / sum, exp(second - m) / sum, m);
}
