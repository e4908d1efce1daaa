/* convert_gguf.c — a GGUF re-typed; see convert_gguf.h.
 *
 * The input is loaded as the runtime loads it (host_model_from_gguf), so a
 * file LiteVK would refuse is refused here with the same message, before
 * anything is written. The writer then asks for each tensor's rows, which
 * are read from the mapped input and converted.
 */
#include "convert/convert_gguf.h"

#include "alloc.h"
#include "formats/gguf.h"
#include "formats/gguf_write.h"
#include "formats/mapped_file.h"
#include "model/model.h"
#include "formats/quant.h"
#include "status.h"

#include <stdio.h>
#include <string.h>

/* One tensor of the output, filled from its input tensor. */
typedef struct retype_job {
    const gguf_tensor *src;
    uint32_t type;
    float *row; /* shared: one row of the widest tensor, as F32 */
} retype_job;

static uint64_t row_bytes(uint32_t type, uint64_t n) { return n / ggml_block_elems(type) * ggml_block_bytes(type); }

static lvk_status fill_tensor(void *user, void *dst, uint64_t first_row, uint64_t n_rows) {
    const retype_job *j = user;
    uint64_t n = j->src->ne[0], in_bytes = row_bytes(j->src->type, n), out_bytes = row_bytes(j->type, n);
    const uint8_t *src = (const uint8_t *)j->src->data + first_row * in_bytes;
    if (j->type == j->src->type) {
        memcpy(dst, src, n_rows * in_bytes);
        return LVK_OK;
    }
    for (uint64_t r = 0; r < n_rows; r++) {
        dequantize_row(j->src->type, src + r * in_bytes, j->row, n);
        quantize_row(j->type, j->row, (uint8_t *)dst + r * out_bytes, n);
    }
    return LVK_OK;
}

static lvk_status add_metadata(const gguf_file *f, uint32_t out_type, gguf_writer *w) {
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        char key[256];
        if (kv->key.len >= sizeof key)
            return status_fail(LVK_ERR_UNSUPPORTED, "metadata key '%.64s...' is longer than %zu bytes", kv->key.ptr,
                            sizeof key - 1);
        memcpy(key, kv->key.ptr, (size_t)kv->key.len);
        key[kv->key.len] = 0;
        /* the file's new type, where the input says what its was */
        if (!strcmp(key, "general.file_type")) LVK_TRY(gguf_writer_add_u32(w, key, quant_file_type(out_type)));
        else LVK_TRY(gguf_writer_add_value(w, key, &kv->value));
    }
    return LVK_OK;
}

/* Every tensor of the input, in its order: matrices in out_type (F16 where a
 * row is not whole blocks), vectors F32. */
static lvk_status add_tensors(const gguf_file *f, uint32_t out_type, retype_job *jobs, float *row, gguf_writer *w) {
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        if (!weight_type_supported(t->type))
            return status_fail(LVK_ERR_UNSUPPORTED, "tensor '%.*s' is %s; LiteVK re-types %s tensors", (int)t->name.len,
                            t->name.ptr, ggml_type_name(t->type), weight_type_names(", ", " and "));
        char name[256]; /* the writer refuses a name longer than ggml's 63 bytes */
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        jobs[i] = (retype_job){.src = t, .type = t->n_dims == 1 ? GGML_F32 : quant_row_type(out_type, t->ne[0]),
                               .row = row};
        LVK_TRY(gguf_writer_add_tensor_fill(w, name, jobs[i].type, t->n_dims, t->ne, fill_tensor, &jobs[i]));
    }
    return LVK_OK;
}

static lvk_status convert(const mapped_file *in, const char *in_path, const char *out_path, uint32_t out_type,
                          lvk_convert_progress_fn progress, void *progress_user, host_model **model,
                          retype_job **jobs, float **row, gguf_writer **w) {
    if (mapped_file_is(in, out_path))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "output '%s' is the input file", out_path);
    gguf_file *f;
    lvk_status s = gguf_parse(in->data, in->size, &f);
    if (s == LVK_OK) s = host_model_from_gguf(f, model); /* owns f from here, on failure too */
    if (s != LVK_OK) return status_fail_prefix(s, "%s", in_path);
    uint64_t widest = 1;
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (f->tensors[i].ne[0] > widest) widest = f->tensors[i].ne[0];
    *jobs = mem_calloc(f->n_tensors ? f->n_tensors : 1, sizeof **jobs);
    *row = mem_malloc((size_t)widest * sizeof **row);
    if (!*jobs || !*row) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
    LVK_TRY(gguf_writer_create(w));
    LVK_TRY(add_metadata(f, out_type, *w));
    s = add_tensors(f, out_type, *jobs, *row, *w);
    if (s != LVK_OK) return status_fail_prefix(s, "%s", in_path);
    gguf_writer_set_progress(*w, progress, progress_user);
    return gguf_writer_write(*w, out_path);
}

lvk_status convert_gguf(const char *in_path, const char *out_path, uint32_t out_type, lvk_convert_progress_fn progress,
                        void *progress_user) {
    if (!in_path || !out_path) return status_fail(LVK_ERR_INVALID_ARGUMENT, "convert_gguf: NULL path");
    if (!weight_type_supported(out_type))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "cannot convert to %s: choose %s", ggml_type_name(out_type),
                        weight_type_names(", ", " or "));
    mapped_file in = {0};
    host_model *model = NULL;
    retype_job *jobs = NULL;
    float *row = NULL;
    gguf_writer *w = NULL;
    lvk_status s = map_file(in_path, &in);
    if (s == LVK_OK) s = convert(&in, in_path, out_path, out_type, progress, progress_user, &model, &jobs, &row, &w);
    gguf_writer_free(w);
    mem_free(row);
    mem_free(jobs);
    host_model_free(model);
    unmap_file(&in);
    return s;
}
