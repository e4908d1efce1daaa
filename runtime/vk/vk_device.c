/* vk_device.c — what a Vulkan call's result means, choosing a device, and
 * creating and freeing one (the logical device, its queue and the one layout). */
#include "alloc.h"
#include "status.h"
#include "vk/vk_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    vk_device tmp = {0};
    LVK_TRY(vk_instance_create(&tmp, 0));
    lvk_status s = choose_device(&tmp, selector, out, capacity, count, chosen, NULL);
    VK_DESTROY(vkDestroyInstance, tmp.instance, NULL);
    /* Listing is not failing: report "none chosen" through *chosen. */
    if (s != LVK_OK && *count > 0) s = LVK_OK;
    return s;
}

/* ---- device --------------------------------------------------------------- */

static lvk_status device_init(vk_device *dev, const char *selector, int validate) {
    LVK_TRY(vk_instance_create(dev, validate));
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
    LVK_TRY(vk_memory_choose(dev));

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
