/* The growing interaction history: appends in stream order, counts before a
 * position, repeats kept, out-of-order appends refused. */
#include "test_support.h"

#include "melon/history.h"

#include <stdlib.h>
#include <string.h>

/* Positions: 0 (u0,i1) 1 (u1,i1) 2 (u0,i2) 3 (u0,i1) repeat 4 (u2,i3)
 * 5 (u1,i0). */
static int32_t users[6] = {0, 1, 0, 0, 2, 1};
static int32_t items[6] = {1, 1, 2, 1, 3, 0};
static double times[6] = {1, 2, 3, 4, 5, 6};

static melon_stream small_stream(void) {
    melon_stream s;
    memset(&s, 0, sizeof s);
    s.n = 6;
    s.n_users = 3;
    s.n_items = 4;
    s.user = users;
    s.item = items;
    s.time = times;
    return s;
}

static void assert_edges(const melon_adjacency *adj, uint32_t len,
                         const int32_t *other, const uint32_t *pos) {
    assert_int_equal(adj->len, len);
    for (uint32_t k = 0; k < len; k++) {
        assert_int_equal(adj->other[k], other[k]);
        assert_int_equal(adj->pos[k], pos[k]);
    }
}

static void test_append_in_order(void **state) {
    (void)state;
    melon_stream s = small_stream();
    melon_history h;
    melon_err err;
    assert_int_equal(melon_history_init(&h, 3, 4, &err), 0);
    assert_int_equal(melon_history_append(&h, &s, 0, 3, &err), 0);
    assert_int_equal(h.appended_until, 3);
    assert_int_equal(h.n_edges, 3);
    assert_edges(&h.user_items[0], 2, (int32_t[]){1, 2}, (uint32_t[]){0, 2});
    assert_edges(&h.item_users[1], 2, (int32_t[]){0, 1}, (uint32_t[]){0, 1});
    assert_int_equal(h.item_users[0].len, 0);
    /* an empty append is fine */
    assert_int_equal(melon_history_append(&h, &s, 3, 3, &err), 0);
    assert_int_equal(melon_history_append(&h, &s, 3, 6, &err), 0);
    assert_int_equal(h.appended_until, 6);
    assert_int_equal(h.n_edges, 6);
    /* the repeat (u0, i1) at 3 is kept as its own edge */
    assert_edges(&h.user_items[0], 3, (int32_t[]){1, 2, 1},
                 (uint32_t[]){0, 2, 3});
    assert_edges(&h.item_users[1], 3, (int32_t[]){0, 1, 0},
                 (uint32_t[]){0, 1, 3});
    assert_edges(&h.user_items[1], 2, (int32_t[]){1, 0}, (uint32_t[]){1, 5});
    assert_edges(&h.user_items[2], 1, (int32_t[]){3}, (uint32_t[]){4});
    assert_edges(&h.item_users[0], 1, (int32_t[]){1}, (uint32_t[]){5});
    assert_edges(&h.item_users[3], 1, (int32_t[]){2}, (uint32_t[]){4});
    melon_history_free(&h);
    melon_history_free(&h); /* freeing twice is harmless */
}

static void test_count_before(void **state) {
    (void)state;
    melon_stream s = small_stream();
    melon_history h;
    melon_err err;
    assert_int_equal(melon_history_init(&h, 3, 4, &err), 0);
    assert_int_equal(melon_history_append(&h, &s, 0, 6, &err), 0);
    const melon_adjacency *u0 = &h.user_items[0]; /* positions 0, 2, 3 */
    static const uint32_t expected[8] = {0, 1, 1, 2, 3, 3, 3, 3};
    for (size_t before = 0; before < 8; before++)
        assert_int_equal(melon_history_count_before(u0, before),
                         expected[before]);
    assert_int_equal(melon_history_count_before(u0, (size_t)1 << 40), 3);
    const melon_adjacency *i0 = &h.item_users[0]; /* position 5 */
    assert_int_equal(melon_history_count_before(i0, 5), 0);
    assert_int_equal(melon_history_count_before(i0, 6), 1);
    const melon_adjacency *i2 = &h.item_users[2];
    assert_int_equal(melon_history_count_before(i2, 2), 0);
    assert_int_equal(melon_history_count_before(i2, 3), 1);
    assert_int_equal(melon_history_count_before(NULL, 3), 0);
    melon_history_free(&h);
}

static void test_out_of_order_append(void **state) {
    (void)state;
    melon_stream s = small_stream();
    melon_history h;
    melon_err err;
    assert_int_equal(melon_history_init(&h, 3, 4, &err), 0);
    assert_int_equal(melon_history_append(&h, &s, 1, 3, &err), -1);
    assert_non_null(strstr(err.msg, "from position 1"));
    assert_int_equal(melon_history_append(&h, &s, 0, 3, &err), 0);
    /* a gap, a repeat of appended positions, a range past the stream */
    assert_int_equal(melon_history_append(&h, &s, 4, 6, &err), -1);
    assert_non_null(strstr(err.msg, "from position 4"));
    assert_non_null(strstr(err.msg, "up to 3"));
    assert_int_equal(melon_history_append(&h, &s, 0, 3, &err), -1);
    assert_int_equal(melon_history_append(&h, &s, 3, 7, &err), -1);
    assert_non_null(strstr(err.msg, "[3, 7)"));
    assert_int_equal(melon_history_append(&h, &s, 3, 2, &err), -1);
    /* nothing changed */
    assert_int_equal(h.appended_until, 3);
    assert_int_equal(h.n_edges, 3);
    assert_int_equal(h.user_items[0].len, 2);
    melon_history_free(&h);
}

/* A bad id in the middle of a range: the whole append is taken back. */
static void test_failed_append_is_undone(void **state) {
    (void)state;
    int32_t bad_users[6] = {0, 1, 0, 7, 2, 1};
    melon_stream s = small_stream();
    s.user = bad_users;
    melon_history h;
    melon_err err;
    assert_int_equal(melon_history_init(&h, 3, 4, &err), 0);
    assert_int_equal(melon_history_append(&h, &s, 0, 6, &err), -1);
    assert_non_null(strstr(err.msg, "position 3 has user 7"));
    assert_int_equal(h.appended_until, 0);
    assert_int_equal(h.n_edges, 0);
    for (int u = 0; u < 3; u++) assert_int_equal(h.user_items[u].len, 0);
    for (int i = 0; i < 4; i++) assert_int_equal(h.item_users[i].len, 0);
    /* the valid prefix can still be appended */
    assert_int_equal(melon_history_append(&h, &s, 0, 3, &err), 0);
    assert_int_equal(h.user_items[0].len, 2);
    melon_history_free(&h);
    assert_int_equal(melon_history_init(&h, -1, 4, &err), -1);
}

/* One busy user: the lists grow by doubling and stay in order. */
static void test_growth(void **state) {
    (void)state;
    enum { N = 10000 };
    static int32_t many_users[N], many_items[N];
    static double many_times[N];
    for (int k = 0; k < N; k++) {
        many_users[k] = 0;
        many_items[k] = k % 3;
        many_times[k] = k;
    }
    melon_stream s;
    memset(&s, 0, sizeof s);
    s.n = N;
    s.n_users = 1;
    s.n_items = 3;
    s.user = many_users;
    s.item = many_items;
    s.time = many_times;
    melon_history h;
    melon_err err;
    assert_int_equal(melon_history_init(&h, 1, 3, &err), 0);
    for (size_t b = 0; b < N; b += 256) {
        size_t end = b + 256 < N ? b + 256 : N;
        assert_int_equal(melon_history_append(&h, &s, b, end, &err), 0);
    }
    const melon_adjacency *u0 = &h.user_items[0];
    assert_int_equal(u0->len, N);
    assert_true(u0->cap >= N);
    for (uint32_t k = 0; k < N; k++) {
        assert_int_equal(u0->pos[k], k);
        assert_int_equal(u0->other[k], (int32_t)(k % 3));
    }
    assert_int_equal(melon_history_count_before(u0, 4321), 4321);
    /* item 1 holds positions 1, 4, 7, ...: 1440 lie below 4321, which is
     * itself the 1441st */
    assert_int_equal(melon_history_count_before(&h.item_users[1], 4321),
                     1440);
    assert_int_equal(melon_history_count_before(&h.item_users[1], 4322),
                     1441);
    melon_history_free(&h);
}

/* u0's edges before position 4 are i1, i2, i1 (positions 0, 2, 3). */
static void test_last_and_recent_neighbours(void **state) {
    (void)state;
    melon_stream s = small_stream();
    melon_history h;
    melon_err err = {{0}};
    assert_int_equal(melon_history_init(&h, 3, 4, &err), 0);
    assert_int_equal(melon_history_append(&h, &s, 0, 6, &err), 0);
    assert_int_equal(melon_history_last_before(&h.user_items[0], 4), 1);
    assert_int_equal(melon_history_last_before(&h.user_items[0], 3), 2);
    assert_int_equal(melon_history_last_before(&h.user_items[0], 0), -1);
    assert_int_equal(melon_history_last_before(&h.item_users[1], 2), 1);
    melon_rng rng;
    melon_rng_seed(&rng, 5);
    int32_t out[8];
    /* fewer edges than the limit: all of them, in order, repeats kept */
    assert_int_equal(melon_history_sample(&h.user_items[0], 4, 10,
                                          MELON_NEIGHBORS_UNIFORM, &rng, out), 3);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 2);
    assert_int_equal(out[2], 1);
    /* the two most recent */
    assert_int_equal(melon_history_sample(&h.user_items[0], 4, 2,
                                          MELON_NEIGHBORS_RECENT, &rng, out), 2);
    assert_int_equal(out[0], 2);
    assert_int_equal(out[1], 1);
    assert_int_equal(melon_history_sample(&h.user_items[2], 4, 2,
                                          MELON_NEIGHBORS_UNIFORM, &rng, out), 0);
    melon_history_free(&h);
}

/* 3 of 6 edges, uniformly without replacement: each edge index appears in
 * half of the draws; every draw has distinct indices. */
static void test_uniform_sampling_without_replacement(void **state) {
    (void)state;
    int32_t u[6] = {0, 0, 0, 0, 0, 0}, it[6] = {0, 1, 2, 3, 4, 5};
    double t[6] = {0, 1, 2, 3, 4, 5};
    melon_stream s = small_stream();
    s.user = u;
    s.item = it;
    s.time = t;
    s.n_items = 6;
    melon_history h;
    melon_err err = {{0}};
    assert_int_equal(melon_history_init(&h, 1, 6, &err), 0);
    assert_int_equal(melon_history_append(&h, &s, 0, 6, &err), 0);
    melon_rng rng;
    melon_rng_seed(&rng, 11);
    int hits[6] = {0};
    const int draws = 30000;
    for (int d = 0; d < draws; d++) {
        int32_t out[3];
        assert_int_equal(melon_history_sample(&h.user_items[0], 6, 3,
                                              MELON_NEIGHBORS_UNIFORM, &rng, out), 3);
        assert_true(out[0] != out[1] && out[0] != out[2] && out[1] != out[2]);
        for (int k = 0; k < 3; k++) hits[out[k]]++;
    }
    /* expected 15000 each; 5 standard deviations is about 430 */
    for (int k = 0; k < 6; k++) assert_true(abs(hits[k] - draws / 2) < 450);
    melon_history_free(&h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_in_order),
        cmocka_unit_test(test_count_before),
        cmocka_unit_test(test_out_of_order_append),
        cmocka_unit_test(test_failed_append_is_undone),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_last_and_recent_neighbours),
        cmocka_unit_test(test_uniform_sampling_without_replacement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
