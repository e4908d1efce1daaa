/* cmd_info.c — `litevk info`: what is in a model file. Needs no device. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: litevk info [-m MODEL]\n"
    "\n"
    "Prints a GGUF model's hyper-parameters, tensor types and sizes, vocabulary and tokenizer,\n"
    "and any litevk.* metadata. Reads the file only; no device is used.\n";

/* A number as the file stores it: floats with %g, integers exactly. */
static void print_number(const lvk_meta_value *v) {
    switch (v->type) {
    case LVK_VALUE_FLOAT32: case LVK_VALUE_FLOAT64: printf("%g", v->f); break;
    case LVK_VALUE_INT8: case LVK_VALUE_INT16: case LVK_VALUE_INT32: case LVK_VALUE_INT64:
        printf("%lld", (long long)v->i);
        break;
    default: printf("%llu", (unsigned long long)v->u); break;
    }
}

/* Metadata key `index`'s value: a string up to 80 bytes, an array's type and
 * size (and its numbers, up to 16). */
static void print_value(const lvk_model *m, uint64_t index, const lvk_meta_value *v) {
    if (v->type == LVK_VALUE_STRING) {
        printf("\"%.*s\"", v->str_len > 80 ? 80 : (int)v->str_len, v->str);
    } else if (v->type == LVK_VALUE_ARRAY) {
        printf("[%llu x %s]", (unsigned long long)v->array_count, lvk_value_type_name(v->array_type));
        if (v->array_type != LVK_VALUE_STRING && v->array_type != LVK_VALUE_ARRAY && v->array_count &&
            v->array_count <= 16) {
            printf(" =");
            for (uint64_t i = 0; i < v->array_count; i++) {
                lvk_meta_value e;
                if (lvk_model_meta_element(m, index, i, &e) == LVK_OK) printf(" %g", e.f);
            }
        }
    } else {
        print_number(v);
    }
}

/* A token id, or "none" for -1. */
static const char *token_id(int id, char buf[16]) {
    if (id < 0) return "none";
    snprintf(buf, 16, "%d", id);
    return buf;
}

static void print_tokenizer(const lvk_model_info *info) {
    static const char *const added[4] = {"nothing", "BOS", "EOS", "BOS and EOS"};
    const int byte_level = info->pre_tokenizer[0] != 0;
    printf("tokenizer:      %s (%s)", info->tokenizer, byte_level ? "byte-level BPE" : "SentencePiece BPE");
    if (byte_level) printf(", pre-tokenizer %s", info->pre_tokenizer);
    printf(", adds %s\n", added[info->adds_bos | info->adds_eos << 1]);
}

/* Whether metadata key `index` starts with `prefix`. */
static int key_has_prefix(const lvk_model *m, uint64_t index, const char *prefix) {
    lvk_meta_entry kv;
    size_t n = strlen(prefix);
    return lvk_model_meta(m, index, &kv) == LVK_OK && kv.key_len >= n && !memcmp(kv.key, prefix, n);
}

/* "  key = value" for metadata key `index`. */
static void print_key(const lvk_model *m, uint64_t index) {
    lvk_meta_entry kv;
    if (lvk_model_meta(m, index, &kv) != LVK_OK) return;
    printf("  %.*s = ", (int)kv.key_len, kv.key);
    print_value(m, index, &kv.value);
    putchar('\n');
}

/* The model's path from the options: 0, -1 after --help, 2 after a usage error. */
static int parse(int argc, char **argv, const char **path) {
    *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(help, stdout); return -1; }
        if (!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) {
            if (!(*path = cli_value(argc, argv, &i))) return 2;
        } else if (argv[i][0] != '-' && !*path) {
            *path = argv[i];
        } else {
            return cli_usage_error("info", "unknown option '%s'", argv[i]);
        }
    }
    if (!*path) *path = cli_default_model();
    return 0;
}

int cmd_info_check(int argc, char **argv) {
    const char *path;
    return parse(argc, argv, &path);
}

int cmd_info(int argc, char **argv) {
    const char *path;
    int r = parse(argc, argv, &path);
    if (r) return r < 0 ? 0 : r;
    lvk_model_params params = lvk_model_default_params();
    params.inspect_only = 1; /* the file alone: no device */
    lvk_model *m;
    if (lvk_model_load(NULL, path, &params, &m) != LVK_OK) return cli_error("%s", lvk_last_error());
    lvk_model_info info;
    lvk_model_get_info(m, &info);
    printf("file:           %s (GGUF v%u, %.2f MiB)\n", path, info.file_version, info.file_bytes / 1048576.0);
    printf("name:           %s\n", info.name[0] ? info.name : "(none)");
    printf("architecture:   %s%s\n", info.architecture, info.qkv_bias ? " (Q/K/V biases)" : "");
    printf("blocks:         %d\n", info.n_layers);
    printf("embedding:      %d\n", info.n_embd);
    printf("heads:          %d query, %d key/value (head dim %d%s)\n", info.n_heads, info.n_kv_heads, info.head_dim,
           info.n_kv_heads < info.n_heads ? ", grouped-query" : "");
    printf("feed-forward:   %d\n", info.n_ff);
    char bos[16], eos[16];
    printf("vocabulary:     %d tokens (BOS %s, EOS %s)\n", info.n_vocab, token_id(info.bos_id, bos),
           token_id(info.eos_id, eos));
    print_tokenizer(&info);
    printf("context:        %d (training)\n", info.n_ctx_train);
    printf("rope:           base %g, %d of %d dims, %s order", info.rope_base, info.rope_dim, info.head_dim,
           info.rope_neox ? "NeoX" : "LLaMA");
    if (info.rope_freq_scale != 1.0f) printf(", linear scaling x%g", 1.0 / info.rope_freq_scale);
    if (info.rope_freq_factors) printf(", frequency factors (rope_freqs)");
    printf("\n");
    printf("rms epsilon:    %g\n", info.rms_eps);
    printf("output:         %s\n", info.output_tied ? "tied to the embedding" : "separate matrix");

    uint64_t count[64] = {0}, bytes[64] = {0};
    const uint64_t n_tensors = lvk_model_tensor_count(m);
    for (uint64_t i = 0; i < n_tensors; i++) {
        lvk_tensor_info t;
        lvk_model_tensor(m, i, &t);
        uint32_t ty = t.type < 64 ? t.type : 63;
        count[ty]++;
        bytes[ty] += t.n_bytes;
    }
    printf("tensors:        %llu, %.3f M parameters, %.2f MiB\n", (unsigned long long)n_tensors, info.n_params / 1e6,
           info.weight_bytes / 1048576.0);
    for (uint32_t ty = 0; ty < 64; ty++)
        if (count[ty])
            printf("  %-6s        %llu tensors, %.2f MiB\n", lvk_type_name(ty), (unsigned long long)count[ty],
                   bytes[ty] / 1048576.0);
    const uint64_t n_kv = lvk_model_meta_count(m);
    int any = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        if (!key_has_prefix(m, i, "litevk.")) continue;
        if (!any++) printf("litevk metadata:\n");
        print_key(m, i);
    }
    if (!any) printf("litevk metadata: none\n");
    printf("all metadata:   %llu keys\n", (unsigned long long)n_kv);
    for (uint64_t i = 0; i < n_kv; i++) print_key(m, i);
    lvk_model_free(m);
    return 0;
}
