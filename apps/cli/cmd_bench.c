/* cmd_bench.c — `litevk bench`: early exit against full depth on a prompt
 * set, in one run: speed, cost and how much the output changes. */
#include "cli.h"
#include "exit_options.h"
#include "json_write.h"
#include "progress.h"
#include "prompts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help_head[] =
    "usage: litevk bench [-m MODEL] --prompts FILE [options]\n"
    "\n"
    "For every prompt of FILE, generates greedily three times on one session:\n"
    "  1. at full depth (no exit heads), timing the decode;\n"
    "  2. with the early-exit configuration, timing the decode and counting blocks and bytes,\n"
    "     then again in the other exit mode (fence/gpu), timing only: both are reported;\n"
    "  3. teacher-forced: feeding the full-depth output back token by token, counting the\n"
    "     positions where early exit chooses the same token;\n"
    "  4. with --speculate, self-speculative decoding too: timed, teacher-forced like 3, its\n"
    "     cycles counted, and timed again in the other exit mode (LITE exit then uses the\n"
    "     exits' own thresholds).\n"
    "Then prints, over all prompts:\n"
    "  decode tokens/s at full depth and with early exit, and their ratio (speedup);\n"
    "  blocks run per token and the blocks skipped (LITE's cost reduction: 1 - blocks run /\n"
    "  (tokens x blocks)); weight bytes read relative to full depth (exit heads and K/V fill\n"
    "  included); agreement (share of teacher-forced positions that match); ROUGE-L F1 of the\n"
    "  early-exit output against the full-depth one, over token ids (mean over prompts); the\n"
    "  length ratio (early-exit tokens / full-depth tokens); and how many tokens exited after\n"
    "  each block. Timings cover the decode steps only, not the prompt.\n"
    "\n"
    CLI_MODEL_HELP
    "      --prompts FILE   JSONL, one object per line with a \"prompt\", \"instruction\" (+\n"
    "                       \"input\") or \"text\" string, or an Alpaca JSON array; instruction\n"
    "                       records get the Alpaca template\n"
    "  -n, --n-predict N    tokens to generate per prompt and mode (default 64); stops early at\n"
    "                       end of text\n"
    "  -c, --ctx-size N     context length (default: the model's, at most 4096); prompts that\n"
    "                       do not fit are skipped\n"
    "      --device D       Vulkan device index or name substring (see `litevk devices`)\n"
    "      --json           print one JSON object instead of the table:\n"
    "                       {\"prompts\":N,\"tokens\":N,\"full\":{\"tokens_per_s\":x,...},\n"
    "                       \"exit\":{...},\"speedup\":x,\"avg_blocks_per_token\":x,\n"
    "                       \"blocks_skipped_pct\":x,\"bytes_ratio\":x,\"agreement\":x,\"rouge_l\":x,\n"
    "                       \"length_ratio\":x,\"histogram\":{\"<block>\":count,...},...}\n"
    "                       (tokens: early-exit decode passes, the ones the cost figures count);\n"
    "                       with --speculate also \"speculate\":{\"tokens_per_s\":x,\"speedup\":x,\n"
    "                       \"agreement\":x,\"acceptance\":x,\"tokens_per_cycle\":x,\"draft_exit\":N,...,\n"
    "                       \"modes\":{\"fence\":{\"tokens_per_s\":x},\"gpu\":{...}}}\n"
    "                       (speedup against full depth in the same run; acceptance: accepted\n"
    "                       drafts / drafts)\n"
    "  -h, --help           this text\n"
    "\n";

typedef struct bench_options {
    const char *model, *prompts, *device;
    long n_predict, n_ctx;
    int json;
    exit_options exits;
} bench_options;

static int parse(int argc, char **argv, bench_options *o) {
    *o = (bench_options){.n_predict = 64};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        int taken = exit_options_arg(&o->exits, "bench", argc, argv, &i);
        if (taken < 0) return 2;
        if (taken) continue;
#define VALUE() if (!(v = cli_value(argc, argv, &i))) return 2
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(help_head, stdout); fputs(exit_options_help, stdout); return -1; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VALUE(); o->model = v; }
        else if (!strcmp(a, "--prompts")) { VALUE(); o->prompts = v; }
        else if (!strcmp(a, "--device")) { VALUE(); o->device = v; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { VALUE(); if (cli_int(a, v, 1, 1 << 20, &o->n_predict)) return 2; }
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) { VALUE(); if (cli_int(a, v, 0, 1 << 24, &o->n_ctx)) return 2; }
        else if (!strcmp(a, "--json")) o->json = 1;
        else return cli_usage_error("bench", "unknown option '%s'", a);
#undef VALUE
    }
    if (!o->prompts) return cli_usage_error("bench", "needs --prompts FILE");
    if (!o->model) o->model = cli_default_model();
    return 0;
}

/* One greedy generation after a prompt. */
typedef struct generation {
    int32_t *ids;   /* the output, end of text not included */
    int n;
    long passes;    /* decode passes, the one that chose end of text included */
    long blocks;    /* blocks those passes ran */
    double ms;      /* wall clock of the decode steps */
} generation;

/* Totals over the prompts: the library's, and what only the CLI reports. */
typedef struct totals {
    lvk_bench_totals sum;
    int skipped;           /* prompts too long for the context */
    long mode_mismatches;  /* prompts where the two modes' outputs differ (a bug if ever > 0) */
} totals;

/* The exit point (index into cfg's exits; n_exits: full depth) of a token chosen after block `layer`. */
static int exit_point(const lvk_exit_config *cfg, int layer) {
    int k = 0;
    while (k < cfg->n_exits && cfg->layers[k] != layer) k++;
    return k;
}

/* Feeds the prompt into the emptied session and generates greedily up to
 * `capacity` tokens into *g, counting passes per exit point of cfg into
 * exits_taken (when not NULL). LVK_ERR_CONTEXT_FULL means the prompt does not
 * fit; a context that fills up during generation just ends it. */
static lvk_status generate(lvk_session *s, const char *prompt, int capacity, generation *g, const lvk_exit_config *cfg,
                           uint64_t *exits_taken) {
    g->n = 0;
    g->passes = g->blocks = 0;
    LVK_TRY(lvk_session_reset(s));
    LVK_TRY(lvk_session_feed_ex(s, prompt, LVK_TOKENIZE_ADD_SPECIAL));
    LVK_TRY(lvk_session_stats_reset(s));
    double t0 = cli_now_ms();
    while (g->passes < capacity) {
        lvk_token_info t;
        lvk_status st = lvk_session_step(s, &t);
        if (st == LVK_ERR_CONTEXT_FULL) break;
        LVK_TRY(st);
        g->passes++;
        g->blocks += t.layer;
        if (exits_taken) exits_taken[exit_point(cfg, t.layer)]++;
        if (t.is_eog) break;
        g->ids[g->n++] = t.id;
    }
    g->ms = cli_now_ms() - t0;
    return LVK_OK;
}

/* Teacher forcing: feeds the full-depth output back one token at a time and
 * counts (into *forced and *agreed) the positions where the session's own
 * choice is that token. */
static lvk_status agreement(lvk_session *s, const char *prompt, const generation *full, uint64_t *forced,
                            uint64_t *agreed) {
    LVK_TRY(lvk_session_reset(s));
    LVK_TRY(lvk_session_feed_ex(s, prompt, LVK_TOKENIZE_ADD_SPECIAL));
    for (int i = 0; i < full->n; i++) {
        lvk_token_info t;
        lvk_status st = lvk_session_step_forced(s, full->ids[i], &t);
        if (st == LVK_ERR_CONTEXT_FULL) break;
        LVK_TRY(st);
        (*forced)++;
        *agreed += t.id == full->ids[i];
    }
    return LVK_OK;
}

/* Adds a generation's decode steps to a run's. */
static void add_decode(lvk_bench_decode *d, const generation *g) {
    d->tokens += (uint64_t)g->n;
    d->passes += (uint64_t)g->passes;
    d->ms += g->ms;
}

/* Run 4: speculation (spec), timed and teacher-forced, then timed in the other
 * exit mode, added to sum->speculate. */
static lvk_status bench_speculation(lvk_session *s, const char *prompt, const lvk_exit_config *exit_cfg,
                                    const lvk_exit_config *spec, const generation *full, generation *out,
                                    int capacity, lvk_bench_totals *sum) {
    LVK_TRY(lvk_session_set_exits(s, spec));
    LVK_TRY(generate(s, prompt, capacity, out, NULL, NULL));
    lvk_session_stats stats;
    LVK_TRY(lvk_session_stats_get(s, &stats));
    LVK_TRY(agreement(s, prompt, full, &sum->speculate.forced, &sum->speculate.agreed));
    lvk_exit_config other_mode = *spec;
    other_mode.mode = spec->mode == LVK_EXIT_FENCE ? LVK_EXIT_GPU : LVK_EXIT_FENCE;
    LVK_TRY(lvk_session_set_exits(s, &other_mode));
    generation other = *out; /* its tokens overwrite *out's, which are counted already */
    LVK_TRY(generate(s, prompt, capacity, &other, NULL, NULL));
    add_decode(&sum->speculate.other_mode, &other);
    LVK_TRY(lvk_session_set_exits(s, exit_cfg));
    add_decode(&sum->speculate.run, out);
    sum->speculate.cycles += stats.cycles;
    sum->speculate.drafted += stats.drafted;
    sum->speculate.accepted += stats.accepted;
    sum->speculate.weight_bytes += stats.weight_bytes;
    sum->speculate.full_depth_bytes += stats.full_depth_bytes;
    return LVK_OK;
}

/* The three runs for one prompt (four with spec), added to *tot. */
static lvk_status bench_prompt(lvk_session *s, const char *prompt, const lvk_exit_config *cfg,
                               const lvk_exit_config *spec, generation *full, generation *early, int32_t *other_ids,
                               int capacity, totals *tot) {
    lvk_bench_totals *sum = &tot->sum;
    lvk_exit_config full_depth = *cfg;
    full_depth.n_exits = 0;
    LVK_TRY(lvk_session_set_exits(s, &full_depth));
    LVK_TRY(generate(s, prompt, capacity, full, NULL, NULL));
    LVK_TRY(lvk_session_set_exits(s, cfg));
    LVK_TRY(generate(s, prompt, capacity, early, cfg, sum->exits_taken));
    lvk_session_stats stats; /* of the early-exit run: generate reset them after the prompt */
    LVK_TRY(lvk_session_stats_get(s, &stats));
    lvk_exit_config other_mode = *cfg;
    other_mode.mode = cfg->mode == LVK_EXIT_FENCE ? LVK_EXIT_GPU : LVK_EXIT_FENCE;
    generation other = {other_ids, 0, 0, 0, 0};
    LVK_TRY(lvk_session_set_exits(s, &other_mode));
    LVK_TRY(generate(s, prompt, capacity, &other, NULL, NULL));
    LVK_TRY(lvk_session_set_exits(s, cfg));
    tot->mode_mismatches += other.n != early->n || memcmp(other.ids, early->ids, sizeof *other.ids * (size_t)early->n);
    add_decode(&sum->exit_other_mode, &other);
    LVK_TRY(agreement(s, prompt, full, &sum->forced, &sum->agreed));
    if (spec) {
        generation speculated = {other_ids, 0, 0, 0, 0};
        LVK_TRY(bench_speculation(s, prompt, cfg, spec, full, &speculated, capacity, sum));
    }
    double rouge;
    LVK_TRY(lvk_rouge_l_f1(full->ids, full->n, early->ids, early->n, &rouge));

    sum->prompts++;
    add_decode(&sum->full, full);
    add_decode(&sum->exit, early);
    sum->exit_blocks += (uint64_t)early->blocks;
    sum->weight_bytes += stats.weight_bytes;
    sum->full_depth_bytes += stats.full_depth_bytes;
    sum->rouge_l_sum += rouge;
    return LVK_OK;
}

/* The block after which exit point k (k = n_exits: full depth) leaves. */
static int point_layer(const lvk_exit_config *cfg, int k, int n_layers) {
    return k < cfg->n_exits ? cfg->layers[k] : n_layers;
}

/* uint64_t for printf's %llu */
#define ULL(x) ((unsigned long long)(x))

static void print_json(const bench_options *o, const lvk_model_info *info, const lvk_device_info *dev,
                       const lvk_exit_config *cfg, const lvk_exit_config *spec, const totals *tot,
                       const lvk_bench_metrics *f) {
    const lvk_bench_totals *t = &tot->sum;
    printf("{\"model\":");
    json_write_string(stdout, info->name);
    printf(",\"device\":");
    json_write_string(stdout, dev->name);
    printf(",\"n_layers\":%d,\"exit_layers\":[", info->n_layers);
    for (int k = 0; k < cfg->n_exits; k++) printf("%s%d", k ? "," : "", cfg->layers[k]);
    printf("],\"thresholds\":[");
    for (int k = 0; k < cfg->n_exits; k++) printf("%s%.4f", k ? "," : "", cfg->thresholds[k]);
    printf("],\"mode\":\"%s\",\"kv_fill\":\"%s\",\"n_predict\":%ld,", lvk_exit_mode_name(cfg->mode),
           lvk_kv_fill_name(cfg->kv_fill), o->n_predict);
    printf("\"prompts\":%d,\"skipped\":%d,\"tokens\":%llu,", t->prompts, tot->skipped, ULL(t->exit.passes));
    printf("\"full\":{\"tokens\":%llu,\"passes\":%llu,\"seconds\":%.4f,\"tokens_per_s\":%.2f},", ULL(t->full.tokens),
           ULL(t->full.passes), t->full.ms / 1e3, f->full_tokens_per_s);
    printf("\"exit\":{\"tokens\":%llu,\"passes\":%llu,\"seconds\":%.4f,\"tokens_per_s\":%.2f},", ULL(t->exit.tokens),
           ULL(t->exit.passes), t->exit.ms / 1e3, f->exit_tokens_per_s);
    const char *other = cfg->mode == LVK_EXIT_FENCE ? "gpu" : "fence";
    printf("\"modes\":{\"%s\":{\"tokens_per_s\":%.2f},\"%s\":{\"tokens_per_s\":%.2f}},\"mode_mismatches\":%ld,",
           lvk_exit_mode_name(cfg->mode), f->exit_tokens_per_s, other, f->exit_other_mode_tokens_per_s,
           tot->mode_mismatches);
    printf("\"speedup\":%.4f,\"avg_blocks_per_token\":%.4f,\"blocks_skipped_pct\":%.2f,\"bytes_ratio\":%.4f,",
           f->speedup, f->blocks_per_token, f->blocks_skipped_pct, f->bytes_ratio);
    printf("\"agreement\":%.4f,\"forced_tokens\":%llu,\"rouge_l\":%.4f,\"length_ratio\":%.4f,\"histogram\":{",
           f->agreement, ULL(t->forced), f->rouge_l, f->length_ratio);
    for (int k = 0; k <= cfg->n_exits; k++)
        printf("%s\"%d\":%llu", k ? "," : "", point_layer(cfg, k, info->n_layers), ULL(t->exits_taken[k]));
    printf("}");
    if (spec)
        printf(",\"speculate\":{\"tokens_per_s\":%.2f,\"speedup\":%.4f,\"agreement\":%.4f,\"acceptance\":%.4f,"
               "\"tokens_per_cycle\":%.4f,\"draft_exit\":%d,\"draft_max\":%d,\"draft_threshold\":%.4f,"
               "\"tokens\":%llu,\"cycles\":%llu,\"drafted\":%llu,\"accepted\":%llu,\"bytes_ratio\":%.4f,"
               "\"modes\":{\"%s\":{\"tokens_per_s\":%.2f},\"%s\":{\"tokens_per_s\":%.2f}}}",
               f->speculate_tokens_per_s, f->speculate_speedup, f->speculate_agreement, f->acceptance,
               f->tokens_per_cycle, spec->draft_exit, spec->draft_max, spec->draft_threshold,
               ULL(t->speculate.run.tokens), ULL(t->speculate.cycles), ULL(t->speculate.drafted),
               ULL(t->speculate.accepted), f->speculate_bytes_ratio, lvk_exit_mode_name(spec->mode),
               f->speculate_tokens_per_s, spec->mode == LVK_EXIT_FENCE ? "gpu" : "fence",
               f->speculate_other_mode_tokens_per_s);
    printf("}\n");
}

static void print_table(const bench_options *o, const lvk_model_info *info, const lvk_device_info *dev,
                        const lvk_exit_config *cfg, const lvk_exit_config *spec, const totals *tot,
                        const lvk_bench_metrics *f) {
    const lvk_bench_totals *t = &tot->sum;
    printf("model             %s (%d blocks) on %s\n", info->name[0] ? info->name : o->model, info->n_layers,
           dev->name);
    printf("prompts           %d from %s, up to %ld tokens each", t->prompts, o->prompts, o->n_predict);
    if (tot->skipped) printf(" (%d skipped: too long for the context)", tot->skipped);
    printf("\nexits             ");
    if (!cfg->n_exits) printf("none");
    for (int k = 0; k < cfg->n_exits; k++) printf("%s%d", k ? ", " : "after blocks ", cfg->layers[k]);
    for (int k = 0; k < cfg->n_exits; k++) printf("%s%.4g", k ? ", " : " with thresholds ", cfg->thresholds[k]);
    printf("\n                  mode %s, K/V fill %s\n\n", lvk_exit_mode_name(cfg->mode), lvk_kv_fill_name(cfg->kv_fill));
    printf("                     full depth   early exit\n");
    printf("tokens generated     %10llu   %10llu   length ratio %.3f\n", ULL(t->full.tokens), ULL(t->exit.tokens),
           f->length_ratio);
    printf("decode tokens/s      %10.1f   %10.1f   speedup %.3fx\n", f->full_tokens_per_s, f->exit_tokens_per_s,
           f->speedup);
    printf("  in the other mode               %10.1f   (%s mode, same exits%s)\n", f->exit_other_mode_tokens_per_s,
           cfg->mode == LVK_EXIT_FENCE ? "gpu" : "fence",
           tot->mode_mismatches ? "; OUTPUTS DIFFER: a bug, please report it" : ", same tokens");
    printf("blocks per token     %10.2f   %10.2f   %.1f%% of blocks skipped\n", (double)info->n_layers,
           f->blocks_per_token, f->blocks_skipped_pct);
    printf("weight bytes read    %10.3f   %10.3f   relative to full depth (exit heads, K/V fill included)\n\n",
           1.0, f->bytes_ratio);
    printf("agreement            %.1f%% of %llu teacher-forced tokens match full depth\n", 100 * f->agreement,
           ULL(t->forced));
    printf("ROUGE-L F1           %.4f (early exit against full depth, token ids, mean over prompts)\n", f->rouge_l);
    printf("exits taken          ");
    for (int k = 0; k <= cfg->n_exits; k++)
        printf("%sblock %d%s: %llu (%.1f%%)", k ? ", " : "", point_layer(cfg, k, info->n_layers),
               k == cfg->n_exits ? " (full depth)" : "", ULL(t->exits_taken[k]), 100 * f->exit_share[k]);
    printf("\n");
    if (!spec) return;
    printf("\nspeculation         draft exit after block %d, up to %d drafts while confidence > %.4g\n",
           spec->draft_exit, spec->draft_max, spec->draft_threshold);
    printf("decode tokens/s      %10.1f   speedup %.3fx over full depth (%s mode)\n", f->speculate_tokens_per_s,
           f->speculate_speedup, lvk_exit_mode_name(spec->mode));
    printf("  in the other mode  %10.1f   (%s mode)\n", f->speculate_other_mode_tokens_per_s,
           spec->mode == LVK_EXIT_FENCE ? "gpu" : "fence");
    printf("acceptance           %.1f%% of %llu drafts; %.2f tokens per cycle (%llu cycles)\n", 100 * f->acceptance,
           ULL(t->speculate.drafted), f->tokens_per_cycle, ULL(t->speculate.cycles));
    printf("weight bytes read    %10.3f   relative to full depth (drafts and verification)\n", f->speculate_bytes_ratio);
    printf("agreement            %.1f%% of %llu teacher-forced tokens match full depth%s\n",
           100 * f->speculate_agreement, ULL(t->speculate.forced),
           t->speculate.agreed == t->speculate.forced ? "" : ": NOT ALL: a bug, please report it");
}

int cmd_bench_check(int argc, char **argv) {
    bench_options o;
    return parse(argc, argv, &o);
}

int cmd_bench(int argc, char **argv) {
    bench_options o;
    int r = parse(argc, argv, &o);
    if (r) return r < 0 ? 0 : r;

    /* the prompts first: a bad file is reported before the model loads */
    lvk_prompt_set *prompts;
    if (prompts_load(o.prompts, &prompts)) return 1;
    const int n_prompts = lvk_prompt_set_count(prompts);

    lvk_context *ctx = NULL;
    lvk_model *model = NULL;
    lvk_session *session = NULL;
    generation full = {0}, early = {0};
    int32_t *other_ids = NULL;
    totals tot = {0};
    lvk_exit_config cfg;
    int status = cli_load_model(o.device, o.model, !o.json, &ctx, &model);
    if (!status) status = exit_options_config(&o.exits, model, "bench", &cfg);
    if (status) goto done;
    lvk_exit_config spec = cfg; /* --speculate: runs 1-3 use LITE exit with the same exits */
    cfg.decode = LVK_DECODE_EXIT;
    status = 1;
    lvk_model_info info;
    lvk_device_info dev;
    lvk_model_get_info(model, &info);
    lvk_context_device(ctx, &dev);
    lvk_session_params sp = lvk_session_default_params();
    sp.n_ctx = (int)o.n_ctx;
    sp.temperature = 0; /* greedy: agreement and ROUGE-L compare deterministic outputs */
    sp.exits = &cfg;
    if (lvk_session_create(model, &sp, &session) != LVK_OK) {
        cli_error("%s", lvk_last_error());
        goto done;
    }
    int capacity = (int)(o.n_predict < lvk_session_n_ctx(session) ? o.n_predict : lvk_session_n_ctx(session));
    full.ids = malloc(sizeof *full.ids * (size_t)capacity);
    early.ids = malloc(sizeof *early.ids * (size_t)capacity);
    other_ids = malloc(sizeof *other_ids * (size_t)capacity);
    if (!full.ids || !early.ids || !other_ids) {
        cli_error("out of memory");
        goto done;
    }

    progress bar;
    progress_start(&bar, "bench", n_prompts);
    for (int i = 0; i < n_prompts; i++) {
        lvk_status s = bench_prompt(session, lvk_prompt_set_text(prompts, i), &cfg, o.exits.speculate ? &spec : NULL, &full, &early,
                                    other_ids, capacity, &tot);
        if (s != LVK_OK) progress_clear(&bar);
        if (s == LVK_ERR_CONTEXT_FULL) {
            fprintf(stderr, "litevk: skipping prompt %d: %s\n", i + 1, lvk_last_error());
            tot.skipped++;
        } else if (s != LVK_OK) {
            cli_error("prompt %d: %s", i + 1, lvk_last_error());
            goto done;
        }
        const lvk_bench_totals *t = &tot.sum;
        progress_show(&bar, i + 1, t->full.passes + t->exit.passes + t->exit_other_mode.passes + t->forced +
                                       t->speculate.run.passes + t->speculate.forced + t->speculate.other_mode.passes);
    }
    progress_end(&bar);
    if (!tot.sum.prompts) {
        cli_error("no prompt of %s fits the context (%d tokens)", o.prompts, lvk_session_n_ctx(session));
        goto done;
    }
    lvk_bench_metrics f;
    if (lvk_bench_metrics_compute(&tot.sum, info.n_layers, cfg.n_exits, &f) != LVK_OK) {
        cli_error("%s", lvk_last_error());
        goto done;
    }
    const lvk_exit_config *speculated = o.exits.speculate ? &spec : NULL;
    if (o.json) print_json(&o, &info, &dev, &cfg, speculated, &tot, &f);
    else print_table(&o, &info, &dev, &cfg, speculated, &tot, &f);
    status = 0;
done:
    free(full.ids);
    free(early.ids);
    free(other_ids);
    lvk_session_free(session);
    lvk_model_free(model);
    lvk_context_free(ctx);
    lvk_prompt_set_free(prompts);
    return status;
}
