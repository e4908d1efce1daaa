/* safetensors.c — safetensors files and checkpoint directories; see
 * safetensors.h. Assumes a little-endian host, as the format is. */
#include "formats/safetensors.h"

#include "alloc.h"
#include "formats/json.h"
#include "formats/quant.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* safetensors' own limit on the header, which keeps a corrupt length from
 * making the reader walk gigabytes of tensor data as JSON. */
#define MAX_HEADER_BYTES 100000000u
/* Far above any real tensor, and small enough that no size below overflows. */
#define MAX_DIM (1ull << 40)
#define MAX_ELEMENTS (1ull << 60)

/* The dtypes safetensors defines, with their sizes. Only the float ones are
 * converted; the others are known so that their byte ranges can be checked. */
static const struct { const char *name; uint32_t size; } dtypes[] = {
    {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F64", 8}, {"I64", 8}, {"U64", 8}, {"I32", 4},
    {"U32", 4}, {"I16", 2}, {"U16", 2}, {"I8", 1},   {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1},
    {"F8_E5M2", 1},
};

/* At most 64 bytes of a name, for messages. */
static int shown(const char *s) { return (int)strnlen(s, 64); }

/* ---- one file ---------------------------------------------------------------- */

static int read_dtype(json_reader *r, st_tensor *t) {
    char *name;
    if (json_string(r, &name)) return -1;
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0] && !t->dtype; i++)
        if (!strcmp(name, dtypes[i].name)) {
            t->dtype = dtypes[i].name;
            t->elem_size = dtypes[i].size;
        }
    int bad = t->dtype ? 0 : json_fail(r, "tensor '%.*s': dtype '%.*s' is unknown", shown(t->name), t->name,
                                       shown(name), name);
    mem_free(name);
    return bad;
}

static int read_shape(json_reader *r, st_tensor *t) {
    int count = 0, more;
    t->n_dims = 0;
    t->n_elements = 1;
    while ((more = json_array_next(r, &count)) == 1) {
        int64_t d;
        if (t->n_dims == ST_MAX_DIMS)
            return json_fail(r, "tensor '%.*s' has more than %d dimensions", shown(t->name), t->name, ST_MAX_DIMS);
        if (json_integer(r, &d)) return -1;
        if (d < 0 || (uint64_t)d > MAX_DIM || (d && t->n_elements > MAX_ELEMENTS / (uint64_t)d))
            return json_fail(r, "tensor '%.*s' has an absurd dimension %lld", shown(t->name), t->name,
                             (long long)d);
        t->shape[t->n_dims++] = (uint64_t)d;
        t->n_elements *= (uint64_t)d;
    }
    return more;
}

static int read_offsets(json_reader *r, st_tensor *t) {
    int64_t v[2];
    int count = 0, more;
    while ((more = json_array_next(r, &count)) == 1)
        if (count > 2 || json_integer(r, &v[count - 1]) || v[count - 1] < 0) break;
    if (more != 0 || count != 2)
        return json_fail(r, "tensor '%.*s': data_offsets must be [begin, end], two byte offsets",
                         shown(t->name), t->name);
    t->begin = (uint64_t)v[0];
    t->end = (uint64_t)v[1];
    return 0;
}

/* Reads a tensor's entry, {"dtype": ..., "shape": [...], "data_offsets":
 * [begin, end]}; other keys are skipped. */
static int read_entry(json_reader *r, st_tensor *t) {
    int count = 0, more, have_dtype = 0, have_shape = 0, have_offsets = 0;
    char *key;
    while ((more = json_object_next(r, &count, &key)) == 1) {
        int bad;
        if (!strcmp(key, "dtype")) bad = read_dtype(r, t), have_dtype = 1;
        else if (!strcmp(key, "shape")) bad = read_shape(r, t), have_shape = 1;
        else if (!strcmp(key, "data_offsets")) bad = read_offsets(r, t), have_offsets = 1;
        else bad = json_skip(r);
        mem_free(key);
        if (bad) return -1;
    }
    if (more < 0) return -1;
    if (!have_dtype || !have_shape || !have_offsets)
        return json_fail(r, "tensor '%.*s' lacks its %s", shown(t->name), t->name,
                         !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");
    return 0;
}

/* "__metadata__" maps strings to strings. */
static int read_metadata(json_reader *r) {
    int count = 0, more;
    char *key, *value;
    while ((more = json_object_next(r, &count, &key)) == 1) {
        mem_free(key);
        if (json_peek(r) != '"') return json_fail(r, "__metadata__ values must be strings");
        if (json_string(r, &value)) return -1;
        mem_free(value);
    }
    return more;
}

static int read_header(json_reader *r, st_file *f) {
    int count = 0, more;
    uint64_t cap = 0;
    char *key;
    if (json_peek(r) != '{') return json_fail(r, "the header is not a JSON object");
    while ((more = json_object_next(r, &count, &key)) == 1) {
        if (!strcmp(key, "__metadata__")) {
            mem_free(key);
            if (read_metadata(r)) return -1;
            continue;
        }
        if (f->n_tensors == cap) {
            cap = cap ? 2 * cap : 64;
            st_tensor *grown = mem_realloc(f->tensors, cap * sizeof *grown);
            if (!grown) {
                mem_free(key);
                return json_out_of_memory(r);
            }
            f->tensors = grown;
        }
        st_tensor *t = &f->tensors[f->n_tensors++];
        *t = (st_tensor){.name = key};
        if (read_entry(r, t)) return -1;
    }
    return more < 0 ? -1 : json_end(r);
}

static int tensor_before(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* Checks each tensor's byte range against its shape, the data and the other
 * tensors' ranges, and points it at its bytes. */
static lvk_status place_tensors(st_file *f, const uint8_t *data, uint64_t n_data) {
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        st_tensor *t = &f->tensors[i];
        uint64_t want = t->n_elements * t->elem_size;
        if (t->begin > t->end)
            return status_fail(LVK_ERR_FORMAT, "tensor '%.*s': data_offsets [%llu, %llu] are reversed",
                            shown(t->name), t->name, (unsigned long long)t->begin, (unsigned long long)t->end);
        if (t->end > n_data)
            return status_fail(LVK_ERR_FORMAT,
                            "tensor '%.*s': data_offsets [%llu, %llu] run past the end of the data "
                            "(%llu bytes): the file is truncated",
                            shown(t->name), t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                            (unsigned long long)n_data);
        if (t->end - t->begin != want)
            return status_fail(LVK_ERR_FORMAT,
                            "tensor '%.*s': data_offsets [%llu, %llu] hold %llu bytes, but its shape "
                            "of %llu %s elements needs %llu",
                            shown(t->name), t->name, (unsigned long long)t->begin, (unsigned long long)t->end,
                            (unsigned long long)(t->end - t->begin), (unsigned long long)t->n_elements,
                            t->dtype, (unsigned long long)want);
        t->data = data + t->begin;
    }
    const st_tensor **order = mem_malloc((f->n_tensors ? f->n_tensors : 1) * sizeof *order);
    if (!order) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
    for (uint64_t i = 0; i < f->n_tensors; i++) order[i] = &f->tensors[i];
    qsort(order, (size_t)f->n_tensors, sizeof *order, tensor_before);
    lvk_status s = LVK_OK;
    for (uint64_t i = 1; i < f->n_tensors && s == LVK_OK; i++) {
        const st_tensor *a = order[i - 1], *b = order[i];
        if (b->begin < a->end)
            s = status_fail(LVK_ERR_FORMAT, "tensors '%.*s' (bytes %llu..%llu) and '%.*s' (bytes %llu..%llu) overlap",
                         shown(a->name), a->name, (unsigned long long)a->begin, (unsigned long long)a->end,
                         shown(b->name), b->name, (unsigned long long)b->begin, (unsigned long long)b->end);
    }
    mem_free(order);
    return s;
}

/* JSON lets a key repeat; a checkpoint must not. */
static lvk_status check_names(const st_file *f) {
    for (uint64_t i = 0; i < f->n_tensors; i++)
        for (uint64_t j = 0; j < i; j++)
            if (!strcmp(f->tensors[i].name, f->tensors[j].name))
                return status_fail(LVK_ERR_FORMAT, "tensor '%.*s' appears twice", shown(f->tensors[i].name),
                                f->tensors[i].name);
    return LVK_OK;
}

lvk_status st_parse(const uint8_t *data, uint64_t size, st_file **out) {
    if (!out || (!data && size)) return status_fail(LVK_ERR_INVALID_ARGUMENT, "st_parse: NULL argument");
    if (size < 8)
        return status_fail(LVK_ERR_FORMAT, "the file is truncated: %llu bytes, fewer than the 8 of the header length",
                        (unsigned long long)size);
    uint64_t n_header;
    memcpy(&n_header, data, 8);
    if (n_header > MAX_HEADER_BYTES)
        return status_fail(LVK_ERR_FORMAT, "the header length %llu is absurd (safetensors allows %u bytes)",
                        (unsigned long long)n_header, MAX_HEADER_BYTES);
    if (n_header > size - 8)
        return status_fail(LVK_ERR_FORMAT, "the file is truncated: its %llu-byte header runs past the end (%llu bytes)",
                        (unsigned long long)n_header, (unsigned long long)size);
    st_file *f = mem_calloc(1, sizeof *f);
    if (!f) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
    json_reader r;
    json_init(&r, (const char *)data + 8, (size_t)n_header, 1);
    lvk_status s = LVK_OK;
    if (read_header(&r, f))
        s = status_fail(r.out_of_memory ? LVK_ERR_OUT_OF_MEMORY : LVK_ERR_FORMAT, "header line %d: %s", r.line, r.error);
    if (s == LVK_OK) s = check_names(f);
    if (s == LVK_OK) s = place_tensors(f, data + 8 + n_header, size - 8 - n_header);
    if (s != LVK_OK) {
        st_close(f);
        return s;
    }
    *out = f;
    return LVK_OK;
}

lvk_status st_open(const char *path, st_file **out) {
    if (!path || !out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "st_open: NULL argument");
    mapped_file m;
    LVK_TRY(map_file(path, &m));
    st_file *f;
    lvk_status s = st_parse(m.data, m.size, &f);
    if (s != LVK_OK) {
        unmap_file(&m);
        return status_fail_prefix(s, "%s", path);
    }
    f->map = m;
    *out = f;
    return LVK_OK;
}

void st_close(st_file *f) {
    if (!f) return;
    for (uint64_t i = 0; i < f->n_tensors; i++) mem_free(f->tensors[i].name);
    mem_free(f->tensors);
    unmap_file(&f->map);
    mem_free(f);
}

const st_tensor *st_find(const st_file *f, const char *name) {
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

int st_is_float(const st_tensor *t) {
    return !strcmp(t->dtype, "F32") || !strcmp(t->dtype, "F16") || !strcmp(t->dtype, "BF16");
}

void st_read_f32(const st_tensor *t, uint64_t first, uint64_t n, float *out) {
    const uint8_t *p = t->data + first * t->elem_size;
    if (t->elem_size == 4) {
        memcpy(out, p, n * 4);
        return;
    }
    int bf16 = !strcmp(t->dtype, "BF16");
    for (uint64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        out[i] = bf16 ? bf16_to_f32(h) : f16_to_f32(h);
    }
}

/* ---- a checkpoint directory ------------------------------------------------------- */

static char *join_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = mem_malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Opens the shard called `name` unless it is open already. */
static lvk_status add_shard(st_checkpoint *c, const char *dir, const char *name) {
    if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        return status_fail(LVK_ERR_FORMAT, "shard '%.*s' is not a file name in the checkpoint's directory",
                        shown(name), name);
    char *path = join_path(dir, name);
    if (!path) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < c->n_shards; i++)
        if (!strcmp(c->shard_paths[i], path)) {
            mem_free(path);
            return LVK_OK;
        }
    st_file **shards = mem_realloc(c->shards, (size_t)(c->n_shards + 1) * sizeof *shards);
    if (shards) c->shards = shards;
    char **paths = shards ? mem_realloc(c->shard_paths, (size_t)(c->n_shards + 1) * sizeof *paths) : NULL;
    if (paths) c->shard_paths = paths;
    lvk_status s = paths ? st_open(path, &c->shards[c->n_shards]) : status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
    if (s != LVK_OK) {
        mem_free(path);
        return s;
    }
    c->shard_paths[c->n_shards++] = path;
    return LVK_OK;
}

/* model.safetensors.index.json's weight_map: tensor name -> shard file name. */
typedef struct weight_map {
    char **tensors, **shards;
    uint64_t n, cap;
} weight_map;

static void weight_map_free(weight_map *m) {
    for (uint64_t i = 0; i < m->n; i++) {
        mem_free(m->tensors[i]);
        mem_free(m->shards[i]);
    }
    mem_free(m->tensors);
    mem_free(m->shards);
}

static int read_weight_map(json_reader *r, weight_map *m) {
    int count = 0, more;
    char *tensor;
    while ((more = json_object_next(r, &count, &tensor)) == 1) {
        if (m->n == m->cap) {
            uint64_t cap = m->cap ? 2 * m->cap : 256;
            char **t = mem_realloc(m->tensors, cap * sizeof *t);
            if (t) m->tensors = t;
            char **sh = t ? mem_realloc(m->shards, cap * sizeof *sh) : NULL;
            if (sh) m->shards = sh;
            if (!sh) {
                mem_free(tensor);
                return json_out_of_memory(r);
            }
            m->cap = cap;
        }
        m->tensors[m->n] = tensor;
        m->shards[m->n] = NULL;
        char **shard = &m->shards[m->n++];
        if (json_peek(r) != '"') return json_fail(r, "weight_map values must be shard file names");
        if (json_string(r, shard)) return -1;
    }
    return more;
}

/* The index file: its weight_map; other members ("metadata") are skipped. */
static int read_index(json_reader *r, weight_map *m) {
    int count = 0, more, found = 0;
    char *key;
    while ((more = json_object_next(r, &count, &key)) == 1) {
        int bad = !strcmp(key, "weight_map") ? (found = 1, read_weight_map(r, m)) : json_skip(r);
        mem_free(key);
        if (bad) return -1;
    }
    if (more < 0) return -1;
    if (!found || m->n == 0) return json_fail(r, "there is no weight_map, or it is empty");
    return json_end(r);
}

/* Opens every shard the index names and checks that each holds the tensors
 * the index puts there. */
static lvk_status open_index(st_checkpoint *c, const char *dir, const char *index_path) {
    mapped_file file;
    LVK_TRY(map_file(index_path, &file));
    weight_map m = {0};
    json_reader r;
    json_init(&r, (const char *)file.data, (size_t)file.size, 1);
    lvk_status s = read_index(&r, &m) ? json_status(&r, index_path) : LVK_OK;
    for (uint64_t i = 0; i < m.n && s == LVK_OK; i++) {
        s = add_shard(c, dir, m.shards[i]);
        if (s != LVK_OK) status_fail_prefix(s, "%s", index_path);
        else if (!st_checkpoint_find(c, m.tensors[i]))
            s = status_fail(LVK_ERR_FORMAT, "%s puts tensor '%.*s' in %s, which has no such tensor", index_path,
                         shown(m.tensors[i]), m.tensors[i], m.shards[i]);
    }
    weight_map_free(&m);
    unmap_file(&file);
    return s;
}

/* A tensor held by two shards would make the checkpoint ambiguous. */
static lvk_status check_unique(const st_checkpoint *c) {
    for (int i = 0; i < c->n_shards; i++)
        for (int j = i + 1; j < c->n_shards; j++)
            for (uint64_t k = 0; k < c->shards[i]->n_tensors; k++) {
                const char *name = c->shards[i]->tensors[k].name;
                if (st_find(c->shards[j], name))
                    return status_fail(LVK_ERR_FORMAT, "tensor '%.*s' is both in %s and in %s", shown(name), name,
                                    c->shard_paths[i], c->shard_paths[j]);
            }
    return LVK_OK;
}

lvk_status st_checkpoint_open(const char *dir, st_checkpoint **out) {
    if (!dir || !out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "st_checkpoint_open: NULL argument");
    st_checkpoint *c = mem_calloc(1, sizeof *c);
    char *index = join_path(dir, "model.safetensors.index.json");
    lvk_status s;
    if (!c || !index) {
        s = status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory");
    } else if (access(index, F_OK) == 0) {
        s = open_index(c, dir, index);
        if (s == LVK_OK) s = check_unique(c);
    } else {
        char *single = join_path(dir, "model.safetensors");
        s = !single ? status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory")
          : access(single, F_OK) == 0 ? add_shard(c, dir, "model.safetensors")
          : status_fail(LVK_ERR_IO, "'%s' has neither model.safetensors nor model.safetensors.index.json "
                                 "(LiteVK converts safetensors checkpoints)", dir);
        mem_free(single);
    }
    mem_free(index);
    if (s != LVK_OK) {
        st_checkpoint_close(c);
        return s;
    }
    *out = c;
    return LVK_OK;
}

void st_checkpoint_close(st_checkpoint *c) {
    if (!c) return;
    for (int i = 0; i < c->n_shards; i++) {
        st_close(c->shards[i]);
        mem_free(c->shard_paths[i]);
    }
    mem_free(c->shards);
    mem_free(c->shard_paths);
    mem_free(c);
}

const st_tensor *st_checkpoint_find(const st_checkpoint *c, const char *name) {
    for (int i = 0; i < c->n_shards; i++) {
        const st_tensor *t = st_find(c->shards[i], name);
        if (t) return t;
    }
    return NULL;
}

int st_checkpoint_holds(const st_checkpoint *c, const char *path) {
    for (int i = 0; i < c->n_shards; i++)
        if (mapped_file_is(&c->shards[i]->map, path)) return 1;
    return 0;
}
