#version 450
// exit_gate.comp — the exit decision on the GPU (exit mode `gpu`). After exit
// head k, reads the decision the head wrote (confident(), common.glsl) and writes the workgroup
// counts of the dispatches that follow: the deeper blocks run (their recorded
// counts) or not (0), and the K/V propagation for the skipped blocks the other
// way round. The whole token is then one submission with no host round trip.
layout(local_size_x_id = 0) in;
#include "common.glsl"

layout(binding = 1) readonly buffer Decisions { uvec4 decisions[]; }; // (token, prob, second, confident)
layout(binding = 2) writeonly buffer Counts { uvec4 counts[]; };  // VkDispatchIndirectCommand per slot
layout(binding = 3) readonly buffer Plan { uvec4 plan[]; };       // gate ranges, then each slot's counts
layout(binding = 4) buffer Taken { uint taken; };                 // exit index taken, n_exits = full depth

layout(push_constant) uniform Push { uint exit_index; uint n_exits; } pc;

void main() {
    const bool exited = decisions[pc.exit_index].w != 0u;
    const uvec4 r = plan[pc.exit_index]; // deeper slots [x, y), propagation slots [z, w)
    for (uint i = r.x + gl_LocalInvocationID.x; i < r.y; i += gl_WorkGroupSize.x)
        counts[i] = exited ? uvec4(0u) : plan[LVK_PLAN_COUNTS + i];
    for (uint i = r.z + gl_LocalInvocationID.x; i < r.w; i += gl_WorkGroupSize.x)
        counts[i] = exited ? plan[LVK_PLAN_COUNTS + i] : uvec4(0u);
    if (gl_LocalInvocationID.x == 0u && (exited || pc.exit_index == 0u)) taken = exited ? pc.exit_index : pc.n_exits;
}
