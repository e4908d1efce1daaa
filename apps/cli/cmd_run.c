/* cmd_run.c — `litevk run`: generate text from a prompt. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char help[] =
    "usage: litevk run [-m MODEL] -p PROMPT [options]\n"
    "\n"
    "Generates text after PROMPT and streams it to stdout; timings go to stderr.\n"
    "\n"
    "  -m, --model PATH     GGUF model (default: the TinyStories model in assets/)\n"
    "  -p, --prompt TEXT    the prompt (required; UTF-8)\n"
    "  -n, --n-predict N    tokens to generate (default 128); stops early at end of text\n"
    "  -c, --ctx-size N     context length (default: the model's, at most 4096)\n"
    "      --temp T         temperature; 0 = greedy (default 0.8)\n"
    "      --top-k K        sample from the K most likely tokens; 0 = all (default 40)\n"
    "      --top-p P        sample from the smallest set with probability P (default 0.95)\n"
    "      --seed S         random seed (default: from the clock; printed on stderr)\n"
    "      --device D       Vulkan device index or name substring (see `litevk devices`)\n"
    "      --json           one JSON object per generated token per line, then a summary:\n"
    "                       {\"i\":0,\"id\":403,\"piece\":\" upon\",\"layer\":5,\"n_layers\":5,\"confidence\":0.93}\n"
    "                       layer = blocks run for the token (1-based); confidence = softmax\n"
    "                       probability of the model's most likely token. Bytes of a piece\n"
    "                       that are not valid UTF-8 on their own are written as \\u00XX.\n"
    "  -h, --help           this text\n";

typedef struct run_options {
    const char *model, *prompt, *device;
    long n_predict, n_ctx, top_k;
    double temp, top_p;
    unsigned long long seed;
    int seed_given, json;
} run_options;

static int parse(int argc, char **argv, run_options *o) {
    *o = (run_options){.model = NULL, .n_predict = 128, .temp = 0.8, .top_k = 40, .top_p = 0.95};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        long n;
#define VALUE() if (!(v = cli_value(argc, argv, &i))) return 2
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(help, stdout); return -1; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VALUE(); o->model = v; }
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) { VALUE(); o->prompt = v; }
        else if (!strcmp(a, "--device")) { VALUE(); o->device = v; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { VALUE(); if (cli_int(a, v, 0, 1 << 24, &o->n_predict)) return 2; }
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) { VALUE(); if (cli_int(a, v, 0, 1 << 24, &o->n_ctx)) return 2; }
        else if (!strcmp(a, "--top-k")) { VALUE(); if (cli_int(a, v, 0, 1 << 24, &o->top_k)) return 2; }
        else if (!strcmp(a, "--temp")) { VALUE(); if (cli_float(a, v, 0, 100, &o->temp)) return 2; }
        else if (!strcmp(a, "--top-p")) { VALUE(); if (cli_float(a, v, 1e-6, 1, &o->top_p)) return 2; }
        else if (!strcmp(a, "--seed")) { VALUE(); if (cli_int(a, v, 0, 0x7fffffffL, &n)) return 2; o->seed = (unsigned long long)n; o->seed_given = 1; }
        else if (!strcmp(a, "--json")) o->json = 1;
        else return cli_usage_error("run", "unknown option '%s'", a);
#undef VALUE
    }
    if (!o->prompt) return cli_usage_error("run", "a prompt is required (-p TEXT)");
    if (!o->model) o->model = cli_default_model();
    if (!o->seed_given) o->seed = (unsigned long long)time(NULL);
    return 0;
}

/* Writes a JSON string: valid UTF-8 sequences as they are, other bytes as \u00XX. */
static void json_string(FILE *f, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    while (*p) {
        unsigned char c = *p;
        int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = len > 0;
        for (int k = 1; ok && k < len; k++) ok = (p[k] & 0xc0) == 0x80;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c == '\r') fputs("\\r", f);
        else if (c < 0x20 || !ok) fprintf(f, "\\u%04x", c);
        else {
            fwrite(p, 1, (size_t)len, f);
            p += len;
            continue;
        }
        p++;
    }
    fputc('"', f);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A progress line on a terminal, redrawn when the percentage changes. */
static int load_progress(float fraction, void *user) {
    int *shown = user, percent = (int)(fraction * 100.0f);
    if (percent == *shown) return 0;
    *shown = percent;
    fprintf(stderr, "\rlitevk: loading model %3d%%%s", percent, percent >= 100 ? "\n" : "");
    return 0;
}

int cmd_run(int argc, char **argv) {
    run_options o;
    int r = parse(argc, argv, &o);
    if (r) return r < 0 ? 0 : r;

    lvk_context *ctx = NULL;
    lvk_model *model = NULL;
    lvk_session *session = NULL;
    int status = 1;
    lvk_context_params cp = lvk_context_default_params();
    cp.device = o.device;
    lvk_model_params mp = lvk_model_default_params();
    int shown = -1;
    mp.progress = o.json || !isatty(2) ? NULL : load_progress;
    mp.progress_user = &shown;
    lvk_session_params sp = lvk_session_default_params();
    sp.n_ctx = (int)o.n_ctx;
    sp.temperature = (float)o.temp;
    sp.top_k = (int)o.top_k;
    sp.top_p = (float)o.top_p;
    sp.seed = o.seed;
    if (lvk_context_create(&cp, &ctx) != LVK_OK || lvk_model_load(ctx, o.model, &mp, &model) != LVK_OK ||
        lvk_session_create(model, &sp, &session) != LVK_OK) {
        cli_error("%s", lvk_last_error());
        goto done;
    }
    lvk_device_info dev;
    lvk_context_device(ctx, &dev);
    if (!o.json) fprintf(stderr, "litevk: device %d: %s; seed %llu\n", dev.index, dev.name, o.seed);

    double t0 = now_ms();
    if (lvk_session_feed(session, o.prompt, 1) != LVK_OK) {
        cli_error("%s", lvk_last_error());
        goto done;
    }
    double t1 = now_ms();
    int n_prompt = lvk_session_n_past(session); /* the session was empty */
    if (!o.json) fputs(o.prompt, stdout);
    long n_gen = 0;
    for (; n_gen < o.n_predict; n_gen++) {
        lvk_token_info t;
        lvk_status s = lvk_session_step(session, &t);
        if (s == LVK_ERR_CONTEXT_FULL) {
            fprintf(stderr, "\nlitevk: stopped: %s\n", lvk_last_error());
            break;
        }
        if (s != LVK_OK) {
            cli_error("%s", lvk_last_error());
            goto done;
        }
        if (t.is_eos) break;
        if (o.json) {
            printf("{\"i\":%ld,\"id\":%d,\"piece\":", n_gen, t.id);
            json_string(stdout, t.piece);
            printf(",\"layer\":%d,\"n_layers\":%d,\"confidence\":%.4f}\n", t.layer, t.n_layers, t.confidence);
        } else {
            fputs(t.piece, stdout);
        }
        fflush(stdout);
    }
    double t2 = now_ms();
    /* decode rate: each generated token is one forward pass (the last one's
     * result is not needed, but it ran) */
    double decode_tps = n_gen > 0 && t2 > t1 ? n_gen / ((t2 - t1) / 1e3) : 0;
    if (o.json) {
        printf("{\"done\":true,\"n_prompt\":%d,\"n_gen\":%ld,\"prompt_ms\":%.2f,\"decode_tokens_per_s\":%.1f}\n",
               n_prompt, n_gen, t1 - t0, decode_tps);
    } else {
        putchar('\n');
        fprintf(stderr, "litevk: prompt %d tokens in %.1f ms (%.1f tokens/s); generated %ld tokens at %.1f tokens/s\n",
                n_prompt, t1 - t0, n_prompt / ((t1 - t0) / 1e3), n_gen, decode_tps);
    }
    status = 0;
done:
    lvk_session_free(session);
    lvk_model_free(model);
    lvk_context_free(ctx);
    return status;
}
