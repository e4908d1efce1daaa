/* api_inspect.c — the public API's view of a model's file (litevk.h,
 * "inspecting a model's file"): its metadata keys and tensors as the GGUF
 * reader parsed them. */
#include "api_model.h"
#include "status.h"

#include <string.h>

/* litevk.h numbers its value types as GGUF does, so they pass through unchanged. */
_Static_assert((int)LVK_VALUE_UINT8 == (int)GGUF_UINT8 && (int)LVK_VALUE_STRING == (int)GGUF_STRING &&
                   (int)LVK_VALUE_ARRAY == (int)GGUF_ARRAY && (int)LVK_VALUE_FLOAT64 == (int)GGUF_FLOAT64 &&
                   (int)GGUF_N_VALUE_TYPES == (int)LVK_VALUE_FLOAT64 + 1,
               "lvk_value_type follows GGUF's numbering");
_Static_assert(LVK_MAX_DIMS == GGUF_MAX_DIMS, "a tensor's shape fits lvk_tensor_info");

/* The public form of a parsed value: every number also as a double. */
static lvk_meta_value meta_value(const gguf_value *v) {
    lvk_meta_value out = {.type = (lvk_value_type)v->type};
    switch (v->type) {
    case GGUF_STRING: out.str = v->v.str.ptr, out.str_len = v->v.str.len; break;
    case GGUF_ARRAY:
        out.array_type = (lvk_value_type)v->arr_type;
        out.array_count = v->arr_count;
        break;
    case GGUF_FLOAT32: case GGUF_FLOAT64: out.f = v->v.f64; break;
    case GGUF_INT8: case GGUF_INT16: case GGUF_INT32: case GGUF_INT64: out.i = v->v.i64, out.f = (double)v->v.i64; break;
    default: out.u = v->v.u64, out.f = (double)v->v.u64; break; /* unsigned integers and bool */
    }
    return out;
}

uint64_t lvk_model_meta_count(const lvk_model *m) { return m ? m->host->file->n_kv : 0; }

/* Checks a metadata index for `function`. */
static lvk_status check_meta_index(const lvk_model *m, uint64_t index, const char *function) {
    if (index >= m->host->file->n_kv)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "%s: key %llu is outside the %llu of the file", function,
                           (unsigned long long)index, (unsigned long long)m->host->file->n_kv);
    return LVK_OK;
}

lvk_status lvk_model_meta(const lvk_model *m, uint64_t index, lvk_meta_entry *out) {
    if (!m || !out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_model_meta: NULL argument");
    LVK_TRY(check_meta_index(m, index, "lvk_model_meta"));
    const gguf_kv *kv = &m->host->file->kv[index];
    *out = (lvk_meta_entry){.key = kv->key.ptr, .key_len = (size_t)kv->key.len, .value = meta_value(&kv->value)};
    return LVK_OK;
}

lvk_status lvk_model_meta_element(const lvk_model *m, uint64_t index, uint64_t element, lvk_meta_value *out) {
    if (!m || !out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_model_meta_element: NULL argument");
    LVK_TRY(check_meta_index(m, index, "lvk_model_meta_element"));
    const gguf_kv *kv = &m->host->file->kv[index];
    const gguf_value *v = &kv->value;
    if (v->type != GGUF_ARRAY)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "%.*s is a %s, not an array", (int)kv->key.len, kv->key.ptr,
                           gguf_value_type_name(v->type));
    if (v->arr_type == GGUF_ARRAY)
        return status_fail(LVK_ERR_UNSUPPORTED, "%.*s is an array of arrays, whose elements are not kept",
                           (int)kv->key.len, kv->key.ptr);
    gguf_value e;
    if (gguf_arr_get(v, element, &e) != 0)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "element %llu is outside %.*s's %llu",
                           (unsigned long long)element, (int)kv->key.len, kv->key.ptr,
                           (unsigned long long)v->arr_count);
    *out = meta_value(&e);
    return LVK_OK;
}

const char *lvk_value_type_name(lvk_value_type type) { return gguf_value_type_name((uint32_t)type); }

uint64_t lvk_model_tensor_count(const lvk_model *m) { return m ? m->host->file->n_tensors : 0; }

lvk_status lvk_model_tensor(const lvk_model *m, uint64_t index, lvk_tensor_info *out) {
    if (!m || !out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_model_tensor: NULL argument");
    const gguf_file *f = m->host->file;
    if (index >= f->n_tensors)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_model_tensor: tensor %llu is outside the %llu of the file",
                           (unsigned long long)index, (unsigned long long)f->n_tensors);
    const gguf_tensor *t = &f->tensors[index];
    *out = (lvk_tensor_info){.name = t->name.ptr, .name_len = (size_t)t->name.len, .type = t->type,
                             .n_dims = (int)t->n_dims, .n_elements = t->n_elements, .n_bytes = t->n_bytes};
    memcpy(out->shape, t->ne, sizeof out->shape); /* the reader sets the dimensions past n_dims to 1 */
    return LVK_OK;
}

const char *lvk_type_name(uint32_t type) { return ggml_type_name(type); }
