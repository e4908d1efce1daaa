/* gpu_test.c — see gpu_test.h. */
#include "gpu_test.h"

#include <stdio.h>
#include <stdlib.h>

vk_device *test_device;

int test_device_setup(void **state) {
    (void)state;
    const char *v = getenv("LITEVK_VALIDATE");
    if (vk_device_create(&test_device, getenv("LITEVK_DEVICE"), v && v[0] == '1') != LVK_OK) {
        fprintf(stderr, "no device: %s\n", lvk_last_error());
        return -1;
    }
    return 0;
}

int test_device_teardown(void **state) {
    (void)state;
    uint32_t messages = atomic_load(&test_device->validation_messages);
    vk_device_free(test_device);
    return messages == 0 ? 0 : -1;
}

double nmse(const float *a, const float *ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? num / den : num;
}
