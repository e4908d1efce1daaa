/* gguf.c — GGUF v2/v3 reader. Every read goes through a bounds-checked cursor. */
#include "alloc.h"
#include "formats/gguf.h"
#include "formats/mapped_file.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define GGUF_MAX_ARRAY_DEPTH 4

typedef struct cursor {
    const uint8_t *base;
    uint64_t size, pos;
    const char *what; /* field being read, for error messages */
} cursor;

static lvk_status need(cursor *c, uint64_t n) {
    if (n > c->size - c->pos)
        return status_fail(LVK_ERR_FORMAT,
                        "file is truncated: %s needs %llu bytes at offset %llu, file has %llu",
                        c->what, (unsigned long long)n, (unsigned long long)c->pos,
                        (unsigned long long)c->size);
    return LVK_OK;
}

static lvk_status read_bytes(cursor *c, void *dst, uint64_t n) {
    LVK_TRY(need(c, n));
    memcpy(dst, c->base + c->pos, n);
    c->pos += n;
    return LVK_OK;
}

static lvk_status read_u32(cursor *c, uint32_t *v) { return read_bytes(c, v, 4); }
static lvk_status read_u64(cursor *c, uint64_t *v) { return read_bytes(c, v, 8); }

static lvk_status read_str(cursor *c, gguf_str *s) {
    uint64_t len;
    LVK_TRY(read_u64(c, &len));
    if (len > c->size - c->pos)
        return status_fail(LVK_ERR_FORMAT,
                        "%s: string length %llu at offset %llu runs past the end of the file",
                        c->what, (unsigned long long)len, (unsigned long long)(c->pos - 8));
    s->ptr = (const char *)c->base + c->pos;
    s->len = len;
    c->pos += len;
    return LVK_OK;
}

uint32_t gguf_scalar_size(uint32_t type) {
    switch (type) {
    case GGUF_UINT8: case GGUF_INT8: case GGUF_BOOL: return 1;
    case GGUF_UINT16: case GGUF_INT16: return 2;
    case GGUF_UINT32: case GGUF_INT32: case GGUF_FLOAT32: return 4;
    case GGUF_UINT64: case GGUF_INT64: case GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static double scalar_as_double(uint32_t type, const uint8_t *p) {
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32;
            float f32; uint64_t u64; int64_t i64; double f64; } u;
    memcpy(&u, p, gguf_scalar_size(type));
    switch (type) {
    case GGUF_UINT8: case GGUF_BOOL: return u.u8;
    case GGUF_INT8: return u.i8;
    case GGUF_UINT16: return u.u16;
    case GGUF_INT16: return u.i16;
    case GGUF_UINT32: return u.u32;
    case GGUF_INT32: return u.i32;
    case GGUF_FLOAT32: return u.f32;
    case GGUF_UINT64: return (double)u.u64;
    case GGUF_INT64: return (double)u.i64;
    case GGUF_FLOAT64: return u.f64;
    default: return 0;
    }
}

double gguf_arr_num(const gguf_value *v, uint64_t i) {
    uint32_t sz = gguf_scalar_size(v->arr_type);
    if (!sz || i >= v->arr_count) return 0;
    return scalar_as_double(v->arr_type, v->arr_data + i * sz);
}

/* Skips (validating) one value of `type`; used for nested arrays, whose
 * contents LiteVK never needs but must still bound-check. */
static lvk_status skip_value(cursor *c, uint32_t type, int depth);

/* A scalar of `type` at p into out->v: floats as f64, signed integers as
 * i64, unsigned ones and bool as u64. */
static void read_scalar(uint32_t type, const uint8_t *p, gguf_value *out) {
    switch (type) {
    case GGUF_FLOAT32: case GGUF_FLOAT64: out->v.f64 = scalar_as_double(type, p); break;
    case GGUF_INT64: memcpy(&out->v.i64, p, 8); break;
    case GGUF_UINT64: memcpy(&out->v.u64, p, 8); break;
    case GGUF_INT8: case GGUF_INT16: case GGUF_INT32:
        out->v.i64 = (int64_t)scalar_as_double(type, p);
        break;
    default: out->v.u64 = (uint64_t)scalar_as_double(type, p); break;
    }
}

int gguf_arr_get(const gguf_value *v, uint64_t i, gguf_value *out) {
    if (v->type != GGUF_ARRAY || i >= v->arr_count || v->arr_type == GGUF_ARRAY) return -1;
    memset(out, 0, sizeof *out);
    out->type = v->arr_type;
    if (v->arr_type == GGUF_STRING) out->v.str = v->arr_strs[i];
    else read_scalar(v->arr_type, v->arr_data + i * gguf_scalar_size(v->arr_type), out);
    return 0;
}

static lvk_status read_value(cursor *c, uint32_t type, gguf_value *out, int depth) {
    memset(out, 0, sizeof *out);
    out->type = type;
    uint32_t sz = gguf_scalar_size(type);
    if (sz) {
        LVK_TRY(need(c, sz));
        read_scalar(type, c->base + c->pos, out);
        c->pos += sz;
        return LVK_OK;
    }
    if (type == GGUF_STRING) return read_str(c, &out->v.str);
    if (type != GGUF_ARRAY)
        return status_fail(LVK_ERR_FORMAT, "%s: unknown value type %u", c->what, type);
    if (depth >= GGUF_MAX_ARRAY_DEPTH)
        return status_fail(LVK_ERR_FORMAT, "%s: arrays nested deeper than %d", c->what,
                        GGUF_MAX_ARRAY_DEPTH);
    LVK_TRY(read_u32(c, &out->arr_type));
    LVK_TRY(read_u64(c, &out->arr_count));
    if (out->arr_type >= GGUF_N_VALUE_TYPES)
        return status_fail(LVK_ERR_FORMAT, "%s: unknown array element type %u", c->what,
                        out->arr_type);
    out->arr_data = c->base + c->pos;
    uint32_t esz = gguf_scalar_size(out->arr_type);
    if (esz) {
        if (out->arr_count > (c->size - c->pos) / esz)
            return status_fail(LVK_ERR_FORMAT,
                            "%s: array of %llu %s values runs past the end of the file",
                            c->what, (unsigned long long)out->arr_count,
                            gguf_value_type_name(out->arr_type));
        c->pos += out->arr_count * esz;
        return LVK_OK;
    }
    /* Each string takes at least its 8-byte length: bound the count first so
     * an absurd count cannot make us allocate. */
    if (out->arr_count > (c->size - c->pos) / 8)
        return status_fail(LVK_ERR_FORMAT, "%s: array count %llu is larger than the file allows",
                        c->what, (unsigned long long)out->arr_count);
    if (out->arr_type == GGUF_STRING) {
        out->arr_strs = mem_malloc((size_t)(out->arr_count ? out->arr_count : 1) * sizeof(gguf_str));
        if (!out->arr_strs) return status_fail(LVK_ERR_OUT_OF_MEMORY, "%s: out of memory", c->what);
        for (uint64_t i = 0; i < out->arr_count; i++) {
            lvk_status s = read_str(c, &out->arr_strs[i]);
            if (s != LVK_OK) {
                mem_free(out->arr_strs);
                out->arr_strs = NULL;
                return s;
            }
        }
        return LVK_OK;
    }
    for (uint64_t i = 0; i < out->arr_count; i++) LVK_TRY(skip_value(c, out->arr_type, depth + 1));
    return LVK_OK;
}

static lvk_status skip_value(cursor *c, uint32_t type, int depth) {
    gguf_value v;
    LVK_TRY(read_value(c, type, &v, depth));
    mem_free(v.arr_strs);
    return LVK_OK;
}

const char *gguf_value_type_name(uint32_t type) {
    static const char *names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32",
                                  "float32", "bool", "string", "array", "uint64", "int64",
                                  "float64"};
    return type < GGUF_N_VALUE_TYPES ? names[type] : "unknown";
}

const char *ggml_type_name(uint32_t type) {
    switch (type) {
    case GGML_F32: return "f32";
    case GGML_F16: return "f16";
    case GGML_Q4_0: return "q4_0";
    case GGML_Q4_1: return "q4_1";
    case GGML_Q5_0: return "q5_0";
    case GGML_Q5_1: return "q5_1";
    case GGML_Q8_0: return "q8_0";
    case GGML_Q8_1: return "q8_1";
    case GGML_Q2_K: return "q2_k";
    case GGML_Q3_K: return "q3_k";
    case GGML_Q4_K: return "q4_k";
    case GGML_Q5_K: return "q5_k";
    case GGML_Q6_K: return "q6_k";
    case GGML_Q8_K: return "q8_k";
    case GGML_BF16: return "bf16";
    default: {
        static _Thread_local char buf[32];
        snprintf(buf, sizeof buf, "type %u", type);
        return buf;
    }
    }
}

uint32_t ggml_block_elems(uint32_t type) {
    switch (type) {
    case GGML_F32: case GGML_F16: case GGML_BF16: return 1;
    case GGML_Q4_0: case GGML_Q4_1: case GGML_Q5_0: case GGML_Q5_1: case GGML_Q8_0:
    case GGML_Q8_1: return 32;
    case GGML_Q2_K: case GGML_Q3_K: case GGML_Q4_K: case GGML_Q5_K: case GGML_Q6_K:
    case GGML_Q8_K: return 256;
    default: return 0;
    }
}

uint32_t ggml_block_bytes(uint32_t type) {
    switch (type) {
    case GGML_F32: return 4;
    case GGML_F16: case GGML_BF16: return 2;
    case GGML_Q4_0: return 18;
    case GGML_Q4_1: return 20;
    case GGML_Q5_0: return 22;
    case GGML_Q5_1: return 24;
    case GGML_Q8_0: return 34;
    case GGML_Q8_1: return 36;
    case GGML_Q2_K: return 84;
    case GGML_Q3_K: return 110;
    case GGML_Q4_K: return 144;
    case GGML_Q5_K: return 176;
    case GGML_Q6_K: return 210;
    case GGML_Q8_K: return 292;
    default: return 0;
    }
}

int gguf_str_eq(gguf_str s, const char *c) {
    size_t n = strlen(c);
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

static lvk_status parse_tensor_info(cursor *c, gguf_tensor *t, uint64_t index) {
    c->what = "tensor name";
    LVK_TRY(read_str(c, &t->name));
    int nl = t->name.len > 64 ? 64 : (int)t->name.len;
    LVK_TRY(read_u32(c, &t->n_dims));
    if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
        return status_fail(LVK_ERR_FORMAT, "tensor %llu '%.*s' has %u dimensions (1..%d allowed)",
                        (unsigned long long)index, nl, t->name.ptr, t->n_dims, GGUF_MAX_DIMS);
    t->n_elements = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        LVK_TRY(read_u64(c, &t->ne[d]));
        if (t->ne[d] == 0 || t->ne[d] > (1ull << 40) || t->n_elements > (UINT64_MAX >> 1) / t->ne[d])
            return status_fail(LVK_ERR_FORMAT, "tensor '%.*s' has an absurd dimension %llu", nl,
                            t->name.ptr, (unsigned long long)t->ne[d]);
        t->n_elements *= t->ne[d];
    }
    LVK_TRY(read_u32(c, &t->type));
    LVK_TRY(read_u64(c, &t->offset));
    uint32_t be = ggml_block_elems(t->type), bb = ggml_block_bytes(t->type);
    if (!be)
        return status_fail(LVK_ERR_FORMAT, "tensor '%.*s' has unknown type %u", nl, t->name.ptr,
                        t->type);
    if (t->ne[0] % be)
        return status_fail(LVK_ERR_FORMAT, "tensor '%.*s': row length %llu is not a multiple of %s's block of %u",
                        nl, t->name.ptr, (unsigned long long)t->ne[0], ggml_type_name(t->type), be);
    t->n_bytes = t->n_elements / be * bb;
    return LVK_OK;
}

lvk_status gguf_parse(const void *data, uint64_t size, gguf_file **out) {
    if (!data || !out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "gguf_parse: NULL argument");
    cursor c = {data, size, 0, "header"};
    uint32_t magic, version;
    uint64_t n_tensors, n_kv;
    LVK_TRY(read_u32(&c, &magic));
    if (magic != GGUF_MAGIC)
        return status_fail(LVK_ERR_FORMAT, "not a GGUF file (magic is 0x%08x, expected \"GGUF\")", magic);
    LVK_TRY(read_u32(&c, &version));
    if (version != 2 && version != 3)
        return status_fail(LVK_ERR_UNSUPPORTED, "GGUF version %u is not supported (2 and 3 are)", version);
    LVK_TRY(read_u64(&c, &n_tensors));
    LVK_TRY(read_u64(&c, &n_kv));
    /* A tensor info takes at least 8+4+8+4+8 bytes, a KV at least 8+4+1. */
    if (n_tensors > (size - c.pos) / 32)
        return status_fail(LVK_ERR_FORMAT, "tensor count %llu is larger than the file allows",
                        (unsigned long long)n_tensors);
    if (n_kv > (size - c.pos) / 13)
        return status_fail(LVK_ERR_FORMAT, "metadata count %llu is larger than the file allows",
                        (unsigned long long)n_kv);

    gguf_file *f = mem_calloc(1, sizeof *f);
    if (!f) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory reading GGUF header");
    f->version = version;
    f->map = data;
    f->size = size;
    f->kv = mem_calloc(n_kv ? n_kv : 1, sizeof *f->kv);
    f->tensors = mem_calloc(n_tensors ? n_tensors : 1, sizeof *f->tensors);
    lvk_status s = LVK_OK;
    if (!f->kv || !f->tensors) {
        s = status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory reading GGUF header");
        goto fail;
    }
    char what[160];
    for (uint64_t i = 0; i < n_kv; i++) {
        gguf_kv *kv = &f->kv[i];
        uint32_t type;
        c.what = "metadata key";
        if ((s = read_str(&c, &kv->key)) != LVK_OK) goto fail;
        f->n_kv = i + 1;
        snprintf(what, sizeof what, "metadata '%.*s'", kv->key.len > 100 ? 100 : (int)kv->key.len,
                 kv->key.ptr);
        c.what = what;
        if ((s = read_u32(&c, &type)) != LVK_OK) goto fail;
        if ((s = read_value(&c, type, &kv->value, 0)) != LVK_OK) goto fail;
    }
    f->alignment = 32;
    const gguf_kv *al = gguf_find(f, "general.alignment");
    if (al) {
        if (al->value.type != GGUF_UINT32 || al->value.v.u64 == 0 ||
            (al->value.v.u64 & (al->value.v.u64 - 1))) {
            s = status_fail(LVK_ERR_FORMAT, "general.alignment must be a power-of-two uint32");
            goto fail;
        }
        f->alignment = al->value.v.u64;
    }
    for (uint64_t i = 0; i < n_tensors; i++) {
        if ((s = parse_tensor_info(&c, &f->tensors[i], i)) != LVK_OK) goto fail;
        f->n_tensors = i + 1;
    }
    f->data_offset = (c.pos + f->alignment - 1) / f->alignment * f->alignment;
    if (n_tensors && f->data_offset > size) {
        s = status_fail(LVK_ERR_FORMAT, "file is truncated: tensor data would start at %llu, file has %llu bytes",
                     (unsigned long long)f->data_offset, (unsigned long long)size);
        goto fail;
    }
    for (uint64_t i = 0; i < n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        int nl = t->name.len > 64 ? 64 : (int)t->name.len;
        if (t->offset % f->alignment) {
            s = status_fail(LVK_ERR_FORMAT, "tensor '%.*s' offset %llu is not aligned to %llu", nl,
                         t->name.ptr, (unsigned long long)t->offset,
                         (unsigned long long)f->alignment);
            goto fail;
        }
        uint64_t avail = size - f->data_offset;
        if (t->offset > avail || t->n_bytes > avail - t->offset) {
            s = status_fail(LVK_ERR_FORMAT,
                         "tensor '%.*s' (%llu bytes at data offset %llu) runs past the end of the file (%llu bytes of data)",
                         nl, t->name.ptr, (unsigned long long)t->n_bytes,
                         (unsigned long long)t->offset, (unsigned long long)avail);
            goto fail;
        }
        t->data = f->map + f->data_offset + t->offset;
        for (uint64_t j = 0; j < i; j++)
            if (t->name.len == f->tensors[j].name.len &&
                !memcmp(t->name.ptr, f->tensors[j].name.ptr, t->name.len)) {
                s = status_fail(LVK_ERR_FORMAT, "tensor name '%.*s' appears twice", nl, t->name.ptr);
                goto fail;
            }
    }
    *out = f;
    return LVK_OK;
fail:
    gguf_close(f);
    return s;
}

lvk_status gguf_open(const char *path, gguf_file **out) {
    if (!path || !out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "gguf_open: NULL argument");
    mapped_file m;
    LVK_TRY(map_file(path, &m));
    if (m.size < 24) {
        unmap_file(&m);
        return status_fail(LVK_ERR_FORMAT, "'%s' is too small to be a GGUF file (%llu bytes)", path,
                        (unsigned long long)m.size);
    }
    gguf_file *f;
    lvk_status s = gguf_parse(m.data, m.size, &f);
    if (s != LVK_OK) {
        unmap_file(&m);
        return status_fail_prefix(s, "%s", path);
    }
    f->mapped = 1;
    *out = f;
    return LVK_OK;
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    for (uint64_t i = 0; i < f->n_kv; i++) mem_free(f->kv[i].value.arr_strs);
    mem_free(f->kv);
    mem_free(f->tensors);
    if (f->mapped) munmap((void *)f->map, (size_t)f->size);
    mem_free(f);
}

const gguf_kv *gguf_find(const gguf_file *f, const char *key) {
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (gguf_str_eq(f->kv[i].key, key)) return &f->kv[i];
    return NULL;
}

const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name) {
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (gguf_str_eq(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

int gguf_is_integer_type(uint32_t t) {
    return t <= GGUF_INT32 || t == GGUF_UINT64 || t == GGUF_INT64;
}
static int is_signed_type(uint32_t t) {
    return t == GGUF_INT8 || t == GGUF_INT16 || t == GGUF_INT32 || t == GGUF_INT64;
}

lvk_status gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out, lvk_status absent) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return absent == LVK_OK ? LVK_OK : status_fail(absent, "metadata '%s' is missing", key);
    uint32_t t = kv->value.type;
    if (!gguf_is_integer_type(t))
        return status_fail(LVK_ERR_FORMAT, "metadata '%s' should be an integer, is %s", key,
                        gguf_value_type_name(t));
    if ((is_signed_type(t) && kv->value.v.i64 < 0) ||
        (!is_signed_type(t) && kv->value.v.u64 > UINT32_MAX) ||
        (is_signed_type(t) && kv->value.v.i64 > (int64_t)UINT32_MAX))
        return status_fail(LVK_ERR_FORMAT, "metadata '%s' is out of range", key);
    *out = is_signed_type(t) ? (uint32_t)kv->value.v.i64 : (uint32_t)kv->value.v.u64;
    return LVK_OK;
}

lvk_status gguf_get_f32(const gguf_file *f, const char *key, float *out, lvk_status absent) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return absent == LVK_OK ? LVK_OK : status_fail(absent, "metadata '%s' is missing", key);
    uint32_t t = kv->value.type;
    if (t == GGUF_FLOAT32 || t == GGUF_FLOAT64) *out = (float)kv->value.v.f64;
    else if (is_signed_type(t)) *out = (float)kv->value.v.i64;
    else if (gguf_is_integer_type(t)) *out = (float)kv->value.v.u64;
    else
        return status_fail(LVK_ERR_FORMAT, "metadata '%s' should be a number, is %s", key,
                        gguf_value_type_name(t));
    return LVK_OK;
}

lvk_status gguf_get_str(const gguf_file *f, const char *key, char *out, size_t size,
                        lvk_status absent) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) return absent == LVK_OK ? LVK_OK : status_fail(absent, "metadata '%s' is missing", key);
    if (kv->value.type != GGUF_STRING)
        return status_fail(LVK_ERR_FORMAT, "metadata '%s' should be a string, is %s", key,
                        gguf_value_type_name(kv->value.type));
    size_t n = kv->value.v.str.len < size - 1 ? (size_t)kv->value.v.str.len : size - 1;
    memcpy(out, kv->value.v.str.ptr, n);
    out[n] = 0;
    return LVK_OK;
}
