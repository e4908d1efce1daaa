#version 450
// logits_final.comp — stage 2: combines the partials into the decision the host
// reads back (16 bytes): argmax token, its logit, and its softmax probability.
layout(local_size_x_id = 0) in;
#include "common.glsl"

layout(binding = 1) readonly buffer Partials { vec4 partials[]; };
layout(binding = 2) writeonly buffer Result { uint token; float max_logit; float prob; uint pad; } result;

layout(push_constant) uniform Push { uint n_partials; } pc;

void main() {
    if (gl_LocalInvocationID.x != 0) return;
    float m = -3.0e38;
    uint arg = 0xffffffffu;
    for (uint g = 0; g < pc.n_partials; g++) {
        vec4 p = partials[g];
        if (p.x > m) { m = p.x; arg = floatBitsToUint(p.y); } // ascending slices: first max wins
    }
    float sum = 0.0;
    for (uint g = 0; g < pc.n_partials; g++) sum += partials[g].z * exp(partials[g].x - m);
    result.token = arg;
    result.max_logit = m;
    result.prob = 1.0 / sum;
}
