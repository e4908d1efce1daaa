/* gguf.h — reading GGUF v2/v3 files (ggml's docs/gguf.md), memory-mapped.
 *
 * Every count, length and offset is checked against the file size before
 * use; a malformed file gives LVK_ERR_FORMAT with a message naming the field.
 */
#ifndef LVK_GGUF_H
#define LVK_GGUF_H

#include "litevk.h"

#include <stddef.h>
#include <stdint.h>

enum gguf_value_type {
    GGUF_UINT8 = 0, GGUF_INT8 = 1, GGUF_UINT16 = 2, GGUF_INT16 = 3,
    GGUF_UINT32 = 4, GGUF_INT32 = 5, GGUF_FLOAT32 = 6, GGUF_BOOL = 7,
    GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_UINT64 = 10, GGUF_INT64 = 11,
    GGUF_FLOAT64 = 12,
    GGUF_N_VALUE_TYPES
};

/* ggml tensor types LiteVK knows by name (only some are supported). */
enum ggml_type {
    GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q4_1 = 3, GGML_Q5_0 = 6,
    GGML_Q5_1 = 7, GGML_Q8_0 = 8, GGML_Q8_1 = 9, GGML_Q2_K = 10, GGML_Q3_K = 11,
    GGML_Q4_K = 12, GGML_Q5_K = 13, GGML_Q6_K = 14, GGML_Q8_K = 15, GGML_BF16 = 30,
};

typedef struct gguf_str {
    const char *ptr; /* points into the mapping; not NUL-terminated */
    uint64_t len;
} gguf_str;

typedef struct gguf_value {
    uint32_t type;
    union {
        uint64_t u64;
        int64_t i64;
        double f64;
        gguf_str str;
    } v;                    /* scalar values (integers widened, floats to double) */
    /* arrays */
    uint32_t arr_type;
    uint64_t arr_count;
    const uint8_t *arr_data; /* first element in the mapping (scalar arrays) */
    gguf_str *arr_strs;      /* for string arrays: every element */
} gguf_value;

typedef struct gguf_kv {
    gguf_str key;
    gguf_value value;
} gguf_kv;

#define GGUF_MAX_DIMS 4

typedef struct gguf_tensor {
    gguf_str name;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the innermost (row length) */
    uint32_t type;
    uint64_t offset;  /* relative to the data section */
    uint64_t n_elements;
    uint64_t n_bytes;
    const void *data; /* into the mapping */
} gguf_tensor;

typedef struct gguf_file {
    uint32_t version;
    uint64_t n_kv, n_tensors;
    gguf_kv *kv;
    gguf_tensor *tensors;
    uint64_t alignment;
    uint64_t data_offset;
    const uint8_t *map;
    uint64_t size;
    int mapped; /* map came from mmap (else it is a caller-owned buffer) */
} gguf_file;

/* Open and validate a file. On failure *out is untouched. */
lvk_status gguf_open(const char *path, gguf_file **out);
/* Parse a GGUF image held in memory (not copied; must outlive the result). */
lvk_status gguf_parse(const void *data, uint64_t size, gguf_file **out);
void gguf_close(gguf_file *f);

/* Bytes of one value of a scalar type; 0 for strings, arrays and unknown types. */
uint32_t gguf_scalar_size(uint32_t type);
/* Whether a scalar type is an integer (uint8..int64, bool excluded). */
int gguf_is_integer_type(uint32_t type);
/* Name of a value type / ggml type ("f32", "q8_0", ... or "type 99"). */
const char *gguf_value_type_name(uint32_t type);
const char *ggml_type_name(uint32_t type);
/* Block size in elements and bytes of a ggml type; 0 if unknown. */
uint32_t ggml_block_elems(uint32_t type);
uint32_t ggml_block_bytes(uint32_t type);

const gguf_kv *gguf_find(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);
int gguf_str_eq(gguf_str s, const char *c);

/* Typed getters. They fail with LVK_ERR_FORMAT naming the key when the key is
 * present with an unsuitable type; when absent they return `absent` status
 * (pass LVK_OK to keep *out as a default). */
lvk_status gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out, lvk_status absent);
lvk_status gguf_get_f32(const gguf_file *f, const char *key, float *out, lvk_status absent);
lvk_status gguf_get_str(const gguf_file *f, const char *key, char *out, size_t size,
                        lvk_status absent);
/* Numeric array element as double (any numeric element type). */
double gguf_arr_num(const gguf_value *v, uint64_t i);
/* Element i of an array of scalars or strings, as a value of its own; -1
 * when v is no such array (nested arrays are checked, not kept) or i is
 * outside it. */
int gguf_arr_get(const gguf_value *v, uint64_t i, gguf_value *out);

#endif
