/* convert_hf.h — Hugging Face checkpoints to GGUF. */
#ifndef LVK_CONVERT_HF_H
#define LVK_CONVERT_HF_H

#include "litevk.h"

#include <stdint.h>

typedef struct convert_hf_params {
    uint32_t out_type;   /* the matrices' type, one of weight_types */
    int vocab_only;      /* the vocabulary and metadata only (llama.cpp's ggml-vocab-*.gguf) */
    lvk_convert_progress_fn progress; /* litevk.h's; NULL: none */
    void *progress_user;
} convert_hf_params;

/* Converts the checkpoint in directory `dir` — config.json, tokenizer.json
 * (+ tokenizer_config.json), model.safetensors or the shards of
 * model.safetensors.index.json — into a GGUF laid out as llama.cpp's
 * convert_hf_to_gguf.py writes it: its tensor names and shapes, its metadata
 * keys, its vocabulary (hf_vocab.h). LlamaForCausalLM becomes "llama", its Q
 * and K rows reordered from Hugging Face's rotate-half RoPE layout to GGUF's
 * interleaved pairs; Qwen2ForCausalLM becomes "qwen2", unreordered (llama.cpp
 * runs it with NEOX RoPE) and with its Q/K/V biases. Norms, biases and
 * rope_freqs are F32; matrices take out_type, or F16 where a row is not a
 * whole number of the type's blocks. A tied embedding writes no
 * output.weight. Tensors are converted a range of rows at a time: memory use
 * does not grow with the model. With vocab_only, config.json may be absent:
 * the file then holds general.name and the vocabulary only. */
lvk_status convert_hf(const char *dir, const char *out_path, const convert_hf_params *params);

#endif
