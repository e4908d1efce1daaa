// weights.glsl — reading weight matrices in LiteVK's GPU layout.
//
// The includer declares `layout(constant_id = N) const uint WTYPE` (ggml type id).
// A row is a sequence of units of 8 weights. A lane loads GROUP units at once
// (a quantised block, or a 64-element chunk of a K-quant block), so that a few
// 16-byte loads serve 8 * GROUP weights and the scales are read once:
//   f32   rows padded to a multiple of 8; unit = two uvec4; GROUP 1
//   f16   rows padded to a multiple of 8; unit = one uvec4 (8 halves); GROUP 1
//   bf16  as f16, 8 bfloat16s
//   q8_0  quants of each 32-block as 8 words (two uvec4), then all fp16 scales
//         after the quants (two per word) at word `scale_off`; GROUP 4
//   q4_0  quants of each block as 4 words, one uvec4 (ggml nibble order: byte j
//         holds elements j and j+16); scales as for q8_0; GROUP 4
//   q4_1  quants as q4_0; after them one word per block, d | m << 16 (fp16)
//   q5_0, q5_1  quants (low 4 bits) as q4_0; after them two words per block:
//         d | m << 16 (fp16; m = 0 for q5_0), then ggml's qh (element e's
//         fifth bit at bit e)
//   q4_k  quants of each 256-block as ggml's 32 words (per 64 elements 8 words,
//         byte j holding elements j and j+32), one word per unit; after all
//         quants, at `scale_off`, 5 scale words per block: d | dmin << 16
//         (fp16), and per 64 elements one word of bytes sc, sc', m, m' (the
//         6-bit scales and mins of its two sub-blocks); GROUP 8
//   q5_k  per 256-block ggml's qs (32 words) then qh (8 words; byte l holds
//         the fifth bits of elements 64c + l and 64c + 32 + l at bits 2c and
//         2c + 1); scale words as q4_k; GROUP 8
//   q6_k  per 256-block ggml's ql (32 words) then qh (16 words): unit u reads
//         ql word u (4 elements in the low, 4 in the high nibbles) and the
//         2-bit pairs of qh word (u/16)*8 + u%8 at shift 2*((u/8)%2); after all
//         quants, at `scale_off`, 5 scale words per block: d (f32), then 4
//         words of int8 sub-block scales, unit u's pair (of its `a` and `b`,
//         64 elements apart) in the low or high half (u/4 % 2) of word u/8;
//         GROUP 8
// The repacking (runtime/forward/gpu_model.c) keeps every load a 32-bit word or wider:
// llvmpipe is 1.5-2x slower on 8/16-bit loads than on 32-bit ones (measured on lavapipe).
const uint T_F32 = 0u, T_F16 = 1u, T_Q4_0 = 2u, T_Q4_1 = 3u, T_Q5_0 = 6u, T_Q5_1 = 7u, T_Q8_0 = 8u, T_Q4_K = 12u,
           T_Q5_K = 13u, T_Q6_K = 14u, T_BF16 = 30u;
const bool FLOAT_WEIGHTS = WTYPE == T_F32 || WTYPE == T_F16 || WTYPE == T_BF16;
const bool NIBBLE_BLOCKS = WTYPE == T_Q4_0 || WTYPE == T_Q4_1 || WTYPE == T_Q5_0 || WTYPE == T_Q5_1; // 32-blocks
const bool K_AFFINE = WTYPE == T_Q4_K || WTYPE == T_Q5_K; // sub-block scales and mins
const uint GROUP = FLOAT_WEIGHTS ? 1u : NIBBLE_BLOCKS || WTYPE == T_Q8_0 ? 4u : 8u;
// Per SPAN units (8 SPAN elements) `a` takes the first half, `b` the second: the ggml nibble orders.
const uint SPAN = NIBBLE_BLOCKS ? 4u : K_AFFINE ? 8u : WTYPE == T_Q6_K ? 16u : 1u;
const uint K_SCALE_WORDS = 5u; // per 256-block of q4_k / q5_k / q6_k
const bool WEIGHT_SCALES = GROUP > 1u; // quantised: a unit's weights are s * raw (- m)
const bool WEIGHT_OFFSETS = K_AFFINE || WTYPE == T_Q4_1 || WTYPE == T_Q5_1; // and have an offset m

// The matrix is bound twice, as uniform texel buffers (LVK_WEIGHT_BINDING):
// on llvmpipe a texel fetch is 1.2-1.8x faster than a storage-buffer load.
layout(binding = LVK_WEIGHT_BINDING) uniform usamplerBuffer weight_texels;    // RGBA32UI
layout(binding = LVK_WEIGHT_BINDING + 1) uniform usamplerBuffer weight_words; // R32UI

// Every weight read goes through these two: 16 bytes at vec4 index i, one word at word index i.
uvec4 weight_vec4(uint i) { return texelFetch(weight_texels, int(i)); }
uint weight_word(uint i) { return texelFetch(weight_words, int(i)).x; }

// GROUP units of one row as loaded: raw words, and the scales (q8_0/q4_0/q5_0:
// s.x; q4_1/q5_1: s.x and the negated offset s.y; q5_0/q5_1: qh in q[1].x;
// q4_k/q5_k: scales s.xy and mins s.zw of the two sub-blocks, q5_k's fifth
// bits in q[2..3]; q6_k: d * the int8 scales, units 0-3 s.xy, units 4-7 s.zw).
struct Group {
    uvec4 q[4];
    vec4 s;
};

// The 4 signed `bits`-wide fields at the bottom of each byte of w.
vec4 unpack_signed_x4(uint w, uint bits) {
    uint s = 32u - bits;
    return vec4(int(w << s) >> s, int(w << (s - 8u)) >> s, int(w << (s - 16u)) >> s, int(w << (s - 24u)) >> s);
}

// The low nibble of each byte of w.
vec4 nibbles(uint w) { return vec4(w & 15u, (w >> 8) & 15u, (w >> 16) & 15u, (w >> 24) & 15u); }

// Each byte of w.
vec4 unpack_unsigned_x4(uint w) { return vec4(w & 255u, (w >> 8) & 255u, (w >> 16) & 255u, w >> 24); }

// Bits 0-3 of h moved to bit 4 of bytes 0-3: a q5_0/q5_1 fifth bit beside its nibble.
uint fifth_bits(uint h) { return ((h & 1u) | (h & 2u) << 7 | (h & 4u) << 14 | (h & 8u) << 21) << 4; }

// Word j (0-7) of lo, hi: selects rather than an indexed vector, which llvmpipe spills.
uint word_of(uvec4 lo, uvec4 hi, uint j) {
    uvec4 v = j < 4u ? lo : hi;
    uint k = j & 3u;
    return k == 0u ? v.x : k == 1u ? v.y : k == 2u ? v.z : v.w;
}

Group load_group(uint row, uint group, uint units, uint scale_off) {
    Group g;
    g.q[1] = g.q[2] = g.q[3] = uvec4(0u);
    g.s = vec4(1.0);
    const uint at = row * (units / GROUP) + group; // groups follow each other along the rows
    if (WTYPE == T_F16 || WTYPE == T_BF16) {
        g.q[0] = weight_vec4(at);
    } else if (WTYPE == T_Q4_1) {
        g.q[0] = weight_vec4(at);
        const vec2 dm = unpackHalf2x16(weight_word(scale_off + at));
        g.s.xy = vec2(dm.x, -dm.y);
    } else if (WTYPE == T_Q5_0 || WTYPE == T_Q5_1) {
        g.q[0] = weight_vec4(at);
        const vec2 dm = unpackHalf2x16(weight_word(scale_off + 2u * at));
        g.s.xy = vec2(dm.x, -dm.y);
        g.q[1].x = weight_word(scale_off + 2u * at + 1u);
    } else if (WTYPE == T_Q4_0) {
        g.q[0] = weight_vec4(at);
        vec2 d = unpackHalf2x16(weight_word(scale_off + at / 2u));
        g.s.x = (at & 1u) == 0u ? d.x : d.y;
    } else if (WTYPE == T_F32 || WTYPE == T_Q8_0) {
        g.q[0] = weight_vec4(at * 2u);
        g.q[1] = weight_vec4(at * 2u + 1u);
        if (WTYPE == T_Q8_0) {
            vec2 d = unpackHalf2x16(weight_word(scale_off + at / 2u));
            g.s.x = (at & 1u) == 0u ? d.x : d.y;
        }
    } else if (K_AFFINE) { // chunk k of the block's 4
        if (WTYPE == T_Q4_K) {
            g.q[0] = weight_vec4(at * 2u);
            g.q[1] = weight_vec4(at * 2u + 1u);
        } else { // 40 words = 10 uvec4 per block: qs, then qh shifted to chunk k's bit pair
            const uint k = at % 4u, base = (at / 4u) * 10u;
            g.q[0] = weight_vec4(base + 2u * k);
            g.q[1] = weight_vec4(base + 2u * k + 1u);
            g.q[2] = weight_vec4(base + 8u) >> (2u * k);
            g.q[3] = weight_vec4(base + 9u) >> (2u * k);
        }
        const uint sw = scale_off + (at / 4u) * K_SCALE_WORDS;
        const vec2 dm = unpackHalf2x16(weight_word(sw));
        const uint c = weight_word(sw + 1u + at % 4u);
        // d * sc is exact in f32: the same rounding as ggml's
        g.s = vec4(dm.x * vec2(c & 255u, (c >> 8) & 255u), dm.y * vec2((c >> 16) & 255u, c >> 24));
    } else { // T_Q6_K: chunk k of the block's 4
        const uint k = at % 4u, base = (at / 4u) * 12u; // 48 words = 12 uvec4 per block
        g.q[0] = weight_vec4(base + 2u * k);
        g.q[1] = weight_vec4(base + 2u * k + 1u);
        const uint shift = (k % 2u) * 2u;
        g.q[2] = weight_vec4(base + 8u + (k / 2u) * 2u) >> shift;
        g.q[3] = weight_vec4(base + 9u + (k / 2u) * 2u) >> shift;
        const uint sw = scale_off + (at / 4u) * K_SCALE_WORDS;
        g.s = uintBitsToFloat(weight_word(sw)) * unpack_signed_x4(weight_word(sw + 1u + k), 8u); // (d * sc), as ggml
    }
    return g;
}

// Unit j of a group as raw values and the affine map that makes them weights:
// weight = s * raw - m, with (s.x, m.x) for the elements of `a` and (s.y, m.y)
// for those of `b` (elements unit_first_a.. and unit_first_b..). The mat-vec
// applies s and m once per dot product rather than once per weight.
struct Unit {
    vec4 a, b;
    vec2 s, m;
};

Unit group_unit(Group g, uint j) {
    Unit u;
    u.s = vec2(1.0);
    u.m = vec2(0.0);
    if (WTYPE == T_F32) {
        u.a = uintBitsToFloat(g.q[0]);
        u.b = uintBitsToFloat(g.q[1]);
    } else if (WTYPE == T_F16) {
        u.a = vec4(unpackHalf2x16(g.q[0].x), unpackHalf2x16(g.q[0].y));
        u.b = vec4(unpackHalf2x16(g.q[0].z), unpackHalf2x16(g.q[0].w));
    } else if (WTYPE == T_BF16) { // a bfloat16 is the top half of an f32
        const uvec4 lo = g.q[0] << 16, hi = g.q[0] & 0xffff0000u;
        u.a = uintBitsToFloat(uvec4(lo.x, hi.x, lo.y, hi.y));
        u.b = uintBitsToFloat(uvec4(lo.z, hi.z, lo.w, hi.w));
    } else if (WTYPE == T_Q8_0) {
        uvec4 h = j < 2u ? g.q[0] : g.q[1];
        bool second = (j & 1u) != 0u;
        u.a = unpack_signed_x4(second ? h.z : h.x, 8u);
        u.b = unpack_signed_x4(second ? h.w : h.y, 8u);
        u.s = g.s.xx;
    } else if (WTYPE == T_Q4_0 || WTYPE == T_Q4_1) {
        const uint w = word_of(g.q[0], g.q[0], j);
        const float q_offset = WTYPE == T_Q4_0 ? 8.0 : 0.0; // Q4_0: (q - 8) * d, as ggml rounds it
        u.a = nibbles(w) - q_offset;
        u.b = nibbles(w >> 4) - q_offset;
        u.s = g.s.xx;
        u.m = WTYPE == T_Q4_1 ? g.s.yy : vec2(0.0); // Q4_1's negated offset
    } else if (WTYPE == T_Q5_0 || WTYPE == T_Q5_1) {
        const uint w = word_of(g.q[0], g.q[0], j), qh = g.q[1].x;
        u.a = unpack_unsigned_x4((w & 0x0f0f0f0fu) | fifth_bits(qh >> (4u * j)));
        u.b = unpack_unsigned_x4(((w >> 4) & 0x0f0f0f0fu) | fifth_bits(qh >> (16u + 4u * j)));
        if (WTYPE == T_Q5_0) { // (q - 16) * d, as ggml rounds it
            u.a -= 16.0;
            u.b -= 16.0;
        }
        u.s = g.s.xx;
        u.m = g.s.yy;
    } else if (WTYPE == T_Q4_K) {
        uint w = word_of(g.q[0], g.q[1], j);
        u.a = nibbles(w);
        u.b = nibbles(w >> 4);
        u.s = g.s.xy;
        u.m = g.s.zw;
    } else if (WTYPE == T_Q5_K) {
        const uint w = word_of(g.q[0], g.q[1], j), h = word_of(g.q[2], g.q[3], j);
        u.a = unpack_unsigned_x4((w & 0x0f0f0f0fu) | (h & 0x01010101u) << 4);
        u.b = unpack_unsigned_x4(((w >> 4) & 0x0f0f0f0fu) | (h & 0x02020202u) << 3);
        u.s = g.s.xy;
        u.m = g.s.zw;
    } else { // T_Q6_K
        uint lo = word_of(g.q[0], g.q[1], j), hi = word_of(g.q[2], g.q[3], j);
        // 6-bit quants per byte with the top bit flipped: read as signed, q - 32
        uint qa = ((lo & 0x0f0f0f0fu) | ((hi & 0x03030303u) << 4)) ^ 0x20202020u;
        uint qb = (((lo >> 4) & 0x0f0f0f0fu) | (hi & 0x30303030u)) ^ 0x20202020u;
        u.a = unpack_signed_x4(qa, 6u);
        u.b = unpack_signed_x4(qb, 6u);
        u.s = j < 4u ? g.s.xy : g.s.zw;
    }
    return u;
}

// Unit `unit` of `row` alone (the embedding lookup).
void load_unit(uint row, uint unit, uint units, uint scale_off, out vec4 a, out vec4 b) {
    Unit u = group_unit(load_group(row, unit / GROUP, units, scale_off), unit % GROUP);
    a = u.s.x * u.a - u.m.x;
    b = u.s.y * u.b - u.m.y;
}

// Index (within the row) of the first element of `a` and of `b`.
uint unit_first_a(uint unit) { return (unit / SPAN) * 8u * SPAN + (unit % SPAN) * 4u; }
uint unit_first_b(uint unit) { return unit_first_a(unit) + 4u * SPAN; }
