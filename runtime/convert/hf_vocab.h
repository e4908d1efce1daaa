/* hf_vocab.h — a Hugging Face tokenizer (tokenizer.json, tokenizer_config.json)
 * as a GGUF vocabulary, the tokenizer.* metadata llama.cpp's converter writes.
 *
 * tokenizer.json must hold a BPE model, either
 *   byte-level (a ByteLevel pre-tokenizer: GPT-2, Llama 3, Qwen2) -> "gpt2",
 *     its pre-tokenizer recognised by its regular expression: Llama 3's
 *     -> "llama-bpe", Qwen2's -> "qwen2", GPT-2's ByteLevel alone -> "gpt-2",
 *     single digits then GPT-2's -> "starcoder"; or
 *   SentencePiece's (byte fallback, '▁' for spaces: Llama 2, Mistral) -> "llama".
 *     tokenizer.json has no scores: a token's score is minus the rank of the
 *     first merge that makes it, so that merging by score (SentencePiece,
 *     llama.cpp) merges in the order of the merges (Hugging Face's BPE).
 *     Tokens no merge makes score below every merge.
 * Token types: the unknown token UNKNOWN; <0xNN> BYTE (SentencePiece);
 * added tokens CONTROL when special (or, as llama.cpp, when they look like
 * "<|...|>"), else USER_DEFINED; ids the tokenizer leaves unused up to
 * config.json's vocab_size "[PADn]", UNUSED; the rest NORMAL.
 */
#ifndef LVK_HF_VOCAB_H
#define LVK_HF_VOCAB_H

#include "formats/gguf_write.h"
#include "convert/hf_config.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hf_vocab {
    const char *model;       /* tokenizer.ggml.model: "gpt2" or "llama" */
    const char *pre;         /* tokenizer.ggml.pre */
    uint32_t n_tokens;
    char **tokens;
    int32_t *types;
    float *scores;           /* "llama" only */
    char **merges;           /* "gpt2" only: "left right", best first */
    uint32_t n_merges;
    int32_t bos, eos, unk, pad; /* -1: none */
    int add_bos, add_eos, add_space_prefix; /* -1: not said */
    char *chat_template;     /* NULL: none */
} hf_vocab;

/* The vocabulary from tokenizer.json's text and tokenizer_config.json's (NULL:
 * none). `config` (NULL: none) pads the vocabulary to its vocab_size and gives
 * the special token ids tokenizer_config.json does not. `json_name` and
 * `config_name` start the messages. */
lvk_status hf_vocab_parse(const char *json, size_t json_len, const char *json_name,
                          const char *tokenizer_config, size_t config_len, const char *config_name,
                          const hf_config *config, hf_vocab *out);
/* Reads dir/tokenizer.json, dir/tokenizer_config.json when there is one, and
 * dir/chat_template.jinja when tokenizer_config.json has no chat_template. */
lvk_status hf_vocab_load(const char *dir, const hf_config *config, hf_vocab *out);
void hf_vocab_free(hf_vocab *v);

/* Adds the tokenizer.* metadata. */
lvk_status hf_vocab_write(const hf_vocab *v, gguf_writer *w);

#endif
