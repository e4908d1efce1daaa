/* status.c — per-thread error messages behind lvk_last_error(). */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

const char *lvk_last_error(void) { return last_error; }

const char *lvk_status_name(lvk_status status) {
    switch (status) {
    case LVK_OK: return "ok";
    case LVK_ERR_INVALID_ARGUMENT: return "invalid argument";
    case LVK_ERR_IO: return "i/o error";
    case LVK_ERR_FORMAT: return "malformed model file";
    case LVK_ERR_UNSUPPORTED: return "unsupported";
    case LVK_ERR_DEVICE: return "device error";
    case LVK_ERR_OUT_OF_MEMORY: return "out of memory";
    case LVK_ERR_CONTEXT_FULL: return "context full";
    case LVK_ERR_STATE: return "call out of order";
    }
    return "unknown status";
}

lvk_status status_fail(lvk_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

lvk_status status_fail_prefix(lvk_status status, const char *fmt, ...) {
    char prefix[512], old[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error, sizeof old);
    /* prefix ": " old, truncated to the buffer (prefix is at most 511 bytes) */
    size_t np = strlen(prefix), room = sizeof last_error - np - 3;
    size_t no = strnlen(old, room);
    memcpy(last_error, prefix, np);
    memcpy(last_error + np, ": ", 2);
    memcpy(last_error + np + 2, old, no);
    last_error[np + 2 + no] = 0;
    return status;
}
