/* vk_instance.c — the Vulkan loader, the instance and the validation layer's messages. */
#include "alloc.h"
#include "status.h"
#include "vk/vk_internal.h"

#include <stdio.h>
#include <string.h>

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

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

lvk_status vk_instance_create(vk_device *dev, int validate) {
    LVK_TRY(loader_init());
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
