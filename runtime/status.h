/* status.h — setting the thread's error message and returning a status
 * (LVK_TRY, which callers of the API use too, is litevk.h's). */
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

#endif
