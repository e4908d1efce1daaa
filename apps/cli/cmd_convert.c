/* cmd_convert.c — `litevk convert`: llama2.c checkpoint + tokenizer -> GGUF. */
#include "cli.h"
#include "convert.h"
#include "gguf.h"
#include "quant.h"

#include <stdio.h>
#include <string.h>

static void print_help(void) {
    printf("usage: litevk convert CHECKPOINT TOKENIZER -o OUT.gguf [--type %s]\n"
           "\n"
           "Converts a llama2.c checkpoint (.bin, run.c's format) and its tokenizer (.bin) into a\n"
           "LLaMA GGUF with the same tensors and vocabulary as llama.cpp's converter writes.\n"
           "Norm weights stay f32; matrices get --type (default f32), or f16 where a row is not\n"
           "a whole number of the type's blocks (32 weights, 256 for the k-quants).\n",
           lvk_weight_type_names("|", "|"));
}

typedef struct convert_options {
    const char *in[2], *out;
    uint32_t type;
} convert_options;

/* 0, -1 after --help, 2 after a usage error. */
static int parse(int argc, char **argv, convert_options *o) {
    *o = (convert_options){0};
    const char *type = "f32";
    int n_in = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { print_help(); return -1; }
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
    for (int i = 0; i < LVK_N_WEIGHT_TYPES; i++)
        if (!strcmp(type, ggml_type_name(lvk_weight_types[i]))) {
            o->type = lvk_weight_types[i];
            return 0;
        }
    return cli_usage_error("convert", "unknown --type '%s' (%s)", type, lvk_weight_type_names(", ", ", "));
}

int cmd_convert_check(int argc, char **argv) {
    convert_options o;
    return parse(argc, argv, &o);
}

int cmd_convert(int argc, char **argv) {
    convert_options o;
    int r = parse(argc, argv, &o);
    if (r) return r < 0 ? 0 : r;
    if (lvk_convert_llama2c(o.in[0], o.in[1], o.out, o.type) != LVK_OK)
        return cli_error("%s", lvk_last_error());
    fprintf(stderr, "litevk: wrote %s (%s)\n", o.out, ggml_type_name(o.type));
    return 0;
}
