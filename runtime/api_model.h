/* api_model.h — what a public lvk_model handle holds, for the files of the
 * public API that read it (api.c, api_inspect.c). */
#ifndef LVK_API_MODEL_H
#define LVK_API_MODEL_H

#include "forward/gpu_model.h"
#include "model/model.h"

struct lvk_model {
    lvk_context *ctx;
    host_model *host;
    gpu_model *gpu;        /* NULL when loaded with vocab_only or inspect_only */
    int vocab_only;
    lvk_exit_config exits; /* from the litevk.* metadata, or the defaults */
    int exits_calibrated;
};

#endif
