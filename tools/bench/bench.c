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
 * Figures go to stdout; progress and the time each part took go to stderr.
 * GPU times are host clock around vkQueueSubmit + wait, so they include the
 * submission overhead a real forward pass also pays. */
#include "bench_gpu.h"
#include "bench_matvec.h"
#include "columns.h"
#include "forward/gpu_forward.h"
#include "model/model.h"
#include "formats/quant.h"
#include "forward/reference.h"
#include "status.h"
#include "synth.h"
#include "vk/vk_device.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define COPY_BYTES (96u << 20)
#define DEFAULT_TOKENS 200   /* decode steps on stories260K, API and reference each */
#define PROMPT "Once upon a time, there"
#define PROMPT_TOKENS (8 * LVK_MAX_BATCH) /* BOS + PROMPT's tokens repeated: 8 full prompt passes */
#define MAX_COLUMNS 4        /* --compare columns */

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

enum { PART_COPY = 1, PART_MATVEC = 2, PART_DECODE = 4, PART_DEFAULT = 8, PART_OVERHEAD = 16, PART_COLUMNS = 32 };

/* The models whose decode tokens/s --compare sets side by side: the default
 * part's, then the decode part's, one per weight type. */
enum { ROW_STORIES, ROW_F32, ROW_F16, ROW_Q8_0, ROW_Q4_0, ROW_Q4_K, ROW_Q6_K, N_ROWS };
static const char *const row_keys[N_ROWS] = {"stories260K", "f32", "f16", "q8_0", "q4_0", "q4_k", "q6_k"};
static const char *const row_names[N_ROWS] = {"stories260K F32", "TinyLlama-1.1B shapes F32",
                                              "TinyLlama-1.1B shapes F16", "TinyLlama-1.1B shapes Q8_0",
                                              "TinyLlama-1.1B shapes Q4_0", "TinyLlama-1.1B shapes Q4_K",
                                              "TinyLlama-1.1B shapes Q6_K"};
static const uint32_t row_types[N_ROWS] = {GGML_F32, GGML_F32, GGML_F16, GGML_Q8_0, GGML_Q4_0, GGML_Q4_K, GGML_Q6_K};

/* One --compare: reference figures, tokens/s, by row. */
typedef struct ref_column {
    char label[64];
    char text[N_ROWS][24]; /* as given ("15-17"); "" where the column has no figure */
    double value[N_ROWS];  /* the figure, a range's midpoint */
} ref_column;

/* LiteVK's figures for the --compare table; 0 where not measured. */
typedef struct measured {
    double tps[N_ROWS];   /* decode tokens/s */
    double bound[N_ROWS]; /* copy bandwidth / weight bytes per token */
} measured;

typedef struct options {
    unsigned parts;
    uint32_t types[LVK_N_WEIGHT_TYPES];
    int n_types; /* 0: each part's default types */
    long decode_tokens;
    const char *tmp;
    int clean;
    ref_column columns[MAX_COLUMNS];
    int n_columns;
    int json; /* the columns part's figures as JSON on stdout, its table on stderr */
} options;

/* ---- copy ----------------------------------------------------------------------- */

typedef struct copy_job {
    const vk_buffer *src, *dst;
    uint32_t n_vec4, wg, groups;
} copy_job;

static void record_copy(vk_recorder *r, const void *job, int call) {
    (void)call; /* every call copies the same 2 x 96 MiB: more than most last-level caches hold */
    const copy_job *j = job;
    uint32_t spec[] = {j->wg};
    const vk_buffer *bufs[] = {j->dst};
    vk_record_dispatch(r, "bench_copy", spec, 1, j->src, bufs, 1, &j->n_vec4, sizeof j->n_vec4, j->groups, 1);
}

/* Copy bandwidth in GB/s (bytes read + written), checked by reading dst back. */
static lvk_status bench_copy(bench_gpu *g, double *gbps) {
    vk_device *dev = g->dev;
    VkDeviceSize size = dev->max_storage_range < COPY_BYTES ? dev->max_storage_range & ~(VkDeviceSize)15 : COPY_BYTES;
    uint32_t *pattern = malloc(size), *back = malloc(size);
    vk_arena a;
    vk_arena_init(&a, dev, 0);
    vk_buffer src, dst;
    lvk_status s = pattern && back ? LVK_OK : status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    /* A written source: untouched memory of a CPU device may all map one zero
     * page, which reads from cache. */
    for (VkDeviceSize i = 0; s == LVK_OK && i < size / 4; i++) pattern[i] = (uint32_t)i * 2654435761u;
    if (s == LVK_OK) s = vk_arena_alloc(&a, size, &src);
    if (s == LVK_OK) s = vk_arena_alloc(&a, size, &dst);
    if (s == LVK_OK) s = vk_buffer_write(dev, &src, 0, pattern, size);
    if (s == LVK_OK) s = vk_buffer_texel_views(dev, &src);
    /* lavapipe runs a workgroup as a loop over its subgroups on one thread, and
     * streams 3x faster with one subgroup per workgroup than with 64 lanes;
     * GPUs want many lanes in flight. 1024 workgroups fill a large GPU and
     * keep lavapipe's cost per workgroup small. */
    copy_job job = {.src = &src, .dst = &dst, .n_vec4 = (uint32_t)(size / 16), .wg = 256, .groups = 1024};
    if (!strcmp(dev->info.type, "cpu") && dev->info.subgroup_size) job.wg = dev->info.subgroup_size;
    if (div_up(job.n_vec4, job.wg) < job.groups) job.groups = div_up(job.n_vec4, job.wg);
    double t = 0;
    int repeats = 0;
    if (s == LVK_OK) s = bench_time_calls(g, record_copy, &job, 1, &t, &repeats);
    if (s == LVK_OK) s = bench_download(g, &dst, size, back);
    if (s == LVK_OK && memcmp(pattern, back, size) != 0)
        s = status_fail(LVK_ERR_DEVICE, "bench_copy.comp copied wrong values: no figure");
    if (s == LVK_OK) {
        *gbps = 2.0 * size / t / 1e9;
        printf("copy: %.0f MiB -> %.0f MiB in %.3f ms (median of %d runs of %d copies; workgroup %u x %u): "
               "%.1f GB/s read + write\n", size / 1048576.0, size / 1048576.0, t * 1e3, BENCH_RUNS, repeats, job.wg,
               job.groups, *gbps);
    }
    vk_buffer_free_views(dev, &src);
    vk_arena_free(&a);
    free(pattern);
    free(back);
    return s;
}

/* ---- mat-vec -------------------------------------------------------------------- */

/* One weight type: a figure line, or a line saying why there is none.
 * *ok is cleared when the kernel's result is wrong. */
static lvk_status bench_matvec_type(bench_gpu *g, uint32_t type, double copy_gbps, int *ok) {
    bench_matvec m;
    double t = 0, err = 0;
    int repeats = 0;
    lvk_status s = bench_matvec_open(g, type, &m);
    if (s == LVK_OK) s = bench_matvec_time(g, &m, 1, &t, &repeats, &err);
    if (s == LVK_OK && !(err <= MV_MAX_ERR)) {
        printf("  %-5s  wrong result: max error %.2e of max |y| (limit %.0e); no figure\n", ggml_type_name(type), err,
               MV_MAX_ERR);
        *ok = 0;
    } else if (s == LVK_OK) {
        double gbps = m.w.n_bytes / t / 1e9;
        printf("  %-5s %8.1f %9.3f %9.1f %10.2f %8.0f%% %10.1e %6d %6u %5u\n", ggml_type_name(type),
               m.w.n_bytes / 1e6, t * 1e3, gbps, (double)MV_ROWS * MV_COLS / t / 1e9, 100.0 * gbps / copy_gbps, err,
               repeats, m.n_copies, m.copies[0].n_parts);
    }
    bench_matvec_close(g, &m);
    return s;
}

static lvk_status matvec_part(bench_gpu *g, const uint32_t *types, int n_types, double copy_gbps, int *ok) {
    printf("matvec: %d x %d (LLaMA-7B FFN up), 1 column; tuning \"%s\": workgroup %u, %u rows per workgroup\n",
           MV_ROWS, MV_COLS, g->tuning.source, g->tuning.matvec_wg, g->tuning.matvec_rows);
    printf("  type   MB read   ms/call      GB/s  Gweights/s  of copy  max error  calls copies parts\n");
    for (int i = 0; i < n_types; i++) {
        fprintf(stderr, "bench: matvec %s\n", ggml_type_name(types[i]));
        LVK_TRY(bench_matvec_type(g, types[i], copy_gbps, ok));
    }
    printf("  (MB as stored in GGUF; max error = max |gpu - reference| / max |reference|; calls per timed\n"
           "   command buffer, taking %.0f MiB of matrix copies in turn; parts = dispatches per call)\n",
           MV_FOOTPRINT / 1048576.0);
    return LVK_OK;
}

/* ---- decode through the public API ----------------------------------------------- */

/* Weight bytes one decode step reads: every matrix and norm once, of the
 * embedding only the token's row (all of it when it is also the classifier). */
static lvk_status weight_bytes_per_token(const char *path, double *out) {
    host_model *m;
    LVK_TRY(host_model_open(path, &m));
    double b = (double)(m->output_norm.n_bytes + m->output.n_bytes + m->tok_embd.n_bytes / m->tok_embd.rows);
    for (int l = 0; l < m->hp.n_layers; l++) {
        const layer_weights *L = &m->layers[l];
        b += (double)(L->attn_norm.n_bytes + L->ffn_norm.n_bytes + L->wq.n_bytes + L->wk.n_bytes + L->wv.n_bytes +
                      L->wo.n_bytes + L->w_gate.n_bytes + L->w_up.n_bytes + L->w_down.n_bytes);
    }
    host_model_free(m);
    *out = b;
    return LVK_OK;
}

static int load_progress(float fraction, void *user) {
    int *shown = user, tenth = (int)(fraction * 10.0f);
    if (tenth > *shown) {
        *shown = tenth;
        fprintf(stderr, " %d%%", tenth * 10);
    }
    return 0;
}

typedef struct decode_result {
    int32_t prompt[PROMPT_TOKENS];
    int n_prompt, n_gen;
    double prompt_s, decode_s;
} decode_result;

/* PROMPT_TOKENS tokens on any vocabulary: BOS, then PROMPT's tokens over and
 * over. PROMPT alone is 7 to 11 tokens, too few for prompt tokens/s to show
 * what full passes of LVK_MAX_BATCH columns do. */
static lvk_status make_prompt(const lvk_model *model, int32_t *out) {
    int32_t text[PROMPT_TOKENS];
    int n;
    LVK_TRY(lvk_tokenize(model, PROMPT, 1, text, PROMPT_TOKENS, &n));
    if (n > PROMPT_TOKENS) n = PROMPT_TOKENS;
    if (n < 2) return status_fail(LVK_ERR_INVALID_ARGUMENT, "\"%s\" tokenizes to %d tokens", PROMPT, n);
    out[0] = text[0];
    for (int i = 1; i < PROMPT_TOKENS; i++) out[i] = text[1 + (i - 1) % (n - 1)];
    return LVK_OK;
}

/* Loads `path`, feeds the prompt, then times n_gen greedy steps, each one forward pass. */
static lvk_status api_decode(lvk_context *ctx, const char *path, int n_gen, decode_result *out) {
    lvk_model *model = NULL;
    lvk_session *session = NULL;
    lvk_model_params mp = lvk_model_default_params();
    int shown = 0;
    mp.progress = load_progress;
    mp.progress_user = &shown;
    fprintf(stderr, "bench: loading %s:", path);
    double t0 = now_s();
    lvk_status s = lvk_model_load(ctx, path, &mp, &model);
    fprintf(stderr, " (%.1f s)\n", now_s() - t0);
    lvk_session_params sp = lvk_session_default_params(); /* greedy */
    if (s == LVK_OK) s = lvk_session_create(model, &sp, &session);
    out->n_prompt = PROMPT_TOKENS;
    if (s == LVK_OK) s = make_prompt(model, out->prompt);
    if (s == LVK_OK && out->n_prompt + n_gen > lvk_session_n_ctx(session))
        s = status_fail(LVK_ERR_CONTEXT_FULL, "%d prompt + %d decode tokens pass the context of %d", out->n_prompt,
                     n_gen, lvk_session_n_ctx(session));
    t0 = now_s();
    if (s == LVK_OK) s = lvk_session_feed_tokens(session, out->prompt, out->n_prompt);
    double t1 = now_s();
    for (out->n_gen = 0; s == LVK_OK && out->n_gen < n_gen; out->n_gen++) {
        lvk_token_info t;
        s = lvk_session_step(session, &t);
        /* at end of text a step runs no forward pass: run it, so every step costs one */
        if (s == LVK_OK && t.is_eog) s = lvk_session_feed_tokens(session, &t.id, 1);
    }
    out->prompt_s = t1 - t0;
    out->decode_s = now_s() - t1;
    lvk_session_free(session);
    lvk_model_free(model);
    return s;
}

/* The model of `type`, written on first use. Files are named by type: every
 * other parameter is fixed here, and synth output is deterministic. */
static lvk_status ensure_model(const options *o, uint32_t type, char *path, size_t size) {
    snprintf(path, size, "%s/litevk-bench-tinyllama-%s.gguf", o->tmp, ggml_type_name(type));
    if (access(path, R_OK) == 0) {
        fprintf(stderr, "bench: reusing %s\n", path);
        return LVK_OK;
    }
    synth_params p = synth_default_params();
    p.n_layers = 22, p.n_embd = 2048, p.n_heads = 32, p.n_kv_heads = 4, p.n_ff = 5632, p.n_vocab = 32000;
    p.n_ctx = 2048, p.weight_type = type, p.tied = 0;
    char partial[4096 + 16];
    snprintf(partial, sizeof partial, "%s.partial", path); /* an interrupted run leaves no usable-looking file */
    fprintf(stderr, "bench: writing %s (random weights)\n", path);
    double t0 = now_s();
    LVK_TRY(synth_llama_gguf(&p, partial));
    if (rename(partial, path) != 0) return status_fail(LVK_ERR_IO, "renaming %s: %s", partial, strerror(errno));
    struct stat st = {0};
    stat(path, &st);
    fprintf(stderr, "bench: wrote %.2f GB in %.1f s\n", st.st_size / 1e9, now_s() - t0);
    return LVK_OK;
}

/* The row of the --compare table that shows the decode model of `type`. */
static int row_of_type(uint32_t type) {
    for (int row = ROW_F32; row < N_ROWS; row++)
        if (row_types[row] == type) return row;
    return -1;
}

static lvk_status bench_decode(lvk_context *ctx, const options *o, const uint32_t *types, int n_types,
                               double copy_gbps, measured *m) {
    printf("decode: TinyLlama-1.1B shapes (22 layers, 2048 wide, 32 heads / 4 KV, ff 5632, vocab 32000), "
           "random weights; greedy, %ld steps after a %d-token prompt\n", o->decode_tokens, PROMPT_TOKENS);
    printf("  type   MB/token  prompt tok/s  tokens/s      GB/s  bound tok/s  of bound\n");
    for (int i = 0; i < n_types; i++) {
        char path[4096];
        double bytes;
        decode_result r;
        LVK_TRY(ensure_model(o, types[i], path, sizeof path));
        LVK_TRY(weight_bytes_per_token(path, &bytes));
        lvk_status s = api_decode(ctx, path, (int)o->decode_tokens, &r);
        /* a model the device has no room for is a result for this type, not a failure of the run */
        if (s == LVK_ERR_OUT_OF_MEMORY) {
            printf("  %-5s %9.1f  not run: %s\n", ggml_type_name(types[i]), bytes / 1e6, lvk_last_error());
        } else if (s == LVK_OK) {
            double tps = r.n_gen / r.decode_s, bound = copy_gbps * 1e9 / bytes;
            int row = row_of_type(types[i]);
            if (row >= 0) m->tps[row] = tps, m->bound[row] = bound;
            printf("  %-5s %9.1f %13.1f %9.3f %9.2f %12.2f %8.0f%%\n", ggml_type_name(types[i]), bytes / 1e6,
                   r.n_prompt / r.prompt_s, tps, bytes * tps / 1e9, bound, 100.0 * tps / bound);
        }
        if (o->clean && remove(path) == 0) fprintf(stderr, "bench: deleted %s\n", path);
        LVK_TRY(s == LVK_ERR_OUT_OF_MEMORY ? LVK_OK : s);
    }
    printf("  (MB/token: weight bytes one step reads; bound = copy bandwidth / MB per token)\n");
    return LVK_OK;
}

/* ---- per-token overhead ------------------------------------------------------------- */

/* A model whose weights cost nothing to read, so that decode time is what every
 * token pays regardless of its size: recording, submission, synchronisation and
 * one kernel launch per dispatch. */
static lvk_status bench_overhead(lvk_context *ctx, const options *o) {
    synth_params p = synth_default_params();
    p.n_layers = 32, p.n_embd = 16, p.n_heads = 2, p.n_kv_heads = 1, p.n_ff = 32, p.n_vocab = 300, p.n_ctx = 256;
    char path[4096 + 32];
    snprintf(path, sizeof path, "%s/litevk-bench-overhead.gguf", o->tmp);
    LVK_TRY(synth_llama_gguf(&p, path));
    decode_result r;
    lvk_status s = api_decode(ctx, path, 100, &r);
    remove(path);
    LVK_TRY(s);
    /* per block: q/k/v (RMSNorm fused in), 2 rope, attention, wo, gate, up, swiglu, down; plus embed and the
     * head's 3 (LM head with the final norm fused in, two reduction stages) */
    const int per_block = 5, dispatches = p.n_layers * per_block + 2; /* runtime/forward/gpu_forward.c: block(), embed, head */
    double us = r.decode_s / r.n_gen * 1e6;
    printf("overhead: %d blocks of 16 wide (weights negligible), %d greedy tokens: %.0f us/token, %.1f us/block, "
           "%.1f us/dispatch (%d dispatches, 1 submission per token)\n", p.n_layers, r.n_gen, us, us / p.n_layers,
           us / dispatches, dispatches);
    return LVK_OK;
}

/* ---- the default model: API and reference ----------------------------------------- */

/* Greedy decode with the plain-C reference forward, after the same prompt. */
static lvk_status reference_decode(const char *path, const decode_result *api, double *seconds) {
    host_model *m;
    ref_state *st = NULL;
    LVK_TRY(host_model_open(path, &m));
    lvk_status s = ref_create(m, api->n_prompt + api->n_gen, &st);
    const float *logits = NULL;
    for (int i = 0; s == LVK_OK && i < api->n_prompt; i++) s = ref_forward(st, api->prompt[i], i, &logits);
    double t0 = now_s();
    for (int k = 0; s == LVK_OK && k < api->n_gen; k++) {
        int best = 0;
        for (int v = 1; v < m->hp.n_vocab; v++) best = logits[v] > logits[best] ? v : best;
        s = ref_forward(st, best, api->n_prompt + k, &logits);
    }
    *seconds = now_s() - t0;
    ref_free(st);
    host_model_free(m);
    return s;
}

static lvk_status bench_default(lvk_context *ctx, measured *m) {
    const char *path = LITEVK_ASSETS_DIR "/stories260K.gguf";
    decode_result r;
    double ref_s;
    LVK_TRY(api_decode(ctx, path, DEFAULT_TOKENS, &r));
    LVK_TRY(reference_decode(path, &r, &ref_s));
    m->tps[ROW_STORIES] = r.n_gen / r.decode_s;
    printf("default: stories260K, %d greedy tokens after a %d-token prompt (API %.1f prompt tokens/s): "
           "API %.1f tokens/s, plain-C reference %.1f tokens/s\n", r.n_gen, r.n_prompt, r.n_prompt / r.prompt_s,
           m->tps[ROW_STORIES], r.n_gen / ref_s);
    return LVK_OK;
}

/* ---- --compare: LiteVK beside reference figures ------------------------------------ */

typedef char cell[64];

/* Columns UTF-8 text takes on a terminal: continuation bytes take none. */
static int text_width(const char *s) {
    int w = 0;
    for (; *s; s++) w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

/* Tokens/s with 3 or more significant digits, no exponent. */
static void format_rate(cell out, double tps) {
    snprintf(out, sizeof(cell), tps >= 100 ? "%.0f" : tps >= 10 ? "%.1f" : "%.2f", tps);
}

/* A reference figure as given, with LiteVK's ratio to it: "0.53 (2.4x)". */
static void format_ref(cell out, const char *text, double value, double tps) {
    double ratio = tps / value;
    if (!(tps > 0)) snprintf(out, sizeof(cell), "%s", text);
    else snprintf(out, sizeof(cell), ratio >= 10 ? "%s (%.0fx)" : "%s (%.2gx)", text, ratio);
}

static int row_compared(const options *o, int row) {
    for (int c = 0; c < o->n_columns; c++)
        if (o->columns[c].text[row][0]) return 1;
    return 0;
}

/* One row per model some --compare names: LiteVK's decode tokens/s, each
 * column's figure with LiteVK's ratio to it, the bandwidth bound. */
static void print_compare(const options *o, const measured *m) {
    enum { MAX_CELLS = MAX_COLUMNS + 3 };
    cell t[N_ROWS + 1][MAX_CELLS];
    int n_cells = o->n_columns + 3, n_lines = 1, width[MAX_CELLS] = {0};
    snprintf(t[0][0], sizeof(cell), "model");
    snprintf(t[0][1], sizeof(cell), "LiteVK");
    for (int c = 0; c < o->n_columns; c++) snprintf(t[0][2 + c], sizeof(cell), "%s", o->columns[c].label);
    snprintf(t[0][n_cells - 1], sizeof(cell), "bound");
    for (int row = 0; row < N_ROWS; row++) {
        if (!row_compared(o, row)) continue;
        cell *line = t[n_lines++];
        snprintf(line[0], sizeof(cell), "%s", row_names[row]);
        if (m->tps[row] > 0) format_rate(line[1], m->tps[row]);
        else snprintf(line[1], sizeof(cell), "not run");
        for (int c = 0; c < o->n_columns; c++) {
            const ref_column *col = &o->columns[c];
            if (col->text[row][0]) format_ref(line[2 + c], col->text[row], col->value[row], m->tps[row]);
            else snprintf(line[2 + c], sizeof(cell), "\u2014");
        }
        if (m->bound[row] > 0) format_rate(line[n_cells - 1], m->bound[row]);
        else snprintf(line[n_cells - 1], sizeof(cell), "\u2014");
    }
    for (int l = 0; l < n_lines; l++)
        for (int c = 0; c < n_cells; c++)
            if (text_width(t[l][c]) > width[c]) width[c] = text_width(t[l][c]);
    printf("compare: decode tokens/s; (Nx) = LiteVK / the figure, a range at its midpoint\n");
    for (int l = 0; l < n_lines; l++) {
        for (int c = 0; c < n_cells; c++) {
            int pad = width[c] - text_width(t[l][c]);
            if (c == 0) printf("  %s%*s", t[l][c], pad, ""); /* the model: left-aligned, the figures right */
            else printf("  %*s%s", pad, "", t[l][c]);
        }
        putchar('\n');
    }
    printf("  (bound = copy bandwidth / weight bytes per token; none for stories260K, whose weights fit in "
           "cache)\n");
}

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
        s = o->n_types ? matvec_part(&g, o->types, o->n_types, *copy_gbps, ok)
                       : matvec_part(&g, weight_types, LVK_N_WEIGHT_TYPES, *copy_gbps, ok);
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
