/* quant.c — fp16 and the ggml Q8_0 / Q4_0 / Q4_K / Q6_K block formats, plain C. */
#include "quant.h"
#include "gguf.h"

#include <math.h>
#include <string.h>

_Static_assert(sizeof(block_q8_0) == 34, "q8_0 block must match ggml");
_Static_assert(sizeof(block_q4_0) == 18, "q4_0 block must match ggml");
_Static_assert(sizeof(block_q4_K) == 144, "q4_K block must match ggml");
_Static_assert(sizeof(block_q6_K) == 210, "q6_K block must match ggml");

float lvk_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) { man <<= 1; exp--; }
            bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t lvk_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t man = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = sign | ((uint32_t)exp << 10) | (man >> 13), rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* may carry into the exponent: correct */
    return (uint16_t)h;
}

/* The smallest fp16 not below x >= 0: a super-block scale rounded up, so
 * that sub-block scales of up to 63 (127) times it reach every element. */
static uint16_t f16_not_below(float x) {
    uint16_t h = lvk_f32_to_f16(x);
    return lvk_f16_to_f32(h) < x ? (uint16_t)(h + 1) : h;
}

int lvk_type_supported(uint32_t t) {
    return t == GGML_F32 || t == GGML_F16 || t == GGML_Q8_0 || t == GGML_Q4_0 || t == GGML_Q4_K ||
           t == GGML_Q6_K;
}

void lvk_q4_K_scale_min(const block_q4_K *b, int j, uint8_t *sc, uint8_t *m) {
    const uint8_t *s = b->scales;
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 15) | (s[j - 4] >> 6) << 4);
        *m = (uint8_t)((s[j + 4] >> 4) | (s[j] >> 6) << 4);
    }
}

/* 6-bit value of element e (0..255) of a Q6_K block, 0..63 (the weight is q - 32). */
static int q6_K_quant(const block_q6_K *b, int e) {
    int half = e / 128, l = e % 32, quarter = e % 128 / 32;
    uint8_t lo = b->ql[half * 64 + (quarter & 1) * 32 + l];
    int low = quarter < 2 ? lo & 15 : lo >> 4;
    return low | ((b->qh[half * 32 + l] >> (2 * quarter)) & 3) << 4;
}

void lvk_dequantize_row(uint32_t type, const void *src, float *dst, uint64_t n) {
    switch (type) {
    case GGML_F32: memcpy(dst, src, n * 4); break;
    case GGML_F16: {
        const uint16_t *h = src;
        for (uint64_t i = 0; i < n; i++) dst[i] = lvk_f16_to_f32(h[i]);
        break;
    }
    case GGML_Q8_0: {
        const block_q8_0 *b = src;
        for (uint64_t i = 0; i < n / QK; i++) {
            float d = lvk_f16_to_f32(b[i].d);
            for (int j = 0; j < QK; j++) dst[i * QK + j] = b[i].qs[j] * d;
        }
        break;
    }
    case GGML_Q4_0: {
        const block_q4_0 *b = src;
        for (uint64_t i = 0; i < n / QK; i++) {
            float d = lvk_f16_to_f32(b[i].d);
            for (int j = 0; j < QK / 2; j++) {
                dst[i * QK + j] = ((b[i].qs[j] & 0xf) - 8) * d;
                dst[i * QK + j + QK / 2] = ((b[i].qs[j] >> 4) - 8) * d;
            }
        }
        break;
    }
    case GGML_Q4_K: {
        const block_q4_K *b = src;
        for (uint64_t i = 0; i < n / QK_K; i++) {
            float d = lvk_f16_to_f32(b[i].d), dmin = lvk_f16_to_f32(b[i].dmin);
            for (int j = 0; j < 8; j++) { /* sub-block j: the low (j even) or high nibbles of 32 bytes */
                uint8_t sc, m;
                lvk_q4_K_scale_min(&b[i], j, &sc, &m);
                float dj = d * sc, mj = dmin * m;
                const uint8_t *q = b[i].qs + j / 2 * 32;
                for (int l = 0; l < 32; l++)
                    dst[i * QK_K + j * 32 + l] = dj * (j % 2 ? q[l] >> 4 : q[l] & 15) - mj;
            }
        }
        break;
    }
    case GGML_Q6_K: {
        const block_q6_K *b = src;
        for (uint64_t i = 0; i < n / QK_K; i++) {
            float d = lvk_f16_to_f32(b[i].d);
            for (int e = 0; e < QK_K; e++) dst[i * QK_K + e] = d * b[i].scales[e / 16] * (q6_K_quant(&b[i], e) - 32);
        }
        break;
    }
    }
}

/* One Q4_K block: per sub-block, the minimum (clamped to <= 0: the offset
 * dmin * m is subtracted) and the range give the 6-bit min m and scale sc,
 * each rounded up so that the range is covered; then round to nearest. */
static void quantize_q4_K(const float *x, block_q4_K *b) {
    float lo[8], hi[8], need[8], max_min = 0, max_need = 0;
    uint8_t sc[8], m[8], q[QK_K];
    for (int j = 0; j < 8; j++) {
        lo[j] = 0;
        hi[j] = x[j * 32];
        for (int l = 0; l < 32; l++) {
            lo[j] = fminf(lo[j], x[j * 32 + l]);
            hi[j] = fmaxf(hi[j], x[j * 32 + l]);
        }
        max_min = fmaxf(max_min, -lo[j]);
    }
    b->dmin = f16_not_below(max_min / 63);
    float dmin = lvk_f16_to_f32(b->dmin);
    for (int j = 0; j < 8; j++) {
        float mj = dmin > 0 ? ceilf(-lo[j] / dmin) : 0;
        m[j] = (uint8_t)fminf(mj, 63);
        need[j] = (hi[j] + dmin * m[j]) / 15; /* the step that reaches hi from -dmin * m */
        max_need = fmaxf(max_need, need[j]);
    }
    b->d = f16_not_below(max_need / 63);
    float d = lvk_f16_to_f32(b->d);
    for (int j = 0; j < 8; j++) {
        sc[j] = (uint8_t)fminf(d > 0 ? ceilf(need[j] / d) : 0, 63);
        float step = d * sc[j], id = step > 0 ? 1.0f / step : 0, off = dmin * m[j];
        for (int l = 0; l < 32; l++) {
            float v = roundf((x[j * 32 + l] + off) * id);
            q[j * 32 + l] = (uint8_t)fminf(fmaxf(v, 0), 15);
        }
    }
    for (int j = 0; j < 4; j++) { /* the packing lvk_q4_K_scale_min reads */
        b->scales[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        b->scales[j + 4] = (uint8_t)(m[j] | (m[j + 4] >> 4) << 6);
        b->scales[j + 8] = (uint8_t)((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
    }
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) b->qs[c * 32 + l] = (uint8_t)(q[c * 64 + l] | q[c * 64 + 32 + l] << 4);
}

/* One Q6_K block: per 16 elements a symmetric scale amax / 31, as an int8
 * multiple (rounded up) of the block's d; then round to nearest. */
static void quantize_q6_K(const float *x, block_q6_K *b) {
    float s[16], max_s = 0;
    for (int g = 0; g < 16; g++) {
        float amax = 0;
        for (int l = 0; l < 16; l++) amax = fmaxf(amax, fabsf(x[g * 16 + l]));
        s[g] = amax / 31;
        max_s = fmaxf(max_s, s[g]);
    }
    b->d = f16_not_below(max_s / 127);
    float d = lvk_f16_to_f32(b->d);
    memset(b->ql, 0, sizeof b->ql);
    memset(b->qh, 0, sizeof b->qh);
    for (int g = 0; g < 16; g++) {
        b->scales[g] = (int8_t)fminf(d > 0 ? ceilf(s[g] / d) : 0, 127);
        float step = d * b->scales[g], id = step > 0 ? 1.0f / step : 0;
        for (int l = 0; l < 16; l++) {
            int e = g * 16 + l, half = e / 128, k = e % 32, quarter = e % 128 / 32;
            int q = (int)fminf(fmaxf(roundf(x[e] * id), -32), 31) + 32; /* the layout q6_K_quant reads */
            b->ql[half * 64 + (quarter & 1) * 32 + k] |= (uint8_t)((q & 15) << (quarter < 2 ? 0 : 4));
            b->qh[half * 32 + k] |= (uint8_t)((q >> 4) << (2 * quarter));
        }
    }
}

void lvk_quantize_row(uint32_t type, const float *src, void *dst, uint64_t n) {
    switch (type) {
    case GGML_F32: memcpy(dst, src, n * 4); break;
    case GGML_F16: {
        uint16_t *h = dst;
        for (uint64_t i = 0; i < n; i++) h[i] = lvk_f32_to_f16(src[i]);
        break;
    }
    case GGML_Q8_0: {
        block_q8_0 *b = dst;
        for (uint64_t i = 0; i < n / QK; i++) {
            const float *x = src + i * QK;
            float amax = 0;
            for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
            float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
            b[i].d = lvk_f32_to_f16(d);
            for (int j = 0; j < QK; j++) b[i].qs[j] = (int8_t)roundf(x[j] * id);
        }
        break;
    }
    case GGML_Q4_0: { /* ggml's rule: the signed value of largest magnitude maps to -8 */
        block_q4_0 *b = dst;
        for (uint64_t i = 0; i < n / QK; i++) {
            const float *x = src + i * QK;
            float amax = 0, max = 0;
            for (int j = 0; j < QK; j++)
                if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
            float d = max / -8.0f, id = d ? 1.0f / d : 0.0f;
            b[i].d = lvk_f32_to_f16(d);
            for (int j = 0; j < QK / 2; j++) {
                int q0 = (int)(x[j] * id + 8.5f), q1 = (int)(x[j + QK / 2] * id + 8.5f);
                q0 = q0 > 15 ? 15 : q0 < 0 ? 0 : q0;
                q1 = q1 > 15 ? 15 : q1 < 0 ? 0 : q1;
                b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
            }
        }
        break;
    }
    case GGML_Q4_K:
        for (uint64_t i = 0; i < n / QK_K; i++) quantize_q4_K(src + i * QK_K, (block_q4_K *)dst + i);
        break;
    case GGML_Q6_K:
        for (uint64_t i = 0; i < n / QK_K; i++) quantize_q6_K(src + i * QK_K, (block_q6_K *)dst + i);
        break;
    }
}
