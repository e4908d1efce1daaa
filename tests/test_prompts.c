/* test_prompts.c — the CLI's JSON reader (apps/cli/json.c) and prompt-file
 * loader (apps/cli/prompts.c): escapes, strictness, the formats of LITE's
 * test sets and Alpaca, and the error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "calibration.h"
#include "json.h"
#include "prompts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TMP(name) LITEVK_TMP_DIR "/test_prompts_" name

/* ---- JSON reader ---------------------------------------------------------------- */

/* The string `json` decodes to, or NULL with the reader's error in err. */
static char *decode(const char *json, char *err, size_t size) {
    json_reader r;
    char *s;
    json_init(&r, json, strlen(json), 1);
    if (json_string(&r, &s) == 0 && json_end(&r) == 0) return s;
    free(s);
    snprintf(err, size, "%s", r.error);
    return NULL;
}

static void check_decodes(const char *json, const char *want) {
    char err[160];
    char *s = decode(json, err, sizeof err);
    if (!s) fail_msg("%s: %s", json, err);
    assert_string_equal(s, want);
    free(s);
}

static void check_decode_error(const char *json, const char *message_part) {
    char err[160];
    char *s = decode(json, err, sizeof err);
    if (s) fail_msg("%s decoded to '%s' instead of failing", json, s);
    if (!strstr(err, message_part)) fail_msg("%s: error '%s' lacks '%s'", json, err, message_part);
}

static void test_json_strings(void **state) {
    (void)state;
    check_decodes("\"plain\"", "plain");
    check_decodes("\"\"", "");
    check_decodes("\"a\\\"b\\\\c\\/d\"", "a\"b\\c/d");
    check_decodes("\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t");
    check_decodes("\"caf\\u00e9 \\u00E9\"", "caf\xc3\xa9 \xc3\xa9");
    check_decodes("\"\\u20ac\"", "\xe2\x82\xac");
    check_decodes("\"\\ud83d\\ude00!\"", "\xf0\x9f\x98\x80!"); /* U+1F600 as a surrogate pair */
    check_decodes("\"raw \xc3\xa9 \xf0\x9f\x98\x80\"", "raw \xc3\xa9 \xf0\x9f\x98\x80");
    check_decodes("  \"spaced\"  \n", "spaced");

    check_decode_error("\"open", "unterminated string");
    check_decode_error("\"bad \\x escape\"", "expected an escape");
    check_decode_error("\"\\u12\"", "4 hex digits");
    check_decode_error("\"\\ud83d alone\"", "unpaired surrogate \\uD83D");
    check_decode_error("\"\\ude00\"", "unpaired surrogate \\uDE00");
    check_decode_error("\"\\u0000\"", "\\u0000 is not allowed");
    check_decode_error("\"tab\there\"", "control character 0x09");
    check_decode_error("\"\xc3(\"", "invalid UTF-8");
    check_decode_error("\"a\" \"b\"", "expected nothing more after the value, found '\"'");
    check_decode_error("5", "expected a string, found '5'");
}

static int skips(const char *json, char *err, size_t size) {
    json_reader r;
    json_init(&r, json, strlen(json), 1);
    int bad = json_skip(&r) || json_end(&r);
    snprintf(err, size, "%s", r.error);
    return !bad;
}

static void test_json_skip(void **state) {
    (void)state;
    const char *good[] = {"0", "-0", "12", "-3.25", "1e9", "2.5E-3", "1e+2", "true", "false", "null", "[]", "{}",
                          "[1, [2, [3, {}]], {\"a\": {\"b\": [null]}}]", "{\"a\":1,\"b\":\"x\",\"c\":[true,false]}"};
    char err[160];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!skips(good[i], err, sizeof err)) fail_msg("%s: %s", good[i], err);
    struct { const char *json, *error; } bad[] = {
        {"01", "nothing more after the value, found '1'"},
        {"1.", "a digit after '.'"},
        {"1e", "a digit in the exponent"},
        {"-", "expected a digit"},
        {"+1", "expected a value, found '+'"},
        {"tru", "expected a value"},
        {"[1,]", "expected a value, found ']'"},
        {"[1 2]", "expected ',' or ']' after an array element, found '2'"},
        {"{\"a\" 1}", "expected ':' after an object key, found '1'"},
        {"{\"a\":1,}", "expected a key after ',', found '}'"},
        {"{\"a\":1 \"b\":2}", "expected ',' or '}' after an object member, found '\"'"},
        {"{a:1}", "expected a key or '}', found 'a'"},
        {"[", "expected a value, found the end of the input"},
        {"", "expected a value, found the end of the input"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (skips(bad[i].json, err, sizeof err)) fail_msg("%s was accepted", bad[i].json);
        if (!strstr(err, bad[i].error)) fail_msg("%s: error '%s' lacks '%s'", bad[i].json, err, bad[i].error);
    }
    /* nesting is bounded rather than recursed into without limit */
    char deep[201];
    memset(deep, '[', 200);
    deep[200] = 0;
    assert_false(skips(deep, err, sizeof err));
    assert_non_null(strstr(err, "nested more than"));
}

static void test_json_write_string(void **state) {
    (void)state;
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    assert_non_null(f);
    json_write_string(f, "a\"b\\c\n\t\x01 \xc3\xa9 \xff");
    fclose(f);
    assert_string_equal(buf, "\"a\\\"b\\\\c\\n\\t\\u0001 \xc3\xa9 \\u00ff\"");
    free(buf);
}

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
        cmocka_unit_test(test_json_strings),    cmocka_unit_test(test_json_skip),
        cmocka_unit_test(test_json_write_string), cmocka_unit_test(test_prompts_formats),
        cmocka_unit_test(test_prompts_alpaca_array), cmocka_unit_test(test_prompts_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
