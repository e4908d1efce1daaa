#version 450
// rope.comp — rotates pairs (2i, 2i+1), i < rope_dim/2, of every head of column c
// by the angle of position pos+c. cos/sin come from a table the host computed,
// so every device rotates by exactly the same angles as the reference.
layout(local_size_x_id = 0) in;
#include "common.glsl"

layout(binding = 1) readonly buffer Table { vec2 cos_sin[]; }; // [n_ctx][rope_dim/2]
layout(binding = 2) buffer V { float v[]; };

layout(push_constant) uniform Push {
    uint n_heads;
    uint head_dim;
    uint rope_dim;
    uint stride;   // floats between columns
    uint pos_mul;  // `stride` when v is a KV cache indexed by position, else 0
    uint layer;    // block: columns that do not run it keep their keys
} pc;

void main() {
    const uint half_dim = pc.rope_dim / 2u;
    const uint i = gl_GlobalInvocationID.x % half_dim, h = gl_GlobalInvocationID.x / half_dim;
    const uint c = gl_GlobalInvocationID.y;
    if (h >= pc.n_heads || !column_runs(c, pc.layer)) return;
    const vec2 cs = cos_sin[(params.pos + c) * half_dim + i];
    const uint j = c * pc.stride + params.pos * pc.pos_mul + h * pc.head_dim + 2u * i;
    const float a = v[j], b = v[j + 1u];
    v[j] = a * cs.x - b * cs.y;
    v[j + 1u] = a * cs.y + b * cs.x;
}
