/* vk_memory.c — memory types, the device's memory budget, arenas of buffers
 * and their texel views. */
#include "alloc.h"
#include "status.h"
#include "vk/vk_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

lvk_status vk_device_check_memory(vk_device *dev, uint64_t bytes, const char *what) {
    uint64_t total = dev->info.device_local_bytes;
    if (!strcmp(dev->info.type, "cpu")) {
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
        if (pages <= 0 || page <= 0) return LVK_OK; /* unknown: let the allocation tell */
        total = (uint64_t)pages * (uint64_t)page;
    }
    uint64_t used = atomic_load(&dev->allocated), left = used < total ? total - used : 0;
    if (total == 0 || bytes <= left) return LVK_OK;
    const double gib = 1073741824.0;
    return status_fail(LVK_ERR_OUT_OF_MEMORY, "%s needs %.2f GiB, the device has %.2f GiB free of %.2f GiB%s", what,
                    bytes / gib, left / gib, total / gib,
                    strcmp(dev->info.type, "cpu") ? "" : " (a CPU device: the machine's memory)");
}

static int find_mem_type(const VkPhysicalDeviceMemoryProperties *mp, VkMemoryPropertyFlags want) {
    for (uint32_t i = 0; i < mp->memoryTypeCount; i++)
        if ((mp->memoryTypes[i].propertyFlags & want) == want) return (int)i;
    return -1;
}

lvk_status vk_memory_choose(vk_device *dev) {
    const VkPhysicalDeviceMemoryProperties *mp = &dev->mem_props;
    const VkMemoryPropertyFlags DL = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
                                HV = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                                HC = VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                                CA = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
    /* Weights: device-local memory the host can write (UMA, ReBAR) avoids a
     * staging copy; a small BAR heap (256 MiB without ReBAR) is not enough for
     * weights, so only take it when its heap is large. LITEVK_FORCE_STAGING=1
     * tests the staging path on any device. */
    int t = find_mem_type(mp, DL | HV | HC);
    const char *force = getenv("LITEVK_FORCE_STAGING");
    int allow_mapped = !(force && force[0] == '1');
    if (t >= 0 && allow_mapped &&
        mp->memoryHeaps[mp->memoryTypes[t].heapIndex].size >= 2 * GIB) {
        dev->weight_mem_type = (uint32_t)t;
        dev->weights_mappable = 1;
    } else {
        t = find_mem_type(mp, DL);
        if (t < 0) t = find_mem_type(mp, 0);
        if (t < 0) return status_fail(LVK_ERR_DEVICE, "the device offers no memory type");
        dev->weight_mem_type = (uint32_t)t;
        dev->weights_mappable = 0;
    }
    t = find_mem_type(mp, HV | HC | CA);
    dev->readback_coherent = 1;
    if (t < 0) t = find_mem_type(mp, HV | HC);
    if (t < 0) {
        t = find_mem_type(mp, HV);
        dev->readback_coherent = 0;
    }
    if (t < 0) return status_fail(LVK_ERR_DEVICE, "the device has no host-visible memory");
    dev->readback_mem_type = (uint32_t)t;
    return LVK_OK;
}

void vk_arena_init(vk_arena *a, vk_device *dev, int readback) {
    memset(a, 0, sizeof *a);
    a->dev = dev;
    a->mem_type = readback ? dev->readback_mem_type : dev->weight_mem_type;
    a->mappable = readback ? 1 : dev->weights_mappable;
}

int vk_grow(void **arr, uint32_t *cap, uint32_t need, size_t elem) {
    if (need <= *cap) return 1;
    uint32_t n = *cap ? *cap * 2 : 16;
    while (n < need) n *= 2;
    void *p = mem_realloc(*arr, n * elem);
    if (!p) return 0;
    *arr = p;
    *cap = n;
    return 1;
}

vk_buffer vk_buffer_view(const vk_buffer *b, VkDeviceSize offset, VkDeviceSize size) {
    return (vk_buffer){.buffer = b->buffer, .offset = b->offset + offset, .size = size};
}

lvk_status vk_arena_alloc(vk_arena *a, VkDeviceSize size, vk_buffer *out) {
    vk_device *dev = a->dev;
    memset(out, 0, sizeof *out);
    if (size == 0) size = 16;
    size = (size + 15) & ~(VkDeviceSize)15;
    if (size > dev->max_alloc)
        return status_fail(LVK_ERR_UNSUPPORTED,
                        "a buffer of %.1f MiB is larger than the device allows in one allocation (%.1f MiB)",
                        size / 1048576.0, dev->max_alloc / 1048576.0);
    if (!vk_grow((void **)&a->buffers, &a->cap_buffers, a->n_buffers + 1, sizeof(VkBuffer)))
        return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                             .size = size,
                             .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_INDIRECT_BUFFER_BIT |
                                      VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
                                      VK_BUFFER_USAGE_TRANSFER_SRC_BIT,
                             .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkBuffer buf;
    LVK_TRY(VK_CALL(dev, vkCreateBuffer, dev->device, &bi, NULL, &buf));
    a->buffers[a->n_buffers++] = buf;
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(dev->device, buf, &req);
    if (!(req.memoryTypeBits & (1u << a->mem_type)))
        return status_fail(LVK_ERR_DEVICE, "buffer cannot live in the chosen memory type %u", a->mem_type);
    VkDeviceSize offset = (a->used + req.alignment - 1) / req.alignment * req.alignment;
    if (a->n_blocks == 0 || offset + req.size > a->last_size) {
        /* New block: 1 GiB-capped blocks keep drivers with small allocation
         * limits happy and avoid one huge allocation failing on fragmentation. */
        VkDeviceSize block = req.size > a->dev->max_alloc / 4 ? req.size : a->dev->max_alloc / 4;
        if (block > dev->max_alloc) block = dev->max_alloc;
        if (!vk_grow((void **)&a->blocks, &a->cap_blocks, a->n_blocks + 1, sizeof(VkDeviceMemory)))
            return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
        uint8_t **maps = mem_realloc(a->block_maps, a->cap_blocks * sizeof *maps); /* on failure the old stay ours */
        if (!maps) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
        a->block_maps = maps;
        VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                   .allocationSize = block,
                                   .memoryTypeIndex = a->mem_type};
        VkDeviceMemory mem;
        LVK_TRY(VK_CALL(dev, vkAllocateMemory, dev->device, &ai, NULL, &mem));
        a->block_maps[a->n_blocks] = NULL;
        a->blocks[a->n_blocks++] = mem;
        if (a->mappable) {
            void *p;
            LVK_TRY(VK_CALL(dev, vkMapMemory, dev->device, mem, 0, VK_WHOLE_SIZE, 0, &p));
            a->block_maps[a->n_blocks - 1] = p;
        }
        a->last_size = block;
        a->total_bytes += block;
        atomic_fetch_add(&dev->allocated, block);
        offset = 0;
    }
    LVK_TRY(VK_CALL(dev, vkBindBufferMemory, dev->device, buf, a->blocks[a->n_blocks - 1], offset));
    a->used = offset + req.size;
    out->buffer = buf;
    out->size = size;
    out->mapped = a->mappable ? a->block_maps[a->n_blocks - 1] + offset : NULL;
    return LVK_OK;
}

void vk_arena_free(vk_arena *a) {
    if (!a->dev) return;
    for (uint32_t i = 0; i < a->n_buffers; i++) VK_DESTROY(vkDestroyBuffer, a->dev->device, a->buffers[i], NULL);
    for (uint32_t i = 0; i < a->n_blocks; i++) VK_DESTROY(vkFreeMemory, a->dev->device, a->blocks[i], NULL);
    atomic_fetch_sub(&a->dev->allocated, a->total_bytes);
    mem_free(a->buffers);
    mem_free(a->blocks);
    mem_free(a->block_maps);
    memset(a, 0, sizeof *a);
}

lvk_status vk_buffer_texel_views(vk_device *dev, vk_buffer *b) {
    static const VkFormat formats[2] = {VK_FORMAT_R32G32B32A32_UINT, VK_FORMAT_R32_UINT};
    for (int i = 0; i < 2; i++) {
        VkDeviceSize texel = i == 0 ? 16 : 4;
        if (b->size / texel > dev->max_texels)
            return status_fail(LVK_ERR_UNSUPPORTED, "a %.1f MiB buffer exceeds the device's %llu texels per view",
                            b->size / 1048576.0, (unsigned long long)dev->max_texels);
        VkBufferViewCreateInfo vi = {.sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO, .buffer = b->buffer,
                                     .format = formats[i], .offset = b->offset, .range = b->size / texel * texel};
        LVK_TRY(VK_CALL(dev, vkCreateBufferView, dev->device, &vi, NULL, &b->texels[i]));
    }
    return LVK_OK;
}

void vk_buffer_free_views(vk_device *dev, vk_buffer *b) {
    for (int i = 0; i < 2; i++)
        if (b->texels[i]) VK_DESTROY(vkDestroyBufferView, dev->device, b->texels[i], NULL);
    b->texels[0] = b->texels[1] = VK_NULL_HANDLE;
}
