/* The native formats on the fixtures of tests/fixtures/native (written by
 * make_fixtures.py there, which printed the statistics asserted here from
 * Python's own json and ast parsers): Amazon 2018 JSON lines, Amazon 2014
 * Python dict literals in gzip, Yelp reviews, an Adressa event log and a
 * directory of daily gzip Adressa files. */
#include "test_support.h"

#include "melon/stream.h"
#include "data/stream_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FIXTURES MELON_SOURCE_DIR "/tests/fixtures/native/"

/* What a fixture must load to. */
typedef struct {
    const char *path;
    const char *format;
    size_t n, users, items;
    size_t skipped, missing_user, missing_item, missing_time;
    size_t python_literal, repeats, files;
    double first, last;
} expected_stream;

static int load(const char *path, const char *format, melon_stream *s,
                melon_err *err) {
    melon_load_options opt;
    melon_load_options_default(&opt);
    opt.format = format;
    opt.notes = NULL;
    const char *paths[1] = {path};
    return melon_stream_load(s, paths, 1, &opt, err);
}

static void check_stream(const melon_stream *s, const expected_stream *e) {
    assert_int_equal(s->n, e->n);
    assert_int_equal(s->n_users, e->users);
    assert_int_equal(s->n_items, e->items);
    assert_int_equal(s->n_read, e->n);
    assert_int_equal(s->n_dropped, 0);
    assert_int_equal(s->n_skipped, e->skipped);
    assert_int_equal(s->n_missing_user, e->missing_user);
    assert_int_equal(s->n_missing_item, e->missing_item);
    assert_int_equal(s->n_missing_time, e->missing_time);
    assert_int_equal(s->n_python_literal, e->python_literal);
    assert_int_equal(s->n_files, e->files);
    assert_string_equal(s->format, e->format);
    assert_true(s->time[0] == e->first);
    assert_true(s->time[s->n - 1] == e->last);
    for (size_t k = 1; k < s->n; k++) assert_true(s->time[k - 1] <= s->time[k]);
    melon_stream_stats st;
    melon_err err;
    assert_int_equal(melon_stream_stats_compute(s, &st, &err), 0);
    assert_int_equal(st.n_repeats, e->repeats);
}

/* Loads the fixture with format auto and with its own format: both must
 * give the expected stream. */
static void check_fixture(const expected_stream *e) {
    const char *formats[2] = {"auto", e->format};
    for (int f = 0; f < 2; f++) {
        melon_stream s;
        melon_err err = {{0}};
        int rc = load(e->path, formats[f], &s, &err);
        if (rc != 0) fprintf(stderr, "%s: %s\n", e->path, err.msg);
        assert_int_equal(rc, 0);
        check_stream(&s, e);
        melon_stream_free(&s);
    }
}

/* The time of the first interaction of (user, item), or -1. */
static double time_of(const melon_stream *s, const char *user,
                      const char *item) {
    for (size_t k = 0; k < s->n; k++)
        if (strcmp(s->user_name[s->user[k]], user) == 0 &&
            strcmp(s->item_name[s->item[k]], item) == 0)
            return s->time[k];
    return -1;
}

static int has_item(const melon_stream *s, const char *item) {
    for (int32_t i = 0; i < s->n_items; i++)
        if (strcmp(s->item_name[i], item) == 0) return 1;
    return 0;
}

static int has_user(const melon_stream *s, const char *user) {
    for (int32_t u = 0; u < s->n_users; u++)
        if (strcmp(s->user_name[u], user) == 0) return 1;
    return 0;
}

static void test_amazon_2018(void **state) {
    (void)state;
    static const expected_stream e = {
        .path = FIXTURES "amazon2018.json", .format = "amazon", .n = 305,
        .users = 52, .items = 43, .skipped = 7, .missing_user = 3,
        .missing_item = 2, .missing_time = 2, .repeats = 15, .files = 1,
        .first = 1200000000, .last = 1536969600};
    check_fixture(&e);
    melon_stream s;
    melon_err err;
    assert_int_equal(load(e.path, "amazon", &s, &err), 0);
    /* the earliest review is by a reviewer id written with \u00c9 */
    assert_string_equal(s.user_name[s.user[0]], "A\xc3\x89TIENNE42");
    /* "reviewTime" stands in for a missing "unixReviewTime" */
    assert_true(time_of(&s, "A-FALLBACK", "B-LEAP-DAY") == 1456704000);
    assert_true(time_of(&s, "A-FALLBACK", "B-NEW-YEAR") == 1514678400);
    assert_true(time_of(&s, "A-FALLBACK", "B-ONE-DIGIT") == 1294185600);
    /* the same key twice: the last value counts */
    assert_false(has_item(&s, "DUPLICATE-FIRST"));
    /* a "reviewerID" nested in "style" is not the reviewer */
    assert_false(has_user(&s, "NESTED"));
    melon_stream_free(&s);
}

static void test_amazon_2014_python_literals(void **state) {
    (void)state;
    static const expected_stream e = {
        .path = FIXTURES "amazon2014_loose.json.gz", .format = "amazon",
        .n = 189, .users = 40, .items = 30, .skipped = 12,
        .missing_user = 5, .missing_item = 4, .missing_time = 3,
        .python_literal = 201, .repeats = 15, .files = 1,
        .first = 946857600, .last = 1403222400};
    check_fixture(&e);
}

static void test_yelp(void **state) {
    (void)state;
    static const expected_stream e = {
        .path = FIXTURES "yelp_review.json", .format = "yelp", .n = 288,
        .users = 61, .items = 45, .skipped = 12, .missing_user = 5,
        .missing_item = 4, .missing_time = 3, .repeats = 11, .files = 1,
        .first = 1106958369, .last = 1606766523};
    check_fixture(&e);
    melon_stream s;
    melon_err err;
    assert_int_equal(load(e.path, "yelp", &s, &err), 0);
    int32_t leap = -1, date_only = -1;
    for (int32_t u = 0; u < s.n_users; u++) {
        if (strcmp(s.user_name[u], "user-leap-day") == 0) leap = u;
        if (strcmp(s.user_name[u], "user-date-only") == 0) date_only = u;
    }
    for (size_t k = 0; k < s.n; k++) {
        if (s.user[k] == leap) assert_true(s.time[k] == 1456790399);
        if (s.user[k] == date_only) assert_true(s.time[k] == 1335830400);
    }
    assert_true(leap >= 0 && date_only >= 0);
    melon_stream_free(&s);
}

static void test_adressa_event_log(void **state) {
    (void)state;
    static const expected_stream e = {
        .path = FIXTURES "adressa_events.json", .format = "adressa", .n = 219,
        .users = 68, .items = 35, .skipped = 81, .missing_user = 4,
        .missing_item = 79, .missing_time = 0, .repeats = 10, .files = 1,
        .first = 1483228401, .last = 1483285918};
    check_fixture(&e);
}

static void test_adressa_directory_of_days(void **state) {
    (void)state;
    /* three gzip files named by day, and a hidden file that is left out */
    static const expected_stream e = {
        .path = FIXTURES "adressa_days", .format = "adressa", .n = 200,
        .users = 64, .items = 35, .skipped = 100, .missing_user = 6,
        .missing_item = 97, .missing_time = 0, .repeats = 7, .files = 3,
        .first = 1483229189, .last = 1483420576};
    check_fixture(&e);
}

/* The days given one by one, in name order, make the same stream as the
 * directory. */
static void test_directory_equals_its_files(void **state) {
    (void)state;
    const char *days[3] = {FIXTURES "adressa_days/20170101",
                           FIXTURES "adressa_days/20170102",
                           FIXTURES "adressa_days/20170103"};
    melon_load_options opt;
    melon_load_options_default(&opt);
    opt.notes = NULL;
    melon_stream from_files, from_dir;
    melon_err err;
    assert_int_equal(melon_stream_load(&from_files, days, 3, &opt, &err), 0);
    assert_int_equal(load(FIXTURES "adressa_days", "auto", &from_dir, &err),
                     0);
    assert_int_equal(from_files.n, from_dir.n);
    for (size_t k = 0; k < from_dir.n; k++) {
        assert_string_equal(from_files.user_name[from_files.user[k]],
                            from_dir.user_name[from_dir.user[k]]);
        assert_string_equal(from_files.item_name[from_files.item[k]],
                            from_dir.item_name[from_dir.item[k]]);
        assert_true(from_files.time[k] == from_dir.time[k]);
    }
    melon_stream_free(&from_files);
    melon_stream_free(&from_dir);
}

/* Files are read in name order: of two records at the same time, the one
 * in the file whose name sorts first comes first. */
static void test_directory_name_order(void **state) {
    (void)state;
    const char *dir = test_tmp_path("ties");
    assert_int_equal(mkdir(dir, 0700), 0);
    test_write_file(test_tmp_path("ties/b"),
                    "{\"user_id\": \"second\", \"business_id\": \"x\", "
                    "\"date\": \"2020-01-01\"}\n",
                    0);
    test_write_file(test_tmp_path("ties/a"),
                    "{\"user_id\": \"first\", \"business_id\": \"x\", "
                    "\"date\": \"2020-01-01\"}\n",
                    1);
    melon_stream s;
    melon_err err;
    assert_int_equal(load(dir, "auto", &s, &err), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.user_name[s.user[0]], "first");
    assert_string_equal(s.user_name[s.user[1]], "second");
    melon_stream_free(&s);
}

/* A file of many thousand records passes through several blocks of the
 * reading pipeline: counts, order and line numbers stay right. */
#define MANY 16884 /* two full blocks of 8192 and a short one */

static void write_many(const char *path, size_t bad_line) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t k = 0; k < MANY; k++) {
        if (k + 1 == bad_line) {
            fprintf(f, "{\"reviewerID\": \"u\", \"asin\": [}\n");
            continue;
        }
        unsigned long when = 1000000000UL + (k * 7919) % MANY;
        if (k % 10 == 0) /* no product */
            fprintf(f, "{\"reviewerID\": \"u%zu\", \"unixReviewTime\": "
                       "%lu}\n", k % 1000, when);
        else
            fprintf(f, "{\"reviewerID\": \"u%zu\", \"asin\": \"i%zu\", "
                       "\"unixReviewTime\": %lu}\n", k % 1000, k % 777, when);
    }
    fclose(f);
}

static void test_many_blocks(void **state) {
    (void)state;
    const char *path = test_tmp_path("many.json");
    write_many(path, 0);
    melon_stream s;
    melon_err err;
    assert_int_equal(load(path, "amazon", &s, &err), 0);
    assert_int_equal(s.n_skipped, (MANY + 9) / 10);
    assert_int_equal(s.n_missing_item, (MANY + 9) / 10);
    assert_int_equal(s.n, MANY - (MANY + 9) / 10);
    assert_int_equal(s.n_users, 900); /* u0, u10, ... only in skipped ones */
    assert_int_equal(s.n_items, 777);
    /* the earliest kept record */
    size_t first = 0;
    unsigned long best = (unsigned long)-1;
    for (size_t k = 0; k < MANY; k++)
        if (k % 10 != 0 && (k * 7919) % MANY < best) {
            best = (k * 7919) % MANY;
            first = k;
        }
    char user[16], item[16];
    snprintf(user, sizeof user, "u%zu", first % 1000);
    snprintf(item, sizeof item, "i%zu", first % 777);
    assert_string_equal(s.user_name[s.user[0]], user);
    assert_string_equal(s.item_name[s.item[0]], item);
    assert_true(s.time[0] == 1000000000.0 + (double)best);
    for (size_t k = 1; k < s.n; k++) assert_true(s.time[k - 1] < s.time[k]);
    melon_stream_free(&s);

    write_many(path, 16001); /* in the third block */
    assert_int_equal(load(path, "amazon", &s, &err), -1);
    assert_non_null(strstr(err.msg, "many.json:16001:"));
}

/* Files of different formats load together; the stream says "mixed". */
static void test_mixed_formats(void **state) {
    (void)state;
    const char *paths[2] = {FIXTURES "yelp_review.json",
                            FIXTURES "amazon2018.json"};
    melon_load_options opt;
    melon_load_options_default(&opt);
    opt.notes = NULL;
    melon_stream s;
    melon_err err;
    assert_int_equal(melon_stream_load(&s, paths, 2, &opt, &err), 0);
    assert_int_equal(s.n, 288 + 305);
    assert_int_equal(s.n_skipped, 12 + 7);
    assert_int_equal(s.n_missing_user, 5 + 3);
    assert_string_equal(s.format, "mixed");
    char summary[512];
    melon_stream_skipped_summary(&s, summary, sizeof summary);
    assert_string_equal(summary, "skipped 19 of 612 records: 8 without a "
                                 "user, 6 without an item, 5 without a time");
    melon_stream_free(&s);
}

/* The skipped records are reported on the notes stream, in the format's
 * words, and not at all when notes is NULL. */
static void test_notes_on_skipped_records(void **state) {
    (void)state;
    const char *notes_path = test_tmp_path("notes.txt");
    FILE *notes = fopen(notes_path, "w+");
    assert_non_null(notes);
    melon_load_options opt;
    melon_load_options_default(&opt);
    assert_true(opt.notes == stderr);
    opt.notes = notes;
    const char *paths[1] = {FIXTURES "adressa_events.json"};
    melon_stream s;
    melon_err err;
    assert_int_equal(melon_stream_load(&s, paths, 1, &opt, &err), 0);
    melon_stream_free(&s);
    fclose(notes);
    char *text = test_read_file(notes_path);
    assert_string_equal(text,
                        "melon: skipped 81 of 300 records: 4 without a user "
                        "(\"userId\"), 79 without an article id (\"id\": "
                        "page views of pages that are not articles)\n");
    free(text);
}

/* MovieLens 1M's ratings.dat separates its fields with "::". */
static void test_double_colon_separated(void **state) {
    (void)state;
    const char *path = test_tmp_path("ratings.dat");
    test_write_file(path,
                    "1::1193::5::978300760\n1::661::3::978302109\n"
                    "2::1193::4::978300000\n",
                    0);
    melon_stream s;
    melon_err err;
    assert_int_equal(load(path, "auto", &s, &err), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.format, "delimited");
    assert_string_equal(s.user_name[s.user[0]], "2");
    assert_string_equal(s.item_name[s.item[0]], "1193");
    assert_true(s.time[0] == 978300000);
    assert_true(s.time[2] == 978302109);
    melon_stream_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_amazon_2018),
        cmocka_unit_test(test_amazon_2014_python_literals),
        cmocka_unit_test(test_yelp),
        cmocka_unit_test(test_adressa_event_log),
        cmocka_unit_test(test_adressa_directory_of_days),
        cmocka_unit_test(test_directory_equals_its_files),
        cmocka_unit_test(test_directory_name_order),
        cmocka_unit_test(test_many_blocks),
        cmocka_unit_test(test_mixed_formats),
        cmocka_unit_test(test_notes_on_skipped_records),
        cmocka_unit_test(test_double_colon_separated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
