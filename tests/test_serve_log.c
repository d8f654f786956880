/* The event log of `melon serve`: records come back as written, across
 * segments and reopenings; a torn tail is cut with a message; damage
 * elsewhere, a missing segment or a foreign file stops the open; a failed
 * write (a file size limit, as a full disk would) leaves nothing behind. */
#include "test_support.h"

#include "event_log.h"
#include "log_record.h"

#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* A record of n events named after k: user "u<k>-<e>", item "i<k>". */
static size_t make_record(uint8_t *out, int k, int n) {
    static char users[64][32];
    char item[32];
    serve_event ev[64];
    snprintf(item, sizeof item, "i%d", k);
    for (int e = 0; e < n; e++) {
        snprintf(users[e], sizeof users[e], "u%d-%d", k, e);
        ev[e] = (serve_event){.time = e == 0 ? NAN : (double)k,
                              .id = k % 2 ? "" : "id",
                              .id_len = (uint16_t)(k % 2 ? 0 : 2),
                              .user = users[e],
                              .user_len = (uint16_t)strlen(users[e]),
                              .item = item,
                              .item_len = (uint16_t)strlen(item)};
    }
    size_t size = serve_events_record_size(ev, (size_t)n);
    assert_int_equal(serve_events_record_write(out, ev, (size_t)n), size);
    return size;
}

static void append_records(serve_log *log, int from, int to) {
    melon_err err;
    uint8_t buf[4096];
    for (int k = from; k < to; k++) {
        size_t size = make_record(buf, k, 1 + k % 3);
        assert_int_equal(serve_log_append(log, buf, size, 1, &err), 0);
    }
    assert_int_equal(serve_log_sync(log, &err), 0);
}

/* Reads the log from `from` and checks every record is make_record's. */
static void check_records(const serve_log *log, int from, int to) {
    melon_err err;
    serve_log_reader rd;
    assert_int_equal(serve_log_reader_open(&rd, log, (uint64_t)from, &err), 0);
    const uint8_t *body;
    uint32_t len;
    for (int k = from; k < to; k++) {
        assert_int_equal(serve_log_reader_next(&rd, (uint64_t)to, &body, &len, &err), 1);
        uint8_t expect[4096];
        size_t size = make_record(expect, k, 1 + k % 3);
        assert_int_equal(len, size - SERVE_RECORD_HEADER);
        assert_memory_equal(body, expect + SERVE_RECORD_HEADER, len);
        serve_event_iter it;
        uint32_t n;
        assert_int_equal(serve_event_iter_init(&it, body, len, &n), 0);
        assert_int_equal(n, 1 + k % 3);
        serve_event ev;
        assert_int_equal(serve_event_iter_next(&it, &ev), 1);
        assert_true(isnan(ev.time));
        assert_int_equal(ev.id_len, k % 2 ? 0 : 2);
    }
    assert_int_equal(serve_log_reader_next(&rd, (uint64_t)to, &body, &len, &err), 0);
    serve_log_reader_close(&rd);
}

static int count_visits(void *ctx, uint64_t record, const uint8_t *body,
                        uint32_t len, melon_err *err) {
    (void)body; (void)len; (void)err;
    uint64_t *n = ctx;
    assert_int_equal(record, *n);
    (*n)++;
    return 0;
}

static const char *fresh_dir(const char *name) {
    const char *dir = test_tmp_path(name);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return dir;
}

static void segment_path(char *out, size_t cap, const char *dir, int first) {
    snprintf(out, cap, "%s/%020d.seg", dir, first);
}

static long file_size(const char *path) {
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (long)st.st_size;
}

static void test_records_round_trip_across_segments(void **state) {
    (void)state;
    const char *dir = fresh_dir("log-rotate");
    serve_log log;
    melon_err err;
    /* 300-byte segments hold a few records each */
    assert_int_equal(serve_log_open(&log, dir, 300, NULL, NULL, NULL, &err), 0);
    append_records(&log, 0, 40);
    assert_int_equal(log.n_records, 40);
    assert_true(log.n_segments > 5);
    check_records(&log, 0, 40);
    check_records(&log, 17, 40); /* a reader may start anywhere */
    check_records(&log, 40, 40);
    uint64_t segments = log.n_segments, bytes = log.total_bytes;
    serve_log_close(&log);

    uint64_t visits = 0;
    assert_int_equal(serve_log_open(&log, dir, 300, count_visits, &visits,
                                    NULL, &err), 0);
    assert_int_equal(visits, 40);
    assert_int_equal(log.n_records, 40);
    assert_int_equal(log.n_segments, segments);
    assert_int_equal(log.total_bytes, bytes);
    append_records(&log, 40, 50); /* appends go on after a reopening */
    check_records(&log, 0, 50);
    serve_log_close(&log);
}

static void test_torn_tail_is_cut(void **state) {
    (void)state;
    const char *dir = fresh_dir("log-torn");
    serve_log log;
    melon_err err;
    assert_int_equal(serve_log_open(&log, dir, 1 << 20, NULL, NULL, NULL, &err), 0);
    append_records(&log, 0, 5);
    serve_log_close(&log);
    char seg[4200];
    segment_path(seg, sizeof seg, dir, 0);
    long whole = file_size(seg);
    /* a sixth record written only in part, as by a crash mid-write */
    uint8_t buf[4096];
    size_t size = make_record(buf, 5, 3);
    FILE *f = fopen(seg, "ab");
    fwrite(buf, 1, size - 7, f);
    fclose(f);

    char notes_path[4200];
    snprintf(notes_path, sizeof notes_path, "%s.notes", dir);
    FILE *notes = fopen(notes_path, "w");
    assert_int_equal(serve_log_open(&log, dir, 1 << 20, NULL, NULL, notes, &err), 0);
    fclose(notes);
    char *said = test_read_file(notes_path);
    assert_non_null(strstr(said, "cut off a torn record"));
    assert_non_null(strstr(said, "00000000000000000000.seg"));
    free(said);
    assert_int_equal(log.n_records, 5);
    assert_int_equal(file_size(seg), whole);
    append_records(&log, 5, 8);
    check_records(&log, 0, 8);
    serve_log_close(&log);

    /* a torn header only (8 bytes of garbage that are not a record) */
    f = fopen(seg, "ab");
    fwrite("\x01\x02\x03", 1, 3, f);
    fclose(f);
    assert_int_equal(serve_log_open(&log, dir, 1 << 20, NULL, NULL, NULL, &err), 0);
    assert_int_equal(log.n_records, 8);
    serve_log_close(&log);
}

static void test_damage_in_the_middle_stops(void **state) {
    (void)state;
    const char *dir = fresh_dir("log-damage");
    serve_log log;
    melon_err err;
    assert_int_equal(serve_log_open(&log, dir, 1 << 20, NULL, NULL, NULL, &err), 0);
    append_records(&log, 0, 6);
    serve_log_close(&log);
    char seg[4200];
    segment_path(seg, sizeof seg, dir, 0);
    /* flip a byte inside the second record's body */
    uint8_t first[4096];
    long at = SERVE_SEGMENT_HEADER + (long)make_record(first, 0, 1) + 12;
    int fd = open(seg, O_RDWR);
    uint8_t byte;
    assert_int_equal(pread(fd, &byte, 1, at), 1);
    byte ^= 0x40;
    assert_int_equal(pwrite(fd, &byte, 1, at), 1);
    close(fd);
    assert_int_equal(serve_log_open(&log, dir, 1 << 20, NULL, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "00000000000000000000.seg: byte"));
    assert_non_null(strstr(err.msg, "(record 1)"));
    assert_non_null(strstr(err.msg, "checksum mismatch, with records after it"));
}

static void test_missing_or_foreign_segment_stops(void **state) {
    (void)state;
    const char *dir = fresh_dir("log-missing");
    serve_log log;
    melon_err err;
    assert_int_equal(serve_log_open(&log, dir, 200, NULL, NULL, NULL, &err), 0);
    append_records(&log, 0, 20);
    assert_true(log.n_segments >= 3);
    serve_log_close(&log);
    /* remove the second segment */
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "ls '%s'/*.seg | sed -n 2p | xargs rm", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(serve_log_open(&log, dir, 200, NULL, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "a segment is missing"));

    dir = fresh_dir("log-foreign");
    assert_int_equal(serve_log_open(&log, dir, 1 << 20, NULL, NULL, NULL, &err), 0);
    append_records(&log, 0, 2);
    serve_log_close(&log);
    char seg[4200];
    segment_path(seg, sizeof seg, dir, 0);
    int fd = open(seg, O_RDWR);
    assert_int_equal(pwrite(fd, "NOTMELON", 8, 0), 8);
    close(fd);
    assert_int_equal(serve_log_open(&log, dir, 1 << 20, NULL, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "not a melon event log segment"));
}

static void test_failed_write_leaves_nothing(void **state) {
    (void)state;
    const char *dir = fresh_dir("log-full");
    serve_log log;
    melon_err err;
    assert_int_equal(serve_log_open(&log, dir, 1 << 20, NULL, NULL, NULL, &err), 0);
    append_records(&log, 0, 3);
    char seg[4200];
    segment_path(seg, sizeof seg, dir, 0);
    long before = file_size(seg);
    /* a file size limit makes write() fail part-way, as a full disk does */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, tight;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    tight = old;
    tight.rlim_cur = (rlim_t)before + 10;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &tight), 0);
    uint8_t buf[4096];
    size_t size = make_record(buf, 3, 3);
    assert_int_equal(serve_log_append(&log, buf, size, 1, &err), -1);
    assert_non_null(strstr(err.msg, "cannot append to the event log"));
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(file_size(seg), before);
    assert_int_equal(log.n_records, 3);
    append_records(&log, 3, 5); /* the next write succeeds */
    check_records(&log, 0, 5);
    serve_log_close(&log);
    uint64_t visits = 0;
    assert_int_equal(serve_log_open(&log, dir, 1 << 20, count_visits, &visits,
                                    NULL, &err), 0);
    assert_int_equal(visits, 5);
    serve_log_close(&log);
}

static void test_cut_records_and_malformed_bodies(void **state) {
    (void)state;
    uint8_t buf[64];
    size_t n = serve_cut_record_write(buf);
    assert_int_equal(n, SERVE_RECORD_HEADER + 1);
    assert_int_equal(serve_record_check(buf, buf + SERVE_RECORD_HEADER, 1), 0);
    buf[SERVE_RECORD_HEADER] ^= 1;
    assert_int_equal(serve_record_check(buf, buf + SERVE_RECORD_HEADER, 1), -1);
    /* an events body that claims more events than it holds */
    uint8_t rec[4096];
    size_t size = make_record(rec, 0, 2);
    serve_event_iter it;
    uint8_t *body = rec + SERVE_RECORD_HEADER;
    uint32_t len = (uint32_t)(size - SERVE_RECORD_HEADER);
    assert_int_equal(serve_event_iter_init(&it, body, len, NULL), 0);
    serve_put_u32(body + 1, 3);
    assert_int_equal(serve_event_iter_init(&it, body, len, NULL), -1);
    serve_put_u32(body + 1, 1); /* fewer: bytes left over */
    assert_int_equal(serve_event_iter_init(&it, body, len, NULL), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_round_trip_across_segments),
        cmocka_unit_test(test_torn_tail_is_cut),
        cmocka_unit_test(test_damage_in_the_middle_stops),
        cmocka_unit_test(test_missing_or_foreign_segment_stops),
        cmocka_unit_test(test_failed_write_leaves_nothing),
        cmocka_unit_test(test_cut_records_and_malformed_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
