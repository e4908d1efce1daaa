/* hf_config.h — a Hugging Face checkpoint's config.json: the architecture
 * and the hyper-parameters the GGUF conversion needs, checked against each
 * other. */
#ifndef LVK_HF_CONFIG_H
#define LVK_HF_CONFIG_H

#include "litevk.h"

#include <stddef.h>
#include <stdint.h>

typedef enum hf_arch { HF_LLAMA, HF_QWEN2 } hf_arch;
typedef enum hf_rope_scaling { HF_ROPE_NONE, HF_ROPE_LINEAR, HF_ROPE_LLAMA3 } hf_rope_scaling;

typedef struct hf_config {
    hf_arch arch;
    const char *architecture; /* Hugging Face's name, "LlamaForCausalLM" */
    const char *gguf_arch;    /* GGUF's, "llama" or "qwen2" */
    int64_t hidden_size, intermediate_size, n_layers, n_heads, n_kv_heads, vocab_size;
    int64_t head_dim;       /* head_dim, or hidden_size / num_attention_heads */
    int head_dim_given;     /* config.json names head_dim */
    int64_t context_length; /* max_position_embeddings; 0 when absent */
    double rms_norm_eps, rope_theta; /* Hugging Face's defaults, 1e-6 and 10000, when absent */
    int tie_word_embeddings;
    struct {
        hf_rope_scaling type;
        double factor;
        /* llama3 only: */
        double low_freq_factor, high_freq_factor;
        int64_t original_context;
    } rope_scaling;
    /* bos_token_id etc.; the first of a list; -1 when absent or null */
    int64_t bos_token_id, eos_token_id, pad_token_id, unk_token_id;
} hf_config;

/* Parses config.json's text; `name` starts the messages. */
lvk_status hf_config_parse(const char *text, size_t len, const char *name, hf_config *out);
/* Reads and parses a config.json file. */
lvk_status hf_config_load(const char *path, hf_config *out);

#endif
