/* test_pretokenize.c — byte-level BPE's pre-tokenizers (pretokenize.c) cut
 * text into the words that the regular expressions they stand for match (the
 * expected words come from Python's regex module running those expressions),
 * and the Unicode categories and UTF-8 they rest on (unicode.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model/pretokenize.h"
#include "model/unicode.h"

typedef struct split_case {
    pretokenize_rule rule;
    const char *text;
    const char *words[16]; /* NULL-terminated */
} split_case;

static const split_case cases[] = {
    {PRETOKENIZE_GPT2, "Hello world's 12345  \n\n x",
     {"Hello", " world", "'s", " 12345", "  \n\n", " x"}},
    {PRETOKENIZE_GPT2, "I'LL go\t(now)!!\r\n\r\nok",
     {"I", "'", "LL", " go", "\t", "(", "now", ")!!", "\r\n\r", "\n", "ok"}},
    {PRETOKENIZE_GPT2, "  \xf0\x9f\xa6\x99 x1.5e10  ",
     {" ", " \xf0\x9f\xa6\x99", " x", "1", ".", "5", "e", "10", "  "}},
    {PRETOKENIZE_GPT2, "\xc3\x9f \xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4 \xe4\xb8\xad\xe6\x96\x87\xe3\x80\x80" "end",
     {"\xc3\x9f", " \xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4", " \xe4\xb8\xad\xe6\x96\x87", "\xe3\x80\x80", "end"}},

    {PRETOKENIZE_STARCODER, "Hello world's 12345  \n\n x",
     {"Hello", " world", "'s", " ", "1", "2", "3", "4", "5", "  \n\n", " x"}},
    {PRETOKENIZE_STARCODER, "  \xf0\x9f\xa6\x99 x1.5e10  ",
     {" ", " \xf0\x9f\xa6\x99", " x", "1", ".", "5", "e", "1", "0", "  "}},
    {PRETOKENIZE_STARCODER, "\xc3\x9f \xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4 \xe4\xb8\xad\xe6\x96\x87\xe3\x80\x80" "end",
     {"\xc3\x9f", " ", "\xd9\xa1", "\xd9\xa2", "\xd9\xa3", "\xd9\xa4", " \xe4\xb8\xad\xe6\x96\x87",
      "\xe3\x80\x80", "end"}},

    {PRETOKENIZE_LLAMA3, "Hello world's 12345  \n\n x",
     {"Hello", " world", "'s", " ", "123", "45", "  \n\n", " x"}},
    {PRETOKENIZE_LLAMA3, "I'LL go\t(now)!!\r\n\r\nok", {"I", "'LL", " go", "\t", "(now", ")!!\r\n\r\n", "ok"}},
    {PRETOKENIZE_LLAMA3, "  \xf0\x9f\xa6\x99 x1.5e10  ",
     {" ", " \xf0\x9f\xa6\x99", " x", "1", ".", "5", "e", "10", "  "}},
    {PRETOKENIZE_LLAMA3, "\xc3\x9f \xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4 \xe4\xb8\xad\xe6\x96\x87\xe3\x80\x80" "end",
     {"\xc3\x9f", " ", "\xd9\xa1\xd9\xa2\xd9\xa3", "\xd9\xa4", " \xe4\xb8\xad\xe6\x96\x87", "\xe3\x80\x80" "end"}},

    {PRETOKENIZE_QWEN2, "Hello world's 12345  \n\n x",
     {"Hello", " world", "'s", " ", "1", "2", "3", "4", "5", "  \n\n", " x"}},
    {PRETOKENIZE_QWEN2, "I'LL go\t(now)!!\r\n\r\nok", {"I", "'LL", " go", "\t", "(now", ")!!\r\n\r\n", "ok"}},
};

static void test_splits(void **state) {
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const split_case *sc = &cases[c];
        uint32_t cps[64];
        size_t n = 0, len = strlen(sc->text);
        for (size_t i = 0; i < len; n++) {
            size_t k = utf8_decode((const uint8_t *)sc->text + i, len - i, &cps[n]);
            assert_true(k > 0 && n < 64);
            i += k;
        }
        int w = 0;
        for (size_t pos = 0; pos < n; w++) {
            size_t end = pretokenize_word_end(sc->rule, cps, pos, n);
            assert_true(end > pos && end <= n);
            char word[64];
            size_t k = 0;
            for (size_t i = pos; i < end; i++) k += utf8_encode(cps[i], word + k);
            word[k] = 0;
            if (!sc->words[w] || strcmp(word, sc->words[w]) != 0)
                fail_msg("case %zu, word %d: got \"%s\", expected \"%s\"", c, w, word,
                         sc->words[w] ? sc->words[w] : "(end)");
            pos = end;
        }
        if (sc->words[w]) fail_msg("case %zu: only %d words", c, w);
    }
}

static void test_names(void **state) {
    (void)state;
    const pretokenizer *p = pretokenizer_find("llama-bpe", 9);
    assert_non_null(p);
    assert_int_equal(p->rule, PRETOKENIZE_LLAMA3);
    assert_true(p->ignore_merges && p->add_bos);
    assert_int_equal(pretokenizer_find("qwen2", 5)->rule, PRETOKENIZE_QWEN2);
    assert_int_equal(pretokenizer_find("gpt-2", 5)->rule, PRETOKENIZE_GPT2);
    assert_int_equal(pretokenizer_find("default", 7)->rule, PRETOKENIZE_GPT2);
    static const char *const digits_apart[] = {"starcoder", "refact", "smollm"};
    for (size_t i = 0; i < sizeof digits_apart / sizeof digits_apart[0]; i++) {
        p = pretokenizer_find(digits_apart[i], strlen(digits_apart[i]));
        assert_non_null(p);
        assert_int_equal(p->rule, PRETOKENIZE_STARCODER);
    }
    assert_null(pretokenizer_find("qwen", 4));     /* a prefix is not a name */
    assert_null(pretokenizer_find("qwen2x", 6));
    assert_null(pretokenizer_find("", 0));
}

static void test_categories(void **state) {
    (void)state;
    static const struct {
        uint32_t cp;
        unicode_category category;
    } expected[] = {
        {'a', UNICODE_LETTER},     {'Z', UNICODE_LETTER},      {0xdf, UNICODE_LETTER},   /* ß */
        {0x4e2d, UNICODE_LETTER},  {0x1f999, UNICODE_OTHER},   /* 中, the llama emoji */
        {'0', UNICODE_NUMBER},     {0x663, UNICODE_NUMBER},    {0xbd, UNICODE_NUMBER},   /* ٣, ½ */
        {0x2160, UNICODE_NUMBER},  /* Ⅰ */
        {' ', UNICODE_SPACE},      {'\t', UNICODE_SPACE},      {'\r', UNICODE_SPACE},
        {0x85, UNICODE_SPACE},     {0xa0, UNICODE_SPACE},      {0x3000, UNICODE_SPACE},
        {0x2028, UNICODE_SPACE},   {0x1c, UNICODE_OTHER},      /* not White_Space */
        {0x200b, UNICODE_OTHER},   {0x180e, UNICODE_OTHER},    /* zero width: not white space */
        {'.', UNICODE_OTHER},      {0x301, UNICODE_OTHER},     {0x378, UNICODE_OTHER},   /* mark, unassigned */
        {0x10ffff, UNICODE_OTHER}, {0x110000, UNICODE_OTHER},
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        if (unicode_category_of(expected[i].cp) != expected[i].category)
            fail_msg("U+%04X has category %d, expected %d", expected[i].cp,
                     unicode_category_of(expected[i].cp), expected[i].category);
}

/* Every scalar value encodes to UTF-8 that decodes back to it; surrogates'
 * encodings are refused. */
static void test_utf8(void **state) {
    (void)state;
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        char s[4];
        size_t len = utf8_encode(cp, s);
        assert_int_equal(len, utf8_length(cp));
        uint32_t back = 0xffffffff;
        size_t k = utf8_decode((const uint8_t *)s, len, &back);
        if (cp >= 0xd800 && cp <= 0xdfff) {
            assert_int_equal(k, 0);
        } else if (k != len || back != cp) {
            fail_msg("U+%04X does not round-trip", cp);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_splits),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_categories),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
