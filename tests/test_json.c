/* test_json.c — the JSON reader (runtime/formats/json.c) that reads the CLI's prompt
 * files and Hugging Face's JSON files: escapes, numbers, strictness, error
 * messages, allocation failures, and the speed a tokenizer.json of Llama 3's
 * size needs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc.h"
#include "formats/json.h"
#include "json_write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- strings and skipping ------------------------------------------------------ */

/* The string `json` decodes to, or NULL with the reader's error in err. */
static char *decode(const char *json, char *err, size_t size) {
    json_reader r;
    char *s;
    json_init(&r, json, strlen(json), 1);
    if (json_string(&r, &s) == 0 && json_end(&r) == 0) return s;
    mem_free(s);
    snprintf(err, size, "%s", r.error);
    return NULL;
}

static void check_decodes(const char *json, const char *want) {
    char err[160];
    char *s = decode(json, err, sizeof err);
    if (!s) fail_msg("%s: %s", json, err);
    assert_string_equal(s, want);
    mem_free(s);
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

/* ---- numbers and literals -------------------------------------------------------- */

static int reads_number(const char *json, double *v, char *err, size_t size) {
    json_reader r;
    json_init(&r, json, strlen(json), 1);
    int bad = json_number(&r, v) || json_end(&r);
    snprintf(err, size, "%s", r.error);
    return !bad;
}

static int reads_integer(const char *json, int64_t *v, char *err, size_t size) {
    json_reader r;
    json_init(&r, json, strlen(json), 1);
    int bad = json_integer(&r, v) || json_end(&r);
    snprintf(err, size, "%s", r.error);
    return !bad;
}

static void test_json_numbers(void **state) {
    (void)state;
    const struct { const char *json; double v; } good[] = {
        {"0", 0}, {"-0", 0}, {"12", 12}, {"-3.25", -3.25}, {"1e-05", 1e-5}, {"1e-6", 1e-6},
        {"500000.0", 500000}, {"2.5E+3", 2500}, {" 7 ", 7},
        {"1000000000000000019884624838656", 1e30}, /* tokenizer_config.json's model_max_length */
    };
    char err[160];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        double v = -1;
        if (!reads_number(good[i].json, &v, err, sizeof err)) fail_msg("%s: %s", good[i].json, err);
        if (v != good[i].v) fail_msg("%s read as %.17g", good[i].json, v);
    }
    const struct { const char *json, *error; } bad[] = {
        {"\"1\"", "expected a number, found '\"'"}, {"1.", "a digit after '.'"}, {"01", "nothing more"},
        {"true", "expected a number, found 't'"}, {"", "expected a number, found the end of the input"},
        {"1234567890123456789012345678901234567890123456789012345678901234567890", "more than 64 characters"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v;
        if (reads_number(bad[i].json, &v, err, sizeof err)) fail_msg("%s was accepted", bad[i].json);
        if (!strstr(err, bad[i].error)) fail_msg("%s: error '%s' lacks '%s'", bad[i].json, err, bad[i].error);
    }
}

static void test_json_integers(void **state) {
    (void)state;
    const struct { const char *json; int64_t v; } good[] = {
        {"0", 0}, {"-0", 0}, {"4096", 4096}, {"-17", -17},
        {"9223372036854775807", INT64_MAX}, {"-9223372036854775808", INT64_MIN},
    };
    char err[160];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v = -1;
        if (!reads_integer(good[i].json, &v, err, sizeof err)) fail_msg("%s: %s", good[i].json, err);
        if (v != good[i].v) fail_msg("%s read as %lld", good[i].json, (long long)v);
    }
    const struct { const char *json, *error; } bad[] = {
        {"1.5", "expected an integer, found 1.5"}, {"1e3", "expected an integer, found 1e3"},
        {"9223372036854775808", "integer 9223372036854775808 is out of range"},
        {"-9223372036854775809", "out of range"}, {"null", "expected an integer, found 'n'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v;
        if (reads_integer(bad[i].json, &v, err, sizeof err)) fail_msg("%s was accepted", bad[i].json);
        if (!strstr(err, bad[i].error)) fail_msg("%s: error '%s' lacks '%s'", bad[i].json, err, bad[i].error);
    }
}

static void test_json_bools(void **state) {
    (void)state;
    const char *json = "[true, false, null]";
    json_reader r;
    json_init(&r, json, strlen(json), 1);
    int count = 0, v = -1;
    assert_int_equal(json_array_next(&r, &count), 1);
    assert_int_equal(json_bool(&r, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(json_array_next(&r, &count), 1);
    assert_int_equal(json_bool(&r, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(json_array_next(&r, &count), 1);
    assert_int_equal(json_bool(&r, &v), -1);
    assert_string_equal(r.error, "expected true or false, found 'n'");
    /* the first error is the one kept */
    assert_int_equal(json_fail(&r, "something else"), -1);
    assert_string_equal(r.error, "expected true or false, found 'n'");
}

/* Every allocation of reading a string or a key can fail: -1, "out of
 * memory", and nothing leaks. */
static void test_json_out_of_memory(void **state) {
    (void)state;
    const char *json = "{\"key\": \"value\", \"other\": [\"x\"]}";
    for (uint64_t n = 1;; n++) {
        int64_t before = mem_alloc_outstanding();
        json_reader r;
        json_init(&r, json, strlen(json), 1);
        mem_alloc_fail_at(n);
        int bad = json_skip(&r);
        mem_alloc_fail_at(0);
        assert_int_equal(mem_alloc_outstanding(), before);
        if (!bad) break;
        assert_string_equal(r.error, "out of memory");
    }
}

/* A document shaped like Llama 3's tokenizer.json (9 MB: a vocabulary of
 * 128k keys, 280k merges) reads in well under a second. */
static void test_json_speed(void **state) {
    (void)state;
    enum { N_VOCAB = 128000, N_MERGES = 280000 };
    size_t cap = 16u << 20, len = 0;
    char *doc = malloc(cap);
    assert_non_null(doc);
    len += (size_t)sprintf(doc + len, "{\"model\": {\"vocab\": {");
    for (int i = 0; i < N_VOCAB; i++)
        len += (size_t)sprintf(doc + len, "%s\n  \"\\u0120tok%d\\u00e9n\": %d", i ? "," : "", i, i);
    len += (size_t)sprintf(doc + len, "}, \"merges\": [");
    for (int i = 0; i < N_MERGES; i++)
        len += (size_t)sprintf(doc + len, "%s\n  \"\xc4\xa0t%d ok%d\"", i ? "," : "", i % 977, i);
    len += (size_t)sprintf(doc + len, "]}}");
    assert_true(len < cap);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    json_reader r;
    json_init(&r, doc, len, 1);
    int outer = 0, model = 0, more;
    char *key, *value;
    int64_t id, n_vocab = 0, n_merges = 0;
    assert_int_equal(json_object_next(&r, &outer, &key), 1);
    mem_free(key);
    while ((more = json_object_next(&r, &model, &key)) == 1) {
        int count = 0;
        if (!strcmp(key, "vocab")) {
            char *token;
            while (json_object_next(&r, &count, &token) == 1) {
                assert_int_equal(json_integer(&r, &id), 0);
                assert_int_equal(id, n_vocab++);
                mem_free(token);
            }
        } else {
            while (json_array_next(&r, &count) == 1) {
                assert_int_equal(json_string(&r, &value), 0);
                n_merges++;
                mem_free(value);
            }
        }
        mem_free(key);
    }
    assert_int_equal(more, 0);
    assert_int_equal(json_object_next(&r, &outer, &key), 0);
    assert_int_equal(json_end(&r), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    print_message("read %.1f MB (%lld keys, %lld strings) in %.3f s\n", (double)len / 1e6,
                  (long long)n_vocab, (long long)n_merges, seconds);
    assert_int_equal(n_vocab, N_VOCAB);
    assert_int_equal(n_merges, N_MERGES);
    assert_true(seconds < 2.0); /* a machine shared with builds reads it in about 0.1 s */
    free(doc);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_strings),    cmocka_unit_test(test_json_skip),
        cmocka_unit_test(test_json_write_string), cmocka_unit_test(test_json_numbers),
        cmocka_unit_test(test_json_integers),   cmocka_unit_test(test_json_bools),
        cmocka_unit_test(test_json_out_of_memory), cmocka_unit_test(test_json_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
