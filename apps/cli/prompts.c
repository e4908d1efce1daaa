/* prompts.c — loading prompt files; see prompts.h. */
#include "prompts.h"
#include "alloc.h"
#include "decode/calibration.h"
#include "formats/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The Alpaca templates (Stanford Alpaca's PROMPT_DICT), as LITE used them. */
static const char alpaca_no_input[] =
    "Below is an instruction that describes a task. Write a response that appropriately completes the "
    "request.\n\n### Instruction:\n%s\n\n### Response:\n";
static const char alpaca_with_input[] =
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n### Instruction:\n%s\n\n### Input:\n%s\n\n"
    "### Response:\n";

/* The string fields of one record, from the JSON reader (mem_free them); NULL when absent. */
typedef struct record {
    char *prompt, *instruction, *input, *text;
    char *instance_input; /* the first of "instances": [{"input": ...}, ...] */
} record;

static void record_free(record *rec) {
    mem_free(rec->prompt);
    mem_free(rec->instruction);
    mem_free(rec->input);
    mem_free(rec->text);
    mem_free(rec->instance_input);
}

static int read_instances(json_reader *r, char **input);

/* Reads one object into *rec, skipping the members it does not use. Instance
 * objects (nested = 1) are read the same way, but their own "instances" are
 * skipped, so the nesting stays bounded. */
static int read_record(json_reader *r, record *rec, int nested) {
    int count = 0, more;
    char *key;
    while ((more = json_object_next(r, &count, &key)) == 1) {
        char **slot = !strcasecmp(key, "prompt")        ? &rec->prompt
                      : !strcasecmp(key, "instruction") ? &rec->instruction
                      : !strcasecmp(key, "input")       ? &rec->input
                      : !strcasecmp(key, "text")        ? &rec->text
                                                        : NULL;
        int bad;
        if (slot && json_peek(r) != '"') {
            snprintf(r->error, sizeof r->error, "\"%.40s\" must be a string", key);
            bad = -1;
        } else if (slot) {
            mem_free(*slot); /* a repeated key: the last one counts */
            bad = json_string(r, slot);
        } else if (!nested && !strcasecmp(key, "instances")) {
            bad = read_instances(r, &rec->instance_input);
        } else {
            bad = json_skip(r);
        }
        mem_free(key);
        if (bad) return -1;
    }
    return more;
}

static int read_instances(json_reader *r, char **input) {
    int count = 0, more;
    while ((more = json_array_next(r, &count)) == 1) {
        if (count > 1) {
            if (json_skip(r)) return -1;
            continue;
        }
        record inst = {0};
        int bad = read_record(r, &inst, 1);
        mem_free(*input);
        *input = inst.input;
        inst.input = NULL;
        record_free(&inst);
        if (bad) return -1;
    }
    return more;
}

/* The prompt a record stands for (malloc'd), NULL with r->error set if none. */
static char *record_prompt(json_reader *r, const record *rec) {
    char *s = NULL;
    const char *input = rec->input ? rec->input : rec->instance_input;
    if (rec->prompt) s = strdup(rec->prompt);
    else if (rec->instruction && input && *input) {
        if (asprintf(&s, alpaca_with_input, rec->instruction, input) < 0) s = NULL;
    } else if (rec->instruction) {
        if (asprintf(&s, alpaca_no_input, rec->instruction) < 0) s = NULL;
    } else if (rec->text) s = strdup(rec->text);
    else {
        snprintf(r->error, sizeof r->error, "the record has no \"prompt\", \"instruction\" or \"text\" string");
        return NULL;
    }
    if (!s) snprintf(r->error, sizeof r->error, "out of memory");
    else if (!*s) {
        snprintf(r->error, sizeof r->error, "empty prompt");
        free(s);
        s = NULL;
    }
    return s;
}

/* Reads the record at r and appends its prompt to the set. */
static int add_record(json_reader *r, prompt_set *set) {
    record rec = {0};
    char *prompt = read_record(r, &rec, 0) == 0 ? record_prompt(r, &rec) : NULL;
    record_free(&rec);
    if (!prompt) return -1;
    /* grow by doubling: the capacity is the next power of two at or above n */
    if ((set->n & (set->n - 1)) == 0) {
        char **grown = realloc(set->text, sizeof *grown * (size_t)(set->n ? 2 * set->n : 1));
        if (!grown) {
            free(prompt);
            snprintf(r->error, sizeof r->error, "out of memory");
            return -1;
        }
        set->text = grown;
    }
    set->text[set->n++] = prompt;
    return 0;
}

char *prompts_read_file(const char *path, size_t *size, char *err, size_t err_size) {
    const int from_stdin = !strcmp(path, "-");
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len == cap) {
            char *grown = realloc(buf, cap = cap ? 2 * cap : 1 << 16);
            if (!grown) {
                snprintf(err, err_size, "%s: out of memory", path);
                free(buf);
                if (!from_stdin) fclose(f);
                return NULL;
            }
            buf = grown;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    if (ferror(f)) {
        snprintf(err, err_size, "cannot read %s: %s", path, strerror(errno));
        free(buf);
        buf = NULL;
    }
    if (!from_stdin) fclose(f);
    *size = len;
    return buf;
}

int prompts_parse(const char *buf, size_t size, const char *name, prompt_set *out, char *err, size_t err_size) {
    *out = (prompt_set){0};
    out->hash = fnv1a64(buf, size, FNV1A64_INIT);

    const char *text = buf, *end = buf + size;
    if (size >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) text += 3; /* a UTF-8 byte order mark */
    json_reader r;
    json_init(&r, text, (size_t)(end - text), 1);
    int bad = 0;
    if (json_peek(&r) == '[') {
        /* a JSON array of records */
        int count = 0, more = 0;
        while (!bad && (more = json_array_next(&r, &count)) == 1) bad = add_record(&r, out);
        bad = bad || more < 0 || json_end(&r);
    } else {
        /* JSONL: each non-blank line is one record */
        int line = 1;
        for (const char *p = text; !bad && p < end; line++) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *stop = nl ? nl : end;
            json_init(&r, p, (size_t)(stop - p), line);
            if (json_peek(&r) >= 0) bad = add_record(&r, out) || json_end(&r);
            p = stop + 1;
        }
    }
    if (bad) snprintf(err, err_size, "%s:%d: %s", name, r.line, r.error);
    else if (!out->n) snprintf(err, err_size, "no prompts in %s", name);
    if (bad || !out->n) {
        prompts_free(out);
        return -1;
    }
    return 0;
}

int prompts_load(const char *path, prompt_set *out, char *err, size_t err_size) {
    *out = (prompt_set){0};
    size_t size;
    char *buf = prompts_read_file(path, &size, err, err_size);
    if (!buf) return -1;
    int r = prompts_parse(buf, size, path, out, err, err_size);
    free(buf);
    return r;
}

void prompts_free(prompt_set *set) {
    for (int i = 0; i < set->n; i++) free(set->text[i]);
    free(set->text);
    *set = (prompt_set){0};
}

int prompts_parse_text_line(const char *line, size_t size, const char *name, int line_no, char **text, char *err,
                            size_t err_size) {
    json_reader r;
    json_init(&r, line, size, line_no);
    char *decoded = NULL;
    int bad = json_string(&r, &decoded) || json_end(&r);
    /* a copy from malloc, as prompt sets hold theirs */
    *text = bad ? NULL : strdup(decoded);
    mem_free(decoded);
    if (!bad && !*text) json_out_of_memory(&r);
    if (*text) return 0;
    snprintf(err, err_size, "%s:%d: %s", name, line_no, r.error);
    return -1;
}
