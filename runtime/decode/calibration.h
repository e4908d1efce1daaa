/* calibration.h — choosing an exit's threshold from what its head said on a
 * calibration text (pure arithmetic; the tokens are gathered elsewhere, with
 * every exit head run at threshold 1).
 */
#ifndef LVK_CALIBRATION_H
#define LVK_CALIBRATION_H

#include "litevk.h"

#include <stddef.h>
#include <stdint.h>

/* One exit's threshold from n tokens' confidences (top probability of the
 * exit head) and whether its argmax agreed with the final block's (non-zero).
 * The rules and the result are litevk.h's (lvk_calibration_rule,
 * lvk_exit_calibration).
 *   LVK_CALIBRATE_LITE: the mean confidence of the agreeing tokens, 1 if none agree;
 *     target is ignored.
 *   LVK_CALIBRATE_AGREEMENT: a token exits when its confidence is > the threshold; the
 *     threshold is the smallest t in {0} and the confidences whose exiting
 *     tokens (at least one) agree at a rate >= target, in (0, 1]; 1 if none.
 * Confidences must lie in [0, 1]. */
lvk_status calibration_threshold(lvk_calibration_rule rule, double target, const float *confidence,
                                 const uint8_t *agrees, size_t n, lvk_exit_calibration *out);

/* FNV-1a 64 of n bytes, continuing from h (start with FNV1A64_INIT): the
 * litevk.calibration.prompts_hash of a prompts file. */
#define FNV1A64_INIT 0xcbf29ce484222325ull
uint64_t fnv1a64(const void *data, size_t n, uint64_t h);

#endif
