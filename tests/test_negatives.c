/* Pair index, causal training negatives and evaluation negatives. */
#include "test_support.h"

#include "melon/negatives.h"

#include <stdlib.h>
#include <string.h>

/* A hand-built stream over `n_users` x `n_items` from (user, item) pairs. */
typedef struct {
    melon_stream stream;
    int32_t user[4096];
    int32_t item[4096];
    double time[4096];
} tiny_stream;

static char *user_names[3] = {"alice", "bob", "carol"};

static void tiny_init(tiny_stream *t, int32_t n_users, int32_t n_items) {
    memset(t, 0, sizeof *t);
    t->stream.n_users = n_users;
    t->stream.n_items = n_items;
    t->stream.user = t->user;
    t->stream.item = t->item;
    t->stream.time = t->time;
    t->stream.user_name = n_users <= 3 ? user_names : NULL;
}

static void tiny_add(tiny_stream *t, int32_t user, int32_t item) {
    size_t p = t->stream.n++;
    assert_true(p < 4096);
    t->user[p] = user;
    t->item[p] = item;
    t->time[p] = (double)p;
}

/* Positions: 0 (0,0) 1 (1,1) 2 (0,1) 3 (0,2) 4 (1,3) 5 (0,3) 6 (1,1) again,
 * then user 2 takes every item at 7..11. Five items. */
static void small_case(tiny_stream *t) {
    tiny_init(t, 3, 5);
    tiny_add(t, 0, 0);
    tiny_add(t, 1, 1);
    tiny_add(t, 0, 1);
    tiny_add(t, 0, 2);
    tiny_add(t, 1, 3);
    tiny_add(t, 0, 3);
    tiny_add(t, 1, 1);
    for (int32_t i = 0; i < 5; i++) tiny_add(t, 2, i);
}

static void test_pair_index(void **state) {
    (void)state;
    tiny_stream t;
    small_case(&t);
    melon_pair_index index;
    melon_err err;
    assert_int_equal(melon_pair_index_build(&index, &t.stream, &err), 0);
    assert_int_equal(index.n_pairs, 11); /* 12 positions, one repeat */
    assert_int_equal(melon_pair_first(&index, 0, 0), 0);
    assert_int_equal(melon_pair_first(&index, 0, 1), 2);
    assert_int_equal(melon_pair_first(&index, 1, 1), 1); /* not 6 */
    assert_int_equal(melon_pair_first(&index, 2, 4), 11);
    assert_int_equal(melon_pair_first(&index, 0, 4), UINT32_MAX);
    assert_int_equal(melon_pair_first(&index, 1, 0), UINT32_MAX);
    assert_int_equal(melon_pair_first(&index, -1, 0), UINT32_MAX);
    assert_int_equal(index.user_distinct[0], 4);
    assert_int_equal(index.user_distinct[1], 2);
    assert_int_equal(index.user_distinct[2], 5);
    /* each user's distinct items in order of first interaction */
    static const int32_t want[11] = {0, 1, 2, 3, 1, 3, 0, 1, 2, 3, 4};
    static const int start[4] = {0, 4, 6, 11};
    for (int u = 0; u < 3; u++)
        assert_memory_equal(index.user_items[u], want + start[u],
                            (size_t)(start[u + 1] - start[u]) * sizeof *want);
    melon_pair_index_free(&index);

    t.item[3] = 9; /* out of range */
    assert_int_equal(melon_pair_index_build(&index, &t.stream, &err), -1);
    assert_non_null(strstr(err.msg, "position 3"));
}

/* Draws many training negatives and counts how often each item comes. */
static void count_train(const melon_pair_index *index, int32_t user,
                        size_t end, int draws, int *counts) {
    melon_rng rng;
    melon_rng_seed(&rng, 42);
    memset(counts, 0, (size_t)index->n_items * sizeof *counts);
    for (int d = 0; d < draws; d++) {
        int32_t item = melon_sample_train_negative(index, &rng, user, end);
        assert_true(item >= 0 && item < index->n_items);
        counts[item]++;
    }
}

static void test_train_negatives_are_causal(void **state) {
    (void)state;
    tiny_stream t;
    small_case(&t);
    melon_pair_index index;
    melon_err err;
    assert_int_equal(melon_pair_index_build(&index, &t.stream, &err), 0);
    int counts[5];
    /* before position 2, user 0 has only item 0: item 1 (seen at 2) and
     * item 3 (seen at 5) are allowed */
    count_train(&index, 0, 2, 4000, counts);
    assert_int_equal(counts[0], 0);
    for (int i = 1; i < 5; i++) assert_true(counts[i] > 800);
    /* before 4: items 0, 1, 2 seen; 3 (seen later, at 5) and 4 allowed */
    count_train(&index, 0, 4, 4000, counts);
    assert_int_equal(counts[0] + counts[1] + counts[2], 0);
    assert_true(counts[3] > 1700 && counts[4] > 1700);
    /* before the end: only item 4 */
    count_train(&index, 0, t.stream.n, 100, counts);
    assert_int_equal(counts[4], 100);
    /* user 2 before 11 has items 0..3: only 4 is left (enumeration path) */
    count_train(&index, 2, 11, 100, counts);
    assert_int_equal(counts[4], 100);
    /* user 2 before 12 has every item */
    melon_rng rng;
    melon_rng_seed(&rng, 1);
    assert_int_equal(melon_sample_train_negative(&index, &rng, 2, 12), -1);
    assert_int_equal(melon_sample_train_negative(&index, &rng, 2, 100), -1);
    /* at position 0 nothing is seen yet: even item 0 is allowed for user 0 */
    count_train(&index, 0, 0, 1000, counts);
    assert_true(counts[0] > 100);
    melon_pair_index_free(&index);
}

/* Chi-square of counts against a uniform spread over the allowed items. */
static double chi_square(const int *counts, const int *allowed, int n_allowed,
                         int draws) {
    double expected = (double)draws / n_allowed, chi2 = 0.0;
    for (int k = 0; k < n_allowed; k++) {
        double d = counts[allowed[k]] - expected;
        chi2 += d * d / expected;
    }
    return chi2;
}

static void test_train_negatives_are_uniform(void **state) {
    (void)state;
    /* 10 items, user 0 saw 0, 1, 2: 7 allowed; mostly rejection */
    tiny_stream t;
    tiny_init(&t, 1, 10);
    for (int32_t i = 0; i < 3; i++) tiny_add(&t, 0, i);
    melon_pair_index index;
    melon_err err;
    assert_int_equal(melon_pair_index_build(&index, &t.stream, &err), 0);
    int counts[100];
    count_train(&index, 0, 3, 70000, counts);
    int allowed[7] = {3, 4, 5, 6, 7, 8, 9};
    /* 6 degrees of freedom: P(chi2 > 40) is about 5e-7 */
    assert_true(chi_square(counts, allowed, 7, 70000) < 40.0);
    melon_pair_index_free(&index);

    /* 100 items, user 0 saw 95: 5 allowed; rejection often runs out of
     * tries (0.95^64 = 3.7%) and enumeration takes over: still uniform */
    tiny_init(&t, 1, 100);
    for (int32_t i = 0; i < 95; i++) tiny_add(&t, 0, (i * 37) % 100);
    assert_int_equal(melon_pair_index_build(&index, &t.stream, &err), 0);
    count_train(&index, 0, t.stream.n, 50000, counts);
    int n_allowed = 0, allowed100[5];
    for (int32_t i = 0; i < 100; i++) {
        if (melon_pair_first(&index, 0, i) == UINT32_MAX)
            allowed100[n_allowed++] = i;
        else
            assert_int_equal(counts[i], 0);
    }
    assert_int_equal(n_allowed, 5);
    /* 4 degrees of freedom: P(chi2 > 35) is about 5e-7 */
    assert_true(chi_square(counts, allowed100, 5, 50000) < 35.0);
    melon_pair_index_free(&index);
}

/* 1000 items: alice saw 50 (rejection path), bob 850 (150 free:
 * enumeration path), carol 950 (50 free: too few). */
static void eval_case(tiny_stream *t) {
    tiny_init(t, 3, 1000);
    for (int32_t i = 0; i < 50; i++) tiny_add(t, 0, i * 20);
    for (int32_t i = 0; i < 850; i++) tiny_add(t, 1, (i * 7) % 1000);
    for (int32_t i = 0; i < 950; i++) tiny_add(t, 2, i);
}

static void assert_valid_negatives(const melon_pair_index *index,
                                   int32_t user, const int32_t *neg) {
    for (int a = 0; a < MELON_EVAL_NEGATIVES; a++) {
        assert_true(neg[a] >= 0 && neg[a] < index->n_items);
        assert_int_equal(melon_pair_first(index, user, neg[a]), UINT32_MAX);
        for (int b = 0; b < a; b++) assert_int_not_equal(neg[a], neg[b]);
    }
}

static void test_eval_negatives(void **state) {
    (void)state;
    static tiny_stream t;
    eval_case(&t);
    melon_pair_index index;
    melon_err err;
    assert_int_equal(melon_pair_index_build(&index, &t.stream, &err), 0);
    const int32_t users[4] = {0, 1, 0, 1};
    int32_t first[4 * 99], again[4 * 99], other_seed[4 * 99],
        other_batch[4 * 99], prefix[1 * 99];
    assert_int_equal(melon_sample_eval_negatives(&index, 5, 3, users, 4, 99,
                                                 first, &err), 0);
    for (int k = 0; k < 4; k++)
        assert_valid_negatives(&index, users[k], first + k * 99);
    /* the same seed and batch give the same lists */
    assert_int_equal(melon_sample_eval_negatives(&index, 5, 3, users, 4, 99,
                                                 again, &err), 0);
    assert_memory_equal(first, again, sizeof first);
    /* the list of interaction k does not depend on the others */
    assert_int_equal(melon_sample_eval_negatives(&index, 5, 3, users, 1, 99,
                                                 prefix, &err), 0);
    assert_memory_equal(first, prefix, sizeof prefix);
    /* another seed, another batch, another position: other lists */
    assert_int_equal(melon_sample_eval_negatives(&index, 6, 3, users, 4, 99,
                                                 other_seed, &err), 0);
    assert_int_equal(melon_sample_eval_negatives(&index, 5, 4, users, 4, 99,
                                                 other_batch, &err), 0);
    for (int k = 0; k < 4; k++) {
        assert_memory_not_equal(first + k * 99, other_seed + k * 99,
                                99 * sizeof(int32_t));
        assert_memory_not_equal(first + k * 99, other_batch + k * 99,
                                99 * sizeof(int32_t));
    }
    assert_memory_not_equal(first, first + 2 * 99, 99 * sizeof(int32_t));
    melon_pair_index_free(&index);
}

static void test_eval_negatives_too_few_items(void **state) {
    (void)state;
    static tiny_stream t;
    eval_case(&t);
    melon_pair_index index;
    melon_err err;
    assert_int_equal(melon_pair_index_build(&index, &t.stream, &err), 0);
    const int32_t users[2] = {0, 2};
    int32_t out[2 * 99];
    assert_int_equal(melon_sample_eval_negatives(&index, 1, 0, users, 2, 99, out,
                                                 &err), -1);
    assert_non_null(strstr(err.msg, "user 'carol'"));
    assert_non_null(strstr(err.msg, "950 of the 1000 items"));
    assert_non_null(strstr(err.msg, "leaving 50"));
    /* exactly 99 free items is enough: all of them come back */
    static tiny_stream edge;
    tiny_init(&edge, 1, 120);
    for (int32_t i = 0; i < 21; i++) tiny_add(&edge, 0, i);
    melon_pair_index edge_index;
    assert_int_equal(melon_pair_index_build(&edge_index, &edge.stream, &err),
                     0);
    const int32_t only[1] = {0};
    assert_int_equal(melon_sample_eval_negatives(&edge_index, 1, 0, only, 1, 99,
                                                 out, &err), 0);
    assert_valid_negatives(&edge_index, 0, out);
    melon_pair_index_free(&edge_index);
    melon_pair_index_free(&index);
}

/* Negatives drawn as a live system can: from the items the user has not
 * interacted with before `end`. User 0 takes items 0..19 at positions
 * 0..19 and items 20..39 at 20..39, among 120 items. */
static void test_eval_negatives_before(void **state) {
    (void)state;
    static tiny_stream t;
    tiny_init(&t, 1, 120);
    for (int32_t i = 0; i < 40; i++) tiny_add(&t, 0, i);
    melon_pair_index index;
    melon_err err;
    assert_int_equal(melon_pair_index_build(&index, &t.stream, &err), 0);
    assert_int_equal(melon_pair_count_before(&index, 0, 20), 20);
    assert_int_equal(melon_pair_count_before(&index, 0, 0), 0);
    assert_int_equal(melon_pair_count_before(&index, 0, SIZE_MAX), 40);
    const int32_t users[1] = {0};
    int32_t out[99];
    /* never: 80 free items, fewer than 99 */
    assert_int_equal(melon_sample_eval_negatives(&index, 1, 0, users, 1, 99, out,
                                                 &err), -1);
    assert_non_null(strstr(err.msg, "interacts with 40 of the 120 items,"));
    /* before position 20: exactly the 100 items 20..119 are free */
    assert_int_equal(melon_sample_eval_negatives_before(&index, 1, 0, users, 1, 99,
                                                        20, out, &err), 0);
    int taken[120] = {0}, later = 0;
    for (int k = 0; k < 99; k++) {
        assert_true(out[k] >= 20 && out[k] < 120);
        assert_int_equal(taken[out[k]]++, 0);
        later += out[k] < 40;
    }
    assert_true(later >= 19); /* 99 of 100: at most one of 20..39 is left out */
    /* before 30: 90 free, too few, and the message says "up to this batch" */
    assert_int_equal(melon_sample_eval_negatives_before(&index, 1, 0, users, 1, 99,
                                                        30, out, &err), -1);
    assert_non_null(strstr(err.msg, "30 of the 120 items up to this batch"));
    melon_pair_index_free(&index);
}

/* Every item is equally likely to be among a user's 99 negatives. */
static void test_eval_negatives_are_uniform(void **state) {
    (void)state;
    static tiny_stream t;
    tiny_init(&t, 1, 2000);
    tiny_add(&t, 0, 0);
    melon_pair_index index;
    melon_err err;
    assert_int_equal(melon_pair_index_build(&index, &t.stream, &err), 0);
    enum { ROUNDS = 200 };
    static int32_t users[ROUNDS], out[ROUNDS * 99];
    static int counts[2000];
    assert_int_equal(melon_sample_eval_negatives(&index, 9, 0, users, ROUNDS, 99,
                                                 out, &err), 0);
    for (size_t k = 0; k < ROUNDS * 99; k++) counts[out[k]]++;
    assert_int_equal(counts[0], 0);
    static int allowed[1999];
    for (int k = 0; k < 1999; k++) allowed[k] = k + 1;
    /* 1998 degrees of freedom: mean 1998, sd about 63; bound at +6 sd */
    double chi2 = chi_square(counts, allowed, 1999, ROUNDS * 99);
    assert_true(chi2 < 1998 + 6 * 63);
    assert_true(chi2 > 1998 - 6 * 63);
    melon_pair_index_free(&index);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_index),
        cmocka_unit_test(test_train_negatives_are_causal),
        cmocka_unit_test(test_train_negatives_are_uniform),
        cmocka_unit_test(test_eval_negatives),
        cmocka_unit_test(test_eval_negatives_too_few_items),
        cmocka_unit_test(test_eval_negatives_before),
        cmocka_unit_test(test_eval_negatives_are_uniform),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
