/* gguf_write.c — GGUF v3 writer. Metadata is serialised as it is added;
 * tensor offsets are laid out when the file is written. Assumes a
 * little-endian host, as GGUF files are little-endian. */
#include "alloc.h"
#include "formats/gguf_write.h"
#include "formats/gguf.h"
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GGUF_VERSION 3
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_NAME 63 /* ggml's GGML_MAX_NAME is 64 including the NUL */

static const uint8_t zeros[256]; /* padding */

typedef struct bytes {
    uint8_t *p;
    size_t len, cap;
} bytes;

typedef struct wtensor {
    char name[GGUF_MAX_NAME + 1];
    uint32_t n_dims, type;
    uint64_t ne[GGUF_MAX_DIMS];
    uint64_t n_bytes, offset;
    const void *data;
    gguf_fill_fn fill;
    void *user;
} wtensor;

struct gguf_writer {
    bytes kv;          /* serialised metadata pairs */
    char **keys;       /* copies, to refuse duplicates */
    uint64_t n_kv;
    wtensor *tensors;
    uint64_t n_tensors, cap_tensors;
    lvk_convert_progress_fn progress;
    void *progress_user;
    uint32_t alignment;
};

static lvk_status put(bytes *b, const void *src, size_t n) {
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n) cap *= 2;
        uint8_t *p = mem_realloc(b->p, cap);
        if (!p) return status_fail(LVK_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
    return LVK_OK;
}

static lvk_status put_u32(bytes *b, uint32_t v) { return put(b, &v, 4); }
static lvk_status put_u64(bytes *b, uint64_t v) { return put(b, &v, 8); }

static lvk_status put_str(bytes *b, const char *s) {
    uint64_t n = strlen(s);
    LVK_TRY(put_u64(b, n));
    return put(b, s, n);
}

lvk_status gguf_writer_create(gguf_writer **out) {
    if (!out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "gguf_writer_create: NULL argument");
    gguf_writer *w = mem_calloc(1, sizeof *w);
    if (!w) return status_fail(LVK_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
    w->alignment = GGUF_DEFAULT_ALIGNMENT;
    *out = w;
    return LVK_OK;
}

void gguf_writer_free(gguf_writer *w) {
    if (!w) return;
    for (uint64_t i = 0; i < w->n_kv; i++) mem_free(w->keys[i]);
    mem_free(w->keys);
    mem_free(w->kv.p);
    mem_free(w->tensors);
    mem_free(w);
}

/* Serialises one pair whose value is `n` already-encoded bytes at `v`.
 * A failure leaves the writer as it was. */
static lvk_status add(gguf_writer *w, const char *key, uint32_t type, const void *v, size_t n) {
    if (!w || !key || !*key)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "gguf writer: NULL writer or empty key");
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], key))
            return status_fail(LVK_ERR_INVALID_ARGUMENT, "gguf writer: metadata key '%s' added twice", key);
    char **keys = mem_realloc(w->keys, (w->n_kv + 1) * sizeof *keys);
    if (!keys) return status_fail(LVK_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
    w->keys = keys;
    char *copy = mem_strdup(key);
    if (!copy) return status_fail(LVK_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
    size_t mark = w->kv.len;
    lvk_status s = put_str(&w->kv, key);
    if (s == LVK_OK) s = put_u32(&w->kv, type);
    if (s == LVK_OK) s = put(&w->kv, v, n);
    if (s != LVK_OK) {
        mem_free(copy);
        w->kv.len = mark;
        return s;
    }
    keys[w->n_kv++] = copy;
    return LVK_OK;
}

lvk_status gguf_writer_add_u32(gguf_writer *w, const char *key, uint32_t v) {
    int alignment = key && !strcmp(key, "general.alignment"); /* moves the tensor data */
    if (alignment && (!v || (v & (v - 1))))
        return status_fail(LVK_ERR_INVALID_ARGUMENT,
                        "gguf writer: general.alignment %u is not a power of two", v);
    LVK_TRY(add(w, key, GGUF_UINT32, &v, 4));
    if (alignment) w->alignment = v;
    return LVK_OK;
}

lvk_status gguf_writer_add_i32(gguf_writer *w, const char *key, int32_t v) {
    return add(w, key, GGUF_INT32, &v, 4);
}

lvk_status gguf_writer_add_f32(gguf_writer *w, const char *key, float v) {
    return add(w, key, GGUF_FLOAT32, &v, 4);
}

lvk_status gguf_writer_add_bool(gguf_writer *w, const char *key, int v) {
    uint8_t b = v != 0;
    return add(w, key, GGUF_BOOL, &b, 1);
}

lvk_status gguf_writer_add_str(gguf_writer *w, const char *key, const char *v) {
    if (!v) return status_fail(LVK_ERR_INVALID_ARGUMENT, "gguf writer: NULL string value");
    bytes b = {0};
    lvk_status s = put_str(&b, v);
    if (s == LVK_OK) s = add(w, key, GGUF_STRING, b.p, b.len);
    mem_free(b.p);
    return s;
}

/* Arrays: element type and count, then the elements. */
static lvk_status add_arr(gguf_writer *w, const char *key, uint32_t elem_type, const void *v,
                          uint64_t n, size_t elem_size) {
    if (!v && n) return status_fail(LVK_ERR_INVALID_ARGUMENT, "gguf writer: NULL array value");
    bytes b = {0};
    lvk_status s = put_u32(&b, elem_type);
    if (s == LVK_OK) s = put_u64(&b, n);
    if (elem_type == GGUF_STRING) {
        const char *const *strs = v;
        for (uint64_t i = 0; i < n && s == LVK_OK; i++)
            s = strs[i] ? put_str(&b, strs[i])
                        : status_fail(LVK_ERR_INVALID_ARGUMENT,
                                   "gguf writer: array string %llu is NULL", (unsigned long long)i);
    } else if (s == LVK_OK && n) {
        s = put(&b, v, (size_t)n * elem_size);
    }
    if (s == LVK_OK) s = add(w, key, GGUF_ARRAY, b.p, b.len);
    mem_free(b.p);
    return s;
}

lvk_status gguf_writer_add_str_arr(gguf_writer *w, const char *key, const char *const *v,
                                   uint64_t n) {
    return add_arr(w, key, GGUF_STRING, v, n, 0);
}

lvk_status gguf_writer_add_f32_arr(gguf_writer *w, const char *key, const float *v, uint64_t n) {
    return add_arr(w, key, GGUF_FLOAT32, v, n, 4);
}

lvk_status gguf_writer_add_i32_arr(gguf_writer *w, const char *key, const int32_t *v, uint64_t n) {
    return add_arr(w, key, GGUF_INT32, v, n, 4);
}

/* A string as the reader holds it (not NUL-terminated). */
static lvk_status put_gguf_str(bytes *b, gguf_str s) {
    LVK_TRY(put_u64(b, s.len));
    return s.len ? put(b, s.ptr, (size_t)s.len) : LVK_OK;
}

lvk_status gguf_writer_add_value(gguf_writer *w, const char *key, const gguf_value *v) {
    if (!v) return status_fail(LVK_ERR_INVALID_ARGUMENT, "gguf writer: NULL value");
    if (v->type == GGUF_UINT32) return gguf_writer_add_u32(w, key, (uint32_t)v->v.u64);
    if (v->type == GGUF_FLOAT32) return gguf_writer_add_f32(w, key, (float)v->v.f64);
    /* The reader widened the other scalars to 64 bits (sign-extended when
     * signed); on a little-endian host their first bytes are the value at its
     * own width. */
    uint32_t size = gguf_scalar_size(v->type);
    if (size) return add(w, key, v->type, &v->v, size);
    bytes b = {0};
    lvk_status s;
    if (v->type == GGUF_STRING) {
        s = put_gguf_str(&b, v->v.str);
    } else if (v->type != GGUF_ARRAY) {
        s = status_fail(LVK_ERR_INVALID_ARGUMENT, "gguf writer: metadata '%s' has unknown type %u",
                     key ? key : "", v->type);
    } else if (v->arr_type != GGUF_STRING && !gguf_scalar_size(v->arr_type)) {
        /* the reader only skips over nested arrays, so there is nothing to copy */
        s = status_fail(LVK_ERR_UNSUPPORTED,
                     "gguf writer: metadata '%s' is an array of arrays, which LiteVK cannot copy",
                     key ? key : "");
    } else {
        s = put_u32(&b, v->arr_type);
        if (s == LVK_OK) s = put_u64(&b, v->arr_count);
        if (v->arr_type == GGUF_STRING) {
            for (uint64_t i = 0; i < v->arr_count && s == LVK_OK; i++)
                s = put_gguf_str(&b, v->arr_strs[i]);
        } else if (s == LVK_OK && v->arr_count) {
            s = put(&b, v->arr_data, (size_t)v->arr_count * gguf_scalar_size(v->arr_type));
        }
    }
    if (s == LVK_OK) s = add(w, key, v->type, b.p, b.len);
    mem_free(b.p);
    return s;
}

static lvk_status add_tensor(gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                             const uint64_t *ne, const void *data, gguf_fill_fn fill, void *user) {
    if (!w || !name || !ne || (!data && !fill))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "gguf writer: NULL argument adding a tensor");
    if (!*name || strlen(name) > GGUF_MAX_NAME)
        return status_fail(LVK_ERR_INVALID_ARGUMENT,
                        "gguf writer: tensor name '%.64s' must have 1..%d characters", name,
                        GGUF_MAX_NAME);
    for (uint64_t i = 0; i < w->n_tensors; i++)
        if (!strcmp(w->tensors[i].name, name))
            return status_fail(LVK_ERR_INVALID_ARGUMENT, "gguf writer: tensor '%s' added twice", name);
    uint32_t be = ggml_block_elems(type), bb = ggml_block_bytes(type);
    if (!be) return status_fail(LVK_ERR_INVALID_ARGUMENT, "gguf writer: tensor '%s' has unknown type %u", name, type);
    if (n_dims == 0 || n_dims > GGUF_MAX_DIMS)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "gguf writer: tensor '%s' has %u dimensions (1..%d allowed)",
                        name, n_dims, GGUF_MAX_DIMS);
    wtensor t = {.n_dims = n_dims, .type = type, .data = data, .fill = fill, .user = user};
    strcpy(t.name, name);
    uint64_t n = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        /* the reader's limits, so that whatever is written can be read back */
        if (t.ne[d] == 0 || t.ne[d] > (1ull << 40) || n > (UINT64_MAX >> 1) / t.ne[d])
            return status_fail(LVK_ERR_INVALID_ARGUMENT, "gguf writer: tensor '%s' has an absurd dimension %llu",
                            name, (unsigned long long)t.ne[d]);
        n *= t.ne[d];
    }
    if (t.ne[0] % be)
        return status_fail(LVK_ERR_INVALID_ARGUMENT,
                        "gguf writer: tensor '%s': row length %llu is not a multiple of %s's block of %u",
                        name, (unsigned long long)t.ne[0], ggml_type_name(type), be);
    t.n_bytes = n / be * bb;
    if (w->n_tensors == w->cap_tensors) {
        uint64_t cap = w->cap_tensors ? w->cap_tensors * 2 : 64;
        wtensor *p = mem_realloc(w->tensors, cap * sizeof *p);
        if (!p) return status_fail(LVK_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
        w->tensors = p;
        w->cap_tensors = cap;
    }
    w->tensors[w->n_tensors++] = t;
    return LVK_OK;
}

lvk_status gguf_writer_add_tensor(gguf_writer *w, const char *name, uint32_t ggml_type,
                                  uint32_t n_dims, const uint64_t *ne, const void *data) {
    return add_tensor(w, name, ggml_type, n_dims, ne, data, NULL, NULL);
}

lvk_status gguf_writer_add_tensor_fill(gguf_writer *w, const char *name, uint32_t ggml_type,
                                       uint32_t n_dims, const uint64_t *ne, gguf_fill_fn fill,
                                       void *user) {
    if (!fill) return status_fail(LVK_ERR_INVALID_ARGUMENT, "gguf writer: NULL fill function");
    return add_tensor(w, name, ggml_type, n_dims, ne, NULL, fill, user);
}

static uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

/* Everything before the tensor data: header, metadata, tensor infos, padding.
 * Lays out the tensor offsets as it goes. */
static lvk_status build_header(gguf_writer *w, bytes *h) {
    LVK_TRY(put_u32(h, 0x46554747u)); /* "GGUF" */
    LVK_TRY(put_u32(h, GGUF_VERSION));
    LVK_TRY(put_u64(h, w->n_tensors));
    LVK_TRY(put_u64(h, w->n_kv));
    if (w->kv.len) LVK_TRY(put(h, w->kv.p, w->kv.len));
    uint64_t offset = 0;
    for (uint64_t i = 0; i < w->n_tensors; i++) {
        wtensor *t = &w->tensors[i];
        t->offset = offset;
        offset = align_up(offset + t->n_bytes, w->alignment);
        LVK_TRY(put_str(h, t->name));
        LVK_TRY(put_u32(h, t->n_dims));
        for (uint32_t d = 0; d < t->n_dims; d++) LVK_TRY(put_u64(h, t->ne[d]));
        LVK_TRY(put_u32(h, t->type));
        LVK_TRY(put_u64(h, t->offset));
    }
    size_t pad = (size_t)(align_up(h->len, w->alignment) - h->len);
    while (pad) {
        size_t n = pad < sizeof zeros ? pad : sizeof zeros;
        LVK_TRY(put(h, zeros, n));
        pad -= n;
    }
    return LVK_OK;
}

static lvk_status write_all(FILE *fp, const void *p, uint64_t n, const char *path) {
    if (n && fwrite(p, 1, (size_t)n, fp) != n)
        return status_fail(LVK_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    return LVK_OK;
}

static uint64_t row_bytes(const wtensor *t) { return t->ne[0] / ggml_block_elems(t->type) * ggml_block_bytes(t->type); }

/* The rows a fill produces at a time: GGUF_FILL_BYTES' worth, at least one. */
static uint64_t fill_rows(const wtensor *t) {
    uint64_t rows = GGUF_FILL_BYTES / row_bytes(t), n_rows = t->n_bytes / row_bytes(t);
    return rows < 1 ? 1 : rows > n_rows ? n_rows : rows;
}

/* A filled tensor's bytes, produced and written a range of rows at a time. */
static lvk_status write_filled(const wtensor *t, uint8_t *buf, FILE *fp, const char *path) {
    uint64_t n_rows = t->n_bytes / row_bytes(t), step = fill_rows(t);
    for (uint64_t first = 0; first < n_rows; first += step) {
        uint64_t n = n_rows - first < step ? n_rows - first : step;
        lvk_status s = t->fill(t->user, buf, first, n);
        if (s != LVK_OK) return status_fail_prefix(s, "tensor '%s'", t->name);
        LVK_TRY(write_all(fp, buf, n * row_bytes(t), path));
    }
    return LVK_OK;
}

/* Tensor data; each tensor is padded to the alignment, the last one too
 * (as ggml does). */
static lvk_status write_data(gguf_writer *w, FILE *fp, const char *path) {
    uint64_t max_fill = 0;
    for (uint64_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        if (t->fill && fill_rows(t) * row_bytes(t) > max_fill) max_fill = fill_rows(t) * row_bytes(t);
    }
    uint8_t *buf = NULL;
    if (max_fill && !(buf = mem_malloc((size_t)max_fill)))
        return status_fail(LVK_ERR_OUT_OF_MEMORY, "gguf writer: out of memory for %llu bytes of tensor rows",
                        (unsigned long long)max_fill);
    lvk_status s = LVK_OK;
    for (uint64_t i = 0; i < w->n_tensors && s == LVK_OK; i++) {
        wtensor *t = &w->tensors[i];
        if (w->progress) w->progress(i, w->n_tensors, t->name, w->progress_user);
        s = t->fill ? write_filled(t, buf, fp, path) : write_all(fp, t->data, t->n_bytes, path);
        for (uint64_t pad = align_up(t->n_bytes, w->alignment) - t->n_bytes; pad && s == LVK_OK;) {
            uint64_t n = pad < sizeof zeros ? pad : sizeof zeros;
            s = write_all(fp, zeros, n, path);
            pad -= n;
        }
    }
    mem_free(buf);
    return s;
}

void gguf_writer_set_progress(gguf_writer *w, lvk_convert_progress_fn fn, void *user) {
    w->progress = fn;
    w->progress_user = user;
}

lvk_status gguf_writer_write(gguf_writer *w, const char *path) {
    if (!w || !path) return status_fail(LVK_ERR_INVALID_ARGUMENT, "gguf_writer_write: NULL argument");
    bytes h = {0};
    lvk_status s = build_header(w, &h);
    if (s != LVK_OK) {
        mem_free(h.p);
        return s;
    }
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        mem_free(h.p);
        return status_fail(LVK_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    }
    s = write_all(fp, h.p, h.len, path);
    mem_free(h.p);
    if (s == LVK_OK) s = write_data(w, fp, path);
    if (fclose(fp) != 0 && s == LVK_OK)
        s = status_fail(LVK_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    if (s != LVK_OK) remove(path);
    return s;
}
