/* Mean, standard error and the paired t-test against hand-computed values. */
#include "test_support.h"

#include "melon/stats.h"

#include <math.h>

static void mean_and_standard_error_by_hand(void **state) {
    (void)state;
    double x[4] = {1.0, 2.0, 4.0, 5.0};
    assert_close(melon_mean(x, 4), 3.0, 1e-15);
    /* sample variance (4 + 1 + 1 + 4) / 3 = 10/3; se = sqrt(10/3 / 4) */
    assert_close(melon_standard_error(x, 4), sqrt(10.0 / 12.0), 1e-15);
    assert_close(melon_standard_error(x, 1), 0.0, 0.0);
}

static void median_by_hand(void **state) {
    (void)state;
    double odd[5] = {5.0, -1.0, 3.0, 2.0, 4.0};   /* sorted: -1 2 3 4 5 */
    assert_close(melon_median(odd, 5), 3.0, 0.0);
    assert_close(odd[0], -1.0, 0.0);                /* sorted in place */
    assert_close(odd[4], 5.0, 0.0);
    double even[4] = {10.0, 1.0, 4.0, 2.0};        /* sorted: 1 2 4 10 */
    assert_close(melon_median(even, 4), 3.0, 0.0);
    assert_close(melon_median(even, 0), 0.0, 0.0);
}

/* Differences 1, 2, 3, 4, 5: mean 3, sd sqrt(2.5), se sqrt(0.5),
 * t = 3 / sqrt(0.5) = 4.2426; two-sided p with 4 degrees of freedom is
 * 0.013236 (from the t distribution's tables). */
static void paired_t_test_by_hand(void **state) {
    (void)state;
    double a[5] = {11, 22, 33, 44, 55}, b[5] = {10, 20, 30, 40, 50};
    melon_paired_test t = melon_paired_t_test(a, b, 5);
    assert_close(t.mean_difference, 3.0, 1e-12);
    assert_close(t.t, 3.0 / sqrt(0.5), 1e-9);
    assert_close(t.p_two_sided, 0.013236, 2e-6);
    /* swapping the order flips t, keeps p */
    melon_paired_test u = melon_paired_t_test(b, a, 5);
    assert_close(u.t, -t.t, 1e-12);
    assert_close(u.p_two_sided, t.p_two_sided, 1e-12);
}

static void degenerate_cases(void **state) {
    (void)state;
    double a[3] = {1, 2, 3}, b[3] = {1, 2, 3}, c[3] = {0, 1, 2};
    assert_close(melon_paired_t_test(a, b, 3).p_two_sided, 1.0, 0.0);
    assert_close(melon_paired_t_test(a, c, 3).p_two_sided, 0.0, 0.0);
    assert_close(melon_paired_t_test(a, c, 1).p_two_sided, 1.0, 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mean_and_standard_error_by_hand),
        cmocka_unit_test(median_by_hand),
        cmocka_unit_test(paired_t_test_by_hand),
        cmocka_unit_test(degenerate_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
