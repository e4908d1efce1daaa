/* quant.c — fp16 and the ggml Q8_0 / Q4_0 block formats, plain C. */
#include "quant.h"
#include "gguf.h"

#include <math.h>
#include <string.h>

_Static_assert(sizeof(block_q8_0) == 34, "q8_0 block must match ggml");
_Static_assert(sizeof(block_q4_0) == 18, "q4_0 block must match ggml");

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

int lvk_type_supported(uint32_t t) {
    return t == GGML_F32 || t == GGML_F16 || t == GGML_Q8_0 || t == GGML_Q4_0;
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
    }
}
