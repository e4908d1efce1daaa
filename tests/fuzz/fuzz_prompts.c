/* fuzz_prompts.c — a prompt set (JSONL or an Alpaca JSON array) for
 * `litevk calibrate` and `bench` (lvk_prompt_set_parse), and each of its
 * lines as a line of `litevk tokenize --jsonl` (lvk_text_line_parse: one
 * JSON string). */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

/* Every line as tokenize --jsonl reads it: a text no longer than the line, or an error. */
static void text_lines(const char *data, size_t size) {
    int line_no = 1;
    for (const char *p = data, *end = data + size; p < end; line_no++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        const size_t len = (size_t)(stop - p);
        char *text = malloc(len + 1);
        FUZZ_CHECK(text);
        /* FUZZ_CALL checks that a failure says why */
        if (FUZZ_CALL(lvk_text_line_parse(p, len, "fuzz.jsonl", line_no, text, len + 1)) == LVK_OK)
            FUZZ_CHECK(strlen(text) <= len);
        free(text);
        p = stop + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    text_lines((const char *)data, size);
    lvk_prompt_set *set;
    if (FUZZ_CALL(lvk_prompt_set_parse((const char *)data, size, "fuzz.jsonl", &set)) != LVK_OK) return 0;
    /* a parsed set is ready to feed: at least one prompt, none empty */
    FUZZ_CHECK(lvk_prompt_set_count(set) > 0);
    for (int i = 0; i < lvk_prompt_set_count(set); i++) {
        const char *text = lvk_prompt_set_text(set, i);
        FUZZ_CHECK(text && text[0]);
    }
    FUZZ_CHECK(!lvk_prompt_set_text(set, lvk_prompt_set_count(set)));
    lvk_prompt_set_free(set);
    return 0;
}
