/* status.h — setting the thread's error message and returning a status. */
#ifndef LVK_STATUS_H
#define LVK_STATUS_H

#include "litevk.h"

#if defined(__GNUC__)
#define LVK_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LVK_PRINTF(a, b)
#endif

/* Records the message for lvk_last_error() and returns `status`. */
lvk_status status_fail(lvk_status status, const char *fmt, ...) LVK_PRINTF(2, 3);
/* Prefixes the current message with context ("loading x.gguf: ..."). */
lvk_status status_fail_prefix(lvk_status status, const char *fmt, ...) LVK_PRINTF(2, 3);

#define LVK_TRY(expr)                       \
    do {                                    \
        lvk_status try_status_ = (expr);     \
        if (try_status_ != LVK_OK)           \
            return try_status_;              \
    } while (0)

#endif
