/* vk_device.c — Vulkan instance, device choice, memory and pipelines. */
#include "alloc.h"
#include "vk/vk_device.h"
#include "vk/shaders_spirv.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GIB (1024ull * 1024 * 1024)
#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

/* What a result means, and what the user can do about it. */
static const char *vk_result_text(VkResult r) {
    switch (r) {
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "out of host memory; close other programs or use a smaller model";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
        return "out of device memory; use a smaller or more quantised model, or a shorter context";
    case VK_ERROR_INITIALIZATION_FAILED: return "initialization failed; check the Vulkan driver (vulkaninfo)";
    case VK_ERROR_DEVICE_LOST:
        return "device lost (the driver reset or crashed); free the context and create a new one";
    case VK_ERROR_LAYER_NOT_PRESENT: return "layer not present";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "extension not present";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "feature not present";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "incompatible driver";
    case VK_ERROR_TOO_MANY_OBJECTS: return "too many objects";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "out of descriptor pool memory";
    case VK_TIMEOUT: return "timeout";
    default: return "error";
    }
}

lvk_status vk_check(VkResult r, const char *what) {
    if (r == VK_SUCCESS) return LVK_OK;
    lvk_status s = (r == VK_ERROR_OUT_OF_HOST_MEMORY || r == VK_ERROR_OUT_OF_DEVICE_MEMORY)
                       ? LVK_ERR_OUT_OF_MEMORY
                       : LVK_ERR_DEVICE;
    return status_fail(s, "%s failed: %s (VkResult %d)", what, vk_result_text(r), (int)r);
}

lvk_status vk_device_check(vk_device *dev, VkResult r, const char *what) {
    if (r == VK_ERROR_DEVICE_LOST) atomic_store(&dev->lost, 1);
    return vk_check(r, what);
}

lvk_status vk_device_lost(const char *what) {
    return status_fail(LVK_ERR_DEVICE, "%s: the device was lost earlier (a driver reset or crash); free the context "
                                    "and create a new one", what);
}

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

/* ---- instance ------------------------------------------------------------ */

/* volk's function pointers are process-wide, so they are loaded once, from the
 * first instance, by volkLoadInstance: device functions then come from
 * vkGetInstanceProcAddr as the loader's trampolines, which dispatch on the
 * handle and so serve every context, on any device, with or without the
 * validation layer. Loading them per context (volkLoadDevice) pointed every
 * context at the newest device's functions and rewrote them under the threads
 * calling them. The debug-utils functions exist only in instances that enable
 * the extension, so those are looked up per instance. */
static once_flag loader_once = ONCE_FLAG_INIT, functions_once = ONCE_FLAG_INIT;
static int loader_found;
static _Thread_local VkInstance first_instance; /* what functions_load loads from */

static void loader_load(void) { loader_found = volkInitialize() == VK_SUCCESS; }
static void functions_load(void) { volkLoadInstance(first_instance); }

static lvk_status loader_init(void) {
    call_once(&loader_once, loader_load);
    if (!loader_found)
        return status_fail(LVK_ERR_DEVICE,
                        "the Vulkan loader (libvulkan.so.1) was not found; install it "
                        "(Debian: libvulkan1, and mesa-vulkan-drivers for a CPU device)");
    return LVK_OK;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                   VkDebugUtilsMessageTypeFlagsEXT type,
                                                   const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                   void *user) {
    (void)type;
    vk_device *dev = user;
    if (severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT) {
        atomic_fetch_add(&dev->validation_messages, 1);
        /* Validation is a developer switch: printing what it says is its point. */
        fprintf(stderr, "litevk: validation: %s\n", data->pMessage);
    }
    return VK_FALSE;
}

static lvk_status layer_available(vk_device *dev, const char *name, int *found) {
    uint32_t n = 0;
    *found = 0;
    LVK_TRY(VK_CALL(dev, vkEnumerateInstanceLayerProperties, &n, NULL));
    VkLayerProperties *props = mem_calloc(n ? n : 1, sizeof *props);
    if (!props) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory listing Vulkan layers");
    lvk_status s = VK_CALL(dev, vkEnumerateInstanceLayerProperties, &n, props);
    for (uint32_t i = 0; s == LVK_OK && i < n; i++) *found |= strcmp(props[i].layerName, name) == 0;
    mem_free(props);
    return s;
}

static lvk_status instance_create(vk_device *dev, int validate) {
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "litevk",
                             .pEngineName = "litevk",
                             .apiVersion = VK_API_VERSION_1_2};
    const char *layers[] = {VALIDATION_LAYER};
    const char *exts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    int have_layer = 0;
    if (validate) LVK_TRY(layer_available(dev, VALIDATION_LAYER, &have_layer));
    if (validate && !have_layer)
        return status_fail(LVK_ERR_DEVICE,
                        "LITEVK_VALIDATE is set but the Khronos validation layer is not installed "
                        "(Debian: vulkan-validationlayers)");
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                               .pApplicationInfo = &app,
                               .enabledLayerCount = validate ? 1 : 0,
                               .ppEnabledLayerNames = layers,
                               .enabledExtensionCount = validate ? 1 : 0,
                               .ppEnabledExtensionNames = exts};
    LVK_TRY(VK_CALL(dev, vkCreateInstance, &ci, NULL, &dev->instance));
    first_instance = dev->instance;
    call_once(&functions_once, functions_load);
    if (validate) {
        /* this instance's function, under the name the fault layer knows (it shadows volk's) */
        PFN_vkCreateDebugUtilsMessengerEXT vkCreateDebugUtilsMessengerEXT =
            (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(dev->instance, "vkCreateDebugUtilsMessengerEXT");
        dev->destroy_messenger =
            (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(dev->instance, "vkDestroyDebugUtilsMessengerEXT");
        if (!vkCreateDebugUtilsMessengerEXT || !dev->destroy_messenger)
            return status_fail(LVK_ERR_DEVICE, "the validation layer's VK_EXT_debug_utils functions are missing");
        VkDebugUtilsMessengerCreateInfoEXT mi = {
            .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
            .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
            .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
            .pfnUserCallback = on_validation,
            .pUserData = dev};
        LVK_TRY(VK_CALL(dev, vkCreateDebugUtilsMessengerEXT, dev->instance, &mi, NULL, &dev->messenger));
    }
    return LVK_OK;
}

/* ---- device choice ----------------------------------------------------- */

static int type_rank(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

static const char *type_name(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
    }
}

static int compute_queue_family(VkPhysicalDevice pd, uint32_t *family) {
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    VkQueueFamilyProperties q[16];
    if (n > 16) n = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
    /* Prefer a compute family without graphics: it does not share the GPU's
     * graphics work, where drivers expose one. */
    int best = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (!(q[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
        if (best < 0 || !(q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) best = (int)i;
        if (!(q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) break;
    }
    if (best < 0) return 0;
    *family = (uint32_t)best;
    return 1;
}

static void describe_device(VkPhysicalDevice pd, int index, lvk_device_info *info) {
    VkPhysicalDeviceSubgroupProperties sg = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sg};
    vkGetPhysicalDeviceProperties2(pd, &p2);
    VkPhysicalDeviceMemoryProperties mp;
    vkGetPhysicalDeviceMemoryProperties(pd, &mp);
    memset(info, 0, sizeof *info);
    info->index = index;
    snprintf(info->name, sizeof info->name, "%s", p2.properties.deviceName);
    snprintf(info->type, sizeof info->type, "%s", type_name(p2.properties.deviceType));
    info->vendor_id = p2.properties.vendorID;
    info->api_version = p2.properties.apiVersion;
    for (uint32_t i = 0; i < mp.memoryHeapCount; i++)
        if (mp.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            info->device_local_bytes += mp.memoryHeaps[i].size;
    info->subgroup_size = sg.subgroupSize;
    info->max_storage_buffer_range = p2.properties.limits.maxStorageBufferRange;
    uint32_t family;
    const VkSubgroupFeatureFlags need = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
    if (VK_API_VERSION_MAJOR(info->api_version) == 1 && VK_API_VERSION_MINOR(info->api_version) < 2)
        snprintf(info->why, sizeof info->why, "Vulkan 1.2 is required, the driver offers %u.%u",
                 VK_API_VERSION_MAJOR(info->api_version), VK_API_VERSION_MINOR(info->api_version));
    else if (!compute_queue_family(pd, &family))
        snprintf(info->why, sizeof info->why, "no compute queue");
    else if ((sg.supportedOperations & need) != need || !(sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT))
        snprintf(info->why, sizeof info->why, "no subgroup arithmetic in compute shaders");
    else {
        info->usable = 1;
        snprintf(info->why, sizeof info->why, "usable (%s, rank %d of 4)", info->type,
                 type_rank(p2.properties.deviceType));
    }
}

/* Picks a device: `selector` (an index or a name substring) if given, else
 * the best usable type (discrete > integrated > virtual > cpu). */
static lvk_status choose_device(vk_device *dev, const char *selector, lvk_device_info *infos,
                                int capacity, int *count, int *chosen, VkPhysicalDevice *out) {
    uint32_t n = 0;
    LVK_TRY(VK_CALL(dev, vkEnumeratePhysicalDevices, dev->instance, &n, NULL));
    VkPhysicalDevice pds[32];
    if (n > 32) n = 32;
    LVK_TRY(VK_CALL(dev, vkEnumeratePhysicalDevices, dev->instance, &n, pds));
    int best = -1, best_rank = -1;
    for (uint32_t i = 0; i < n; i++) {
        lvk_device_info info;
        describe_device(pds[i], (int)i, &info);
        if ((int)i < capacity) infos[i] = info;
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(pds[i], &p);
        if (selector && selector[0]) {
            char *end;
            long idx = strtol(selector, &end, 10);
            int match = *end == 0 ? idx == (long)i : strstr(info.name, selector) != NULL;
            if (match && best < 0) best = (int)i, best_rank = info.usable;
        } else if (info.usable && type_rank(p.deviceType) > best_rank) {
            best = (int)i;
            best_rank = type_rank(p.deviceType);
        }
    }
    *count = (int)n;
    *chosen = best;
    if (n == 0)
        return status_fail(LVK_ERR_DEVICE, "no Vulkan device found (for a CPU device install Mesa's "
                                        "lavapipe: Debian package mesa-vulkan-drivers)");
    if (best < 0)
        return selector && selector[0]
                   ? status_fail(LVK_ERR_DEVICE, "no Vulkan device matches '%s' (see `litevk devices`)", selector)
                   : status_fail(LVK_ERR_DEVICE, "no usable Vulkan device (see `litevk devices`)");
    if (out) *out = pds[best];
    return LVK_OK;
}

lvk_status vk_list_devices(lvk_device_info *out, int capacity, int *count, int *chosen,
                           const char *selector) {
    *count = 0;
    *chosen = -1;
    LVK_TRY(loader_init());
    vk_device tmp = {0};
    LVK_TRY(instance_create(&tmp, 0));
    lvk_status s = choose_device(&tmp, selector, out, capacity, count, chosen, NULL);
    VK_DESTROY(vkDestroyInstance, tmp.instance, NULL);
    /* Listing is not failing: report "none chosen" through *chosen. */
    if (s != LVK_OK && *count > 0) s = LVK_OK;
    return s;
}

/* ---- memory -------------------------------------------------------------- */

static int find_mem_type(const VkPhysicalDeviceMemoryProperties *mp, VkMemoryPropertyFlags want) {
    for (uint32_t i = 0; i < mp->memoryTypeCount; i++)
        if ((mp->memoryTypes[i].propertyFlags & want) == want) return (int)i;
    return -1;
}

static lvk_status choose_memory(vk_device *dev) {
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

static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem) {
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
    if (!grow((void **)&a->buffers, &a->cap_buffers, a->n_buffers + 1, sizeof(VkBuffer)))
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
        if (!grow((void **)&a->blocks, &a->cap_blocks, a->n_blocks + 1, sizeof(VkDeviceMemory)))
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

/* After a failed wait the submitted work may still be running: it must end
 * before the error returns and its objects are freed or reused. A lost device
 * returns at once. Called with queue_lock held. Not through the fault layer:
 * after an injected failure the real device still runs the work. */
static void drain(vk_device *dev) { vkQueueWaitIdle(dev->queue); }

static lvk_status one_time_submit(vk_device *dev, void (*record)(VkCommandBuffer, void *), void *user) {
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = dev->upload_pool,
                                      .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VkCommandBuffer cmd = VK_NULL_HANDLE;
    VkFence fence = VK_NULL_HANDLE;
    mtx_lock(&dev->queue_lock);
    lvk_status s = VK_CALL(dev, vkAllocateCommandBuffers, dev->device, &ai, &cmd);
    if (s == LVK_OK) s = VK_CALL(dev, vkCreateFence, dev->device, &fi, NULL, &fence);
    if (s == LVK_OK) {
        VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                       .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
        s = VK_CALL(dev, vkBeginCommandBuffer, cmd, &bi);
        if (s == LVK_OK) record(cmd, user);
        if (s == LVK_OK) s = VK_CALL(dev, vkEndCommandBuffer, cmd);
    }
    if (s == LVK_OK) {
        VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd};
        s = VK_CALL(dev, vkQueueSubmit, dev->queue, 1, &si, fence);
        if (s == LVK_OK && (s = VK_CALL(dev, vkWaitForFences, dev->device, 1, &fence, VK_TRUE, UINT64_MAX)))
            drain(dev);
    }
    if (fence) VK_DESTROY(vkDestroyFence, dev->device, fence, NULL);
    if (cmd) vkFreeCommandBuffers(dev->device, dev->upload_pool, 1, &cmd);
    mtx_unlock(&dev->queue_lock);
    return s;
}

typedef struct copy_job { VkBuffer src, dst; VkDeviceSize src_offset, dst_offset, size; } copy_job;
static void record_copy(VkCommandBuffer cmd, void *user) {
    copy_job *j = user;
    VkBufferCopy region = {.srcOffset = j->src_offset, .dstOffset = j->dst_offset, .size = j->size};
    vkCmdCopyBuffer(cmd, j->src, j->dst, 1, &region);
    VkMemoryBarrier to_host = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                               .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT, .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, NULL, 0,
                         NULL);
}

lvk_status vk_buffer_write(vk_device *dev, const vk_buffer *b, VkDeviceSize offset, const void *data,
                           VkDeviceSize size) {
    if (offset + size > b->size) return status_fail(LVK_ERR_INVALID_ARGUMENT, "write past the end of a buffer");
    if (b->mapped) {
        memcpy(b->mapped + offset, data, size);
        return LVK_OK;
    }
    /* Staging in chunks so a large tensor needs no large host-visible buffer. */
    const VkDeviceSize chunk = 64ull << 20;
    vk_arena staging;
    vk_arena_init(&staging, dev, 1);
    vk_buffer sb;
    lvk_status s = vk_arena_alloc(&staging, size < chunk ? size : chunk, &sb);
    for (VkDeviceSize done = 0; s == LVK_OK && done < size; done += chunk) {
        VkDeviceSize n = size - done < chunk ? size - done : chunk;
        memcpy(sb.mapped, (const uint8_t *)data + done, n);
        if (!dev->readback_coherent) {
            VkMappedMemoryRange r = {.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
                                     .memory = staging.blocks[0], .offset = 0, .size = VK_WHOLE_SIZE};
            s = VK_CALL(dev, vkFlushMappedMemoryRanges, dev->device, 1, &r);
        }
        copy_job j = {.src = sb.buffer, .dst = b->buffer, .dst_offset = offset + done, .size = n};
        if (s == LVK_OK) s = one_time_submit(dev, record_copy, &j);
    }
    vk_arena_free(&staging);
    return s;
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

lvk_status vk_descriptor_pool_create(vk_device *dev, uint32_t sets, VkDescriptorPool *out) {
    VkDescriptorPoolSize ps[2] = {
        {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = sets * LVK_MAX_BINDINGS},
        {.type = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, .descriptorCount = sets * LVK_TEXEL_BINDINGS}};
    VkDescriptorPoolCreateInfo dpi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                      .maxSets = sets, .poolSizeCount = 2, .pPoolSizes = ps};
    return VK_CALL(dev, vkCreateDescriptorPool, dev->device, &dpi, NULL, out);
}

lvk_status vk_buffer_read(vk_device *dev, const vk_buffer *b, VkDeviceSize offset, void *data, VkDeviceSize size) {
    if (offset + size > b->size) return status_fail(LVK_ERR_INVALID_ARGUMENT, "read past the end of a buffer");
    vk_arena staging;
    vk_arena_init(&staging, dev, 1);
    vk_buffer sb;
    lvk_status s = vk_arena_alloc(&staging, size, &sb);
    if (s == LVK_OK) {
        copy_job j = {.src = b->buffer, .dst = sb.buffer, .src_offset = offset, .size = size};
        s = one_time_submit(dev, record_copy, &j);
    }
    if (s == LVK_OK && !dev->readback_coherent) {
        VkMappedMemoryRange r = {.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
                                 .memory = staging.blocks[0], .offset = 0, .size = VK_WHOLE_SIZE};
        s = VK_CALL(dev, vkInvalidateMappedMemoryRanges, dev->device, 1, &r);
    }
    if (s == LVK_OK) memcpy(data, sb.mapped, size);
    vk_arena_free(&staging);
    return s;
}

static void record_zero(VkCommandBuffer cmd, void *user) {
    const vk_buffer *b = user;
    vkCmdFillBuffer(cmd, b->buffer, 0, VK_WHOLE_SIZE, 0);
}

lvk_status vk_buffer_zero(vk_device *dev, const vk_buffer *b) {
    if (b->mapped) {
        memset(b->mapped, 0, b->size);
        return LVK_OK;
    }
    return one_time_submit(dev, record_zero, (void *)b);
}

lvk_status vk_submit_wait(vk_device *dev, VkCommandBuffer cmd, VkFence fence) {
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd};
    LVK_TRY(VK_CALL(dev, vkResetFences, dev->device, 1, &fence));
    mtx_lock(&dev->queue_lock);
    lvk_status s = VK_CALL(dev, vkQueueSubmit, dev->queue, 1, &si, fence);
    mtx_unlock(&dev->queue_lock);
    if (s == LVK_OK && (s = VK_CALL(dev, vkWaitForFences, dev->device, 1, &fence, VK_TRUE, UINT64_MAX))) {
        mtx_lock(&dev->queue_lock);
        drain(dev);
        mtx_unlock(&dev->queue_lock);
    }
    return s;
}

/* ---- pipelines ---------------------------------------------------------- */

lvk_status vk_pipeline_get(vk_device *dev, const char *name, const uint32_t *spec, uint32_t n_spec,
                           VkPipeline *out) {
    if (n_spec > LVK_MAX_SPEC) return status_fail(LVK_ERR_INVALID_ARGUMENT, "too many specialisation constants");
    mtx_lock(&dev->pipeline_lock);
    for (uint32_t i = 0; i < dev->n_pipelines; i++) {
        vk_pipeline_entry *e = &dev->pipelines[i];
        if (!strcmp(e->shader, name) && e->n_spec == n_spec && !memcmp(e->spec, spec, n_spec * 4)) {
            *out = e->pipeline;
            mtx_unlock(&dev->pipeline_lock);
            return LVK_OK;
        }
    }
    const spirv_blob *code = NULL;
    for (size_t i = 0; i < spirv_count; i++)
        if (!strcmp(spirv_table[i].name, name)) code = &spirv_table[i];
    lvk_status s = LVK_OK;
    VkShaderModule module = VK_NULL_HANDLE;
    if (!code) {
        s = status_fail(LVK_ERR_UNSUPPORTED, "shader '%s' is not built into this library", name);
        goto done;
    }
    VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                   .codeSize = code->n_words * 4, .pCode = code->words};
    if ((s = VK_CALL(dev, vkCreateShaderModule, dev->device, &mi, NULL, &module)))
        goto done;
    VkSpecializationMapEntry entries[LVK_MAX_SPEC];
    for (uint32_t i = 0; i < n_spec; i++)
        entries[i] = (VkSpecializationMapEntry){.constantID = i, .offset = i * 4, .size = 4};
    VkSpecializationInfo si = {.mapEntryCount = n_spec, .pMapEntries = entries, .dataSize = n_spec * 4, .pData = spec};
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = module, .pName = "main",
                  .pSpecializationInfo = n_spec ? &si : NULL},
        .layout = dev->pipeline_layout};
    VkPipeline p;
    if ((s = VK_CALL(dev, vkCreateComputePipelines, dev->device, VK_NULL_HANDLE, 1, &ci, NULL, &p)))
        goto done;
    if (!grow((void **)&dev->pipelines, &dev->cap_pipelines, dev->n_pipelines + 1, sizeof(vk_pipeline_entry))) {
        VK_DESTROY(vkDestroyPipeline, dev->device, p, NULL);
        s = status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
        goto done;
    }
    vk_pipeline_entry *e = &dev->pipelines[dev->n_pipelines++];
    memset(e, 0, sizeof *e);
    snprintf(e->shader, sizeof e->shader, "%s", name);
    memcpy(e->spec, spec, n_spec * 4);
    e->n_spec = n_spec;
    e->pipeline = p;
    *out = p;
done:
    if (module) VK_DESTROY(vkDestroyShaderModule, dev->device, module, NULL);
    mtx_unlock(&dev->pipeline_lock);
    return s;
}

/* ---- device --------------------------------------------------------------- */

static lvk_status device_init(vk_device *dev, const char *selector, int validate) {
    LVK_TRY(loader_init());
    LVK_TRY(instance_create(dev, validate));
    lvk_device_info infos[1];
    int count, chosen;
    LVK_TRY(choose_device(dev, selector, infos, 0, &count, &chosen, &dev->phys));
    describe_device(dev->phys, chosen, &dev->info);
    if (!dev->info.usable)
        return status_fail(LVK_ERR_DEVICE, "device %d (%s) cannot run LiteVK: %s", chosen,
                        dev->info.name, dev->info.why);
    vkGetPhysicalDeviceProperties(dev->phys, &dev->props);
    vkGetPhysicalDeviceMemoryProperties(dev->phys, &dev->mem_props);
    compute_queue_family(dev->phys, &dev->queue_family);

    VkPhysicalDeviceMaintenance3Properties m3 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &m3};
    vkGetPhysicalDeviceProperties2(dev->phys, &p2);
    dev->max_storage_range = dev->props.limits.maxStorageBufferRange;
    dev->max_texels = dev->props.limits.maxTexelBufferElements;
    dev->max_alloc = m3.maxMemoryAllocationSize < GIB ? m3.maxMemoryAllocationSize : GIB;
    LVK_TRY(choose_memory(dev));

    float priority = 1.0f;
    VkDeviceQueueCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                  .queueFamilyIndex = dev->queue_family, .queueCount = 1,
                                  .pQueuePriorities = &priority};
    VkDeviceCreateInfo di = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                             .queueCreateInfoCount = 1, .pQueueCreateInfos = &qi};
    LVK_TRY(VK_CALL(dev, vkCreateDevice, dev->phys, &di, NULL, &dev->device));
    vkGetDeviceQueue(dev->device, dev->queue_family, 0, &dev->queue);

    VkDescriptorSetLayoutBinding b[LVK_MAX_BINDINGS + LVK_TEXEL_BINDINGS];
    for (uint32_t i = 0; i < LVK_MAX_BINDINGS + LVK_TEXEL_BINDINGS; i++)
        b[i] = (VkDescriptorSetLayoutBinding){.binding = i,
                                              .descriptorType = i < LVK_WEIGHT_BINDING
                                                                    ? VK_DESCRIPTOR_TYPE_STORAGE_BUFFER
                                                                    : VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
                                              .descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    VkDescriptorSetLayoutCreateInfo li = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                          .bindingCount = LVK_MAX_BINDINGS + LVK_TEXEL_BINDINGS, .pBindings = b};
    LVK_TRY(VK_CALL(dev, vkCreateDescriptorSetLayout, dev->device, &li, NULL, &dev->set_layout));
    VkPushConstantRange pc = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = LVK_PUSH_CONSTANT_BYTES};
    VkPipelineLayoutCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                     .setLayoutCount = 1, .pSetLayouts = &dev->set_layout,
                                     .pushConstantRangeCount = 1, .pPushConstantRanges = &pc};
    LVK_TRY(VK_CALL(dev, vkCreatePipelineLayout, dev->device, &pi, NULL, &dev->pipeline_layout));
    VkCommandPoolCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                  .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
                                  .queueFamilyIndex = dev->queue_family};
    LVK_TRY(VK_CALL(dev, vkCreateCommandPool, dev->device, &ci, NULL, &dev->upload_pool));
    return LVK_OK;
}

lvk_status vk_device_create(vk_device **out, const char *selector, int validate) {
    vk_device *dev = mem_calloc(1, sizeof *dev);
    if (!dev) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    mtx_init(&dev->queue_lock, mtx_plain);
    mtx_init(&dev->pipeline_lock, mtx_plain);
    lvk_status s = device_init(dev, selector, validate);
    if (s != LVK_OK) {
        vk_device_free(dev);
        return s;
    }
    *out = dev;
    return LVK_OK;
}

void vk_device_free(vk_device *dev) {
    if (!dev) return;
    if (dev->device) {
        /* Teardown waits for the device whatever it returns, so not through
         * the fault layer (see drain). */
        vkDeviceWaitIdle(dev->device);
        for (uint32_t i = 0; i < dev->n_pipelines; i++) VK_DESTROY(vkDestroyPipeline, dev->device, dev->pipelines[i].pipeline, NULL);
        if (dev->upload_pool) VK_DESTROY(vkDestroyCommandPool, dev->device, dev->upload_pool, NULL);
        if (dev->pipeline_layout) VK_DESTROY(vkDestroyPipelineLayout, dev->device, dev->pipeline_layout, NULL);
        if (dev->set_layout) VK_DESTROY(vkDestroyDescriptorSetLayout, dev->device, dev->set_layout, NULL);
        VK_DESTROY(vkDestroyDevice, dev->device, NULL);
    }
    if (dev->messenger) VK_DESTROY(dev->destroy_messenger, dev->instance, dev->messenger, NULL);
    if (dev->instance) VK_DESTROY(vkDestroyInstance, dev->instance, NULL);
    mem_free(dev->pipelines);
    mtx_destroy(&dev->queue_lock);
    mtx_destroy(&dev->pipeline_lock);
    mem_free(dev);
}
