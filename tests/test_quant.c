/* test_quant.c — the K-quant block formats on the host: dequantisation of
 * hand-built Q4_K and Q6_K blocks against values worked out by hand from the
 * format (ggml's block layouts), and quantise -> dequantise error bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"
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
    assert_true(lvk_type_supported(GGML_Q4_K) && lvk_type_supported(GGML_Q6_K));
}

/* Two Q4_K blocks. Sub-block scales sc = {1, 2, 3, 63, 17, 33, 48, 5} and mins
 * m = {0, 4, 10, 63, 21, 40, 16, 63}, packed by hand:
 *   bytes 0-3:  sc0..3 | (top 2 bits of sc4..7) << 6 = 1|1<<6, 2|2<<6, 3|3<<6, 63|0
 *   bytes 4-7:  m0..3  | (top 2 bits of m4..7) << 6  = 0|1<<6, 4|2<<6, 10|1<<6, 63|3<<6
 *   bytes 8-11: (sc4..7 & 15) | (m4..7 & 15) << 4   = 1|5<<4, 1|8<<4, 0|0<<4, 5|15<<4
 * Quants all 0 but four bytes; byte 32c + l holds elements 64c + l (low
 * nibble) and 64c + 32 + l (high nibble). */
static void test_q4_K_known_values(void **state) {
    (void)state;
    block_q4_K b[2];
    memset(b, 0, sizeof b);
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

    float want[2 * QK_K];
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

    float got[2 * QK_K];
    lvk_dequantize_row(GGML_Q4_K, b, got, 2 * QK_K);
    for (int e = 0; e < 2 * QK_K; e++)
        if (got[e] != want[e]) fail_msg("q4_k element %d: %g, expected %g", e, got[e], want[e]);
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
    lvk_dequantize_row(GGML_Q6_K, b, got, 2 * QK_K);
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
 * up, so every element is within half a step of a level. Q4_K: a sub-block
 * spans [min(0, lo), hi] in 15 steps, widened by the quantised min (dmin, at
 * most R/63 for the block's largest sub-block range R) and the step's own
 * rounding up (d, at most about R/945): |err| <= (hi - min(0, lo))/30 + R/900. */
static void test_q4_K_roundtrip(void **state) {
    (void)state;
    static float x[N_BLOCKS * QK_K], y[N_BLOCKS * QK_K];
    static block_q4_K q[N_BLOCKS];
    for (int kind = 0; kind < 6; kind++) {
        make_data(kind, x);
        lvk_quantize_row(GGML_Q4_K, x, q, N_BLOCKS * QK_K);
        lvk_dequantize_row(GGML_Q4_K, q, y, N_BLOCKS * QK_K);
        for (int blk = 0; blk < N_BLOCKS; blk++) {
            float lo[8], hi[8], R = 0;
            for (int j = 0; j < 8; j++) {
                const float *v = x + blk * QK_K + j * 32;
                lo[j] = 0;
                hi[j] = v[0];
                for (int l = 0; l < 32; l++) lo[j] = fminf(lo[j], v[l]), hi[j] = fmaxf(hi[j], v[l]);
                R = fmaxf(R, hi[j] - lo[j]);
            }
            for (int e = 0; e < QK_K; e++) {
                int i = blk * QK_K + e, j = e / 32;
                float tol = (hi[j] - lo[j]) / 30 + R / 900 + 1e-6f * R;
                if (!(fabsf(y[i] - x[i]) <= tol))
                    fail_msg("q4_k data %d element %d: %g came back as %g (bound %g)", kind, i, x[i], y[i], tol);
            }
        }
        if (kind == 5)
            for (int i = 0; i < N_BLOCKS * QK_K; i++) assert_true(x[i] != 0 || y[i] == 0); /* zero blocks stay zero */
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
        lvk_quantize_row(GGML_Q6_K, x, q, N_BLOCKS * QK_K);
        lvk_dequantize_row(GGML_Q6_K, q, y, N_BLOCKS * QK_K);
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
        cmocka_unit_test(test_q4_K_known_values),
        cmocka_unit_test(test_q6_K_known_values),
        cmocka_unit_test(test_q4_K_roundtrip),
        cmocka_unit_test(test_q6_K_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
