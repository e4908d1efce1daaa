/* test_convert_hf.c — Hugging Face checkpoints to GGUF (runtime/convert/convert_hf.c):
 * small random-weight Llama (GQA, tied and untied, Llama 3.1 RoPE scaling)
 * and Qwen2 (biases) checkpoints written here in F32, F16 and BF16, converted
 * to several types and read back: every tensor against its source, Q and K
 * reordered for llama's RoPE (on a hand-made matrix, and by the attention
 * scores both layouts give), the metadata and vocabulary llama.cpp's
 * converter writes, the converted llama model loading in the runtime; and a
 * one-line error for each broken checkpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc.h"
#include "convert/convert_hf.h"
#include "formats/gguf.h"
#include "hf_synth.h"
#include "json_write.h"
#include "model/model.h"
#include "formats/quant.h"
#include "synth.h"
#include "model/tokenizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP LITEVK_TMP_DIR "/test_convert_hf"

/* ---- a checkpoint written here ------------------------------------------------------ */

typedef struct spec {
    const char *architecture; /* "LlamaForCausalLM" or "Qwen2ForCausalLM" */
    const char *dtype;        /* the safetensors' dtype */
    int tied;
    const char *rope_scaling; /* config.json's, NULL: none */
    int hidden, heads, kv_heads, ff, layers, vocab;
    int array_merges;         /* merges as ["a", "b"] (newer files) instead of "a b" */
} spec;

static spec llama_spec(void) {
    return (spec){.architecture = "LlamaForCausalLM", .dtype = "F32", .hidden = 64, .heads = 4, .kv_heads = 2,
                  .ff = 80, .layers = 2, .vocab = 270};
}

static spec qwen2_spec(void) {
    spec s = llama_spec();
    s.architecture = "Qwen2ForCausalLM";
    s.tied = 1;
    s.array_merges = 1;
    return s;
}

static int is_qwen2(const spec *s) { return !strcmp(s->architecture, "Qwen2ForCausalLM"); }

/* A tensor of the checkpoint, its values as the file holds them (rounded to its dtype). */
typedef struct source {
    char name[96];
    uint32_t n_dims;
    uint64_t shape[2]; /* [rows, cols], or [length] */
    float *values;
} source;

typedef struct checkpoint {
    source t[64];
    int n;
} checkpoint;

static void checkpoint_free(checkpoint *c) {
    for (int i = 0; i < c->n; i++) free(c->t[i].values);
    c->n = 0;
}

static float round_to(const char *dtype, float x) {
    if (!strcmp(dtype, "F16")) return f16_to_f32(f32_to_f16(x));
    if (!strcmp(dtype, "BF16")) return bf16_to_f32(f32_to_bf16(x));
    return x;
}

static source *add_source(checkpoint *c, const spec *s, const char *name, uint64_t rows, uint64_t cols, uint64_t *rng) {
    assert_true(c->n < 64);
    source *t = &c->t[c->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = cols ? 2 : 1;
    t->shape[0] = rows;
    t->shape[1] = cols;
    uint64_t n = rows * (cols ? cols : 1);
    t->values = malloc(n * sizeof *t->values);
    assert_non_null(t->values);
    for (uint64_t i = 0; i < n; i++) t->values[i] = round_to(s->dtype, synth_uniform(rng) * (cols ? 0.2f : 1.0f));
    return t;
}

static const source *find_source(const checkpoint *c, const char *name) {
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->t[i].name, name)) return &c->t[i];
    return NULL;
}

static void make_sources(const spec *s, checkpoint *c) {
    uint64_t rng = 42, d = (uint64_t)s->hidden, q = (uint64_t)s->hidden, kv = (uint64_t)(s->hidden / s->heads * s->kv_heads);
    uint64_t ff = (uint64_t)s->ff;
    c->n = 0;
    add_source(c, s, "model.embed_tokens.weight", (uint64_t)s->vocab, d, &rng);
    add_source(c, s, "model.norm.weight", d, 0, &rng);
    if (!s->tied) add_source(c, s, "lm_head.weight", (uint64_t)s->vocab, d, &rng);
    for (int l = 0; l < s->layers; l++) {
        const struct { const char *name; uint64_t rows, cols; int qwen2_only; } block[] = {
            {"input_layernorm.weight", d, 0, 0},  {"self_attn.q_proj.weight", q, d, 0},
            {"self_attn.k_proj.weight", kv, d, 0}, {"self_attn.v_proj.weight", kv, d, 0},
            {"self_attn.o_proj.weight", d, q, 0},  {"self_attn.q_proj.bias", q, 0, 1},
            {"self_attn.k_proj.bias", kv, 0, 1},   {"self_attn.v_proj.bias", kv, 0, 1},
            {"post_attention_layernorm.weight", d, 0, 0}, {"mlp.gate_proj.weight", ff, d, 0},
            {"mlp.up_proj.weight", ff, d, 0},      {"mlp.down_proj.weight", d, ff, 0},
        };
        for (size_t i = 0; i < sizeof block / sizeof block[0]; i++) {
            if (block[i].qwen2_only && !is_qwen2(s)) continue;
            char name[96];
            snprintf(name, sizeof name, "model.layers.%d.%s", l, block[i].name);
            add_source(c, s, name, block[i].rows, block[i].cols, &rng);
        }
    }
}

/* The bytes of a tensor in the checkpoint's dtype (malloc'd). */
static void *encode(const spec *s, const source *t) {
    uint64_t n = t->shape[0] * (t->n_dims == 2 ? t->shape[1] : 1);
    size_t size = hf_dtype_size(s->dtype);
    uint8_t *out = malloc(n * size);
    assert_non_null(out);
    for (uint64_t i = 0; i < n; i++) {
        if (size == 4) {
            memcpy(out + 4 * i, &t->values[i], 4);
        } else {
            uint16_t h = !strcmp(s->dtype, "F16") ? f32_to_f16(t->values[i]) : f32_to_bf16(t->values[i]);
            memcpy(out + 2 * i, &h, 2);
        }
    }
    return out;
}

static void write_safetensors(const char *dir, const spec *s, const checkpoint *c, const char *extra_name) {
    hf_tensor t[65];
    void *data[65];
    for (int i = 0; i < c->n; i++) {
        data[i] = encode(s, &c->t[i]);
        t[i] = (hf_tensor){.name = c->t[i].name, .dtype = s->dtype, .n_dims = c->t[i].n_dims,
                           .shape = {c->t[i].shape[0], c->t[i].shape[1]}, .data = data[i]};
    }
    int n = c->n;
    static const float inv_freq[8] = {1, 0.5f, 0.25f, 0.125f, 0.0625f, 0.03125f, 0.015625f, 0.0078125f};
    if (extra_name) t[n++] = (hf_tensor){.name = extra_name, .dtype = "F32", .n_dims = 1, .shape = {8}, .data = inv_freq};
    assert_int_equal(hf_write_safetensors(dir, "model.safetensors", t, n), 0);
    for (int i = 0; i < c->n; i++) free(data[i]);
}

static void write_text(const char *dir, const char *name, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(hf_write_text(path, text), 0);
}

static void write_config(const char *dir, const spec *s) {
    char json[2048];
    snprintf(json, sizeof json,
             "{\"architectures\": [\"%s\"], \"hidden_size\": %d, \"intermediate_size\": %d,\n"
             " \"num_attention_heads\": %d, \"num_key_value_heads\": %d, \"num_hidden_layers\": %d,\n"
             " \"vocab_size\": %d, \"max_position_embeddings\": 256, \"rms_norm_eps\": 1e-05,\n"
             " \"rope_theta\": 500000.0, \"tie_word_embeddings\": %s, \"bos_token_id\": 1,\n"
             " \"eos_token_id\": [260, 1], \"torch_dtype\": \"float32\"%s%s}\n",
             s->architecture, s->hidden, s->ff, s->heads, s->kv_heads, s->layers, s->vocab, s->tied ? "true" : "false",
             s->rope_scaling ? ", \"rope_scaling\": " : "", s->rope_scaling ? s->rope_scaling : "");
    write_text(dir, "config.json", json);
}

/* GPT-2's byte-to-character mapping, as UTF-8: printable Latin-1 bytes stand for
 * themselves, the others for U+0100.. in byte order. */
static void byte_char(int b, char out[4]) {
    uint32_t cp = b <= 0x20 ? 0x100u + (uint32_t)b : b >= 0x7f && b <= 0xa0 ? 0x121u + (uint32_t)(b - 0x7f)
                : b == 0xad ? 0x143u : (uint32_t)b;
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        out[2] = 0;
    }
}

/* The byte-level vocabulary: the 256 byte characters (ids 0..255), four
 * merges, three added tokens (one special, one not, one that looks special);
 * config.json's vocab_size leaves the ids above unused. */
#define N_MERGES 4
static const char *const merged[N_MERGES][3] = {
    {"\xc4\xa0", "t", "\xc4\xa0t"}, {"h", "e", "he"}, {"\xc4\xa0t", "he", "\xc4\xa0the"}, {"i", "n", "in"},
};

static char *tokenizer_json(const spec *s, const char *regex_json) {
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    assert_non_null(f);
    fprintf(f, "{\"version\": \"1.0\", \"added_tokens\": [\n"
               " {\"id\": 260, \"content\": \"<|endoftext|>\", \"special\": true, \"normalized\": false},\n"
               " {\"id\": 261, \"content\": \"<think>\", \"special\": false},\n"
               " {\"id\": 262, \"content\": \"<|fim_prefix|>\", \"special\": false}],\n"
               " \"normalizer\": %s,\n"
               " \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [\n"
               "  {\"type\": \"Split\", \"pattern\": {\"Regex\": \"%s\"}, \"behavior\": \"Isolated\", \"invert\": false},\n"
               "  {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": false}]},\n"
               " \"decoder\": {\"type\": \"ByteLevel\"},\n"
               " \"model\": {\"type\": \"BPE\", \"byte_fallback\": false, \"ignore_merges\": true, \"vocab\": {",
            is_qwen2(s) ? "{\"type\": \"NFC\"}" : "null", regex_json);
    for (int b = 0; b < 256; b++) {
        char c[4];
        byte_char(b, c);
        fputs(b ? ", " : "", f);
        json_write_string(f, c);
        fprintf(f, ": %d", b);
    }
    for (int m = 0; m < N_MERGES; m++) fprintf(f, ", \"%s\": %d", merged[m][2], 256 + m);
    fprintf(f, "},\n \"merges\": [");
    for (int m = 0; m < N_MERGES; m++)
        fprintf(f, s->array_merges ? "%s[\"%s\", \"%s\"]" : "%s\"%s %s\"", m ? ", " : "", merged[m][0], merged[m][1]);
    fprintf(f, "]}}\n");
    fclose(f);
    return text;
}

#define LLAMA3_REGEX_JSON "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+"
#define QWEN2_REGEX_JSON "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+"

static const char chat_template[] = "{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}";

static void write_tokenizer(const char *dir, const spec *s) {
    char *json = tokenizer_json(s, is_qwen2(s) ? QWEN2_REGEX_JSON : LLAMA3_REGEX_JSON);
    write_text(dir, "tokenizer.json", json);
    free(json);
    char config[512];
    snprintf(config, sizeof config,
             "{\"add_bos_token\": false, \"bos_token\": \"<|endoftext|>\", \"eos_token\": {\"content\": \"<|endoftext|>\","
             " \"lstrip\": false}, \"pad_token\": null, \"model_max_length\": 1000000000000000019884624838656,"
             " \"chat_template\": \"%s\"}\n", chat_template);
    write_text(dir, "tokenizer_config.json", config);
}

/* A fresh directory named after the test, with the whole checkpoint. */
static const char *write_checkpoint(const char *name, const spec *s, checkpoint *c) {
    static char dir[512];
    snprintf(dir, sizeof dir, "%s_%s", TMP, name);
    mkdir(dir, 0755);
    const char *stale[] = {"model.safetensors.index.json", "tokenizer.model", "chat_template.jinja"};
    for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, stale[i]);
        remove(path);
    }
    make_sources(s, c);
    write_safetensors(dir, s, c, is_qwen2(s) ? NULL : "model.layers.0.self_attn.rotary_emb.inv_freq");
    write_config(dir, s);
    write_tokenizer(dir, s);
    return dir;
}

static lvk_status convert(const char *dir, const char *out, uint32_t type) {
    convert_hf_params p = {.out_type = type};
    return convert_hf(dir, out, &p);
}

/* ---- reading the GGUF back ---------------------------------------------------------- */

static void expect_u32(const gguf_file *f, const char *key, uint32_t want) {
    uint32_t v = 0;
    if (gguf_get_u32(f, key, &v, LVK_ERR_FORMAT) != LVK_OK) fail_msg("%s", lvk_last_error());
    if (v != want) fail_msg("%s is %u, expected %u", key, v, want);
}

static void expect_f32(const gguf_file *f, const char *key, float want) {
    float v = 0;
    if (gguf_get_f32(f, key, &v, LVK_ERR_FORMAT) != LVK_OK) fail_msg("%s", lvk_last_error());
    if (v != want) fail_msg("%s is %g, expected %g", key, v, want);
}

static void expect_str(const gguf_file *f, const char *key, const char *want) {
    char v[512];
    if (gguf_get_str(f, key, v, sizeof v, LVK_ERR_FORMAT) != LVK_OK) fail_msg("%s", lvk_last_error());
    if (strcmp(v, want)) fail_msg("%s is '%s', expected '%s'", key, v, want);
}

static const gguf_value *expect_array(const gguf_file *f, const char *key, uint32_t type, uint64_t n) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) fail_msg("%s is missing", key);
    assert_int_equal(kv->value.type, GGUF_ARRAY);
    assert_int_equal(kv->value.arr_type, type);
    assert_int_equal(kv->value.arr_count, n);
    return &kv->value;
}

/* The GGUF tensor a checkpoint tensor becomes. */
static void gguf_name_of(const char *hf, char *out, size_t size) {
    static const char *const names[][2] = {
        {"model.embed_tokens.weight", "token_embd.weight"}, {"model.norm.weight", "output_norm.weight"},
        {"lm_head.weight", "output.weight"},
        {"input_layernorm.weight", "attn_norm.weight"}, {"self_attn.q_proj.weight", "attn_q.weight"},
        {"self_attn.k_proj.weight", "attn_k.weight"}, {"self_attn.v_proj.weight", "attn_v.weight"},
        {"self_attn.o_proj.weight", "attn_output.weight"}, {"self_attn.q_proj.bias", "attn_q.bias"},
        {"self_attn.k_proj.bias", "attn_k.bias"}, {"self_attn.v_proj.bias", "attn_v.bias"},
        {"post_attention_layernorm.weight", "ffn_norm.weight"}, {"mlp.gate_proj.weight", "ffn_gate.weight"},
        {"mlp.up_proj.weight", "ffn_up.weight"}, {"mlp.down_proj.weight", "ffn_down.weight"},
    };
    int layer;
    char rest[96];
    if (sscanf(hf, "model.layers.%d.%95s", &layer, rest) == 2) {
        for (size_t i = 3; i < sizeof names / sizeof names[0]; i++)
            if (!strcmp(rest, names[i][0])) {
                snprintf(out, size, "blk.%d.%s", layer, names[i][1]);
                return;
            }
    }
    for (size_t i = 0; i < 3; i++)
        if (!strcmp(hf, names[i][0])) {
            snprintf(out, size, "%s", names[i][1]);
            return;
        }
    fail_msg("no GGUF name for %s", hf);
}

/* Where row r of a llama Q or K matrix comes from: each head's rows go from
 * Hugging Face's halves to interleaved pairs. */
static uint64_t hf_row(uint64_t r, uint64_t head_dim) {
    uint64_t head = r / head_dim, i = r % head_dim;
    return head * head_dim + (i % 2) * (head_dim / 2) + i / 2;
}

/* Every tensor of the GGUF against the checkpoint: shape, type (norms and
 * biases F32, matrices `type` or F16 where a row is not whole blocks), and
 * values within the type's rounding. */
static void check_tensors(const char *path, const spec *s, const checkpoint *c, uint32_t type, int n_extra) {
    gguf_file *f;
    assert_int_equal(gguf_open(path, &f), LVK_OK);
    assert_int_equal(f->n_tensors, (uint64_t)(c->n + n_extra));
    uint64_t head_dim = (uint64_t)(s->hidden / s->heads);
    float *out = malloc(4096 * sizeof *out);
    assert_non_null(out);
    for (int i = 0; i < c->n; i++) {
        const source *src = &c->t[i];
        char name[96];
        gguf_name_of(src->name, name, sizeof name);
        const gguf_tensor *t = gguf_find_tensor(f, name);
        if (!t) fail_msg("%s (from %s) is missing", name, src->name);
        int matrix = src->n_dims == 2;
        uint64_t rows = matrix ? src->shape[0] : 1, cols = matrix ? src->shape[1] : src->shape[0];
        uint32_t want = !matrix ? GGML_F32 : cols % ggml_block_elems(type) ? GGML_F16 : type;
        if (t->type != want) fail_msg("%s is %s, expected %s", name, ggml_type_name(t->type), ggml_type_name(want));
        assert_int_equal(t->n_dims, src->n_dims);
        assert_int_equal(t->ne[0], cols);
        assert_int_equal(t->ne[1], rows);
        int rotary = !is_qwen2(s) && (strstr(name, "attn_q.weight") || strstr(name, "attn_k.weight"));
        uint64_t row_bytes = t->n_bytes / rows, block = ggml_block_elems(want);
        for (uint64_t r = 0; r < rows; r++) {
            const float *x = src->values + (rotary ? hf_row(r, head_dim) : r) * cols;
            dequantize_row(want, (const uint8_t *)t->data + r * row_bytes, out, cols);
            for (uint64_t k = 0; k < cols; k++) {
                float amax = 0;
                for (uint64_t j = k / block * block; j < k / block * block + block; j++) amax = fmaxf(amax, fabsf(x[j]));
                float tol = want == GGML_F32 ? 0 : want == GGML_F16 ? fabsf(x[k]) / 1024 + 1e-7f
                          : want == GGML_BF16 ? fabsf(x[k]) / 256 + 1e-7f : amax / 100;
                if (fabsf(out[k] - x[k]) > tol)
                    fail_msg("%s [%llu][%llu]: %g became %g (%s)", name, (unsigned long long)r, (unsigned long long)k,
                             x[k], out[k], ggml_type_name(want));
            }
        }
    }
    free(out);
    gguf_close(f);
}

/* ---- conversions -------------------------------------------------------------------- */

static void check_metadata(const char *path, const spec *s, uint32_t file_type) {
    gguf_file *f;
    assert_int_equal(gguf_open(path, &f), LVK_OK);
    const char *arch = is_qwen2(s) ? "qwen2" : "llama";
    char key[96];
#define ARCH_KEY(suffix) (snprintf(key, sizeof key, "%s.%s", arch, suffix), key)
    expect_str(f, "general.architecture", arch);
    expect_u32(f, ARCH_KEY("context_length"), 256);
    expect_u32(f, ARCH_KEY("embedding_length"), (uint32_t)s->hidden);
    expect_u32(f, ARCH_KEY("block_count"), (uint32_t)s->layers);
    expect_u32(f, ARCH_KEY("feed_forward_length"), (uint32_t)s->ff);
    expect_u32(f, ARCH_KEY("attention.head_count"), (uint32_t)s->heads);
    expect_u32(f, ARCH_KEY("attention.head_count_kv"), (uint32_t)s->kv_heads);
    expect_f32(f, ARCH_KEY("attention.layer_norm_rms_epsilon"), 1e-5f);
    expect_f32(f, ARCH_KEY("rope.freq_base"), 500000.0f);
    expect_u32(f, ARCH_KEY("rope.dimension_count"), (uint32_t)(s->hidden / s->heads));
    expect_u32(f, ARCH_KEY("vocab_size"), (uint32_t)s->vocab);
    assert_null(gguf_find(f, ARCH_KEY("attention.key_length"))); /* head_dim is hidden / heads */
#undef ARCH_KEY
    expect_u32(f, "general.file_type", file_type);
    expect_u32(f, "general.quantization_version", 2);

    /* the vocabulary */
    expect_str(f, "tokenizer.ggml.model", "gpt2");
    expect_str(f, "tokenizer.ggml.pre", is_qwen2(s) ? "qwen2" : "llama-bpe");
    const gguf_value *tokens = expect_array(f, "tokenizer.ggml.tokens", GGUF_STRING, (uint64_t)s->vocab);
    const gguf_value *types = expect_array(f, "tokenizer.ggml.token_type", GGUF_INT32, (uint64_t)s->vocab);
    assert_null(gguf_find(f, "tokenizer.ggml.scores"));
    assert_true(gguf_str_eq(tokens->arr_strs[0], "\xc4\x80")); /* byte 0 */
    assert_true(gguf_str_eq(tokens->arr_strs[32], "\xc4\xa0")); /* ' ' */
    assert_true(gguf_str_eq(tokens->arr_strs[258], "\xc4\xa0the"));
    assert_true(gguf_str_eq(tokens->arr_strs[260], "<|endoftext|>"));
    assert_true(gguf_str_eq(tokens->arr_strs[269], "[PAD269]"));
    assert_true(gguf_arr_num(types, 0) == 1 && gguf_arr_num(types, 259) == 1);
    assert_true(gguf_arr_num(types, 260) == 3); /* special: control */
    assert_true(gguf_arr_num(types, 261) == 4); /* not special: user-defined */
    assert_true(gguf_arr_num(types, 262) == 3); /* "<|...|>" looks special: control, as llama.cpp */
    assert_true(gguf_arr_num(types, 263) == 5 && gguf_arr_num(types, 269) == 5); /* unused ids */
    const gguf_value *merges = expect_array(f, "tokenizer.ggml.merges", GGUF_STRING, N_MERGES);
    assert_true(gguf_str_eq(merges->arr_strs[2], "\xc4\xa0t he"));
    expect_u32(f, "tokenizer.ggml.bos_token_id", 260); /* tokenizer_config.json over config.json */
    expect_u32(f, "tokenizer.ggml.eos_token_id", 260);
    assert_null(gguf_find(f, "tokenizer.ggml.padding_token_id"));
    const gguf_kv *add_bos = gguf_find(f, "tokenizer.ggml.add_bos_token");
    assert_non_null(add_bos);
    assert_int_equal(add_bos->value.type, GGUF_BOOL);
    assert_int_equal(add_bos->value.v.u64, 0);
    expect_str(f, "tokenizer.chat_template", chat_template);

    /* the runtime's tokenizer takes the vocabulary */
    text_tokenizer *t;
    assert_int_equal(tokenizer_load(f, &t), LVK_OK);
    int32_t ids[8];
    int n;
    assert_int_equal(tokenizer_encode(t, " the in", 7, 0, ids, 8, &n), LVK_OK);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 258); /* " the" by three merges */
    assert_int_equal(ids[1], 32);  /* ' ': there is no " in" */
    assert_int_equal(ids[2], 259); /* "in" */
    tokenizer_free(t);
    gguf_close(f);
}

static void test_llama(void **state) {
    (void)state;
    spec s = llama_spec();
    checkpoint c;
    const char *dir = write_checkpoint("llama", &s, &c);
    const char *out = TMP "_llama.gguf";
    assert_int_equal(convert(dir, out, GGML_F32), LVK_OK);
    check_metadata(out, &s, 0);
    check_tensors(out, &s, &c, GGML_F32, 0);
    gguf_file *f;
    assert_int_equal(gguf_open(out, &f), LVK_OK);
    expect_str(f, "general.name", "test_convert_hf_llama");
    assert_non_null(gguf_find_tensor(f, "output.weight")); /* untied */
    assert_null(gguf_find_tensor(f, "rope_freqs.weight"));
    /* the runtime loads the converted model as it is */
    host_model *m;
    if (host_model_from_gguf(f, &m) != LVK_OK) fail_msg("%s", lvk_last_error());
    assert_int_equal(m->hp.n_vocab, 270);
    assert_int_equal(m->hp.n_kv_heads, 2);
    host_model_free(m);

    /* other types: f16 everywhere; q8_0 but for ffn_down, whose rows of 80 are not whole blocks */
    const uint32_t types[][2] = {{GGML_F16, 1}, {GGML_BF16, 32}, {GGML_Q8_0, 7}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        assert_int_equal(convert(dir, out, types[i][0]), LVK_OK);
        check_tensors(out, &s, &c, types[i][0], 0);
        assert_int_equal(gguf_open(out, &f), LVK_OK);
        expect_u32(f, "general.file_type", types[i][1]);
        gguf_close(f);
    }
    checkpoint_free(&c);
}

/* Tied embeddings, F16 and BF16 checkpoints, one key/value head per query head. */
static void test_llama_variants(void **state) {
    (void)state;
    const char *dtypes[] = {"F16", "BF16"};
    for (int i = 0; i < 2; i++) {
        spec s = llama_spec();
        s.dtype = dtypes[i];
        s.tied = 1;
        s.kv_heads = 4;
        checkpoint c;
        const char *dir = write_checkpoint("llama_tied", &s, &c);
        const char *out = TMP "_llama_tied.gguf";
        assert_int_equal(convert(dir, out, GGML_F32), LVK_OK);
        check_tensors(out, &s, &c, GGML_F32, 0); /* F16 and BF16 values are exact in F32 */
        gguf_file *f;
        assert_int_equal(gguf_open(out, &f), LVK_OK);
        assert_null(gguf_find_tensor(f, "output.weight"));
        gguf_close(f);
        checkpoint_free(&c);
    }
}

static void test_qwen2(void **state) {
    (void)state;
    spec s = qwen2_spec();
    s.dtype = "BF16";
    checkpoint c;
    const char *dir = write_checkpoint("qwen2", &s, &c);
    const char *out = TMP "_qwen2.gguf";
    assert_int_equal(convert(dir, out, GGML_F16), LVK_OK);
    check_metadata(out, &s, 1);
    check_tensors(out, &s, &c, GGML_F16, 0); /* Q and K as they are: qwen2 runs NEOX RoPE */
    gguf_file *f;
    assert_int_equal(gguf_open(out, &f), LVK_OK);
    assert_null(gguf_find_tensor(f, "output.weight"));
    const gguf_tensor *bias = gguf_find_tensor(f, "blk.1.attn_k.bias");
    assert_non_null(bias);
    assert_int_equal(bias->type, GGML_F32);
    assert_int_equal(bias->n_dims, 1);
    assert_int_equal(bias->ne[0], 32);
    assert_memory_equal(bias->data, find_source(&c, "model.layers.1.self_attn.k_proj.bias")->values, 32 * 4);
    gguf_close(f);
    checkpoint_free(&c);
}

/* The reordering of Q and K on a hand-made matrix: row r of q_proj holds r
 * everywhere, so attn_q's rows show where each came from. With heads of 16,
 * each head's rows become 0 8 1 9 2 10 ... 7 15 (its own offset added). */
static void test_rotary_rows_by_hand(void **state) {
    (void)state;
    spec s = llama_spec();
    checkpoint c;
    const char *dir = write_checkpoint("rotary_rows", &s, &c);
    const char *names[] = {"model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight"};
    for (int k = 0; k < 2; k++) {
        source *t = (source *)find_source(&c, names[k]);
        for (uint64_t r = 0; r < t->shape[0]; r++)
            for (uint64_t j = 0; j < t->shape[1]; j++) t->values[r * t->shape[1] + j] = (float)r;
    }
    write_safetensors(dir, &s, &c, NULL);
    const char *out = TMP "_rotary_rows.gguf";
    assert_int_equal(convert(dir, out, GGML_F32), LVK_OK);
    static const int head[16] = {0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15};
    gguf_file *f;
    assert_int_equal(gguf_open(out, &f), LVK_OK);
    const char *gguf_names[] = {"blk.0.attn_q.weight", "blk.0.attn_k.weight"};
    const int n_heads[] = {4, 2};
    for (int k = 0; k < 2; k++) {
        const float *w = gguf_find_tensor(f, gguf_names[k])->data;
        for (int h = 0; h < n_heads[k]; h++)
            for (int i = 0; i < 16; i++) {
                float got = w[(h * 16 + i) * 64 + 63];
                if (got != (float)(h * 16 + head[i]))
                    fail_msg("%s row %d holds row %g, expected %d", gguf_names[k], h * 16 + i, got, h * 16 + head[i]);
            }
    }
    /* v is not reordered */
    const float *v = gguf_find_tensor(f, "blk.0.attn_v.weight")->data;
    const source *v_src = find_source(&c, "model.layers.0.self_attn.v_proj.weight");
    assert_memory_equal(v, v_src->values, 32 * 64 * 4);
    gguf_close(f);
    checkpoint_free(&c);
}

/* RoPE over one head, as Hugging Face's llama applies it (rotate_half: element
 * i turns with i + d/2) and as GGUF's llama does (element 2i with 2i + 1). */
static void rope_halves(float *x, int d, int pos, float base) {
    for (int i = 0; i < d / 2; i++) {
        double a = pos * pow(base, -2.0 * i / d), x1 = x[i], x2 = x[i + d / 2];
        x[i] = (float)(x1 * cos(a) - x2 * sin(a));
        x[i + d / 2] = (float)(x2 * cos(a) + x1 * sin(a));
    }
}

static void rope_pairs(float *x, int d, int pos, float base) {
    for (int i = 0; i < d / 2; i++) {
        double a = pos * pow(base, -2.0 * i / d), x1 = x[2 * i], x2 = x[2 * i + 1];
        x[2 * i] = (float)(x1 * cos(a) - x2 * sin(a));
        x[2 * i + 1] = (float)(x1 * sin(a) + x2 * cos(a));
    }
}

static void matvec(const float *w, const float *x, float *y, int rows, int cols) {
    for (int r = 0; r < rows; r++) {
        double acc = 0;
        for (int c = 0; c < cols; c++) acc += (double)w[r * cols + c] * x[c];
        y[r] = (float)acc;
    }
}

/* What the reordering is for: each head's attention score of a query at one
 * position and a key at another is the same computed the Hugging Face way on
 * the checkpoint's weights and the GGUF way on the converted ones. */
static void test_rotary_attention_scores(void **state) {
    (void)state;
    spec s = llama_spec();
    checkpoint c;
    const char *dir = write_checkpoint("rotary_scores", &s, &c);
    const char *out = TMP "_rotary_scores.gguf";
    assert_int_equal(convert(dir, out, GGML_F32), LVK_OK);
    gguf_file *f;
    assert_int_equal(gguf_open(out, &f), LVK_OK);
    const int d = 16, n_q = 64, n_kv = 32;
    const float *wq_hf = find_source(&c, "model.layers.1.self_attn.q_proj.weight")->values;
    const float *wk_hf = find_source(&c, "model.layers.1.self_attn.k_proj.weight")->values;
    const float *wq = gguf_find_tensor(f, "blk.1.attn_q.weight")->data, *wk = gguf_find_tensor(f, "blk.1.attn_k.weight")->data;
    float x[64], y[64], q_hf[64], k_hf[32], q[64], k[32];
    uint64_t rng = 7;
    for (int i = 0; i < 64; i++) x[i] = synth_uniform(&rng), y[i] = synth_uniform(&rng);
    matvec(wq_hf, x, q_hf, n_q, 64);
    matvec(wk_hf, y, k_hf, n_kv, 64);
    matvec(wq, x, q, n_q, 64);
    matvec(wk, y, k, n_kv, 64);
    for (int h = 0; h < n_q / d; h++) rope_halves(q_hf + h * d, d, 37, 500000.0f), rope_pairs(q + h * d, d, 37, 500000.0f);
    for (int h = 0; h < n_kv / d; h++) rope_halves(k_hf + h * d, d, 5, 500000.0f), rope_pairs(k + h * d, d, 5, 500000.0f);
    for (int h = 0; h < n_q / d; h++) {
        int g = h / 2; /* two query heads per key/value head */
        double score_hf = 0, score = 0;
        for (int i = 0; i < d; i++) {
            score_hf += (double)q_hf[h * d + i] * k_hf[g * d + i];
            score += (double)q[h * d + i] * k[g * d + i];
        }
        if (fabs(score_hf - score) > 1e-5) fail_msg("head %d: score %.8f the Hugging Face way, %.8f the GGUF way", h, score_hf, score);
    }
    gguf_close(f);
    checkpoint_free(&c);
}

/* Llama 3.1's RoPE scaling becomes rope_freqs.weight, the values llama.cpp's
 * converter computes (these are its output for this configuration). */
static void test_llama3_rope_freqs(void **state) {
    (void)state;
    spec s = llama_spec();
    s.heads = 2;
    s.kv_heads = 1; /* heads of 32: 16 frequencies */
    s.rope_scaling = "{\"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 32.0,"
                     " \"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"}";
    checkpoint c;
    const char *dir = write_checkpoint("llama3_rope", &s, &c);
    const char *out = TMP "_llama3_rope.gguf";
    assert_int_equal(convert(dir, out, GGML_F32), LVK_OK);
    check_tensors(out, &s, &c, GGML_F32, 1);
    static const float expected[16] = {1, 1, 1, 1, 1, 1.41600835f, 2.73860359f, 4.65207672f, 6.71960449f,
                                       8, 8, 8, 8, 8, 8, 8};
    gguf_file *f;
    assert_int_equal(gguf_open(out, &f), LVK_OK);
    const gguf_tensor *t = gguf_find_tensor(f, "rope_freqs.weight");
    assert_non_null(t);
    assert_int_equal(t->type, GGML_F32);
    assert_int_equal(t->n_dims, 1);
    assert_int_equal(t->ne[0], 16);
    for (int i = 0; i < 16; i++) {
        float got = ((const float *)t->data)[i];
        if (fabsf(got - expected[i]) > 2e-7f * expected[i]) fail_msg("rope_freqs[%d] is %.9g, expected %.9g", i, got, expected[i]);
    }
    assert_null(gguf_find(f, "llama.rope.scaling.type")); /* llama3 scaling is the tensor only, as llama.cpp */
    /* the runtime loads the factors and divides RoPE's angles by them */
    host_model *m;
    assert_int_equal(host_model_from_gguf(f, &m), LVK_OK); /* m owns f */
    assert_non_null(m->hp.rope_factors);
    for (int i = 0; i < 16; i++) {
        float plain = powf(m->hp.rope_base, -(float)(2 * i) / (float)m->hp.rope_dim);
        if (fabsf(rope_angle(&m->hp, 1, i) - plain / expected[i]) > 1e-6f * plain)
            fail_msg("RoPE angle of pair %d: %g, expected %g", i, rope_angle(&m->hp, 1, i), plain / expected[i]);
    }
    host_model_free(m);

    /* linear scaling is metadata */
    s.rope_scaling = "{\"type\": \"linear\", \"factor\": 4.0}";
    write_config(dir, &s);
    assert_int_equal(convert(dir, out, GGML_F32), LVK_OK);
    assert_int_equal(gguf_open(out, &f), LVK_OK);
    expect_str(f, "llama.rope.scaling.type", "linear");
    expect_f32(f, "llama.rope.scaling.factor", 4.0f);
    assert_null(gguf_find_tensor(f, "rope_freqs.weight"));
    gguf_close(f);
    checkpoint_free(&c);
}

/* A head_dim that is not hidden_size / heads is written as the key and value length. */
static void test_head_dim(void **state) {
    (void)state;
    spec s = llama_spec();
    checkpoint c;
    const char *dir = write_checkpoint("head_dim", &s, &c);
    /* the same tensors, described with heads of 32 (2 heads, 1 key/value head: q is 64 rows either way) */
    char json[1024];
    snprintf(json, sizeof json,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 80,"
             " \"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"head_dim\": 32, \"num_hidden_layers\": 2,"
             " \"vocab_size\": 270}");
    write_text(dir, "config.json", json);
    const char *out = TMP "_head_dim.gguf";
    assert_int_equal(convert(dir, out, GGML_F32), LVK_OK);
    gguf_file *f;
    assert_int_equal(gguf_open(out, &f), LVK_OK);
    assert_null(gguf_find(f, "llama.attention.key_length")); /* 32 is 64 / 2: nothing to say */
    expect_u32(f, "llama.rope.dimension_count", 32);
    gguf_close(f);
    /* 4 heads of 16 described as 2 heads of 32 = 64 rows... now 4 heads of 32 cannot be the 64-row q */
    snprintf(json, sizeof json,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 80,"
             " \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"head_dim\": 32, \"num_hidden_layers\": 2,"
             " \"vocab_size\": 270}");
    write_text(dir, "config.json", json);
    assert_int_equal(convert(dir, out, GGML_F32), LVK_ERR_FORMAT);
    assert_non_null(strstr(lvk_last_error(), "tensor 'model.layers.0.self_attn.q_proj.weight' is [64, 64], but config.json makes it [128, 64]"));
    checkpoint_free(&c);

    /* wider heads than hidden_size / heads: key_length and value_length */
    s.heads = 2;
    s.kv_heads = 1;
    make_sources(&s, &c);
    for (int i = 0; i < c.n; i++) { /* q is 2 x 48 = 96 rows, k and v 48, o 96 columns */
        source *t = &c.t[i];
        if (strstr(t->name, "q_proj.weight")) t->shape[0] = 96;
        else if (strstr(t->name, "k_proj.weight") || strstr(t->name, "v_proj.weight")) t->shape[0] = 48;
        else if (strstr(t->name, "o_proj.weight")) t->shape[1] = 96;
        else continue;
        free(t->values);
        t->values = calloc(t->shape[0] * t->shape[1], sizeof *t->values);
    }
    write_safetensors(dir, &s, &c, NULL);
    snprintf(json, sizeof json,
             "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64, \"intermediate_size\": 80,"
             " \"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"head_dim\": 48, \"num_hidden_layers\": 2,"
             " \"vocab_size\": 270}");
    write_text(dir, "config.json", json);
    assert_int_equal(convert(dir, out, GGML_F32), LVK_OK);
    assert_int_equal(gguf_open(out, &f), LVK_OK);
    expect_u32(f, "llama.attention.key_length", 48);
    expect_u32(f, "llama.attention.value_length", 48);
    expect_u32(f, "llama.rope.dimension_count", 48);
    gguf_close(f);
    checkpoint_free(&c);
}

/* Shards through model.safetensors.index.json, and vocab-only files (with no
 * config.json: the vocabulary alone). */
static void test_sharded_and_vocab_only(void **state) {
    (void)state;
    spec s = llama_spec();
    checkpoint c;
    const char *dir = write_checkpoint("sharded", &s, &c);
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    remove(path);
    /* the first four tensors in one shard, the rest in another */
    checkpoint first = {.n = 4}, second = {.n = c.n - 4};
    memcpy(first.t, c.t, 4 * sizeof *c.t);
    memcpy(second.t, c.t + 4, (size_t)(c.n - 4) * sizeof *c.t);
    hf_tensor t[64];
    void *data[64];
    FILE *index;
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    assert_non_null(index = fopen(path, "w"));
    fprintf(index, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
    const checkpoint *parts[] = {&first, &second};
    for (int p = 0; p < 2; p++) {
        for (int i = 0; i < parts[p]->n; i++) {
            data[i] = encode(&s, &parts[p]->t[i]);
            t[i] = (hf_tensor){.name = parts[p]->t[i].name, .dtype = s.dtype, .n_dims = parts[p]->t[i].n_dims,
                               .shape = {parts[p]->t[i].shape[0], parts[p]->t[i].shape[1]}, .data = data[i]};
            fprintf(index, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"", p || i ? ", " : "", t[i].name, p + 1);
        }
        char shard[64];
        snprintf(shard, sizeof shard, "model-0000%d-of-00002.safetensors", p + 1);
        assert_int_equal(hf_write_safetensors(dir, shard, t, parts[p]->n), 0);
        for (int i = 0; i < parts[p]->n; i++) free(data[i]);
    }
    fprintf(index, "}}\n");
    fclose(index);
    const char *out = TMP "_sharded.gguf";
    assert_int_equal(convert(dir, out, GGML_F32), LVK_OK);
    check_tensors(out, &s, &c, GGML_F32, 0);

    convert_hf_params vocab_only = {.out_type = GGML_F16, .vocab_only = 1};
    assert_int_equal(convert_hf(dir, out, &vocab_only), LVK_OK);
    gguf_file *f;
    assert_int_equal(gguf_open(out, &f), LVK_OK);
    assert_int_equal(f->n_tensors, 0);
    expect_str(f, "general.architecture", "llama");
    expect_u32(f, "llama.block_count", 2);
    expect_array(f, "tokenizer.ggml.tokens", GGUF_STRING, 270);
    gguf_close(f);
    snprintf(path, sizeof path, "%s/config.json", dir);
    remove(path);
    assert_int_equal(convert_hf(dir, out, &vocab_only), LVK_OK);
    assert_int_equal(gguf_open(out, &f), LVK_OK);
    assert_null(gguf_find(f, "general.architecture"));
    expect_str(f, "general.name", "test_convert_hf_sharded");
    expect_array(f, "tokenizer.ggml.tokens", GGUF_STRING, 263); /* no vocab_size to pad to */
    gguf_close(f);
    checkpoint_free(&c);
}

/* ---- broken checkpoints ---------------------------------------------------------------- */

/* The conversion fails with `status` and a one-line message holding `part`,
 * leaves no output and no allocation behind. */
static void expect_failure(const char *dir, lvk_status status, const char *part) {
    const char *out = TMP "_failed.gguf";
    remove(out);
    int64_t before = mem_alloc_outstanding();
    lvk_status s = convert(dir, out, GGML_F16);
    if (s != status) fail_msg("status %d, expected %d: %s", s, status, lvk_last_error());
    if (!strstr(lvk_last_error(), part)) fail_msg("error '%s' lacks '%s'", lvk_last_error(), part);
    assert_null(strchr(lvk_last_error(), '\n'));
    assert_int_equal(mem_alloc_outstanding(), before);
    assert_int_equal(access(out, F_OK), -1);
}

static void test_errors(void **state) {
    (void)state;
    spec s = llama_spec();
    checkpoint c;
    const char *dir = write_checkpoint("broken", &s, &c);
    char path[600];

    /* truncated safetensors */
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size - 100), 0);
    expect_failure(dir, LVK_ERR_FORMAT, "model.safetensors: tensor 'model.layers.1.mlp.down_proj.weight': data_offsets");
    assert_int_equal(truncate(path, 5), 0);
    expect_failure(dir, LVK_ERR_FORMAT, "model.safetensors: the file is truncated: 5 bytes");
    remove(path);
    expect_failure(dir, LVK_ERR_IO, "has neither model.safetensors nor model.safetensors.index.json");

    /* a config.json that contradicts the tensors */
    write_safetensors(dir, &s, &c, NULL);
    spec wide = s;
    wide.hidden = 128;
    write_config(dir, &wide);
    expect_failure(dir, LVK_ERR_FORMAT, "tensor 'model.embed_tokens.weight' is [270, 64], but config.json makes it [270, 128]");
    spec fewer = s;
    fewer.ff = 96;
    write_config(dir, &fewer);
    expect_failure(dir, LVK_ERR_FORMAT, "tensor 'model.layers.0.mlp.gate_proj.weight' is [80, 64], but config.json makes it [96, 64]");
    spec more_layers = s;
    more_layers.layers = 3;
    write_config(dir, &more_layers);
    expect_failure(dir, LVK_ERR_FORMAT, "the checkpoint has no tensor 'model.layers.2.input_layernorm.weight'");
    spec tied = s;
    tied.tied = 1; /* lm_head.weight is then dropped, as llama.cpp does */
    write_config(dir, &tied);
    assert_int_equal(convert(dir, TMP "_tied.gguf", GGML_F32), LVK_OK);
    spec small_vocab = s;
    small_vocab.vocab = 200;
    write_config(dir, &small_vocab);
    expect_failure(dir, LVK_ERR_FORMAT, "config.json's vocab_size 200 is too small for");
    spec neox = s;
    neox.architecture = "GPTNeoXForCausalLM";
    write_config(dir, &neox);
    expect_failure(dir, LVK_ERR_UNSUPPORTED,
                   "architecture 'GPTNeoXForCausalLM' is not supported (LiteVK converts LlamaForCausalLM, Qwen2ForCausalLM)");
    write_config(dir, &s);

    /* tensors the conversion has no place for, or cannot read */
    checkpoint extra = c;
    extra.t[extra.n] = (source){.name = "model.layers.0.self_attn.q_norm.weight", .n_dims = 1, .shape = {16}, .values = c.t[1].values};
    extra.n++;
    write_safetensors(dir, &s, &extra, NULL);
    expect_failure(dir, LVK_ERR_UNSUPPORTED, "holds tensor 'model.layers.0.self_attn.q_norm.weight', which is not part of a LlamaForCausalLM");
    spec ints = s;
    ints.dtype = "I32";
    write_safetensors(dir, &ints, &c, NULL);
    expect_failure(dir, LVK_ERR_UNSUPPORTED, "tensor 'model.embed_tokens.weight' is I32; LiteVK converts F32, F16 and BF16 tensors");
    write_safetensors(dir, &s, &c, NULL);

    /* the vocabulary */
    char *json = tokenizer_json(&s, LLAMA3_REGEX_JSON);
    char *bad = strstr(json, "\"h e\"");
    assert_non_null(bad);
    memcpy(bad, "\"h q\"", 5);
    write_text(dir, "tokenizer.json", json);
    expect_failure(dir, LVK_ERR_FORMAT, "tokenizer.json: merge 1 'h q' makes 'hq', which is not a token");
    free(json);
    json = tokenizer_json(&s, LLAMA3_REGEX_JSON);
    bad = strstr(json, "\"i n\"");
    memcpy(bad, "\"i ~\"", 5);
    memcpy(strstr(json, "\"~\": 126"), "\"Q\"", 3); /* '~' is no token any more */
    write_text(dir, "tokenizer.json", json);
    expect_failure(dir, LVK_ERR_FORMAT, "tokenizer.json: merge 3 'i ~' names '~', which is not a token");
    free(json);
    json = tokenizer_json(&s, "\\\\w+|[^\\\\w\\\\s]+");
    write_text(dir, "tokenizer.json", json);
    expect_failure(dir, LVK_ERR_UNSUPPORTED, "the pre-tokenizer's regular expression '\\w+|[^\\w\\s]+' is not one LiteVK knows");
    free(json);
    write_text(dir, "tokenizer.json", "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}");
    expect_failure(dir, LVK_ERR_UNSUPPORTED, "model type 'WordPiece' is not supported (LiteVK converts BPE models)");
    write_text(dir, "tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []},"
                                      " \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}");
    expect_failure(dir, LVK_ERR_FORMAT, "tokens 'a' and 'b' both have id 0");
    write_text(dir, "tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []},\n"
                                      " \"pre_tokenizer\": {\"type\": \"Whitespace\"}}");
    expect_failure(dir, LVK_ERR_UNSUPPORTED, "pre-tokenizer step 'Whitespace' is not one LiteVK can reproduce");
    write_text(dir, "tokenizer.json", "{\"model\": {\"type\": \"BPE\",\n \"vocab\": {\"a\": \"0\"}}}");
    expect_failure(dir, LVK_ERR_FORMAT, "tokenizer.json:2: expected an integer, found '\"'");
    write_tokenizer(dir, &s);
    write_text(dir, "tokenizer_config.json", "{\"bos_token\": 5}");
    expect_failure(dir, LVK_ERR_FORMAT, "tokenizer_config.json:1: a special token must be a string");

    /* missing files */
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    remove(path); /* optional */
    assert_int_equal(convert(dir, TMP "_no_tokenizer_config.gguf", GGML_F32), LVK_OK);
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    remove(path);
    expect_failure(dir, LVK_ERR_IO, "has no tokenizer.json (LiteVK converts the vocabulary from it)");
    write_text(dir, "tokenizer.model", "not read");
    expect_failure(dir, LVK_ERR_IO, "only tokenizer.model (SentencePiece's), which LiteVK does not read");
    write_tokenizer(dir, &s);
    snprintf(path, sizeof path, "%s/config.json", dir);
    remove(path);
    expect_failure(dir, LVK_ERR_IO, "has no config.json");
    expect_failure(TMP "_no_such_dir", LVK_ERR_IO, "has no config.json");
    write_config(dir, &s);

    /* the output must not be an input */
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    convert_hf_params p = {.out_type = GGML_F32};
    assert_int_equal(convert_hf(dir, path, &p), LVK_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(lvk_last_error(), "is one of the checkpoint's safetensors files"));
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    assert_int_equal(convert_hf(dir, path, &p), LVK_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(lvk_last_error(), "is the checkpoint's tokenizer.json"));
    p.out_type = GGML_Q3_K;
    assert_int_equal(convert_hf(dir, TMP "_x.gguf", &p), LVK_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(lvk_last_error(), "cannot convert to q3_k: choose f32, f16"));
    checkpoint_free(&c);
}

/* Every allocation of a conversion can fail: LVK_ERR_OUT_OF_MEMORY, nothing
 * leaks, no file is left. */
static void test_out_of_memory(void **state) {
    (void)state;
    spec s = qwen2_spec();
    s.layers = 1;
    checkpoint c;
    const char *dir = write_checkpoint("oom", &s, &c);
    const char *out = TMP "_oom.gguf";
    int failures = 0;
    for (uint64_t n = 1;; n++) {
        remove(out);
        int64_t before = mem_alloc_outstanding();
        mem_alloc_fail_at(n);
        lvk_status st = convert(dir, out, GGML_Q8_0);
        mem_alloc_fail_at(0);
        assert_int_equal(mem_alloc_outstanding(), before);
        if (st == LVK_OK) break;
        if (st != LVK_ERR_OUT_OF_MEMORY) fail_msg("allocation %llu: status %d: %s", (unsigned long long)n, st, lvk_last_error());
        assert_int_equal(access(out, F_OK), -1);
        failures++;
    }
    print_message("%d allocations failed in turn\n", failures);
    assert_true(failures > 100);
    checkpoint_free(&c);
}

/* The progress callback sees every tensor once, in order. */
typedef struct progress_log {
    uint64_t calls, last_done, total;
} progress_log;

static void log_progress(uint64_t done, uint64_t total, const char *tensor, void *user) {
    progress_log *log = user;
    assert_int_equal(done, log->calls);
    assert_true(tensor && *tensor);
    log->calls++;
    log->last_done = done;
    log->total = total;
}

static void test_progress(void **state) {
    (void)state;
    spec s = llama_spec();
    checkpoint c;
    const char *dir = write_checkpoint("progress", &s, &c);
    progress_log log = {0};
    convert_hf_params p = {.out_type = GGML_F32, .progress = log_progress, .progress_user = &log};
    assert_int_equal(convert_hf(dir, TMP "_progress.gguf", &p), LVK_OK);
    assert_int_equal(log.total, (uint64_t)c.n);
    assert_int_equal(log.calls, (uint64_t)c.n);
    checkpoint_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama),          cmocka_unit_test(test_llama_variants),
        cmocka_unit_test(test_qwen2),          cmocka_unit_test(test_rotary_rows_by_hand),
        cmocka_unit_test(test_rotary_attention_scores), cmocka_unit_test(test_llama3_rope_freqs),
        cmocka_unit_test(test_head_dim),       cmocka_unit_test(test_sharded_and_vocab_only),
        cmocka_unit_test(test_errors),         cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
