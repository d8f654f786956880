/* Ranks and HR/NDCG against hand-computed values (protocol.md section 4). */
#include "test_support.h"

#include "melon/metrics.h"

#include <math.h>

static void rank_counts_higher_and_ties_against_positive(void **state) {
    (void)state;
    float neg[5] = {0.1f, 0.9f, 0.5f, 0.5f, -2.0f};
    /* higher: 0.9 -> 1; equal: 0.5, 0.5 -> 2; rank = 1 + 1 + 2 = 4 */
    assert_int_equal(melon_rank(0.5f, neg, 5), 4);
    assert_int_equal(melon_rank(1.0f, neg, 5), 1);
    assert_int_equal(melon_rank(-3.0f, neg, 5), 6);
}

static void constant_model_ranks_last(void **state) {
    (void)state;
    float neg[99];
    for (int k = 0; k < 99; k++) neg[k] = 0.25f;
    assert_int_equal(melon_rank(0.25f, neg, 99), 100);
}

static void nan_positive_ranks_last_and_nan_negative_counts_against(void **state) {
    (void)state;
    float neg[3] = {0.0f, NAN, -1.0f};
    assert_int_equal(melon_rank(NAN, neg, 3), 4);
    assert_int_equal(melon_rank(0.5f, neg, 3), 2);
}

static void hr_and_ndcg_by_hand(void **state) {
    (void)state;
    melon_metric_sums s;
    melon_metric_sums_clear(&s);
    /* ranks 1, 3, 7, 15, 40 */
    int ranks[5] = {1, 3, 7, 15, 40};
    for (int k = 0; k < 5; k++) melon_metric_sums_add_rank(&s, ranks[k]);
    /* HR@5: ranks 1, 3 -> 2/5; HR@10: + 7 -> 3/5; HR@20: + 15 -> 4/5 */
    assert_close(melon_metric_hr(&s, 0), 0.4, 1e-12);
    assert_close(melon_metric_hr(&s, 1), 0.6, 1e-12);
    assert_close(melon_metric_hr(&s, 2), 0.8, 1e-12);
    /* NDCG: 1/log2(2) = 1, 1/log2(4) = 0.5, 1/log2(8) = 1/3, 1/log2(16) = 0.25 */
    assert_close(melon_metric_ndcg(&s, 0), (1.0 + 0.5) / 5, 1e-12);
    assert_close(melon_metric_ndcg(&s, 1), (1.0 + 0.5 + 1.0 / 3) / 5, 1e-12);
    assert_close(melon_metric_ndcg(&s, 2), (1.0 + 0.5 + 1.0 / 3 + 0.25) / 5,
                        1e-12);
}

static void cutoff_is_inclusive(void **state) {
    (void)state;
    melon_metric_sums s;
    melon_metric_sums_clear(&s);
    melon_metric_sums_add_rank(&s, 5);
    melon_metric_sums_add_rank(&s, 6);
    assert_close(melon_metric_hr(&s, 0), 0.5, 1e-12);
    assert_close(melon_metric_ndcg(&s, 0), 0.5 / log2(6.0), 1e-12);
}

static void merge_adds_sums_and_counts(void **state) {
    (void)state;
    melon_metric_sums a, b;
    melon_metric_sums_clear(&a);
    melon_metric_sums_clear(&b);
    melon_metric_sums_add_rank(&a, 1);
    melon_metric_sums_add_rank(&b, 100);
    melon_metric_sums_add_rank(&b, 2);
    melon_metric_sums_merge(&a, &b);
    assert_int_equal(a.count, 3);
    assert_close(melon_metric_hr(&a, 2), 2.0 / 3, 1e-12);
    assert_close(melon_metric_ndcg(&a, 1), (1.0 + 1.0 / log2(3.0)) / 3, 1e-12);
    melon_metric_sums empty;
    melon_metric_sums_clear(&empty);
    assert_close(melon_metric_hr(&empty, 0), 0.0, 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rank_counts_higher_and_ties_against_positive),
        cmocka_unit_test(constant_model_ranks_last),
        cmocka_unit_test(nan_positive_ranks_last_and_nan_negative_counts_against),
        cmocka_unit_test(hr_and_ndcg_by_hand),
        cmocka_unit_test(cutoff_is_inclusive),
        cmocka_unit_test(merge_adds_sums_and_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
