/* vk_fault.c — see vk_fault.h. Counters are atomics: sessions run on threads. */
#include "vk/vk_fault.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

static atomic_uint_least64_t calls;   /* every call */
static atomic_uint_least64_t matched; /* calls of the armed name */
static atomic_uint_least64_t fail_at; /* value of `matched` that fails, 0 = none */
static atomic_int_least64_t live;
static VkResult error;
static char call_name[64]; /* "" = any call */

void vk_fault_arm(uint64_t n, VkResult e, const char *call) {
    atomic_store(&fail_at, 0);
    error = e;
    snprintf(call_name, sizeof call_name, "%s", call ? call : "");
    atomic_store(&matched, 0);
    atomic_store(&fail_at, n);
}

static const struct { const char *name; VkResult error; } errors[] = {
    {"out_of_device_memory", VK_ERROR_OUT_OF_DEVICE_MEMORY},
    {"out_of_host_memory", VK_ERROR_OUT_OF_HOST_MEMORY},
    {"device_lost", VK_ERROR_DEVICE_LOST},
    {"initialization_failed", VK_ERROR_INITIALIZATION_FAILED},
};

/* LITEVK_FAULT=CALL:N:ERROR; a malformed value is reported and ignored. */
static void arm_from_environment(void) {
    const char *v = getenv("LITEVK_FAULT");
    if (!v || !v[0]) return;
    char call[64], name[32];
    unsigned long long n;
    if (sscanf(v, "%63[^:]:%llu:%31s", call, &n, name) == 3)
        for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
            if (!strcmp(name, errors[i].name)) {
                vk_fault_arm(n, errors[i].error, strcmp(call, "any") ? call : NULL);
                return;
            }
    /* A testing hook: a typo must not pass silently as "no fault". */
    fprintf(stderr, "litevk: LITEVK_FAULT='%s' is not CALL:N:ERROR with a known ERROR; ignored\n", v);
}

int vk_fault_injected(const char *name) {
    static once_flag once = ONCE_FLAG_INIT;
    call_once(&once, arm_from_environment);
    atomic_fetch_add(&calls, 1);
    uint64_t at = atomic_load(&fail_at);
    if (at == 0 || (call_name[0] && strcmp(name, call_name))) return 0;
    return atomic_fetch_add(&matched, 1) + 1 == at;
}

VkResult vk_fault_error(void) { return error; }

VkResult vk_fault_created(const char *name, VkResult r) {
    if (r == VK_SUCCESS && (!strncmp(name, "vkCreate", 8) || !strcmp(name, "vkAllocateMemory")))
        atomic_fetch_add(&live, 1);
    return r;
}

void vk_fault_destroyed(void) { atomic_fetch_sub(&live, 1); }
uint64_t vk_fault_calls(void) { return atomic_load(&calls); }
int64_t vk_fault_live_objects(void) { return atomic_load(&live); }
