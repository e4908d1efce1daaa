/* prompts.h — prompt files: run's -f, and the prompt sets of calibrate and bench.
 *
 * Two formats:
 *   JSONL: one object per line (blank lines skipped) with a "prompt",
 *          "instruction" (+ "input", or Self-Instruct's "instances":
 *          [{"input": ...}]) or "text" string — LITE's four test sets;
 *   JSON:  an Alpaca-style array of {"instruction", "input", "output"}.
 * A record with several of them counts the first of prompt, instruction,
 * text. Field names match without regard to case (WizardLM writes
 * "Instruction"); other fields are skipped.
 * Instruction records are wrapped in the Alpaca prompt template LITE was
 * fine-tuned with; "prompt" and "text" are used as they are. */
#ifndef LVK_CLI_PROMPTS_H
#define LVK_CLI_PROMPTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct prompt_set {
    char **text;   /* n prompts, ready to feed */
    int n;
    uint64_t hash; /* FNV-1a 64 of the file's bytes: names the set in calibration metadata */
} prompt_set;

/* The whole of file `path` ("-": standard input) in a malloc'd buffer, read in
 * a loop (a pipe has no size), *size bytes; NULL with a message in err on
 * failure. */
char *prompts_read_file(const char *path, size_t *size, char *err, size_t err_size);
/* Loads a prompt file. On failure returns -1 with a message in err
 * ("FILE:17: expected ',' or '}' after an object member, found ']'",
 * "no prompts in FILE", ...) and leaves *out empty. */
int prompts_load(const char *path, prompt_set *out, char *err, size_t err_size);
/* The same from the file's bytes in memory; `name` stands for the file in messages. */
int prompts_parse(const char *buf, size_t size, const char *name, prompt_set *out, char *err, size_t err_size);
void prompts_free(prompt_set *set);

/* One line of a JSONL file of texts (`litevk tokenize --jsonl`): a JSON
 * string, nothing else but whitespace. On success *text is the decoded
 * string (free it with free); on failure -1, *text NULL and a message in
 * err ("NAME:LINE: expected a string, found '{'"). */
int prompts_parse_text_line(const char *line, size_t size, const char *name, int line_no, char **text, char *err,
                            size_t err_size);

#endif
