/* alloc.h — every host allocation of the runtime goes through these, so that
 * a test can count what is outstanding (nothing may leak on an error path)
 * and make the N-th allocation fail (every failure must return a status). */
#ifndef LVK_ALLOC_H
#define LVK_ALLOC_H

#include <stddef.h>
#include <stdint.h>

void *mem_malloc(size_t size);
void *mem_calloc(size_t n, size_t size);
void *mem_realloc(void *p, size_t size);
char *mem_strdup(const char *s);
void mem_free(void *p);

/* ---- test hooks ---- */
/* Blocks allocated and not yet freed through these functions. */
int64_t mem_alloc_outstanding(void);
/* Allocations attempted so far (successful or not). */
uint64_t mem_alloc_calls(void);
/* The n-th allocation from now (1-based) fails; 0 disarms. */
void mem_alloc_fail_at(uint64_t n);

#endif
