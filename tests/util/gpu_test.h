/* gpu_test.h — what the GPU tests share: the device they run on and a comparison. */
#ifndef LVK_GPU_TEST_H
#define LVK_GPU_TEST_H

#include "vk/vk_device.h"

#include <stddef.h>

/* The device under test: LITEVK_DEVICE picks it, LITEVK_VALIDATE=1 turns on the
 * Khronos validation layer (ctest sets it). */
extern vk_device *test_device;

/* cmocka group setup and teardown; the teardown fails the group when the
 * validation layer reported anything. */
int test_device_setup(void **state);
int test_device_teardown(void **state);

/* Normalised mean squared error of a against ref (plain squared error when ref is 0). */
double nmse(const float *a, const float *ref, size_t n);

#endif
