/* test_limits.c — limits that are enforced, not hoped for: a model larger
 * than the device's memory, a context whose buffers do not fit one binding
 * or the device's memory, each refused with a clear error before anything
 * is allocated, and the context the error suggests works. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "formats/gguf.h"
#include "forward/gpu_model.h"
#include "gpu_test.h"
#include "litevk.h"
#include "model/model.h"
#include "synth.h"

#define DEEP_MODEL LITEVK_TMP_DIR "/limits-deep.gguf"
#define SMALL_MODEL LITEVK_TMP_DIR "/limits-small.gguf"

static void expect_error(lvk_status got, lvk_status want, const char *needle) {
    assert_int_equal(got, want);
    const char *message = lvk_last_error();
    if (!strstr(message, needle)) fail_msg("'%s' does not say '%s'", message, needle);
}

/* Weights that claim more bytes than the device has are refused before any
 * upload (the claim is made in memory: a file that large cannot be written
 * here, and the check never reads the data). */
static void test_model_larger_than_device(void **state) {
    (void)state;
    synth_params p = synth_default_params();
    assert_int_equal(synth_llama_gguf(&p, SMALL_MODEL), LVK_OK);
    host_model *host;
    assert_int_equal(host_model_open(SMALL_MODEL, &host), LVK_OK);
    uint64_t real = host->tok_embd.n_bytes;
    host->tok_embd.n_bytes = 1ull << 50; /* 1 PiB */
    gpu_model *g = NULL;
    expect_error(gpu_model_upload(test_device, host, NULL, NULL, &g), LVK_ERR_OUT_OF_MEMORY,
                 "the model needs 1048576.00 GiB, the device has");
    assert_null(g);
    assert_int_equal(atomic_load(&test_device->allocated), 0); /* nothing was allocated */
    host->tok_embd.n_bytes = real;
    assert_int_equal(gpu_model_upload(test_device, host, NULL, NULL, &g), LVK_OK);
    assert_true(atomic_load(&test_device->allocated) > 0);
    gpu_model_free(g);
    assert_int_equal(atomic_load(&test_device->allocated), 0);
    host_model_free(host);
}

/* The memory a session can draw on: a GPU's device-local heaps, a CPU
 * device's system memory (as vk_device_check_memory counts them). */
static uint64_t device_memory(const lvk_device_info *dev) {
    if (strcmp(dev->type, "cpu")) return dev->device_local_bytes;
    return (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGE_SIZE);
}

/* A model with K/V 256 wide and a training context of 2^24 positions: one
 * block's K cache at full context is 8 GiB, over every device's binding
 * limit; at the longest context a binding allows, the model has enough
 * blocks that its K/V caches are over the device's memory. */
static void test_context_limits(void **state) {
    (void)state;
    lvk_context *ctx;
    lvk_device_info dev;
    assert_int_equal(lvk_context_create(NULL, &ctx), LVK_OK);
    assert_int_equal(lvk_context_device(ctx, &dev), LVK_OK);

    synth_params p = synth_default_params();
    p.n_embd = 256;
    p.n_heads = 1;
    p.n_kv_heads = 1;
    p.n_ff = 32;
    p.n_ctx = 1 << 24;
    p.weight_type = GGML_Q4_0;
    const uint64_t kv_per_position = 256 * 2; /* f16 */
    uint64_t longest = dev.max_storage_buffer_range / kv_per_position;
    if (longest >= (uint64_t)p.n_ctx)
        fail_msg("the device binds %llu bytes: this test needs a wider model",
                 (unsigned long long)dev.max_storage_buffer_range);
    uint64_t per_block = 2 * longest * kv_per_position;
    p.n_layers = (int)(device_memory(&dev) / per_block + 2);
    if (p.n_layers > 1024) fail_msg("%d blocks: more than a model may have", p.n_layers);
    assert_int_equal(synth_llama_gguf(&p, DEEP_MODEL), LVK_OK);
    lvk_model *model;
    assert_int_equal(lvk_model_load(ctx, DEEP_MODEL, NULL, &model), LVK_OK);

    lvk_session_params sp = lvk_session_default_params();
    lvk_session *s = NULL;
    char message[64];
    sp.n_ctx = p.n_ctx;
    snprintf(message, sizeof message, "use a context of at most %llu tokens", (unsigned long long)longest);
    expect_error(lvk_session_create(model, &sp, &s), LVK_ERR_UNSUPPORTED, message);

    sp.n_ctx = (int)longest; /* fits a binding: now the memory is short */
    snprintf(message, sizeof message, "a context of %d tokens needs", sp.n_ctx);
    expect_error(lvk_session_create(model, &sp, &s), LVK_ERR_OUT_OF_MEMORY, message);
    assert_null(s);

    sp.n_ctx = 64; /* and a modest context works */
    assert_int_equal(lvk_session_create(model, &sp, &s), LVK_OK);
    assert_int_equal(lvk_session_feed(s, "ab", 1), LVK_OK);
    lvk_token_info t;
    assert_int_equal(lvk_session_step(s, &t), LVK_OK);
    lvk_session_free(s);
    assert_int_equal(lvk_context_validation_messages(ctx), 0);
    lvk_model_free(model);
    lvk_context_free(ctx);
    remove(DEEP_MODEL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_larger_than_device),
        cmocka_unit_test(test_context_limits),
    };
    return cmocka_run_group_tests(tests, test_device_setup, test_device_teardown);
}
