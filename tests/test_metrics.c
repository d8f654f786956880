/* Ranks and HR, NDCG, MRR and Recall against hand-computed values
 * (protocol.md section 4). */
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
    assert_close(melon_metric_mrr(&s, 0), 0.5 / 5.0, 1e-12);
    int list[2] = {5, 6};
    melon_metric_sums_add_list(&s, list, 2);
    assert_close(melon_metric_recall(&s, 0), 0.5, 1e-12);
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
    assert_close(melon_metric_mrr(&a, 0), (1.0 + 0.5) / 3, 1e-12);
    /* b again, now with a list */
    int list[2] = {3, 30};
    melon_metric_sums_add_list(&b, list, 2);
    melon_metric_sums_merge(&a, &b);
    assert_int_equal(a.count, 5);
    assert_int_equal(a.lists, 1);
    assert_close(melon_metric_recall(&a, 2), 0.5, 1e-12);
}

/* Nothing ranked: every mean is undefined (NaN), not 0. */
static void empty_sums_are_nan(void **state) {
    (void)state;
    melon_metric_sums empty;
    melon_metric_sums_clear(&empty);
    for (int c = 0; c < MELON_N_CUTOFFS; c++) {
        assert_true(isnan(melon_metric_hr(&empty, c)));
        assert_true(isnan(melon_metric_ndcg(&empty, c)));
        assert_true(isnan(melon_metric_mrr(&empty, c)));
        assert_true(isnan(melon_metric_recall(&empty, c)));
    }
    /* ranks without lists: Recall alone is undefined */
    melon_metric_sums_add_rank(&empty, 1);
    assert_close(melon_metric_mrr(&empty, 0), 1.0, 0.0);
    assert_true(isnan(melon_metric_recall(&empty, 0)));
    /* a list without targets adds nothing */
    melon_metric_sums_add_list(&empty, NULL, 0);
    assert_int_equal(empty.lists, 0);
}

/* MRR@k = mean of [r <= k] / r. */
static void mrr_by_hand(void **state) {
    (void)state;
    melon_metric_sums s;
    melon_metric_sums_clear(&s);
    int ranks[5] = {1, 4, 5, 10, 21};
    for (int k = 0; k < 5; k++) melon_metric_sums_add_rank(&s, ranks[k]);
    /* @5: 1 + 1/4 + 1/5 = 1.45; @10: + 1/10 = 1.55; @20: the same (21 is
     * out) */
    assert_close(melon_metric_mrr(&s, 0), 1.45 / 5, 1e-12);
    assert_close(melon_metric_mrr(&s, 1), 1.55 / 5, 1e-12);
    assert_close(melon_metric_mrr(&s, 2), 1.55 / 5, 1e-12);
}

/* Recall@k of a list = share of its targets ranked <= k, averaged over
 * lists (each list weighs the same, whatever its size). */
static void recall_by_hand(void **state) {
    (void)state;
    melon_metric_sums s;
    melon_metric_sums_clear(&s);
    int first[4] = {2, 6, 11, 40};  /* @5 1/4, @10 2/4, @20 3/4 */
    int second[1] = {7};            /* @5 0,   @10 1,   @20 1 */
    melon_metric_sums_add_list(&s, first, 4);
    melon_metric_sums_add_list(&s, second, 1);
    assert_int_equal(s.lists, 2);
    assert_int_equal(s.count, 0);
    assert_close(melon_metric_recall(&s, 0), (0.25 + 0.0) / 2, 1e-12);
    assert_close(melon_metric_recall(&s, 1), (0.5 + 1.0) / 2, 1e-12);
    assert_close(melon_metric_recall(&s, 2), (0.75 + 1.0) / 2, 1e-12);
    /* one target: Recall@k of the list is HR@k of its rank */
    melon_metric_sums one;
    melon_metric_sums_clear(&one);
    melon_metric_sums_add_list(&one, second, 1);
    melon_metric_sums_add_rank(&one, second[0]);
    for (int c = 0; c < MELON_N_CUTOFFS; c++)
        assert_close(melon_metric_recall(&one, c), melon_metric_hr(&one, c),
                     0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rank_counts_higher_and_ties_against_positive),
        cmocka_unit_test(constant_model_ranks_last),
        cmocka_unit_test(nan_positive_ranks_last_and_nan_negative_counts_against),
        cmocka_unit_test(hr_and_ndcg_by_hand),
        cmocka_unit_test(cutoff_is_inclusive),
        cmocka_unit_test(merge_adds_sums_and_counts),
        cmocka_unit_test(empty_sums_are_nan),
        cmocka_unit_test(mrr_by_hand),
        cmocka_unit_test(recall_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
