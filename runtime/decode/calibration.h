/* calibration.h — choosing an exit's threshold from what its head said on a
 * calibration text (pure arithmetic; the tokens are gathered elsewhere, with
 * every exit head run at threshold 1).
 */
#ifndef LVK_CALIBRATION_H
#define LVK_CALIBRATION_H

#include "litevk.h"

#include <stddef.h>
#include <stdint.h>

typedef enum calib_rule {
    CALIB_LITE,      /* LITE: the mean confidence of the tokens the exit got right */
    CALIB_AGREEMENT, /* the lowest threshold whose exited tokens agree at least `target` of the time */
} calib_rule;

typedef struct calib_exit_result {
    float threshold;
    uint64_t tokens;   /* tokens measured */
    double agreement;  /* share of all tokens whose exit argmax is the final block's */
    double exit_share; /* share of tokens with confidence > threshold (earlier exits ignored) */
} calib_exit_result;

/* One exit's threshold from n tokens' confidences (top probability of the
 * exit head) and whether its argmax agreed with the final block's (non-zero).
 *   CALIB_LITE: the mean confidence of the agreeing tokens, 1 if none agree;
 *     target is ignored.
 *   CALIB_AGREEMENT: a token exits when its confidence is > the threshold; the
 *     threshold is the smallest t in {0} and the confidences whose exiting
 *     tokens (at least one) agree at a rate >= target, in (0, 1]; 1 if none.
 * Confidences must lie in [0, 1]. */
lvk_status calibration_threshold(calib_rule rule, double target, const float *confidence,
                                 const uint8_t *agrees, size_t n, calib_exit_result *out);

/* FNV-1a 64 of n bytes, continuing from h (start with FNV1A64_INIT): the
 * litevk.calibration.prompts_hash of a prompts file. */
#define FNV1A64_INIT 0xcbf29ce484222325ull
uint64_t fnv1a64(const void *data, size_t n, uint64_t h);

#endif
