/* fuzz_prompts.c — a prompt file (JSONL or an Alpaca JSON array) for
 * `litevk calibrate` and `bench`. */
#include "fuzz.h"
#include "prompts.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
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
