/* gguf_seeds.c — writes tiny models into a directory, seeds for fuzz_gguf
 * (a few kilobytes each: the fuzzer mutates their header, not megabytes of
 * weights): F32 with a tied output, and Q8_0 with a separate F16 output and
 * F16 matrices in odd blocks. */
#include "synth.h"
#include "gguf.h"

#include <stdio.h>

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
    return 0;
fail:
    fprintf(stderr, "gguf_seeds: %s\n", lvk_last_error());
    return 1;
}
