/* gpu_shared.h — the constants the shaders and the C runtime share, defined
 * once. Plain #defines only: the shaders include this file too (glslc -I
 * runtime), so it must read as GLSL as well as C. */
#ifndef LVK_GPU_SHARED_H
#define LVK_GPU_SHARED_H

#define LVK_MAX_BATCH 8        /* token columns a kernel computes at once: decode-side passes (deferred
                                  K/V fill, verification) are at most this wide; wider ones run in
                                  tiles of this many columns */
#define LVK_MAX_PROMPT_COLUMNS 64 /* the widest prompt pass a device's tuning may choose, a multiple
                                     of LVK_MAX_BATCH (Params.tokens, start_layer) */
#define LVK_GPU_MAX_EXITS 16   /* exit heads per pass (Params.thresholds); litevk.h's LVK_MAX_EXITS */
#define LVK_PLAN_COUNTS 16     /* exit_gate's plan buffer: LVK_GPU_MAX_EXITS gate ranges, then each slot's counts */
#define LVK_COLUMN_HELD 0xffffffffu /* Params.start_layer of a column that runs nothing in this pass: it keeps its x */
#define LVK_NEVER_EXIT 2.0     /* a threshold no probability exceeds */
/* The uniform texel buffers after the storage buffers (bindings 0-7): the
 * weight matrix a kernel reads as RGBA32UI and as R32UI, and binding 1's
 * buffer, a mat-vec's input, as RGBA32UI. */
#define LVK_WEIGHT_BINDING 8
#define LVK_INPUT_BINDING 10

#endif
