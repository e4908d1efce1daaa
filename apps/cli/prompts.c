/* prompts.c — reading prompt files; see prompts.h. */
#include "prompts.h"
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *prompts_read_file(const char *path, size_t *size, char *err, size_t err_size) {
    const int from_stdin = !strcmp(path, "-");
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len == cap) {
            char *grown = realloc(buf, cap = cap ? 2 * cap : 1 << 16);
            if (!grown) {
                snprintf(err, err_size, "%s: out of memory", path);
                free(buf);
                if (!from_stdin) fclose(f);
                return NULL;
            }
            buf = grown;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    if (ferror(f)) {
        snprintf(err, err_size, "cannot read %s: %s", path, strerror(errno));
        free(buf);
        buf = NULL;
    }
    if (!from_stdin) fclose(f);
    *size = len;
    return buf;
}

int prompts_load(const char *path, lvk_prompt_set **out) {
    char err[512];
    size_t size;
    char *buf = prompts_read_file(path, &size, err, sizeof err);
    if (!buf) return cli_error("%s", err);
    lvk_status s = lvk_prompt_set_parse(buf, size, path, out);
    free(buf);
    return s == LVK_OK ? 0 : cli_error("%s", lvk_last_error());
}
