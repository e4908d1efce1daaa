/* vk_device.h — the Vulkan layer: instance (vk_instance.c), device choice and
 * creation (vk_device.c), memory and buffers (vk_memory.c), transfers and
 * submission (vk_transfer.c), pipelines from the embedded SPIR-V
 * (vk_pipeline.c), recording dispatches (vk_record.c). Everything goes
 * through volk. */
#ifndef LVK_VK_DEVICE_H
#define LVK_VK_DEVICE_H

#include "gpu_shared.h"
#include "litevk.h"
#include "vk/vk_fault.h"

#include <stdatomic.h>
#include <threads.h>
#include <volk.h>

#define LVK_MAX_BINDINGS 8       /* storage buffers in the one descriptor-set layout (bindings 0-7) */
#define LVK_TEXEL_BINDINGS 3     /* then LVK_WEIGHT_BINDING, +1 and LVK_INPUT_BINDING (gpu_shared.h) */
#define LVK_PUSH_CONSTANT_BYTES 128 /* the minimum every device has */
#define LVK_MAX_SPEC 8

typedef struct vk_pipeline_entry {
    char shader[32];
    uint32_t spec[LVK_MAX_SPEC];
    uint32_t n_spec;
    VkPipeline pipeline;
} vk_pipeline_entry;

typedef struct vk_device {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger; /* of this instance */
    atomic_uint validation_messages;
    atomic_int lost;           /* a call returned VK_ERROR_DEVICE_LOST: every later one fails */
    VkPhysicalDevice phys;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties mem_props;
    lvk_device_info info;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    mtx_t queue_lock;          /* vkQueueSubmit needs the queue externally synchronised */
    atomic_uint_least64_t allocated; /* bytes of VkDeviceMemory all arenas hold (vk_device_check_memory) */

    uint64_t max_storage_range; /* largest range one descriptor may bind */
    uint64_t max_texels;        /* most texels one buffer view may hold */
    uint64_t max_alloc;         /* largest single VkDeviceMemory we make (<= 1 GiB) */
    uint32_t weight_mem_type;   /* memory type for weights/activations */
    int weights_mappable;       /* that type is host visible: upload by memcpy */
    uint32_t readback_mem_type; /* host-visible (cached if possible) for results */
    int readback_coherent;

    VkDescriptorSetLayout set_layout;
    VkPipelineLayout pipeline_layout;
    mtx_t pipeline_lock;
    vk_pipeline_entry *pipelines;
    uint32_t n_pipelines, cap_pipelines;
    VkCommandPool upload_pool;  /* guarded by queue_lock */
} vk_device;

/* Lists the physical devices (see lvk_list_devices). */
lvk_status vk_list_devices(lvk_device_info *out, int capacity, int *count, int *chosen,
                           const char *selector);
lvk_status vk_device_create(vk_device **out, const char *selector, int validate);
void vk_device_free(vk_device *dev);
/* LVK_OK, or the status and message for a failed call `what`. */
lvk_status vk_check(VkResult r, const char *what);
/* The same for a call on dev; VK_ERROR_DEVICE_LOST marks dev lost. */
lvk_status vk_device_check(vk_device *dev, VkResult r, const char *what);
/* The error of call `what` on a device that was lost before. */
lvk_status vk_device_lost(const char *what);
/* Every VkResult-returning Vulkan call: `fn(args...)` on dev through the fault
 * layer, as an lvk_status. A device once lost stays lost (the spec allows no
 * recovery), so later calls on it fail without being made. */
#define VK_CALL(dev, fn, ...)                                   \
    (atomic_load(&(dev)->lost) ? vk_device_lost(#fn)             \
                               : vk_device_check((dev), VK_FAULT_RESULT(fn, __VA_ARGS__), #fn))
/* Fails with "WHAT needs X GiB, the device has Y GiB free of Z GiB" when
 * `bytes` more would not fit: checked before allocating, so the error is
 * clear instead of a failed allocation halfway (or, on a CPU device, the
 * machine swapping). A GPU's memory is its device-local heaps; a CPU
 * device (lavapipe) allocates from system memory, so it is the machine's
 * physical memory. */
lvk_status vk_device_check_memory(vk_device *dev, uint64_t bytes, const char *what);

/* A buffer bound to a slice of an arena block. `mapped` is non-NULL when the
 * memory is host visible. */
typedef struct vk_buffer {
    VkBuffer buffer;
    VkDeviceSize offset; /* where the bound range starts: 0, or a view's place in a bigger buffer */
    VkDeviceSize size;
    uint8_t *mapped;
    VkBufferView texels[2]; /* RGBA32UI and R32UI views of the bound range (vk_buffer_texel_views), else null */
} vk_buffer;

/* A view of size bytes of b from offset (a multiple of the device's
 * minStorageBufferOffsetAlignment and minTexelBufferOffsetAlignment), for
 * binding a part of b to a kernel; without b's texel views. */
vk_buffer vk_buffer_view(const vk_buffer *b, VkDeviceSize offset, VkDeviceSize size);

/* Bump allocator of buffers in blocks of <= max_alloc; freed all at once. */
typedef struct vk_arena {
    vk_device *dev;
    uint32_t mem_type;
    int mappable;
    VkDeviceMemory *blocks;
    uint8_t **block_maps;
    uint32_t n_blocks, cap_blocks;
    VkDeviceSize used; /* in the last block */
    VkDeviceSize last_size;
    VkBuffer *buffers;
    uint32_t n_buffers, cap_buffers;
    uint64_t total_bytes;
} vk_arena;

void vk_arena_init(vk_arena *a, vk_device *dev, int readback);
lvk_status vk_arena_alloc(vk_arena *a, VkDeviceSize size, vk_buffer *out);
void vk_arena_free(vk_arena *a);

/* Writes `size` bytes to a buffer at `offset`: memcpy when mapped, else
 * through a staging buffer and a copy on the queue. */
lvk_status vk_buffer_write(vk_device *dev, const vk_buffer *b, VkDeviceSize offset,
                           const void *data, VkDeviceSize size);
/* Fills a buffer with zeros on the device. */
lvk_status vk_buffer_zero(vk_device *dev, const vk_buffer *b);
/* Views a buffer's bound range as texels, the form kernels read weights and
 * mat-vec inputs in: on lavapipe texel fetches are 1.2-1.8x faster than
 * storage-buffer loads, and a mat-vec of 8 token columns 1.2-1.8x faster with
 * its input read as texels. Free them with vk_buffer_free_views. */
lvk_status vk_buffer_texel_views(vk_device *dev, vk_buffer *b);
void vk_buffer_free_views(vk_device *dev, vk_buffer *b);
/* A descriptor pool for `sets` sets of the one layout. */
lvk_status vk_descriptor_pool_create(vk_device *dev, uint32_t sets, VkDescriptorPool *out);
/* Copies size bytes at offset of b into data (tests and diagnostics; slow). */
lvk_status vk_buffer_read(vk_device *dev, const vk_buffer *b, VkDeviceSize offset, void *data, VkDeviceSize size);

/* The pipeline of shader `name` (shaders/NAME.comp) with specialisation
 * constants spec[0..n) at constant ids 0..n-1; created on first use. */
lvk_status vk_pipeline_get(vk_device *dev, const char *name, const uint32_t *spec, uint32_t n_spec,
                           VkPipeline *out);

/* Recording dispatches in LiteVK's binding convention: binding 0 is always
 * the per-token params buffer, bindings 1..n the kernel's buffers, and
 * LVK_WEIGHT_BINDING.. the texel views of the weights it reads (`weights`,
 * NULL for kernels that read none), LVK_INPUT_BINDING binding 1's RGBA32UI
 * view where that buffer has texel views. The first failure is kept in `status` and
 * later calls do nothing. */
typedef struct vk_recorder {
    vk_device *dev;
    VkDescriptorPool pool; /* one set per dispatch, written once */
    const vk_buffer *params;
    VkCommandBuffer cmd;
    lvk_status status;
} vk_recorder;

/* Records a dispatch of `shader` specialised by spec (spec[0] = workgroup size). */
void vk_record_dispatch(vk_recorder *r, const char *shader, const uint32_t *spec, uint32_t n_spec,
                        const vk_buffer *weights, const vk_buffer *const *bufs, uint32_t n_bufs, const void *push,
                        uint32_t push_size, uint32_t gx, uint32_t gy);
/* The same, with the workgroup counts read on the device from `args` at
 * `offset` (a VkDispatchIndirectCommand), so a kernel can switch it off. */
void vk_record_dispatch_indirect(vk_recorder *r, const char *shader, const uint32_t *spec, uint32_t n_spec,
                                 const vk_buffer *weights, const vk_buffer *const *bufs, uint32_t n_bufs,
                                 const void *push, uint32_t push_size, const vk_buffer *args, VkDeviceSize offset);
/* Later dispatches read what earlier ones wrote: one global memory barrier. */
void vk_record_barrier(vk_recorder *r);
/* The same, when the writes are also indirect dispatch counts. */
void vk_record_barrier_indirect(vk_recorder *r);
/* Shader and transfer writes made visible to the host after the fence. */
void vk_record_barrier_host(vk_recorder *r);

/* Submits one command buffer and waits for it. */
lvk_status vk_submit_wait(vk_device *dev, VkCommandBuffer cmd, VkFence fence);

#endif
