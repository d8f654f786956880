/* Loading the stream: header and column detection, CRLF, gzip, stable
 * concatenation, float times, the iterative k-core, the split arithmetic and
 * the three real datasets. */
#include "test_support.h"

#include "melon/stream.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes `content` to a temporary file and loads it. */
static void load_text(const char *name, const char *content, int gz,
                      const char *columns, melon_stream *stream) {
    const char *path = test_tmp_path(name);
    test_write_file(path, content, gz);
    melon_load_options opt;
    melon_load_options_default(&opt);
    opt.columns = columns;
    melon_err err = {{0}};
    const char *paths[1] = {path};
    int rc = melon_stream_load(stream, paths, 1, &opt, &err);
    if (rc != 0) fprintf(stderr, "load failed: %s\n", err.msg);
    assert_int_equal(rc, 0);
}

/* Interaction k is (user name, item name, time). */
static void assert_record(const melon_stream *s, size_t k, const char *user,
                          const char *item, double time) {
    assert_true(k < s->n);
    assert_string_equal(s->user_name[s->user[k]], user);
    assert_string_equal(s->item_name[s->item[k]], item);
    assert_true(s->time[k] == time);
}

static void test_header_variants(void **state) {
    (void)state;
    /* Each file holds (u1, i1, 10) and (u2, i2, 20), in its own layout. */
    static const char *const files[] = {
        "user,item,time\nu1,i1,10\nu2,i2,20\n",
        "userId,movieId,rating,timestamp\nu1,i1,4.5,10\nu2,i2,3,20\n",
        "user_id,item_id,time\nu2,i2,20\nu1,i1,10\n",
        "reviewerID\tasin\toverall\tunixReviewTime\nu1\ti1\t5\t10\n"
        "u2\ti2\t1\t20\n",
        "USER;POI;TIME\nu1;i1;10\nu2;i2;20\n",
        "user_id,poi_id,timestamp\nu1,i1,10\nu2,i2,20\n",
        "business_id,extra,date,UserID\ni1,x,10,u1\ni2,y,20,u2\n",
        "itemId,userId,time\ni1,u1,10\ni2,u2,20\n",
    };
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        melon_stream s;
        load_text("header.csv", files[f], 0, NULL, &s);
        assert_int_equal(s.n, 2);
        assert_int_equal(s.n_users, 2);
        assert_int_equal(s.n_items, 2);
        assert_record(&s, 0, "u1", "i1", 10);
        assert_record(&s, 1, "u2", "i2", 20);
        assert_int_equal(s.user[0], 0);
        assert_int_equal(s.user[1], 1);
        melon_stream_free(&s);
    }
}

static void test_headerless_three_fields(void **state) {
    (void)state;
    melon_stream s;
    load_text("three.tsv", "u1\ti1\t20\nu2\ti2\t10\nu1\ti2\t30\n", 0, NULL,
              &s);
    assert_int_equal(s.n, 3);
    assert_record(&s, 0, "u2", "i2", 10);
    assert_record(&s, 1, "u1", "i1", 20);
    assert_record(&s, 2, "u1", "i2", 30);
    /* dense ids by first appearance in time order: u2=0, u1=1; i2=0, i1=1 */
    assert_int_equal(s.user[0], 0);
    assert_int_equal(s.user[1], 1);
    assert_int_equal(s.user[2], 1);
    assert_int_equal(s.item[0], 0);
    assert_int_equal(s.item[1], 1);
    assert_int_equal(s.item[2], 0);
    assert_int_equal(s.n_read, 3);
    assert_int_equal(s.n_dropped, 0);
    melon_stream_free(&s);
}

static void test_headerless_four_fields(void **state) {
    (void)state;
    melon_stream s;
    load_text("u.data",
              "196\t242\t3\t881250949\n186\t302\t3\t891717742\n"
              "22\t377\t1\t878887116\n",
              0, NULL, &s);
    assert_int_equal(s.n, 3);
    assert_record(&s, 0, "22", "377", 878887116);
    assert_record(&s, 1, "196", "242", 881250949);
    assert_record(&s, 2, "186", "302", 891717742);
    melon_stream_free(&s);
}

static void test_whitespace_separated(void **state) {
    (void)state;
    melon_stream s;
    load_text("spaces.txt", "  a   x  5\nb y    4  \n", 0, NULL, &s);
    assert_int_equal(s.n, 2);
    assert_record(&s, 0, "b", "y", 4);
    assert_record(&s, 1, "a", "x", 5);
    melon_stream_free(&s);
}

static void test_columns_by_name(void **state) {
    (void)state;
    melon_stream s;
    load_text("named.csv",
              "movieId,x,userId,timestamp,rating\nm1,a,u1,7,5\nm2,b,u2,3,4\n",
              0, "userId,movieId,timestamp", &s);
    assert_int_equal(s.n, 2);
    assert_record(&s, 0, "u2", "m2", 3);
    assert_record(&s, 1, "u1", "m1", 7);
    melon_stream_free(&s);
    /* names match case-insensitively, in any order */
    load_text("named2.csv", "A,B,C\n5,x,y\n", 0, "b,c,a", &s);
    assert_int_equal(s.n, 1);
    assert_record(&s, 0, "x", "y", 5);
    melon_stream_free(&s);
}

static void test_columns_by_number(void **state) {
    (void)state;
    melon_stream s;
    load_text("numbered.tsv", "u1\ti1\t5\t100\textra\nu2\ti2\t4\t50\tmore\n",
              0, "1,2,4", &s);
    assert_int_equal(s.n, 2);
    assert_record(&s, 0, "u2", "i2", 50);
    assert_record(&s, 1, "u1", "i1", 100);
    melon_stream_free(&s);
    /* a first line whose selected time field is not a number is a header */
    load_text("numbered.csv", "t,who,what\n9,u1,i1\n8,u2,i2\n", 0, "2,3,1",
              &s);
    assert_int_equal(s.n, 2);
    assert_record(&s, 0, "u2", "i2", 8);
    assert_record(&s, 1, "u1", "i1", 9);
    melon_stream_free(&s);
}

static void test_crlf(void **state) {
    (void)state;
    melon_stream s;
    load_text("crlf.csv", "user_id,item_id,time\r\n1,2,100\r\n3,4,50\r\n", 0,
              NULL, &s);
    assert_int_equal(s.n, 2);
    assert_record(&s, 0, "3", "4", 50);
    assert_record(&s, 1, "1", "2", 100);
    melon_stream_free(&s);
    /* headerless, last line without a newline */
    load_text("crlf.tsv", "a\tb\t7\r\nc\td\t6", 0, NULL, &s);
    assert_int_equal(s.n, 2);
    assert_record(&s, 0, "c", "d", 6);
    assert_record(&s, 1, "a", "b", 7);
    melon_stream_free(&s);
}

static void test_gzip_detected_by_content(void **state) {
    (void)state;
    melon_stream s;
    /* gzip data under a plain name ... */
    load_text("compressed.csv", "user,item,time\nu1,i1,2\nu2,i2,1\n", 1, NULL,
              &s);
    assert_int_equal(s.n, 2);
    assert_record(&s, 0, "u2", "i2", 1);
    assert_record(&s, 1, "u1", "i1", 2);
    melon_stream_free(&s);
    /* ... and plain text under a .gz name */
    load_text("plain.csv.gz", "u1,i1,2\nu2,i2,1\n", 0, NULL, &s);
    assert_int_equal(s.n, 2);
    assert_record(&s, 0, "u2", "i2", 1);
    melon_stream_free(&s);
}

static void test_concatenation_keeps_file_order_on_ties(void **state) {
    (void)state;
    const char *a = test_tmp_path("a.csv");
    const char *b = test_tmp_path("b.tsv");
    test_write_file(a, "user,item,time\nu1,i1,5\nu2,i2,3\nu3,i3,5\n", 0);
    test_write_file(b, "u4\ti4\t5\nu1\ti9\t3\n", 1);
    const char *paths[2] = {a, b};
    melon_load_options opt;
    melon_load_options_default(&opt);
    melon_stream s;
    melon_err err;
    assert_int_equal(melon_stream_load(&s, paths, 2, &opt, &err), 0);
    /* read order: (u1,i1,5) (u2,i2,3) (u3,i3,5) (u4,i4,5) (u1,i9,3) */
    assert_int_equal(s.n, 5);
    assert_record(&s, 0, "u2", "i2", 3);
    assert_record(&s, 1, "u1", "i9", 3);
    assert_record(&s, 2, "u1", "i1", 5);
    assert_record(&s, 3, "u3", "i3", 5);
    assert_record(&s, 4, "u4", "i4", 5);
    static const int32_t users[5] = {0, 1, 1, 2, 3};
    static const int32_t items[5] = {0, 1, 2, 3, 4};
    for (int k = 0; k < 5; k++) {
        assert_int_equal(s.user[k], users[k]);
        assert_int_equal(s.item[k], items[k]);
    }
    melon_stream_free(&s);

    /* the other file order puts b's ties first */
    const char *reversed[2] = {b, a};
    assert_int_equal(melon_stream_load(&s, reversed, 2, &opt, &err), 0);
    assert_record(&s, 0, "u1", "i9", 3);
    assert_record(&s, 1, "u2", "i2", 3);
    assert_record(&s, 2, "u4", "i4", 5);
    assert_record(&s, 3, "u1", "i1", 5);
    assert_record(&s, 4, "u3", "i3", 5);
    assert_int_equal(s.user[0], 0); /* u1 */
    assert_int_equal(s.user[1], 1); /* u2 */
    assert_int_equal(s.user[2], 2); /* u4 */
    assert_int_equal(s.user[3], 0);
    assert_int_equal(s.user[4], 3); /* u3 */
    melon_stream_free(&s);
}

static void test_float_and_negative_times(void **state) {
    (void)state;
    melon_stream s;
    load_text("float.tsv",
              "u1\ti1\t1185638400.0\nu2\ti2\t-5.5\nu3\ti3\t2.25e1\n"
              "u4\ti4\t-0\nu5\ti5\t+3\nu6\ti6\t.5\nu7\ti7\t-1e-3\n",
              0, NULL, &s);
    assert_int_equal(s.n, 7);
    assert_record(&s, 0, "u2", "i2", -5.5);
    assert_record(&s, 1, "u7", "i7", -0.001);
    assert_record(&s, 2, "u4", "i4", 0.0);
    assert_false(signbit(s.time[2]));
    assert_record(&s, 3, "u6", "i6", 0.5);
    assert_record(&s, 4, "u5", "i5", 3);
    assert_record(&s, 5, "u3", "i3", 22.5);
    assert_record(&s, 6, "u1", "i1", 1185638400.0);
    /* read as they are, with a note naming the first negative one */
    assert_int_equal(s.n_odd_times, 2);
    assert_non_null(strstr(s.time_note, "float.tsv:2: timestamp -5.5 is negative"));
    melon_stream_free(&s);
}

/* Times that look like milliseconds are read, with a note; Unix seconds
 * get none. */
static void test_millisecond_times_noted(void **state) {
    (void)state;
    melon_stream s;
    load_text("ms.csv", "u1,i1,1400000000000\nu2,i2,1400000000500\n", 0, NULL, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.n_odd_times, 2);
    assert_non_null(strstr(s.time_note, "ms.csv:1: timestamp 1400000000000"));
    assert_non_null(strstr(s.time_note, "milliseconds?"));
    melon_stream_free(&s);
    load_text("s.csv", "u1,i1,1400000000\nu2,i2,99999999999\n", 0, NULL, &s);
    assert_int_equal(s.n_odd_times, 0);
    assert_string_equal(s.time_note, "");
    melon_stream_free(&s);
}

/* A line that ends with its delimiter has no fourth column: "u,i,t," is
 * user, item, time (not user, item, rating and an empty time). */
static void test_trailing_delimiter(void **state) {
    (void)state;
    melon_stream s;
    load_text("trailing.csv", "u1,i1,20,\nu2,i2,10,\nu1,i2,30\n", 0, NULL, &s);
    assert_int_equal(s.n, 3);
    assert_record(&s, 0, "u2", "i2", 10);
    assert_record(&s, 1, "u1", "i1", 20);
    assert_record(&s, 2, "u1", "i2", 30);
    melon_stream_free(&s);
    load_text("trailing_header.csv", "user_id,item_id,timestamp,\nu1,i1,5,\n",
              0, NULL, &s);
    assert_int_equal(s.n, 1);
    assert_record(&s, 0, "u1", "i1", 5);
    melon_stream_free(&s);
    /* MovieLens u.data's four columns are still four */
    load_text("rating.csv", "196,242,3,881250949\n", 0, NULL, &s);
    assert_record(&s, 0, "196", "242", 881250949);
    melon_stream_free(&s);
}

/* Many ties over several radix passes: equal times keep file order. */
static void test_stable_sort_many_ties(void **state) {
    (void)state;
    enum { N = 5000 };
    static char content[N * 32];
    static double times[N];
    size_t len = 0;
    for (int k = 0; k < N; k++) {
        /* 26 distinct values, negative, fractional and large ones */
        int v = (k * 7919) % 13 - 6;
        times[k] = (k % 2) ? v + 0.25 : v * 1e6;
        len += (size_t)snprintf(content + len, sizeof content - len,
                                "u%d,%d,%.17g\n", k % 37, k, times[k]);
    }
    melon_stream s;
    load_text("ties.csv", content, 0, NULL, &s);
    assert_int_equal(s.n, N);
    /* reference: stable counting of how many records precede each one */
    for (size_t p = 0; p < s.n; p++) {
        int k = atoi(s.item_name[s.item[p]]);
        size_t expected = 0;
        for (int j = 0; j < N; j++)
            if (times[j] < times[k] || (times[j] == times[k] && j < k))
                expected++;
        assert_int_equal(p, expected);
        assert_true(s.time[p] == times[k]);
    }
    melon_stream_free(&s);
}

static void test_blank_lines_bom_and_quotes(void **state) {
    (void)state;
    melon_stream s;
    load_text("blank.csv", "\n\xEF\xBB\xBF" "u1,i1,1\n\n   \nu2,i2,2\n\n", 0,
              NULL, &s);
    assert_int_equal(s.n, 2);
    assert_record(&s, 1, "u2", "i2", 2);
    melon_stream_free(&s);
    load_text("bom.csv", "\xEF\xBB\xBFuser,item,time\nu,i,1\n", 0, NULL, &s);
    assert_int_equal(s.n, 1);
    assert_record(&s, 0, "u", "i", 1);
    melon_stream_free(&s);
    /* quotes protect delimiters, "" is a quote, spaces inside quotes stay */
    load_text("quoted.csv",
              "\"user\",\"item\",\"time\"\n"
              "\"a,b\", \"x\"\"y\" ,\"5\"\n"
              "\" c \",d,6\n",
              0, NULL, &s);
    assert_int_equal(s.n, 2);
    assert_record(&s, 0, "a,b", "x\"y", 5);
    assert_record(&s, 1, " c ", "d", 6);
    melon_stream_free(&s);
}

/* min_user = min_item = 2. Item w has one interaction; removing (C,w)
 * leaves C with one, removing (C,z) leaves z with one, removing (B,z)
 * leaves B with one, removing (B,x) leaves x with two: stable. */
static void test_kcore_iterative(void **state) {
    (void)state;
    const char *path = test_tmp_path("kcore.csv");
    test_write_file(path,
                    "A,x,1\nA,y,2\nB,x,3\nB,z,4\nC,z,5\nC,w,6\nD,y,7\nD,x,8\n",
                    0);
    melon_load_options opt;
    melon_load_options_default(&opt);
    opt.min_user = 2;
    opt.min_item = 2;
    melon_stream s;
    melon_err err;
    const char *paths[1] = {path};
    assert_int_equal(melon_stream_load(&s, paths, 1, &opt, &err), 0);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.n_read, 8);
    assert_int_equal(s.n_dropped, 4);
    assert_int_equal(s.n_users, 2);
    assert_int_equal(s.n_items, 2);
    assert_record(&s, 0, "A", "x", 1);
    assert_record(&s, 1, "A", "y", 2);
    assert_record(&s, 2, "D", "y", 7);
    assert_record(&s, 3, "D", "x", 8);
    static const int32_t users[4] = {0, 0, 1, 1}, items[4] = {0, 1, 1, 0};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(s.user[k], users[k]);
        assert_int_equal(s.item[k], items[k]);
    }
    melon_stream_free(&s);

    /* users only: C has 2, so nothing goes at min_user=2; at 3 all go */
    opt.min_item = 0;
    assert_int_equal(melon_stream_load(&s, paths, 1, &opt, &err), 0);
    assert_int_equal(s.n, 8);
    melon_stream_free(&s);
    /* items only, min_item=3: only x (3) survives the first round; then
     * no count falls below 3 again */
    opt.min_user = 0;
    opt.min_item = 3;
    assert_int_equal(melon_stream_load(&s, paths, 1, &opt, &err), 0);
    assert_int_equal(s.n, 3);
    assert_record(&s, 0, "A", "x", 1);
    assert_record(&s, 1, "B", "x", 3);
    assert_record(&s, 2, "D", "x", 8);
    assert_int_equal(s.n_items, 1);
    assert_int_equal(s.n_users, 3);
    melon_stream_free(&s);
}

static void test_split_arithmetic(void **state) {
    (void)state;
    melon_split split;
    melon_err err;
    assert_int_equal(melon_split_make(&split, 1000, 256, 0.8, &err), 0);
    assert_int_equal(split.n_batches, 4); /* ceil(1000 / 256) */
    assert_int_equal(split.n_past, 3);    /* floor(3.2) */
    assert_int_equal(melon_batch_begin(&split, 3), 768);
    assert_int_equal(melon_batch_end(&split, 1000, 3), 1000);
    assert_int_equal(melon_batch_end(&split, 1000, 2), 768);
    /* ml-100k: 391 batches, 312 past, 79 online (protocol.md section 7) */
    assert_int_equal(melon_split_make(&split, 100000, 256, 0.8, &err), 0);
    assert_int_equal(split.n_batches, 391);
    assert_int_equal(split.n_past, 312);
    assert_int_equal(split.n_batches - split.n_past, 79);
    /* an exact multiple: 10 batches, 8 past */
    assert_int_equal(melon_split_make(&split, 2560, 256, 0.8, &err), 0);
    assert_int_equal(split.n_batches, 10);
    assert_int_equal(split.n_past, 8);
    assert_int_equal(melon_batch_end(&split, 2560, 9), 2560);
    /* 100 * 0.29 is 28.999999999999996 in doubles: still 29 */
    assert_int_equal(melon_split_make(&split, 100, 1, 0.29, &err), 0);
    assert_int_equal(split.n_past, 29);
    assert_int_equal(melon_split_make(&split, 2, 1, 0.5, &err), 0);
    assert_int_equal(split.n_past, 1);

    assert_int_equal(melon_split_make(&split, 256, 256, 0.8, &err), -1);
    assert_non_null(strstr(err.msg, "1 batches"));
    assert_int_equal(melon_split_make(&split, 1000, 0, 0.8, &err), -1);
    assert_non_null(strstr(err.msg, "batch size"));
    assert_int_equal(melon_split_make(&split, 1000, 10, 1.0, &err), -1);
    assert_non_null(strstr(err.msg, "train ratio"));
    assert_int_equal(melon_split_make(&split, 1000, 10, 0.0, &err), -1);
    assert_int_equal(melon_split_make(&split, 1000, 10, NAN, &err), -1);
    /* 3 batches * 0.99 = 2.97: 2 past, 1 online */
    assert_int_equal(melon_split_make(&split, 3, 1, 0.99, &err), 0);
    assert_int_equal(split.n_past, 2);
}

/* Time order, dense ids by first appearance, names kept. */
static void check_real_stream(const melon_stream *s, size_t n, int32_t users,
                              int32_t items) {
    assert_int_equal(s->n, n);
    assert_int_equal(s->n_users, users);
    assert_int_equal(s->n_items, items);
    assert_int_equal(s->n_read, n);
    assert_int_equal(s->n_dropped, 0);
    int32_t next_user = 0, next_item = 0;
    for (size_t k = 0; k < s->n; k++) {
        if (k > 0) assert_true(s->time[k - 1] <= s->time[k]);
        assert_true(s->user[k] <= next_user);
        assert_true(s->item[k] <= next_item);
        if (s->user[k] == next_user) next_user++;
        if (s->item[k] == next_item) next_item++;
    }
    assert_int_equal(next_user, users);
    assert_int_equal(next_item, items);
}

static int load_shared(melon_stream *s, const char *const *relative, int n) {
    char *paths[4];
    for (int k = 0; k < n; k++)
        paths[k] = strdup(test_shared_file_or_skip(relative[k]));
    melon_load_options opt;
    melon_load_options_default(&opt);
    melon_err err;
    int rc = melon_stream_load(s, (const char *const *)paths, n, &opt, &err);
    if (rc != 0) fprintf(stderr, "%s\n", err.msg);
    for (int k = 0; k < n; k++) free(paths[k]);
    return rc;
}

static void test_real_amazon(void **state) {
    (void)state;
    static const char *const files[3] = {
        "amazon-grocery-5core/train.csv.gz", "amazon-grocery-5core/dev.csv",
        "amazon-grocery-5core/test.csv"};
    melon_stream s;
    assert_int_equal(load_shared(&s, files, 3), 0);
    check_real_stream(&s, 151254, 14681, 8713);
    assert_record(&s, 0, "2177", "3", 965779200); /* 2000-08-09 */
    assert_true(s.time[s.n - 1] == 1406073600);   /* 2014-07-23 */
    melon_stream_free(&s);
}

static void test_real_yelp(void **state) {
    (void)state;
    static const char *const files[1] = {"yelp-lbsn-1k/Yelp_check_ins.txt"};
    melon_stream s;
    assert_int_equal(load_shared(&s, files, 1), 0);
    check_real_stream(&s, 35571, 1000, 5255);
    assert_true(s.time[0] == 1124380800);         /* 2005-08-18 16:00 */
    assert_true(s.time[s.n - 1] == 1450886400);   /* 2015-12-23 16:00 */
    melon_stream_free(&s);
}

static void test_real_movielens(void **state) {
    (void)state;
    static const char *const files[1] = {"ml-100k/u.data.gz"};
    melon_stream s;
    assert_int_equal(load_shared(&s, files, 1), 0);
    check_real_stream(&s, 100000, 943, 1682);
    assert_true(s.time[0] == 874724710);         /* 1997-09-20 03:05:10 */
    assert_true(s.time[s.n - 1] == 893286638);   /* 1998-04-22 23:10:38 */
    melon_stream_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_variants),
        cmocka_unit_test(test_headerless_three_fields),
        cmocka_unit_test(test_headerless_four_fields),
        cmocka_unit_test(test_whitespace_separated),
        cmocka_unit_test(test_columns_by_name),
        cmocka_unit_test(test_columns_by_number),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_gzip_detected_by_content),
        cmocka_unit_test(test_concatenation_keeps_file_order_on_ties),
        cmocka_unit_test(test_float_and_negative_times),
        cmocka_unit_test(test_millisecond_times_noted),
        cmocka_unit_test(test_trailing_delimiter),
        cmocka_unit_test(test_stable_sort_many_ties),
        cmocka_unit_test(test_blank_lines_bom_and_quotes),
        cmocka_unit_test(test_kcore_iterative),
        cmocka_unit_test(test_split_arithmetic),
        cmocka_unit_test(test_real_amazon),
        cmocka_unit_test(test_real_yelp),
        cmocka_unit_test(test_real_movielens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
