/* exit_options.h — the early-exit flags shared by run, bench and calibrate
 * (and the chat app): which exits, their thresholds, how exits are decided
 * and how skipped blocks' K/V are filled. Writes nothing to stdout; errors
 * and the one-line "not calibrated" notice go to stderr. */
#ifndef LVK_CLI_EXIT_OPTIONS_H
#define LVK_CLI_EXIT_OPTIONS_H

#include "litevk.h"

typedef struct exit_options {
    const char *layers;     /* --exit-layers "8,12,16", NULL = the model's */
    const char *thresholds; /* --thresholds "0.9,0.85,0.8", NULL = the model's */
    int no_exit;            /* --no-exit */
    int mode_given, kv_fill_given;
    lvk_exit_mode mode;     /* --exit-mode, when mode_given */
    lvk_kv_fill kv_fill;    /* --kv-fill, when kv_fill_given */
    int speculate;          /* --speculate */
    long draft_exit, draft_max; /* --draft-exit, --draft-max; 0 = the model's */
    int draft_threshold_given;
    double draft_threshold; /* --draft-threshold, when draft_threshold_given */
    /* Set by calibrate, not a flag: every threshold 1, so that every exit head
     * runs and none is taken. */
    int all_heads;
} exit_options;

/* The flags' help lines, for a command's --help. */
extern const char exit_options_help[];

/* If argv[*i] is one of the flags, takes it (and its value: *i advances) and
 * returns 1; returns 0 if it is not one of them, -1 after an error message
 * (missing or unknown value; the command should exit with status 2). */
int exit_options_arg(exit_options *o, const char *command, int argc, char **argv, int *i);

/* The model's exit configuration (its litevk.* metadata, else the defaults)
 * with the flags applied. Returns 0; 2 after a usage error (exit layers or
 * thresholds the model cannot take); 1 after any other error. */
int exit_options_config(const exit_options *o, const lvk_model *model, const char *command, lvk_exit_config *cfg);

#endif
