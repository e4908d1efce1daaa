/* cli.h — the `litevk` command line: one file per command. */
#ifndef LVK_CLI_H
#define LVK_CLI_H

#include "litevk.h"

#include <stdio.h>

/* A command gets argv after the command name. `run` parses its options, then
 * runs it, and returns the exit status. `check` only parses them, with the
 * same messages (the fuzzer calls it): 0 when the command would run, -1 after
 * printing --help, 2 after a usage error. */
typedef struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    int (*check)(int argc, char **argv);
} cli_command;

/* The command called `name`, or NULL. */
const cli_command *cli_find_command(const char *name);

int cmd_run(int argc, char **argv);
int cmd_run_check(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_tokenize_check(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_info_check(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_devices_check(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_convert_check(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_calibrate_check(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_bench_check(int argc, char **argv);

/* Prints "litevk: <message>" on stderr and returns 1 (or 2 for usage errors). */
int cli_error(const char *fmt, ...);
int cli_usage_error(const char *command, const char *fmt, ...);
/* The value of a flag that takes one; NULL (after an error line) if missing. */
const char *cli_value(int argc, char **argv, int *i);
/* Parses an integer / float flag value within [min, max]; 0 on success. */
int cli_int(const char *flag, const char *text, long min, long max, long *out);
int cli_float(const char *flag, const char *text, double min, double max, double *out);
/* The default model: stories260K-lite.gguf in ../share/litevk/ from the
 * program's folder, where `cmake --install` puts it and where the build tree
 * links assets/. */
const char *cli_default_model(void);
/* The -m line of every command's --help. */
#define CLI_MODEL_HELP "  -m, --model PATH     GGUF model (default: stories260K-lite, installed with LiteVK)\n"
/* Creates a context on `device` (NULL = automatic) for the model at
 * model_path. On lavapipe, for a model of at most 2 MB, and when the user has
 * not set LP_NUM_THREADS, it sets LP_NUM_THREADS=0 for the process (one
 * thread runs such a model faster) and says so on stderr. 0, or 1 when no
 * context could be made (lvk_last_error() says why). */
int cli_create_context(const char *device, const char *model_path, lvk_context **ctx);
/* Creates a context on `device` (NULL = automatic) and loads the model at
 * `path` into it, with a loading bar on stderr when `show_progress` and stderr
 * is a terminal. Returns 0, or 1 after an error message (nothing to free). */
int cli_load_model(const char *device, const char *path, int show_progress, lvk_context **ctx, lvk_model **model);
/* The chat formats' names, for --help: a list indented as option texts are. */
void cli_print_chat_formats(FILE *out);
/* A monotonic clock in milliseconds, for timings. */
double cli_now_ms(void);

#endif
