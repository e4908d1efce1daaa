/* quant.h — fp16 conversion and ggml block formats (Q8_0, Q4_0) on the host. */
#ifndef LVK_QUANT_H
#define LVK_QUANT_H

#include <stdint.h>

#define QK 32 /* elements per Q8_0 / Q4_0 block */

/* ggml block layouts, byte for byte */
typedef struct { uint16_t d; int8_t qs[QK]; } block_q8_0;      /* 34 bytes */
typedef struct { uint16_t d; uint8_t qs[QK / 2]; } block_q4_0; /* 18 bytes: low nibbles = elements 0..15 */

float lvk_f16_to_f32(uint16_t h);
uint16_t lvk_f32_to_f16(float f); /* round to nearest even */

/* Types the runtime computes with. */
int lvk_type_supported(uint32_t ggml_type);
/* Rows of n elements (a multiple of the type's block) between f32 and `type`. */
void lvk_dequantize_row(uint32_t type, const void *src, float *dst, uint64_t n);
void lvk_quantize_row(uint32_t type, const float *src, void *dst, uint64_t n);

#endif
