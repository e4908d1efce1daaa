#version 450
// attention.comp — one workgroup per (head, column): softmax(q K^T / sqrt(d)) V
// over positions 0..pos+c of the head's key/value head (causal, GQA).
// With `masked`, positions whose token exited before this block (their K/V
// here were never written: KV fill `none`) are left out.
layout(local_size_x_id = 0) in;
#include "common.glsl"

layout(binding = 1) readonly buffer Q { float q[]; };
layout(binding = 2) readonly buffer K { float k_cache[]; };   // [n_ctx][kv_dim]
layout(binding = 3) readonly buffer V { float v_cache[]; };   // [n_ctx][kv_dim]
layout(binding = 4) buffer Scores { float scores[]; };        // [NCOLS][n_heads][n_ctx]
layout(binding = 5) writeonly buffer Out { float o[]; };
layout(binding = 6) readonly buffer Depth { uint depth[]; };  // [n_ctx] blocks each position ran

layout(push_constant) uniform Push {
    uint head_dim;
    uint group;      // query heads per key/value head
    uint kv_dim;
    uint n_ctx;
    uint q_stride;   // floats between columns of q and of o
    uint n_heads;
    float scale;     // 1/sqrt(head_dim)
    uint layer;
    uint masked;     // 1: skip earlier positions with depth <= layer
} pc;

shared float q_head[256];

void main() {
    const uint h = gl_WorkGroupID.x, c = gl_WorkGroupID.y;
    if (!column_runs(c, pc.layer)) return; // whole workgroup leaves together
    const uint n_pos = params.pos + c + 1u;
    const uint kv_off = (h / pc.group) * pc.head_dim;
    const uint s_off = (c * pc.n_heads + h) * pc.n_ctx;
    const uint lid = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;

    for (uint i = lid; i < pc.head_dim; i += wg) q_head[i] = q[c * pc.q_stride + h * pc.head_dim + i];
    barrier();

    float m = -1.0e30;
    for (uint t = lid; t < n_pos; t += wg) {
        float s = 0.0;
        for (uint i = 0; i < pc.head_dim; i++) s += q_head[i] * k_cache[t * pc.kv_dim + kv_off + i];
        s *= pc.scale;
        if (pc.masked != 0u && t < params.pos && depth[t] <= pc.layer) s = -1.0e30; // exp() gives 0
        scores[s_off + t] = s;
        m = max(m, s);
    }
    m = workgroup_max(m);
    float sum = 0.0;
    for (uint t = lid; t < n_pos; t += wg) {
        float e = exp(scores[s_off + t] - m);
        scores[s_off + t] = e;
        sum += e;
    }
    sum = workgroup_sum(sum);
    memoryBarrierBuffer();
    barrier();
    for (uint i = lid; i < pc.head_dim; i += wg) {
        float acc = 0.0;
        for (uint t = 0; t < n_pos; t++) acc += scores[s_off + t] * v_cache[t * pc.kv_dim + kv_off + i];
        o[c * pc.q_stride + h * pc.head_dim + i] = acc / sum;
    }
}
