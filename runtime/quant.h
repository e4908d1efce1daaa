/* quant.h — fp16 conversion and ggml block formats (Q8_0, Q4_0, Q4_K, Q6_K) on the host. */
#ifndef LVK_QUANT_H
#define LVK_QUANT_H

#include <stdint.h>

#define QK 32 /* elements per Q8_0 / Q4_0 block */

/* ggml block layouts, byte for byte */
typedef struct { uint16_t d; int8_t qs[QK]; } block_q8_0;      /* 34 bytes */
typedef struct { uint16_t d; uint8_t qs[QK / 2]; } block_q4_0; /* 18 bytes: low nibbles = elements 0..15 */

#define QK_K 256 /* elements per K-quant super-block */

/* Q4_K: 8 sub-blocks of 32, element = d * sc[j] * q - dmin * m[j], q 4 bits.
 * scales[12] packs the 6-bit sc[j] and m[j]: j < 4: sc = scales[j] & 63,
 * m = scales[j + 4] & 63; j >= 4: the low 4 bits in scales[j + 4] (sc low
 * nibble, m high nibble), the top 2 bits in bits 6-7 of scales[j - 4] (sc)
 * and scales[j] (m). qs: per 64 elements 32 bytes, low nibbles the first 32. */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[QK_K / 2]; } block_q4_K; /* 144 bytes */
/* Q6_K: 16 sub-blocks of 16, element = d * scales[e / 16] * (q - 32), q 6 bits.
 * Per 128 elements: ql 64 bytes (byte l < 32: elements l and l + 64 in its low
 * and high nibble; byte 32 + l: elements 32 + l and 96 + l), qh 32 bytes (byte
 * l: the top 2 bits of elements l, 32 + l, 64 + l, 96 + l, from bit 0 up). */
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; } block_q6_K; /* 210 bytes */

float lvk_f16_to_f32(uint16_t h);
uint16_t lvk_f32_to_f16(float f); /* round to nearest even */

/* Sub-block j's (0..7) 6-bit scale and min from a Q4_K block's packed scales. */
void lvk_q4_K_scale_min(const block_q4_K *b, int j, uint8_t *sc, uint8_t *m);

/* Types the runtime computes with. */
int lvk_type_supported(uint32_t ggml_type);
/* Rows of n elements (a multiple of the type's block) between f32 and `type`.
 * Dequantisation is ggml's, value for value; quantisation is a plain
 * round-to-nearest (K-quants: scales from each sub-block's range, rounded
 * up so no element clips), not ggml's iterative search. */
void lvk_dequantize_row(uint32_t type, const void *src, float *dst, uint64_t n);
void lvk_quantize_row(uint32_t type, const float *src, void *dst, uint64_t n);

#endif
