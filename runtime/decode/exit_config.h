/* exit_config.h — early-exit configurations: defaults, and the litevk.* keys
 * of a GGUF file (read, and written into a copy of the file).
 *
 * The public half (validate, parse, mode and KV-fill names) is declared in
 * litevk.h.
 */
#ifndef LVK_EXIT_CONFIG_H
#define LVK_EXIT_CONFIG_H

#include "formats/gguf.h"

#include <stddef.h>
#include <stdint.h>

/* Exits after every 4th block from max(1, n_layers/4), the last block
 * excluded (32 blocks: 8,12,...,28), thresholds 1 (never exit), the default
 * mode and KV fill. A 1-block model gets no exits. */
lvk_exit_config exit_config_default(int n_layers);

/* The configuration in f's litevk.exit_layers / litevk.exit_thresholds.
 * Both absent: the defaults and *calibrated = 0 (calibrated may be NULL).
 * Present: *calibrated = 1. A wrong type, a count mismatch, one key without
 * the other, or a configuration that fails validation is LVK_ERR_FORMAT
 * naming the key. Mode and KV fill are the defaults. */
lvk_status exit_config_from_gguf(const gguf_file *f, int n_layers, lvk_exit_config *out,
                                 int *calibrated);

/* How the thresholds were measured, for the litevk.calibration.* keys. */
typedef struct exit_calibration {
    const char *rule;      /* "lite" or "agreement" */
    float target;          /* agreement rule only: the agreement asked for, in (0, 1] */
    char prompts_hash[17]; /* fnv1a64 of the prompts file, 16 hex digits */
    uint32_t tokens;       /* tokens the thresholds were measured on */
    char date[16];         /* ISO 8601, "2025-01-31" */
} exit_calibration;

/* Copies the GGUF at src_path to dst_path with cfg as its litevk.exit_* and
 * litevk.speculate.* keys (the latter when cfg's draft settings are usable)
 * and cal as its litevk.calibration.* keys (NULL: none, unless cfg has src's
 * exits and thresholds, when src's record stays). Every other metadata key
 * and every tensor is copied unchanged; the litevk.* keys src already had are
 * replaced. dst_path must be another file (src is mapped while dst is
 * written). */
lvk_status exit_config_write_gguf(const char *src_path, const char *dst_path,
                                  const lvk_exit_config *cfg, const exit_calibration *cal);

#endif
