/* vk_fault.h — the thin layer every VkResult-returning Vulkan call of the
 * runtime goes through (VK_CALL in vk_device.h), and every object
 * destruction (VK_DESTROY).
 * It counts calls and live objects, and a test can make the N-th call return
 * an error without running it, so that nothing is created that could leak:
 * the error paths after each call are then exercised one by one.
 *
 * A test arms it with vk_fault_arm. Programs (the chat app's test) arm it
 * through the environment, read on the first call:
 *   LITEVK_FAULT=CALL:N:ERROR  e.g. vkQueueSubmit:40:device_lost
 * makes the N-th call of CALL ("any" for every call) fail with ERROR, one of
 * out_of_device_memory, out_of_host_memory, device_lost,
 * initialization_failed. This is a testing hook, not a user setting. */
#ifndef LVK_VK_FAULT_H
#define LVK_VK_FAULT_H

#include <stdint.h>
#include <volk.h>

/* The n-th call from now (1-based) of `call` (NULL: of any call) returns
 * `error` instead of running; n = 0 disarms. (After VK_ERROR_DEVICE_LOST the
 * runtime itself fails every later call on that device, see VK_CALL.) */
void vk_fault_arm(uint64_t n, VkResult error, const char *call);
/* VkResult-returning calls made so far. */
uint64_t vk_fault_calls(void);
/* Objects created (vkCreate*, vkAllocateMemory) and not yet destroyed. */
int64_t vk_fault_live_objects(void);

/* 1 when the call named `name` is to fail now (it is counted either way). */
int vk_fault_injected(const char *name);
/* The error an injected call returns. */
VkResult vk_fault_error(void);
/* Counts the object a successful create made; returns r. */
VkResult vk_fault_created(const char *name, VkResult r);
void vk_fault_destroyed(void);

/* The VkResult of `fn(args...)`, or the injected error without the call. */
#define VK_FAULT_RESULT(fn, ...) \
    (vk_fault_injected(#fn) ? vk_fault_error() : vk_fault_created(#fn, fn(__VA_ARGS__)))
/* Destroys (or frees) an object: `fn(args...)`, counted. */
#define VK_DESTROY(fn, ...) (vk_fault_destroyed(), fn(__VA_ARGS__))

#endif
