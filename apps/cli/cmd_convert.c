/* cmd_convert.c — `litevk convert`: a Hugging Face checkpoint directory, a
 * llama2.c checkpoint + tokenizer, or a GGUF to re-type, -> GGUF. */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void print_help(void) {
    char types[256];
    lvk_weight_type_names("|", "|", types, sizeof types);
    printf("usage: litevk convert DIR -o OUT.gguf [--type %s] [--vocab-only]\n"
           "       litevk convert CHECKPOINT TOKENIZER -o OUT.gguf [--type %s]\n"
           "       litevk convert IN.gguf -o OUT.gguf --type %s\n"
           "\n"
           "DIR is a Hugging Face checkpoint: config.json, tokenizer.json (+ tokenizer_config.json),\n"
           "model.safetensors or the shards of model.safetensors.index.json, in F32, F16 or BF16.\n"
           "LlamaForCausalLM (Llama 1-3, Mistral checkpoints that use it) becomes a 'llama' GGUF,\n"
           "Qwen2ForCausalLM a 'qwen2' one, with the tensor names, shapes, metadata and vocabulary\n"
           "llama.cpp's convert_hf_to_gguf.py writes. The vocabulary must be byte-level BPE (Llama 3,\n"
           "Qwen2, GPT-2) or SentencePiece-style BPE (Llama 2, Mistral; its scores come from the\n"
           "order of the merges, since tokenizer.json has none). Matrices get --type (default f16,\n"
           "as llama.cpp's converter), or f16 where a row is not a whole number of the type's\n"
           "blocks (32 weights, 256 for the k-quants); norms and biases stay f32.\n"
           "  --vocab-only   write the vocabulary and metadata only, no tensors (llama.cpp's\n"
           "                 ggml-vocab-*.gguf); config.json may then be absent\n"
           "\n"
           "CHECKPOINT and TOKENIZER are a llama2.c checkpoint (.bin, run.c's format) and its\n"
           "tokenizer (.bin): they become a LLaMA GGUF with the tensors and vocabulary of llama.cpp's\n"
           "convert-llama2c-to-ggml. Matrices get --type (default f32), with the same f16 fallback.\n"
           "\n"
           "IN.gguf is any model LiteVK loads, in any type it runs: its matrices are dequantised and\n"
           "written in --type (required: no type is a safe guess; f32 keeps every value), with the\n"
           "same f16 fallback; a matrix already in that type is copied as it is. Vectors are f32.\n"
           "Every metadata key is kept, litevk.* too (exits and thresholds), but general.file_type,\n"
           "which names the new type; the tensors keep their order.\n",
           types, types, types);
}

typedef struct convert_options {
    const char *in[2], *out;
    int n_in, vocab_only;
    int gguf; /* the one input is a file: a GGUF to re-type */
    uint32_t type;
} convert_options;

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* 0, -1 after --help, 2 after a usage error. */
static int parse(int argc, char **argv, convert_options *o) {
    *o = (convert_options){0};
    const char *type = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { print_help(); return -1; }
        if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
            if (!(o->out = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(argv[i], "--type")) {
            if (!(type = cli_value(argc, argv, &i))) return 2;
        } else if (!strcmp(argv[i], "--vocab-only")) {
            o->vocab_only = 1;
        } else if (argv[i][0] != '-' && o->n_in < 2) {
            o->in[o->n_in++] = argv[i];
        } else {
            return cli_usage_error("convert", "unexpected argument '%s'", argv[i]);
        }
    }
    if (o->n_in == 0 || !o->out)
        return cli_usage_error("convert", "needs DIR (or CHECKPOINT and TOKENIZER) and -o OUT");
    o->gguf = o->n_in == 1 && is_file(o->in[0]);
    if (o->vocab_only && (o->n_in == 2 || o->gguf))
        return cli_usage_error("convert", "--vocab-only applies to a Hugging Face checkpoint directory");
    char types[256];
    if (o->gguf && !type) {
        lvk_weight_type_names(", ", " or ", types, sizeof types);
        return cli_usage_error("convert", "re-typing %s needs --type (%s; f32 keeps every value)", o->in[0], types);
    }
    /* a Hugging Face directory defaults to f16, as llama.cpp's converter; llama2.c's
     * tiny checkpoints to f32 */
    if (!type) type = o->n_in == 1 ? "f16" : "f32";
    if (lvk_weight_type_parse(type, &o->type) == LVK_OK) return 0;
    lvk_weight_type_names(", ", ", ", types, sizeof types);
    return cli_usage_error("convert", "unknown --type '%s' (%s)", type, types);
}

int cmd_convert_check(int argc, char **argv) {
    convert_options o;
    return parse(argc, argv, &o);
}

/* "litevk: tensor 12/291: blk.1.attn_q.weight" on one line of a terminal. */
static void show_progress(uint64_t done, uint64_t total, const char *tensor, void *user) {
    (void)user;
    fprintf(stderr, "\rlitevk: tensor %llu/%llu: %-40.40s", (unsigned long long)done + 1, (unsigned long long)total,
            tensor);
    fflush(stderr);
}

int cmd_convert(int argc, char **argv) {
    convert_options o;
    int r = parse(argc, argv, &o);
    if (r) return r < 0 ? 0 : r;
    lvk_convert_params params = lvk_convert_default_params();
    params.weight_type = o.type;
    int terminal = isatty(2);
    params.vocab_only = o.vocab_only;
    params.progress = terminal ? show_progress : NULL;
    lvk_status s = o.gguf       ? lvk_convert_gguf(o.in[0], o.out, &params)
                   : o.n_in == 2 ? lvk_convert_llama2c(o.in[0], o.in[1], o.out, &params)
                                 : lvk_convert_hf(o.in[0], o.out, &params);
    if (terminal && !o.vocab_only) fprintf(stderr, "\r\033[K"); /* the progress line gives way */
    if (s != LVK_OK) return cli_error("%s", lvk_last_error());
    fprintf(stderr, "litevk: wrote %s (%s)\n", o.out, o.vocab_only ? "the vocabulary only" : lvk_type_name(o.type));
    return 0;
}
