/* cli.c — what the commands (and litevk-chat) share: errors, flag values, the
 * default model, a context suited to the model, loading a model with a
 * progress line, a clock. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("litevk: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_usage_error(const char *command, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    /* a command of `litevk`, or a program of its own such as "litevk-chat" */
    const char *program = strncmp(command, "litevk-", 7) ? "litevk " : "";
    fprintf(stderr, "%s%s: ", program, command);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see `%s%s --help`)\n", program, command);
    va_end(ap);
    return 2;
}

const char *cli_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        cli_error("option %s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int cli_int(const char *flag, const char *text, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
    {
        cli_error("%s expects an integer in %ld..%ld, got '%s'", flag, min, max, text);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_float(const char *flag, const char *text, double min, double max, double *out) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < min || v > max)
    {
        cli_error("%s expects a number in %g..%g, got '%s'", flag, min, max, text);
        return -1;
    }
    *out = v;
    return 0;
}

#define DEFAULT_MODEL_FILE "stories260K-lite.gguf"

/* The default model lies at LITEVK_DATA_FROM_BIN from the program's own
 * folder: where `cmake --install` puts it, and where the build tree links
 * assets/. So an installed program or one run from the build tree finds it
 * from any working directory, and no build path is compiled in. */
const char *cli_default_model(void) {
    static char path[PATH_MAX];
    if (path[0]) return path;
    char exe[PATH_MAX], joined[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = n > 0 ? memrchr(exe, '/', (size_t)n) : NULL;
    if (!slash) {
        snprintf(path, sizeof path, "%s", DEFAULT_MODEL_FILE);
        return path;
    }
    *slash = '\0';
    int len = snprintf(joined, sizeof joined, "%s/%s/%s", exe, LITEVK_DATA_FROM_BIN, DEFAULT_MODEL_FILE);
    if (len < 0 || (size_t)len >= sizeof joined || !realpath(joined, path))
        snprintf(path, sizeof path, "%s", len >= 0 && (size_t)len < sizeof joined ? joined : DEFAULT_MODEL_FILE);
    return path;
}

/* A loading line on a terminal, redrawn when the percentage changes. */
static int load_progress(float fraction, void *user) {
    int *shown = user, percent = (int)(fraction * 100.0f);
    if (percent == *shown) return 0;
    *shown = percent;
    fprintf(stderr, "\rlitevk: loading model %3d%%%s", percent, percent >= 100 ? "\n" : "");
    return 0;
}

/* lavapipe hands every dispatch to its worker threads and waits for them:
 * about 35 us a dispatch, against 8-9 us on the submitting thread alone, so
 * its threads pay off only once a token's arithmetic outweighs that. Measured
 * with `litevk run --no-exit` on 2 cores: a 1 MB model decodes 1.7-2.3x
 * faster on one thread, one of 5 MB (a 32000-token vocabulary) 1.05-1.2x
 * slower, one of 10 MB about as fast, and larger ones 1.3-1.8x slower. */
#define ONE_THREAD_MAX_BYTES (2u << 20)
#define VENDOR_MESA 0x10005

int cli_create_context(const char *device, const char *model_path, lvk_context **ctx) {
    lvk_context_params cp = lvk_context_default_params();
    cp.device = device;
    if (lvk_context_create(&cp, ctx) != LVK_OK) return 1;
    lvk_device_info d;
    struct stat st;
    if (getenv("LP_NUM_THREADS") || lvk_context_device(*ctx, &d) != LVK_OK || d.vendor_id != VENDOR_MESA ||
        strcmp(d.type, "cpu") != 0 || stat(model_path, &st) != 0 || st.st_size > ONE_THREAD_MAX_BYTES)
        return 0;
    /* lavapipe reads LP_NUM_THREADS when a device is created: a new context takes it */
    setenv("LP_NUM_THREADS", "0", 1);
    lvk_context_free(*ctx);
    *ctx = NULL;
    if (lvk_context_create(&cp, ctx) != LVK_OK) return 1;
    fprintf(stderr, "litevk: lavapipe runs a model of %.1f MB faster on one thread: LP_NUM_THREADS=0 "
                    "(set LP_NUM_THREADS to choose)\n", st.st_size / 1e6);
    return 0;
}

int cli_load_model(const char *device, const char *path, int show_progress, lvk_context **ctx, lvk_model **model) {
    lvk_model_params mp = lvk_model_default_params();
    int shown = -1;
    mp.progress = show_progress && isatty(2) ? load_progress : NULL;
    mp.progress_user = &shown;
    *ctx = NULL;
    *model = NULL;
    if (cli_create_context(device, path, ctx) == 0 && lvk_model_load(*ctx, path, &mp, model) == LVK_OK) return 0;
    cli_error("%s", lvk_last_error());
    lvk_context_free(*ctx);
    *ctx = NULL;
    return 1;
}

void cli_print_chat_formats(FILE *out) {
    const char *indent = "                       ";
    int column = fprintf(out, "%s", indent);
    for (int i = 0; lvk_chat_format_name(i); i++) {
        const char *name = lvk_chat_format_name(i);
        if (i > 0 && column + (int)strlen(name) + 2 > 88) column = fprintf(out, ",\n%s", indent) - 2;
        else if (i > 0) column += fprintf(out, ", ");
        column += fprintf(out, "%s", name);
    }
    fputc('\n', out);
}

double cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
