/* test_hf_config.c — config.json (runtime/convert/hf_config.c): the values the
 * converter needs from Llama 2, Llama 3.1 and Qwen2 configs, Hugging Face's
 * defaults, and a one-line error for each unsupported or contradictory one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc.h"
#include "convert/hf_config.h"

#include <string.h>

static hf_config parse_ok(const char *json) {
    hf_config c;
    if (hf_config_parse(json, strlen(json), "config.json", &c) != LVK_OK) fail_msg("%s", lvk_last_error());
    return c;
}

static void test_llama31(void **state) {
    (void)state;
    hf_config c = parse_ok(
        "{\"architectures\": [\"LlamaForCausalLM\"], \"attention_bias\": false, \"bos_token_id\": 128000,\n"
        " \"eos_token_id\": [128001, 128008, 128009], \"head_dim\": 64, \"hidden_size\": 2048,\n"
        " \"intermediate_size\": 8192, \"max_position_embeddings\": 131072, \"num_attention_heads\": 32,\n"
        " \"num_hidden_layers\": 16, \"num_key_value_heads\": 8, \"rms_norm_eps\": 1e-05,\n"
        " \"rope_scaling\": {\"factor\": 32.0, \"high_freq_factor\": 4.0, \"low_freq_factor\": 1.0,\n"
        "   \"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"},\n"
        " \"rope_theta\": 500000.0, \"tie_word_embeddings\": true, \"vocab_size\": 128256,\n"
        " \"quantization_config\": {\"nested\": [1, {\"deep\": null}]}}");
    assert_int_equal(c.arch, HF_LLAMA);
    assert_string_equal(c.gguf_arch, "llama");
    assert_int_equal(c.hidden_size, 2048);
    assert_int_equal(c.intermediate_size, 8192);
    assert_int_equal(c.n_layers, 16);
    assert_int_equal(c.n_heads, 32);
    assert_int_equal(c.n_kv_heads, 8);
    assert_int_equal(c.head_dim, 64);
    assert_true(c.head_dim_given);
    assert_int_equal(c.vocab_size, 128256);
    assert_int_equal(c.context_length, 131072);
    assert_true(c.rms_norm_eps == 1e-5 && c.rope_theta == 500000.0);
    assert_true(c.tie_word_embeddings);
    assert_int_equal(c.rope_scaling.type, HF_ROPE_LLAMA3);
    assert_true(c.rope_scaling.factor == 32 && c.rope_scaling.low_freq_factor == 1 &&
                c.rope_scaling.high_freq_factor == 4);
    assert_int_equal(c.rope_scaling.original_context, 8192);
    assert_int_equal(c.bos_token_id, 128000);
    assert_int_equal(c.eos_token_id, 128001); /* the first of the list */
    assert_int_equal(c.pad_token_id, -1);
}

/* Qwen2, and the defaults of what a config leaves out */
static void test_qwen2_and_defaults(void **state) {
    (void)state;
    hf_config c = parse_ok("{\"architectures\": [\"Qwen2ForCausalLM\"], \"hidden_size\": 896, \"intermediate_size\": 4864,"
                           " \"num_attention_heads\": 14, \"num_hidden_layers\": 24, \"vocab_size\": 151936,"
                           " \"rope_scaling\": null, \"num_key_value_heads\": null, \"pad_token_id\": null}");
    assert_int_equal(c.arch, HF_QWEN2);
    assert_string_equal(c.gguf_arch, "qwen2");
    assert_int_equal(c.n_kv_heads, 14); /* absent or null: one per head */
    assert_int_equal(c.head_dim, 64);
    assert_false(c.head_dim_given);
    assert_int_equal(c.context_length, 0);
    assert_true(c.rms_norm_eps == 1e-6 && c.rope_theta == 10000.0);
    assert_false(c.tie_word_embeddings);
    assert_int_equal(c.rope_scaling.type, HF_ROPE_NONE);
    assert_int_equal(c.bos_token_id, -1);

    c = parse_ok("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 128,"
                 " \"num_attention_heads\": 4, \"num_hidden_layers\": 2, \"vocab_size\": 300,"
                 " \"rope_scaling\": {\"type\": \"linear\", \"factor\": 4}}");
    assert_int_equal(c.rope_scaling.type, HF_ROPE_LINEAR);
    assert_true(c.rope_scaling.factor == 4);
    c = parse_ok("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 128,"
                 " \"num_attention_heads\": 4, \"num_hidden_layers\": 2, \"vocab_size\": 300,"
                 " \"rope_scaling\": {\"rope_type\": \"llama3\"}}");
    assert_true(c.rope_scaling.factor == 8 && c.rope_scaling.original_context == 8192); /* llama.cpp's defaults */
    c = parse_ok("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 128,"
                 " \"num_attention_heads\": 4, \"num_hidden_layers\": 2, \"vocab_size\": 300,"
                 " \"rope_scaling\": {\"rope_type\": \"default\"}}");
    assert_int_equal(c.rope_scaling.type, HF_ROPE_NONE);
}

static void test_errors(void **state) {
    (void)state;
#define BASE "\"hidden_size\": 64, \"intermediate_size\": 128, \"num_attention_heads\": 4, \"num_hidden_layers\": 2, \"vocab_size\": 300"
    const struct { const char *json; lvk_status status; const char *error; } cases[] = {
        {"{\"architectures\": [\"GPTNeoXForCausalLM\"], " BASE "}", LVK_ERR_UNSUPPORTED,
         "architecture 'GPTNeoXForCausalLM' is not supported (LiteVK converts LlamaForCausalLM, Qwen2ForCausalLM)"},
        {"{" BASE "}", LVK_ERR_FORMAT, "config.json has no 'architectures'"},
        {"{\"architectures\": \"LlamaForCausalLM\", " BASE "}", LVK_ERR_FORMAT,
         "config.json:1: 'architectures' must be a list of names"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 128,"
         " \"num_hidden_layers\": 2, \"vocab_size\": 300}", LVK_ERR_FORMAT, "config.json: 'num_attention_heads' is missing"},
        {"{\"architectures\": [\"LlamaForCausalLM\"],\n" BASE ",\n \"hidden_size\": \"64\"}", LVK_ERR_FORMAT,
         "config.json:3: 'hidden_size' must be an integer"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"num_hidden_layers\": 2.5}", LVK_ERR_FORMAT,
         "expected an integer, found 2.5"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"hidden_size\": 0}", LVK_ERR_FORMAT,
         "config.json: hidden_size 0 is not in 1..16777216"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"num_key_value_heads\": 3}", LVK_ERR_FORMAT,
         "num_attention_heads 4 is not a multiple of num_key_value_heads 3"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"num_attention_heads\": 5}", LVK_ERR_FORMAT,
         "hidden_size 64 is not a multiple of num_attention_heads 5"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"head_dim\": 15}", LVK_ERR_FORMAT,
         "the head dimension 15 is odd"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"rms_norm_eps\": -1}", LVK_ERR_FORMAT,
         "rms_norm_eps -1 is not in (0, 1)"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"rope_theta\": 0}", LVK_ERR_FORMAT,
         "rope_theta 0 is not a positive number"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4}}",
         LVK_ERR_UNSUPPORTED, "rope_scaling type 'yarn' is not supported (LiteVK converts linear and llama3)"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"rope_scaling\": {\"type\": \"linear\"}}",
         LVK_ERR_FORMAT, "rope_scaling of type linear has no factor"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": -2}}",
         LVK_ERR_FORMAT, "rope_scaling factor -2 is not a positive number"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"rope_scaling\": {\"rope_type\": \"llama3\","
         " \"low_freq_factor\": 4, \"high_freq_factor\": 1}}", LVK_ERR_FORMAT, "needs 0 < low_freq_factor (4) < high_freq_factor (1)"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"attention_bias\": true}", LVK_ERR_UNSUPPORTED,
         "LlamaForCausalLM with attention_bias is not supported"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"tie_word_embeddings\": 1}", LVK_ERR_FORMAT,
         "'tie_word_embeddings' must be true or false"},
        {"{\"architectures\": [\"LlamaForCausalLM\"], " BASE, LVK_ERR_FORMAT,
         "config.json:1: expected ',' or '}' after an object member, found the end of the input"},
        {"[]", LVK_ERR_FORMAT, "config.json:1: config.json must be a JSON object"},
        {"", LVK_ERR_FORMAT, "config.json must be a JSON object"},
    };
#undef BASE
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hf_config c;
        int64_t before = mem_alloc_outstanding();
        lvk_status s = hf_config_parse(cases[i].json, strlen(cases[i].json), "config.json", &c);
        if (s != cases[i].status) fail_msg("%s: status %d, expected %d (%s)", cases[i].json, s, cases[i].status, lvk_last_error());
        if (!strstr(lvk_last_error(), cases[i].error))
            fail_msg("%s: error '%s' lacks '%s'", cases[i].json, lvk_last_error(), cases[i].error);
        assert_null(strchr(lvk_last_error(), '\n'));
        assert_int_equal(mem_alloc_outstanding(), before);
    }
    hf_config c;
    assert_int_equal(hf_config_load(LITEVK_TMP_DIR "/no-such-config.json", &c), LVK_ERR_IO);
    assert_non_null(strstr(lvk_last_error(), "no-such-config.json"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama31), cmocka_unit_test(test_qwen2_and_defaults), cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
