/* hf_synth.c — see hf_synth.h. */
#include "hf_synth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t hf_dtype_size(const char *dtype) {
    if (!strcmp(dtype, "F32") || !strcmp(dtype, "I32") || !strcmp(dtype, "U32")) return 4;
    if (!strcmp(dtype, "F16") || !strcmp(dtype, "BF16") || !strcmp(dtype, "I16") || !strcmp(dtype, "U16")) return 2;
    if (!strcmp(dtype, "F64") || !strcmp(dtype, "I64") || !strcmp(dtype, "U64")) return 8;
    return 1;
}

static uint64_t n_bytes(const hf_tensor *t) {
    uint64_t n = hf_dtype_size(t->dtype);
    for (uint32_t d = 0; d < t->n_dims; d++) n *= t->shape[d];
    return n;
}

uint8_t *hf_raw_image(const char *header, const void *data, size_t n_data, size_t *size) {
    uint64_t n_header = strlen(header);
    *size = 8 + n_header + n_data;
    uint8_t *image = malloc(*size + 1);
    if (!image) return NULL;
    memcpy(image, &n_header, 8);
    memcpy(image + 8, header, n_header);
    if (n_data) memcpy(image + 8 + n_header, data, n_data);
    return image;
}

uint8_t *hf_safetensors_image(const hf_tensor *t, int n, const char *metadata, size_t *size) {
    size_t cap = 256 + (metadata ? strlen(metadata) : 0), len = 0, n_data = 0;
    for (int i = 0; i < n; i++) cap += 160 + strlen(t[i].name);
    char *header = malloc(cap);
    if (!header) return NULL;
    len += (size_t)snprintf(header + len, cap - len, "{");
    if (metadata) len += (size_t)snprintf(header + len, cap - len, "\"__metadata__\":%s", metadata);
    for (int i = 0; i < n; i++) {
        len += (size_t)snprintf(header + len, cap - len, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                                i || metadata ? "," : "", t[i].name, t[i].dtype);
        for (uint32_t d = 0; d < t[i].n_dims; d++)
            len += (size_t)snprintf(header + len, cap - len, "%s%llu", d ? "," : "", (unsigned long long)t[i].shape[d]);
        len += (size_t)snprintf(header + len, cap - len, "],\"data_offsets\":[%zu,%llu]}", n_data,
                                (unsigned long long)(n_data + n_bytes(&t[i])));
        n_data += n_bytes(&t[i]);
    }
    snprintf(header + len, cap - len, "}");
    uint8_t *data = malloc(n_data + 1);
    uint8_t *image = NULL;
    if (data) {
        size_t pos = 0;
        for (int i = 0; i < n; i++) {
            memcpy(data + pos, t[i].data, n_bytes(&t[i]));
            pos += n_bytes(&t[i]);
        }
        image = hf_raw_image(header, data, n_data, size);
    }
    free(data);
    free(header);
    return image;
}

int hf_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int bad = fwrite(data, 1, n, f) != n;
    return fclose(f) != 0 || bad ? -1 : 0;
}

int hf_write_text(const char *path, const char *text) { return hf_write_file(path, text, strlen(text)); }

int hf_write_safetensors(const char *dir, const char *name, const hf_tensor *t, int n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t size;
    uint8_t *image = hf_safetensors_image(t, n, NULL, &size);
    int bad = !image || hf_write_file(path, image, size);
    free(image);
    return bad ? -1 : 0;
}
