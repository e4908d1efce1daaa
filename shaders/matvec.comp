#version 450
// matvec.comp — y[c][r] (+)= sum_k W[r][k] x[c][k] for up to NCOLS token columns,
// with NORM: of rmsnorm(x[c]) * norm_w instead (the block's RMSNorm fused into the
// mat-vecs that read it, saving a dispatch and a barrier; every workgroup
// recomputes the column's scale, a read of x that is small next to W's rows).
//
// One workgroup computes NR rows for every column, so each weight unit read
// from memory serves all columns (batched prompt, deferred KV fill). Lanes
// stride over the row's units; a subgroup reduction finishes each dot product.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint NR = 4;     // rows per workgroup
layout(constant_id = 2) const uint NCOLS = 1;  // max token columns
layout(constant_id = 3) const uint WTYPE = 0;  // ggml type of W
layout(constant_id = 4) const uint NORM = 0;   // 1: x is normalised on the way in
#include "common.glsl"
#include "weights.glsl"

layout(binding = 2) readonly buffer X { vec4 x4[]; };
layout(binding = 3) buffer Y { float y[]; };
layout(binding = 4) readonly buffer NormW { vec4 norm_w4[]; }; // [x_stride/4], zero-padded

layout(push_constant) uniform Push {
    uint rows;       // rows of this matrix part
    uint units;      // units of 8 weights per row
    uint x_stride;   // floats between columns of x (multiple of 8)
    uint y_stride;   // floats between columns of y
    uint y_offset;   // first output row of this part
    uint y_pos_mul;  // y_stride to write at row `pos` of a KV cache, else 0
    uint scale_off;  // word offset of the fp16 scales (quantised types)
    uint accumulate; // 1: y += W x (residual add), 0: y = W x
    uint layer;      // block this product belongs to: columns that do not run it are not written
    uint norm_n;     // NORM: elements of x the mean of squares is over
    float norm_eps;
} pc;

shared float partial[gl_WorkGroupSize.x * NR * NCOLS];

void main() {
    const uint row0 = gl_WorkGroupID.x * NR;
    const uint n_cols = min(params.n_tokens, NCOLS);
    float acc[NR][NCOLS];
    for (uint i = 0; i < NR; i++)
        for (uint c = 0; c < NCOLS; c++) acc[i][c] = 0.0;

    // NORM: scale[c] = 1 / sqrt(mean(x[c]^2) + eps), as rmsnorm.comp computes it
    float scale[NCOLS];
    for (uint c = 0; c < NCOLS; c++) {
        scale[c] = 1.0;
        if (NORM != 0u && c < n_cols) { // n_cols is uniform: the reduction stays in uniform control flow
            float ss = 0.0;
            for (uint i = gl_LocalInvocationID.x; i < pc.x_stride / 4u; i += gl_WorkGroupSize.x) {
                vec4 v = x4[c * (pc.x_stride / 4u) + i];
                ss += dot(v, v); // the padding is zero
            }
            scale[c] = inversesqrt(workgroup_sum(ss) / float(pc.norm_n) + pc.norm_eps);
        }
    }

    for (uint u = gl_LocalInvocationID.x; u < pc.units; u += gl_WorkGroupSize.x) {
        const uint ia = unit_first_a(u) / 4u, ib = unit_first_b(u) / 4u;
        vec4 xa[NCOLS], xb[NCOLS];
        for (uint c = 0; c < NCOLS; c++) {
            if (c < n_cols) {
                xa[c] = x4[c * (pc.x_stride / 4u) + ia];
                xb[c] = x4[c * (pc.x_stride / 4u) + ib];
                if (NORM != 0u) {
                    xa[c] = xa[c] * scale[c] * norm_w4[ia];
                    xb[c] = xb[c] * scale[c] * norm_w4[ib];
                }
            }
        }
        for (uint i = 0; i < NR; i++) {
            vec4 a, b;
            load_unit(min(row0 + i, pc.rows - 1u), u, pc.units, pc.scale_off, a, b);
            for (uint c = 0; c < NCOLS; c++)
                if (c < n_cols) acc[i][c] += dot(a, xa[c]) + dot(b, xb[c]);
        }
    }

    for (uint i = 0; i < NR; i++)
        for (uint c = 0; c < NCOLS; c++) acc[i][c] = subgroupAdd(acc[i][c]);
    if (gl_NumSubgroups > 1) {
        if (subgroupElect())
            for (uint i = 0; i < NR; i++)
                for (uint c = 0; c < NCOLS; c++)
                    partial[(gl_SubgroupID * NR + i) * NCOLS + c] = acc[i][c];
        barrier();
        for (uint i = 0; i < NR; i++)
            for (uint c = 0; c < NCOLS; c++) {
                float s = 0.0;
                for (uint g = 0; g < gl_NumSubgroups; g++) s += partial[(g * NR + i) * NCOLS + c];
                acc[i][c] = s;
            }
    }
    if (gl_LocalInvocationID.x != 0) return;
    for (uint i = 0; i < NR; i++) {
        const uint r = row0 + i;
        if (r >= pc.rows) break;
        for (uint c = 0; c < n_cols; c++) {
            if (!column_runs(c, pc.layer)) continue;
            const uint idx = c * pc.y_stride + params.pos * pc.y_pos_mul + pc.y_offset + r;
            y[idx] = pc.accumulate != 0u ? y[idx] + acc[i][c] : acc[i][c];
        }
    }
}
