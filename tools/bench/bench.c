/* bench.c — litevk-bench: what a Vulkan device does for LiteVK, in figures.
 *
 *   copy     memory bandwidth of a plain copy kernel (shaders/bench_copy.comp)
 *   matvec   the mat-vec kernel on LLaMA-7B's FFN-up shape, per weight type
 *   decode   tokens/s of random-weight TinyLlama-1.1B-shaped models through
 *            the public API, next to the bound the copy bandwidth sets
 *   default  the shipped stories260K model: API and plain-C reference tokens/s
 *   overhead per-token cost of a model whose weights are negligible
 *   columns  what 2, 4 and 8 token columns cost against 1, and a prompt in passes
 *            of 8 to 64 columns (tools/bench/columns.c)
 *
 * --compare sets the decode figures beside reference figures given on the
 * command line (other runtimes' tokens/s), in one table.
 *
 * This file: the options and the order the parts run in; each part is a file
 * (bench_copy.c, bench_matvec.c, bench_decode.c, columns.c, bench_compare.c).
 *
 * Figures go to stdout; progress and the time each part took go to stderr.
 * GPU times are host clock around vkQueueSubmit + wait, so they include the
 * submission overhead a real forward pass also pays. */
#include "bench.h"
#include "columns.h"
#include "status.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char help[] =
    "usage: litevk-bench [options]\n"
    "\n"
    "Prints what the Vulkan device does, in figures, on stdout; progress and the\n"
    "time each part took go to stderr.\n"
    "\n"
    "parts (all by default, in this order; with --compare, only those its keys need):\n"
    "  copy     memory bandwidth of a plain copy kernel, 96 MiB to 96 MiB (less where the\n"
    "           device's binding limit is lower), counting bytes read + written\n"
    "  matvec   the mat-vec kernel on an 11008 x 4096 matrix (LLaMA-7B FFN up), one column,\n"
    "           per weight type: weight bytes read per second (as stored in GGUF), weights\n"
    "           per second and the fraction of the copy bandwidth; each result is first\n"
    "           checked against the plain-C reference mat-vec\n"
    "  decode   random-weight models with TinyLlama-1.1B shapes through the public API:\n"
    "           a 64-token prompt (prompt tokens/s; the runtime takes 8 prompt tokens per\n"
    "           pass), then greedy decode tokens/s, next to the bound the copy bandwidth\n"
    "           sets (weight bytes per token / copy bandwidth). The models are written to\n"
    "           --tmp on first use (f16: 2.2 GB, q8_0: 1.2 GB, q4_0: 0.6 GB, q4_k: 0.6 GB,\n"
    "           q6_k: 0.9 GB, f32: 4.4 GB)\n"
    "           and reused after.\n"
    "  default  assets/stories260K.gguf: the same 64-token prompt, then 200 greedy tokens\n"
    "           through the API and through the plain-C reference forward\n"
    "  overhead per-token cost where the weights are negligible: a random model of 32\n"
    "           blocks 16 wide, 100 greedy tokens; time per token, per block and per\n"
    "           dispatch (what recording, submitting and kernel launches cost)\n"
    "  columns  the time of 1, 2, 4 and 8 token columns, and the ratio to 1: the mat-vec on\n"
    "           the 11008 x 4096 matrix per type (--types, all by default), and a whole\n"
    "           full-depth pass of the TinyLlama-shaped model per type (--types, q4_0 by\n"
    "           default); then, on that model, a 64-token prompt in passes of 8, 16, 32\n"
    "           and 64 columns (ms per token, the ratio to 8); every width is first\n"
    "           checked against the plain-C reference\n"
    "matvec and decode also run copy: their figures are compared with it.\n"
    "The prompt is BOS, then the tokens of \"" PROMPT "\" repeated to 64 tokens.\n"
    "\n"
    "options:\n"
    "  --only PART[,PART...]  run only these parts (repeatable)\n"
    "  --types T[,T...]       weight types for matvec, decode and columns: f32, f16, bf16,\n"
    "                         q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k (default: all for\n"
    "                         matvec, f16,q8_0,q4_0 for decode)\n"
    "  --decode-tokens N      decode steps timed per model in decode (default 16)\n"
    "  --tmp DIR              directory of the decode models (default /tmp)\n"
    "  --clean                delete the decode models after use\n"
    "  --json                 with --only columns: its figures as one JSON object on stdout,\n"
    "                         {\"columns\":[{\"type\":\"q4_0\",\"what\":\"matvec\"|\"pass\"|\"prompt\",\n"
    "                         \"n\":1,\"ms\":12.3},\n"
    "                         ...]}, and its table on stderr\n"
    "  --compare LABEL:KEY=VALUE[,KEY=VALUE...]\n"
    "                         after the parts, one table of decode tokens/s: LiteVK's, each\n"
    "                         --compare's figures with LiteVK's ratio to them, e.g.\n"
    "                         \"0.53 (2.4x)\" = LiteVK is 2.4 times faster, and the bound.\n"
    "                         KEY: stories260K (the default part) or a weight type, f32,\n"
    "                         f16, q8_0, q4_0, q4_k, q6_k (the decode part's model of that\n"
    "                         type).\n"
    "                         VALUE: tokens/s, a positive number, or a range such as 15-17,\n"
    "                         shown as given and compared at its midpoint. Repeatable: one\n"
    "                         column each, at most 4. Runs the parts the keys need (copy;\n"
    "                         decode with the types named, and any --types; default),\n"
    "                         besides any --only.\n"
    "  -h, --help             this text\n"
    "\n"
    "example (figures typed in from another runtime's benchmark):\n"
    "  litevk-bench --compare \"llama.cpp Vulkan:stories260K=37,f16=0.53,q8_0=0.56,q4_0=0.90\" \\\n"
    "               --compare \"llama.cpp CPU 2 threads:stories260K=2709,f16=15-17,q8_0=21-27,q4_0=23-52\"\n"
    "tools/bench/compare-llama-cpp.sh runs llama.cpp itself beside LiteVK, on the same files.\n"
    "\n"
    "exit status: 0 figures printed; 1 a part failed or a kernel computed wrong values;\n"
    "2 usage error.\n"
    "\n"
    "environment: LITEVK_DEVICE=<index|name> picks the device; LITEVK_MATVEC_WG and\n"
    "LITEVK_MATVEC_ROWS override the mat-vec tuning; LITEVK_VALIDATE=1 enables the\n"
    "validation layer (slow: not for figures).\n";

_Static_assert(PROMPT_TOKENS == 64, "--help says the prompt has 64 tokens, 8 per pass");

/* ---- options and main ------------------------------------------------------------- */

static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("litevk-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see litevk-bench --help)\n", stderr);
    va_end(ap);
    return 2;
}

/* Applies fn to each item of a comma list; stops at the first it rejects. */
static int each_item(const char *list, int (*fn)(const char *item, options *o), options *o) {
    char buf[256];
    if (strlen(list) >= sizeof buf) return usage_error("list too long (%zu bytes at most): '%s'", sizeof buf - 1, list);
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save))
        if (fn(item, o)) return 2;
    return 0;
}

static int add_part(const char *item, options *o) {
    static const char *names[] = {"copy", "matvec", "decode", "default", "overhead", "columns"}; /* the PART_ bits' order */
    for (int i = 0; i < 6; i++)
        if (!strcmp(item, names[i])) {
            o->parts |= 1u << i;
            return 0;
        }
    return usage_error("--only: unknown part '%s' (copy, matvec, decode, default, overhead, columns)", item);
}

static int add_type(const char *item, options *o) {
    for (int i = 0; i < LVK_N_WEIGHT_TYPES; i++)
        if (!strcmp(item, ggml_type_name(weight_types[i]))) {
            for (int k = 0; k < o->n_types; k++)
                if (o->types[k] == weight_types[i]) return 0;
            o->types[o->n_types++] = weight_types[i];
            return 0;
        }
    return usage_error("--types: unknown type '%s' (%s)", item, weight_type_names(", ", ", "));
}

/* A positive decimal number at s (1, 0.53, 2.5e3), up to the first character
 * that is not part of it; no sign, inf, nan or hex. 0, or -1 where there is none. */
static int parse_rate(const char *s, const char **end, double *v) {
    if (!isdigit((unsigned char)*s) && *s != '.') return -1;
    char *e;
    *v = strtod(s, &e);
    size_t plain = strspn(s, "0123456789.eE+-");
    if (e == s || (size_t)(e - s) > plain || !isfinite(*v) || *v <= 0) return -1;
    *end = e;
    return 0;
}

/* "37" or a range "15-17" (an en dash too: "15–17"); *value: the number, or
 * the range's midpoint. 0, or -1 where it is neither. */
static int parse_figure(const char *s, double *value) {
    const char *end;
    double lo, hi;
    if (parse_rate(s, &end, &lo)) return -1;
    hi = lo;
    size_t dash = *end == '-' ? 1 : !strncmp(end, "\u2013", 3) ? 3 : 0;
    if (dash && (parse_rate(end + dash, &end, &hi) || hi < lo)) return -1;
    if (*end) return -1;
    *value = (lo + hi) / 2;
    return 0;
}

/* KEY=VALUE of the last --compare. */
static int add_figure(const char *item, options *o) {
    ref_column *c = &o->columns[o->n_columns - 1];
    const char *eq = strchr(item, '=');
    if (!eq) return usage_error("--compare '%s': '%s' is not KEY=VALUE", c->label, item);
    int key_len = (int)(eq - item), row = 0;
    while (row < N_ROWS && !(strncasecmp(item, row_keys[row], key_len) == 0 && !row_keys[row][key_len])) row++;
    if (row == N_ROWS)
        return usage_error("--compare '%s': unknown key '%.*s' (stories260K, f32, f16, q8_0, q4_0, q4_k, q6_k)", c->label,
                           key_len, item);
    if (c->text[row][0]) return usage_error("--compare '%s': key '%s' given twice", c->label, row_keys[row]);
    if (strlen(eq + 1) >= sizeof c->text[row] || parse_figure(eq + 1, &c->value[row]))
        return usage_error("--compare '%s': %s=%s: expected tokens/s, a positive number (0.53) or a range (15-17)",
                           c->label, row_keys[row], eq + 1);
    snprintf(c->text[row], sizeof c->text[row], "%s", eq + 1);
    return 0;
}

/* LABEL:KEY=VALUE,...: one column of the --compare table. LABEL ends at the
 * last ':', so it may hold others. */
static int add_compare(const char *arg, options *o) {
    const char *colon = strrchr(arg, ':');
    if (o->n_columns == MAX_COLUMNS) return usage_error("--compare: at most %d columns", MAX_COLUMNS);
    if (!colon || colon == arg || !colon[1])
        return usage_error("--compare expects LABEL:KEY=VALUE[,KEY=VALUE...], got '%s'", arg);
    ref_column *c = &o->columns[o->n_columns++];
    if ((size_t)(colon - arg) >= sizeof c->label)
        return usage_error("--compare: label '%.*s' too long (%zu bytes at most)", (int)(colon - arg), arg,
                           sizeof c->label - 1);
    snprintf(c->label, sizeof c->label, "%.*s", (int)(colon - arg), arg);
    return each_item(colon + 1, add_figure, o);
}

/* The parts the --compare keys need: default for stories260K, decode (and
 * so copy) for a weight type. */
static unsigned compare_parts(const options *o) {
    unsigned parts = 0;
    for (int row = 0; row < N_ROWS; row++)
        if (row_compared(o, row)) parts |= row == ROW_STORIES ? PART_DEFAULT : PART_DECODE;
    return parts;
}

/* The decode part's weight types: --types, then the types --compare names;
 * f16, q8_0 and q4_0 where neither names any. Returns how many. */
static int decode_types(const options *o, uint32_t types[LVK_N_WEIGHT_TYPES]) {
    int n = 0;
    for (int i = 0; i < o->n_types; i++) types[n++] = o->types[i];
    for (int row = ROW_F32; row < N_ROWS; row++) {
        int known = 0;
        for (int i = 0; i < n; i++) known |= types[i] == row_types[row];
        if (row_compared(o, row) && !known) types[n++] = row_types[row];
    }
    if (n) return n;
    static const uint32_t fallback[] = {GGML_F16, GGML_Q8_0, GGML_Q4_0};
    memcpy(types, fallback, sizeof fallback);
    return 3;
}

/* 0: run; -1: --help was printed; 2: usage error (already reported). */
static int parse(int argc, char **argv, options *o) {
    *o = (options){.decode_tokens = 16, .tmp = "/tmp"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int takes_value = !strcmp(a, "--only") || !strcmp(a, "--types") || !strcmp(a, "--decode-tokens") ||
                          !strcmp(a, "--tmp") || !strcmp(a, "--compare");
        if (takes_value && i + 1 >= argc) return usage_error("option %s needs a value", a);
        const char *v = takes_value ? argv[++i] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(help, stdout);
            return -1;
        } else if (!strcmp(a, "--only")) {
            if (each_item(v, add_part, o)) return 2;
        } else if (!strcmp(a, "--types")) {
            if (each_item(v, add_type, o)) return 2;
        } else if (!strcmp(a, "--decode-tokens")) {
            char *end;
            o->decode_tokens = strtol(v, &end, 10);
            if (end == v || *end || o->decode_tokens < 1 || o->decode_tokens > 1024)
                return usage_error("--decode-tokens expects an integer in 1..1024, got '%s'", v);
        } else if (!strcmp(a, "--tmp")) {
            o->tmp = v;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--clean")) {
            o->clean = 1;
        } else if (!strcmp(a, "--compare")) {
            if (add_compare(v, o)) return 2;
        } else {
            return usage_error("unknown option '%s'", a);
        }
    }
    if (!o->parts && !o->n_columns)
        o->parts = PART_COPY | PART_MATVEC | PART_DECODE | PART_DEFAULT | PART_OVERHEAD | PART_COLUMNS;
    o->parts |= compare_parts(o);
    if (o->json && o->parts != PART_COLUMNS) return usage_error("--json prints the columns part alone: use --only columns");
    return 0;
}

static void part_done(const char *part, double t0) { fprintf(stderr, "bench: %s took %.1f s\n", part, now_s() - t0); }

/* The columns part: the mat-vec for --types (all by default), then whole
 * passes of the TinyLlama-shaped model of each of --types (q4_0 by default). */
static lvk_status bench_columns(bench_gpu *g, const options *o, int *ok) {
    static const uint32_t pass_default[] = {GGML_Q4_0};
    FILE *table = o->json ? stderr : stdout;
    columns_report report = {0};
    LVK_TRY(o->n_types ? columns_matvec(g, o->types, o->n_types, table, &report, ok)
                       : columns_matvec(g, weight_types, LVK_N_WEIGHT_TYPES, table, &report, ok));
    const uint32_t *types = o->n_types ? o->types : pass_default;
    for (int i = 0; i < (o->n_types ? o->n_types : 1); i++) {
        char path[4096];
        LVK_TRY(ensure_model(o, types[i], path, sizeof path));
        LVK_TRY(columns_pass(g, path, types[i], table, &report, ok));
    }
    fprintf(table, "  (pass: TinyLlama-1.1B shapes, every block and the final head; its columns are checked\n"
                   "   against the plain-C reference forward first. prompt: %d tokens in passes of 8, 16, 32 and 64\n"
                   "   columns, ms per token and the ratio to passes of 8, its last logits checked likewise;\n"
                   "   this device's tuning runs passes of %u)\n",
            LVK_MAX_PROMPT_COLUMNS, gpu_tuning_for(g->dev).prompt_columns);
    if (o->json) columns_print_json(&report);
    return LVK_OK;
}

/* The GPU kernels: copy (for its bandwidth), mat-vec and columns. */
static lvk_status run_kernels(const options *o, double *copy_gbps, int *ok) {
    bench_gpu g;
    lvk_status s = bench_gpu_open(&g);
    if (s == LVK_OK) {
        const lvk_device_info *d = &g.dev->info;
        fprintf(o->json ? stderr : stdout, "device %d: %s (%s, vendor 0x%x, subgroup %u, max binding %.0f MiB)\n",
                d->index, d->name, d->type, d->vendor_id, d->subgroup_size, d->max_storage_buffer_range / 1048576.0);
    }
    if (s == LVK_OK && (o->parts & (PART_COPY | PART_MATVEC | PART_DECODE))) {
        double t0 = now_s();
        s = bench_copy(&g, copy_gbps);
        part_done("copy", t0);
    }
    if (s == LVK_OK && (o->parts & PART_MATVEC)) {
        double t0 = now_s();
        s = o->n_types ? bench_matvec_part(&g, o->types, o->n_types, *copy_gbps, ok)
                       : bench_matvec_part(&g, weight_types, LVK_N_WEIGHT_TYPES, *copy_gbps, ok);
        part_done("matvec", t0);
    }
    if (s == LVK_OK && (o->parts & PART_COLUMNS)) {
        double t0 = now_s();
        s = bench_columns(&g, o, ok);
        part_done("columns", t0);
    }
    bench_gpu_close(&g); /* frees the device's memory before the API loads models */
    return s;
}

int main(int argc, char **argv) {
    options o;
    int r = parse(argc, argv, &o);
    if (r) return r < 0 ? 0 : r;
    setvbuf(stdout, NULL, _IOLBF, 0); /* figures and stderr progress stay in order in a log */
    double copy_gbps = 0;
    measured m = {0};
    int ok = 1;
    lvk_context *ctx = NULL;
    lvk_status s = LVK_OK;
    if (o.parts & (PART_COPY | PART_MATVEC | PART_DECODE | PART_COLUMNS)) s = run_kernels(&o, &copy_gbps, &ok);
    if (s == LVK_OK && (o.parts & (PART_DECODE | PART_DEFAULT | PART_OVERHEAD))) {
        s = lvk_context_create(NULL, &ctx);
        if (s == LVK_OK && !(o.parts & (PART_COPY | PART_MATVEC | PART_DECODE))) {
            lvk_device_info d;
            lvk_context_device(ctx, &d);
            printf("device %d: %s (%s, vendor 0x%x)\n", d.index, d.name, d.type, d.vendor_id);
        }
    }
    if (s == LVK_OK && (o.parts & PART_DECODE)) {
        double t0 = now_s();
        uint32_t types[LVK_N_WEIGHT_TYPES];
        int n_types = decode_types(&o, types);
        s = bench_decode(ctx, &o, types, n_types, copy_gbps, &m);
        part_done("decode", t0);
    }
    if (s == LVK_OK && (o.parts & PART_DEFAULT)) {
        double t0 = now_s();
        s = bench_default(ctx, &m);
        part_done("default", t0);
    }
    if (s == LVK_OK && (o.parts & PART_OVERHEAD)) {
        double t0 = now_s();
        s = bench_overhead(ctx, &o);
        part_done("overhead", t0);
    }
    lvk_context_free(ctx);
    if (s == LVK_OK && o.n_columns) print_compare(&o, &m);
    if (s != LVK_OK) {
        fprintf(stderr, "litevk-bench: %s\n", lvk_last_error());
        return 1;
    }
    return ok ? 0 : 1;
}
