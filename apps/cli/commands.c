/* commands.c — the table of `litevk` commands (see cli.h). */
#include "cli.h"

#include <string.h>

static const cli_command commands[] = {
    {"run", cmd_run, cmd_run_check},
    {"calibrate", cmd_calibrate, cmd_calibrate_check},
    {"bench", cmd_bench, cmd_bench_check},
    {"tokenize", cmd_tokenize, cmd_tokenize_check},
    {"info", cmd_info, cmd_info_check},
    {"devices", cmd_devices, cmd_devices_check},
    {"convert", cmd_convert, cmd_convert_check},
};

const cli_command *cli_find_command(const char *name) {
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name)) return &commands[i];
    return NULL;
}
