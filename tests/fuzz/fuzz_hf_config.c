/* fuzz_hf_config.c — a Hugging Face config.json: parsed, and what it gives
 * holds together (the sizes the converter computes from it stay in range). */
#include "fuzz.h"
#include "convert/hf_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hf_config c;
    if (FUZZ_CALL(hf_config_parse((const char *)data, size, "config.json", &c)) != LVK_OK) return 0;
    FUZZ_CHECK(c.architecture && c.gguf_arch);
    FUZZ_CHECK(c.hidden_size > 0 && c.intermediate_size > 0 && c.n_layers > 0 && c.vocab_size > 0);
    FUZZ_CHECK(c.n_heads > 0 && c.n_kv_heads > 0 && c.n_heads % c.n_kv_heads == 0);
    FUZZ_CHECK(c.head_dim > 0 && c.head_dim % 2 == 0);
    FUZZ_CHECK(c.head_dim_given || c.head_dim * c.n_heads == c.hidden_size);
    FUZZ_CHECK(c.rms_norm_eps > 0 && c.rope_theta > 0);
    FUZZ_CHECK(c.rope_scaling.type == HF_ROPE_NONE || c.rope_scaling.factor > 0);
    return 0;
}
