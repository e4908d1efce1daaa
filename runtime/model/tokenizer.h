/* tokenizer.h — the tokenizers of LLaMA-family GGUF vocabularies:
 * SentencePiece BPE (tokenizer.ggml.model "llama": LLaMA 1/2, Phi-3, ...) and
 * GPT-2's byte-level BPE ("gpt2": Llama 3, Qwen2, StarCoder, GPT-2, ...). */
#ifndef LVK_TOKENIZER_H
#define LVK_TOKENIZER_H

#include "formats/gguf.h"

typedef struct text_tokenizer text_tokenizer;

/* Builds the tokenizer from tokenizer.ggml.{model,pre,tokens,scores,
 * token_type,merges,bos_token_id,eos_token_id,eot_token_id,eom_token_id,
 * unknown_token_id,add_space_prefix,add_bos_token,add_eos_token}. Copies what it needs: the
 * gguf_file may be closed afterwards. */
lvk_status tokenizer_load(const gguf_file *f, text_tokenizer **out);
void tokenizer_free(text_tokenizer *t);

int tokenizer_n_vocab(const text_tokenizer *t);
/* BOS and EOS ids, -1 when the vocabulary has none. */
int tokenizer_bos(const text_tokenizer *t);
int tokenizer_eos(const text_tokenizer *t);
/* Whether a token ends generation: EOS, tokenizer.ggml.eot_token_id or
 * eom_token_id, or a token whose text is a chat format's end of turn
 * ("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
 * "</s>", ...). */
int tokenizer_is_eog(const text_tokenizer *t, int32_t id);
/* Whether the model wants BOS first / EOS last (LVK_TOKENIZE_ADD_SPECIAL). */
int tokenizer_adds_bos(const text_tokenizer *t);
int tokenizer_adds_eos(const text_tokenizer *t);
/* tokenizer.ggml.model: "llama" or "gpt2". */
const char *tokenizer_model_name(const text_tokenizer *t);
/* The pre-tokenizer of a "gpt2" vocabulary (tokenizer.ggml.pre, "default"
 * when absent); NULL for SentencePiece, which has none. */
const char *tokenizer_pre_name(const text_tokenizer *t);

/* Encodes `len` bytes of UTF-8 `text` (invalid UTF-8 is an error) with
 * `flags`, LVK_TOKENIZE_* of litevk.h ORed together. Writes up to `capacity`
 * ids to `out`; *n_out receives the count needed. A buffer too small is not
 * an error: the call returns LVK_OK with *n_out > capacity and only the first
 * `capacity` ids written, so call again with *n_out room (capacity 0 with out
 * NULL just counts). */
lvk_status tokenizer_encode(const text_tokenizer *t, const char *text, size_t len, unsigned flags,
                            int32_t *out, int capacity, int *n_out);

/* Bytes [start, start + len) of a text. */
typedef struct text_range {
    size_t start, len;
} text_range;

/* tokenizer_encode, where LVK_TOKENIZE_PARSE_SPECIAL cuts out no special
 * token that overlaps one of the `plain` ranges (ascending, disjoint): a chat
 * message's content, inside the format's markers, stays text. */
lvk_status tokenizer_encode_guarded(const text_tokenizer *t, const char *text, size_t len, unsigned flags,
                                    const text_range *plain, size_t n_plain, int32_t *out, int capacity,
                                    int *n_out);

/* The bytes a token stands for when decoding: SentencePiece's '▁' becomes
 * ' ', byte-level BPE's characters become the bytes they stand for, <0xNN>
 * the byte NN, user-defined tokens their text, control tokens (BOS/EOS/UNK)
 * nothing. *len receives the length. */
const char *tokenizer_piece(const text_tokenizer *t, int32_t id, size_t *len);

#endif
