/* Compressed inputs: bzip2 and xz files (one stream or several, as
 * parallel compressors write them) load as their plain text does; cut or
 * corrupt ones fail naming the file; zip, zstd, 7z and lz4 are named. The
 * files are written by libbz2 and liblzma themselves. */
#include "test_support.h"

#include "melon/stream.h"

#include <bzlib.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char text_a[] = "user_id,item_id,timestamp\nu1,i1,30\nu2,i2,10\n";
static const char text_b[] = "u1,i3,20\nu3,i1,40\n";

typedef size_t (*compress_fn)(const char *text, unsigned char *out, size_t cap);

static size_t bzip2_bytes(const char *text, unsigned char *out, size_t cap) {
    unsigned int len = (unsigned int)cap;
    assert_int_equal(BZ2_bzBuffToBuffCompress((char *)out, &len, (char *)text,
                                              (unsigned int)strlen(text), 9, 0, 0),
                     BZ_OK);
    return len;
}

static size_t xz_bytes(const char *text, unsigned char *out, size_t cap) {
    size_t len = 0;
    assert_int_equal(lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL,
                                             (const uint8_t *)text, strlen(text),
                                             out, &len, cap),
                     LZMA_OK);
    return len;
}

/* Writes the texts, each compressed as a stream of its own, one after the
 * other into one file; returns its size. */
static size_t write_streams(const char *path, compress_fn compress,
                            const char *const *texts, int n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    size_t total = 0;
    for (int k = 0; k < n; k++) {
        unsigned char buf[4096];
        size_t len = compress(texts[k], buf, sizeof buf);
        assert_int_equal(fwrite(buf, 1, len, f), len);
        total += len;
    }
    fclose(f);
    return total;
}

static int load(const char *path, melon_stream *s, melon_err *err) {
    const char *paths[1] = {path};
    return melon_stream_load(s, paths, 1, NULL, err);
}

/* The stream of text_a then text_b, in time order. */
static void assert_both_texts(const melon_stream *s) {
    static const double times[4] = {10, 20, 30, 40};
    static const char *const items[4] = {"i2", "i3", "i1", "i1"};
    assert_int_equal(s->n, 4);
    for (int k = 0; k < 4; k++) {
        assert_true(s->time[k] == times[k]);
        assert_string_equal(s->item_name[s->item[k]], items[k]);
    }
}

static void check_format(compress_fn compress, const char *one, const char *two,
                         const char *cut, const char *kind) {
    const char *texts[2] = {text_a, text_b};
    char joined[256];
    snprintf(joined, sizeof joined, "%s%s", text_a, text_b);
    const char *whole[1] = {joined};
    melon_stream s;
    melon_err err = {{0}};
    /* one stream */
    write_streams(test_tmp_path(one), compress, whole, 1);
    assert_int_equal(load(test_tmp_path(one), &s, &err), 0);
    assert_both_texts(&s);
    melon_stream_free(&s);
    /* two streams one after the other */
    write_streams(test_tmp_path(two), compress, texts, 2);
    int rc = load(test_tmp_path(two), &s, &err);
    if (rc != 0) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_both_texts(&s);
    melon_stream_free(&s);
    /* cut short */
    size_t size = write_streams(test_tmp_path(cut), compress, whole, 1);
    assert_int_equal(truncate(test_tmp_path(cut), (off_t)(size - 8)), 0);
    assert_int_equal(load(test_tmp_path(cut), &s, &err), -1);
    assert_non_null(strstr(err.msg, cut));
    char expected[64];
    snprintf(expected, sizeof expected, "%s data is truncated", kind);
    if (!strstr(err.msg, expected)) fprintf(stderr, "message: %s\n", err.msg);
    assert_non_null(strstr(err.msg, expected));
}

static void test_bzip2(void **state) {
    (void)state;
    check_format(bzip2_bytes, "one.csv.bz2", "two.bz2", "cut.bz2", "bzip2");
}

static void test_xz(void **state) {
    (void)state;
    check_format(xz_bytes, "one.csv.xz", "two.xz", "cut.xz", "xz");
}

/* Damage inside the compressed data is reported as corrupt data. */
static void test_corrupt(void **state) {
    (void)state;
    compress_fn fns[2] = {bzip2_bytes, xz_bytes};
    const char *names[2] = {"bad.bz2", "bad.xz"};
    const char *kinds[2] = {"bzip2 data is corrupt", "xz data is corrupt"};
    for (int k = 0; k < 2; k++) {
        unsigned char buf[4096];
        size_t len = fns[k](text_a, buf, sizeof buf);
        for (size_t j = 14; j < len - 14; j++) buf[j] ^= 0x5a;
        const char *path = test_tmp_path(names[k]);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, len, f), len);
        fclose(f);
        melon_stream s;
        melon_err err = {{0}};
        assert_int_equal(load(path, &s, &err), -1);
        if (!strstr(err.msg, kinds[k])) fprintf(stderr, "message: %s\n", err.msg);
        assert_non_null(strstr(err.msg, names[k]));
        assert_non_null(strstr(err.msg, kinds[k]));
    }
}

/* Formats melon does not read are named, with the tool that unpacks them,
 * instead of failing on the first line's bytes. */
static void test_unread_formats_named(void **state) {
    (void)state;
    static const struct {
        const char *name;
        const char *bytes;
        size_t len;
        const char *said;
    } cases[] = {
        {"data.zip", "PK\x03\x04\x14\0\0\0\x08\0", 10, "a zip archive"},
        {"data.zst", "\x28\xB5\x2F\xFD\x24\x04", 6, "zstd-compressed"},
        {"data.7z", "7z\xBC\xAF\x27\x1C\0\x04", 8, "a 7z archive"},
        {"data.lz4", "\x04\x22\x4D\x18\x64\x40", 6, "lz4-compressed"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const char *path = test_tmp_path(cases[k].name);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(cases[k].bytes, 1, cases[k].len, f), cases[k].len);
        fclose(f);
        melon_stream s;
        melon_err err = {{0}};
        assert_int_equal(load(path, &s, &err), -1);
        if (!strstr(err.msg, cases[k].said)) fprintf(stderr, "message: %s\n", err.msg);
        assert_non_null(strstr(err.msg, cases[k].name));
        assert_non_null(strstr(err.msg, cases[k].said));
        assert_non_null(strstr(err.msg, "decompress it first"));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bzip2),
        cmocka_unit_test(test_xz),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_unread_formats_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
