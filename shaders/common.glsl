// common.glsl — what every LiteVK kernel shares: the per-token parameters and
// workgroup reductions. Every kernel declares `layout(local_size_x_id = 0) in;`
// so the runtime sets the workgroup size per device.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

// Per-token values, written by the host before each submission, so command
// buffers can be recorded once and replayed.
layout(binding = 0) readonly buffer Params {
    uint n_tokens;        // token columns in this pass (1..8)
    uint pos;             // position of the first column
    uint logits_col;      // column whose logits the exit heads reduce
    uint pad;
    uint tokens[8];       // token ids of the columns
    uint start_layer[8];  // blocks a column already ran: > 0 for tokens that exited
                          // earlier and now catch up (deferred KV fill), else 0
    float thresholds[16]; // per exit: the token exits when confidence > threshold
} params;

// Whether column c runs block `layer` (0-based) in this pass. Kernels that
// write state a column keeps (x, the KV cache) skip the columns that do not.
bool column_runs(uint c, uint layer) { return c < params.n_tokens && params.start_layer[c] <= layer; }

shared float reduce_scratch[64]; // one value per subgroup (>= 64 subgroups never happens)

// Sum / max over the whole workgroup. Call from uniform control flow.
float workgroup_sum(float v) {
    v = subgroupAdd(v);
    if (gl_NumSubgroups == 1) return v;
    barrier();
    if (subgroupElect()) reduce_scratch[gl_SubgroupID] = v;
    barrier();
    float total = 0.0;
    for (uint i = 0; i < gl_NumSubgroups; i++) total += reduce_scratch[i];
    return total;
}

uint workgroup_min(uint v) {
    v = subgroupMin(v);
    if (gl_NumSubgroups == 1) return v;
    barrier();
    if (subgroupElect()) reduce_scratch[gl_SubgroupID] = uintBitsToFloat(v);
    barrier();
    uint m = floatBitsToUint(reduce_scratch[0]);
    for (uint i = 1; i < gl_NumSubgroups; i++) m = min(m, floatBitsToUint(reduce_scratch[i]));
    return m;
}

float workgroup_max(float v) {
    v = subgroupMax(v);
    if (gl_NumSubgroups == 1) return v;
    barrier();
    if (subgroupElect()) reduce_scratch[gl_SubgroupID] = v;
    barrier();
    float m = reduce_scratch[0];
    for (uint i = 1; i < gl_NumSubgroups; i++) m = max(m, reduce_scratch[i]);
    return m;
}
