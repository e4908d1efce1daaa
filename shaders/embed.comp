#version 450
// embed.comp — x[c][:] = dequantised row tokens[c] of the embedding table.
// One invocation per unit of 8 weights (x), per column (y).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint WTYPE = 0;
#include "common.glsl"
#include "weights.glsl"

layout(binding = 1) writeonly buffer X { vec4 x4[]; };

layout(push_constant) uniform Push {
    uint units;     // units per row
    uint x_stride;  // floats between columns of x
    uint scale_off;
    uint row_begin; // this part of the table holds rows row_begin .. row_begin+rows-1
    uint rows;
} pc;

void main() {
    const uint u = gl_GlobalInvocationID.x, c = gl_GlobalInvocationID.y;
    if (u >= pc.units || !column_runs(c, 0u)) return; // catching-up columns keep their x
    const uint row = params.tokens[c] - pc.row_begin; // wraps above rows when before the part
    if (row >= pc.rows) return;
    vec4 a, b;
    load_unit(row, u, pc.units, pc.scale_off, a, b);
    x4[(c * pc.x_stride + unit_first_a(u)) / 4u] = a;
    x4[(c * pc.x_stride + unit_first_b(u)) / 4u] = b;
}
