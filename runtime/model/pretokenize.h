/* pretokenize.h — byte-level BPE's pre-tokenizers: the regular expressions
 * that cut text into words before BPE merges within each word, chosen by a
 * GGUF's tokenizer.ggml.pre, as hand-written scanners over code points. */
#ifndef LVK_PRETOKENIZE_H
#define LVK_PRETOKENIZE_H

#include <stddef.h>
#include <stdint.h>

typedef enum pretokenize_rule {
    /* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
    PRETOKENIZE_GPT2,
    /* StarCoder: every \p{N} is a word of its own; GPT-2's rule cuts the text
     * between them */
    PRETOKENIZE_STARCODER,
    /* Llama 3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
     *          ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
    PRETOKENIZE_LLAMA3,
    /* Qwen2: Llama 3's rule with \p{N} for \p{N}{1,3} (one digit per word) */
    PRETOKENIZE_QWEN2,
} pretokenize_rule;

/* What a tokenizer.ggml.pre name stands for. */
typedef struct pretokenizer {
    const char *name;
    pretokenize_rule rule;
    /* A word that is a token as a whole becomes that token without merging
     * (tokenizer.json's "ignore_merges", set for Llama 3). */
    int ignore_merges;
    /* The model wants BOS first unless tokenizer.ggml.add_bos_token says
     * otherwise. */
    int add_bos;
} pretokenizer;

/* The pre-tokenizers LiteVK knows, in the order an error message lists them. */
extern const pretokenizer pretokenizers[];
extern const int n_pretokenizers;

/* The pre-tokenizer called `name` (len bytes, not NUL-terminated), or NULL. */
const pretokenizer *pretokenizer_find(const char *name, size_t len);

/* The end of the word that starts at cps[pos] (pos < n) in the text cps[0..n):
 * the index after its last code point, always > pos. */
size_t pretokenize_word_end(pretokenize_rule rule, const uint32_t *cps, size_t pos, size_t n);

#endif
