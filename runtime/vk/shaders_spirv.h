/* shaders_spirv.h — SPIR-V of every compute shader in shaders/, embedded at build time. */
#ifndef LVK_SHADERS_SPIRV_H
#define LVK_SHADERS_SPIRV_H

#include <stddef.h>
#include <stdint.h>

typedef struct spirv_blob {
    const char *name; /* file name without .comp */
    const uint32_t *words;
    size_t n_words;
} spirv_blob;

extern const spirv_blob spirv_table[];
extern const size_t spirv_count;

#endif
