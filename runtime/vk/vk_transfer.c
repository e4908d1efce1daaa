/* vk_transfer.c — moving bytes between the host and device buffers, and
 * submitting recorded work. */
#include "status.h"
#include "vk/vk_internal.h"

#include <string.h>

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
