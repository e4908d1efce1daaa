/* tokenizer.h — SentencePiece BPE (LLaMA "spm") from a GGUF vocabulary. */
#ifndef LVK_TOKENIZER_H
#define LVK_TOKENIZER_H

#include "gguf.h"

typedef struct lvk_tokenizer lvk_tokenizer;

/* Builds the tokenizer from tokenizer.ggml.{model,tokens,scores,token_type,
 * bos_token_id,eos_token_id,unknown_token_id,add_space_prefix}. Copies what it
 * needs: the gguf_file may be closed afterwards. */
lvk_status tokenizer_load(const gguf_file *f, lvk_tokenizer **out);
void tokenizer_free(lvk_tokenizer *t);

int tokenizer_n_vocab(const lvk_tokenizer *t);
int tokenizer_bos(const lvk_tokenizer *t);
int tokenizer_eos(const lvk_tokenizer *t);

/* Encodes `len` bytes of UTF-8 `text` (invalid UTF-8 is an error). Writes up
 * to `capacity` ids to `out`; *n_out receives the count needed. A buffer too
 * small is not an error: the call returns LVK_OK with *n_out > capacity and
 * only the first `capacity` ids written, so call again with *n_out room
 * (capacity 0 with out NULL just counts). */
lvk_status tokenizer_encode(const lvk_tokenizer *t, const char *text, size_t len, int add_bos,
                            int32_t *out, int capacity, int *n_out);

/* The bytes a token stands for when decoding: '▁' becomes ' ', <0xNN> the
 * byte NN, control tokens (BOS/EOS/UNK) nothing. *len receives the length. */
const char *tokenizer_piece(const lvk_tokenizer *t, int32_t id, size_t *len);

#endif
