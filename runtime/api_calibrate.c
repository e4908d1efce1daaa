/* api_calibrate.c — the public API's calibration (litevk.h, "calibration"):
 * observations of the exit heads gathered from a session, thresholds chosen
 * from them (decode/calibration.c), and the calibrated copy of a model's file
 * (decode/exit_config.c). */
#include "alloc.h"
#include "decode/calibration.h"
#include "decode/exit_config.h"
#include "status.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

struct lvk_calibrator {
    lvk_exit_config exits;
    /* for exit k, token t: what its head said (calibration_threshold takes one exit's tokens in a row) */
    float *confidence[LVK_MAX_EXITS];
    uint8_t *agrees[LVK_MAX_EXITS]; /* its token is the final block's */
    size_t n, capacity;
};

lvk_status lvk_calibrator_create(const lvk_exit_config *exits, lvk_calibrator **out) {
    if (!exits || !out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_calibrator_create: NULL argument");
    if (exits->n_exits < 1 || exits->n_exits > LVK_MAX_EXITS)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "a calibration needs 1 to %d exits, not %d", LVK_MAX_EXITS,
                           exits->n_exits);
    lvk_calibrator *c = mem_calloc(1, sizeof *c);
    if (!c) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    c->exits = *exits;
    *out = c;
    return LVK_OK;
}

void lvk_calibrator_free(lvk_calibrator *c) {
    if (!c) return;
    for (int k = 0; k < c->exits.n_exits; k++) {
        mem_free(c->confidence[k]);
        mem_free(c->agrees[k]);
    }
    mem_free(c);
}

/* Room for one more token in every exit's arrays, doubling them when full. */
static lvk_status reserve_token(lvk_calibrator *c) {
    if (c->n < c->capacity) return LVK_OK;
    size_t capacity = c->capacity ? 2 * c->capacity : 256;
    for (int k = 0; k < c->exits.n_exits; k++) {
        float *confidence = mem_realloc(c->confidence[k], capacity * sizeof *confidence);
        if (confidence) c->confidence[k] = confidence;
        uint8_t *agrees = mem_realloc(c->agrees[k], capacity);
        if (agrees) c->agrees[k] = agrees;
        if (!confidence || !agrees)
            return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory for %zu tokens' observations", capacity);
    }
    c->capacity = capacity;
    return LVK_OK;
}

lvk_status lvk_calibrator_observe(lvk_calibrator *c, const lvk_session *s) {
    if (!c || !s) return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_calibrator_observe: NULL argument");
    lvk_exit_probe probes[LVK_MAX_EXITS + 1];
    int n;
    LVK_TRY(lvk_session_last_probes(s, probes, LVK_MAX_EXITS + 1, &n));
    const int n_exits = c->exits.n_exits;
    /* thresholds of 1: every exit head runs, then the final block's */
    if (n != n_exits + 1)
        return status_fail(LVK_ERR_STATE, "expected %d exit probes and the final block's, got %d probes", n_exits, n);
    LVK_TRY(reserve_token(c));
    for (int k = 0; k < n_exits; k++) {
        c->confidence[k][c->n] = probes[k].confidence;
        c->agrees[k][c->n] = probes[k].token == probes[n - 1].token;
    }
    c->n++;
    return LVK_OK;
}

uint64_t lvk_calibrator_tokens(const lvk_calibrator *c) { return c ? c->n : 0; }

static lvk_status check_rule(lvk_calibration_rule rule) {
    if (rule != LVK_CALIBRATE_LITE && rule != LVK_CALIBRATE_AGREEMENT)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "calibration rule %d is unknown", (int)rule);
    return LVK_OK;
}

lvk_status lvk_calibrator_thresholds(const lvk_calibrator *c, lvk_calibration_rule rule, double target,
                                     lvk_exit_calibration *out) {
    if (!c || !out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_calibrator_thresholds: NULL argument");
    LVK_TRY(check_rule(rule)); /* before the per-exit loop, so the message names no exit */
    if (c->n == 0) /* no arrays yet, which calibration_threshold would take for a NULL argument */
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "no tokens to calibrate on: nothing was observed");
    for (int k = 0; k < c->exits.n_exits; k++) {
        lvk_status s = calibration_threshold(rule, target, c->confidence[k], c->agrees[k], c->n, &out[k]);
        if (s != LVK_OK) return status_fail_prefix(s, "exit after block %d", c->exits.layers[k]);
    }
    return LVK_OK;
}

lvk_status lvk_write_calibrated_copy(const char *src_path, const char *dst_path, const lvk_exit_config *exits,
                                     const lvk_calibration_record *record) {
    if (!src_path || !dst_path || !exits)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_write_calibrated_copy: NULL argument");
    if (!record) return exit_config_write_gguf(src_path, dst_path, exits, NULL);
    LVK_TRY(check_rule(record->rule));
    exit_calibration cal = {.rule = record->rule == LVK_CALIBRATE_LITE ? "lite" : "agreement",
                            .target = record->target,
                            .tokens = record->tokens};
    snprintf(cal.prompts_hash, sizeof cal.prompts_hash, "%016llx", (unsigned long long)record->prompts_hash);
    if (!memchr(record->date, 0, sizeof record->date))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "the calibration date is not a terminated string");
    if (record->date[0]) {
        memcpy(cal.date, record->date, sizeof cal.date);
    } else {
        time_t now = time(NULL);
        struct tm today;
        strftime(cal.date, sizeof cal.date, "%Y-%m-%d", localtime_r(&now, &today));
    }
    return exit_config_write_gguf(src_path, dst_path, exits, &cal);
}
