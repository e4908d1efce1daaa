/* alloc.c — see alloc.h. The counters are atomics: sessions run on threads. */
#include "alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_int_least64_t outstanding;
static atomic_uint_least64_t calls;
static atomic_uint_least64_t fail_at; /* index of the failing call, 0 = none */

/* Counts an attempt; 0 when this one is made to fail. */
static int allowed(void) {
    return atomic_fetch_add(&calls, 1) + 1 != atomic_load(&fail_at);
}

static void *counted(void *p) {
    if (p) atomic_fetch_add(&outstanding, 1);
    return p;
}

void *mem_malloc(size_t size) { return allowed() ? counted(malloc(size)) : NULL; }
void *mem_calloc(size_t n, size_t size) { return allowed() ? counted(calloc(n, size)) : NULL; }

void *mem_realloc(void *p, size_t size) {
    if (!p) return mem_malloc(size);
    return allowed() ? realloc(p, size) : NULL; /* on failure p stays valid, as with realloc */
}

char *mem_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = mem_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

void mem_free(void *p) {
    if (!p) return;
    atomic_fetch_sub(&outstanding, 1);
    free(p);
}

int64_t mem_alloc_outstanding(void) { return atomic_load(&outstanding); }
uint64_t mem_alloc_calls(void) { return atomic_load(&calls); }
void mem_alloc_fail_at(uint64_t n) { atomic_store(&fail_at, n ? atomic_load(&calls) + n : 0); }
