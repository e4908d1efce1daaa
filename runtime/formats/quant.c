/* quant.c — fp16, bf16 and the ggml block formats, plain C. */
#include "formats/quant.h"
#include "formats/gguf.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

_Static_assert(sizeof(block_q8_0) == 34, "q8_0 block must match ggml");
_Static_assert(sizeof(block_q4_0) == 18, "q4_0 block must match ggml");
_Static_assert(sizeof(block_q4_1) == 20, "q4_1 block must match ggml");
_Static_assert(sizeof(block_q5_0) == 22, "q5_0 block must match ggml");
_Static_assert(sizeof(block_q5_1) == 24, "q5_1 block must match ggml");
_Static_assert(sizeof(block_q4_K) == 144, "q4_K block must match ggml");
_Static_assert(sizeof(block_q5_K) == 176, "q5_K block must match ggml");
_Static_assert(sizeof(block_q6_K) == 210, "q6_K block must match ggml");

const uint32_t weight_types[] = {GGML_F32,  GGML_F16,  GGML_BF16, GGML_Q8_0, GGML_Q4_0, GGML_Q4_1,
                                     GGML_Q5_0, GGML_Q5_1, GGML_Q4_K, GGML_Q5_K, GGML_Q6_K};
_Static_assert(sizeof weight_types / sizeof weight_types[0] == LVK_N_WEIGHT_TYPES, "one entry per type");

int weight_type_supported(uint32_t t) {
    for (int i = 0; i < LVK_N_WEIGHT_TYPES; i++)
        if (weight_types[i] == t) return 1;
    return 0;
}

uint32_t quant_row_type(uint32_t type, uint64_t n) {
    return n % ggml_block_elems(type) ? GGML_F16 : type;
}

uint32_t quant_file_type(uint32_t type) {
    switch (type) {
    case GGML_F32: return 0;
    case GGML_F16: return 1;
    case GGML_Q4_0: return 2;
    case GGML_Q4_1: return 3;
    case GGML_Q8_0: return 7;
    case GGML_Q5_0: return 8;
    case GGML_Q5_1: return 9;
    case GGML_Q4_K: return 14; /* MOSTLY_Q4_K_S: every matrix Q4_K */
    case GGML_Q5_K: return 16; /* MOSTLY_Q5_K_S */
    case GGML_Q6_K: return 18;
    case GGML_BF16: return 32;
    default: return 0;
    }
}

const char *weight_type_names(const char *sep, const char *last_sep) {
    static _Thread_local char buf[256];
    size_t n = 0;
    for (int i = 0; i < LVK_N_WEIGHT_TYPES && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i == 0 ? "" : i == LVK_N_WEIGHT_TYPES - 1 ? last_sep : sep,
                              ggml_type_name(weight_types[i]));
    return buf;
}

float f16_to_f32(uint16_t h) {
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

uint16_t f32_to_f16(float f) {
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

float bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40); /* quiet NaN */
    return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

/* The smallest fp16 not below x >= 0: a super-block scale rounded up, so
 * that sub-block scales of up to 63 (127) times it reach every element. */
static uint16_t f16_not_below(float x) {
    uint16_t h = f32_to_f16(x);
    return f16_to_f32(h) < x ? (uint16_t)(h + 1) : h;
}

void k_scale_min(const uint8_t s[12], int j, uint8_t *sc, uint8_t *m) {
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

/* The 5th bits of a Q5_0 / Q5_1 block: element e at bit e. */
static uint32_t q5_high_bits(const uint8_t qh[4]) {
    return qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

/* Element j (0..31) of a 4- or 5-bit 32-block, without its offset. */
static int low_nibble_quant(const uint8_t qs[QK / 2], int j) { return j < QK / 2 ? qs[j] & 15 : qs[j - QK / 2] >> 4; }

void dequantize_row(uint32_t type, const void *src, float *dst, uint64_t n) {
    switch ((enum ggml_type)type) { /* every enumerator: -Wswitch names a new one */
    case GGML_F32: memcpy(dst, src, n * 4); break;
    case GGML_F16:
    case GGML_BF16: {
        const uint16_t *h = src;
        for (uint64_t i = 0; i < n; i++) dst[i] = type == GGML_F16 ? f16_to_f32(h[i]) : bf16_to_f32(h[i]);
        break;
    }
    case GGML_Q8_0: {
        const block_q8_0 *b = src;
        for (uint64_t i = 0; i < n / QK; i++) {
            float d = f16_to_f32(b[i].d);
            for (int j = 0; j < QK; j++) dst[i * QK + j] = b[i].qs[j] * d;
        }
        break;
    }
    case GGML_Q4_0: {
        const block_q4_0 *b = src;
        for (uint64_t i = 0; i < n / QK; i++) {
            float d = f16_to_f32(b[i].d);
            for (int j = 0; j < QK; j++) dst[i * QK + j] = (low_nibble_quant(b[i].qs, j) - 8) * d;
        }
        break;
    }
    case GGML_Q4_1: {
        const block_q4_1 *b = src;
        for (uint64_t i = 0; i < n / QK; i++) {
            float d = f16_to_f32(b[i].d), m = f16_to_f32(b[i].m);
            for (int j = 0; j < QK; j++) dst[i * QK + j] = low_nibble_quant(b[i].qs, j) * d + m;
        }
        break;
    }
    case GGML_Q5_0: {
        const block_q5_0 *b = src;
        for (uint64_t i = 0; i < n / QK; i++) {
            float d = f16_to_f32(b[i].d);
            uint32_t qh = q5_high_bits(b[i].qh);
            for (int j = 0; j < QK; j++)
                dst[i * QK + j] = ((low_nibble_quant(b[i].qs, j) | (int)(qh >> j & 1) << 4) - 16) * d;
        }
        break;
    }
    case GGML_Q5_1: {
        const block_q5_1 *b = src;
        for (uint64_t i = 0; i < n / QK; i++) {
            float d = f16_to_f32(b[i].d), m = f16_to_f32(b[i].m);
            uint32_t qh = q5_high_bits(b[i].qh);
            for (int j = 0; j < QK; j++)
                dst[i * QK + j] = (low_nibble_quant(b[i].qs, j) | (int)(qh >> j & 1) << 4) * d + m;
        }
        break;
    }
    case GGML_Q4_K:
    case GGML_Q5_K: {
        const int five = type == GGML_Q5_K;
        const size_t block_bytes = five ? sizeof(block_q5_K) : sizeof(block_q4_K);
        for (uint64_t i = 0; i < n / QK_K; i++) {
            const uint8_t *blk = (const uint8_t *)src + i * block_bytes;
            const block_q4_K *b4 = (const block_q4_K *)blk; /* d, dmin and scales lie alike */
            const block_q5_K *b5 = (const block_q5_K *)blk;
            float d = f16_to_f32(b4->d), dmin = f16_to_f32(b4->dmin);
            for (int j = 0; j < 8; j++) { /* sub-block j: the low (j even) or high nibbles of 32 bytes */
                uint8_t sc, m;
                k_scale_min(b4->scales, j, &sc, &m);
                float dj = d * sc, mj = dmin * m;
                const uint8_t *q = (five ? b5->qs : b4->qs) + j / 2 * 32;
                for (int l = 0; l < 32; l++) {
                    int v = j % 2 ? q[l] >> 4 : q[l] & 15;
                    if (five) v |= (b5->qh[l] >> j & 1) << 4;
                    dst[i * QK_K + j * 32 + l] = dj * v - mj;
                }
            }
        }
        break;
    }
    case GGML_Q6_K: {
        const block_q6_K *b = src;
        for (uint64_t i = 0; i < n / QK_K; i++) {
            float d = f16_to_f32(b[i].d);
            for (int e = 0; e < QK_K; e++) dst[i * QK_K + e] = d * b[i].scales[e / 16] * (q6_K_quant(&b[i], e) - 32);
        }
        break;
    }
    case GGML_Q8_1:
    case GGML_Q2_K:
    case GGML_Q3_K:
    case GGML_Q8_K: break; /* not in weight_types: the loader and the converters refuse them first */
    }
}

/* A K-quant block's affine sub-blocks (Q4_K: levels 15, Q5_K: 31): per
 * sub-block the minimum (clamped to <= 0: the offset dmin * m is subtracted)
 * and the range give the 6-bit min m and scale sc, each rounded up so that
 * the range is covered; then round to nearest. Fills d, dmin, the packed
 * scales and one quant per element. */
static void quantize_k_affine(const float *x, int levels, uint16_t *d_out, uint16_t *dmin_out, uint8_t scales[12],
                              uint8_t q[QK_K]) {
    float lo[8], hi[8], need[8], max_min = 0, max_need = 0;
    uint8_t sc[8], m[8];
    for (int j = 0; j < 8; j++) {
        lo[j] = 0;
        hi[j] = x[j * 32];
        for (int l = 0; l < 32; l++) {
            lo[j] = fminf(lo[j], x[j * 32 + l]);
            hi[j] = fmaxf(hi[j], x[j * 32 + l]);
        }
        max_min = fmaxf(max_min, -lo[j]);
    }
    *dmin_out = f16_not_below(max_min / 63);
    float dmin = f16_to_f32(*dmin_out);
    for (int j = 0; j < 8; j++) {
        float mj = dmin > 0 ? ceilf(-lo[j] / dmin) : 0;
        m[j] = (uint8_t)fminf(mj, 63);
        need[j] = (hi[j] + dmin * m[j]) / (float)levels; /* the step that reaches hi from -dmin * m */
        max_need = fmaxf(max_need, need[j]);
    }
    *d_out = f16_not_below(max_need / 63);
    float d = f16_to_f32(*d_out);
    for (int j = 0; j < 8; j++) {
        sc[j] = (uint8_t)fminf(d > 0 ? ceilf(need[j] / d) : 0, 63);
        float step = d * sc[j], id = step > 0 ? 1.0f / step : 0, off = dmin * m[j];
        for (int l = 0; l < 32; l++) {
            float v = roundf((x[j * 32 + l] + off) * id);
            q[j * 32 + l] = (uint8_t)fminf(fmaxf(v, 0), (float)levels);
        }
    }
    for (int j = 0; j < 4; j++) { /* the packing k_scale_min reads */
        scales[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        scales[j + 4] = (uint8_t)(m[j] | (m[j + 4] >> 4) << 6);
        scales[j + 8] = (uint8_t)((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
    }
}

/* Byte 32c + l of a K-quant's qs: elements 64c + l (low nibble) and 64c + 32 + l (high). */
static void pack_k_nibbles(const uint8_t q[QK_K], uint8_t qs[QK_K / 2]) {
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) qs[c * 32 + l] = (uint8_t)((q[c * 64 + l] & 15) | (q[c * 64 + 32 + l] & 15) << 4);
}

static void quantize_q4_K(const float *x, block_q4_K *b) {
    uint8_t q[QK_K];
    quantize_k_affine(x, 15, &b->d, &b->dmin, b->scales, q);
    pack_k_nibbles(q, b->qs);
}

static void quantize_q5_K(const float *x, block_q5_K *b) {
    uint8_t q[QK_K];
    quantize_k_affine(x, 31, &b->d, &b->dmin, b->scales, q);
    pack_k_nibbles(q, b->qs);
    memset(b->qh, 0, sizeof b->qh);
    for (int e = 0; e < QK_K; e++) /* element e = 32j + l: bit j of qh[l] */
        b->qh[e % 32] |= (uint8_t)((q[e] >> 4) << (e / 32));
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
    float d = f16_to_f32(b->d);
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

/* 32 5-bit quants into a Q5_0 / Q5_1 block's nibbles and fifth bits. */
static void pack_5bit(const uint8_t q[QK], uint8_t qs[QK / 2], uint8_t qh[4]) {
    memset(qh, 0, 4);
    for (int j = 0; j < QK / 2; j++) qs[j] = (uint8_t)((q[j] & 15) | (q[j + QK / 2] & 15) << 4);
    for (int j = 0; j < QK; j++) qh[j / 8] |= (uint8_t)((q[j] >> 4) << (j % 8));
}

void quantize_row(uint32_t type, const float *src, void *dst, uint64_t n) {
    switch ((enum ggml_type)type) { /* every enumerator: -Wswitch names a new one */
    case GGML_F32: memcpy(dst, src, n * 4); break;
    case GGML_F16:
    case GGML_BF16: {
        uint16_t *h = dst;
        for (uint64_t i = 0; i < n; i++) h[i] = type == GGML_F16 ? f32_to_f16(src[i]) : f32_to_bf16(src[i]);
        break;
    }
    case GGML_Q8_0: {
        block_q8_0 *b = dst;
        for (uint64_t i = 0; i < n / QK; i++) {
            const float *x = src + i * QK;
            float amax = 0;
            for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
            float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
            b[i].d = f32_to_f16(d);
            for (int j = 0; j < QK; j++) b[i].qs[j] = (int8_t)roundf(x[j] * id);
        }
        break;
    }
    case GGML_Q4_0:
    case GGML_Q5_0: { /* ggml's rule: the signed value of largest magnitude maps to -8 (-16) */
        const int half = type == GGML_Q4_0 ? 8 : 16;
        for (uint64_t i = 0; i < n / QK; i++) {
            const float *x = src + i * QK;
            float amax = 0, max = 0;
            for (int j = 0; j < QK; j++)
                if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
            float d = max / (float)-half, id = d ? 1.0f / d : 0.0f;
            uint8_t q[QK];
            for (int j = 0; j < QK; j++)
                q[j] = (uint8_t)fminf(fmaxf(floorf(x[j] * id + (float)half + 0.5f), 0), (float)(2 * half - 1));
            if (type == GGML_Q4_0) {
                block_q4_0 *b = (block_q4_0 *)dst + i;
                b->d = f32_to_f16(d);
                for (int j = 0; j < QK / 2; j++) b->qs[j] = (uint8_t)(q[j] | q[j + QK / 2] << 4);
            } else {
                block_q5_0 *b = (block_q5_0 *)dst + i;
                b->d = f32_to_f16(d);
                pack_5bit(q, b->qs, b->qh);
            }
        }
        break;
    }
    case GGML_Q4_1:
    case GGML_Q5_1: { /* the block's minimum is the offset, its range spans the levels */
        const int levels = type == GGML_Q4_1 ? 15 : 31;
        for (uint64_t i = 0; i < n / QK; i++) {
            const float *x = src + i * QK;
            float min = x[0], max = x[0];
            for (int j = 1; j < QK; j++) {
                min = fminf(min, x[j]);
                max = fmaxf(max, x[j]);
            }
            float d = (max - min) / (float)levels, id = d ? 1.0f / d : 0.0f;
            uint8_t q[QK];
            for (int j = 0; j < QK; j++) q[j] = (uint8_t)fminf(fmaxf(floorf((x[j] - min) * id + 0.5f), 0), (float)levels);
            if (type == GGML_Q4_1) {
                block_q4_1 *b = (block_q4_1 *)dst + i;
                b->d = f32_to_f16(d);
                b->m = f32_to_f16(min);
                for (int j = 0; j < QK / 2; j++) b->qs[j] = (uint8_t)(q[j] | q[j + QK / 2] << 4);
            } else {
                block_q5_1 *b = (block_q5_1 *)dst + i;
                b->d = f32_to_f16(d);
                b->m = f32_to_f16(min);
                pack_5bit(q, b->qs, b->qh);
            }
        }
        break;
    }
    case GGML_Q4_K:
        for (uint64_t i = 0; i < n / QK_K; i++) quantize_q4_K(src + i * QK_K, (block_q4_K *)dst + i);
        break;
    case GGML_Q5_K:
        for (uint64_t i = 0; i < n / QK_K; i++) quantize_q5_K(src + i * QK_K, (block_q5_K *)dst + i);
        break;
    case GGML_Q6_K:
        for (uint64_t i = 0; i < n / QK_K; i++) quantize_q6_K(src + i * QK_K, (block_q6_K *)dst + i);
        break;
    case GGML_Q8_1:
    case GGML_Q2_K:
    case GGML_Q3_K:
    case GGML_Q8_K: break; /* not in weight_types: the loader and the converters refuse them first */
    }
}
