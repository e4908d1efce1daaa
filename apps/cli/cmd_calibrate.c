/* cmd_calibrate.c — `litevk calibrate`: measure a threshold per exit on a
 * prompt set and write them into a copy of the model. */
#include "cli.h"
#include "exit_options.h"
#include "progress.h"
#include "prompts.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char help[] =
    "usage: litevk calibrate [-m MODEL] --prompts FILE -o OUT.gguf [options]\n"
    "\n"
    "Generates greedily after every prompt of FILE with every exit head evaluated and none\n"
    "taken (full depth). At each token it notes, per exit, the head's confidence (top softmax\n"
    "probability) and whether its token is the final block's. From those it sets a threshold\n"
    "per exit, prints them, and writes MODEL with them (litevk.* metadata) to OUT.gguf, which\n"
    "`litevk run` and `litevk bench` then use.\n"
    "\n"
    "With --speculate it calibrates self-speculative decoding instead: it generates greedily\n"
    "after every prompt at full depth, then with speculation for every draft exit (the\n"
    "model's exits), draft threshold (0, 0.25, 0.5, 0.75) and draft maximum (2, 4, 7),\n"
    "timing each; prints tokens/s, speedup, acceptance and tokens per cycle for every one,\n"
    "and writes the fastest as litevk.speculate.exit/threshold/max (the exits and their\n"
    "thresholds are kept as they are).\n"
    "\n"
    CLI_MODEL_HELP
    "      --prompts FILE   JSONL, one object per line with a \"prompt\", \"instruction\" (+\n"
    "                       \"input\") or \"text\" string, or an Alpaca JSON array; instruction\n"
    "                       records get the Alpaca template\n"
    "  -o, --output PATH    the calibrated model to write (not MODEL itself)\n"
    "      --rule lite|agreement\n"
    "                       lite (default): LITE's rule, the mean confidence of the tokens whose\n"
    "                       exit token is the final block's; agreement: the smallest threshold\n"
    "                       at which the tokens that would exit agree with the final block at\n"
    "                       least --target of the time\n"
    "      --target A       the agreement --rule agreement aims for, in (0,1] (default 0.95)\n"
    "  -n, --n-predict N    tokens to generate per prompt (default 64); stops early at end of text\n"
    "      --exit-layers L,...  the exits to calibrate (default: the model's)\n"
    "  -c, --ctx-size N     context length (default: the model's, at most 4096)\n"
    "      --device D       Vulkan device index or name substring (see `litevk devices`)\n"
    "      --speculate      calibrate speculation (above) instead of the exit thresholds\n"
    "  -h, --help           this text\n";

typedef struct calibrate_options {
    const char *model, *prompts, *output, *device;
    lvk_calibration_rule rule;
    double target;
    int target_given, speculate;
    long n_predict, n_ctx;
    exit_options exits;
} calibrate_options;

static int parse(int argc, char **argv, calibrate_options *o) {
    *o = (calibrate_options){.rule = LVK_CALIBRATE_LITE, .target = 0.95, .n_predict = 64, .exits.all_heads = 1};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
#define VALUE() if (!(v = cli_value(argc, argv, &i))) return 2
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(help, stdout); return -1; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VALUE(); o->model = v; }
        else if (!strcmp(a, "--prompts")) { VALUE(); o->prompts = v; }
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) { VALUE(); o->output = v; }
        else if (!strcmp(a, "--device")) { VALUE(); o->device = v; }
        else if (!strcmp(a, "--exit-layers")) { VALUE(); o->exits.layers = v; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { VALUE(); if (cli_int(a, v, 1, 1 << 20, &o->n_predict)) return 2; }
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) { VALUE(); if (cli_int(a, v, 0, 1 << 24, &o->n_ctx)) return 2; }
        else if (!strcmp(a, "--target")) { VALUE(); if (cli_float(a, v, 1e-6, 1, &o->target)) return 2; o->target_given = 1; }
        else if (!strcmp(a, "--speculate")) o->speculate = 1;
        else if (!strcmp(a, "--rule")) {
            VALUE();
            if (!strcmp(v, "lite")) o->rule = LVK_CALIBRATE_LITE;
            else if (!strcmp(v, "agreement")) o->rule = LVK_CALIBRATE_AGREEMENT;
            else return cli_usage_error("calibrate", "--rule takes lite or agreement, not '%s'", v);
        }
        else return cli_usage_error("calibrate", "unknown option '%s'", a);
#undef VALUE
    }
    if (!o->prompts || !o->output) return cli_usage_error("calibrate", "needs --prompts FILE and -o OUT.gguf");
    if (o->target_given && o->rule != LVK_CALIBRATE_AGREEMENT)
        return cli_usage_error("calibrate", "--target applies to --rule agreement only");
    if (o->speculate && (o->target_given || o->rule != LVK_CALIBRATE_LITE || o->exits.layers))
        return cli_usage_error("calibrate", "--speculate drafts with the model's exits: it takes no --rule, --target "
                                            "or --exit-layers");
    o->exits.all_heads = !o->speculate; /* speculation is timed with the exits as they are */
    if (!o->model) o->model = cli_default_model();
    struct stat in, out;
    if (!strcmp(o->model, o->output) ||
        (stat(o->model, &in) == 0 && stat(o->output, &out) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino))
        return cli_usage_error("calibrate", "-o %s is the model being read; write the calibrated copy elsewhere",
                               o->output);
    return 0;
}

/* Generates up to n_predict tokens greedily after the prompt, observing every
 * token. LVK_ERR_CONTEXT_FULL means the prompt itself does not fit; a context
 * that fills up during generation just ends it. */
static lvk_status calibrate_prompt(lvk_session *s, const char *prompt, long n_predict, lvk_calibrator *calibrator) {
    LVK_TRY(lvk_session_reset(s));
    LVK_TRY(lvk_session_feed_ex(s, prompt, LVK_TOKENIZE_ADD_SPECIAL));
    for (long t = 0; t < n_predict; t++) {
        lvk_token_info tok;
        lvk_status st = lvk_session_step(s, &tok);
        if (st == LVK_ERR_CONTEXT_FULL) break;
        LVK_TRY(st);
        LVK_TRY(lvk_calibrator_observe(calibrator, s));
        if (tok.is_eog) break;
    }
    return LVK_OK;
}

static void print_table(const lvk_exit_config *cfg, const lvk_exit_calibration *res) {
    printf("exit after block   tokens   agree with final   threshold   would exit\n");
    for (int k = 0; k < cfg->n_exits; k++)
        printf("%16d %8llu %16.1f %% %11.4f %10.1f %%\n", cfg->layers[k], (unsigned long long)res[k].tokens,
               100 * res[k].agreement, res[k].threshold, 100 * res[k].exit_share);
}

/* One configuration's speed and acceptance over the prompts. */
typedef struct spec_run {
    long tokens;
    double ms;
    uint64_t cycles, drafted, accepted;
} spec_run;

/* Greedy generation after every prompt with cfg, timed; prompts that do not fit are left out. */
static lvk_status time_decoding(lvk_session *s, const lvk_exit_config *cfg, const lvk_prompt_set *prompts, long n_predict,
                                spec_run *out) {
    memset(out, 0, sizeof *out);
    LVK_TRY(lvk_session_set_exits(s, cfg));
    for (int i = 0; i < lvk_prompt_set_count(prompts); i++) {
        LVK_TRY(lvk_session_reset(s));
        lvk_status st = lvk_session_feed_ex(s, lvk_prompt_set_text(prompts, i), LVK_TOKENIZE_ADD_SPECIAL);
        if (st == LVK_ERR_CONTEXT_FULL) continue;
        LVK_TRY(st);
        LVK_TRY(lvk_session_stats_reset(s));
        double t0 = cli_now_ms();
        for (long t = 0; t < n_predict; t++) {
            lvk_token_info tok;
            st = lvk_session_step(s, &tok);
            if (st == LVK_ERR_CONTEXT_FULL) break;
            LVK_TRY(st);
            out->tokens++;
            if (tok.is_eog) break;
        }
        out->ms += cli_now_ms() - t0;
        lvk_session_stats stats;
        LVK_TRY(lvk_session_stats_get(s, &stats));
        out->cycles += stats.cycles, out->drafted += stats.drafted, out->accepted += stats.accepted;
    }
    return LVK_OK;
}

/* --speculate: every draft exit, threshold and maximum on the prompts, timed
 * against full depth; the fastest goes into cfg. Returns 0 or a status for main. */
static int calibrate_speculation(lvk_session *s, lvk_exit_config *cfg, const lvk_prompt_set *prompts, long n_predict) {
    static const float thresholds[] = {0.0f, 0.25f, 0.5f, 0.75f};
    static const int maxima[] = {2, 4, 7};
    lvk_exit_config full = *cfg;
    full.n_exits = 0;
    full.decode = LVK_DECODE_EXIT;
    spec_run base, run;
    if (time_decoding(s, &full, prompts, n_predict, &base) != LVK_OK) return cli_error("%s", lvk_last_error());
    if (!base.tokens) return cli_error("no prompt fits the context");
    const double base_tps = base.tokens / (base.ms / 1e3);
    printf("full depth: %.1f tokens/s over %ld tokens\n\n", base_tps, base.tokens);
    printf("draft exit   threshold   max   tokens/s   speedup   acceptance   tokens/cycle\n");
    double best_tps = 0;
    lvk_exit_config best = *cfg;
    progress bar;
    const int n_configs = cfg->n_exits * (int)(sizeof thresholds / sizeof thresholds[0]) * (int)(sizeof maxima / sizeof maxima[0]);
    progress_start(&bar, "calibrate", n_configs);
    int done = 0;
    for (int e = 0; e < cfg->n_exits; e++)
        for (size_t t = 0; t < sizeof thresholds / sizeof thresholds[0]; t++)
            for (size_t m = 0; m < sizeof maxima / sizeof maxima[0]; m++) {
                lvk_exit_config c = *cfg;
                c.decode = LVK_DECODE_SPECULATE;
                c.draft_exit = cfg->layers[e];
                c.draft_threshold = thresholds[t];
                c.draft_max = maxima[m];
                if (time_decoding(s, &c, prompts, n_predict, &run) != LVK_OK) {
                    progress_clear(&bar);
                    return cli_error("%s", lvk_last_error());
                }
                progress_show(&bar, ++done, (uint64_t)run.tokens);
                progress_clear(&bar);
                double tps = run.tokens / (run.ms / 1e3);
                printf("%10d %11.2f %5d %10.1f %8.3fx %11.1f%% %14.2f\n", c.draft_exit, c.draft_threshold, c.draft_max,
                       tps, tps / base_tps, run.drafted ? 100.0 * run.accepted / run.drafted : 0.0,
                       run.cycles ? (double)(run.accepted + run.cycles) / run.cycles : 0.0);
                fflush(stdout);
                if (tps > best_tps) best_tps = tps, best = c;
            }
    progress_end(&bar);
    printf("\nfastest: draft exit %d, threshold %.2f, max %d: %.1f tokens/s, %.3fx full depth\n", best.draft_exit,
           best.draft_threshold, best.draft_max, best_tps, best_tps / base_tps);
    fflush(stdout); /* before the stderr line that follows, when both go to one file */
    cfg->draft_exit = best.draft_exit;
    cfg->draft_threshold = best.draft_threshold;
    cfg->draft_max = best.draft_max;
    return 0;
}

int cmd_calibrate_check(int argc, char **argv) {
    calibrate_options o;
    return parse(argc, argv, &o);
}

int cmd_calibrate(int argc, char **argv) {
    calibrate_options o;
    int r = parse(argc, argv, &o);
    if (r) return r < 0 ? 0 : r;

    /* the prompts first: a bad file is reported before the model loads */
    lvk_prompt_set *prompts;
    if (prompts_load(o.prompts, &prompts)) return 1;
    const int n_prompts = lvk_prompt_set_count(prompts);

    lvk_context *ctx = NULL;
    lvk_model *model = NULL;
    lvk_session *session = NULL;
    lvk_calibrator *calibrator = NULL;
    lvk_exit_config cfg;
    int status = cli_load_model(o.device, o.model, 1, &ctx, &model);
    if (!status) status = exit_options_config(&o.exits, model, "calibrate", &cfg);
    if (status) goto done;
    status = 1;
    if (cfg.n_exits == 0) {
        cli_error("%s has no exits to calibrate (too few blocks)", o.model);
        goto done;
    }
    lvk_session_params sp = lvk_session_default_params();
    sp.n_ctx = (int)o.n_ctx;
    sp.temperature = 0; /* greedy: the text full depth would write */
    sp.exits = &cfg;
    if (lvk_session_create(model, &sp, &session) != LVK_OK) {
        cli_error("%s", lvk_last_error());
        goto done;
    }
    if (o.speculate) {
        if ((status = calibrate_speculation(session, &cfg, prompts, o.n_predict))) goto done;
        status = 1;
        cfg.decode = LVK_DECODE_EXIT; /* what the file says about exits stays; its draft settings are new */
        if (lvk_write_calibrated_copy(o.model, o.output, &cfg, NULL) != LVK_OK) {
            cli_error("%s", lvk_last_error());
            goto done;
        }
        fprintf(stderr, "litevk: wrote %s: litevk.speculate.exit %d, threshold %.2f, max %d\n", o.output,
                cfg.draft_exit, cfg.draft_threshold, cfg.draft_max);
        status = 0;
        goto done;
    }
    long per_prompt = o.n_predict < lvk_session_n_ctx(session) ? o.n_predict : lvk_session_n_ctx(session);
    if (lvk_calibrator_create(&cfg, &calibrator) != LVK_OK) {
        cli_error("%s", lvk_last_error());
        goto done;
    }

    progress bar;
    int used = 0;
    progress_start(&bar, "calibrate", n_prompts);
    for (int i = 0; i < n_prompts; i++) {
        lvk_status s = calibrate_prompt(session, lvk_prompt_set_text(prompts, i), per_prompt, calibrator);
        if (s != LVK_OK) progress_clear(&bar);
        if (s == LVK_ERR_CONTEXT_FULL) {
            fprintf(stderr, "litevk: skipping prompt %d: %s\n", i + 1, lvk_last_error());
        } else if (s != LVK_OK) {
            cli_error("prompt %d: %s", i + 1, lvk_last_error());
            goto done;
        } else {
            used++;
        }
        progress_show(&bar, i + 1, lvk_calibrator_tokens(calibrator));
    }
    progress_end(&bar);
    const uint64_t n_tokens = lvk_calibrator_tokens(calibrator);
    if (n_tokens == 0) {
        cli_error("no tokens to calibrate on: no prompt of %s fits the context", o.prompts);
        goto done;
    }

    lvk_exit_calibration res[LVK_MAX_EXITS];
    if (lvk_calibrator_thresholds(calibrator, o.rule, o.target, res) != LVK_OK) {
        cli_error("%s", lvk_last_error());
        goto done;
    }
    for (int k = 0; k < cfg.n_exits; k++) cfg.thresholds[k] = res[k].threshold;
    print_table(&cfg, res);
    fflush(stdout); /* the table before the stderr lines below, when both go to one file */

    lvk_calibration_record record = {.rule = o.rule,
                                     .target = (float)o.target,
                                     .prompts_hash = lvk_prompt_set_hash(prompts),
                                     .tokens = (uint32_t)n_tokens,
                                     .date = ""}; /* today's */
    if (lvk_write_calibrated_copy(o.model, o.output, &cfg, &record) != LVK_OK) {
        cli_error("%s", lvk_last_error());
        goto done;
    }
    fprintf(stderr, "litevk: wrote %s: %s rule, %llu tokens from %d of %d prompts\n", o.output,
            o.rule == LVK_CALIBRATE_LITE ? "lite" : "agreement", (unsigned long long)n_tokens, used, n_prompts);
    status = 0;
done:
    lvk_calibrator_free(calibrator);
    lvk_session_free(session);
    lvk_model_free(model);
    lvk_context_free(ctx);
    lvk_prompt_set_free(prompts);
    return status;
}
