/* cmd_tokenize.c — `litevk tokenize`: the token ids of a text, as
 * llama.cpp's llama-tokenize prints them, or of many texts in one process
 * (--jsonl; the trainer tokenizes its data this way). Only the model's
 * vocabulary is loaded: no device is used. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: litevk tokenize [-m MODEL] (-p TEXT | --jsonl FILE) [--json] [--special] [--no-bos]\n"
    "\n"
    "Prints the token ids of TEXT with the model's tokenizer, one per line. BOS comes first\n"
    "(and EOS last) as the model's metadata wants them, as llama-tokenize adds them.\n"
    "Only the model's vocabulary is read (a vocabulary-only GGUF will do); no device is used.\n"
    "\n"
    CLI_MODEL_HELP
    "  -p, --prompt TEXT    the text (UTF-8)\n"
    "      --jsonl FILE     many texts instead: each line of FILE (\"-\": standard input) is one\n"
    "                       JSON string; prints one line per text, a JSON array of its ids,\n"
    "                       as soon as it is read\n"
    "      --json           with -p, one line {\"ids\":[...]} instead\n"
    "      --special        control tokens written in the text (\"<s>\", \"<|im_end|>\") become\n"
    "                       those tokens; without it they are tokenized as plain text\n"
    "      --no-bos         no BOS (nor EOS), whatever the model wants\n"
    "  -h, --help           this text\n";

typedef struct tokenize_options {
    const char *model, *text, *jsonl;
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
        else if (!strcmp(a, "--jsonl")) { VALUE(); o->jsonl = v; }
        else if (!strcmp(a, "--json")) o->json = 1;
        else if (!strcmp(a, "--special")) o->special = 1;
        else if (!strcmp(a, "--no-bos")) o->no_bos = 1;
        else return cli_usage_error("tokenize", "unknown option '%s'", a);
#undef VALUE
    }
    if (!o->text == !o->jsonl) return cli_usage_error("tokenize", "give the text once: -p TEXT or --jsonl FILE");
    if (o->jsonl && o->json) return cli_usage_error("tokenize", "--jsonl writes JSON already: leave out --json");
    if (!o->model) o->model = cli_default_model();
    return 0;
}

int cmd_tokenize_check(int argc, char **argv) {
    tokenize_options o;
    return parse(argc, argv, &o);
}

/* A buffer of token ids that grows to fit the longest text. */
typedef struct id_buffer {
    int32_t *ids;
    int capacity, n;
} id_buffer;

/* Tokenizes text into b->ids[0..b->n); 0, or 1 after printing the error. */
static int tokenize(const lvk_model *model, const char *text, unsigned flags, id_buffer *b) {
    if (lvk_tokenize_ex(model, text, flags, b->ids, b->capacity, &b->n) != LVK_OK) return cli_error("%s", lvk_last_error());
    if (b->n <= b->capacity) return 0;
    int32_t *grown = realloc(b->ids, sizeof *grown * (size_t)b->n);
    if (!grown) return cli_error("out of memory for %d tokens", b->n);
    b->ids = grown;
    b->capacity = b->n;
    if (lvk_tokenize_ex(model, text, flags, b->ids, b->capacity, &b->n) != LVK_OK) return cli_error("%s", lvk_last_error());
    return 0;
}

static void print_ids(const char *open, const id_buffer *b, const char *close) {
    fputs(open, stdout);
    for (int i = 0; i < b->n; i++) printf("%s%d", i ? "," : "", b->ids[i]);
    fputs(close, stdout);
}

/* --jsonl: a line out for every line in, flushed at once, so that a program
 * that writes a text and waits for its ids is not left waiting. */
static int tokenize_jsonl(const lvk_model *model, const char *path, unsigned flags, id_buffer *b) {
    int from_stdin = !strcmp(path, "-");
    const char *name = from_stdin ? "standard input" : path;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (!f) return cli_error("cannot open %s: %s", path, strerror(errno));
    char *line = NULL, *text = NULL;
    size_t line_size = 0, text_size = 0;
    ssize_t len;
    int status = 0;
    for (int line_no = 1; !status && (len = getline(&line, &line_size, f)) >= 0; line_no++) {
        if (len > 0 && line[len - 1] == '\n') len--;
        if (text_size < (size_t)len + 1) { /* the decoded text is never longer than its line */
            char *grown = realloc(text, (size_t)len + 1);
            if (!grown) {
                status = cli_error("%s:%d: out of memory", name, line_no);
                break;
            }
            text = grown, text_size = (size_t)len + 1;
        }
        if (lvk_text_line_parse(line, (size_t)len, name, line_no, text, text_size) != LVK_OK)
            status = cli_error("%s (each line is one JSON string)", lvk_last_error());
        else if (!(status = tokenize(model, text, flags, b)))
            print_ids("[", b, "]\n");
        fflush(stdout);
    }
    if (!status && ferror(f)) status = cli_error("cannot read %s: %s", name, strerror(errno));
    free(text);
    free(line);
    if (!from_stdin) fclose(f);
    return status;
}

int cmd_tokenize(int argc, char **argv) {
    tokenize_options o;
    int r = parse(argc, argv, &o);
    if (r) return r < 0 ? 0 : r;
    lvk_model_params params = lvk_model_default_params();
    params.vocab_only = 1;
    lvk_model *model;
    if (lvk_model_load(NULL, o.model, &params, &model) != LVK_OK) return cli_error("%s", lvk_last_error());
    unsigned flags = (o.no_bos ? 0 : LVK_TOKENIZE_ADD_SPECIAL) | (o.special ? LVK_TOKENIZE_PARSE_SPECIAL : 0);
    id_buffer b = {0};
    int status;
    if (o.jsonl) {
        status = tokenize_jsonl(model, o.jsonl, flags, &b);
    } else if (!(status = tokenize(model, o.text, flags, &b))) {
        if (o.json) print_ids("{\"ids\":[", &b, "]}\n");
        else for (int i = 0; i < b.n; i++) printf("%d\n", b.ids[i]);
    }
    free(b.ids);
    lvk_model_free(model);
    return status;
}
