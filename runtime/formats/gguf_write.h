/* gguf_write.h — writing GGUF v3 files (ggml's docs/gguf.md).
 *
 * Metadata is copied when added. Tensor data is either referenced (it must
 * stay alive until gguf_writer_write) or produced on demand by a fill
 * callback, a few megabytes of rows at a time, so a model of any size is
 * written in a bounded amount of memory. Tensor data is aligned to 32 bytes
 * unless a "general.alignment" u32 is added.
 */
#ifndef LVK_GGUF_WRITE_H
#define LVK_GGUF_WRITE_H

#include "formats/gguf.h"

#include <stdint.h>

typedef struct gguf_writer gguf_writer;

lvk_status gguf_writer_create(gguf_writer **out);
void gguf_writer_free(gguf_writer *w);

/* Metadata, written in the order added. A key may be added only once. */
lvk_status gguf_writer_add_u32(gguf_writer *w, const char *key, uint32_t v);
lvk_status gguf_writer_add_i32(gguf_writer *w, const char *key, int32_t v);
lvk_status gguf_writer_add_f32(gguf_writer *w, const char *key, float v);
lvk_status gguf_writer_add_bool(gguf_writer *w, const char *key, int v);
lvk_status gguf_writer_add_str(gguf_writer *w, const char *key, const char *v);
lvk_status gguf_writer_add_str_arr(gguf_writer *w, const char *key, const char *const *v,
                                   uint64_t n);
lvk_status gguf_writer_add_f32_arr(gguf_writer *w, const char *key, const float *v, uint64_t n);
lvk_status gguf_writer_add_i32_arr(gguf_writer *w, const char *key, const int32_t *v, uint64_t n);
/* Copies a value as gguf.h read it: any scalar, string, or array of scalars
 * or strings (arrays of arrays are refused). A uint32 "general.alignment"
 * moves the tensor data as with gguf_writer_add_u32. */
lvk_status gguf_writer_add_value(gguf_writer *w, const char *key, const gguf_value *v);

/* A tensor of ggml type `ggml_type` with n_dims (1..4) dimensions; ne[0] is
 * the row length and must be a multiple of the type's block. `data` holds
 * the tensor's bytes in ggml layout and is read only by gguf_writer_write. */
lvk_status gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t ggml_type,
                                  uint32_t n_dims, const uint64_t *ne, const void *data);

/* Produces rows first_row .. first_row + n_rows - 1 of a tensor into dst
 * when the file is written; a row is ne[0] elements in the tensor's type.
 * The writer asks for consecutive ranges that cover the tensor, each at most
 * GGUF_FILL_BYTES long or one row where a row is longer. */
#define GGUF_FILL_BYTES (16u << 20)
typedef lvk_status (*gguf_fill_fn)(void *user, void *dst, uint64_t first_row, uint64_t n_rows);
lvk_status gguf_writer_add_tensor_fill(gguf_writer *w, const char *name, uint32_t ggml_type,
                                       uint32_t n_dims, const uint64_t *ne, gguf_fill_fn fill,
                                       void *user);

/* Calls fn(i, n_tensors, name, user) as tensor i starts being written, for a
 * converter's progress (litevk.h's lvk_convert_progress_fn); NULL: none. */
void gguf_writer_set_progress(gguf_writer *w, lvk_convert_progress_fn fn, void *user);

/* Writes the file. On failure the partial file is removed. */
lvk_status gguf_writer_write(gguf_writer *w, const char *path);

#endif
