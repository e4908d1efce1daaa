// weights.glsl — reading weight matrices in LiteVK's GPU layout.
//
// The includer declares `layout(constant_id = N) const uint WTYPE` (ggml type id).
// A matrix is read in units of 8 weights:
//   f32   rows padded to a multiple of 8; unit = two uvec4
//   f16   rows padded to a multiple of 8; unit = one uvec4 (8 halves)
//   q8_0  quants of each 32-block as 8 words (4 units of 2 words), then all fp16
//         scales after the quants (two per word) at word `scale_off`
//   q4_0  quants of each block as 4 words (ggml nibble order: byte j holds
//         elements j and j+16), one word per unit; scales as for q8_0
//   q4_k  quants of each 256-block as ggml's 32 words (per 64 elements 8 words,
//         byte j holding elements j and j+32), one word per unit; after all
//         quants, at `scale_off`, 5 scale words per block: d | dmin << 16
//         (fp16), and per 64 elements one word of bytes sc, sc', m, m' (the
//         6-bit scales and mins of its two sub-blocks)
//   q6_k  per 256-block ggml's ql (32 words) then qh (16 words): unit u reads
//         ql word u (4 elements in the low, 4 in the high nibbles) and the
//         2-bit pairs of qh word (u/16)*8 + u%8 at shift 2*((u/8)%2); after all
//         quants, at `scale_off`, 5 scale words per block: d (f32), then 4
//         words of int8 sub-block scales, unit u's pair (of its `a` and `b`,
//         64 elements apart) in the low or high half (u/4 % 2) of word u/8
// The repacking (runtime/gpu_model.c) keeps every load a 32-bit word or wider:
// llvmpipe is 1.5-2x slower on 8/16-bit loads (shared/notes/lavapipe-probe.md).
const uint T_F32 = 0u, T_F16 = 1u, T_Q4_0 = 2u, T_Q8_0 = 8u, T_Q4_K = 12u, T_Q6_K = 14u;
// Per group of G units (8G elements) `a` takes the first half, `b` the second,
// the ggml nibble orders.
const uint G = WTYPE == T_Q4_0 ? 4u : WTYPE == T_Q4_K ? 8u : WTYPE == T_Q6_K ? 16u : 1u;
const uint K_SCALE_WORDS = 5u; // per 256-block of q4_k / q6_k

// The matrix is bound twice, as uniform texel buffers (LVK_WEIGHT_BINDING):
// on llvmpipe a texel fetch is 1.2-1.8x faster than a storage-buffer load.
layout(binding = 8) uniform usamplerBuffer weight_texels; // RGBA32UI
layout(binding = 9) uniform usamplerBuffer weight_words;  // R32UI

// Every weight read goes through these two: 16 bytes at vec4 index i, one word at word index i.
uvec4 weight_vec4(uint i) { return texelFetch(weight_texels, int(i)); }
uint weight_word(uint i) { return texelFetch(weight_words, int(i)).x; }

float block_scale(uint row, uint unit, uint units, uint scale_off) {
    uint h = row * (units / 4u) + unit / 4u;
    vec2 s = unpackHalf2x16(weight_word(scale_off + h / 2u));
    return (h & 1u) == 0u ? s.x : s.y;
}

// The 4 signed `bits`-wide fields at the bottom of each byte of w.
vec4 unpack_signed_x4(uint w, uint bits) {
    uint s = 32u - bits;
    return vec4(int(w << s) >> s, int(w << (s - 8u)) >> s, int(w << (s - 16u)) >> s, int(w << (s - 24u)) >> s);
}

// The low nibble of each byte of w.
vec4 nibbles(uint w) { return vec4(w & 15u, (w >> 8) & 15u, (w >> 16) & 15u, (w >> 24) & 15u); }

// Weights of unit `unit` of `row`: `a` holds elements unit_first_a.., `b` unit_first_b..
void load_unit(uint row, uint unit, uint units, uint scale_off, out vec4 a, out vec4 b) {
    if (WTYPE == T_F32) {
        uint i = (row * units + unit) * 2u;
        a = uintBitsToFloat(weight_vec4(i));
        b = uintBitsToFloat(weight_vec4(i + 1u));
    } else if (WTYPE == T_F16) {
        uvec4 q = weight_vec4(row * units + unit);
        a = vec4(unpackHalf2x16(q.x), unpackHalf2x16(q.y));
        b = vec4(unpackHalf2x16(q.z), unpackHalf2x16(q.w));
    } else if (WTYPE == T_Q8_0) {
        uint i = (row * units + unit) * 2u;
        float d = block_scale(row, unit, units, scale_off);
        a = d * unpack_signed_x4(weight_word(i), 8u);
        b = d * unpack_signed_x4(weight_word(i + 1u), 8u);
    } else if (WTYPE == T_Q4_0) {
        uint w = weight_word(row * units + unit);
        float d = block_scale(row, unit, units, scale_off);
        a = d * (nibbles(w) - 8.0);
        b = d * (nibbles(w >> 4) - 8.0);
    } else if (WTYPE == T_Q4_K) {
        uint g = row * units + unit, w = weight_word(g); // units is a multiple of 32: g % 32 == unit % 32
        uint s = scale_off + (g / 32u) * K_SCALE_WORDS;
        vec2 dm = unpackHalf2x16(weight_word(s));
        uint c = weight_word(s + 1u + (g % 32u) / 8u);
        vec2 d = dm.x * vec2(c & 255u, (c >> 8) & 255u), m = dm.y * vec2((c >> 16) & 255u, c >> 24);
        a = d.x * nibbles(w) - m.x; // d * sc * q is exact in f32: the same rounding as ggml's
        b = d.y * nibbles(w >> 4) - m.y;
    } else { // T_Q6_K
        uint g = row * units + unit, u = g % 32u, base = (g / 32u) * 48u;
        uint lo = weight_word(base + u);
        uint hi = weight_word(base + 32u + (u / 16u) * 8u + u % 8u) >> ((u / 8u) % 2u * 2u);
        // 6-bit quants per byte with the top bit flipped: read as signed, q - 32
        uint qa = ((lo & 0x0f0f0f0fu) | ((hi & 0x03030303u) << 4)) ^ 0x20202020u;
        uint qb = (((lo >> 4) & 0x0f0f0f0fu) | (hi & 0x30303030u)) ^ 0x20202020u;
        uint s = scale_off + (g / 32u) * K_SCALE_WORDS;
        float d = uintBitsToFloat(weight_word(s));
        vec2 sc = unpack_signed_x4(weight_word(s + 1u + u / 8u) >> ((u / 4u) % 2u * 16u), 8u).xy;
        a = (d * sc.x) * unpack_signed_x4(qa, 6u); // (d * sc) * (q - 32), as ggml rounds it
        b = (d * sc.y) * unpack_signed_x4(qb, 6u);
    }
}

// Index (within the row) of the first element of `a` and of `b`.
uint unit_first_a(uint unit) { return (unit / G) * 8u * G + (unit % G) * 4u; }
uint unit_first_b(uint unit) { return unit_first_a(unit) + 4u * G; }
