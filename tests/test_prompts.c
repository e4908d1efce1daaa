/* test_prompts.c — prompt sets (lvk_prompt_set_parse, runtime/api_prompts.c):
 * the formats of LITE's test sets and Alpaca, the error messages, and the
 * lines of a JSONL file of texts (lvk_text_line_parse). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "decode/calibration.h"
#include "litevk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses `text` as a prompt set named `name`, failing the test with the library's message. */
static lvk_prompt_set *parse(const char *name, const char *text) {
    lvk_prompt_set *set;
    if (lvk_prompt_set_parse(text, strlen(text), name, &set) != LVK_OK) fail_msg("%s", lvk_last_error());
    return set;
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
    lvk_prompt_set *set = parse("formats.jsonl", text);
    assert_int_equal(lvk_prompt_set_count(set), 6);
    assert_string_equal(lvk_prompt_set_text(set, 0), "How can I improve my time management skills?");
    assert_string_equal(lvk_prompt_set_text(set, 1), "Can you list films?");
    assert_string_equal(lvk_prompt_set_text(set, 2), "Below is an instruction that describes a task. Write a response that "
                                     "appropriately completes the request.\n\n### Instruction:\nAdd 2 and 3."
                                     "\n\n### Response:\n");
    assert_string_equal(lvk_prompt_set_text(set, 3), "Below is an instruction that describes a task, paired with an input that "
                                     "provides further context. Write a response that appropriately completes "
                                     "the request.\n\n### Instruction:\nRewrite it.\n\n### Input:\nIf you have "
                                     "any questions\n\n### Response:\n");
    /* an empty input takes the template without one */
    assert_non_null(strstr(lvk_prompt_set_text(set, 4), "describes a task. Write"));
    assert_null(strstr(lvk_prompt_set_text(set, 4), "### Input:"));
    assert_string_equal(lvk_prompt_set_text(set, 5), "Once upon a time\xe2\x80\xa6");
    assert_null(lvk_prompt_set_text(set, 6));
    assert_true(lvk_prompt_set_hash(set) == fnv1a64(text, strlen(text), FNV1A64_INIT));
    lvk_prompt_set_free(set);
}

static void test_prompts_alpaca_array(void **state) {
    (void)state;
    const char *text = "[\n"
                       "  {\"instruction\": \"Give a synonym.\", \"input\": \"happy\", \"output\": \"glad\"},\n"
                       "  {\"instruction\": \"Name a color.\", \"input\": \"\", \"output\": \"red\"}\n"
                       "]\n";
    lvk_prompt_set *set = parse("alpaca.json", text);
    assert_int_equal(lvk_prompt_set_count(set), 2);
    assert_non_null(strstr(lvk_prompt_set_text(set, 0), "### Instruction:\nGive a synonym.\n\n### Input:\nhappy\n\n### Response:\n"));
    assert_non_null(strstr(lvk_prompt_set_text(set, 1), "### Instruction:\nName a color.\n\n### Response:\n"));
    lvk_prompt_set_free(set);
}

/* Parsing `text` fails with exactly `message` (`name` substituted for %s). */
static void expect_parse_error(const char *name, const char *text, const char *message) {
    char want[512];
    snprintf(want, sizeof want, message, name);
    lvk_prompt_set *set = NULL;
    if (lvk_prompt_set_parse(text, strlen(text), name, &set) == LVK_OK) fail_msg("%s was accepted", name);
    assert_string_equal(lvk_last_error(), want);
    assert_null(set);
}

static void test_prompts_errors(void **state) {
    (void)state;
    expect_parse_error("empty.jsonl", "", "no prompts in %s");
    expect_parse_error("blank.jsonl", "\n  \n\r\n", "no prompts in %s");
    expect_parse_error("empty_array.json", " [ ] ", "no prompts in %s");
    expect_parse_error("malformed.jsonl", "{\"prompt\": \"a\"}\n\n{\"prompt\": \"b\" \"text\": \"c\"}\n",
                      "%s:3: expected ',' or '}' after an object member, found '\"'");
    expect_parse_error("no_field.jsonl", "{\"prompt\": \"a\"}\n{\"output\": \"b\"}\n",
                      "%s:2: the record has no \"prompt\", \"instruction\" or \"text\" string");
    expect_parse_error("not_string.jsonl", "{\"prompt\": 7}\n", "%s:1: \"prompt\" must be a string");
    expect_parse_error("empty_prompt.jsonl", "{\"prompt\": \"\"}\n", "%s:1: empty prompt");
    expect_parse_error("trailing.jsonl", "{\"prompt\": \"a\"} x\n", "%s:1: expected nothing more after the value, found 'x'");
    expect_parse_error("not_object.jsonl", "\"just text\"\n", "%s:1: expected '{', found '\"'");
    expect_parse_error("array_error.json", "[\n {\"instruction\": \"a\"},\n {\"instruction\": \"b\",}\n]\n",
                      "%s:3: expected a key after ',', found '}'");
    expect_parse_error("array_unclosed.json", "[\n {\"instruction\": \"a\"}\n", "%s:3: expected ',' or ']' after an "
                      "array element, found the end of the input");
}

/* A line of a JSONL file of texts: one JSON string, decoded; anything else an error naming the line. */
static void test_text_lines(void **state) {
    (void)state;
    char buf[64];
    const char *line = " \"caf\\u00e9 \\ud83d\\ude00\\n\" ";
    assert_int_equal(lvk_text_line_parse(line, strlen(line), "texts.jsonl", 3, buf, strlen(line) + 1), LVK_OK);
    assert_string_equal(buf, "caf\xc3\xa9 \xf0\x9f\x98\x80\n");
    line = "{\"text\": \"a\"}";
    assert_int_equal(lvk_text_line_parse(line, strlen(line), "texts.jsonl", 3, buf, sizeof buf), LVK_ERR_FORMAT);
    assert_string_equal(lvk_last_error(), "texts.jsonl:3: expected a string, found '{'");
    line = "\"a\" \"b\"";
    assert_int_equal(lvk_text_line_parse(line, strlen(line), "texts.jsonl", 4, buf, sizeof buf), LVK_ERR_FORMAT);
    assert_string_equal(lvk_last_error(), "texts.jsonl:4: expected nothing more after the value, found '\"'");
    /* the caller's buffer holds any line's text when it has the line's size + 1 */
    line = "\"abc\"";
    assert_int_equal(lvk_text_line_parse(line, strlen(line), "texts.jsonl", 1, buf, strlen(line)),
                     LVK_ERR_INVALID_ARGUMENT);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prompts_formats), cmocka_unit_test(test_prompts_alpaca_array),
        cmocka_unit_test(test_prompts_errors), cmocka_unit_test(test_text_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
