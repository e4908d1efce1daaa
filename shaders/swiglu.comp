#version 450
// swiglu.comp — g[c][i] = silu(g[c][i]) * u[c][i], the LLaMA feed-forward gate.
layout(local_size_x_id = 0) in;
#include "common.glsl"

layout(binding = 1) buffer Gate { float g[]; };
layout(binding = 2) readonly buffer Up { float u[]; };

layout(push_constant) uniform Push { uint n; uint stride; } pc;

void main() {
    const uint i = gl_GlobalInvocationID.x, c = gl_GlobalInvocationID.y;
    if (i >= pc.n || c >= params.n_tokens) return;
    const uint j = c * pc.stride + i;
    const float x = g[j];
    g[j] = x / (1.0 + exp(-x)) * u[j];
}
