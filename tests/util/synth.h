/* synth.h — random-weight LLaMA GGUF files for tests and benchmarks. */
#ifndef LVK_SYNTH_H
#define LVK_SYNTH_H

#include "litevk.h"

#include <stddef.h>
#include <stdint.h>

/* A token of the vocabulary given another text, as a control token. */
typedef struct synth_token {
    int32_t id;
    const char *text; /* shorter than 32 bytes, and no other token's */
} synth_token;

typedef struct synth_params {
    int n_layers, n_embd, n_heads, n_kv_heads, n_ff, n_vocab, n_ctx;
    uint32_t weight_type; /* a type weight_type_supported takes, for the matrices */
    int64_t mixed_type;   /* -1, or the type of attn_v, ffn_up and ffn_down in odd blocks (as Q4_K_M mixes types) */
    int tied;             /* no output.weight: the embedding is the classifier */
    int64_t output_type;  /* output.weight's type when not tied; -1: weight_type (mixes
                           * such as Q4_K_M's Q6_K head on Q4_K matrices) */
    float rope_base;
    const char *arch;     /* "llama" (default when NULL) or "qwen2": Q/K/V biases, NeoX-order RoPE */
    int head_dim;         /* 0: n_embd / n_heads; else written as attention.key_length/value_length */
    float rope_scale;     /* > 1: linear RoPE scaling by this factor (rope.scaling.type linear) */
    int rope_freqs;       /* writes rope_freqs.weight, Llama 3.1's frequency factors (from 1 to 8) */
    uint64_t seed;        /* same parameters and seed give the same file, byte for byte */
    const synth_token *controls; /* n_controls tokens renamed (chat markers: "<|im_end|>"); the weights
                                  * do not change, so the model chooses the same ids */
    int n_controls;
    const char *chat_template; /* tokenizer.chat_template, or NULL for none */
} synth_params;

/* Deterministic random numbers: 64 bits (splitmix64), and uniform in [-1, 1). */
uint64_t synth_random(uint64_t *state);
float synth_uniform(uint64_t *state);

/* A tiny model: 2 layers, 64 wide, 4 heads / 2 KV heads, ff 128, 300 tokens,
 * context 128, F32, tied (output_type -1), rope base 10000, seed 1. */
synth_params synth_default_params(void);

/* Writes the model to `path`. Matrices are uniform in ±1/sqrt(row length),
 * norm weights uniform in 1 ± 0.1 and F32, biases uniform in ±0.5. The vocabulary: 0 <unk>, 1 <s>,
 * 2 </s>, 3..258 the byte tokens <0x00>..<0xFF>, then normal tokens (see
 * synth_token_text) with decreasing scores, but for `controls`. Memory use
 * is one tensor. */
lvk_status synth_llama_gguf(const synth_params *p, const char *path);

/* Text of token `id` of the synthetic vocabulary. Normal tokens count
 * through the strings over {"▁", "a".."z"} by length, then order ("▁", "a",
 * ..., "z", "▁▁", "▁a", ...), so each one is a shorter token plus one
 * symbol and BPE merges can reach it. */
void synth_token_text(uint32_t id, char *out, size_t size);

#endif
