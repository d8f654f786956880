/* The server's own measurements: live HR@10 / NDCG@10 from rank counts
 * (hand-computed), the window of the last ranks, per-batch means equal to
 * the runner's arithmetic, and histogram quantiles. */
#include "test_support.h"

#include "metrics.h"

#include <math.h>
#include <stdlib.h>

static void test_counts_by_hand(void **state) {
    (void)state;
    uint64_t counts[SERVE_MAX_RANK + 1] = {0};
    assert_true(isnan(serve_counts_hr10(counts)));
    /* ranks 1, 3, 10, 11, 100: hits 3 of 5; gains 1 + 1/2 + 1/log2(11) */
    counts[1] = counts[3] = counts[10] = counts[11] = counts[100] = 1;
    assert_close(serve_counts_hr10(counts), 0.6, 1e-15);
    assert_close(serve_counts_ndcg10(counts), (1.0 + 0.5 + 0.28906482631788782) / 5,
                 1e-15);
}

static void test_quality_window_and_batches(void **state) {
    (void)state;
    serve_quality *q = malloc(sizeof *q);
    serve_quality_init(q);
    /* batch 0: ranks 1 and 2, one unranked event */
    serve_quality_add_rank(q, 1);
    serve_quality_add_rank(q, 2);
    serve_quality_add_rank(q, -1);
    serve_quality_end_batch(q, 3, 0.5);
    const serve_batch_stat *b = serve_quality_batch(q, 0);
    assert_non_null(b);
    assert_int_equal(b->events, 3);
    assert_int_equal(b->evaluated, 2);
    assert_close(b->hr10, 1.0, 0);
    assert_close(b->ndcg10, (1.0 + 1.0 / log2(3.0)) / 2, 1e-15);
    assert_int_equal(q->unranked, 1);
    /* fill the window past its size with rank 50: the first two leave it */
    for (int k = 0; k < SERVE_WINDOW; k++) serve_quality_add_rank(q, 50);
    serve_quality_end_batch(q, SERVE_WINDOW, 0.1);
    double hr, ndcg;
    serve_quality_window(q, &hr, &ndcg);
    assert_close(hr, 0.0, 0);
    assert_close(ndcg, 0.0, 0);
    serve_quality_add_rank(q, 4); /* one hit among the last 10,000 */
    serve_quality_window(q, &hr, &ndcg);
    assert_close(hr, 1.0 / SERVE_WINDOW, 1e-15);
    assert_close(ndcg, 1.0 / log2(5.0) / SERVE_WINDOW, 1e-15);
    /* cumulative: 3 hits among 10,003 ranked */
    assert_close(serve_counts_hr10(q->rank_counts), 3.0 / 10003, 1e-15);
    serve_quality_end_batch(q, 1, 0);
    assert_int_equal(serve_quality_batch(q, 2)->evaluated, 1);
    /* a batch with nothing ranked has no means */
    serve_quality_end_batch(q, 0, 0);
    assert_true(isnan(serve_quality_batch(q, 3)->hr10));
    assert_null(serve_quality_batch(q, 4));
    free(q);
}

static void test_histogram_quantiles(void **state) {
    (void)state;
    serve_histogram *h = calloc(1, sizeof *h);
    assert_true(isnan(serve_histogram_quantile(h, 0.5)));
    /* 100 observations of 0.3 ms: all in the (0.25, 0.5] ms bucket */
    for (int k = 0; k < 100; k++) serve_histogram_observe(h, 0.0003);
    assert_int_equal(h->count, 100);
    assert_close(serve_histogram_quantile(h, 0.5), 0.000375, 1e-12);
    /* one slow request moves the top quantile into its own bucket */
    serve_histogram_observe(h, 3.0);
    double p999 = serve_histogram_quantile(h, 0.999);
    assert_true(p999 > 2.5 && p999 <= 5.0);
    serve_histogram_observe(h, 100.0); /* above every bound */
    assert_close(serve_histogram_quantile(h, 0.9999), 30.0, 0);
    free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_by_hand),
        cmocka_unit_test(test_quality_window_and_batches),
        cmocka_unit_test(test_histogram_quantiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
