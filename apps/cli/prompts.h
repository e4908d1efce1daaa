/* prompts.h — prompt files: run's -f, and the prompt sets of calibrate and
 * bench (whose formats litevk.h's lvk_prompt_set_parse reads). */
#ifndef LVK_CLI_PROMPTS_H
#define LVK_CLI_PROMPTS_H

#include "litevk.h"

#include <stddef.h>

/* The whole of file `path` ("-": standard input) in a malloc'd buffer, read in
 * a loop (a pipe has no size), *size bytes; NULL with a message in err on
 * failure. */
char *prompts_read_file(const char *path, size_t *size, char *err, size_t err_size);
/* Reads and parses the prompt set at `path`. Returns 0, or 1 after an error
 * message ("cannot open FILE: ...", "FILE:17: expected ...", "no prompts in
 * FILE"). */
int prompts_load(const char *path, lvk_prompt_set **out);

#endif
