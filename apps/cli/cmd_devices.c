/* cmd_devices.c — `litevk devices`: the Vulkan devices and the automatic choice. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* It takes no options: 0, -1 after --help, 2 after a usage error. */
int cmd_devices_check(int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("usage: litevk devices\n\nLists the Vulkan devices, whether LiteVK can use each, and which one it\n"
                 "picks: LITEVK_DEVICE=<index|name substring> if set, else discrete > integrated >\n"
                 "virtual > CPU.");
            return -1;
        }
        return cli_usage_error("devices", "unknown option '%s'", argv[i]);
    }
    return 0;
}

int cmd_devices(int argc, char **argv) {
    int r = cmd_devices_check(argc, argv);
    if (r) return r < 0 ? 0 : r;
    lvk_device_info devs[16];
    int count = 0, chosen = -1;
    if (lvk_list_devices(devs, 16, &count, &chosen) != LVK_OK) return cli_error("%s", lvk_last_error());
    for (int i = 0; i < count && i < 16; i++) {
        const lvk_device_info *d = &devs[i];
        printf("%c %d: %s\n", i == chosen ? '*' : ' ', d->index, d->name);
        printf("     type %s, vendor 0x%04x, Vulkan %u.%u.%u, %.1f GiB device-local, subgroup %u,\n"
               "     max storage buffer range %.0f MiB\n     %s\n",
               d->type, d->vendor_id, d->api_version >> 22, (d->api_version >> 12) & 0x3ff, d->api_version & 0xfff,
               d->device_local_bytes / 1073741824.0, d->subgroup_size, d->max_storage_buffer_range / 1048576.0,
               d->why);
    }
    if (chosen >= 0)
        printf("* = the device LiteVK uses: %s\n", getenv("LITEVK_DEVICE") ? "chosen by LITEVK_DEVICE"
                                                                           : "the best usable type");
    else
        printf("no usable device%s\n", getenv("LITEVK_DEVICE") ? " matches LITEVK_DEVICE" : "");
    return chosen >= 0 ? 0 : 1;
}
