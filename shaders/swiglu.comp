#version 450
// swiglu.comp — h[c][i] = silu(h[c][i]) * h[c][n + i], the LLaMA feed-forward
// gate, for models whose gate and up matrices differ in type (otherwise the
// mat-vec applies it on the way out).
layout(local_size_x_id = 0) in;
#include "common.glsl"

layout(binding = 1) buffer H { float h[]; }; // [n_tokens][stride]: gate rows, then up rows

layout(push_constant) uniform Push { uint n; uint stride; } pc;

void main() {
    const uint i = gl_GlobalInvocationID.x, c = gl_GlobalInvocationID.y;
    if (i >= pc.n || c >= params.n_tokens) return;
    const uint j = c * pc.stride + i;
    const float g = h[j];
    h[j] = g / (1.0 + exp(-g)) * h[j + pc.n];
}
