/* safetensors.h — reading Hugging Face checkpoints stored as safetensors:
 * a file is an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the tensors' bytes. A
 * checkpoint is one model.safetensors, or shards listed by
 * model.safetensors.index.json.
 *
 * Files are memory-mapped and every range is checked against the file before
 * use; a malformed file gives LVK_ERR_FORMAT with a one-line message naming
 * the file and what is wrong with it.
 */
#ifndef LVK_SAFETENSORS_H
#define LVK_SAFETENSORS_H

#include "litevk.h"
#include "formats/mapped_file.h"

#include <stdint.h>

#define ST_MAX_DIMS 8

typedef struct st_tensor {
    char *name;
    const char *dtype;  /* safetensors' name: "F32", "BF16", "I64", ... */
    uint32_t elem_size; /* bytes per element */
    uint32_t n_dims;    /* 0 for a scalar */
    uint64_t shape[ST_MAX_DIMS]; /* outermost first, as PyTorch: a matrix is [rows, cols] */
    uint64_t n_elements;
    uint64_t begin, end; /* its bytes in the data section (the header's data_offsets) */
    const uint8_t *data; /* into the mapping; not aligned */
} st_tensor;

typedef struct st_file {
    st_tensor *tensors;
    uint64_t n_tensors;
    mapped_file map; /* when opened from a path */
} st_file;

/* Parses a file held in memory (not copied: it must outlive the result). */
lvk_status st_parse(const uint8_t *data, uint64_t size, st_file **out);
/* Maps and parses a file; messages start with its path. */
lvk_status st_open(const char *path, st_file **out);
void st_close(st_file *f);
const st_tensor *st_find(const st_file *f, const char *name);

/* Whether a tensor is F32, F16 or BF16, the dtypes st_read_f32 converts. */
int st_is_float(const st_tensor *t);
/* Elements [first, first + n) of a float tensor, as F32. */
void st_read_f32(const st_tensor *t, uint64_t first, uint64_t n, float *out);

/* A checkpoint directory's safetensors: model.safetensors.index.json's
 * shards when the index is there, else model.safetensors. */
typedef struct st_checkpoint {
    st_file **shards;
    char **shard_paths;
    int n_shards;
} st_checkpoint;

lvk_status st_checkpoint_open(const char *dir, st_checkpoint **out);
void st_checkpoint_close(st_checkpoint *c);
/* The tensor called `name` in any shard, or NULL. */
const st_tensor *st_checkpoint_find(const st_checkpoint *c, const char *name);
/* Whether `path` is one of the checkpoint's files (writing over it would
 * truncate it under its mapping). */
int st_checkpoint_holds(const st_checkpoint *c, const char *path);

#endif
