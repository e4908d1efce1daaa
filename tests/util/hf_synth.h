/* hf_synth.h — Hugging Face checkpoint files for tests: safetensors images
 * and files written from a list of tensors. */
#ifndef LVK_HF_SYNTH_H
#define LVK_HF_SYNTH_H

#include <stddef.h>
#include <stdint.h>

typedef struct hf_tensor {
    const char *name, *dtype; /* dtype: "F32", "F16", "BF16" or any other safetensors name */
    uint32_t n_dims;
    uint64_t shape[4];
    const void *data; /* the elements' bytes, shape's product times the dtype's size */
} hf_tensor;

/* Bytes per element of a safetensors dtype name. */
size_t hf_dtype_size(const char *dtype);
/* A safetensors image: the header names the tensors in order, their data
 * packed one after the other; `metadata` (NULL: none) is the JSON object
 * written as "__metadata__". malloc'd; *size receives its length. */
uint8_t *hf_safetensors_image(const hf_tensor *t, int n, const char *metadata, size_t *size);
/* An image with a hand-written header and data, for malformed files: the
 * header's length, the header, then n_data bytes of data. */
uint8_t *hf_raw_image(const char *header, const void *data, size_t n_data, size_t *size);

/* Writes bytes or a string to a file; 0 on success. */
int hf_write_file(const char *path, const void *data, size_t n);
int hf_write_text(const char *path, const char *text);
/* Writes hf_safetensors_image(t, n, NULL) to dir/name. */
int hf_write_safetensors(const char *dir, const char *name, const hf_tensor *t, int n);

#endif
