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
// The repacking (runtime/gpu_weights.c) keeps every load a 32-bit word or wider:
// llvmpipe is 1.5-2x slower on 8/16-bit loads (shared/notes/lavapipe-probe.md).
const uint T_F32 = 0u, T_F16 = 1u, T_Q4_0 = 2u, T_Q8_0 = 8u;

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

vec4 unpack_i8x4(uint w) {
    return vec4(int(w << 24) >> 24, int(w << 16) >> 24, int(w << 8) >> 24, int(w) >> 24);
}

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
        a = d * unpack_i8x4(weight_word(i));
        b = d * unpack_i8x4(weight_word(i + 1u));
    } else { // T_Q4_0
        uint w = weight_word(row * units + unit);
        float d = block_scale(row, unit, units, scale_off);
        a = d * (vec4(w & 15u, (w >> 8) & 15u, (w >> 16) & 15u, (w >> 24) & 15u) - 8.0);
        b = d * (vec4((w >> 4) & 15u, (w >> 12) & 15u, (w >> 20) & 15u, w >> 28) - 8.0);
    }
}

// Index (within the row) of the first element of `a` and of `b`.
uint unit_first_a(uint unit) { return WTYPE == T_Q4_0 ? (unit / 4u) * 32u + (unit % 4u) * 4u : unit * 8u; }
uint unit_first_b(uint unit) { return WTYPE == T_Q4_0 ? unit_first_a(unit) + 16u : unit * 8u + 4u; }
