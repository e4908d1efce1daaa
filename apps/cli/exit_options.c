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
    "                           (default: chosen for the device)\n";

int exit_options_arg(exit_options *o, const char *command, int argc, char **argv, int *i) {
    const char *a = argv[*i], *v;
    if (!strcmp(a, "--no-exit")) {
        o->no_exit = 1;
        return 1;
    }
    if (strcmp(a, "--exit-layers") && strcmp(a, "--thresholds") && strcmp(a, "--exit-mode") && strcmp(a, "--kv-fill"))
        return 0;
    if (!(v = cli_value(argc, argv, i))) return -1;
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
    for (int k = 0; o->all_heads && k < cfg->n_exits; k++) cfg->thresholds[k] = 1.0f;
    cfg->probe_all = o->all_heads;
    if (!calibrated && !o->thresholds && !o->no_exit && !o->all_heads && cfg->n_exits > 0) {
        char layers[8 * LVK_MAX_EXITS];
        layer_list(cfg, layers, sizeof layers);
        fprintf(stderr,
                "litevk: %s has no calibrated exit thresholds (litevk.* metadata); exits after block%s %s are "
                "off (threshold 1.0) until `litevk calibrate` or --thresholds\n",
                info.name[0] ? info.name : "the model", cfg->n_exits > 1 ? "s" : "", layers);
    }
    return 0;
}
