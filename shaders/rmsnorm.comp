#version 450
// rmsnorm.comp — out[c] = x[c] / sqrt(mean(x[c]^2) + eps) * w. One workgroup per column.
layout(local_size_x_id = 0) in;
#include "common.glsl"

layout(binding = 1) readonly buffer W { float w[]; };
layout(binding = 2) readonly buffer X { float x[]; };
layout(binding = 3) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint n;         // elements per column
    uint x_stride;
    uint o_stride;
    float eps;
} pc;

void main() {
    const uint c = gl_WorkGroupID.x;
    if (c >= params.n_tokens) return; // whole workgroup leaves together
    float ss = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < pc.n; i += gl_WorkGroupSize.x) {
        float v = x[c * pc.x_stride + i];
        ss += v * v;
    }
    const float scale = inversesqrt(workgroup_sum(ss) / float(pc.n) + pc.eps);
    for (uint i = gl_LocalInvocationID.x; i < pc.n; i += gl_WorkGroupSize.x)
        o[c * pc.o_stride + i] = x[c * pc.x_stride + i] * scale * w[i];
}
