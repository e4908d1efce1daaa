/* gguf_seeds.c — writes tiny models into a directory, seeds for fuzz_gguf
 * (a few kilobytes each: the fuzzer mutates their header, not megabytes of
 * weights): F32 with a tied output, and Q8_0 with a separate F16 output and
 * F16 matrices in odd blocks. Also a tiny byte-level BPE vocabulary (no
 * weights), the seed of fuzz_tokenizer's fuzzed vocabularies. */
#include "synth.h"
#include "formats/gguf.h"
#include "formats/gguf_write.h"
#include "status.h"

#include <stdio.h>

/* Printable ASCII (GPT-2's byte-to-unicode mapping keeps it as it is), 'Ġ'
 * and 'Ċ' for space and newline, a few merges, a control token as BOS/EOS,
 * a user-defined one; Llama 3's pre-tokenizer. */
static lvk_status write_bpe_vocabulary(const char *path) {
    enum { N_ASCII = 0x7f - 0x21 };
    static const char *const words[] = {"\xc4\xa0", "\xc4\x8a", "\xc4\xa0t", "he", "\xc4\xa0the", "in",
                                        "\xc4\xa0in", "<|endoftext|>", "<tag>"};
    static const char *const merges[] = {"\xc4\xa0 t", "h e", "\xc4\xa0t he", "i n", "\xc4\xa0 in"};
    enum { N_WORDS = sizeof words / sizeof words[0], N = N_ASCII + N_WORDS };
    char ascii[N_ASCII][2];
    const char *tokens[N];
    int32_t types[N];
    for (int i = 0; i < N; i++) {
        if (i < N_ASCII) {
            ascii[i][0] = (char)(0x21 + i);
            ascii[i][1] = 0;
            tokens[i] = ascii[i];
        } else {
            tokens[i] = words[i - N_ASCII];
        }
        types[i] = 1;
    }
    types[N - 2] = 3; /* <|endoftext|>: control */
    types[N - 1] = 4; /* <tag>: user-defined */
    gguf_writer *w;
    LVK_TRY(gguf_writer_create(&w));
    lvk_status s = gguf_writer_add_str(w, "tokenizer.ggml.model", "gpt2");
    if (s == LVK_OK) s = gguf_writer_add_str(w, "tokenizer.ggml.pre", "llama-bpe");
    if (s == LVK_OK) s = gguf_writer_add_str_arr(w, "tokenizer.ggml.tokens", tokens, N);
    if (s == LVK_OK) s = gguf_writer_add_i32_arr(w, "tokenizer.ggml.token_type", types, N);
    if (s == LVK_OK)
        s = gguf_writer_add_str_arr(w, "tokenizer.ggml.merges", merges, sizeof merges / sizeof merges[0]);
    if (s == LVK_OK) s = gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", N - 2);
    if (s == LVK_OK) s = gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", N - 2);
    if (s == LVK_OK) s = gguf_writer_write(w, path);
    gguf_writer_free(w);
    return s;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gguf_seeds DIR\n");
        return 2;
    }
    synth_params p = synth_default_params();
    p.n_layers = 2;
    p.n_embd = 8;
    p.n_heads = 2;
    p.n_kv_heads = 1;
    p.n_ff = 16;
    p.n_vocab = 260;
    p.n_ctx = 32;
    char path[4096];
    snprintf(path, sizeof path, "%s/tiny-f32.gguf", argv[1]);
    if (synth_llama_gguf(&p, path) != LVK_OK) goto fail;
    p.n_embd = 32;
    p.n_ff = 32;
    p.weight_type = GGML_Q8_0;
    p.mixed_type = GGML_F16;
    p.tied = 0;
    p.output_type = GGML_F16;
    snprintf(path, sizeof path, "%s/tiny-q8_0.gguf", argv[1]);
    if (synth_llama_gguf(&p, path) != LVK_OK) goto fail;
    /* qwen2: biases, heads of 6 (key_length) on a 32-wide model, linear RoPE */
    p = synth_default_params();
    p.arch = "qwen2", p.n_layers = 1, p.n_embd = 32, p.n_heads = 2, p.n_kv_heads = 1, p.head_dim = 6;
    p.n_ff = 16, p.n_vocab = 260, p.n_ctx = 32, p.rope_scale = 2.0f;
    snprintf(path, sizeof path, "%s/tiny-qwen2.gguf", argv[1]);
    if (synth_llama_gguf(&p, path) != LVK_OK) goto fail;
    /* Llama 3.1's RoPE frequency factors */
    p = synth_default_params();
    p.n_layers = 1, p.n_embd = 16, p.n_heads = 2, p.n_kv_heads = 1, p.n_ff = 16, p.n_vocab = 260, p.n_ctx = 32;
    p.rope_freqs = 1;
    snprintf(path, sizeof path, "%s/tiny-rope-freqs.gguf", argv[1]);
    if (synth_llama_gguf(&p, path) != LVK_OK) goto fail;
    snprintf(path, sizeof path, "%s/tiny-bpe-vocabulary.gguf", argv[1]);
    if (write_bpe_vocabulary(path) != LVK_OK) goto fail;
    return 0;
fail:
    fprintf(stderr, "gguf_seeds: %s\n", lvk_last_error());
    return 1;
}
