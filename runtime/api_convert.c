/* api_convert.c — the public API's conversions (litevk.h, "conversion"): the
 * weight types by name, and the three converters with one set of parameters. */
#include "convert/convert.h"
#include "convert/convert_gguf.h"
#include "convert/convert_hf.h"
#include "formats/gguf.h"
#include "formats/quant.h"
#include "status.h"

#include <stdio.h>
#include <string.h>

const char *lvk_weight_type_name(int index) {
    return index >= 0 && index < LVK_N_WEIGHT_TYPES ? ggml_type_name(weight_types[index]) : NULL;
}

lvk_status lvk_weight_type_names(const char *sep, const char *last_sep, char *buf, size_t size) {
    if (!sep || !last_sep || !buf || size == 0)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_weight_type_names: NULL argument");
    snprintf(buf, size, "%s", weight_type_names(sep, last_sep));
    return LVK_OK;
}

lvk_status lvk_weight_type_parse(const char *name, uint32_t *type) {
    if (!name || !type) return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_weight_type_parse: NULL argument");
    for (int i = 0; i < LVK_N_WEIGHT_TYPES; i++)
        if (!strcmp(name, ggml_type_name(weight_types[i]))) {
            *type = weight_types[i];
            return LVK_OK;
        }
    return status_fail(LVK_ERR_INVALID_ARGUMENT, "unknown weight type '%s' (%s)", name,
                       weight_type_names(", ", " or "));
}

lvk_convert_params lvk_convert_default_params(void) {
    return (lvk_convert_params){.weight_type = GGML_F16, .vocab_only = 0, .progress = NULL, .progress_user = NULL};
}

/* Only a Hugging Face directory converts to a vocabulary alone: asked of the others, it is refused, not ignored. */
static lvk_status check_no_vocab_only(const lvk_convert_params *p, const char *what) {
    if (p->vocab_only)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "%s takes no vocab_only: only a Hugging Face directory has it",
                           what);
    return LVK_OK;
}

lvk_status lvk_convert_hf(const char *dir, const char *out_path, const lvk_convert_params *params) {
    if (!dir || !out_path) return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_convert_hf: NULL path");
    lvk_convert_params p = params ? *params : lvk_convert_default_params();
    convert_hf_params hf = {.out_type = p.weight_type, .vocab_only = p.vocab_only, .progress = p.progress,
                            .progress_user = p.progress_user};
    return convert_hf(dir, out_path, &hf);
}

lvk_status lvk_convert_llama2c(const char *checkpoint_path, const char *tokenizer_path, const char *out_path,
                               const lvk_convert_params *params) {
    lvk_convert_params p = params ? *params : lvk_convert_default_params();
    LVK_TRY(check_no_vocab_only(&p, "a llama2.c conversion"));
    return convert_llama2c(checkpoint_path, tokenizer_path, out_path, p.weight_type, p.progress, p.progress_user);
}

lvk_status lvk_convert_gguf(const char *in_path, const char *out_path, const lvk_convert_params *params) {
    lvk_convert_params p = params ? *params : lvk_convert_default_params();
    LVK_TRY(check_no_vocab_only(&p, "re-typing a GGUF"));
    return convert_gguf(in_path, out_path, p.weight_type, p.progress, p.progress_user);
}
