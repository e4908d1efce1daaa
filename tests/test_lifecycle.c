/* test_lifecycle.c — a full load → generate → free cycle, many times in one
 * process: every cycle creates a context, loads the model, generates with and
 * without early exit, and frees it all. Resident memory must stay flat after
 * the first cycles (a leak of anything model-sized would add up), and every
 * cycle must generate the same tokens. Under AddressSanitizer, LeakSanitizer
 * checks at exit that nothing the cycles allocated is left. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "litevk.h"

#define MODEL LITEVK_ASSETS_DIR "/stories260K-lite.gguf"
#define N_TOKENS 16
/* Allowed growth over the cycles after warm-up: 50 KiB a cycle, less than one
 * copy of the model or of a session's buffers. Measured without a leak: 0 to
 * 1.6 MiB, from the malloc arenas of the driver's and the validation layer's
 * threads (the heap in use stays flat). */
#define MAX_GROWTH_KIB (4 * 1024)

/* AddressSanitizer keeps freed memory in quarantine (256 MiB by default) to catch
 * use after free, so resident memory grows under it without a leak. There a few
 * cycles run, their figures are printed but not bounded, and LeakSanitizer checks
 * at exit that they left nothing behind. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define N_CYCLES 3
#define WARM_UP 1
#define BOUND_RSS 0
#else
#define N_CYCLES 100
/* Cycles before resident memory must stay flat: glibc's heap settles in the
 * first 10-20 (measured: +2 MiB there, then +16 KiB over the last 80). */
#define WARM_UP 20
#define BOUND_RSS 1
#endif

/* Resident memory of this process in KiB (/proc/self/statm, in pages). */
static long rss_kib(void) {
    long pages_total = 0, pages_resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%ld %ld", &pages_total, &pages_resident), 2);
    fclose(f);
    return pages_resident * (sysconf(_SC_PAGESIZE) / 1024);
}

typedef struct generation {
    int32_t ids[2][N_TOKENS]; /* [0] with the model's exits, [1] at full depth */
    int early;                /* tokens chosen at an exit */
} generation;

static void generate(lvk_model *model, const lvk_exit_config *exits, int32_t *ids, int *early) {
    lvk_model_info info;
    assert_int_equal(lvk_model_get_info(model, &info), LVK_OK);
    lvk_session_params p = lvk_session_default_params();
    p.exits = exits;
    lvk_session *s;
    assert_int_equal(lvk_session_create(model, &p, &s), LVK_OK);
    assert_int_equal(lvk_session_feed(s, "Once upon a time", 1), LVK_OK);
    for (int i = 0; i < N_TOKENS; i++) {
        lvk_token_info t;
        assert_int_equal(lvk_session_step(s, &t), LVK_OK);
        ids[i] = t.id;
        *early += t.layer < info.n_layers;
    }
    lvk_session_free(s);
}

/* One cycle: context, model, a session with exits and one without, all freed. */
static void cycle(generation *out) {
    lvk_context *ctx;
    lvk_model *model;
    assert_int_equal(lvk_context_create(NULL, &ctx), LVK_OK);
    assert_int_equal(lvk_model_load(ctx, MODEL, NULL, &model), LVK_OK);
    lvk_exit_config exits;
    assert_int_equal(lvk_model_exit_config(model, &exits, NULL), LVK_OK);
    memset(out, 0, sizeof *out);
    generate(model, &exits, out->ids[0], &out->early);
    exits.n_exits = 0;
    int full_depth_early = 0;
    generate(model, &exits, out->ids[1], &full_depth_early);
    assert_int_equal(full_depth_early, 0);
    assert_int_equal(lvk_context_validation_messages(ctx), 0);
    lvk_model_free(model);
    lvk_context_free(ctx);
}

static void test_load_generate_free_cycles(void **state) {
    (void)state;
    long start = rss_kib(), after_first, after_warm_up;
    generation first, g;
    cycle(&first);
    assert_true(first.early > 0); /* the exits really fired */
    after_first = after_warm_up = rss_kib();
    for (int c = 1; c < N_CYCLES; c++) {
        cycle(&g);
        assert_memory_equal(&g, &first, sizeof g);
        if (c + 1 == WARM_UP) after_warm_up = rss_kib();
    }
    long end = rss_kib(), growth = end - after_warm_up;
    printf("resident memory: %ld KiB at start, %ld after cycle 1, %ld after cycle %d, %ld after cycle %d: "
           "%+ld KiB over the last %d cycles (bound %d KiB%s)\n",
           start, after_first, after_warm_up, WARM_UP, end, N_CYCLES, growth, N_CYCLES - WARM_UP, MAX_GROWTH_KIB,
           BOUND_RSS ? "" : ", not applied under a sanitizer");
    if (BOUND_RSS) assert_true(growth <= MAX_GROWTH_KIB);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_generate_free_cycles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
