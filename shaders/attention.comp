#version 450
// attention.comp — softmax(q K^T / sqrt(d)) V for one query head of one token
// column, over positions 0..pos+c (causal, GQA), as flash-decoding: SPLITS
// workgroups per (head, column) each take a contiguous share of the positions
// and keep (max, sum of exp, unnormalised output); the last of them to finish
// merges the shares. One dispatch, enough workgroups to fill a GPU at short
// contexts; lavapipe uses SPLITS 1 (its two cores are busy with the heads).
// The KV cache is f16, two values per word. With `masked`, positions whose
// token exited before this block (their K/V were never written: KV fill
// `none`) are left out.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint SPLITS = 1;
#include "common.glsl"

layout(binding = 1) readonly buffer Q { float q[]; };
layout(binding = 2) readonly buffer K { uint k_cache[]; };         // [n_ctx][kv_dim / 2] f16 pairs
layout(binding = 3) readonly buffer V { uint v_cache[]; };
layout(binding = 4) buffer Scores { float scores[]; };             // [NCOLS][n_heads][n_ctx]
layout(binding = 5) writeonly buffer Out { float o[]; };
layout(binding = 6) readonly buffer Depth { uint depth[]; };       // [n_ctx] blocks each position ran
// SPLITS > 1: per (column, head) a count of finished shares (back to 0 after
// the merge), then from word shares_at the shares [NCOLS][n_heads][SPLITS][2 + head_dim]
layout(binding = 7) coherent buffer Done { uint done[]; };
layout(binding = 7) coherent buffer Shares { float shares[]; };

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
    uint shares_at;  // SPLITS > 1: first word of the shares in binding 7
} pc;

shared float q_head[256];
shared bool merges;

void main() {
    const uint h = gl_WorkGroupID.x / SPLITS, split = gl_WorkGroupID.x % SPLITS, c = gl_WorkGroupID.y;
    if (!column_runs(c, pc.layer)) return; // whole workgroup leaves together
    const uint n_pos = params.pos + c + 1u, share = (n_pos + SPLITS - 1u) / SPLITS;
    const uint t0 = min(split * share, n_pos), t1 = min(t0 + share, n_pos);
    const uint kv_words = pc.kv_dim / 2u, kv_off = (h / pc.group) * pc.head_dim / 2u; // in words
    const uint s_off = (c * pc.n_heads + h) * pc.n_ctx;
    const uint lid = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x, pairs = pc.head_dim / 2u;

    for (uint i = lid; i < pc.head_dim; i += wg) q_head[i] = q[c * pc.q_stride + h * pc.head_dim + i] * pc.scale;
    barrier();

    float m = -1.0e30;
    for (uint t = t0 + lid; t < t1; t += wg) {
        float s = 0.0;
        for (uint p = 0; p < pairs; p++)
            s += dot(vec2(q_head[2u * p], q_head[2u * p + 1u]), unpackHalf2x16(k_cache[t * kv_words + kv_off + p]));
        if (pc.masked != 0u && t < params.pos && depth[t] <= pc.layer) s = -1.0e30; // exp() gives 0
        scores[s_off + t] = s;
        m = max(m, s);
    }
    m = workgroup_max(m);
    float sum = 0.0;
    for (uint t = t0 + lid; t < t1; t += wg) {
        float e = exp(scores[s_off + t] - m);
        scores[s_off + t] = e;
        sum += e;
    }
    sum = workgroup_sum(sum);
    memoryBarrierBuffer();
    barrier();

    const uint o_at = c * pc.q_stride + h * pc.head_dim;
    const uint mine = pc.shares_at + ((c * pc.n_heads + h) * SPLITS + split) * (2u + pc.head_dim);
    for (uint p = lid; p < pairs; p += wg) {
        vec2 acc = vec2(0.0);
        for (uint t = t0; t < t1; t++) acc += scores[s_off + t] * unpackHalf2x16(v_cache[t * kv_words + kv_off + p]);
        if (SPLITS == 1u) {
            o[o_at + 2u * p] = acc.x / sum;
            o[o_at + 2u * p + 1u] = acc.y / sum;
        } else {
            shares[mine + 2u + 2u * p] = acc.x;
            shares[mine + 3u + 2u * p] = acc.y;
        }
    }
    if (SPLITS == 1u) return;

    // The last share to finish merges them all: out = sum_s e^(m_s - M) acc_s / sum_s e^(m_s - M) l_s.
    if (lid == 0u) {
        shares[mine] = m;
        shares[mine + 1u] = sum;
    }
    memoryBarrierBuffer();
    barrier();
    const uint counter = c * pc.n_heads + h;
    if (lid == 0u) merges = atomicAdd(done[counter], 1u) == SPLITS - 1u;
    barrier();
    if (!merges) return;
    memoryBarrierBuffer();
    const uint first = pc.shares_at + (c * pc.n_heads + h) * SPLITS * (2u + pc.head_dim);
    float top = -1.0e30;
    for (uint s = 0; s < SPLITS; s++) top = max(top, shares[first + s * (2u + pc.head_dim)]);
    float total = 0.0;
    for (uint s = 0; s < SPLITS; s++) {
        const uint at = first + s * (2u + pc.head_dim);
        total += exp(shares[at] - top) * shares[at + 1u];
    }
    for (uint i = lid; i < pc.head_dim; i += wg) {
        float acc = 0.0;
        for (uint s = 0; s < SPLITS; s++) {
            const uint at = first + s * (2u + pc.head_dim);
            acc += exp(shares[at] - top) * shares[at + 2u + i];
        }
        o[o_at + i] = acc / total;
    }
    if (lid == 0u) done[counter] = 0u;
}
