/* test_prompts.c — the CLI's prompt-file loader (apps/cli/prompts.c): the
 * formats of LITE's test sets and Alpaca, and the error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "decode/calibration.h"
#include "prompts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TMP(name) LITEVK_TMP_DIR "/test_prompts_" name

/* ---- prompt files ------------------------------------------------------------------ */

static const char *write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_prompts_formats(void **state) {
    (void)state;
    /* one line in the shape of each of LITE's four test sets, and a bare prompt */
    const char *text =
        "{\"question_id\": 1, \"text\": \"How can I improve my time management skills?\", \"category\": \"generic\"}\n"
        "{\"id\": \"koala_0\", \"prompt\": \"Can you list films?\"}\n"
        "\n"
        "{\"idx\": 1, \"Skill\": \"Math\", \"Difficulty\": 1, \"Instruction\": \"Add 2 and 3.\"}\n"
        "{\"id\": \"user_oriented_task_0\", \"motivation_app\": \"Grammarly\", \"instruction\": \"Rewrite it.\", "
        "\"instances\": [{\"input\": \"If you have any questions\", \"output\": \"x\"}, {\"input\": \"second\"}]}\n"
        "{\"instruction\": \"Say hi.\", \"instances\": [{\"input\": \"\", \"output\": \"hi\"}]}\n"
        "   {\"prompt\": \"Once upon a time\\u2026\"}   \r\n";
    prompt_set set;
    char err[256];
    if (prompts_load(write_file(TMP("formats.jsonl"), text), &set, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(set.n, 6);
    assert_string_equal(set.text[0], "How can I improve my time management skills?");
    assert_string_equal(set.text[1], "Can you list films?");
    assert_string_equal(set.text[2], "Below is an instruction that describes a task. Write a response that "
                                     "appropriately completes the request.\n\n### Instruction:\nAdd 2 and 3."
                                     "\n\n### Response:\n");
    assert_string_equal(set.text[3], "Below is an instruction that describes a task, paired with an input that "
                                     "provides further context. Write a response that appropriately completes "
                                     "the request.\n\n### Instruction:\nRewrite it.\n\n### Input:\nIf you have "
                                     "any questions\n\n### Response:\n");
    /* an empty input takes the template without one */
    assert_non_null(strstr(set.text[4], "describes a task. Write"));
    assert_null(strstr(set.text[4], "### Input:"));
    assert_string_equal(set.text[5], "Once upon a time\xe2\x80\xa6");
    assert_true(set.hash == fnv1a64(text, strlen(text), FNV1A64_INIT));
    prompts_free(&set);
}

static void test_prompts_alpaca_array(void **state) {
    (void)state;
    const char *text = "[\n"
                       "  {\"instruction\": \"Give a synonym.\", \"input\": \"happy\", \"output\": \"glad\"},\n"
                       "  {\"instruction\": \"Name a color.\", \"input\": \"\", \"output\": \"red\"}\n"
                       "]\n";
    prompt_set set;
    char err[256];
    if (prompts_load(write_file(TMP("alpaca.json"), text), &set, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(set.n, 2);
    assert_non_null(strstr(set.text[0], "### Instruction:\nGive a synonym.\n\n### Input:\nhappy\n\n### Response:\n"));
    assert_non_null(strstr(set.text[1], "### Instruction:\nName a color.\n\n### Response:\n"));
    prompts_free(&set);
}

/* Loading `text` fails with exactly `message` (TMP path substituted for %s). */
static void expect_load_error(const char *name, const char *text, const char *message) {
    char path[512], want[512], err[512];
    snprintf(path, sizeof path, TMP("%s"), name);
    snprintf(want, sizeof want, message, path);
    prompt_set set;
    if (!prompts_load(write_file(path, text), &set, err, sizeof err)) fail_msg("%s was accepted", name);
    assert_string_equal(err, want);
    assert_int_equal(set.n, 0);
    assert_null(set.text);
}

static void test_prompts_errors(void **state) {
    (void)state;
    expect_load_error("empty.jsonl", "", "no prompts in %s");
    expect_load_error("blank.jsonl", "\n  \n\r\n", "no prompts in %s");
    expect_load_error("empty_array.json", " [ ] ", "no prompts in %s");
    expect_load_error("malformed.jsonl", "{\"prompt\": \"a\"}\n\n{\"prompt\": \"b\" \"text\": \"c\"}\n",
                      "%s:3: expected ',' or '}' after an object member, found '\"'");
    expect_load_error("no_field.jsonl", "{\"prompt\": \"a\"}\n{\"output\": \"b\"}\n",
                      "%s:2: the record has no \"prompt\", \"instruction\" or \"text\" string");
    expect_load_error("not_string.jsonl", "{\"prompt\": 7}\n", "%s:1: \"prompt\" must be a string");
    expect_load_error("empty_prompt.jsonl", "{\"prompt\": \"\"}\n", "%s:1: empty prompt");
    expect_load_error("trailing.jsonl", "{\"prompt\": \"a\"} x\n", "%s:1: expected nothing more after the value, found 'x'");
    expect_load_error("not_object.jsonl", "\"just text\"\n", "%s:1: expected '{', found '\"'");
    expect_load_error("array_error.json", "[\n {\"instruction\": \"a\"},\n {\"instruction\": \"b\",}\n]\n",
                      "%s:3: expected a key after ',', found '}'");
    expect_load_error("array_unclosed.json", "[\n {\"instruction\": \"a\"}\n", "%s:3: expected ',' or ']' after an "
                      "array element, found the end of the input");

    prompt_set set;
    char err[256];
    assert_int_equal(prompts_load(TMP("does_not_exist.jsonl"), &set, err, sizeof err), -1);
    assert_string_equal(err, "cannot open " TMP("does_not_exist.jsonl") ": No such file or directory");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prompts_formats), cmocka_unit_test(test_prompts_alpaca_array),
        cmocka_unit_test(test_prompts_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
