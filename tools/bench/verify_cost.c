/* verify_cost.c — litevk-verify-cost: what speculation's passes cost on a
 * device, and the speedup an acceptance rate would give there.
 *
 * Times, on a model's own shapes (its weights do not matter: random ones
 * do), a full-depth one-token pass, a draft pass (blocks 1..E and the draft
 * head) and verification passes of 1..8 columns, then prints for a few
 * acceptance rates the draft count k that gives the most tokens per second:
 *
 *   tokens per cycle  T(a, k) = (1 - a^(k+1)) / (1 - a)   (each draft accepted with probability a)
 *   time per cycle    C(k)    = k * draft + verify(k + 1)
 *   speedup                   = T(a, k) * full / C(k)
 *
 * a program that prints figures, not a test. */
#include "forward/gpu_forward.h"
#include "median.h"
#include "status.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: litevk-verify-cost MODEL.gguf [--draft-exit E] [--reps N]\n"
    "\n"
    "Times speculation's passes on MODEL's shapes (random weights are fine: the output is\n"
    "not used): a full-depth one-token pass, a draft pass through blocks 1..E and the draft\n"
    "head (default E: the model's first exit), and verification passes of 1..8 columns;\n"
    "the median of N repetitions (default 5) each. Then, for acceptance rates 0.5..0.9, the\n"
    "draft count k with the best speedup T(a,k) * full / (k * draft + verify(k+1)), where\n"
    "T(a,k) = (1 - a^(k+1)) / (1 - a) tokens per cycle.\n";

enum { MAX_REPS = 101, WIDTHS = LVK_MAX_BATCH };

typedef struct timed {
    double full, draft, verify[WIDTHS + 1]; /* verify[n]: n columns */
} timed;

/* Runs `what` (0 full, 1 draft, n + 1 verify of n columns) reps times; the median in ms. */
static lvk_status time_pass(gpu_session *s, int what, int reps, int pos, double *out) {
    double t[MAX_REPS];
    const int32_t tokens[LVK_MAX_BATCH] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (int r = 0; r < reps; r++) {
        gpu_step step;
        gpu_decision d[LVK_MAX_BATCH];
        double t0 = now_s();
        if (what == 0) LVK_TRY(gpu_session_decode(s, tokens[0], pos, &step));
        else if (what == 1) LVK_TRY(gpu_session_draft(s, tokens[0], pos, 0, 1.0f, d));
        else LVK_TRY(gpu_session_verify(s, tokens, what - 1, what - 2, pos, d));
        t[r] = (now_s() - t0) * 1e3; /* ms */
    }
    *out = bench_median(t, reps);
    return LVK_OK;
}

static lvk_status measure(const char *path, int draft_exit, int reps, int *E, timed *out) {
    vk_device *dev = NULL;
    host_model *hm = NULL;
    gpu_model *gm = NULL;
    gpu_session *s = NULL;
    lvk_status st = vk_device_create(&dev, getenv("LITEVK_DEVICE"), 0);
    if (st == LVK_OK) st = host_model_open(path, &hm);
    if (st == LVK_OK) st = gpu_model_upload(dev, hm, NULL, NULL, &gm);
    if (st == LVK_OK) {
        const int n_layers = hm->hp.n_layers;
        *E = draft_exit ? draft_exit : (n_layers / 4 > 1 ? n_layers / 4 : 1);
        lvk_exit_config c = {.n_exits = 1, .layers = {*E}, .thresholds = {1.0f}, .decode = LVK_DECODE_SPECULATE,
                             .draft_exit = *E, .draft_max = LVK_MAX_DRAFTS, .draft_threshold = 1.0f};
        st = lvk_exit_config_validate(&c, n_layers);
        if (st == LVK_OK) st = gpu_session_create(gm, &hm->hp, 64, &c, &s);
    }
    const int pos = 16; /* attention over a short context, as in a chat's first reply */
    if (st == LVK_OK) st = time_pass(s, 0, reps, pos, &out->full);
    if (st == LVK_OK) st = time_pass(s, 1, reps, pos, &out->draft);
    for (int n = 1; st == LVK_OK && n <= WIDTHS; n++) st = time_pass(s, n + 1, reps, pos, &out->verify[n]);
    gpu_session_free(s);
    gpu_model_free(gm);
    host_model_free(hm);
    vk_device_free(dev);
    return st;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    int draft_exit = 0, reps = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--draft-exit") && i + 1 < argc) {
            draft_exit = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
            reps = atoi(argv[++i]);
            if (reps < 1 || reps > MAX_REPS) {
                fprintf(stderr, "litevk-verify-cost: --reps takes 1..%d\n", MAX_REPS);
                return 2;
            }
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            fprintf(stderr, "litevk-verify-cost: unexpected '%s'\n%s", argv[i], usage);
            return 2;
        }
    }
    if (!path) {
        fputs(usage, stderr);
        return 2;
    }
    timed t;
    int E;
    if (measure(path, draft_exit, reps, &E, &t) != LVK_OK) {
        fprintf(stderr, "litevk-verify-cost: %s\n", lvk_last_error());
        return 1;
    }
    printf("%s, draft exit after block %d, median of %d\n", path, E, reps);
    printf("full-depth pass, 1 token   %9.3f ms\n", t.full);
    printf("draft pass (blocks 1..%d)   %9.3f ms   %.3f of a full pass\n", E, t.draft, t.draft / t.full);
    for (int n = 1; n <= WIDTHS; n++)
        printf("verify, %d column%s         %9.3f ms   %.3f of a full pass\n", n, n > 1 ? "s" : " ", t.verify[n],
               t.verify[n] / t.full);
    printf("\nacceptance  best k  tokens/cycle  speedup   (T = (1-a^(k+1))/(1-a); speedup = T*full/(k*draft+verify(k+1)))\n");
    for (int i = 5; i <= 9; i++) {
        double a = i / 10.0, best = 0, best_t = 0;
        int best_k = 0;
        for (int k = 1; k <= LVK_MAX_DRAFTS; k++) {
            double tokens = 0, p = 1;
            for (int j = 0; j <= k; j++) tokens += p, p *= a;
            double speedup = tokens * t.full / (k * t.draft + t.verify[k + 1]);
            if (speedup > best) best = speedup, best_k = k, best_t = tokens;
        }
        printf("%10.1f  %6d  %12.2f  %7.3fx\n", a, best_k, best_t, best);
    }
    return 0;
}
