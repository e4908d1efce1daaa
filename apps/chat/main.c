/* main.c — `litevk-chat`: the desktop chat app that shows the block every
 * token of a reply exited after. */
#include "cli.h"
#include "exit_options.h"
#include "ui.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char help_head[] =
    "usage: litevk-chat [-m MODEL] [options]\n"
    "\n"
    "A chat window on a LiteVK model. Every token of a reply is coloured by the block it\n"
    "exited after (legend and statistics in the side panel; hover a token for details).\n"
    "The side panel's Decoding button cycles full depth, LITE exit and speculation (the\n"
    "exit heads draft, the rest of the model verifies: full depth's output; accepted drafts\n"
    "are underlined in their draft block's colour), from the next token.\n"
    "Enter sends, Shift+Enter adds a line, Esc stops a reply, Ctrl+L starts over, Ctrl+V\n"
    "pastes, PgUp/PgDn and the wheel scroll; drop a .gguf file on the window (or type\n"
    "/load PATH) to load another model.\n"
    "\n"
    CLI_MODEL_HELP
    "      --template NAME  the conversation's chat format (default: the model's chat\n"
    "                       template's; raw, which continues the text, when it has none):\n";

static const char help_tail[] =
    "  -n, --n-predict N    tokens per reply at most (default 256); also ends at an\n"
    "                       end-of-generation token (EOS, EOT, <|im_end|>, ...) and at the\n"
    "                       format's stop strings\n"
    "  -c, --ctx-size N     context length (default: the model's, at most 4096)\n"
    "      --temp T         temperature; 0 = greedy (default 0.8)\n"
    "      --top-k K        sample from the K most likely tokens; 0 = all (default 40)\n"
    "      --top-p P        sample from the smallest set with probability P (default 0.95)\n"
    "      --min-p P        drop tokens less likely than P times the most likely, by the\n"
    "                       model's probabilities before temperature; 0 = off (default 0.05)\n"
    "      --repeat-penalty F, --repeat-last-n N  llama.cpp's repetition penalty over the\n"
    "                       last N tokens (default 1 = off, and 64), as `litevk run --help` says\n"
    "  -s, --seed S         random seed (default: from the clock)\n"
    "      --device D       Vulkan device index or name substring (see `litevk devices`)\n"
    "      --font PATH      a TrueType font (default: DejaVu Sans via fontconfig)\n"
    "      --size WxH       initial window size in points (default 1100x720)\n"
    "      --script FILE    type each line of FILE as a user turn, wait for each reply,\n"
    "                       then save --screenshot and exit (for tests and docs)\n"
    "      --screenshot OUT.png  where --script saves the window\n"
    "  -h, --help           this text\n"
    "\n";

int main(int argc, char **argv) {
    worker_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.params = lvk_session_default_params();
    cfg.params.temperature = 0.8f;
    cfg.params.top_k = 40;
    cfg.params.top_p = 0.95f;
    cfg.params.min_p = 0.05f;
    cfg.params.seed = (uint64_t)time(NULL);
    cfg.n_predict = 256;
    ui_options ui = {.width = 1100, .height = 720};
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        long n;
        double d;
        int taken = exit_options_arg(&cfg.exits, "litevk-chat", argc, argv, &i);
        if (taken < 0) return 2;
        if (taken) continue;
#define VALUE() if (!(v = cli_value(argc, argv, &i))) return 2
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(help_head, stdout);
            cli_print_chat_formats(stdout);
            fputs(help_tail, stdout);
            fputs(exit_options_help, stdout);
            return 0;
        }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VALUE(); model = v; }
        else if (!strcmp(a, "--device")) { VALUE(); cfg.device = v; }
        else if (!strcmp(a, "--font")) { VALUE(); ui.font_path = v; }
        else if (!strcmp(a, "--script")) { VALUE(); ui.script = v; }
        else if (!strcmp(a, "--screenshot")) { VALUE(); ui.screenshot = v; }
        else if (!strcmp(a, "--template")) {
            VALUE();
            if (lvk_chat_format_detect(v, &cfg.format) != LVK_OK) return cli_usage_error("litevk-chat", "--template: %s", lvk_last_error());
        }
        else if (!strcmp(a, "--size")) {
            VALUE();
            if (sscanf(v, "%dx%d", &ui.width, &ui.height) != 2 || ui.width < 400 || ui.height < 300 ||
                ui.width > 16384 || ui.height > 16384)
                return cli_usage_error("litevk-chat", "--size expects WxH of at least 400x300, got '%s'", v);
        }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { VALUE(); if (cli_int(a, v, 1, 1 << 20, &cfg.n_predict)) return 2; }
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) { VALUE(); if (cli_int(a, v, 0, 1 << 24, &n)) return 2; cfg.params.n_ctx = (int)n; }
        else if (!strcmp(a, "--top-k")) { VALUE(); if (cli_int(a, v, 0, 1 << 24, &n)) return 2; cfg.params.top_k = (int)n; }
        else if (!strcmp(a, "--temp")) { VALUE(); if (cli_float(a, v, 0, 100, &d)) return 2; cfg.params.temperature = (float)d; }
        else if (!strcmp(a, "--top-p")) { VALUE(); if (cli_float(a, v, 1e-6, 1, &d)) return 2; cfg.params.top_p = (float)d; }
        else if (!strcmp(a, "--min-p")) { VALUE(); if (cli_float(a, v, 0, 1, &d)) return 2; cfg.params.min_p = (float)d; }
        else if (!strcmp(a, "--repeat-penalty")) { VALUE(); if (cli_float(a, v, 0.01, 100, &d)) return 2; cfg.params.repeat_penalty = (float)d; }
        else if (!strcmp(a, "--repeat-last-n")) { VALUE(); if (cli_int(a, v, -1, 1 << 24, &n)) return 2; cfg.params.repeat_last_n = (int)n; }
        else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) { VALUE(); if (cli_int(a, v, 0, 0x7fffffffL, &n)) return 2; cfg.params.seed = (uint64_t)n; }
        else return cli_usage_error("litevk-chat", "unknown option '%s'", a);
#undef VALUE
    }
    if (ui.screenshot && !ui.script) return cli_usage_error("litevk-chat", "--screenshot needs --script");
    ui.model_path = model ? model : cli_default_model();
    char err[256];
    worker *w = worker_start(&cfg, ui.model_path, err, sizeof err);
    if (!w) return cli_error("%s", err);
    int status = ui_run(&ui, w);
    worker_free(w);
    return status;
}
