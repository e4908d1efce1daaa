/* api_prompts.c — prompt sets (litevk.h, "prompt sets"): the prompt files of
 * calibration and benchmarks, and the lines of a JSONL file of texts, read
 * with the runtime's JSON reader. */
#include "alloc.h"
#include "decode/calibration.h"
#include "formats/json.h"
#include "status.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct lvk_prompt_set {
    char **text;   /* n prompts, ready to feed (from mem_malloc) */
    int n;
    uint64_t hash; /* FNV-1a 64 of the file's bytes */
};

/* The Alpaca templates (Stanford Alpaca's PROMPT_DICT), as LITE used them. */
static const char alpaca_no_input[] =
    "Below is an instruction that describes a task. Write a response that appropriately completes the "
    "request.\n\n### Instruction:\n%s\n\n### Response:\n";
static const char alpaca_with_input[] =
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n### Instruction:\n%s\n\n### Input:\n%s\n\n"
    "### Response:\n";

/* An Alpaca template filled in (from mem_malloc); NULL when memory runs out. */
static char *format_alpaca(const char *template, const char *instruction, const char *input) {
    int n = snprintf(NULL, 0, template, instruction, input);
    char *s = n < 0 ? NULL : mem_malloc((size_t)n + 1);
    if (s) snprintf(s, (size_t)n + 1, template, instruction, input);
    return s;
}

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

/* The prompt a record stands for (from mem_malloc), NULL with r->error set if none. */
static char *record_prompt(json_reader *r, const record *rec) {
    char *s = NULL;
    const char *input = rec->input ? rec->input : rec->instance_input;
    if (rec->prompt) s = mem_strdup(rec->prompt);
    else if (rec->instruction && input && *input) s = format_alpaca(alpaca_with_input, rec->instruction, input);
    else if (rec->instruction) s = format_alpaca(alpaca_no_input, rec->instruction, NULL);
    else if (rec->text) s = mem_strdup(rec->text);
    else {
        snprintf(r->error, sizeof r->error, "the record has no \"prompt\", \"instruction\" or \"text\" string");
        return NULL;
    }
    if (!s) json_out_of_memory(r);
    else if (!*s) {
        snprintf(r->error, sizeof r->error, "empty prompt");
        mem_free(s);
        s = NULL;
    }
    return s;
}

/* Reads the record at r and appends its prompt to the set. */
static int add_record(json_reader *r, lvk_prompt_set *set) {
    record rec = {0};
    char *prompt = read_record(r, &rec, 0) == 0 ? record_prompt(r, &rec) : NULL;
    record_free(&rec);
    if (!prompt) return -1;
    /* grow by doubling: the capacity is the next power of two at or above n */
    if ((set->n & (set->n - 1)) == 0) {
        char **grown = mem_realloc(set->text, sizeof *grown * (size_t)(set->n ? 2 * set->n : 1));
        if (!grown) {
            mem_free(prompt);
            return json_out_of_memory(r);
        }
        set->text = grown;
    }
    set->text[set->n++] = prompt;
    return 0;
}

lvk_status lvk_prompt_set_parse(const char *data, size_t size, const char *name, lvk_prompt_set **out) {
    if (!(data || size == 0) || !name || !out)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_prompt_set_parse: NULL argument");
    lvk_prompt_set *set = mem_calloc(1, sizeof *set);
    if (!set) return status_fail(LVK_ERR_OUT_OF_MEMORY, "out of host memory");
    set->hash = fnv1a64(data, size, FNV1A64_INIT);

    const char *text = data, *end = data + size;
    if (size >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) text += 3; /* a UTF-8 byte order mark */
    json_reader r;
    json_init(&r, text, (size_t)(end - text), 1);
    int bad = 0;
    if (json_peek(&r) == '[') {
        /* a JSON array of records */
        int count = 0, more = 0;
        while (!bad && (more = json_array_next(&r, &count)) == 1) bad = add_record(&r, set);
        bad = bad || more < 0 || json_end(&r);
    } else {
        /* JSONL: each non-blank line is one record */
        int line = 1;
        for (const char *p = text; !bad && p < end; line++) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *stop = nl ? nl : end;
            json_init(&r, p, (size_t)(stop - p), line);
            if (json_peek(&r) >= 0) bad = add_record(&r, set) || json_end(&r);
            p = stop + 1;
        }
    }
    lvk_status s = bad ? json_status(&r, name)
                   : !set->n ? status_fail(LVK_ERR_FORMAT, "no prompts in %s", name) : LVK_OK;
    if (s != LVK_OK) {
        lvk_prompt_set_free(set);
        return s;
    }
    *out = set;
    return LVK_OK;
}

void lvk_prompt_set_free(lvk_prompt_set *set) {
    if (!set) return;
    for (int i = 0; i < set->n; i++) mem_free(set->text[i]);
    mem_free(set->text);
    mem_free(set);
}

int lvk_prompt_set_count(const lvk_prompt_set *set) { return set ? set->n : 0; }

const char *lvk_prompt_set_text(const lvk_prompt_set *set, int index) {
    return set && index >= 0 && index < set->n ? set->text[index] : NULL;
}

uint64_t lvk_prompt_set_hash(const lvk_prompt_set *set) { return set ? set->hash : 0; }

lvk_status lvk_text_line_parse(const char *line, size_t size, const char *name, int line_no, char *buf,
                               size_t buf_size) {
    if (!(line || size == 0) || !name || !buf)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_text_line_parse: NULL argument");
    if (buf_size < size + 1)
        return status_fail(LVK_ERR_INVALID_ARGUMENT, "lvk_text_line_parse: a line of %zu bytes needs a buffer of %zu, "
                                                     "not %zu", size, size + 1, buf_size);
    json_reader r;
    json_init(&r, line, size, line_no);
    char *decoded = NULL;
    lvk_status s = json_string(&r, &decoded) || json_end(&r) ? json_status(&r, name) : LVK_OK;
    if (s == LVK_OK) memcpy(buf, decoded, strlen(decoded) + 1); /* escapes only shrink: it fits */
    mem_free(decoded);
    return s;
}
