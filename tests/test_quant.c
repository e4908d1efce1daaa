/* test_quant.c — the block formats on the host: dequantisation of hand-built
 * blocks against values worked out by hand from the format (ggml's block
 * layouts), bf16 rounding, and quantise -> dequantise error bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "formats/quant.h"
#include "synth.h"

static void test_block_layouts(void **state) {
    (void)state;
    assert_int_equal(sizeof(block_q4_K), ggml_block_bytes(GGML_Q4_K));
    assert_int_equal(offsetof(block_q4_K, dmin), 2);
    assert_int_equal(offsetof(block_q4_K, scales), 4);
    assert_int_equal(offsetof(block_q4_K, qs), 16);
    assert_int_equal(sizeof(block_q6_K), ggml_block_bytes(GGML_Q6_K));
    assert_int_equal(offsetof(block_q6_K, qh), 128);
    assert_int_equal(offsetof(block_q6_K, scales), 192);
    assert_int_equal(offsetof(block_q6_K, d), 208);
    assert_int_equal(ggml_block_elems(GGML_Q4_K), QK_K);
    assert_int_equal(ggml_block_elems(GGML_Q6_K), QK_K);
    assert_int_equal(sizeof(block_q5_K), ggml_block_bytes(GGML_Q5_K));
    assert_int_equal(offsetof(block_q5_K, scales), 4);
    assert_int_equal(offsetof(block_q5_K, qh), 16);
    assert_int_equal(offsetof(block_q5_K, qs), 48);
    assert_int_equal(sizeof(block_q4_1), ggml_block_bytes(GGML_Q4_1));
    assert_int_equal(offsetof(block_q4_1, qs), 4);
    assert_int_equal(sizeof(block_q5_0), ggml_block_bytes(GGML_Q5_0));
    assert_int_equal(offsetof(block_q5_0, qh), 2);
    assert_int_equal(offsetof(block_q5_0, qs), 6);
    assert_int_equal(sizeof(block_q5_1), ggml_block_bytes(GGML_Q5_1));
    assert_int_equal(offsetof(block_q5_1, qh), 4);
    assert_int_equal(offsetof(block_q5_1, qs), 8);
    for (int i = 0; i < LVK_N_WEIGHT_TYPES; i++) assert_true(weight_type_supported(weight_types[i]));
    assert_false(weight_type_supported(GGML_Q8_1) || weight_type_supported(GGML_Q3_K));
    assert_string_equal(weight_type_names(", ", " or "),
                        "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k or q6_k");
}

/* bf16 is the top half of an f32: exact both ways where it fits, round to
 * nearest even otherwise, NaN kept a NaN. */
static void test_bf16(void **state) {
    (void)state;
    const uint16_t h[] = {0x3F80, 0xC040, 0x7F80, 0x0001, 0x8000};
    const float want[] = {1.0f, -3.0f, INFINITY, 0x1p-133f, -0.0f};
    float got[5];
    dequantize_row(GGML_BF16, h, got, 5);
    for (int i = 0; i < 5; i++) {
        assert_true(got[i] == want[i]);
        assert_int_equal(f32_to_bf16(want[i]), h[i]);
    }
    assert_true(signbit(got[4]));
    assert_int_equal(f32_to_bf16(1.00390625f), 0x3F80); /* halfway, to the even 0x3F80 */
    assert_int_equal(f32_to_bf16(1.01171875f), 0x3F82); /* halfway, to the even 0x3F82 */
    assert_int_equal(f32_to_bf16(0x1.010002p0f), 0x3F81); /* just above halfway */
    assert_true(isnan(bf16_to_f32(f32_to_bf16(NAN))));
    assert_int_equal(f32_to_bf16(3.4e38f), 0x7F80); /* rounds past the largest finite bf16 */
}

/* Q4_1, Q5_0 and Q5_1 blocks with the same quants: byte j of qs holds
 * element j (low nibble) and j + 16 (high), qh bit e is element e's fifth
 * bit. Set: qs[0] = 0x21 (elements 0: 1, 16: 2), qs[1] = 0x0F (1: 15, 17: 0),
 * qs[15] = 0xF0 (15: 0, 31: 15); qh bits 0, 17 and 31. All other quants 0. */
static void test_32_blocks_known_values(void **state) {
    (void)state;
    uint8_t qs[16] = {0x21, 0x0F}, qh[4] = {0x01, 0x00, 0x02, 0x80};
    qs[15] = 0xF0;
    const int e[6] = {0, 16, 1, 17, 15, 31};
    const int q4[6] = {1, 2, 15, 0, 0, 15}, q5[6] = {17, 2, 15, 16, 0, 31}; /* their quants, other elements 0 */

    block_q4_1 b41 = {.d = 0x3800, .m = 0xBC00}; /* 0.5 * q - 1 */
    block_q5_0 b50 = {.d = 0x4000};              /* 2 * (q - 16) */
    block_q5_1 b51 = {.d = 0x3800, .m = 0x3C00}; /* 0.5 * q + 1 */
    memcpy(b41.qs, qs, 16);
    memcpy(b50.qs, qs, 16);
    memcpy(b51.qs, qs, 16);
    memcpy(b50.qh, qh, 4);
    memcpy(b51.qh, qh, 4);
    float w41[QK], w50[QK], w51[QK], got[QK];
    for (int j = 0; j < QK; j++) w41[j] = -1, w50[j] = -32, w51[j] = 1;
    for (int k = 0; k < 6; k++) {
        w41[e[k]] = 0.5f * q4[k] - 1;
        w50[e[k]] = 2.0f * (q5[k] - 16);
        w51[e[k]] = 0.5f * q5[k] + 1;
    }
    const struct { uint32_t type; const void *block; const float *want; } cases[] = {
        {GGML_Q4_1, &b41, w41}, {GGML_Q5_0, &b50, w50}, {GGML_Q5_1, &b51, w51}};
    for (int c = 0; c < 3; c++) {
        dequantize_row(cases[c].type, cases[c].block, got, QK);
        for (int j = 0; j < QK; j++)
            if (got[j] != cases[c].want[j])
                fail_msg("%s element %d: %g, expected %g", ggml_type_name(cases[c].type), j, got[j], cases[c].want[j]);
    }
}

/* Two Q4_K blocks. Sub-block scales sc = {1, 2, 3, 63, 17, 33, 48, 5} and mins
 * m = {0, 4, 10, 63, 21, 40, 16, 63}, packed by hand:
 *   bytes 0-3:  sc0..3 | (top 2 bits of sc4..7) << 6 = 1|1<<6, 2|2<<6, 3|3<<6, 63|0
 *   bytes 4-7:  m0..3  | (top 2 bits of m4..7) << 6  = 0|1<<6, 4|2<<6, 10|1<<6, 63|3<<6
 *   bytes 8-11: (sc4..7 & 15) | (m4..7 & 15) << 4   = 1|5<<4, 1|8<<4, 0|0<<4, 5|15<<4
 * Quants all 0 but four bytes; byte 32c + l holds elements 64c + l (low
 * nibble) and 64c + 32 + l (high nibble). */
static void q4_K_known_blocks(block_q4_K b[2], float want[2 * QK_K]) {
    memset(b, 0, 2 * sizeof *b);
    const uint8_t scales[12] = {0x41, 0x82, 0xC3, 0x3F, 0x40, 0x84, 0x4A, 0xFF, 0x51, 0x81, 0x00, 0xF5};
    for (int i = 0; i < 2; i++) {
        memcpy(b[i].scales, scales, 12);
        b[i].qs[0] = 0x9F;  /* element 0: q 15 (sub-block 0); element 32: q 9 (sub-block 1) */
        b[i].qs[37] = 0x7A; /* element 69: q 10 (sub-block 2); element 101: q 7 (sub-block 3) */
        b[i].qs[95] = 0x3C; /* element 159: q 12 (sub-block 4); element 191: q 3 (sub-block 5) */
        b[i].qs[96] = 0xE1; /* element 192: q 1 (sub-block 6); element 224: q 14 (sub-block 7) */
    }
    b[0].d = 0x3C00;    /* 1.0 */
    b[0].dmin = 0x3800; /* 0.5 */
    b[1].d = 0x4000;    /* 2.0 */
    b[1].dmin = 0;

    /* block 0: d * sc * q - dmin * m; q = 0 leaves -0.5 * m of the sub-block */
    const float base[8] = {0, -2, -5, -31.5f, -10.5f, -20, -8, -31.5f};
    for (int e = 0; e < QK_K; e++) want[e] = base[e / 32];
    want[0] = 1 * 15 - 0.0f;     /* 15 */
    want[32] = 2 * 9 - 2.0f;     /* 16 */
    want[69] = 3 * 10 - 5.0f;    /* 25 */
    want[101] = 63 * 7 - 31.5f;  /* 409.5 */
    want[159] = 17 * 12 - 10.5f; /* 193.5 */
    want[191] = 33 * 3 - 20.0f;  /* 79 */
    want[192] = 48 * 1 - 8.0f;   /* 40 */
    want[224] = 5 * 14 - 31.5f;  /* 38.5 */
    /* block 1: 2 * sc * q, no mins */
    for (int e = 0; e < QK_K; e++) want[QK_K + e] = 0;
    want[QK_K + 0] = 30;
    want[QK_K + 32] = 36;
    want[QK_K + 69] = 60;
    want[QK_K + 101] = 882;
    want[QK_K + 159] = 408;
    want[QK_K + 191] = 198;
    want[QK_K + 192] = 96;
    want[QK_K + 224] = 140;
}

static void test_q4_K_known_values(void **state) {
    (void)state;
    block_q4_K b[2];
    float want[2 * QK_K], got[2 * QK_K];
    q4_K_known_blocks(b, want);
    dequantize_row(GGML_Q4_K, b, got, 2 * QK_K);
    for (int e = 0; e < 2 * QK_K; e++)
        if (got[e] != want[e]) fail_msg("q4_k element %d: %g, expected %g", e, got[e], want[e]);
}

/* Q5_K: the Q4_K blocks above with fifth bits; qh byte l holds them for
 * elements 32j + l at bit j, adding 16 * d * sc[j]. Set: element 0 (qh[0]
 * bit 0), 101 (qh[5] bit 3), 255 (qh[31] bit 7), 130 (qh[2] bit 4). */
static void test_q5_K_known_values(void **state) {
    (void)state;
    block_q4_K b4[2];
    block_q5_K b[2];
    float want[2 * QK_K], got[2 * QK_K];
    q4_K_known_blocks(b4, want);
    const float sc[8] = {1, 2, 3, 63, 17, 33, 48, 5}, d[2] = {1, 2};
    const int set[4] = {0, 101, 255, 130};
    for (int i = 0; i < 2; i++) {
        b[i] = (block_q5_K){.d = b4[i].d, .dmin = b4[i].dmin};
        memcpy(b[i].scales, b4[i].scales, 12);
        memcpy(b[i].qs, b4[i].qs, sizeof b[i].qs);
        for (int k = 0; k < 4; k++) {
            b[i].qh[set[k] % 32] |= (uint8_t)(1 << (set[k] / 32));
            want[i * QK_K + set[k]] += 16 * d[i] * sc[set[k] / 32];
        }
    }
    dequantize_row(GGML_Q5_K, b, got, 2 * QK_K);
    for (int e = 0; e < 2 * QK_K; e++)
        if (got[e] != want[e]) fail_msg("q5_k element %d: %g, expected %g", e, got[e], want[e]);
}

/* Two Q6_K blocks with d = 0.5 and -1.0 and int8 scales {1, -2, 3, ..., 13,
 * -14, 127, -128} (one per 16 elements). ql 0 and qh 0xAA (every 2-bit field
 * 2) make q = 32, the weight 0, except where set. Per 128 elements: ql byte l
 * (l < 32) holds elements l (low nibble) and 64 + l (high), byte 32 + l holds
 * 32 + l and 96 + l; qh byte l the top 2 bits of l, 32 + l, 64 + l, 96 + l at
 * bits 0, 2, 4, 6. */
static void test_q6_K_known_values(void **state) {
    (void)state;
    block_q6_K b[2];
    for (int i = 0; i < 2; i++) {
        memset(b[i].ql, 0, sizeof b[i].ql);
        memset(b[i].qh, 0xAA, sizeof b[i].qh);
        for (int s = 0; s < 16; s++) b[i].scales[s] = (int8_t)(s % 2 ? -(s + 1) : s + 1);
        b[i].scales[14] = 127;
        b[i].scales[15] = -128;
        b[i].ql[0] = 0x0F;   /* element 0: low 15; element 64: low 0 */
        b[i].qh[0] = 0x8B;   /* 0b10'00'10'11: element 0 top 3 (q 63), 32 top 2, 64 top 0 (q 0), 96 top 2 */
        b[i].ql[49] = 0x08;  /* element 49: low 8, top 2 (qh default): q 40 */
        b[i].ql[62] = 0x10;  /* element 126 (96 + 30): low 1 */
        b[i].qh[30] = 0x6A;  /* 0b01'10'10'10: element 126 top 1: q 17 */
        b[i].ql[72] = 0x10;  /* element 200 (128 + 64 + 8): low 1, top 2: q 33 */
        b[i].ql[111] = 0xF0; /* element 239 (128 + 96 + 15): low 15 */
        b[i].qh[47] = 0xEA;  /* 0b11'10'10'10: element 239 top 3: q 63 */
        b[i].qh[63] = 0x2A;  /* 0b00'10'10'10: element 255 (128 + 96 + 31) top 0, low 0: q 0 */
    }
    b[0].d = 0x3800; /* 0.5 */
    b[1].d = 0xBC00; /* -1.0 */

    float want[2 * QK_K] = {0};
    want[0] = 0.5f * 1 * 31;      /* 15.5 */
    want[64] = 0.5f * 5 * -32;    /* -80 */
    want[49] = 0.5f * -4 * 8;     /* -16: scale 3 */
    want[126] = 0.5f * -8 * -15;  /* 60: scale 7 */
    want[200] = 0.5f * 13 * 1;    /* 6.5: scale 12 */
    want[239] = 0.5f * 127 * 31;  /* 1968.5: scale 14 */
    want[255] = 0.5f * -128 * -32; /* 2048: scale 15 */
    for (int e = 0; e < QK_K; e++) want[QK_K + e] = -2 * want[e]; /* d = -1.0 */

    float got[2 * QK_K];
    dequantize_row(GGML_Q6_K, b, got, 2 * QK_K);
    for (int e = 0; e < 2 * QK_K; e++)
        if (got[e] != want[e]) fail_msg("q6_k element %d: %g, expected %g", e, got[e], want[e]);
}

#define N_BLOCKS 16

/* Rows of N_BLOCKS super-blocks with the kinds of values weights take. */
static void make_data(int kind, float *x) {
    uint64_t s = 1234 + (uint64_t)kind;
    for (int i = 0; i < N_BLOCKS * QK_K; i++) {
        float u = synth_uniform(&s);
        switch (kind) {
        case 0: x[i] = u; break;                                   /* uniform in [-1, 1) */
        case 1: x[i] = 1.0f + 0.5f * u; break;                     /* all positive: mins clamp to 0 */
        case 2: x[i] = -3.0f + u; break;                           /* all negative */
        case 3: x[i] = u * powf(10.0f, (float)(i / 32 % 8) - 4); break; /* sub-blocks 1e-4 .. 1e3 apart */
        case 4: x[i] = i % 97 == 0 ? 40 * u : 0.01f * u; break;   /* outliers */
        case 5: x[i] = i / QK_K % 2 ? 0.0f : 0.25f; break;         /* constant and zero blocks */
        }
    }
}

/* The error bounds follow from the quantiser's rule (quant.h): scales rounded
 * up, so every element is within half a step of a level. Q4_K (Q5_K): a
 * sub-block spans [min(0, lo), hi] in L = 15 (31) steps, widened by the
 * quantised min (dmin, at most M/63 for the block's largest -min(0, lo) M)
 * and the step's own rounding up (d, at most about (R + M/63)/(63 L) for its
 * largest sub-block range R): |err| <= (hi - min(0, lo))/2L + (R + M)/60L. */
static void check_k_affine_roundtrip(uint32_t type, int levels) {
    static float x[N_BLOCKS * QK_K], y[N_BLOCKS * QK_K];
    static block_q5_K q[N_BLOCKS]; /* the larger of the two */
    for (int kind = 0; kind < 6; kind++) {
        make_data(kind, x);
        quantize_row(type, x, q, N_BLOCKS * QK_K);
        dequantize_row(type, q, y, N_BLOCKS * QK_K);
        for (int blk = 0; blk < N_BLOCKS; blk++) {
            float lo[8], hi[8], R = 0, M = 0;
            for (int j = 0; j < 8; j++) {
                const float *v = x + blk * QK_K + j * 32;
                lo[j] = 0;
                hi[j] = v[0];
                for (int l = 0; l < 32; l++) lo[j] = fminf(lo[j], v[l]), hi[j] = fmaxf(hi[j], v[l]);
                R = fmaxf(R, hi[j] - lo[j]);
                M = fmaxf(M, -lo[j]);
            }
            for (int e = 0; e < QK_K; e++) {
                int i = blk * QK_K + e, j = e / 32;
                float tol = (hi[j] - lo[j]) / (2.0f * levels) + (R + M) / (60.0f * levels) + 1e-6f * (R + M);
                if (!(fabsf(y[i] - x[i]) <= tol))
                    fail_msg("%s data %d element %d: %g came back as %g (bound %g)", ggml_type_name(type), kind, i,
                             x[i], y[i], tol);
            }
        }
        if (kind == 5)
            for (int i = 0; i < N_BLOCKS * QK_K; i++) assert_true(x[i] != 0 || y[i] == 0); /* zero blocks stay zero */
    }
}

static void test_q4_K_roundtrip(void **state) {
    (void)state;
    check_k_affine_roundtrip(GGML_Q4_K, 15);
}

static void test_q5_K_roundtrip(void **state) {
    (void)state;
    check_k_affine_roundtrip(GGML_Q5_K, 31);
}

/* The 32-blocks and bf16. Symmetric (Q8_0, Q4_0, Q5_0): the value of largest
 * magnitude A sets the step A/H (H = 127, 8, 16), every element within half
 * a step, but the far end of the range may clip by a whole step (-H..H-1).
 * (Q8_0 rounds to -127..127: half a step). Affine (Q4_1, Q5_1): the
 * block's [min, max] in L = 15 (31) steps, within half a step. The fp16
 * scale's and offset's rounding add to both. bf16: a relative 2^-8. */
static void test_32_blocks_and_bf16_roundtrip(void **state) {
    (void)state;
    static float x[N_BLOCKS * QK_K], y[N_BLOCKS * QK_K];
    static uint8_t q[N_BLOCKS * QK_K * 2];
    const struct { uint32_t type; int half, levels; } cases[] = {
        {GGML_Q8_0, 127, 0}, {GGML_Q4_0, 8, 0}, {GGML_Q5_0, 16, 0}, {GGML_Q4_1, 0, 15}, {GGML_Q5_1, 0, 31}, {GGML_BF16, 0, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int kind = 0; kind < 6; kind++) {
            make_data(kind, x);
            quantize_row(cases[c].type, x, q, N_BLOCKS * QK_K);
            dequantize_row(cases[c].type, q, y, N_BLOCKS * QK_K);
            for (int blk = 0; blk < N_BLOCKS * QK_K / QK; blk++) {
                const float *v = x + blk * QK;
                float lo = v[0], hi = v[0], amax = 0;
                for (int j = 0; j < QK; j++) lo = fminf(lo, v[j]), hi = fmaxf(hi, v[j]), amax = fmaxf(amax, fabsf(v[j]));
                for (int j = 0; j < QK; j++) {
                    int i = blk * QK + j;
                    const int h = cases[c].half, L = cases[c].levels;
                    /* the fp16 scale's (and offset's) rounding: relative 2^-11, or half of 2^-24 when subnormal */
                    float tol = h   ? (h == 127 ? amax / 254 : amax / h) + amax * 0x1p-11f + h * 0x1p-24f
                                : L ? (hi - lo) / (2.0f * L) + (hi - lo + fabsf(lo)) * 0x1p-11f + (L + 1) * 0x1p-24f
                                    : fabsf(x[i]) * 0x1p-8f;
                    if (!(fabsf(y[i] - x[i]) <= tol))
                        fail_msg("%s data %d element %d: %g came back as %g (bound %g)",
                                 ggml_type_name(cases[c].type), kind, i, x[i], y[i], tol);
                }
            }
            if (kind == 5)
                for (int i = 0; i < N_BLOCKS * QK_K; i++) assert_true(x[i] != 0 || y[i] == 0);
        }
    }
}

/* Q6_K: per 16 elements a symmetric step amax/31 rounded up to a multiple of
 * d (at most A/(31*127) for the block's largest amax A):
 * |err| <= amax/62 + A/7800. */
static void test_q6_K_roundtrip(void **state) {
    (void)state;
    static float x[N_BLOCKS * QK_K], y[N_BLOCKS * QK_K];
    static block_q6_K q[N_BLOCKS];
    for (int kind = 0; kind < 6; kind++) {
        make_data(kind, x);
        quantize_row(GGML_Q6_K, x, q, N_BLOCKS * QK_K);
        dequantize_row(GGML_Q6_K, q, y, N_BLOCKS * QK_K);
        for (int blk = 0; blk < N_BLOCKS; blk++) {
            float amax[16] = {0}, A = 0;
            for (int e = 0; e < QK_K; e++) amax[e / 16] = fmaxf(amax[e / 16], fabsf(x[blk * QK_K + e]));
            for (int g = 0; g < 16; g++) A = fmaxf(A, amax[g]);
            for (int e = 0; e < QK_K; e++) {
                int i = blk * QK_K + e;
                float tol = amax[e / 16] / 62 + A / 7800 + 1e-6f * A;
                if (!(fabsf(y[i] - x[i]) <= tol))
                    fail_msg("q6_k data %d element %d: %g came back as %g (bound %g)", kind, i, x[i], y[i], tol);
            }
        }
        if (kind == 5)
            for (int i = 0; i < N_BLOCKS * QK_K; i++) assert_true(x[i] != 0 || y[i] == 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_layouts),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_32_blocks_known_values),
        cmocka_unit_test(test_q4_K_known_values),
        cmocka_unit_test(test_q5_K_known_values),
        cmocka_unit_test(test_q6_K_known_values),
        cmocka_unit_test(test_q4_K_roundtrip),
        cmocka_unit_test(test_q5_K_roundtrip),
        cmocka_unit_test(test_32_blocks_and_bf16_roundtrip),
        cmocka_unit_test(test_q6_K_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
