/* vk_record.c — recording dispatches with descriptor sets written once. */
#include "vk/vk_device.h"
#include "status.h"

/* Binds the pipeline, a freshly written descriptor set and the push constants. */
static int bind(vk_recorder *r, const char *shader, const uint32_t *spec, uint32_t n_spec, const vk_buffer *weights,
                const vk_buffer *const *bufs, uint32_t n_bufs, const void *push, uint32_t push_size) {
    if (r->status != LVK_OK) return 0;
    if (n_bufs + 1 > LVK_MAX_BINDINGS || push_size > LVK_PUSH_CONSTANT_BYTES) {
        r->status = status_fail(LVK_ERR_INVALID_ARGUMENT, "%s: %u buffers, %u push bytes exceed the layout", shader,
                             n_bufs, push_size);
        return 0;
    }
    vk_device *dev = r->dev;
    VkPipeline pipeline;
    if ((r->status = vk_pipeline_get(dev, shader, spec, n_spec, &pipeline)) != LVK_OK) return 0;
    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                      .descriptorPool = r->pool, .descriptorSetCount = 1,
                                      .pSetLayouts = &dev->set_layout};
    VkDescriptorSet set;
    if ((r->status = VK_CALL(dev, vkAllocateDescriptorSets, dev->device, &ai, &set)))
        return 0;
    VkDescriptorBufferInfo info[LVK_MAX_BINDINGS];
    VkWriteDescriptorSet writes[LVK_MAX_BINDINGS + LVK_TEXEL_BINDINGS];
    for (uint32_t i = 0; i <= n_bufs; i++) {
        const vk_buffer *b = i == 0 ? r->params : bufs[i - 1];
        info[i] = (VkDescriptorBufferInfo){.buffer = b->buffer, .offset = b->offset, .range = b->size};
        writes[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set,
                                           .dstBinding = i, .descriptorCount = 1,
                                           .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                           .pBufferInfo = &info[i]};
    }
    uint32_t n_writes = n_bufs + 1;
    if (weights) {
        if (!weights->texels[0]) {
            r->status = status_fail(LVK_ERR_INVALID_ARGUMENT, "%s: the weight buffer has no texel views", shader);
            return 0;
        }
        for (uint32_t i = 0; i < 2; i++)
            writes[n_writes++] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set,
                                                        .dstBinding = LVK_WEIGHT_BINDING + i, .descriptorCount = 1,
                                                        .descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
                                                        .pTexelBufferView = &weights->texels[i]};
    }
    if (n_bufs > 0 && bufs[0]->texels[0])
        writes[n_writes++] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set,
                                                    .dstBinding = LVK_INPUT_BINDING, .descriptorCount = 1,
                                                    .descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
                                                    .pTexelBufferView = &bufs[0]->texels[0]};
    vkUpdateDescriptorSets(dev->device, n_writes, writes, 0, NULL);
    vkCmdBindPipeline(r->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    vkCmdBindDescriptorSets(r->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, dev->pipeline_layout, 0, 1, &set, 0, NULL);
    vkCmdPushConstants(r->cmd, dev->pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size, push);
    return 1;
}

void vk_record_dispatch(vk_recorder *r, const char *shader, const uint32_t *spec, uint32_t n_spec,
                        const vk_buffer *weights, const vk_buffer *const *bufs, uint32_t n_bufs, const void *push,
                        uint32_t push_size, uint32_t gx, uint32_t gy) {
    if (bind(r, shader, spec, n_spec, weights, bufs, n_bufs, push, push_size)) vkCmdDispatch(r->cmd, gx, gy, 1);
}

void vk_record_dispatch_indirect(vk_recorder *r, const char *shader, const uint32_t *spec, uint32_t n_spec,
                                 const vk_buffer *weights, const vk_buffer *const *bufs, uint32_t n_bufs,
                                 const void *push, uint32_t push_size, const vk_buffer *args, VkDeviceSize offset) {
    if (bind(r, shader, spec, n_spec, weights, bufs, n_bufs, push, push_size))
        vkCmdDispatchIndirect(r->cmd, args->buffer, offset);
}

void vk_record_barrier(vk_recorder *r) {
    if (r->status != LVK_OK) return; /* the command buffer may not be recording */
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
    vkCmdPipelineBarrier(r->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
                         &mb, 0, NULL, 0, NULL);
}

void vk_record_barrier_indirect(vk_recorder *r) {
    if (r->status != LVK_OK) return; /* the command buffer may not be recording */
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_INDIRECT_COMMAND_READ_BIT | VK_ACCESS_SHADER_READ_BIT |
                                           VK_ACCESS_SHADER_WRITE_BIT};
    vkCmdPipelineBarrier(r->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                         VK_PIPELINE_STAGE_DRAW_INDIRECT_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0,
                         NULL, 0, NULL);
}

void vk_record_barrier_host(vk_recorder *r) {
    if (r->status != LVK_OK) return; /* the command buffer may not be recording */
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    vkCmdPipelineBarrier(r->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
}
