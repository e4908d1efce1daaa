/* exit_options.c — see exit_options.h. */
#include "exit_options.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>

const char exit_options_help[] =
    "early exit (default: the model's calibrated exits from its litevk.* metadata; an\n"
    "uncalibrated model has exits after every 4th block from n_layers/4, threshold 1 = never):\n"
    "      --exit-layers L,...  exit after these blocks (counted from 1, ascending, each below\n"
    "                           the model's block count); exits without --thresholds get 1\n"
    "      --thresholds T,...   one threshold in [0,1] per exit: a token exits there when the exit\n"
    "                           head's top probability is above it (0 = always, 1 = never)\n"
    "      --no-exit            run every token through every block (full depth)\n"
    "      --exit-mode fence|gpu  fence: the host reads each exit decision, one submission per\n"
    "                           exit point; gpu: a kernel zeroes the skipped blocks' dispatches,\n"
    "                           one submission per token (default: chosen for the device)\n"
    "      --kv-fill propagate|deferred|none  K/V of the blocks an exited token skips:\n"
    "                           propagate: computed from the exit hidden state (CALM; approximate);\n"
    "                           deferred: the skipped blocks run with the next token that goes\n"
    "                           deeper (FREE; the same K/V as full depth); none: an ablation that\n"
    "                           leaves skipped blocks' K/V as masked holes, lowering quality\n"
    "                           (default: chosen for the device)\n"
    "self-speculative decoding (the output is exactly full depth's; default: the model's\n"
    "litevk.speculate.* metadata, else the first exit, threshold 0.5, 4 drafts):\n"
    "      --speculate          the exit head after the draft exit drafts tokens while it is\n"
    "                           confident, and one batched pass through the remaining blocks\n"
    "                           verifies them; at --temp > 0, speculative sampling keeps full\n"
    "                           depth's distribution\n"
    "      --draft-exit N       draft with the exit after block N (one of the exit layers)\n"
    "      --draft-max K        draft at most K tokens per cycle, 1..7\n"
    "      --draft-threshold P  keep drafting while the draft head's top probability is above\n"
    "                           P, in [0,1]\n";

int exit_options_arg(exit_options *o, const char *command, int argc, char **argv, int *i) {
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--no-exit")) {
        o->no_exit = 1;
        return 1;
    }
    if (!strcmp(a, "--speculate")) {
        o->speculate = 1;
        return 1;
    }
    if (strcmp(a, "--exit-layers") && strcmp(a, "--thresholds") && strcmp(a, "--exit-mode") && strcmp(a, "--kv-fill") &&
        strcmp(a, "--draft-exit") && strcmp(a, "--draft-max") && strcmp(a, "--draft-threshold"))
        return 0;
    if (!(v = cli_value(argc, argv, i))) return -1;
    if (!strcmp(a, "--draft-exit")) return cli_int(a, v, 1, 1 << 20, &o->draft_exit) ? -1 : 1;
    if (!strcmp(a, "--draft-max")) return cli_int(a, v, 1, LVK_MAX_DRAFTS, &o->draft_max) ? -1 : 1;
    if (!strcmp(a, "--draft-threshold")) {
        o->draft_threshold_given = 1;
        return cli_float(a, v, 0, 1, &o->draft_threshold) ? -1 : 1;
    }
    if (!strcmp(a, "--exit-layers")) o->layers = v;
    else if (!strcmp(a, "--thresholds")) o->thresholds = v;
    /* mode and K/V fill are checked now, so that a typo is reported before the model loads */
    else if (!strcmp(a, "--exit-mode") && lvk_exit_mode_parse(v, &o->mode) == LVK_OK) o->mode_given = 1;
    else if (!strcmp(a, "--kv-fill") && lvk_kv_fill_parse(v, &o->kv_fill) == LVK_OK) o->kv_fill_given = 1;
    else {
        cli_usage_error(command, "%s %s: %s", a, v, lvk_last_error());
        return -1;
    }
    return 1;
}

/* "8,12,16" from cfg's layers. */
static void layer_list(const lvk_exit_config *cfg, char *buf, size_t size) {
    size_t n = 0;
    buf[0] = 0;
    for (int k = 0; k < cfg->n_exits && n < size; k++)
        n += (size_t)snprintf(buf + n, size - n, "%s%d", k ? "," : "", cfg->layers[k]);
}

int exit_options_config(const exit_options *o, const lvk_model *model, const char *command, lvk_exit_config *cfg) {
    lvk_model_info info;
    int calibrated = 0;
    if (lvk_model_exit_config(model, cfg, &calibrated) != LVK_OK || lvk_model_get_info(model, &info) != LVK_OK)
        return cli_error("%s", lvk_last_error());
    if (o->no_exit && (o->layers || o->thresholds))
        return cli_usage_error(command, "--no-exit cannot be combined with --exit-layers or --thresholds");
    int draft_flags = o->draft_exit || o->draft_max || o->draft_threshold_given;
    if (o->no_exit && (o->speculate || draft_flags))
        return cli_usage_error(command, "--no-exit cannot be combined with --speculate: the drafts come from an exit head");
    if (draft_flags && !o->speculate)
        return cli_usage_error(command, "--draft-exit, --draft-max and --draft-threshold need --speculate");
    if (o->no_exit) cfg->n_exits = 0;
    if ((o->layers || o->thresholds) &&
        lvk_exit_config_parse(cfg, info.n_layers, o->layers, o->thresholds) != LVK_OK) {
        char given[256] = "";
        if (o->layers) snprintf(given, sizeof given, "--exit-layers %s", o->layers);
        if (o->thresholds)
            snprintf(given + strlen(given), sizeof given - strlen(given), "%s--thresholds %s", o->layers ? " " : "",
                     o->thresholds);
        return cli_usage_error(command, "%s: %s", given, lvk_last_error());
    }
    if (o->mode_given) cfg->mode = o->mode;
    if (o->kv_fill_given) cfg->kv_fill = o->kv_fill;
    if (o->speculate) {
        cfg->decode = LVK_DECODE_SPECULATE;
        if (o->draft_exit) cfg->draft_exit = (int)o->draft_exit;
        if (o->draft_max) cfg->draft_max = (int)o->draft_max;
        if (o->draft_threshold_given) cfg->draft_threshold = (float)o->draft_threshold;
        if (lvk_exit_config_validate(cfg, info.n_layers) != LVK_OK)
            return cli_usage_error(command, "--speculate: %s", lvk_last_error());
    }
    for (int k = 0; o->all_heads && k < cfg->n_exits; k++) cfg->thresholds[k] = 1.0f;
    cfg->probe_all = o->all_heads;
    if (!calibrated && !o->thresholds && !o->no_exit && !o->all_heads && !o->speculate && cfg->n_exits > 0) {
        char layers[8 * LVK_MAX_EXITS];
        layer_list(cfg, layers, sizeof layers);
        fprintf(stderr,
                "litevk: %s has no calibrated exit thresholds (litevk.* metadata); exits after block%s %s are "
                "off (threshold 1.0) until `litevk calibrate` or --thresholds\n",
                info.name[0] ? info.name : "the model", cfg->n_exits > 1 ? "s" : "", layers);
    }
    return 0;
}
