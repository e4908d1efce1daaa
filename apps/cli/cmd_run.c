/* cmd_run.c — `litevk run`: generate text from a prompt, answer it as a
 * user's message in the model's chat format (--chat), or hold a conversation
 * in the terminal (-i). */
#include "cli.h"
#include "exit_options.h"
#include "json_write.h"
#include "prompts.h"
#include "reply.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char help_head[] =
    "usage: litevk run [-m MODEL] (-p PROMPT | -f FILE) [options]\n"
    "       litevk run [-m MODEL] -i [-p SYSTEM] [options]\n"
    "\n"
    "Generates text after PROMPT and streams it to stdout; timings go to stderr. With --chat\n"
    "or --template, PROMPT is a user's message and the reply is printed; with -i, a\n"
    "conversation in the terminal: type a message and Enter, and the reply streams; Ctrl+C\n"
    "stops a reply, and at the prompt Ctrl+C, Ctrl+D (end of input) or /exit quits.\n"
    "\n"
    CLI_MODEL_HELP
    "  -p, --prompt TEXT    the prompt (UTF-8); this or -f is required but with -i, where it\n"
    "                       is the system message\n"
    "  -f, --file FILE      the prompt from FILE (one trailing newline dropped; - reads stdin)\n"
    "      --chat           PROMPT is a user's message in the model's chat format\n"
    "                       (tokenizer.chat_template; raw, the text as it is, when it has none)\n"
    "  -i, --interactive    a conversation in the model's chat format, a line a message\n"
    "      --template NAME  the chat format (implies --chat), instead of the model's:\n";

static const char help_sampling[] =
    "  -n, --n-predict N    tokens to generate, per reply with -i (default 128); stops early at\n"
    "                       an end-of-generation token (EOS, EOT, <|im_end|>, ...) and, in a\n"
    "                       chat format, at its stop strings\n"
    "  -c, --ctx-size N     context length (default: the model's, at most 4096)\n"
    "      --temp T         temperature; 0 = greedy (default 0.8)\n"
    "      --top-k K        sample from the K most likely tokens; 0 = all (default 40)\n"
    "      --top-p P        sample from the smallest set with probability P (default 0.95)\n"
    "      --min-p P        drop tokens less likely than P times the most likely, by the\n"
    "                       model's probabilities before temperature; 0 = off (default 0.05)\n"
    "      --repeat-penalty F  divide the logits of the tokens among the last N of the\n"
    "                       context by F when positive, multiply them when not (llama.cpp's\n"
    "                       rule); 1 = off (default 1, in 0.01..100). At --temp 0 it costs a\n"
    "                       read-back of the logits per token; not with --speculate\n"
    "      --repeat-last-n N  the tokens --repeat-penalty looks at: the last N of the\n"
    "                       context, the prompt included (default 64; -1 = all, 0 = none)\n"
    "  -s, --seed S         random seed (default: from the clock; printed on stderr)\n"
    "      --device D       Vulkan device index or name substring (see `litevk devices`)\n"
    "      --json           one JSON object per generated token per line, then a summary:\n"
    "                       {\"i\":0,\"id\":403,\"piece\":\" upon\",\"layer\":5,\"n_layers\":5,\"confidence\":0.93,\n"
    "                       \"drafted\":false}\n"
    "                       layer = blocks run for the token (n_layers at full depth; with\n"
    "                       --speculate, the draft exit block for an accepted draft);\n"
    "                       drafted = a drafted token that verification accepted;\n"
    "                       confidence = top softmax probability of the head that chose it\n"
    "                       (an exit head, or the final one). Bytes of a piece that are not\n"
    "                       valid UTF-8 on their own are written as \\u00XX. The summary:\n"
    "                       {\"done\":true,\"n_prompt\":N,\"n_gen\":N,\"load_ms\":x,\"prompt_ms\":x,\n"
    "                       \"first_token_ms\":x,\"prompt_tokens_per_s\":x,\"decode_tokens_per_s\":x}\n"
    "                       (load_ms: reading the model, uploading it and making the session;\n"
    "                       first_token_ms: from the start of loading to the first generated\n"
    "                       token, the prompt included)\n"
    "      --show-exits     colour each token by the block it exited after, from red (earliest\n"
    "                       exit) to green (full depth), with a legend before the text; after\n"
    "                       it, a summary on stderr: tokens, blocks per token, blocks skipped\n"
    "      --color[=WHEN]   when --show-exits colours: auto (default: if stdout is a terminal),\n"
    "                       always (also bare --color) or never\n"
    "  -h, --help           this text\n"
    "\n";

typedef struct run_options {
    const char *model, *prompt, *prompt_file, *device;
    const char *format; /* --template: a chat format's name (the library's string) */
    int chat, interactive;
    long n_predict, n_ctx, top_k;
    double temp, top_p, min_p, repeat_penalty;
    long repeat_last_n;
    unsigned long long seed;
    int seed_given, json;
    int show_exits;
    int color; /* -1 auto, 0 never, 1 always */
    exit_options exits;
} run_options;

static int parse(int argc, char **argv, run_options *o) {
    *o = (run_options){.model = NULL, .n_predict = 128, .temp = 0.8, .top_k = 40, .top_p = 0.95,
                        .min_p = 0.05, .repeat_penalty = 1.0, .repeat_last_n = 64, .color = -1};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        long n;
        int taken = exit_options_arg(&o->exits, "run", argc, argv, &i);
        if (taken < 0) return 2;
        if (taken) continue;
#define VALUE() if (!(v = cli_value(argc, argv, &i))) return 2
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(help_head, stdout);
            cli_print_chat_formats(stdout);
            fputs(help_sampling, stdout);
            fputs(exit_options_help, stdout);
            return -1;
        }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VALUE(); o->model = v; }
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) { VALUE(); o->prompt = v; }
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) { VALUE(); o->prompt_file = v; }
        else if (!strcmp(a, "--device")) { VALUE(); o->device = v; }
        else if (!strcmp(a, "--chat")) o->chat = 1;
        else if (!strcmp(a, "-i") || !strcmp(a, "--interactive")) o->interactive = 1;
        else if (!strcmp(a, "--template")) {
            VALUE();
            if (lvk_chat_format_detect(v, &o->format) != LVK_OK) return cli_usage_error("run", "--template: %s", lvk_last_error());
            o->chat = 1;
        }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { VALUE(); if (cli_int(a, v, 0, 1 << 24, &o->n_predict)) return 2; }
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) { VALUE(); if (cli_int(a, v, 0, 1 << 24, &o->n_ctx)) return 2; }
        else if (!strcmp(a, "--top-k")) { VALUE(); if (cli_int(a, v, 0, 1 << 24, &o->top_k)) return 2; }
        else if (!strcmp(a, "--temp")) { VALUE(); if (cli_float(a, v, 0, 100, &o->temp)) return 2; }
        else if (!strcmp(a, "--top-p")) { VALUE(); if (cli_float(a, v, 1e-6, 1, &o->top_p)) return 2; }
        else if (!strcmp(a, "--min-p")) { VALUE(); if (cli_float(a, v, 0, 1, &o->min_p)) return 2; }
        else if (!strcmp(a, "--repeat-penalty")) { VALUE(); if (cli_float(a, v, 0.01, 100, &o->repeat_penalty)) return 2; }
        else if (!strcmp(a, "--repeat-last-n")) { VALUE(); if (cli_int(a, v, -1, 1 << 24, &o->repeat_last_n)) return 2; }
        else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) { VALUE(); if (cli_int(a, v, 0, 0x7fffffffL, &n)) return 2; o->seed = (unsigned long long)n; o->seed_given = 1; }
        else if (!strcmp(a, "--json")) o->json = 1;
        else if (!strcmp(a, "--show-exits")) o->show_exits = 1;
        else if (!strcmp(a, "--color") || !strcmp(a, "--color=always")) o->color = 1;
        else if (!strcmp(a, "--color=never")) o->color = 0;
        else if (!strcmp(a, "--color=auto")) o->color = -1;
        else if (!strncmp(a, "--color=", 8)) return cli_usage_error("run", "--color takes auto, always or never, not '%s'", a + 8);
        else return cli_usage_error("run", "unknown option '%s'", a);
#undef VALUE
    }
    if (o->prompt && o->prompt_file) return cli_usage_error("run", "give the prompt once: -p TEXT or -f FILE");
    if (!o->prompt && !o->prompt_file && !o->interactive)
        return cli_usage_error("run", "a prompt is required (-p TEXT or -f FILE)");
    if (o->interactive && o->json) return cli_usage_error("run", "--json cannot be combined with -i");
    if (o->interactive && o->prompt_file && !strcmp(o->prompt_file, "-"))
        return cli_usage_error("run", "-f - cannot be combined with -i: the conversation reads stdin");
    if (!o->model) o->model = cli_default_model();
    if (!o->seed_given) o->seed = (unsigned long long)time(NULL);
    return 0;
}

/* A gradient from red (the earliest exit) through yellow to green (full
 * depth), in the 256-colour palette. */
static const int exit_palette[] = {196, 202, 208, 214, 220, 226, 190, 154, 118, 82, 46};
enum { N_PALETTE = sizeof exit_palette / sizeof exit_palette[0] };

/* The colour of a token that ran `layer` blocks: exit k of n_exits, or the
 * full depth after them, spread evenly over the gradient. */
static int exit_color(const lvk_exit_config *cfg, int layer) {
    int k = 0;
    while (k < cfg->n_exits && cfg->layers[k] < layer) k++;
    return exit_palette[cfg->n_exits ? k * (N_PALETTE - 1) / cfg->n_exits : N_PALETTE - 1];
}

static void print_exit_legend(const lvk_exit_config *cfg, int n_layers) {
    fputs("litevk: exit colours:", stderr);
    for (int k = 0; k < cfg->n_exits; k++)
        fprintf(stderr, " \033[38;5;%dmblock %d\033[0m", exit_color(cfg, cfg->layers[k]), cfg->layers[k]);
    fprintf(stderr, " \033[38;5;%dmblock %d (full depth)\033[0m\n", exit_color(cfg, n_layers), n_layers);
}

int cmd_run_check(int argc, char **argv) {
    run_options o;
    return parse(argc, argv, &o);
}

/* -f: the file's text, one trailing newline dropped (as editors end a file);
 * NULL after printing why. */
static char *read_prompt_file(const char *path) {
    char err[512];
    size_t size;
    char *text = prompts_read_file(path, &size, err, sizeof err);
    if (!text) {
        cli_error("%s", err);
        return NULL;
    }
    if (memchr(text, '\0', size)) {
        cli_error("%s contains a NUL byte: a prompt must be text", path);
        free(text);
        return NULL;
    }
    if (size > 0 && text[size - 1] == '\n') size--;
    if (size > 0 && text[size - 1] == '\r') size--;
    char *prompt = realloc(text, size + 1); /* room for the terminator: the buffer may be exactly full */
    if (!prompt) {
        cli_error("%s: out of memory", path);
        free(text);
        return NULL;
    }
    prompt[size] = '\0';
    return prompt;
}

/* Where the tokens of a reply go as they become final: JSON lines, colours
 * by exit block, or plain text. */
typedef struct output {
    const run_options *o;
    const lvk_exit_config *exits;
    int colour;
    long n_shown, blocks_run;
} output;

static void show_token(const lvk_token_info *t, void *user) {
    output *out = user;
    if (out->o->json) {
        printf("{\"i\":%ld,\"id\":%d,\"piece\":", out->n_shown, t->id);
        json_write_string(stdout, t->piece);
        printf(",\"layer\":%d,\"n_layers\":%d,\"confidence\":%.4f,\"drafted\":%s}\n", t->layer, t->n_layers,
               t->confidence, t->drafted ? "true" : "false");
    } else if (out->colour) {
        printf("\033[38;5;%dm%s\033[0m", exit_color(out->exits, t->layer), t->piece);
    } else {
        fputs(t->piece, stdout);
    }
    fflush(stdout);
    out->n_shown++;
    out->blocks_run += t->layer;
}

/* Set by Ctrl+C during a conversation: the reply stops; at the prompt, the conversation ends. */
static volatile sig_atomic_t interrupted;
static void on_interrupt(int signal) {
    (void)signal;
    interrupted = 1;
}

/* What a reply did. */
typedef struct reply_result {
    long n_gen;        /* tokens generated (an end-of-generation token not counted) */
    double first_ms;   /* when the first token came (cli_now_ms), 0 if none */
    int context_full;
    char *text;        /* the reply's text, up to a stop string (malloc'ed) */
} reply_result;

/* Steps until -n, an end-of-generation token, one of `stops` (NULL: none),
 * a full context or Ctrl+C; the tokens go to `out` as they become final.
 * 0, or 1 after an error message. */
static int reply(lvk_session *session, const run_options *o, const char *const *stops, output *out,
                 reply_result *r) {
    *r = (reply_result){0};
    reply_stream stream;
    reply_stream_init(&stream, stops, show_token, out);
    int status = 0;
    while (r->n_gen < o->n_predict && !interrupted) {
        lvk_token_info t;
        lvk_status s = lvk_session_step(session, &t);
        if (s == LVK_ERR_CONTEXT_FULL) {
            r->context_full = 1;
            break;
        }
        if (s != LVK_OK) {
            status = cli_error("%s", lvk_last_error());
            break;
        }
        if (r->n_gen == 0) r->first_ms = cli_now_ms();
        if (t.is_eog) break;
        r->n_gen++;
        if (reply_stream_push(&stream, &t)) break;
    }
    reply_stream_finish(&stream);
    size_t len;
    const char *text = reply_stream_text(&stream, &len);
    if (!status && !(r->text = strndup(text, len))) status = cli_error("out of memory");
    reply_stream_free(&stream);
    return status;
}

/* The messages of a conversation, their contents owned. */
typedef struct conversation {
    lvk_chat_message *messages;
    int n, cap;
} conversation;

static int add_message(conversation *c, const char *role, char *content) {
    if (!content) return cli_error("out of memory");
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        lvk_chat_message *grown = realloc(c->messages, (size_t)cap * sizeof *grown);
        if (!grown) {
            free(content);
            return cli_error("out of memory");
        }
        c->messages = grown;
        c->cap = cap;
    }
    c->messages[c->n++] = (lvk_chat_message){.role = role, .content = content};
    return 0;
}

/* Forgets the messages from `keep` on. */
static void forget_from(conversation *c, int keep) {
    while (c->n > keep) free((char *)c->messages[--c->n].content);
}

/* A line of stdin without its line end; NULL at the end of input or on Ctrl+C. */
static char *read_message(void) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    return line;
}

/* -i: a line a user's message, each answered in the chat format, until
 * /exit, the end of input or Ctrl+C at the prompt. The system message (-p)
 * stays when a full context starts the conversation over. */
static int converse(lvk_session *session, const run_options *o, const char *format, output *out) {
    struct sigaction interrupt = {.sa_handler = on_interrupt}; /* no SA_RESTART: Ctrl+C ends a read at the prompt */
    sigemptyset(&interrupt.sa_mask);
    sigaction(SIGINT, &interrupt, NULL);
    conversation c = {0};
    int status = o->prompt ? add_message(&c, "system", strdup(o->prompt)) : 0;
    const int kept = c.n, echo = !isatty(0); /* piped input is shown, as a terminal shows what is typed */
    int n_fed = 0;
    while (!status) {
        interrupted = 0;
        fputs("> ", stdout);
        fflush(stdout);
        char *line = read_message();
        if (!line) { /* the end of input, or Ctrl+C: the prompt's line ends */
            putchar('\n');
            break;
        }
        if (echo) printf("%s\n", line);
        if (!strcmp(line, "/exit")) {
            free(line);
            break;
        }
        if (!line[0]) {
            free(line);
            continue;
        }
        if ((status = add_message(&c, "user", line))) break;
        lvk_status s = lvk_session_feed_chat(session, format, c.messages, c.n, n_fed, 1);
        if (s == LVK_ERR_CONTEXT_FULL) {
            fprintf(stderr, "litevk: the context is full: the conversation starts over\n");
            lvk_chat_message last = c.messages[--c.n];
            forget_from(&c, kept);
            c.messages[c.n++] = last;
            lvk_session_reset(session);
            s = lvk_session_feed_chat(session, format, c.messages, c.n, 0, 1);
        }
        if (s != LVK_OK) {
            status = cli_error("%s", lvk_last_error());
            break;
        }
        reply_result r;
        if ((status = reply(session, o, lvk_chat_format_stop_strings(format), out, &r))) break;
        putchar('\n');
        if (r.context_full) fprintf(stderr, "litevk: the context is full: the next message starts over\n");
        if ((status = add_message(&c, "assistant", r.text))) break;
        n_fed = c.n;
    }
    forget_from(&c, 0);
    free(c.messages);
    signal(SIGINT, SIG_DFL);
    return status;
}

int cmd_run(int argc, char **argv) {
    run_options o;
    int r = parse(argc, argv, &o);
    if (r) return r < 0 ? 0 : r;
    char *prompt_text = NULL; /* -f's, read before the model loads: a bad file costs no load */
    if (o.prompt_file && !(o.prompt = prompt_text = read_prompt_file(o.prompt_file))) return 1;

    lvk_context *ctx = NULL;
    lvk_model *model = NULL;
    lvk_session *session = NULL;
    lvk_exit_config exits;
    double t_start = cli_now_ms(); /* load time and time to first token count from here */
    int status = cli_load_model(o.device, o.model, !o.json, &ctx, &model);
    if (!status) status = exit_options_config(&o.exits, model, "run", &exits);
    if (status) goto done;
    status = 1;
    const char *format = o.format;
    if ((o.chat || o.interactive) && !format && lvk_model_chat_format(model, &format) != LVK_OK) {
        cli_error("%s (--template names one)", lvk_last_error());
        goto done;
    }
    lvk_session_params sp = lvk_session_default_params();
    sp.n_ctx = (int)o.n_ctx;
    sp.temperature = (float)o.temp;
    sp.top_k = (int)o.top_k;
    sp.top_p = (float)o.top_p;
    sp.min_p = (float)o.min_p;
    sp.repeat_penalty = (float)o.repeat_penalty;
    sp.repeat_last_n = (int)o.repeat_last_n;
    sp.seed = o.seed;
    sp.exits = &exits;
    if (lvk_session_create(model, &sp, &session) != LVK_OK) {
        cli_error("%s", lvk_last_error());
        goto done;
    }
    lvk_device_info dev;
    lvk_context_device(ctx, &dev);
    if (!o.json) fprintf(stderr, "litevk: device %d: %s; seed %llu\n", dev.index, dev.name, o.seed);
    if (format && !o.json)
        fprintf(stderr, "litevk: chat format %s%s\n", format, o.format ? "" : " (the model's)");

    output out = {.o = &o, .exits = &exits, .colour = o.show_exits && !o.json && (o.color == 1 || (o.color < 0 && isatty(1)))};
    lvk_model_info info;
    lvk_model_get_info(model, &info);
    if (out.colour) print_exit_legend(&exits, info.n_layers);
    if (o.interactive) {
        status = converse(session, &o, format, &out);
        goto done;
    }

    /* one prompt: the text to continue, or a user's message to answer */
    double t0 = cli_now_ms();
    const lvk_chat_message message = {.role = "user", .content = o.prompt};
    lvk_status fed = format ? lvk_session_feed_chat(session, format, &message, 1, 0, 1)
                            : lvk_session_feed_ex(session, o.prompt, LVK_TOKENIZE_ADD_SPECIAL);
    if (fed != LVK_OK) {
        cli_error("%s", lvk_last_error());
        goto done;
    }
    double t1 = cli_now_ms();
    int n_prompt = lvk_session_n_past(session); /* the session was empty */
    if (!o.json && !format) fputs(o.prompt, stdout);
    reply_result gen;
    if (reply(session, &o, format ? lvk_chat_format_stop_strings(format) : NULL, &out, &gen)) goto done;
    free(gen.text);
    if (gen.context_full) fprintf(stderr, "\nlitevk: stopped: %s\n", lvk_last_error());
    double t2 = cli_now_ms();
    /* decode rate: each generated token is one forward pass (the last one's
     * result is not needed, but it ran) */
    double decode_tps = gen.n_gen > 0 && t2 > t1 ? gen.n_gen / ((t2 - t1) / 1e3) : 0;
    double prompt_tps = t1 > t0 ? n_prompt / ((t1 - t0) / 1e3) : 0;
    if (o.json) {
        printf("{\"done\":true,\"n_prompt\":%d,\"n_gen\":%ld,\"load_ms\":%.2f,\"prompt_ms\":%.2f,"
               "\"first_token_ms\":%.2f,\"prompt_tokens_per_s\":%.1f,\"decode_tokens_per_s\":%.1f}\n",
               n_prompt, gen.n_gen, t0 - t_start, t1 - t0, gen.first_ms > 0 ? gen.first_ms - t_start : 0,
               prompt_tps, decode_tps);
    } else {
        putchar('\n');
        fflush(stdout); /* the text's last line before the timings on stderr */
        fprintf(stderr, "litevk: loaded in %.0f ms; prompt %d tokens in %.1f ms (%.1f tokens/s); generated %ld tokens at "
                "%.1f tokens/s",
                t0 - t_start, n_prompt, t1 - t0, prompt_tps, gen.n_gen, decode_tps);
        if (gen.first_ms > 0) fprintf(stderr, "; first token %.0f ms after the start of loading", gen.first_ms - t_start);
        fputc('\n', stderr);
    }
    if (o.show_exits && out.n_shown > 0)
        fprintf(stderr, "litevk: exits: %ld tokens, %.2f of %d blocks per token on average, %.1f%% of blocks skipped\n",
                out.n_shown, (double)out.blocks_run / out.n_shown, info.n_layers,
                100.0 * (1.0 - (double)out.blocks_run / ((double)out.n_shown * info.n_layers)));
    status = 0;
done:
    lvk_session_free(session);
    lvk_model_free(model);
    lvk_context_free(ctx);
    free(prompt_text);
    return status;
}
