/* cmd_info.c — `litevk info`: what is in a model file. Needs no device. */
#include "cli.h"
#include "model/model.h"
#include "status.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: litevk info [-m MODEL]\n"
    "\n"
    "Prints a GGUF model's hyper-parameters, tensor types and sizes, vocabulary and tokenizer,\n"
    "and any litevk.* metadata. Reads the file only; no device is used.\n";

static void print_value(const gguf_value *v) {
    switch (v->type) {
    case GGUF_STRING: printf("\"%.*s\"", v->v.str.len > 80 ? 80 : (int)v->v.str.len, v->v.str.ptr); break;
    case GGUF_FLOAT32: case GGUF_FLOAT64: printf("%g", v->v.f64); break;
    case GGUF_INT8: case GGUF_INT16: case GGUF_INT32: case GGUF_INT64: printf("%lld", (long long)v->v.i64); break;
    case GGUF_ARRAY:
        printf("[%llu x %s]", (unsigned long long)v->arr_count, gguf_value_type_name(v->arr_type));
        if (v->arr_type != GGUF_STRING && v->arr_type != GGUF_ARRAY && v->arr_count && v->arr_count <= 16) {
            printf(" =");
            for (uint64_t i = 0; i < v->arr_count; i++) printf(" %g", gguf_arr_num(v, i));
        }
        break;
    default: printf("%llu", (unsigned long long)v->v.u64); break;
    }
}

/* A token id, or "none" for -1. */
static const char *token_id(int id, char buf[16]) {
    if (id < 0) return "none";
    snprintf(buf, 16, "%d", id);
    return buf;
}

static void print_tokenizer(const text_tokenizer *t) {
    static const char *const added[4] = {"nothing", "BOS", "EOS", "BOS and EOS"};
    const char *pre = tokenizer_pre_name(t);
    printf("tokenizer:      %s (%s)", tokenizer_model_name(t), pre ? "byte-level BPE" : "SentencePiece BPE");
    if (pre) printf(", pre-tokenizer %s", pre);
    printf(", adds %s\n", added[tokenizer_adds_bos(t) | tokenizer_adds_eos(t) << 1]);
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
    host_model *m;
    if (host_model_open(path, &m) != LVK_OK) return cli_error("%s", lvk_last_error());
    const model_hparams *hp = &m->hp;
    const gguf_file *f = m->file;
    printf("file:           %s (GGUF v%u, %.2f MiB)\n", path, f->version, f->size / 1048576.0);
    printf("name:           %s\n", m->name[0] ? m->name : "(none)");
    printf("architecture:   %s%s\n", hp->arch->name, hp->arch->qkv_bias ? " (Q/K/V biases)" : "");
    printf("blocks:         %d\n", hp->n_layers);
    printf("embedding:      %d\n", hp->n_embd);
    printf("heads:          %d query, %d key/value (head dim %d%s)\n", hp->n_heads, hp->n_kv_heads, hp->head_dim,
           hp->n_kv_heads < hp->n_heads ? ", grouped-query" : "");
    printf("feed-forward:   %d\n", hp->n_ff);
    char bos[16], eos[16];
    printf("vocabulary:     %d tokens (BOS %s, EOS %s)\n", hp->n_vocab, token_id(tokenizer_bos(m->tokenizer), bos),
           token_id(tokenizer_eos(m->tokenizer), eos));
    print_tokenizer(m->tokenizer);
    printf("context:        %d (training)\n", hp->n_ctx_train);
    printf("rope:           base %g, %d of %d dims, %s order", hp->rope_base, hp->rope_dim, hp->head_dim,
           hp->arch->rope_neox ? "NeoX" : "LLaMA");
    if (hp->rope_freq_scale != 1.0f) printf(", linear scaling x%g", 1.0 / hp->rope_freq_scale);
    if (hp->rope_factors) printf(", frequency factors (rope_freqs)");
    printf("\n");
    printf("rms epsilon:    %g\n", hp->rms_eps);
    printf("output:         %s\n", m->output_tied ? "tied to the embedding" : "separate matrix");

    uint64_t count[64] = {0}, bytes[64] = {0}, params = 0, total = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        uint32_t ty = t->type < 64 ? t->type : 63;
        count[ty]++;
        bytes[ty] += t->n_bytes;
        params += t->n_elements;
        total += t->n_bytes;
    }
    printf("tensors:        %llu, %.3f M parameters, %.2f MiB\n", (unsigned long long)f->n_tensors, params / 1e6,
           total / 1048576.0);
    for (uint32_t ty = 0; ty < 64; ty++)
        if (count[ty])
            printf("  %-6s        %llu tensors, %.2f MiB\n", ggml_type_name(ty), (unsigned long long)count[ty],
                   bytes[ty] / 1048576.0);
    int any = 0;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        if (kv->key.len < 7 || memcmp(kv->key.ptr, "litevk.", 7)) continue;
        if (!any++) printf("litevk metadata:\n");
        printf("  %.*s = ", (int)kv->key.len, kv->key.ptr);
        print_value(&kv->value);
        putchar('\n');
    }
    if (!any) printf("litevk metadata: none\n");
    printf("all metadata:   %llu keys\n", (unsigned long long)f->n_kv);
    for (uint64_t i = 0; i < f->n_kv; i++) {
        printf("  %.*s = ", (int)f->kv[i].key.len, f->kv[i].key.ptr);
        print_value(&f->kv[i].value);
        putchar('\n');
    }
    host_model_free(m);
    return 0;
}
