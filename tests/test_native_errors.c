/* Bad native-format input: every case fails, leaves the stream empty and
 * names the file, the line (and column for JSON syntax) and the value. */
#include "test_support.h"

#include "melon/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FRAGMENTS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void expect_paths_failure(const char *const *paths, int n_paths,
                                 const char *format, const char *columns,
                                 const char *const *fragments) {
    melon_load_options opt;
    melon_load_options_default(&opt);
    opt.format = format;
    opt.columns = columns;
    opt.notes = NULL;
    melon_stream s;
    melon_err err = {{0}};
    memset(&s, 0x5a, sizeof s);
    int rc = melon_stream_load(&s, paths, n_paths, &opt, &err);
    if (rc == 0) melon_stream_free(&s);
    assert_int_equal(rc, -1);
    for (const char *const *f = fragments; *f; f++) {
        if (!strstr(err.msg, *f))
            fprintf(stderr, "message '%s' lacks '%s'\n", err.msg, *f);
        assert_non_null(strstr(err.msg, *f));
    }
    assert_int_equal(s.n, 0);
    assert_null(s.user);
    assert_null(s.user_name);
    assert_int_equal(s.n_skipped, 0);
}

/* One file with the given content (gzip when gz), the given format. */
static void expect_failure(const char *name, const char *content, int gz,
                           const char *format, const char *const *fragments) {
    const char *path = test_tmp_path(name);
    test_write_file(path, content, gz);
    const char *paths[1] = {path};
    expect_paths_failure(paths, 1, format, NULL, fragments);
}

#define GOOD_AMAZON "{\"reviewerID\": \"A1\", \"asin\": \"B1\", " \
                    "\"unixReviewTime\": 1400000000}\n"

static void test_json_syntax(void **state) {
    (void)state;
    expect_failure("comma.json", GOOD_AMAZON GOOD_AMAZON
                   "{\"reviewerID\": \"A1\", \"asin\": \"B1\",}\n", 0, "auto",
                   FRAGMENTS("comma.json:3:35: invalid JSON: parse error",
                             "at '}'"));
    expect_failure("value.json", GOOD_AMAZON "{\"reviewerID\": x}\n", 0,
                   "amazon", FRAGMENTS("value.json:2:16: invalid JSON",
                                       "at 'x}'"));
    expect_failure("cut.json", GOOD_AMAZON "{\"reviewerID\": \"A1\"\n", 1,
                   "auto", FRAGMENTS("cut.json:2:20: invalid JSON: the line "
                                     "ends inside the JSON object, at the "
                                     "end of the line"));
    expect_failure("two.json", GOOD_AMAZON "{\"asin\": \"B\"} {\"asin\": 1}\n",
                   0, "auto", FRAGMENTS("two.json:2:15: invalid JSON: more "
                                        "than one JSON value on the line"));
    expect_failure("array.json", GOOD_AMAZON "[1, 2]\n", 0, "auto",
                   FRAGMENTS("array.json:2:1: invalid JSON: expected a JSON "
                             "object, found an array"));
    expect_failure("number.json", GOOD_AMAZON "17\n", 0, "auto",
                   FRAGMENTS("number.json:2:", "found a number"));
    expect_failure("utf8.json",
                   GOOD_AMAZON "{\"asin\": \"B\xff\", \"reviewerID\": \"A\"}\n",
                   0, "auto", FRAGMENTS("utf8.json:2:12:", "UTF8"));
    expect_failure("escape.json", GOOD_AMAZON "{\"asin\": \"\\q\"}\n", 0,
                   "auto", FRAGMENTS("escape.json:2:", "lexical error"));
    /* a CSV read as a native format */
    expect_failure("ratings.csv", "user,item,time\nu,i,1\n", 0, "yelp",
                   FRAGMENTS("ratings.csv:1:1: invalid JSON"));
}

static void test_wrong_types(void **state) {
    (void)state;
    expect_failure("type.json",
                   GOOD_AMAZON "{\"reviewerID\": [\"A\"], \"asin\": \"B\", "
                               "\"unixReviewTime\": 1}\n",
                   0, "auto",
                   FRAGMENTS("type.json:2: \"reviewerID\" is an array; "
                             "expected a string"));
    expect_failure("bool.json",
                   "{\"userId\": \"u\", \"id\": true, \"time\": 1, "
                   "\"eventId\": 1}\n",
                   0, "auto",
                   FRAGMENTS("bool.json:1: \"id\" is a boolean"));
    expect_failure("object_time.json",
                   "{\"user_id\": \"u\", \"business_id\": \"b\", \"date\": "
                   "{\"y\": 2019}}\n",
                   0, "yelp",
                   FRAGMENTS("object_time.json:1: \"date\" is an object; "
                             "expected a string"));
    expect_failure("nul.json",
                   "{\"reviewerID\": \"A\\u0000B\", \"asin\": \"B\", "
                   "\"unixReviewTime\": 1}\n",
                   0, "auto",
                   FRAGMENTS("nul.json:1: \"reviewerID\" contains a NUL "
                             "character"));
}

static void test_bad_times(void **state) {
    (void)state;
    expect_failure("unix.json",
                   GOOD_AMAZON "{\"reviewerID\": \"A\", \"asin\": \"B\", "
                               "\"unixReviewTime\": \"soon\"}\n",
                   0, "auto",
                   FRAGMENTS("unix.json:2: \"unixReviewTime\" 'soon' is not a "
                             "number"));
    expect_failure("huge.json",
                   "{\"userId\": \"u\", \"id\": \"a\", \"eventId\": 1, "
                   "\"time\": 1e999}\n",
                   0, "auto",
                   FRAGMENTS("huge.json:1: \"time\" '1e999' is out of range"));
    expect_failure("day.json",
                   "{\"reviewerID\": \"A\", \"asin\": \"B\", \"reviewTime\": "
                   "\"02 29, 2015\"}\n",
                   0, "amazon",
                   FRAGMENTS("day.json:1: \"reviewTime\" '02 29, 2015' is not "
                             "a date like \"09 13, 2009\""));
    expect_failure("date.json",
                   "{\"user_id\": \"u\", \"business_id\": \"b\", \"date\": "
                   "\"2019-02-29 10:00:00\"}\n",
                   0, "auto",
                   FRAGMENTS("date.json:1: \"date\" '2019-02-29 10:00:00' is "
                             "not a date and time"));
    expect_failure("clock.json",
                   "{\"user_id\": \"u\", \"business_id\": \"b\", \"date\": "
                   "\"2019-02-01 24:00:00\"}\n",
                   0, "yelp", FRAGMENTS("clock.json:1: \"date\" '2019-02-01 "
                                        "24:00:00'"));
    expect_failure("number_date.json",
                   "{\"user_id\": \"u\", \"business_id\": \"b\", \"date\": "
                   "1550000000}\n",
                   0, "yelp",
                   FRAGMENTS("number_date.json:1: \"date\" is a number; "
                             "expected a string"));
}

static void test_python_literals(void **state) {
    (void)state;
    expect_failure("open.json.gz",
                   "{'reviewerID': 'A', 'asin': 'B', 'unixReviewTime': 1}\n"
                   "{'reviewerID': 'A, 'asin': 'B'}\n",
                   1, "auto",
                   FRAGMENTS("open.json.gz:2:21: invalid Python dict "
                             "literal: a name other than True, False or None",
                             "at 'asin'"));
    expect_failure("open.json", "{'reviewerID': 'A}\n", 0, "auto",
                   FRAGMENTS("open.json:1:16: invalid Python dict literal: a "
                             "string is not terminated"));
    expect_failure("name.json",
                   "{'reviewerID': 'A', 'asin': 'B', 'overall': nan}\n", 0,
                   "auto",
                   FRAGMENTS("name.json:1:45: invalid Python dict literal: a "
                             "name other than True, False or None",
                             "at 'nan}'"));
    expect_failure("hex.json", "{'reviewerID': 'A\\xZZ', 'asin': 'B'}\n", 0,
                   "amazon", FRAGMENTS("hex.json:1:", "bad \\x"));
    expect_failure("colon.json", "{'reviewerID' 'A'}\n", 0, "amazon",
                   FRAGMENTS("colon.json:1: invalid Python dict literal",
                             "after conversion to JSON"));
}

static void test_format_detection(void **state) {
    (void)state;
    expect_failure("unknown.json", "{\"who\": \"u\", \"what\": \"i\"}\n", 0,
                   "auto",
                   FRAGMENTS("unknown.json:1: cannot tell the format of this "
                             "JSON record", "give the format"));
    expect_failure("both.json",
                   "{\"reviewerID\": \"u\", \"business_id\": \"b\"}\n", 0,
                   "auto",
                   FRAGMENTS("both.json:1:", "more than one format (amazon, "
                             "yelp)"));
    /* detection looks at the first record, after blank lines */
    expect_failure("late.json", "\n  \n{\"x\": 1}\n" GOOD_AMAZON, 0, "auto",
                   FRAGMENTS("late.json:3: cannot tell"));
}

static void test_nothing_to_keep(void **state) {
    (void)state;
    expect_failure("none.json",
                   "{\"reviewerID\": \"A\", \"unixReviewTime\": 5}\n"
                   "{\"asin\": \"B\", \"reviewerID\": null}\n",
                   0, "auto",
                   FRAGMENTS("none.json: no interactions: all 2 records lack "
                             "a user, an item or a time"));
    /* the Yelp keys are not in an Amazon file */
    expect_failure("other.json", GOOD_AMAZON, 0, "yelp",
                   FRAGMENTS("other.json: no interactions: all 1 records"));
    expect_failure("blank.json", "\n\n", 0, "adressa",
                   FRAGMENTS("blank.json: no interactions"));
}

static void test_options(void **state) {
    (void)state;
    const char *path = test_tmp_path("good.json");
    test_write_file(path, GOOD_AMAZON, 0);
    const char *paths[1] = {path};
    expect_paths_failure(paths, 1, "json", NULL,
                         FRAGMENTS("unknown format 'json' (known: auto, "
                                   "delimited, adressa, amazon, yelp)"));
    expect_paths_failure(paths, 1, "amazon", "1,2,3",
                         FRAGMENTS("columns option applies to delimited "
                                   "files, not to format 'amazon'"));
    expect_paths_failure(paths, 1, "auto", "user,item,time",
                         FRAGMENTS("good.json:1: the file holds JSON lines; "
                                   "the columns option applies to delimited "
                                   "files only"));
}

static void test_directories(void **state) {
    (void)state;
    const char *empty = test_tmp_path("empty-dir");
    assert_int_equal(mkdir(empty, 0700), 0);
    const char *paths[1] = {empty};
    expect_paths_failure(paths, 1, "auto", NULL,
                         FRAGMENTS("empty-dir: the directory holds no files"));

    /* hidden files and subdirectories are not data */
    const char *days = test_tmp_path("days");
    assert_int_equal(mkdir(days, 0700), 0);
    assert_int_equal(mkdir(test_tmp_path("days/sub"), 0700), 0);
    test_write_file(test_tmp_path("days/.hidden"), "garbage\n", 0);
    test_write_file(test_tmp_path("days/sub/x"), "garbage\n", 0);
    test_write_file(test_tmp_path("days/20170102"), GOOD_AMAZON, 1);
    test_write_file(test_tmp_path("days/20170101"),
                    GOOD_AMAZON "{\"asin\": ]}\n", 0);
    paths[0] = days;
    /* the files are read in name order: 20170101 comes first and fails */
    expect_paths_failure(paths, 1, "auto", NULL,
                         FRAGMENTS("days/20170101:2:10: invalid JSON"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_syntax),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_bad_times),
        cmocka_unit_test(test_python_literals),
        cmocka_unit_test(test_format_detection),
        cmocka_unit_test(test_nothing_to_keep),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_directories),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
