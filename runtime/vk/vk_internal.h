/* vk_internal.h — what the files of runtime/vk/ share among themselves
 * (instance, device, memory, transfers, pipelines); nothing outside vk/
 * includes it. */
#ifndef LVK_VK_INTERNAL_H
#define LVK_VK_INTERNAL_H

#include "vk/vk_device.h"

#define GIB (1024ull * 1024 * 1024)

/* Loads the Vulkan loader (once per process) and creates dev->instance, with
 * the validation layer and its messenger when `validate` (vk_instance.c). */
lvk_status vk_instance_create(vk_device *dev, int validate);
/* Chooses the memory types for weights and for readback from dev->mem_props (vk_memory.c). */
lvk_status vk_memory_choose(vk_device *dev);
/* Grows *arr (of elem-byte entries, *cap of them) to hold `need`, doubling;
 * 0 when out of host memory, *arr unchanged (vk_memory.c). */
int vk_grow(void **arr, uint32_t *cap, uint32_t need, size_t elem);

#endif
