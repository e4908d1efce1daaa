/* fuzz.h — what the fuzz targets share. Each fuzz_*.c defines libFuzzer's
 * entry point; a LITEVK_FUZZ build links it with libFuzzer, the normal build
 * with replay.c (its crash inputs and seeds as ctest tests). */
#ifndef LVK_FUZZ_H
#define LVK_FUZZ_H

#include "litevk.h"
#include "status.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property of the code under test. On failure it names the property and
 * aborts, so that libFuzzer keeps the input (and the replay test fails). */
#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* Clears the thread's error message, so that a failure can be checked to set one. */
static inline void fuzz_clear_error(void) { status_fail(LVK_OK, "%s", ""); }

/* A library call's result: success, or a failure that says why (the
 * library's promise: a status with a message, never an abort). */
static inline lvk_status fuzz_checked(lvk_status s) {
    FUZZ_CHECK(s == LVK_OK || lvk_last_error()[0] != 0);
    return s;
}

/* Makes a library call with the error message cleared first and checks its status. */
#define FUZZ_CALL(call) (fuzz_clear_error(), fuzz_checked(call))

#endif
