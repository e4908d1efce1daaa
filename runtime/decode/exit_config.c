/* exit_config.c — early-exit configurations: checking, parsing, defaults, and
 * the litevk.* keys of a GGUF file. */
#include "alloc.h"
#include "decode/exit_config.h"
#include "formats/gguf_write.h"
#include "model/model.h"
#include "status.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* How an exit runs and how skipped blocks' K/V are filled, unless the caller
 * says otherwise. A GGUF stores only layers and thresholds, so these complete
 * every configuration read from a file; lvk_model_load then puts in the
 * device's own defaults (gpu_tuning_for). */
#define DEFAULT_EXIT_MODE LVK_EXIT_FENCE
#define DEFAULT_KV_FILL LVK_KV_DEFERRED

#define KEY_LAYERS "litevk.exit_layers"
#define KEY_THRESHOLDS "litevk.exit_thresholds"
#define KEY_DRAFT_EXIT "litevk.speculate.exit"
#define KEY_DRAFT_THRESHOLD "litevk.speculate.threshold"
#define KEY_DRAFT_MAX "litevk.speculate.max"
#define KEY_PREFIX "litevk."
#define KEY_CALIBRATION_PREFIX "litevk.calibration."

/* Indexed by the enum values. */
static const char *const mode_names[] = {"fence", "gpu"};
static const char *const fill_names[] = {"propagate", "deferred", "none"};
#define N_MODES (int)(sizeof mode_names / sizeof mode_names[0])
#define N_FILLS (int)(sizeof fill_names / sizeof fill_names[0])

/* ---- checking and parsing ------------------------------------------------------ */

lvk_status lvk_exit_config_validate(const lvk_exit_config *c, int n_layers) {
    if (!c) return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_exit_config_validate: NULL configuration");
    if (n_layers < 1)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "a model with %d blocks cannot have exits", n_layers);
    if (c->n_exits < 0 || c->n_exits > LVK_MAX_EXITS)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "%d exits is outside 0..%d", c->n_exits,
                        LVK_MAX_EXITS);
    if (c->n_exits > 0 && n_layers == 1)
        return status_fail(LVK_ERR_INVALID_ARGUMENT,
                        "the model has a single block, so there is no room for an exit "
                        "(exits go after blocks 1..n_layers-1)");
    for (int i = 0; i < c->n_exits; i++) {
        int l = c->layers[i];
        if (l == n_layers)
            return status_fail(LVK_ERR_INVALID_ARGUMENT,
                            "exit layer %d is the last block, whose head is the final one, not an "
                            "exit; exits go after blocks 1..%d",
                            l, n_layers - 1);
        if (l < 1 || l > n_layers)
            return status_fail(LVK_ERR_INVALID_ARGUMENT,
                            "exit layer %d is outside 1..%d (the model has %d blocks; exits go "
                            "after blocks 1..%d)",
                            l, n_layers - 1, n_layers, n_layers - 1);
        /* duplicates first: "8,12,8" is better reported as a repeat than as disorder */
        for (int j = 0; j < i; j++)
            if (c->layers[j] == l)
                return status_fail(LVK_ERR_INVALID_ARGUMENT,
                                "exit layer %d is duplicated; a block has at most one exit", l);
        if (i > 0 && l < c->layers[i - 1])
            return status_fail(LVK_ERR_INVALID_ARGUMENT,
                            "exit layers are unsorted: %d comes after %d; list them in ascending "
                            "order",
                            l, c->layers[i - 1]);
        float t = c->thresholds[i];
        if (!(t >= 0.0f && t <= 1.0f)) /* NaN fails both */
            return status_fail(LVK_ERR_INVALID_ARGUMENT,
                            "threshold %g of the exit after block %d is outside 0..1 (0 always "
                            "exits, 1 never does)",
                            t, l);
    }
    if ((int)c->mode < 0 || (int)c->mode >= N_MODES)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "exit mode %d is outside 0..%d (fence, gpu)",
                        (int)c->mode, N_MODES - 1);
    if ((int)c->kv_fill < 0 || (int)c->kv_fill >= N_FILLS)
        return status_fail(LVK_ERR_INVALID_ARGUMENT,
                        "KV fill %d is outside 0..%d (propagate, deferred, none)", (int)c->kv_fill,
                        N_FILLS - 1);
    if (c->decode != LVK_DECODE_EXIT && c->decode != LVK_DECODE_SPECULATE)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "decode strategy %d is neither exit (0) nor speculate (1)",
                        (int)c->decode);
    if (c->decode == LVK_DECODE_SPECULATE) {
        if (c->n_exits == 0)
            return status_fail(LVK_ERR_INVALID_ARGUMENT,
                            "speculation drafts with an exit head, and the configuration has no exits");
        int found = 0;
        for (int i = 0; i < c->n_exits; i++) found |= c->layers[i] == c->draft_exit;
        if (!found) {
            char list[8 * LVK_MAX_EXITS];
            size_t n = 0;
            for (int i = 0; i < c->n_exits && n < sizeof list; i++)
                n += (size_t)snprintf(list + n, sizeof list - n, "%s%d", i ? "," : "", c->layers[i]);
            return status_fail(LVK_ERR_INVALID_ARGUMENT, "draft exit %d is not an exit block; the exits are after blocks %s",
                            c->draft_exit, list);
        }
        if (c->draft_max < 1 || c->draft_max > LVK_MAX_DRAFTS)
            return status_fail(LVK_ERR_INVALID_ARGUMENT, "draft maximum %d is outside 1..%d", c->draft_max,
                            LVK_MAX_DRAFTS);
        if (!(c->draft_threshold >= 0.0f && c->draft_threshold <= 1.0f))
            return status_fail(LVK_ERR_INVALID_ARGUMENT,
                            "draft threshold %g is outside 0..1 (0 drafts draft-max tokens every cycle, 1 none)",
                            c->draft_threshold);
    }
    return LVK_OK;
}

/* Parses a comma-separated list of numbers, spaces allowed around each, into
 * out[0..LVK_MAX_EXITS-1]; *n receives how many there are, even past
 * LVK_MAX_EXITS, so that the caller can report the count. Empty (or blank)
 * text is an empty list; an empty item or trailing junk is an error. */
static lvk_status parse_list(const char *text, const char *what, int integers, double *out, int *n) {
    const char *p = text;
    *n = 0;
    while (isspace((unsigned char)*p)) p++;
    if (!*p) return LVK_OK;
    for (;;) {
        while (isspace((unsigned char)*p)) p++;
        if (*p == ',' || !*p)
            return status_fail(LVK_ERR_INVALID_ARGUMENT, "%s '%s' has an empty item", what, text);
        size_t item_len = strcspn(p, ",");
        char *end;
        errno = 0;
        double v = integers ? (double)strtol(p, &end, 10) : strtod(p, &end);
        const char *rest = end;
        while (isspace((unsigned char)*rest)) rest++;
        if (end == p || (*rest != ',' && *rest))
            return status_fail(LVK_ERR_INVALID_ARGUMENT, "'%.*s' in %s '%s' is not %s", (int)item_len,
                            p, what, text, integers ? "an integer" : "a number");
        if (integers && (errno == ERANGE || v < INT_MIN || v > INT_MAX))
            return status_fail(LVK_ERR_INVALID_ARGUMENT, "'%.*s' in %s '%s' is out of range",
                            (int)item_len, p, what, text);
        if (*n < LVK_MAX_EXITS) out[*n] = v;
        (*n)++;
        if (!*rest) return LVK_OK;
        p = rest + 1;
    }
}

lvk_status lvk_exit_config_parse(lvk_exit_config *config, int n_layers, const char *layers,
                                 const char *thresholds) {
    if (!config)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_exit_config_parse: NULL configuration");
    lvk_exit_config c = *config;
    double v[LVK_MAX_EXITS];
    int n;
    if (layers) {
        LVK_TRY(parse_list(layers, "exit layers", 1, v, &n));
        if (n > LVK_MAX_EXITS)
            return status_fail(LVK_ERR_INVALID_ARGUMENT, "%d exit layers in '%s'; at most %d are allowed",
                            n, layers, LVK_MAX_EXITS);
        c.n_exits = n;
        int keeps_draft_exit = 0;
        for (int i = 0; i < n; i++) {
            c.layers[i] = (int)v[i];
            c.thresholds[i] = 1.0f; /* never exit until given a threshold */
            keeps_draft_exit |= c.layers[i] == c.draft_exit;
        }
        if (!keeps_draft_exit) c.draft_exit = n > 0 ? c.layers[0] : 0; /* the default: the first exit */
    }
    if (thresholds) {
        LVK_TRY(parse_list(thresholds, "thresholds", 0, v, &n));
        if (n != c.n_exits)
            return status_fail(LVK_ERR_INVALID_ARGUMENT, "%d threshold%s for %d exit layer%s", n,
                            n == 1 ? "" : "s", c.n_exits, c.n_exits == 1 ? "" : "s");
        for (int i = 0; i < n; i++) c.thresholds[i] = (float)v[i];
    }
    LVK_TRY(lvk_exit_config_validate(&c, n_layers));
    *config = c;
    return LVK_OK;
}

/* Index of `text` in names[0..n-1], or -1 with the error set. */
static int find_name(const char *text, const char *what, const char *const *names, int n) {
    if (!text) {
        status_fail(LVK_ERR_INVALID_ARGUMENT, "parsing the %s: NULL text", what);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (!strcmp(text, names[i])) return i;
    char choices[128];
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(choices + len, sizeof choices - len, "%s%s", i ? ", " : "", names[i]);
    status_fail(LVK_ERR_INVALID_ARGUMENT, "%s '%.64s' is unknown; choose one of: %s", what, text,
             choices);
    return -1;
}

lvk_status lvk_exit_mode_parse(const char *text, lvk_exit_mode *out) {
    if (!out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_exit_mode_parse: NULL output");
    int i = find_name(text, "exit mode", mode_names, N_MODES);
    if (i < 0) return LVK_ERR_INVALID_ARGUMENT;
    *out = (lvk_exit_mode)i;
    return LVK_OK;
}

lvk_status lvk_kv_fill_parse(const char *text, lvk_kv_fill *out) {
    if (!out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_kv_fill_parse: NULL output");
    int i = find_name(text, "KV fill", fill_names, N_FILLS);
    if (i < 0) return LVK_ERR_INVALID_ARGUMENT;
    *out = (lvk_kv_fill)i;
    return LVK_OK;
}

const char *lvk_exit_mode_name(lvk_exit_mode mode) {
    return (int)mode >= 0 && (int)mode < N_MODES ? mode_names[mode] : "unknown";
}

const char *lvk_kv_fill_name(lvk_kv_fill fill) {
    return (int)fill >= 0 && (int)fill < N_FILLS ? fill_names[fill] : "unknown";
}

/* ---- defaults and GGUF metadata ------------------------------------------------- */

lvk_exit_config exit_config_default(int n_layers) {
    lvk_exit_config c = {.mode = DEFAULT_EXIT_MODE,
                         .kv_fill = DEFAULT_KV_FILL,
                         .decode = LVK_DECODE_EXIT,
                         .draft_max = LVK_DEFAULT_DRAFT_MAX,
                         .draft_threshold = LVK_DEFAULT_DRAFT_THRESHOLD};
    int first = n_layers / 4 > 1 ? n_layers / 4 : 1;
    for (int l = first; l < n_layers && c.n_exits < LVK_MAX_EXITS; l += 4) {
        c.layers[c.n_exits] = l;
        c.thresholds[c.n_exits++] = 1.0f;
    }
    c.draft_exit = c.n_exits > 0 ? c.layers[0] : 0;
    return c;
}

/* The litevk.speculate.* keys over c's defaults; each is optional. */
static lvk_status draft_from_gguf(const gguf_file *f, int n_layers, lvk_exit_config *c) {
    uint32_t draft_exit = (uint32_t)c->draft_exit, draft_max = (uint32_t)c->draft_max;
    LVK_TRY(gguf_get_u32(f, KEY_DRAFT_EXIT, &draft_exit, LVK_OK));
    LVK_TRY(gguf_get_u32(f, KEY_DRAFT_MAX, &draft_max, LVK_OK));
    LVK_TRY(gguf_get_f32(f, KEY_DRAFT_THRESHOLD, &c->draft_threshold, LVK_OK));
    c->draft_exit = draft_exit > INT_MAX ? -1 : (int)draft_exit;
    c->draft_max = draft_max > INT_MAX ? -1 : (int)draft_max;
    if (!gguf_find(f, KEY_DRAFT_EXIT) && !gguf_find(f, KEY_DRAFT_MAX) && !gguf_find(f, KEY_DRAFT_THRESHOLD))
        return LVK_OK;
    lvk_exit_config speculating = *c; /* the keys are checked as speculation would use them */
    speculating.decode = LVK_DECODE_SPECULATE;
    if (lvk_exit_config_validate(&speculating, n_layers) != LVK_OK)
        return status_fail_prefix(LVK_ERR_FORMAT, "metadata 'litevk.speculate.*'");
    return LVK_OK;
}

/* "array of int32" or "uint32" for messages about a value's type. */
static void describe_type(const gguf_value *v, char *out, size_t size) {
    if (v->type == GGUF_ARRAY)
        snprintf(out, size, "array of %s", gguf_value_type_name(v->arr_type));
    else
        snprintf(out, size, "%s", gguf_value_type_name(v->type));
}

lvk_status exit_config_from_gguf(const gguf_file *f, int n_layers, lvk_exit_config *out,
                                 int *calibrated) {
    if (!f || !out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "exit_config_from_gguf: NULL argument");
    const gguf_kv *lk = gguf_find(f, KEY_LAYERS), *tk = gguf_find(f, KEY_THRESHOLDS);
    if (!lk && !tk) {
        lvk_exit_config c = exit_config_default(n_layers);
        LVK_TRY(draft_from_gguf(f, n_layers, &c));
        *out = c;
        if (calibrated) *calibrated = 0;
        return LVK_OK;
    }
    if (!lk || !tk)
        return status_fail(LVK_ERR_FORMAT, "metadata '%s' is present without '%s'; recalibrate the model",
                        lk ? KEY_LAYERS : KEY_THRESHOLDS, lk ? KEY_THRESHOLDS : KEY_LAYERS);
    const gguf_value *lv = &lk->value, *tv = &tk->value;
    char type[64];
    if (lv->type != GGUF_ARRAY || !gguf_is_integer_type(lv->arr_type)) {
        describe_type(lv, type, sizeof type);
        return status_fail(LVK_ERR_FORMAT, "metadata '%s' should be an array of integers, is %s",
                        KEY_LAYERS, type);
    }
    if (tv->type != GGUF_ARRAY || tv->arr_type != GGUF_FLOAT32) {
        describe_type(tv, type, sizeof type);
        return status_fail(LVK_ERR_FORMAT, "metadata '%s' should be an array of float32, is %s",
                        KEY_THRESHOLDS, type);
    }
    if (lv->arr_count > LVK_MAX_EXITS)
        return status_fail(LVK_ERR_FORMAT, "metadata '%s' lists %llu exits; at most %d are allowed",
                        KEY_LAYERS, (unsigned long long)lv->arr_count, LVK_MAX_EXITS);
    if (tv->arr_count != lv->arr_count)
        return status_fail(LVK_ERR_FORMAT, "metadata '%s' has %llu thresholds for %llu exit layers",
                        KEY_THRESHOLDS, (unsigned long long)tv->arr_count,
                        (unsigned long long)lv->arr_count);
    lvk_exit_config c = exit_config_default(n_layers);
    c.n_exits = (int)lv->arr_count;
    for (int i = 0; i < c.n_exits; i++) {
        double l = gguf_arr_num(lv, (uint64_t)i);
        if (l < INT_MIN || l > INT_MAX)
            return status_fail(LVK_ERR_FORMAT, "metadata '%s' entry %d (%.0f) is not a block number",
                            KEY_LAYERS, i, l);
        c.layers[i] = (int)l;
        c.thresholds[i] = 1.0f;
    }
    /* the layers on their own first, so that the message names the key at fault */
    if (lvk_exit_config_validate(&c, n_layers) != LVK_OK)
        return status_fail_prefix(LVK_ERR_FORMAT, "metadata '%s'", KEY_LAYERS);
    for (int i = 0; i < c.n_exits; i++) c.thresholds[i] = (float)gguf_arr_num(tv, (uint64_t)i);
    if (lvk_exit_config_validate(&c, n_layers) != LVK_OK)
        return status_fail_prefix(LVK_ERR_FORMAT, "metadata '%s'", KEY_THRESHOLDS);
    c.draft_exit = c.n_exits > 0 ? c.layers[0] : 0;
    LVK_TRY(draft_from_gguf(f, n_layers, &c));
    *out = c;
    if (calibrated) *calibrated = 1;
    return LVK_OK;
}

static lvk_status check_calibration(const exit_calibration *cal) {
    if (!cal->rule || (strcmp(cal->rule, "lite") && strcmp(cal->rule, "agreement")))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "calibration rule '%s' is unknown; it is lite or agreement",
                        cal->rule ? cal->rule : "(null)");
    if (!strcmp(cal->rule, "agreement") && !(cal->target > 0.0f && cal->target <= 1.0f))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "agreement target %g is outside (0, 1]",
                        cal->target);
    if (!memchr(cal->prompts_hash, 0, sizeof cal->prompts_hash) || !memchr(cal->date, 0, sizeof cal->date))
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "calibration prompts hash or date is not a terminated string");
    return LVK_OK;
}

static lvk_status add_exit_keys(gguf_writer *w, const lvk_exit_config *cfg,
                                const exit_calibration *cal) {
    int32_t layers[LVK_MAX_EXITS];
    for (int i = 0; i < cfg->n_exits; i++) layers[i] = cfg->layers[i];
    LVK_TRY(gguf_writer_add_i32_arr(w, KEY_LAYERS, layers, (uint64_t)cfg->n_exits));
    LVK_TRY(gguf_writer_add_f32_arr(w, KEY_THRESHOLDS, cfg->thresholds, (uint64_t)cfg->n_exits));
    lvk_exit_config speculating = *cfg;
    speculating.decode = LVK_DECODE_SPECULATE;
    if (lvk_exit_config_validate(&speculating, INT_MAX) == LVK_OK) { /* draft settings that can be used */
        LVK_TRY(gguf_writer_add_u32(w, KEY_DRAFT_EXIT, (uint32_t)cfg->draft_exit));
        LVK_TRY(gguf_writer_add_f32(w, KEY_DRAFT_THRESHOLD, cfg->draft_threshold));
        LVK_TRY(gguf_writer_add_u32(w, KEY_DRAFT_MAX, (uint32_t)cfg->draft_max));
    }
    if (!cal) return LVK_OK;
    LVK_TRY(gguf_writer_add_str(w, "litevk.calibration.rule", cal->rule));
    if (!strcmp(cal->rule, "agreement"))
        LVK_TRY(gguf_writer_add_f32(w, "litevk.calibration.target", cal->target));
    LVK_TRY(gguf_writer_add_str(w, "litevk.calibration.prompts_hash", cal->prompts_hash));
    LVK_TRY(gguf_writer_add_u32(w, "litevk.calibration.tokens", cal->tokens));
    return gguf_writer_add_str(w, "litevk.calibration.date", cal->date);
}

/* NUL-terminated copy of a key or tensor name as the reader holds it. */
static lvk_status dup_str(gguf_str s, char **out) {
    *out = strndup(s.ptr, (size_t)s.len);
    return *out ? LVK_OK : status_fail(LVK_ERR_OUT_OF_MEMORY, "out of memory copying the model");
}

static int has_prefix(gguf_str key, const char *prefix) {
    size_t n = strlen(prefix);
    return key.len >= n && !memcmp(key.ptr, prefix, n);
}

/* Every key but the litevk.* ones, then every tensor (its data referenced in
 * the mapping, so nothing is loaded until the writer streams it out). The
 * calibration record of f stays when `keep_record`. */
static lvk_status copy_model(const gguf_file *f, gguf_writer *w, const lvk_exit_config *cfg,
                             const exit_calibration *cal, int keep_record) {
    for (uint64_t i = 0; i < f->n_kv; i++) {
        gguf_str key = f->kv[i].key;
        if (has_prefix(key, KEY_PREFIX) && !(keep_record && has_prefix(key, KEY_CALIBRATION_PREFIX))) continue;
        char *k;
        LVK_TRY(dup_str(key, &k));
        lvk_status s = gguf_writer_add_value(w, k, &f->kv[i].value);
        mem_free(k);
        LVK_TRY(s);
    }
    LVK_TRY(add_exit_keys(w, cfg, cal));
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        char *name;
        LVK_TRY(dup_str(t->name, &name));
        lvk_status s = gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data);
        mem_free(name);
        LVK_TRY(s);
    }
    return LVK_OK;
}

/* Whether two paths name one file; dst need not exist yet. */
static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (!strcmp(a, b)) return 1;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

lvk_status exit_config_write_gguf(const char *src_path, const char *dst_path,
                                  const lvk_exit_config *cfg, const exit_calibration *cal) {
    if (!src_path || !dst_path || !cfg)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "exit_config_write_gguf: NULL argument");
    if (same_file(src_path, dst_path))
        return status_fail(LVK_ERR_INVALID_ARGUMENT,
                        "'%s' is the model being read; write the calibrated model to another path",
                        dst_path);
    if (cal) LVK_TRY(check_calibration(cal));
    gguf_file *f;
    LVK_TRY(gguf_open(src_path, &f));
    gguf_writer *w = NULL;
    int n_layers = 0;
    lvk_status s = block_count_from_gguf(f, &n_layers);
    if (s == LVK_OK && lvk_exit_config_validate(cfg, n_layers) != LVK_OK)
        s = status_fail_prefix(LVK_ERR_INVALID_ARGUMENT, "exits for '%s'", src_path);
    /* without a new record, the old one stays if it still describes the exits (new draft settings only) */
    lvk_exit_config old;
    int keep_record = !cal && s == LVK_OK && exit_config_from_gguf(f, n_layers, &old, NULL) == LVK_OK &&
                      old.n_exits == cfg->n_exits &&
                      !memcmp(old.layers, cfg->layers, (size_t)cfg->n_exits * sizeof *cfg->layers) &&
                      !memcmp(old.thresholds, cfg->thresholds, (size_t)cfg->n_exits * sizeof *cfg->thresholds);
    if (s == LVK_OK) s = gguf_writer_create(&w);
    if (s == LVK_OK) s = copy_model(f, w, cfg, cal, keep_record);
    if (s == LVK_OK) s = gguf_writer_write(w, dst_path);
    gguf_writer_free(w);
    gguf_close(f);
    return s;
}
