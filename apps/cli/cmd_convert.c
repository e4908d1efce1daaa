/* cmd_convert.c — `litevk convert`: llama2.c checkpoint + tokenizer -> GGUF. */
#include "cli.h"
#include "convert.h"
#include "gguf.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: litevk convert CHECKPOINT TOKENIZER -o OUT.gguf [--type f32|f16|q8_0|q4_0|q4_k|q6_k]\n"
    "\n"
    "Converts a llama2.c checkpoint (.bin, run.c's format) and its tokenizer (.bin) into a\n"
    "LLaMA GGUF with the same tensors and vocabulary as llama.cpp's converter writes.\n"
    "Norm weights stay f32; matrices get --type (default f32), or f16 where a row is not\n"
    "a whole number of the type's blocks (32 weights, 256 for q4_k and q6_k).\n";

static const struct { const char *name; uint32_t type; } types[] = {
    {"f32", GGML_F32}, {"f16", GGML_F16}, {"q8_0", GGML_Q8_0}, {"q4_0", GGML_Q4_0},
    {"q4_k", GGML_Q4_K}, {"q6_k", GGML_Q6_K}};

typedef struct convert_options {
    const char *in[2], *out;
    int type; /* index into types */
} convert_options;

/* 0, -1 after --help, 2 after a usage error. */
static int parse(int argc, char **argv, convert_options *o) {
    *o = (convert_options){0};
    const char *type = "f32";
    int n_in = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(help, stdout); return -1; }
        if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
            if (!(o->out = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(argv[i], "--type")) {
            if (!(type = cli_value(argc, argv, &i))) return 2;
        } else if (argv[i][0] != '-' && n_in < 2) {
            o->in[n_in++] = argv[i];
        } else {
            return cli_usage_error("convert", "unexpected argument '%s'", argv[i]);
        }
    }
    if (n_in < 2 || !o->out) return cli_usage_error("convert", "needs CHECKPOINT, TOKENIZER and -o OUT");
    o->type = -1;
    for (int i = 0; i < (int)(sizeof types / sizeof types[0]); i++)
        if (!strcmp(type, types[i].name)) o->type = i;
    if (o->type < 0) return cli_usage_error("convert", "unknown --type '%s'", type);
    return 0;
}

int cmd_convert_check(int argc, char **argv) {
    convert_options o;
    return parse(argc, argv, &o);
}

int cmd_convert(int argc, char **argv) {
    convert_options o;
    int r = parse(argc, argv, &o);
    if (r) return r < 0 ? 0 : r;
    if (lvk_convert_llama2c(o.in[0], o.in[1], o.out, types[o.type].type) != LVK_OK)
        return cli_error("%s", lvk_last_error());
    fprintf(stderr, "litevk: wrote %s (%s)\n", o.out, types[o.type].name);
    return 0;
}
