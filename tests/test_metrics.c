/* test_metrics.c — ROUGE-L F1 over token ids (apps/cli/metrics.c), against
 * values worked out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "metrics.h"

static void test_identical(void **state) {
    (void)state;
    const int32_t a[] = {5, 6, 7, 8};
    assert_float_equal(rouge_l_f1(a, 4, a, 4), 1.0, 1e-12);
}

static void test_disjoint(void **state) {
    (void)state;
    const int32_t a[] = {1, 2, 3}, b[] = {4, 5};
    assert_float_equal(rouge_l_f1(a, 3, b, 2), 0.0, 1e-12);
}

static void test_empty(void **state) {
    (void)state;
    const int32_t a[] = {1};
    assert_float_equal(rouge_l_f1(a, 0, a, 0), 1.0, 1e-12);
    assert_float_equal(rouge_l_f1(a, 1, a, 0), 0.0, 1e-12);
    assert_float_equal(rouge_l_f1(a, 0, a, 1), 0.0, 1e-12);
}

static void test_subsequence(void **state) {
    (void)state;
    /* LCS of "1 2 3 4 5" and "1 3 9 5" is "1 3 5": P = 3/4, R = 3/5,
     * F1 = 2 * 0.75 * 0.6 / 1.35 = 2/3 */
    const int32_t ref[] = {1, 2, 3, 4, 5}, cand[] = {1, 3, 9, 5};
    assert_float_equal(rouge_l_f1(ref, 5, cand, 4), 2.0 / 3.0, 1e-12);
    /* F1 is symmetric in its arguments */
    assert_float_equal(rouge_l_f1(cand, 4, ref, 5), 2.0 / 3.0, 1e-12);
}

static void test_order_matters(void **state) {
    (void)state;
    /* same tokens, reversed: the LCS is one token long */
    const int32_t a[] = {1, 2, 3, 4}, b[] = {4, 3, 2, 1};
    assert_float_equal(rouge_l_f1(a, 4, b, 4), 0.25, 1e-12);
}

static void test_repeats(void **state) {
    (void)state;
    /* LCS of "7 7 7" and "7 8 7" is "7 7": F1 = 2/3 */
    const int32_t a[] = {7, 7, 7}, b[] = {7, 8, 7};
    assert_float_equal(rouge_l_f1(a, 3, b, 3), 2.0 / 3.0, 1e-12);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical),   cmocka_unit_test(test_disjoint),      cmocka_unit_test(test_empty),
        cmocka_unit_test(test_subsequence), cmocka_unit_test(test_order_matters), cmocka_unit_test(test_repeats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
