/* Bad input: every case returns -1, leaves the stream empty, and says what
 * was wrong and where (file, line, value). */
#include "test_support.h"

#include "melon/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Loads the given paths (with options) and expects a failure whose message
 * contains every one of the NULL-terminated fragments. */
static void expect_failure(const char *const *paths, int n_paths,
                           const melon_load_options *opt,
                           const char *const *fragments) {
    melon_stream s;
    melon_err err;
    memset(&err, 0, sizeof err);
    memset(&s, 0x5a, sizeof s); /* garbage in: must come back empty */
    int rc = melon_stream_load(&s, paths, n_paths, opt, &err);
    if (rc == 0) melon_stream_free(&s);
    assert_int_equal(rc, -1);
    for (const char *const *f = fragments; *f; f++) {
        if (!strstr(err.msg, *f))
            fprintf(stderr, "message '%s' lacks '%s'\n", err.msg, *f);
        assert_non_null(strstr(err.msg, *f));
    }
    assert_int_equal(s.n, 0);
    assert_null(s.user);
    assert_null(s.item);
    assert_null(s.time);
    assert_null(s.user_name);
    assert_null(s.item_name);
    melon_stream_free(&s); /* freeing an empty stream is fine */
}

/* One file with the given content, default options. */
static void expect_file_failure(const char *name, const char *content, int gz,
                                const char *const *fragments) {
    const char *path = test_tmp_path(name);
    test_write_file(path, content, gz);
    melon_load_options opt;
    melon_load_options_default(&opt);
    const char *paths[1] = {path};
    expect_failure(paths, 1, &opt, fragments);
}

#define FRAGMENTS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_missing_file(void **state) {
    (void)state;
    const char *paths[1] = {test_tmp_path("missing.csv")};
    melon_load_options opt;
    melon_load_options_default(&opt);
    expect_failure(paths, 1, &opt,
                   FRAGMENTS("missing.csv: cannot open: No such file or "
                             "directory"));
}

static void test_directory(void **state) {
    (void)state;
    /* a directory stands for its files; this one has none */
    const char *dir = test_tmp_path("no-files");
    assert_int_equal(mkdir(dir, 0700), 0);
    const char *paths[1] = {dir};
    expect_failure(paths, 1, NULL,
                   FRAGMENTS("no-files: the directory holds no files"));
}

static void test_empty_file(void **state) {
    (void)state;
    expect_file_failure("empty.csv", "", 0,
                        FRAGMENTS("empty.csv: no interactions"));
    expect_file_failure("blank.csv", "\n  \n\r\n", 0,
                        FRAGMENTS("blank.csv: no interactions"));
    expect_file_failure("empty.gz", "", 1,
                        FRAGMENTS("empty.gz: no interactions"));
}

static void test_header_only(void **state) {
    (void)state;
    expect_file_failure("header.csv", "user_id,item_id,time\r\n", 0,
                        FRAGMENTS("header.csv: no interactions",
                                  "only a header"));
}

static void test_wrong_field_count(void **state) {
    (void)state;
    expect_file_failure("data.csv", "u,i,1\nu,i,2\n\nu,i\nu,i,4\n", 0,
                        FRAGMENTS("data.csv:4: expected 3 fields, found 2: 'u,i'"));
    expect_file_failure("wide.csv", "user,item,time\nu,i,1\nu,i,2,3\n", 0,
                        FRAGMENTS("wide.csv:3: expected 3 fields, found 4: "
                                  "'u,i,2,3'"));
    expect_file_failure("wide.tsv", "u\ti\t1\nu\ti\t2\tx\n", 0,
                        FRAGMENTS("wide.tsv:2: expected 3 fields, found 4: "
                                  "'u\\ti\\t2\\tx'"));
}

static void test_non_numeric_timestamp(void **state) {
    (void)state;
    expect_file_failure("data.csv", "u,i,1\nu,i,2\nu,i,abc\n", 0,
                        FRAGMENTS("data.csv:3: timestamp 'abc' is not a "
                                  "number"));
    expect_file_failure("date.csv", "user,item,date\nu,i,2014-07-23\n", 0,
                        FRAGMENTS("date.csv:2: timestamp '2014-07-23' is not "
                                  "a number"));
    expect_file_failure("hex.csv", "u,i,0x10\n", 0,
                        FRAGMENTS("hex.csv:1: timestamp '0x10' is not a "
                                  "number"));
    expect_file_failure("empty_time.csv", "u,i,1\nu,i,\n", 0,
                        FRAGMENTS("empty_time.csv:2: timestamp '' is not a "
                                  "number"));
    expect_file_failure("space_time.csv", "u,i,1\nu,i,1 2\n", 0,
                        FRAGMENTS("space_time.csv:2: timestamp '1 2'"));
}

static void test_nan_and_infinite_timestamps(void **state) {
    (void)state;
    expect_file_failure("nan.tsv", "u\ti\t1\nu\ti\tnan\n", 0,
                        FRAGMENTS("nan.tsv:2: timestamp 'nan' is not a "
                                  "number"));
    expect_file_failure("nan2.tsv", "u\ti\tNaN\n", 0,
                        FRAGMENTS("nan2.tsv:1: timestamp 'NaN'"));
    expect_file_failure("inf.tsv", "u\ti\t-inf\n", 0,
                        FRAGMENTS("inf.tsv:1: timestamp '-inf' is not a "
                                  "number"));
    expect_file_failure("huge.tsv", "u\ti\t1e999\n", 0,
                        FRAGMENTS("huge.tsv:1: timestamp '1e999' is out of "
                                  "range"));
}

/* Beyond 2^53 a double no longer tells neighbouring integers apart: such
 * times (nanoseconds) cannot order the stream. */
static void test_timestamps_beyond_exact_integers(void **state) {
    (void)state;
    expect_file_failure("ns.csv", "u,i,1\nu,i,1400000000000000000\n", 0,
                        FRAGMENTS("ns.csv:2: timestamp 1.4e+18 is beyond 2^53"));
    expect_file_failure("neg.csv", "u,i,-1e16\n", 0,
                        FRAGMENTS("neg.csv:1: timestamp -10000000000000000 is beyond 2^53"));
}

static void test_empty_ids(void **state) {
    (void)state;
    expect_file_failure("nouser.csv", "u,i,1\n,i,2\n", 0,
                        FRAGMENTS("nouser.csv:2: user id is empty"));
    expect_file_failure("noitem.tsv", "u\ti\t1\nu\t\t2\n", 0,
                        FRAGMENTS("noitem.tsv:2: item id is empty"));
}

static void test_kcore_leaves_nothing(void **state) {
    (void)state;
    const char *path = test_tmp_path("small.csv");
    test_write_file(path, "a,x,1\na,y,2\nb,x,3\n", 0);
    melon_load_options opt;
    melon_load_options_default(&opt);
    opt.min_user = 50;
    opt.min_item = 50;
    const char *paths[1] = {path};
    expect_failure(paths, 1, &opt,
                   FRAGMENTS("k-core filter (min_user=50, min_item=50) left "
                             "no interactions"));
    opt.min_user = -1;
    expect_failure(paths, 1, &opt, FRAGMENTS("min_user=-1"));
}

/* A gzip file cut in the middle of its deflate data. */
static void test_truncated_gzip(void **state) {
    (void)state;
    static char content[200000];
    size_t len = 0;
    for (int k = 0; k < 8000; k++)
        len += (size_t)snprintf(content + len, sizeof content - len,
                                "user%d,item%d,%d\n", k * 7 % 991, k % 613, k);
    const char *path = test_tmp_path("cut.csv.gz");
    test_write_file(path, content, 1);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    assert_true(size > 100);
    assert_int_equal(truncate(path, size / 2), 0);
    fclose(f);
    const char *paths[1] = {path};
    expect_failure(paths, 1, NULL, FRAGMENTS("cut.csv.gz", "truncated"));
    /* cut inside the gzip header, right after the magic bytes */
    assert_int_equal(truncate(path, 3), 0);
    expect_failure(paths, 1, NULL, FRAGMENTS("cut.csv.gz"));
    /* the trailer (CRC, length) missing */
    test_write_file(path, "u,i,1\nu,i,2\n", 1);
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fclose(f);
    assert_int_equal(truncate(path, size - 4), 0);
    expect_failure(paths, 1, NULL, FRAGMENTS("cut.csv.gz", "truncated"));
}

static void test_corrupt_gzip(void **state) {
    (void)state;
    const char *path = test_tmp_path("corrupt.gz");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    /* gzip magic, deflate method, then bytes that are not deflate data */
    static const unsigned char bytes[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3,
                                          0xff, 0xff, 0xff, 0xff, 0x13, 0x37,
                                          0xde, 0xad, 0xbe, 0xef};
    assert_int_equal(fwrite(bytes, 1, sizeof bytes, f), sizeof bytes);
    fclose(f);
    const char *paths[1] = {path};
    expect_failure(paths, 1, NULL, FRAGMENTS("corrupt.gz: gzip data"));
}

static void test_binary_garbage(void **state) {
    (void)state;
    melon_rng rng;
    melon_rng_seed(&rng, 7);
    const char *path = test_tmp_path("garbage.bin");
    const char *paths[1] = {path};
    for (int round = 0; round < 20; round++) {
        unsigned char bytes[4096];
        for (size_t k = 0; k < sizeof bytes; k++)
            bytes[k] = (unsigned char)melon_rng_below(&rng, 256);
        if (round % 2) /* no NUL bytes: must fail on fields or numbers */
            for (size_t k = 0; k < sizeof bytes; k++)
                if (bytes[k] == 0) bytes[k] = 'x';
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(bytes, 1, sizeof bytes, f), sizeof bytes);
        fclose(f);
        expect_failure(paths, 1, NULL, FRAGMENTS("garbage.bin"));
    }
}

static void test_nul_byte(void **state) {
    (void)state;
    const char *path = test_tmp_path("nul.csv");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    static const char bytes[] = "u,i,1\nu\0v,i,2\n";
    fwrite(bytes, 1, sizeof bytes - 1, f);
    fclose(f);
    const char *paths[1] = {path};
    expect_failure(paths, 1, NULL,
                   FRAGMENTS("nul.csv:2: line contains a NUL byte"));
}

static void test_huge_line(void **state) {
    (void)state;
    size_t len = (size_t)3 << 20;
    char *content = malloc(len + 16);
    assert_non_null(content);
    strcpy(content, "u,i,1\n");
    memset(content + 6, 'a', len);
    content[len + 6] = '\0';
    expect_file_failure("huge.csv", content, 0,
                        FRAGMENTS("huge.csv:2: line is longer than"));
    free(content);
}

static void test_undecidable_columns(void **state) {
    (void)state;
    expect_file_failure("five.tsv", "a\tb\tc\td\t1\n", 0,
                        FRAGMENTS("five.tsv:1:", "5 fields", "columns"));
    expect_file_failure("notime.csv", "user,item,when\nu,i,1\n", 0,
                        FRAGMENTS("notime.csv:1: the header has no timestamp "
                                  "column"));
    expect_file_failure("oneword.txt", "hello\n", 0,
                        FRAGMENTS("oneword.txt:1:", "1 fields"));
}

static void test_bad_columns_option(void **state) {
    (void)state;
    const char *path = test_tmp_path("cols.csv");
    test_write_file(path, "userId,movieId,timestamp\nu,m,1\n", 0);
    const char *paths[1] = {path};
    melon_load_options opt;
    melon_load_options_default(&opt);
    opt.columns = "userId,itemId,timestamp";
    expect_failure(paths, 1, &opt,
                   FRAGMENTS("cols.csv:1: no column named 'itemId'"));
    opt.columns = "1,2";
    expect_failure(paths, 1, &opt, FRAGMENTS("columns '1,2'"));
    opt.columns = "1,x,3";
    expect_failure(paths, 1, &opt, FRAGMENTS("columns '1,x,3'"));
    opt.columns = "0,1,2";
    expect_failure(paths, 1, &opt, FRAGMENTS("1-based"));
    opt.columns = "1,1,3";
    expect_failure(paths, 1, &opt, FRAGMENTS("three different columns"));
    opt.columns = "1,2,9";
    expect_failure(paths, 1, &opt, FRAGMENTS("cols.csv:1:", "field 9"));
    opt.columns = NULL;
    opt.format = "parquet";
    expect_failure(paths, 1, &opt, FRAGMENTS("unknown format 'parquet'"));
    expect_failure(paths, 0, NULL, FRAGMENTS("no input files"));
    const char *unnamed[2] = {path, ""};
    expect_failure(unnamed, 2, NULL, FRAGMENTS("input file 2 of 2 has no name"));
    unnamed[1] = NULL;
    expect_failure(unnamed, 2, NULL, FRAGMENTS("input file 2 of 2 has no name"));
}

/* The second file's error names the second file. */
static void test_error_in_later_file(void **state) {
    (void)state;
    const char *good = test_tmp_path("good.csv");
    const char *bad = test_tmp_path("bad.csv");
    test_write_file(good, "u,i,1\nu,j,2\n", 0);
    test_write_file(bad, "u,i,3\nu,i,x4\n", 1);
    const char *paths[2] = {good, bad};
    expect_failure(paths, 2, NULL,
                   FRAGMENTS("bad.csv:2: timestamp 'x4' is not a number"));
}

static void test_long_value_is_cut_in_message(void **state) {
    (void)state;
    char content[400];
    strcpy(content, "u,i,");
    memset(content + 4, '7', 300);
    strcpy(content + 304, "x\n");
    expect_file_failure("long.csv", content, 0,
                        FRAGMENTS("long.csv:1: timestamp '777", "...'"));
    expect_file_failure("ctrl.csv", "u,i,\x01\xff\n", 0,
                        FRAGMENTS("timestamp '\\x01\\xff'"));
}

static void test_stream_too_short_for_split(void **state) {
    (void)state;
    char content[4000];
    size_t len = 0;
    for (int k = 0; k < 200; k++)
        len += (size_t)snprintf(content + len, sizeof content - len,
                                "u%d,i%d,%d\n", k % 5, k % 9, k);
    const char *path = test_tmp_path("short.csv");
    test_write_file(path, content, 0);
    melon_stream s;
    melon_err err;
    const char *paths[1] = {path};
    assert_int_equal(melon_stream_load(&s, paths, 1, NULL, &err), 0);
    assert_int_equal(s.n, 200);
    melon_split split;
    assert_int_equal(melon_split_make(&split, s.n, 256, 0.8, &err), -1);
    assert_non_null(strstr(err.msg, "200 interactions"));
    assert_non_null(strstr(err.msg, "1 batches"));
    assert_non_null(strstr(err.msg, "0 are past"));
    /* with batches of 100: 2 batches, floor(1.6) = 1 past, 1 online */
    assert_int_equal(melon_split_make(&split, s.n, 100, 0.8, &err), 0);
    assert_int_equal(split.n_past, 1);
    /* with ratio 0.4: floor(0.8) = 0 past batches */
    assert_int_equal(melon_split_make(&split, s.n, 100, 0.4, &err), -1);
    assert_non_null(strstr(err.msg, "floor(2 * 0.4) = 0"));
    melon_stream_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_header_only),
        cmocka_unit_test(test_wrong_field_count),
        cmocka_unit_test(test_non_numeric_timestamp),
        cmocka_unit_test(test_nan_and_infinite_timestamps),
        cmocka_unit_test(test_timestamps_beyond_exact_integers),
        cmocka_unit_test(test_empty_ids),
        cmocka_unit_test(test_kcore_leaves_nothing),
        cmocka_unit_test(test_truncated_gzip),
        cmocka_unit_test(test_corrupt_gzip),
        cmocka_unit_test(test_binary_garbage),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_huge_line),
        cmocka_unit_test(test_undecidable_columns),
        cmocka_unit_test(test_bad_columns_option),
        cmocka_unit_test(test_error_in_later_file),
        cmocka_unit_test(test_long_value_is_cut_in_message),
        cmocka_unit_test(test_stream_too_short_for_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
