/* fuzz_safetensors.c — a safetensors file in memory: parsed, and every
 * float tensor read through (each byte range was checked against the data,
 * so AddressSanitizer sees any read past it). */
#include "fuzz.h"
#include "formats/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file *f;
    if (FUZZ_CALL(st_parse(data, size, &f)) != LVK_OK) return 0;
    float buf[256];
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const st_tensor *t = &f->tensors[i];
        FUZZ_CHECK(t->data + t->n_elements * t->elem_size <= data + size);
        FUZZ_CHECK(st_find(f, t->name) != NULL);
        if (!st_is_float(t)) continue;
        for (uint64_t first = 0; first < t->n_elements; first += 256)
            st_read_f32(t, first, t->n_elements - first < 256 ? t->n_elements - first : 256, buf);
    }
    st_close(f);
    return 0;
}
