#version 450
// matvec.comp — y = W x for up to NCOLS token columns, with what comes before
// and after it fused in, so that a block is 5 dispatches rather than 11:
//   NORM  x is rmsnorm(x[c]) * norm_w (every workgroup recomputes the column's
//         scale: a read of x that is small next to W's rows);
//   OUT   0: y (+)= W x (the residual add when `accumulate`);
//         1: W = [Wq; Wk; Wv]: q rows go to y, k and v rows to the KV cache at
//            the column's position, q and k rotated by RoPE on the way out
//            (after their biases, with BIAS);
//         2: W = gate and up rows interleaved (2i, 2i+1): y[i] = silu(g) * u;
//         3: a head (exit, draft or final), for the columns from
//            params.decide_from on alone: y = their logits, and a decision
//            per column (argmax token, its softmax
//            probability, the second-highest probability, and for the first
//            of them whether confident() takes it): every workgroup reduces its
//            rows, the last to finish merges them.
// OUT 1 and 2 work on row pairs, so NR is even and parts start at even rows.
//
// One workgroup computes NR rows for every column of its tile that runs this
// block, so each weight read from memory and unpacked serves all of them
// (batched prompt, deferred KV fill, verification). A pass wider than NCOLS
// columns (a wide prompt pass) runs in tiles of NCOLS, one per workgroup index
// x, with W's row groups along y: the tiles of one row group are neighbours,
// so a GPU reads those rows from its cache after the first. A head runs only
// the tile that holds the columns it decides (all within one tile). Lanes stride over the row's groups
// of units (weights.glsl); a subgroup reduction finishes each dot product.
// x is read as texels (LVK_INPUT_BINDING, the same buffer as binding 1): on
// lavapipe a storage-buffer load is a scalar load per lane and component, and
// x is loaded once per unit and column, so with 8 columns its loads cost as
// much as the weights' (litevk-bench --only columns: 1.2-1.8x faster).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint NR = 4;     // rows per workgroup
layout(constant_id = 2) const uint NCOLS = 1;  // max token columns
layout(constant_id = 3) const uint WTYPE = 0;  // ggml type of W
layout(constant_id = 4) const uint NORM = 0;
layout(constant_id = 5) const uint OUT = 0;
layout(constant_id = 6) const uint BIAS = 0;   // OUT 1: add qkv_bias before RoPE (Qwen2)
#include "common.glsl"
#include "weights.glsl"

layout(binding = LVK_INPUT_BINDING) uniform usamplerBuffer x_texels; // x, RGBA32UI
layout(binding = 2) buffer Y { float y[]; };
layout(binding = 3) readonly buffer NormW { vec4 norm_w4[]; };  // [x_stride/4], zero-padded
layout(binding = 4) writeonly buffer KCache { uint k_cache[]; }; // OUT 1: [n_ctx][kv_dim / 2] f16 pairs
layout(binding = 5) writeonly buffer VCache { uint v_cache[]; };
layout(binding = 6) readonly buffer Rope { vec2 cos_sin[]; };     // OUT 1: [n_ctx][rope_dim/2]
layout(binding = 7) readonly buffer QkvBias { float qkv_bias[]; }; // OUT 1 with BIAS: per row of W
// OUT 3: per workgroup of all parts and per column (max, argmax bits, sum of
// exp(l - max), second largest), then, at vec4 pc.count_at, after room for
// the most workgroups a head of any pass width has, a count of finished
// workgroups (back to 0 after the merge)
layout(binding = 4) coherent buffer Partials { vec4 partials[]; };
layout(binding = 4) coherent buffer Count { uint count_words[]; };
layout(binding = 5) writeonly buffer Decisions { vec4 decisions[]; }; // (token bits, prob, second prob, confident bits)

layout(push_constant) uniform Push {
    uint rows;       // rows of this part of W
    uint units;      // units of 8 weights per row
    uint x_stride;   // floats between columns of x (multiple of 8)
    uint y_stride;   // floats between columns of y
    uint row_begin;  // row of the whole matrix this part starts at
    uint first_row;  // first row of the part this dispatch computes (K/V propagation skips Q's)
    uint scale_off;  // word offset of the fp16 scales (quantised types)
    uint accumulate; // OUT 0: 1 for y += W x
    uint layer;      // block this product belongs to: columns that do not run it are not written
    uint norm_n;     // NORM: elements of x the mean of squares is over
    float norm_eps;
    uint q_rows;     // OUT 1: rows of Wq (then kv_dim of Wk, kv_dim of Wv)
    uint kv_dim;
    uint head_dim;
    uint rope_dim;   // leading dimensions of each head that RoPE rotates
    uint slot;       // OUT 3: the slot of column decide_from's decision (the next columns' follow)
    uint wg_first;   // OUT 3: workgroups of the matrix's earlier parts
    uint wg_total;   // OUT 3: workgroups of all its parts
    uint count_at;   // OUT 3: vec4 index of the count of finished workgroups
} pc;

// 4 floats of column c (of the pass) of x at float 4 i
vec4 x_vec4(uint c, uint i) { return uintBitsToFloat(texelFetch(x_texels, int(c * (pc.x_stride / 4u) + i))); }

shared float partial[gl_WorkGroupSize.x * NR * NCOLS];
shared bool merges;

// OUT 3, the last workgroup: the decision of column col0 + c from every workgroup's partial.
void merge_head(uint col0, uint c) {
    const uint lid = gl_LocalInvocationID.x;
    float best = -3.0e38, best_second = -3.0e38, others = -3.0e38;
    uint token = 0xffffffffu;
    for (uint g = lid; g < pc.wg_total; g += gl_WorkGroupSize.x) { // ascending: ties keep the first
        vec4 p = partials[g * NCOLS + c];
        if (p.x > best) {
            others = max(others, best);
            best = p.x;
            token = floatBitsToUint(p.y);
            best_second = p.w;
        } else {
            others = max(others, p.x);
        }
    }
    const float top = workgroup_max(best);
    const uint arg = workgroup_min(best == top ? token : 0xffffffffu); // the smallest index among equals
    const bool owner = best == top && token == arg;
    const float second = workgroup_max(owner ? max(best_second, others) : max(best, others));
    float sum = 0.0;
    for (uint g = lid; g < pc.wg_total; g += gl_WorkGroupSize.x)
        sum += partials[g * NCOLS + c].z * exp(partials[g * NCOLS + c].x - top);
    sum = workgroup_sum(sum);
    if (lid == 0u) {
        const float prob = 1.0 / sum;
        const uint slot = pc.slot + col0 + c - params.decide_from;
        const bool taken = col0 + c == params.decide_from && slot < LVK_GPU_MAX_EXITS && confident(prob, params.thresholds[slot]);
        decisions[slot] = vec4(uintBitsToFloat(arg), prob, exp(second - top) / sum, uintBitsToFloat(taken ? 1u : 0u));
    }
}

// OUT 1: the row pair (r, r+1) of column c, rotated when it is a RoPE pair of q or k.
vec2 rope_pair(uint r, uint c, vec2 v) {
    if (r >= pc.q_rows + pc.kv_dim) return v; // v rows
    const uint d = (r < pc.q_rows ? r : r - pc.q_rows) % pc.head_dim;
    if (d >= pc.rope_dim) return v;
    const vec2 cs = cos_sin[(params.pos + c) * (pc.rope_dim / 2u) + d / 2u];
    return vec2(v.x * cs.x - v.y * cs.y, v.x * cs.y + v.y * cs.x);
}

// OUT 1: stores rows r, r+1 (of the whole matrix) of column c: q in floats, K and V as an f16 pair.
void store_qkv(uint r, uint c, vec2 v) {
    const uint at = (params.pos + c) * pc.kv_dim;
    if (r < pc.q_rows) {
        y[c * pc.y_stride + r] = v.x;
        y[c * pc.y_stride + r + 1u] = v.y;
    } else if (r < pc.q_rows + pc.kv_dim) {
        k_cache[(at + r - pc.q_rows) / 2u] = packHalf2x16(v);
    } else {
        v_cache[(at + r - pc.q_rows - pc.kv_dim) / 2u] = packHalf2x16(v);
    }
}

void main() {
    const uint row0 = pc.first_row + gl_WorkGroupID.y * NR; // within the part
    const uint col0 = OUT == 3u ? params.decide_from / NCOLS * NCOLS : gl_WorkGroupID.x * NCOLS; // the tile's first column
    // uniform: the columns this block computes; a head only those it decides
    // (the others are prompt tokens or tokens catching up: only their K/V is kept)
    bool runs[NCOLS], any = false;
    for (uint c = 0; c < NCOLS; c++) {
        runs[c] = column_runs(col0 + c, pc.layer) && (OUT != 3u || col0 + c >= params.decide_from);
        any = any || runs[c];
    }
    if (!any) return; // every workgroup alike: no row to read (the warm-up at session creation compiles the kernel so)
    float acc[NR][NCOLS];
    for (uint i = 0; i < NR; i++)
        for (uint c = 0; c < NCOLS; c++) acc[i][c] = 0.0;

    // NORM: scale[c] = 1 / sqrt(mean(x[c]^2) + eps), as the reference computes it
    float scale[NCOLS];
    for (uint c = 0; c < NCOLS; c++) {
        scale[c] = 1.0;
        if (NORM != 0u && runs[c]) { // runs[] is uniform: the reduction stays in uniform control flow
            float ss = 0.0;
            for (uint i = gl_LocalInvocationID.x; i < pc.x_stride / 4u; i += gl_WorkGroupSize.x) {
                vec4 v = x_vec4(col0 + c, i);
                ss += dot(v, v); // the padding is zero
            }
            scale[c] = inversesqrt(workgroup_sum(ss) / float(pc.norm_n) + pc.norm_eps);
        }
    }

    for (uint gi = gl_LocalInvocationID.x; gi < pc.units / GROUP; gi += gl_WorkGroupSize.x) {
        Group grp[NR];
        for (uint i = 0; i < NR; i++) grp[i] = load_group(min(row0 + i, pc.rows - 1u), gi, pc.units, pc.scale_off);
        for (uint j = 0; j < GROUP; j++) {
            const uint u = gi * GROUP + j;
            const uint ia = unit_first_a(u) / 4u, ib = unit_first_b(u) / 4u;
            Unit w[NR]; // unpacked once, used for every column
            for (uint i = 0; i < NR; i++) w[i] = group_unit(grp[i], j);
            const vec4 na = NORM != 0u ? norm_w4[ia] : vec4(1.0), nb = NORM != 0u ? norm_w4[ib] : vec4(1.0);
            for (uint c = 0; c < NCOLS; c++) {
                if (!runs[c]) continue;
                vec4 xa = x_vec4(col0 + c, ia), xb = x_vec4(col0 + c, ib);
                if (NORM != 0u) {
                    xa = xa * scale[c] * na;
                    xb = xb * scale[c] * nb;
                }
                // sum (s q - m) x = s (q . x) - m sum(x), per half
                const vec2 xsum = WEIGHT_OFFSETS ? vec2(dot(xa, vec4(1.0)), dot(xb, vec4(1.0))) : vec2(0.0);
                for (uint i = 0; i < NR; i++) {
                    const vec2 d = vec2(dot(w[i].a, xa), dot(w[i].b, xb));
                    if (WEIGHT_OFFSETS) acc[i][c] += dot(w[i].s, d) - dot(w[i].m, xsum);
                    else if (WEIGHT_SCALES) acc[i][c] += dot(w[i].s, d);
                    else acc[i][c] += d.x + d.y;
                }
            }
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
    if (gl_LocalInvocationID.x == 0) {
        for (uint c = 0; c < NCOLS; c++) {
            if (!runs[c]) continue;
            const uint col = col0 + c;
            if (OUT == 0u || OUT == 3u) {
                for (uint i = 0; i < NR; i++) {
                    if (row0 + i >= pc.rows) break;
                    const uint idx = col * pc.y_stride + pc.row_begin + row0 + i;
                    y[idx] = pc.accumulate != 0u ? y[idx] + acc[i][c] : acc[i][c];
                }
            } else {
                for (uint i = 0; i < NR; i += 2u) {
                    if (row0 + i >= pc.rows) break; // parts hold whole pairs
                    const uint r = pc.row_begin + row0 + i;
                    vec2 v = vec2(acc[i][c], acc[i + 1u][c]);
                    if (OUT == 1u && BIAS != 0u) v += vec2(qkv_bias[r], qkv_bias[r + 1u]);
                    if (OUT == 1u) {
                        store_qkv(r, col, rope_pair(r, col, v));
                    } else {
                        y[col * pc.y_stride + r / 2u] = v.x / (1.0 + exp(-v.x)) * v.y;
                    }
                }
            }
        }
        if (OUT == 3u) { // this workgroup's rows of each decided column: max, first argmax, sum, second
            for (uint c = 0; c < NCOLS; c++) { // a constant c: no indexed register array
                if (!runs[c]) continue;
                float m = -3.0e38, m2 = -3.0e38;
                uint arg = 0xffffffffu;
                for (uint i = 0; i < NR; i++) {
                    const float v = row0 + i < pc.rows ? acc[i][c] : -3.0e38;
                    if (v > m) { m2 = m; m = v; arg = pc.row_begin + row0 + i; }
                    else m2 = max(m2, v);
                }
                float sum = 0.0;
                for (uint i = 0; i < NR; i++) sum += exp((row0 + i < pc.rows ? acc[i][c] : -3.0e38) - m);
                partials[(pc.wg_first + gl_WorkGroupID.y) * NCOLS + c] = vec4(m, uintBitsToFloat(arg), sum, m2);
            }
            memoryBarrierBuffer();
            merges = atomicAdd(count_words[4u * pc.count_at], 1u) == pc.wg_total - 1u;
        }
    }
    if (OUT != 3u) return;
    barrier();
    if (!merges) return;
    memoryBarrierBuffer();
    for (uint c = 0; c < NCOLS; c++) // runs[] is uniform
        if (runs[c]) merge_head(col0, c);
    if (gl_LocalInvocationID.x == 0u) count_words[4u * pc.count_at] = 0u;
}
