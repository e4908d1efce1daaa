/* cmd_tokenize.c — `litevk tokenize`: the token ids of a text, as
 * llama.cpp's llama-tokenize prints them. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: litevk tokenize [-m MODEL] -p TEXT [--json] [--special] [--no-bos]\n"
    "\n"
    "Prints the token ids of TEXT with the model's tokenizer, one per line. BOS comes first\n"
    "(and EOS last) as the model's metadata wants them, as llama-tokenize adds them.\n"
    "\n"
    "  -m, --model PATH     GGUF model (default: the TinyStories model in assets/)\n"
    "  -p, --prompt TEXT    the text (UTF-8); required\n"
    "      --json           one line {\"ids\":[...]} instead\n"
    "      --special        control tokens written in the text (\"<s>\", \"<|im_end|>\") become\n"
    "                       those tokens; without it they are tokenized as plain text\n"
    "      --no-bos         no BOS (nor EOS), whatever the model wants\n"
    "      --device D       Vulkan device index or name substring (the model is loaded on it)\n"
    "  -h, --help           this text\n";

typedef struct tokenize_options {
    const char *model, *text, *device;
    int json, special, no_bos;
} tokenize_options;

static int parse(int argc, char **argv, tokenize_options *o) {
    *o = (tokenize_options){0};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
#define VALUE() if (!(v = cli_value(argc, argv, &i))) return 2
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(help, stdout); return -1; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VALUE(); o->model = v; }
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) { VALUE(); o->text = v; }
        else if (!strcmp(a, "--device")) { VALUE(); o->device = v; }
        else if (!strcmp(a, "--json")) o->json = 1;
        else if (!strcmp(a, "--special")) o->special = 1;
        else if (!strcmp(a, "--no-bos")) o->no_bos = 1;
        else return cli_usage_error("tokenize", "unknown option '%s'", a);
#undef VALUE
    }
    if (!o->text) return cli_usage_error("tokenize", "a text is required (-p TEXT)");
    if (!o->model) o->model = cli_default_model();
    return 0;
}

int cmd_tokenize_check(int argc, char **argv) {
    tokenize_options o;
    return parse(argc, argv, &o);
}

int cmd_tokenize(int argc, char **argv) {
    tokenize_options o;
    int r = parse(argc, argv, &o);
    if (r) return r < 0 ? 0 : r;
    lvk_context *ctx;
    lvk_model *model;
    if (cli_load_model(o.device, o.model, 0, &ctx, &model)) return 1;
    unsigned flags = (o.no_bos ? 0 : LVK_TOKENIZE_ADD_SPECIAL) | (o.special ? LVK_TOKENIZE_PARSE_SPECIAL : 0);
    int n = 0, status = 1;
    int32_t *ids = NULL;
    if (lvk_tokenize_ex(model, o.text, flags, NULL, 0, &n) != LVK_OK) {
        cli_error("%s", lvk_last_error());
    } else if (!(ids = malloc(sizeof *ids * (size_t)(n ? n : 1)))) {
        cli_error("out of memory for %d tokens", n);
    } else if (lvk_tokenize_ex(model, o.text, flags, ids, n, &n) != LVK_OK) {
        cli_error("%s", lvk_last_error());
    } else {
        if (o.json) {
            fputs("{\"ids\":[", stdout);
            for (int i = 0; i < n; i++) printf("%s%d", i ? "," : "", ids[i]);
            fputs("]}\n", stdout);
        } else {
            for (int i = 0; i < n; i++) printf("%d\n", ids[i]);
        }
        status = 0;
    }
    free(ids);
    lvk_model_free(model);
    lvk_context_free(ctx);
    return status;
}
