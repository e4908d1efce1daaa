/* convert.h — llama2.c checkpoints to GGUF. */
#ifndef LVK_CONVERT_H
#define LVK_CONVERT_H

#include "litevk.h"

#include <stdint.h>

/* Converts a llama2.c "version 0" checkpoint (karpathy/llama2.c run.c's
 * format) and its tokenizer .bin into a LLaMA GGUF laid out as llama.cpp's
 * convert-llama2c-to-ggml does: same tensor names, shapes, metadata and
 * vocabulary. The embedding doubles as the classifier unless the checkpoint
 * has its own (negative vocab_size), in which case "output.weight" is written.
 * Norm weights stay F32; matrices become out_type (one of weight_types),
 * or F16 where a row is not a whole number of the type's blocks. progress
 * (NULL: none) is called as each tensor starts being written. */
lvk_status convert_llama2c(const char *checkpoint_path, const char *tokenizer_path, const char *out_path,
                           uint32_t out_type, lvk_convert_progress_fn progress, void *progress_user);

#endif
