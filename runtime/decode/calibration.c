/* calibration.c — threshold rules for early exits (see calibration.h). */
#include "alloc.h"
#include "decode/calibration.h"
#include "status.h"

#include <stdlib.h>

typedef struct token {
    float confidence;
    uint8_t agrees;
} token;

static int by_confidence(const void *a, const void *b) {
    float x = ((const token *)a)->confidence, y = ((const token *)b)->confidence;
    return (x > y) - (x < y);
}

/* Smallest t in {0} and the confidences such that the tokens with
 * confidence > t are not empty and agree at a rate >= target; 1 if none. */
static lvk_status agreement_threshold(double target, const float *confidence,
                                      const uint8_t *agrees, size_t n, float *out) {
    token *s = mem_malloc(n * sizeof *s);
    if (!s) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory sorting %zu calibration tokens", n);
    uint64_t accepted = n, agreeing = 0;
    for (size_t i = 0; i < n; i++) {
        s[i] = (token){confidence[i], agrees[i] != 0};
        agreeing += s[i].agrees;
    }
    qsort(s, n, sizeof *s, by_confidence);
    /* Raise t through the candidates in ascending order; the accepted set is
     * always the sorted tail from `pos`, so each step only drops its head. */
    float t = 0.0f;
    *out = 1.0f;
    for (size_t pos = 0;;) {
        while (pos < n && s[pos].confidence <= t) {
            agreeing -= s[pos].agrees;
            accepted--;
            pos++;
        }
        if (!accepted) break; /* every higher t accepts nothing too */
        if ((double)agreeing / (double)accepted >= target) {
            *out = t;
            break;
        }
        t = s[pos].confidence; /* the next candidate: the smallest confidence above t */
    }
    mem_free(s);
    return LVK_OK;
}

lvk_status calibration_threshold(lvk_calibration_rule rule, double target, const float *confidence,
                                 const uint8_t *agrees, size_t n, lvk_exit_calibration *out) {
    if (!confidence || !agrees || !out)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "calibration_threshold: NULL argument");
    if (n == 0) return status_fail(LVK_ERR_INVALID_ARGUMENT, "no tokens to calibrate on");
    if (rule != LVK_CALIBRATE_LITE && rule != LVK_CALIBRATE_AGREEMENT)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "calibration rule %d is unknown", (int)rule);
    if (rule == LVK_CALIBRATE_AGREEMENT && !(target > 0.0 && target <= 1.0))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "agreement target %g is outside (0, 1]", target);
    uint64_t n_agree = 0;
    double agree_confidence = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!(confidence[i] >= 0.0f && confidence[i] <= 1.0f))
            return status_fail(LVK_ERR_INVALID_ARGUMENT,
                            "confidence %g of calibration token %zu is outside 0..1", confidence[i], i);
        if (agrees[i]) {
            n_agree++;
            agree_confidence += confidence[i];
        }
    }
    float threshold = 1.0f;
    if (rule == LVK_CALIBRATE_LITE) {
        if (n_agree) threshold = (float)(agree_confidence / (double)n_agree);
    } else {
        LVK_TRY(agreement_threshold(target, confidence, agrees, n, &threshold));
    }
    uint64_t exiting = 0;
    for (size_t i = 0; i < n; i++) exiting += confidence[i] > threshold;
    out->threshold = threshold;
    out->tokens = n;
    out->agreement = (double)n_agree / (double)n;
    out->exit_share = (double)exiting / (double)n;
    return LVK_OK;
}

uint64_t fnv1a64(const void *data, size_t n, uint64_t h) {
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull; /* the 64-bit FNV prime */
    }
    return h;
}
