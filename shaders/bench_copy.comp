#version 450
// bench_copy.comp — dst = src, 16 bytes per load and store: the plain streaming
// copy litevk-bench measures the device's memory bandwidth with. src is read
// as the mat-vecs read weights (a uniform texel buffer, faster than a storage
// buffer on lavapipe), so their fraction of the copy is a like-for-like figure.
//
// Each workgroup copies one contiguous chunk, its lanes side by side on
// neighbouring uvec4s (coalesced). Contiguous chunks matter on lavapipe, where
// a workgroup runs on one CPU thread: a grid-stride loop there makes every
// thread walk the whole buffer and was up to 5x slower.
//
// Binding 0 (the params buffer of LiteVK's binding convention) is bound by the
// recorder but not read here.
layout(local_size_x_id = 0) in;
#include "gpu_shared.h"

layout(binding = LVK_WEIGHT_BINDING) uniform usamplerBuffer src; // RGBA32UI
layout(binding = 1) writeonly buffer Dst { uvec4 dst[]; };

layout(push_constant) uniform Push { uint n; } pc; // uvec4s to copy

void main() {
    const uint chunk = (pc.n + gl_NumWorkGroups.x - 1u) / gl_NumWorkGroups.x;
    const uint begin = gl_WorkGroupID.x * chunk, end = min(begin + chunk, pc.n);
    for (uint i = begin + gl_LocalInvocationID.x; i < end; i += gl_WorkGroupSize.x) dst[i] = texelFetch(src, int(i));
}
