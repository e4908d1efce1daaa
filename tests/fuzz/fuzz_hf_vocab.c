/* fuzz_hf_vocab.c — a Hugging Face tokenizer: tokenizer.json, then (after a
 * NUL byte, when there is one) tokenizer_config.json, made into a GGUF
 * vocabulary; what comes out must be one the tokenizer could load (types in
 * range, merges for byte-level BPE, scores for SentencePiece, special ids
 * inside the vocabulary). */
#include "fuzz.h"
#include "convert/hf_vocab.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *json = (const char *)data, *nul = memchr(data, 0, size);
    size_t json_len = nul ? (size_t)(nul - json) : size;
    const char *config = nul ? nul + 1 : NULL;
    size_t config_len = nul ? size - json_len - 1 : 0;
    hf_vocab v;
    if (FUZZ_CALL(hf_vocab_parse(json, json_len, "tokenizer.json", config, config_len, "tokenizer_config.json", NULL,
                                 &v)) != LVK_OK)
        return 0;
    int spm = !strcmp(v.model, "llama");
    FUZZ_CHECK(spm || !strcmp(v.model, "gpt2"));
    FUZZ_CHECK(v.pre && v.n_tokens >= 1 && v.tokens && v.types);
    FUZZ_CHECK(spm ? v.scores != NULL && v.merges == NULL : v.scores == NULL && v.merges && v.n_merges >= 1);
    for (uint32_t i = 0; i < v.n_tokens; i++) FUZZ_CHECK(v.tokens[i] && v.types[i] >= 1 && v.types[i] <= 6);
    for (uint32_t i = 0; i < v.n_merges; i++) FUZZ_CHECK(v.merges[i] && strchr(v.merges[i], ' '));
    const int32_t ids[] = {v.bos, v.eos, v.unk, v.pad};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) FUZZ_CHECK(ids[i] >= -1 && ids[i] < (int32_t)v.n_tokens);
    hf_vocab_free(&v);
    return 0;
}
