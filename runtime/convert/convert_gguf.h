/* convert_gguf.h — a GGUF that LiteVK loads, re-typed. */
#ifndef LVK_CONVERT_GGUF_H
#define LVK_CONVERT_GGUF_H

#include "litevk.h"

#include <stdint.h>

/* Writes the model in `in_path` (any GGUF LiteVK loads) to `out_path` with
 * its matrices in out_type (one of weight_types), or F16 where a row is
 * not a whole number of the type's blocks; vectors (norms, biases,
 * rope_freqs) are F32. Each matrix is dequantised and quantised again, but
 * for one already in the row's type, whose bytes are copied (quantising
 * again could only lose precision). Every metadata key is copied in order,
 * litevk.* included, but general.file_type, which says out_type; tensors keep
 * their order, names and shapes. Memory use is one row. progress (NULL:
 * none) is called as each tensor starts being written. */
lvk_status convert_gguf(const char *in_path, const char *out_path, uint32_t out_type, lvk_convert_progress_fn progress,
                        void *progress_user);

#endif
