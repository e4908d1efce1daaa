/* test_faults.c — failures at the Vulkan boundary and of host allocations.
 * For each of four Vulkan errors, and for a failing allocation, a fault is
 * injected at every call (the N-th, N = 1, 2, ...) that (a) a context create
 * and a model load make and (b) a session create and a short generation make,
 * with early exit in fence and gpu mode and without. Every run must return an
 * error status whose message names the error, leak no host block and no
 * Vulkan object, and leave the library working: the model still generates
 * the right tokens (after a device loss the context keeps failing instead,
 * and a fresh one works).
 *
 * Every call is about 3600 runs, most of an hour on lavapipe; by default a
 * stride of calls is hit (DEFAULT_*_STRIDE), from an offset that moves with
 * the fault and the case so that the sweeps together hit more calls.
 * LITEVK_FAULT_STRIDE=N hits every N-th call of every kind; 1 sweeps all. Runs with the validation layer on (ctest sets
 * LITEVK_VALIDATE=1): any message fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "litevk.h"
#include "status.h"
#include "vk/vk_fault.h"

#define MODEL LITEVK_ASSETS_DIR "/stories260K-lite.gguf" /* the default model: its exit heads are trained */
#define PROMPT "Once upon a time"
#define N_GEN 4
/* A faulted generation run takes about a second here (a fresh context with
 * validation, a load, two sessions), and every call is about 3600 runs: by
 * default every 32nd Vulkan call is hit (96th under a sanitizer), and every
 * 4th of the fewer host allocations. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DEFAULT_VK_STRIDE 96 /* the host code runs several times slower: every 96th call, in about 12 min of CI */
#else
#define DEFAULT_VK_STRIDE 32
#endif
#define DEFAULT_ALLOC_STRIDE 4

/* ---- faults --------------------------------------------------------------------- */

typedef struct fault {
    const char *name;
    VkResult error;  /* VK_SUCCESS: a failing host allocation */
    lvk_status want; /* the status it must give */
    const char *says; /* what the message must contain */
} fault;

static const fault faults[] = {
    {"VK_ERROR_OUT_OF_DEVICE_MEMORY", VK_ERROR_OUT_OF_DEVICE_MEMORY, LVK_ERR_OUT_OF_MEMORY, "out of device memory"},
    {"VK_ERROR_OUT_OF_HOST_MEMORY", VK_ERROR_OUT_OF_HOST_MEMORY, LVK_ERR_OUT_OF_MEMORY, "out of host memory"},
    {"VK_ERROR_DEVICE_LOST", VK_ERROR_DEVICE_LOST, LVK_ERR_DEVICE, "device lost"},
    {"VK_ERROR_INITIALIZATION_FAILED", VK_ERROR_INITIALIZATION_FAILED, LVK_ERR_DEVICE, "initialization failed"},
    {"host allocation", VK_SUCCESS, LVK_ERR_OUT_OF_MEMORY, "memory"},
};

static uint64_t calls_of(const fault *f) { return f->error ? vk_fault_calls() : mem_alloc_calls(); }

static void arm(const fault *f, uint64_t n) {
    if (f->error) vk_fault_arm(n, f->error, NULL);
    else mem_alloc_fail_at(n);
}

static void disarm(void) {
    vk_fault_arm(0, VK_SUCCESS, NULL);
    mem_alloc_fail_at(0);
}

/* ---- what runs under a fault ------------------------------------------------------ */

typedef struct exits_case {
    const char *name;
    lvk_exit_config exits;
} exits_case;

/* Exits after blocks 2 and 4 of the 5: with these thresholds the 4 tokens
 * run 2, 5, 4 and 2 blocks in both modes (checked), so every kind of pass runs. */
static exits_case cases[] = {
    {"no exits", {.n_exits = 0}},
    {"fence mode", {.n_exits = 2, .layers = {2, 4}, .thresholds = {0.92f, 0.9f}, .mode = LVK_EXIT_FENCE,
                    .kv_fill = LVK_KV_PROPAGATE}},
    {"gpu mode", {.n_exits = 2, .layers = {2, 4}, .thresholds = {0.92f, 0.9f}, .mode = LVK_EXIT_GPU,
                  .kv_fill = LVK_KV_DEFERRED}},
};

/* Any validation message fails the test. */
static void check_validation(lvk_context *ctx) {
    if (lvk_context_validation_messages(ctx)) fail_msg("the validation layer reported errors (above)");
}

/* (a) a context and a model, freed again. After a device loss in the model
 * load, the context must refuse another (and not hang). */
static lvk_status load(VkResult fault) {
    lvk_context *ctx = NULL;
    lvk_model *model = NULL;
    lvk_status s = lvk_context_create(NULL, &ctx);
    if (s == LVK_OK) s = lvk_model_load(ctx, MODEL, NULL, &model);
    if (ctx && s != LVK_OK && fault == VK_ERROR_DEVICE_LOST) {
        char first[1024];
        snprintf(first, sizeof first, "%s", lvk_last_error());
        assert_int_equal(lvk_model_load(ctx, MODEL, NULL, &model), LVK_ERR_DEVICE);
        status_fail(s, "%s", first); /* the message of the first failure, for the checks */
    }
    if (ctx) check_validation(ctx);
    lvk_model_free(model);
    lvk_context_free(ctx);
    return s;
}

/* (b) a session, the prompt and N_GEN greedy tokens into ids, freed again;
 * the blocks each token ran go to layers. */
static int layers[N_GEN];
static lvk_status generate(lvk_model *model, const exits_case *c, int32_t *ids) {
    lvk_session_params p = lvk_session_default_params();
    p.n_ctx = 64;
    p.exits = &c->exits;
    lvk_session *session = NULL;
    lvk_status s = lvk_session_create(model, &p, &session);
    if (s == LVK_OK) s = lvk_session_feed(session, PROMPT, 1);
    for (int i = 0; s == LVK_OK && i < N_GEN; i++) {
        lvk_token_info t;
        s = lvk_session_step(session, &t);
        ids[i] = t.id;
        layers[i] = t.layer;
    }
    lvk_session_free(session);
    return s;
}

static void open_model(lvk_context **ctx, lvk_model **model) {
    if (lvk_context_create(NULL, ctx) != LVK_OK || lvk_model_load(*ctx, MODEL, NULL, model) != LVK_OK)
        fail_msg("a fresh context and model: %s", lvk_last_error());
}

static void close_model(lvk_context *ctx, lvk_model *model) {
    check_validation(ctx);
    lvk_model_free(model);
    lvk_context_free(ctx);
}

/* ---- checks ---------------------------------------------------------------------- */

static int64_t blocks_before, objects_before;

static void mark(void) {
    blocks_before = mem_alloc_outstanding();
    objects_before = vk_fault_live_objects();
}

static void expect_failure(const fault *f, lvk_status s, const char *what, uint64_t n) {
    const char *msg = lvk_last_error();
    if (s != f->want || !strstr(msg, f->says))
        fail_msg("%s, %s at call %llu: status '%s', message '%s'; expected '%s' saying '%s'", what, f->name,
                 (unsigned long long)n, lvk_status_name(s), msg, lvk_status_name(f->want), f->says);
}

static void expect_no_leak(const fault *f, const char *what, uint64_t n) {
    int64_t blocks = mem_alloc_outstanding() - blocks_before, objects = vk_fault_live_objects() - objects_before;
    if (blocks || objects)
        fail_msg("%s, %s at call %llu: %lld host blocks and %lld Vulkan objects leaked", what, f->name,
                 (unsigned long long)n, (long long)blocks, (long long)objects);
}

static uint64_t stride(const fault *f) {
    const char *v = getenv("LITEVK_FAULT_STRIDE");
    return v && atoi(v) > 0 ? (uint64_t)atoi(v) : f->error ? DEFAULT_VK_STRIDE : DEFAULT_ALLOC_STRIDE;
}

/* Calls N = first, first + stride, ... <= total; the first call moves with
 * the fault and the case, so that the sweeps together hit more calls. */
static uint64_t first_call(const fault *f, size_t c) { return 1 + ((uint64_t)(f - faults) * 5 + c * 11) % stride(f); }

static double seconds(void) {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the sweeps ------------------------------------------------------------------- */

static void test_load_faults(void **state) {
    (void)state;
    for (const fault *f = faults; f < faults + sizeof faults / sizeof faults[0]; f++) {
        double t0 = seconds();
        mark();
        uint64_t c0 = calls_of(f);
        assert_int_equal(load(VK_SUCCESS), LVK_OK);
        uint64_t total = calls_of(f) - c0, runs = 0;
        expect_no_leak(f, "load", 0);
        for (uint64_t n = first_call(f, 0); n <= total; n += stride(f), runs++) {
            arm(f, n);
            lvk_status s = load(f->error);
            disarm();
            expect_failure(f, s, "load", n);
            expect_no_leak(f, "load", n);
        }
        assert_int_equal(load(VK_SUCCESS), LVK_OK); /* and a fresh context works */
        printf("  load, %s: %llu calls, %llu faulted runs, %.1f s\n", f->name, (unsigned long long)total,
               (unsigned long long)runs, seconds() - t0);
    }
}

static void test_generation_faults(void **state) {
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        lvk_context *ctx;
        lvk_model *model;
        int32_t want[N_GEN], ids[N_GEN];
        /* each run on a fresh context: its first session also creates the pipelines */
        open_model(&ctx, &model);
        uint64_t vk0 = vk_fault_calls(), alloc0 = mem_alloc_calls();
        assert_int_equal(generate(model, &cases[c], want), LVK_OK);
        if (cases[c].exits.n_exits) assert_memory_equal(layers, ((int[N_GEN]){2, 5, 4, 2}), sizeof layers);
        uint64_t vk_calls = vk_fault_calls() - vk0, alloc_calls = mem_alloc_calls() - alloc0;
        close_model(ctx, model);
        for (const fault *f = faults; f < faults + sizeof faults / sizeof faults[0]; f++) {
            double t0 = seconds();
            uint64_t total = f->error ? vk_calls : alloc_calls, runs = 0;
            for (uint64_t n = first_call(f, c); n <= total; n += stride(f), runs++) {
                mark();
                open_model(&ctx, &model);
                arm(f, n);
                lvk_status s = generate(model, &cases[c], ids);
                expect_failure(f, s, cases[c].name, n);
                if (f->error == VK_ERROR_DEVICE_LOST) { /* the device stays lost: errors, not hangs */
                    lvk_session *again = NULL;
                    assert_int_equal(lvk_session_create(model, NULL, &again), LVK_ERR_DEVICE);
                    assert_null(again);
                }
                disarm();
                if (f->error != VK_ERROR_DEVICE_LOST) { /* the model is as good as before */
                    memset(ids, 0, sizeof ids);
                    assert_int_equal(generate(model, &cases[c], ids), LVK_OK);
                    assert_memory_equal(ids, want, sizeof ids);
                }
                close_model(ctx, model); /* the context keeps the pipelines a session made: count after it */
                expect_no_leak(f, cases[c].name, n);
            }
            printf("  generation, %s, %s: %llu calls, %llu faulted runs, %.1f s\n", cases[c].name, f->name,
                   (unsigned long long)total, (unsigned long long)runs, seconds() - t0);
        }
        open_model(&ctx, &model); /* and after them all a fresh context works */
        assert_int_equal(generate(model, &cases[c], ids), LVK_OK);
        assert_memory_equal(ids, want, sizeof ids);
        close_model(ctx, model);
    }
}

/* ---- regressions ------------------------------------------------------------------- */

/* The calls whose failure paths had bugs, each failed at its every call
 * (N = 1, 2, ... until a run makes fewer) in a context create, a model load
 * and a generation with exits in fence mode (the most fence waits). */
static const struct { const char *call; const fault *as; const char *bug; } regressions[] = {
    {"vkEnumerateInstanceLayerProperties", &faults[1], "its failure read as 'the validation layer is not installed'"},
    {"vkBeginCommandBuffer", &faults[0], "barriers were recorded into the command buffer that never began"},
    {"vkWaitForFences", &faults[2], "the fence and command pool were destroyed while the work could still run"},
};

static void test_regressions(void **state) {
    (void)state;
    for (size_t r = 0; r < sizeof regressions / sizeof regressions[0]; r++) {
        const fault *f = regressions[r].as;
        uint64_t n = 1;
        for (;; n++) {
            lvk_context *ctx = NULL;
            lvk_model *model = NULL;
            int32_t ids[N_GEN];
            mark();
            vk_fault_arm(n, f->error, regressions[r].call);
            lvk_status s = lvk_context_create(NULL, &ctx);
            if (s == LVK_OK) s = lvk_model_load(ctx, MODEL, NULL, &model);
            if (s == LVK_OK) s = generate(model, &cases[1], ids);
            disarm();
            if (ctx) check_validation(ctx);
            lvk_model_free(model);
            lvk_context_free(ctx);
            expect_no_leak(f, regressions[r].call, n);
            if (s == LVK_OK) break; /* fewer than n such calls: every one has failed */
            expect_failure(f, s, regressions[r].call, n);
        }
        if (n == 1) fail_msg("%s was never called: the regression (%s) is not covered", regressions[r].call,
                             regressions[r].bug);
        printf("  %s, %s: all %llu calls failed in turn\n", regressions[r].call, f->name, (unsigned long long)n - 1);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regressions),
        cmocka_unit_test(test_load_faults),
        cmocka_unit_test(test_generation_faults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
