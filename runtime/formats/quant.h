/* quant.h — fp16/bf16 conversion and the ggml block formats the runtime computes with, on the host. */
#ifndef LVK_QUANT_H
#define LVK_QUANT_H

#include <stdint.h>

#define QK 32 /* elements per Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 block */

/* ggml block layouts, byte for byte. In the 4- and 5-bit ones byte j of qs
 * holds element j in its low nibble and element j + 16 in its high nibble;
 * the 5-bit ones keep the fifth bits in qh, element e at bit e. */
typedef struct { uint16_t d; int8_t qs[QK]; } block_q8_0;                         /* 34 bytes: d * q */
typedef struct { uint16_t d; uint8_t qs[QK / 2]; } block_q4_0;                    /* 18 bytes: d * (q - 8) */
typedef struct { uint16_t d, m; uint8_t qs[QK / 2]; } block_q4_1;                 /* 20 bytes: d * q + m */
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[QK / 2]; } block_q5_0;     /* 22 bytes: d * (q - 16) */
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[QK / 2]; } block_q5_1;  /* 24 bytes: d * q + m */

#define QK_K 256 /* elements per K-quant super-block */

/* Q4_K: 8 sub-blocks of 32, element = d * sc[j] * q - dmin * m[j], q 4 bits.
 * scales[12] packs the 6-bit sc[j] and m[j]: j < 4: sc = scales[j] & 63,
 * m = scales[j + 4] & 63; j >= 4: the low 4 bits in scales[j + 4] (sc low
 * nibble, m high nibble), the top 2 bits in bits 6-7 of scales[j - 4] (sc)
 * and scales[j] (m). qs: per 64 elements 32 bytes, low nibbles the first 32. */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[QK_K / 2]; } block_q4_K; /* 144 bytes */
/* Q5_K: Q4_K with a fifth bit: qh byte l holds it for elements 64c + l (bit
 * 2c) and 64c + 32 + l (bit 2c + 1), c = 0..3. */
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } block_q5_K; /* 176 bytes */
/* Q6_K: 16 sub-blocks of 16, element = d * scales[e / 16] * (q - 32), q 6 bits.
 * Per 128 elements: ql 64 bytes (byte l < 32: elements l and l + 64 in its low
 * and high nibble; byte 32 + l: elements 32 + l and 96 + l), qh 32 bytes (byte
 * l: the top 2 bits of elements l, 32 + l, 64 + l, 96 + l, from bit 0 up). */
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; } block_q6_K; /* 210 bytes */

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f); /* round to nearest even */
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f); /* round to nearest even; NaN stays NaN */

/* Sub-block j's (0..7) 6-bit scale and min from the packed scales of a Q4_K or Q5_K block. */
void k_scale_min(const uint8_t scales[12], int j, uint8_t *sc, uint8_t *m);

/* The matrix types the runtime computes with, in the order they are listed to users. */
#define LVK_N_WEIGHT_TYPES 11
extern const uint32_t weight_types[LVK_N_WEIGHT_TYPES];
int weight_type_supported(uint32_t ggml_type);
/* The type a matrix row of n elements is stored in when `type` (one of
 * weight_types) is asked for: `type`, or F16 where n is not a whole
 * number of its blocks (32 elements, 256 for the K-quants), as llama.cpp's
 * converters fall back. */
uint32_t quant_row_type(uint32_t type, uint64_t n);
/* Their names joined by `sep`, with `last_sep` before the last ("f32, f16 … or q6_k"). */
const char *weight_type_names(const char *sep, const char *last_sep);
/* general.file_type: llama.cpp's number for a file whose matrices are mostly `type`. */
uint32_t quant_file_type(uint32_t type);
/* Rows of n elements (a multiple of the type's block) between f32 and `type`.
 * Dequantisation is ggml's, value for value; quantisation is a plain
 * round-to-nearest (K-quants: scales from each sub-block's range, rounded
 * up so no element clips), not ggml's iterative search. */
void dequantize_row(uint32_t type, const void *src, float *dst, uint64_t n);
void quantize_row(uint32_t type, const float *src, void *dst, uint64_t n);

#endif
