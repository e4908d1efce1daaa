/* vk_pipeline.c — compute pipelines from the embedded SPIR-V, cached per
 * shader and specialisation, and descriptor pools of the one layout. */
#include "status.h"
#include "vk/shaders_spirv.h"
#include "vk/vk_internal.h"

#include <stdio.h>
#include <string.h>

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
    if (!vk_grow((void **)&dev->pipelines, &dev->cap_pipelines, dev->n_pipelines + 1, sizeof(vk_pipeline_entry))) {
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

lvk_status vk_descriptor_pool_create(vk_device *dev, uint32_t sets, VkDescriptorPool *out) {
    VkDescriptorPoolSize ps[2] = {
        {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = sets * LVK_MAX_BINDINGS},
        {.type = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, .descriptorCount = sets * LVK_TEXEL_BINDINGS}};
    VkDescriptorPoolCreateInfo dpi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                      .maxSets = sets, .poolSizeCount = 2, .pPoolSizes = ps};
    return VK_CALL(dev, vkCreateDescriptorPool, dev->device, &dpi, NULL, out);
}
