/* melon_stream_stats: nearest-rank quantiles of interaction counts, the
 * time span and repeated (user, item) pairs, worked out by hand. */
#include "test_support.h"

#include "melon/stream.h"
#include "data/stream_stats.h"

#include <string.h>

static void test_nearest_rank_quantiles(void **state) {
    (void)state;
    size_t ten[10] = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    melon_count_quantiles q;
    melon_count_quantiles_compute(ten, 10, &q);
    /* rank ceil(q * 10): 25% -> 3rd, median -> 5th, 75% -> 8th, 90% -> 9th */
    assert_int_equal(q.min, 1);
    assert_int_equal(q.q25, 3);
    assert_int_equal(q.median, 5);
    assert_int_equal(q.q75, 8);
    assert_int_equal(q.q90, 9);
    assert_int_equal(q.max, 10);

    size_t one[1] = {7};
    melon_count_quantiles_compute(one, 1, &q);
    assert_int_equal(q.min, 7);
    assert_int_equal(q.q25, 7);
    assert_int_equal(q.q90, 7);
    assert_int_equal(q.max, 7);

    /* skewed: 1,1,1,1,1,1,1,1,1,100 */
    size_t skewed[10] = {1, 1, 100, 1, 1, 1, 1, 1, 1, 1};
    melon_count_quantiles_compute(skewed, 10, &q);
    assert_int_equal(q.median, 1);
    assert_int_equal(q.q90, 1);
    assert_int_equal(q.max, 100);

    size_t three[3] = {5, 1, 3};
    melon_count_quantiles_compute(three, 3, &q);
    assert_int_equal(q.q25, 1); /* ceil(0.75) = 1st */
    assert_int_equal(q.median, 3); /* ceil(1.5) = 2nd */
    assert_int_equal(q.q75, 5);    /* ceil(2.25) = 3rd */
}

static void test_stream_stats(void **state) {
    (void)state;
    const char *path = test_tmp_path("stats.csv");
    /* a:3 (x twice), b:2, c:1; x:3, y:2, z:1; (a,x) repeats once */
    test_write_file(path,
                    "user,item,time\n"
                    "a,x,86400\nb,y,100\na,x,200\nc,z,300\na,y,400\nb,x,50\n",
                    0);
    melon_load_options opt;
    melon_load_options_default(&opt);
    melon_stream s;
    melon_err err;
    const char *paths[1] = {path};
    assert_int_equal(melon_stream_load(&s, paths, 1, &opt, &err), 0);
    melon_stream_stats st;
    assert_int_equal(melon_stream_stats_compute(&s, &st, &err), 0);
    assert_int_equal(st.n, 6);
    assert_int_equal(st.n_users, 3);
    assert_int_equal(st.n_items, 3);
    assert_true(st.first_time == 50);
    assert_true(st.last_time == 86400);
    assert_int_equal(st.n_distinct_pairs, 5);
    assert_int_equal(st.n_repeats, 1);
    assert_int_equal(st.n_repeated_pairs, 1);
    assert_int_equal(st.per_user.min, 1);
    assert_int_equal(st.per_user.median, 2);
    assert_int_equal(st.per_user.max, 3);
    assert_int_equal(st.per_item.min, 1);
    assert_int_equal(st.per_item.q25, 1);
    assert_int_equal(st.per_item.median, 2);
    assert_int_equal(st.per_item.q75, 3);
    assert_int_equal(st.per_item.max, 3);
    melon_stream_free(&s);

    melon_stream empty;
    memset(&empty, 0, sizeof empty);
    assert_int_equal(melon_stream_stats_compute(&empty, &st, &err), -1);
    assert_non_null(strstr(err.msg, "empty"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nearest_rank_quantiles),
        cmocka_unit_test(test_stream_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
