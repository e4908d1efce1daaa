/* fuzz_prompts.c — a prompt file (JSONL or an Alpaca JSON array) for
 * `litevk calibrate` and `bench`, and each of its lines as a line of
 * `litevk tokenize --jsonl` (one JSON string). */
#include "fuzz.h"
#include "prompts.h"

#include <string.h>

/* Every line as tokenize --jsonl reads it: a text, or an error and no text. */
static void text_lines(const char *data, size_t size) {
    int line_no = 1;
    for (const char *p = data, *end = data + size; p < end; line_no++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        char *text, err[512] = "";
        if (prompts_parse_text_line(p, (size_t)(stop - p), "fuzz.jsonl", line_no, &text, err, sizeof err) == 0)
            FUZZ_CHECK(text && !err[0]);
        else
            FUZZ_CHECK(!text && err[0]);
        free(text);
        p = stop + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    text_lines((const char *)data, size);
    prompt_set set;
    char err[512] = "";
    if (prompts_parse((const char *)data, size, "fuzz.jsonl", &set, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0] != 0 && set.n == 0 && !set.text);
        return 0;
    }
    /* a loaded set is ready to feed: at least one prompt, none empty */
    FUZZ_CHECK(set.n > 0);
    for (int i = 0; i < set.n; i++) FUZZ_CHECK(set.text[i] && set.text[i][0]);
    prompts_free(&set);
    return 0;
}
