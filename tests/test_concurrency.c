/* test_concurrency.c — include/litevk.h's threading contract under load: many
 * sessions on one model, each on its own thread, and one session per context
 * on two contexts, all generating at once with early exit (both exit modes)
 * and without. Every thread's tokens and exit blocks must equal what the same
 * generation gives single-threaded. CI also runs this test under
 * ThreadSanitizer (scripts/test.sh), which must report nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>

#include "litevk.h"

/* The calibrated default model: its exits (after blocks 2 and 4) fire on
 * these prompts, so both exit modes really skip blocks. */
#define MODEL LITEVK_ASSETS_DIR "/stories260K-lite.gguf"
#define N_THREADS 4
#define N_TOKENS 24

static const char *const prompts[N_THREADS] = {"Once upon a time", "The dog", "Lily wanted to", "One day, a little"};

/* What a thread generates from its prompt: at full depth, then with the
 * model's exits in each exit mode. */
enum { FULL_DEPTH, EXIT_FENCE, EXIT_GPU, N_RUNS };

typedef struct generation {
    int32_t ids[N_TOKENS];
    int layers[N_TOKENS];
} generation;

typedef struct job {
    lvk_model *model;
    const char *prompt;
    pthread_barrier_t *start; /* NULL: run at once (the single-threaded reference) */
    lvk_status status;
    char error[256];
    generation out[N_RUNS];
} job;

static lvk_exit_config run_config(const lvk_model *model, int run) {
    lvk_exit_config c;
    lvk_model_exit_config(model, &c, NULL);
    if (run == FULL_DEPTH) c.n_exits = 0;
    c.mode = run == EXIT_GPU ? LVK_EXIT_GPU : LVK_EXIT_FENCE;
    return c;
}

/* Greedy generation of N_TOKENS tokens after `prompt` in a fresh session. */
static lvk_status generate(lvk_model *model, const char *prompt, const lvk_exit_config *exits, generation *out) {
    lvk_session_params p = lvk_session_default_params();
    p.exits = exits;
    lvk_session *s;
    lvk_status st = lvk_session_create(model, &p, &s);
    if (st != LVK_OK) return st;
    st = lvk_session_feed(s, prompt, 1);
    for (int i = 0; i < N_TOKENS && st == LVK_OK; i++) {
        lvk_token_info t;
        st = lvk_session_step(s, &t);
        if (st != LVK_OK) break;
        out->ids[i] = t.id;
        out->layers[i] = t.layer;
    }
    lvk_session_free(s);
    return st;
}

/* A thread's work (cmocka's asserts cannot run off the main thread: a job
 * records its first failure for the main thread to report). */
static void *run_job(void *arg) {
    job *j = arg;
    if (j->start) pthread_barrier_wait(j->start);
    for (int run = 0; run < N_RUNS; run++) {
        lvk_exit_config c = run_config(j->model, run);
        j->status = generate(j->model, j->prompt, &c, &j->out[run]);
        if (j->status != LVK_OK) {
            snprintf(j->error, sizeof j->error, "%s", lvk_last_error());
            return NULL;
        }
    }
    return NULL;
}

/* Runs jobs[0..n) on threads that start together; job i runs prompt i on
 * models[i]. `meanwhile` (or NULL) runs on the calling thread as they start. */
static void run_threads(lvk_model *const *models, int n, job *jobs, void (*meanwhile)(void)) {
    pthread_barrier_t start;
    pthread_t threads[N_THREADS];
    assert_int_equal(pthread_barrier_init(&start, NULL, (unsigned)n + 1), 0);
    for (int i = 0; i < n; i++) {
        jobs[i] = (job){.model = models[i], .prompt = prompts[i], .start = &start};
        assert_int_equal(pthread_create(&threads[i], NULL, run_job, &jobs[i]), 0);
    }
    pthread_barrier_wait(&start);
    if (meanwhile) meanwhile();
    for (int i = 0; i < n; i++) assert_int_equal(pthread_join(threads[i], NULL), 0);
    pthread_barrier_destroy(&start);
}

typedef struct fixture {
    lvk_context *ctx[2];
    lvk_model *model[2];
    job reference[N_THREADS]; /* each prompt generated alone on ctx[0] */
} fixture;

static void expect_reference(const fixture *f, const job *jobs, int n, const char *what) {
    for (int i = 0; i < n; i++) {
        if (jobs[i].status != LVK_OK) fail_msg("%s, thread %d: %s", what, i, jobs[i].error);
        for (int run = 0; run < N_RUNS; run++)
            for (int t = 0; t < N_TOKENS; t++) {
                const generation *got = &jobs[i].out[run], *want = &f->reference[i].out[run];
                if (got->ids[t] != want->ids[t] || got->layers[t] != want->layers[t])
                    fail_msg("%s, thread %d, run %d, token %d: id %d after block %d, single-threaded %d after block %d",
                             what, i, run, t, got->ids[t], got->layers[t], want->ids[t], want->layers[t]);
            }
    }
}

static int setup(void **state) {
    static fixture f;
    for (int i = 0; i < 2; i++)
        if (lvk_context_create(NULL, &f.ctx[i]) != LVK_OK || lvk_model_load(f.ctx[i], MODEL, NULL, &f.model[i]) != LVK_OK) {
            fprintf(stderr, "setup: %s\n", lvk_last_error());
            return -1;
        }
    for (int i = 0; i < N_THREADS; i++) {
        f.reference[i] = (job){.model = f.model[0], .prompt = prompts[i]};
        run_job(&f.reference[i]);
        if (f.reference[i].status != LVK_OK) {
            fprintf(stderr, "setup: %s\n", f.reference[i].error);
            return -1;
        }
    }
    *state = &f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    uint32_t messages = 0;
    for (int i = 0; i < 2; i++) {
        messages += lvk_context_validation_messages(f->ctx[i]);
        lvk_model_free(f->model[i]);
        lvk_context_free(f->ctx[i]);
    }
    return messages == 0 ? 0 : -1; /* any validation message fails the suite */
}

/* The reference must exercise early exit, or the test would prove nothing
 * about it: with exits, some tokens come from an exit, and the two exit modes
 * agree with each other. */
static void test_reference_exits_early(void **state) {
    fixture *f = *state;
    lvk_model_info info;
    assert_int_equal(lvk_model_get_info(f->model[0], &info), LVK_OK);
    int n_layers = info.n_layers, early = 0;
    for (int i = 0; i < N_THREADS; i++) {
        const generation *g = f->reference[i].out;
        for (int t = 0; t < N_TOKENS; t++) {
            assert_int_equal(g[FULL_DEPTH].layers[t], n_layers);
            early += g[EXIT_FENCE].layers[t] < n_layers;
        }
        assert_memory_equal(&g[EXIT_FENCE], &g[EXIT_GPU], sizeof g[EXIT_FENCE]);
    }
    printf("reference: %d of %d tokens with exits chose at an exit\n", early, N_THREADS * N_TOKENS);
    assert_true(early > 0);
    assert_true(early < N_THREADS * N_TOKENS);
}

static void test_sessions_on_one_model(void **state) {
    fixture *f = *state;
    lvk_model *models[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) models[i] = f->model[0];
    job jobs[N_THREADS];
    run_threads(models, N_THREADS, jobs, NULL);
    expect_reference(f, jobs, N_THREADS, "one model");
}

static void test_session_per_context(void **state) {
    fixture *f = *state;
    job jobs[2];
    run_threads(f->model, 2, jobs, NULL);
    expect_reference(f, jobs, 2, "two contexts");
}

static void load_and_free_a_context(void) {
    lvk_context *ctx;
    lvk_model *model;
    assert_int_equal(lvk_context_create(NULL, &ctx), LVK_OK);
    assert_int_equal(lvk_model_load(ctx, MODEL, NULL, &model), LVK_OK);
    lvk_model_free(model);
    lvk_context_free(ctx);
}

/* Creating a context must not disturb the contexts in use (regression: every
 * context creation reloaded the process-wide Vulkan function pointers with its
 * own device's, under the threads calling them). */
static void test_context_created_while_generating(void **state) {
    fixture *f = *state;
    job jobs[2];
    run_threads(f->model, 2, jobs, load_and_free_a_context);
    expect_reference(f, jobs, 2, "a context created meanwhile");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_exits_early),
        cmocka_unit_test(test_sessions_on_one_model),
        cmocka_unit_test(test_session_per_context),
        cmocka_unit_test(test_context_created_while_generating),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
