/* hf_config.c — config.json; see hf_config.h. Keys the conversion does not
 * need are skipped; a key it needs with the wrong kind of value, or values
 * that contradict each other, is an error naming them. */
#include "convert/hf_config.h"

#include "alloc.h"
#include "formats/json.h"
#include "formats/mapped_file.h"
#include "status.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name, *gguf;
    hf_arch arch;
} architectures[] = {
    {"LlamaForCausalLM", "llama", HF_LLAMA},
    {"Qwen2ForCausalLM", "qwen2", HF_QWEN2},
};
enum { N_ARCHITECTURES = sizeof architectures / sizeof architectures[0] };

/* Far above any real model, and small enough that the sizes computed from
 * them cannot overflow. */
#define MAX_SIZE (1 << 24)
#define MAX_COUNT (1 << 16)

/* What the reader collects before the values are checked together. */
typedef struct raw_config {
    char *architecture;
    int64_t hidden_size, intermediate_size, n_layers, n_heads, n_kv_heads, vocab_size, head_dim, context_length;
    int attention_bias, mlp_bias;
    char *rope_type;
    int64_t original_context;
    double factor, low_freq_factor, high_freq_factor;
} raw_config;

/* ---- reading ------------------------------------------------------------------- */

/* An integer member; null leaves *out as it is. */
static int read_integer(json_reader *r, const char *key, int64_t *out) {
    if (json_peek(r) == 'n') return json_skip(r);
    int c = json_peek(r);
    if (c != '-' && (c < '0' || c > '9')) return json_fail(r, "'%s' must be an integer", key);
    return json_integer(r, out);
}

static int read_number(json_reader *r, const char *key, double *out) {
    if (json_peek(r) == 'n') return json_skip(r);
    int c = json_peek(r);
    if (c != '-' && (c < '0' || c > '9')) return json_fail(r, "'%s' must be a number", key);
    return json_number(r, out);
}

static int read_bool(json_reader *r, const char *key, int *out) {
    if (json_peek(r) == 'n') return json_skip(r);
    if (json_peek(r) != 't' && json_peek(r) != 'f') return json_fail(r, "'%s' must be true or false", key);
    return json_bool(r, out);
}

/* A token id: an integer, null, or a list of them (its first counts, as the
 * first of Llama 3.1 Instruct's eos_token_id list is its end of text). */
static int read_token_id(json_reader *r, const char *key, int64_t *out) {
    if (json_peek(r) != '[') return read_integer(r, key, out);
    int count = 0, more;
    while ((more = json_array_next(r, &count)) == 1) {
        int64_t id = -1;
        if (read_integer(r, key, &id)) return -1;
        if (count == 1) *out = id;
    }
    return more;
}

/* "architectures": ["LlamaForCausalLM"]: the first one counts. */
static int read_architectures(json_reader *r, char **out) {
    int count = 0, more;
    if (json_peek(r) != '[') return json_fail(r, "'architectures' must be a list of names");
    while ((more = json_array_next(r, &count)) == 1) {
        if (json_peek(r) != '"') return json_fail(r, "'architectures' must be a list of names");
        if (count > 1) {
            if (json_skip(r)) return -1;
            continue;
        }
        mem_free(*out);
        if (json_string(r, out)) return -1;
    }
    return more;
}

static int read_rope_scaling(json_reader *r, raw_config *c) {
    if (json_peek(r) == 'n') return json_skip(r);
    if (json_peek(r) != '{') return json_fail(r, "'rope_scaling' must be an object or null");
    int count = 0, more;
    char *key;
    while ((more = json_object_next(r, &count, &key)) == 1) {
        int bad;
        if (!strcmp(key, "type") || !strcmp(key, "rope_type")) {
            /* newer files have both; they agree */
            mem_free(c->rope_type);
            c->rope_type = NULL;
            bad = json_peek(r) != '"' ? json_fail(r, "rope_scaling's '%s' must be a string", key)
                                      : json_string(r, &c->rope_type);
        } else if (!strcmp(key, "factor")) {
            bad = read_number(r, "rope_scaling.factor", &c->factor);
        } else if (!strcmp(key, "low_freq_factor")) {
            bad = read_number(r, "rope_scaling.low_freq_factor", &c->low_freq_factor);
        } else if (!strcmp(key, "high_freq_factor")) {
            bad = read_number(r, "rope_scaling.high_freq_factor", &c->high_freq_factor);
        } else if (!strcmp(key, "original_max_position_embeddings")) {
            bad = read_integer(r, "rope_scaling.original_max_position_embeddings", &c->original_context);
        } else {
            bad = json_skip(r);
        }
        mem_free(key);
        if (bad) return -1;
    }
    return more;
}

static int read_member(json_reader *r, const char *key, raw_config *c, hf_config *out) {
    const struct { const char *key; int64_t *value; } integers[] = {
        {"hidden_size", &c->hidden_size},           {"intermediate_size", &c->intermediate_size},
        {"num_hidden_layers", &c->n_layers},        {"num_attention_heads", &c->n_heads},
        {"num_key_value_heads", &c->n_kv_heads},    {"vocab_size", &c->vocab_size},
        {"head_dim", &c->head_dim},                 {"max_position_embeddings", &c->context_length},
    };
    const struct { const char *key; int64_t *value; } token_ids[] = {
        {"bos_token_id", &out->bos_token_id}, {"eos_token_id", &out->eos_token_id},
        {"pad_token_id", &out->pad_token_id}, {"unk_token_id", &out->unk_token_id},
    };
    for (size_t i = 0; i < sizeof integers / sizeof integers[0]; i++)
        if (!strcmp(key, integers[i].key)) return read_integer(r, key, integers[i].value);
    for (size_t i = 0; i < sizeof token_ids / sizeof token_ids[0]; i++)
        if (!strcmp(key, token_ids[i].key)) return read_token_id(r, key, token_ids[i].value);
    if (!strcmp(key, "architectures")) return read_architectures(r, &c->architecture);
    if (!strcmp(key, "rms_norm_eps")) return read_number(r, key, &out->rms_norm_eps);
    if (!strcmp(key, "rope_theta")) return read_number(r, key, &out->rope_theta);
    if (!strcmp(key, "tie_word_embeddings")) return read_bool(r, key, &out->tie_word_embeddings);
    if (!strcmp(key, "attention_bias")) return read_bool(r, key, &c->attention_bias);
    if (!strcmp(key, "mlp_bias")) return read_bool(r, key, &c->mlp_bias);
    if (!strcmp(key, "rope_scaling")) return read_rope_scaling(r, c);
    return json_skip(r);
}

static int read_config(json_reader *r, raw_config *c, hf_config *out) {
    int count = 0, more;
    char *key;
    if (json_peek(r) != '{') return json_fail(r, "config.json must be a JSON object");
    while ((more = json_object_next(r, &count, &key)) == 1) {
        int bad = read_member(r, key, c, out);
        mem_free(key);
        if (bad) return -1;
    }
    return more < 0 ? -1 : json_end(r);
}

/* ---- checking ------------------------------------------------------------------ */

static lvk_status check_sizes(const raw_config *c, const char *name) {
    const struct { const char *key; int64_t value, max; } sizes[] = {
        {"hidden_size", c->hidden_size, MAX_SIZE},     {"intermediate_size", c->intermediate_size, MAX_SIZE},
        {"num_hidden_layers", c->n_layers, MAX_COUNT}, {"num_attention_heads", c->n_heads, MAX_COUNT},
        {"vocab_size", c->vocab_size, MAX_SIZE},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (sizes[i].value == -1)
            return status_fail(LVK_ERR_FORMAT, "%s: '%s' is missing", name, sizes[i].key);
        if (sizes[i].value < 1 || sizes[i].value > sizes[i].max)
            return status_fail(LVK_ERR_FORMAT, "%s: %s %lld is not in 1..%lld", name, sizes[i].key,
                            (long long)sizes[i].value, (long long)sizes[i].max);
    }
    const struct { const char *key; int64_t value, max; } optional[] = {
        {"num_key_value_heads", c->n_kv_heads, MAX_COUNT}, {"head_dim", c->head_dim, MAX_SIZE},
        {"max_position_embeddings", c->context_length, MAX_SIZE},
    };
    for (size_t i = 0; i < sizeof optional / sizeof optional[0]; i++)
        if (optional[i].value != -1 && (optional[i].value < 1 || optional[i].value > optional[i].max))
            return status_fail(LVK_ERR_FORMAT, "%s: %s %lld is not in 1..%lld", name, optional[i].key,
                            (long long)optional[i].value, (long long)optional[i].max);
    return LVK_OK;
}

static lvk_status check_rope_scaling(const raw_config *c, const char *name, hf_config *out) {
    const char *type = c->rope_type;
    if (!type || !strcmp(type, "default")) return LVK_OK;
    if (!strcmp(type, "linear")) {
        out->rope_scaling.type = HF_ROPE_LINEAR;
        out->rope_scaling.factor = c->factor;
        if (isnan(c->factor))
            return status_fail(LVK_ERR_FORMAT, "%s: rope_scaling of type linear has no factor", name);
    } else if (!strcmp(type, "llama3")) {
        /* the defaults llama.cpp's converter uses */
        out->rope_scaling.type = HF_ROPE_LLAMA3;
        out->rope_scaling.factor = isnan(c->factor) ? 8.0 : c->factor;
        out->rope_scaling.low_freq_factor = isnan(c->low_freq_factor) ? 1.0 : c->low_freq_factor;
        out->rope_scaling.high_freq_factor = isnan(c->high_freq_factor) ? 4.0 : c->high_freq_factor;
        out->rope_scaling.original_context = c->original_context == -1 ? 8192 : c->original_context;
        if (!(out->rope_scaling.low_freq_factor < out->rope_scaling.high_freq_factor) ||
            out->rope_scaling.low_freq_factor <= 0 || out->rope_scaling.original_context < 1)
            return status_fail(LVK_ERR_FORMAT,
                            "%s: llama3 rope_scaling needs 0 < low_freq_factor (%g) < high_freq_factor (%g) "
                            "and original_max_position_embeddings (%lld) >= 1",
                            name, out->rope_scaling.low_freq_factor, out->rope_scaling.high_freq_factor,
                            (long long)out->rope_scaling.original_context);
    } else {
        return status_fail(LVK_ERR_UNSUPPORTED, "%s: rope_scaling type '%.40s' is not supported (LiteVK converts "
                                             "linear and llama3)", name, type);
    }
    if (!(out->rope_scaling.factor > 0) || isinf(out->rope_scaling.factor))
        return status_fail(LVK_ERR_FORMAT, "%s: rope_scaling factor %g is not a positive number", name,
                        out->rope_scaling.factor);
    return LVK_OK;
}

static lvk_status check_config(const raw_config *c, const char *name, hf_config *out) {
    if (!c->architecture)
        return status_fail(LVK_ERR_FORMAT, "%s has no 'architectures': it does not name the model's class", name);
    for (int i = 0; i < N_ARCHITECTURES && !out->architecture; i++)
        if (!strcmp(c->architecture, architectures[i].name)) {
            out->arch = architectures[i].arch;
            out->architecture = architectures[i].name;
            out->gguf_arch = architectures[i].gguf;
        }
    if (!out->architecture) {
        char known[256] = "";
        for (int i = 0; i < N_ARCHITECTURES; i++) {
            size_t used = strlen(known);
            snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", architectures[i].name);
        }
        return status_fail(LVK_ERR_UNSUPPORTED, "architecture '%.64s' is not supported (LiteVK converts %s)",
                        c->architecture, known);
    }
    if (c->attention_bias || c->mlp_bias)
        return status_fail(LVK_ERR_UNSUPPORTED, "%s: %s with %s is not supported", name, out->architecture,
                        c->attention_bias ? "attention_bias" : "mlp_bias");
    LVK_TRY(check_sizes(c, name));
    out->hidden_size = c->hidden_size;
    out->intermediate_size = c->intermediate_size;
    out->n_layers = c->n_layers;
    out->n_heads = c->n_heads;
    out->n_kv_heads = c->n_kv_heads == -1 ? c->n_heads : c->n_kv_heads;
    out->vocab_size = c->vocab_size;
    out->context_length = c->context_length == -1 ? 0 : c->context_length;
    out->head_dim_given = c->head_dim != -1;
    if (out->n_heads % out->n_kv_heads)
        return status_fail(LVK_ERR_FORMAT, "%s: num_attention_heads %lld is not a multiple of num_key_value_heads %lld",
                        name, (long long)out->n_heads, (long long)out->n_kv_heads);
    if (!out->head_dim_given && out->hidden_size % out->n_heads)
        return status_fail(LVK_ERR_FORMAT, "%s: hidden_size %lld is not a multiple of num_attention_heads %lld", name,
                        (long long)out->hidden_size, (long long)out->n_heads);
    out->head_dim = out->head_dim_given ? c->head_dim : out->hidden_size / out->n_heads;
    if (out->head_dim % 2)
        return status_fail(LVK_ERR_FORMAT, "%s: the head dimension %lld is odd (RoPE rotates pairs)", name,
                        (long long)out->head_dim);
    if (out->n_heads * out->head_dim > MAX_SIZE)
        return status_fail(LVK_ERR_FORMAT, "%s: %lld heads of %lld are too wide", name, (long long)out->n_heads,
                        (long long)out->head_dim);
    if (!(out->rms_norm_eps > 0 && out->rms_norm_eps < 1))
        return status_fail(LVK_ERR_FORMAT, "%s: rms_norm_eps %g is not in (0, 1)", name, out->rms_norm_eps);
    if (!(out->rope_theta > 0) || isinf(out->rope_theta))
        return status_fail(LVK_ERR_FORMAT, "%s: rope_theta %g is not a positive number", name, out->rope_theta);
    return check_rope_scaling(c, name, out);
}

lvk_status hf_config_parse(const char *text, size_t len, const char *name, hf_config *out) {
    if ((!text && len) || !name || !out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "hf_config_parse: NULL argument");
    *out = (hf_config){
        .rms_norm_eps = 1e-6, .rope_theta = 10000.0,
        .bos_token_id = -1, .eos_token_id = -1, .pad_token_id = -1, .unk_token_id = -1,
    };
    raw_config c = {
        .hidden_size = -1, .intermediate_size = -1, .n_layers = -1, .n_heads = -1, .n_kv_heads = -1,
        .vocab_size = -1, .head_dim = -1, .context_length = -1, .original_context = -1,
        .factor = NAN, .low_freq_factor = NAN, .high_freq_factor = NAN,
    };
    json_reader r;
    json_init(&r, text, len, 1);
    lvk_status s = read_config(&r, &c, out) ? json_status(&r, name) : check_config(&c, name, out);
    mem_free(c.architecture);
    mem_free(c.rope_type);
    return s;
}

lvk_status hf_config_load(const char *path, hf_config *out) {
    if (!path || !out) return status_fail(LVK_ERR_INVALID_ARGUMENT, "hf_config_load: NULL argument");
    mapped_file m;
    LVK_TRY(map_file(path, &m));
    lvk_status s = hf_config_parse((const char *)m.data, (size_t)m.size, path, out);
    unmap_file(&m);
    return s;
}
