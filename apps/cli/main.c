/* main.c — `litevk COMMAND [options]`. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: litevk COMMAND [options]\n"
    "\n"
    "LiteVK runs LLaMA-family GGUF models on any Vulkan GPU (or Mesa's lavapipe on the CPU).\n"
    "\n"
    "commands:\n"
    "  run       generate text from a prompt, or chat with a model (-i)\n"
    "  calibrate measure exit thresholds on a prompt set and write them into a copy of a model\n"
    "  bench     compare early exit with full depth on a prompt set: speed, cost, agreement\n"
    "  tokenize  print the token ids of a text\n"
    "  info      show a model's hyper-parameters, tensors and metadata\n"
    "  devices   list the Vulkan devices and which one would be used\n"
    "  convert   convert a Hugging Face checkpoint (Llama, Qwen2), or a llama2.c one, to GGUF\n"
    "\n"
    "`litevk COMMAND --help` describes each command's options.\n"
    "environment: LITEVK_DEVICE=<index|name> picks a device, LITEVK_VALIDATE=1 enables the\n"
    "Khronos validation layer.\n";

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("litevk %s\n", LVK_VERSION_STRING);
        return 0;
    }
    const cli_command *command = cli_find_command(cmd);
    if (command) return command->run(argc - 2, argv + 2);
    fprintf(stderr, "litevk: unknown command '%s' (see `litevk --help`)\n", cmd);
    return 2;
}
