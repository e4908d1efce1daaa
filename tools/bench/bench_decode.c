/* bench_decode.c — litevk-bench's parts through the public API: decode
 * (tokens/s of TinyLlama-shaped random-weight models per weight type, beside
 * the bound the copy bandwidth sets), default (the shipped stories260K model,
 * API against the plain-C reference) and overhead (the per-token cost of a
 * model whose weights are negligible). */
#include "bench.h"
#include "forward/reference.h"
#include "model/model.h"
#include "status.h"
#include "synth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
lvk_status ensure_model(const options *o, uint32_t type, char *path, size_t size) {
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

lvk_status bench_decode(lvk_context *ctx, const options *o, const uint32_t *types, int n_types,
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
lvk_status bench_overhead(lvk_context *ctx, const options *o) {
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

lvk_status bench_default(lvk_context *ctx, measured *m) {
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
