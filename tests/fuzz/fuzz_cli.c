/* fuzz_cli.c — `litevk` command lines: the input split at NUL bytes is
 * argv (the command name first), parsed by the command's option parser
 * without running the command. */
#include "cli.h"
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* a copy with a NUL after each argument, the last one included */
    char *text = malloc(size + 1);
    int argc = 1;
    for (size_t i = 0; i < size; i++) argc += data[i] == 0;
    char **argv = malloc(sizeof *argv * ((size_t)argc + 1));
    FUZZ_CHECK(text && argv);
    memcpy(text, data, size);
    text[size] = 0;
    argv[0] = text;
    for (size_t i = 0, k = 1; i < size; i++)
        if (!text[i]) argv[k++] = text + i + 1;
    argv[argc] = NULL;
    const cli_command *command = cli_find_command(argv[0]);
    if (command) {
        int r = command->check(argc - 1, argv + 1);
        FUZZ_CHECK(r == 0 || r == -1 || r == 2);
    }
    free(argv);
    free(text);
    return 0;
}
