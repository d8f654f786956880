/* The segmented event log (event_log.h). */
#include "event_log.h"

#include "log_record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char segment_magic[8] = {'M', 'E', 'L', 'O', 'N', 'L', 'O', 'G'};
#define SEGMENT_VERSION 1

static void segment_name(char *out, size_t cap, const char *dir,
                         uint64_t first) {
    snprintf(out, cap, "%s/%020" PRIu64 ".seg", dir, first);
}

static void header_write(uint8_t *h, uint64_t first) {
    memset(h, 0, SERVE_SEGMENT_HEADER);
    memcpy(h, segment_magic, 8);
    serve_put_u32(h + 8, SEGMENT_VERSION);
    serve_put_u64(h + 16, first);
    serve_put_u32(h + 24, serve_crc32(0, h, 24));
}

/* 0 when h is the header of a segment whose first record is `first`. */
static int header_check(const uint8_t *h, uint64_t first, char *why,
                        size_t why_cap) {
    if (memcmp(h, segment_magic, 8) != 0)
        return snprintf(why, why_cap, "not a melon event log segment"), -1;
    if (serve_get_u32(h + 24) != serve_crc32(0, h, 24))
        return snprintf(why, why_cap, "header checksum mismatch"), -1;
    if (serve_get_u32(h + 8) != SEGMENT_VERSION)
        return snprintf(why, why_cap, "segment format version %" PRIu32
                        " (this melon reads %d)", serve_get_u32(h + 8),
                        SEGMENT_VERSION), -1;
    if (serve_get_u64(h + 16) != first)
        return snprintf(why, why_cap, "header says it starts at record %"
                        PRIu64 ", its name says %" PRIu64,
                        serve_get_u64(h + 16), first), -1;
    return 0;
}

static int write_all(int fd, const void *data, size_t len) {
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int pread_all(int fd, void *data, size_t len, uint64_t offset,
                     size_t *got) {
    uint8_t *p = data;
    *got = 0;
    while (*got < len) {
        ssize_t n = pread(fd, p + *got, len - *got, (off_t)(offset + *got));
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (n == 0) break;
        *got += (size_t)n;
    }
    return 0;
}

/* Creates the segment whose first record is `first`, durable with its
 * directory entry, and makes it the log's last segment. */
static int segment_create(serve_log *log, uint64_t first, melon_err *err) {
    char path[4200];
    segment_name(path, sizeof path, log->dir, first);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return melon_fail(err, "%s: cannot create: %s", path, strerror(errno));
    uint8_t h[SERVE_SEGMENT_HEADER];
    header_write(h, first);
    if (write_all(fd, h, sizeof h) != 0 || fdatasync(fd) != 0 ||
        fsync(log->dir_fd) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return melon_fail(err, "%s: cannot write the segment header: %s", path,
                          strerror(e));
    }
    if (log->fd >= 0) close(log->fd);
    log->fd = fd;
    log->seg_first = first;
    log->seg_bytes = SERVE_SEGMENT_HEADER;
    log->total_bytes += SERVE_SEGMENT_HEADER;
    log->n_segments++;
    return 0;
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The first record numbers of the segments in dir, ascending. */
static int list_segments(const char *dir, uint64_t **out, size_t *n,
                         melon_err *err) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return melon_fail(err, "%s: cannot list: %s", dir, strerror(errno));
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (strlen(name) != 24 || strcmp(name + 20, ".seg") != 0) continue;
        int digits = 1;
        for (int k = 0; k < 20; k++)
            if (name[k] < '0' || name[k] > '9') digits = 0;
        if (!digits) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            uint64_t *grown = realloc(*out, cap * sizeof **out);
            if (!grown) {
                closedir(d);
                free(*out);
                *out = NULL;
                return melon_fail(err, "out of memory listing %s", dir);
            }
            *out = grown;
        }
        (*out)[(*n)++] = strtoull(name, NULL, 10);
    }
    closedir(d);
    if (*n > 1) qsort(*out, *n, sizeof **out, compare_u64);
    return 0;
}

/* 1 when a record whose checksum holds starts anywhere in buf[from..len). */
static int valid_record_after(const uint8_t *buf, size_t len, size_t from) {
    for (size_t at = from; at + SERVE_RECORD_HEADER < len; at++) {
        uint32_t body_len = serve_record_body_len(buf + at);
        if (body_len == 0 || body_len > SERVE_RECORD_MAX ||
            body_len > len - at - SERVE_RECORD_HEADER)
            continue;
        if (serve_record_check(buf + at, buf + at + SERVE_RECORD_HEADER,
                               body_len) == 0)
            return 1;
    }
    return 0;
}

/* Why a checked body is not a record the log writes, or NULL. */
static const char *body_problem(const uint8_t *body, uint32_t body_len) {
    if (body[0] == SERVE_RECORD_CUT)
        return body_len == 1 ? NULL : "a cut record with a payload";
    if (body[0] != SERVE_RECORD_EVENTS) return "an unknown record type";
    serve_event_iter it;
    return serve_event_iter_init(&it, body, body_len, NULL) == 0
               ? NULL
               : "a malformed events record";
}

static int read_file(const char *path, uint8_t **buf, size_t *len,
                     melon_err *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return melon_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return melon_fail(err, "%s: cannot stat: %s", path, strerror(errno));
    }
    *len = (size_t)st.st_size;
    *buf = melon_alloc(*len, err);
    size_t got = 0;
    if (!*buf) {
        close(fd);
        return -1;
    }
    if (pread_all(fd, *buf, *len, 0, &got) != 0 || got != *len) {
        close(fd);
        free(*buf);
        *buf = NULL;
        return melon_fail(err, "%s: cannot read: %s", path,
                          got != *len ? "short read" : strerror(errno));
    }
    close(fd);
    return 0;
}

/* Checks one segment (and visits its records). *valid_end: the bytes that
 * hold whole valid records; *torn: 1 when bytes after them must be cut
 * (allowed in the last segment only). */
static int scan_segment(serve_log *log, const char *path, uint64_t first,
                        int is_last, serve_log_visit_fn visit, void *ctx,
                        uint64_t *valid_end, uint64_t *records,
                        melon_err *err) {
    uint8_t *buf = NULL;
    size_t len = 0;
    if (read_file(path, &buf, &len, err) != 0) return -1;
    char why[200];
    if (len < SERVE_SEGMENT_HEADER ||
        header_check(buf, first, why, sizeof why) != 0) {
        if (len < SERVE_SEGMENT_HEADER) snprintf(why, sizeof why, "%zu bytes, "
                                                 "shorter than its header", len);
        free(buf);
        *valid_end = 0;
        *records = 0;
        if (is_last && len <= SERVE_SEGMENT_HEADER) return 1; /* torn header */
        return melon_fail(err, "%s: %s", path, why);
    }
    size_t at = SERVE_SEGMENT_HEADER;
    uint64_t n = 0;
    const char *problem = NULL;
    while (at < len) {
        if (len - at < SERVE_RECORD_HEADER) {
            problem = "an incomplete record header";
            break;
        }
        uint32_t body_len = serve_record_body_len(buf + at);
        if (body_len == 0 || body_len > SERVE_RECORD_MAX) {
            problem = "an impossible record length";
            break;
        }
        if (body_len > len - at - SERVE_RECORD_HEADER) {
            problem = "a record cut short";
            break;
        }
        const uint8_t *body = buf + at + SERVE_RECORD_HEADER;
        if (serve_record_check(buf + at, body, body_len) != 0) {
            problem = "a checksum mismatch";
            break;
        }
        const char *bad = body_problem(body, body_len);
        if (bad) { /* its checksum holds: not a torn write, damage */
            free(buf);
            return melon_fail(err, "%s: byte %zu (record %" PRIu64 "): %s",
                              path, at, first + n, bad);
        }
        if (visit && visit(ctx, first + n, body, body_len, err) != 0) {
            free(buf);
            return -1;
        }
        at += SERVE_RECORD_HEADER + body_len;
        n++;
    }
    *valid_end = at;
    *records = n;
    if (problem && (!is_last || valid_record_after(buf, len, at + 1))) {
        free(buf);
        return melon_fail(err, "%s: byte %zu (record %" PRIu64 "): %s, with "
                          "records after it; the log is damaged (move the "
                          "segments from this one on aside to start from the "
                          "records before it)", path, at, first + n, problem);
    }
    free(buf);
    (void)log;
    return problem ? 1 : 0;
}

static int open_last_for_append(serve_log *log, uint64_t first,
                                uint64_t bytes, melon_err *err) {
    char path[4200];
    segment_name(path, sizeof path, log->dir, first);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return melon_fail(err, "%s: cannot open: %s", path, strerror(errno));
    if (lseek(fd, (off_t)bytes, SEEK_SET) < 0) {
        close(fd);
        return melon_fail(err, "%s: cannot seek: %s", path, strerror(errno));
    }
    log->fd = fd;
    log->seg_first = first;
    log->seg_bytes = bytes;
    return 0;
}

int serve_log_open(serve_log *log, const char *dir, uint64_t segment_limit,
                   serve_log_visit_fn visit, void *ctx, FILE *notes,
                   melon_err *err) {
    memset(log, 0, sizeof *log);
    log->fd = -1;
    log->dir_fd = -1;
    log->segment_limit = segment_limit;
    if (strlen(dir) >= sizeof log->dir)
        return melon_fail(err, "%s: path too long", dir);
    strcpy(log->dir, dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return melon_fail(err, "%s: cannot create: %s", dir, strerror(errno));
    log->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (log->dir_fd < 0)
        return melon_fail(err, "%s: cannot open: %s", dir, strerror(errno));
    uint64_t *firsts;
    size_t n_segs;
    if (list_segments(dir, &firsts, &n_segs, err) != 0) goto fail;
    uint64_t expected = 0, last_end = 0;
    for (size_t s = 0; s < n_segs; s++) {
        char path[4200];
        segment_name(path, sizeof path, dir, firsts[s]);
        if (firsts[s] != expected) {
            melon_fail(err, "%s: the log has no segment for records %" PRIu64
                       " to %" PRIu64 " (a segment is missing)", path, expected,
                       firsts[s] - 1);
            free(firsts);
            goto fail;
        }
        int is_last = s + 1 == n_segs;
        uint64_t valid_end = 0, records = 0;
        int torn = scan_segment(log, path, firsts[s], is_last, visit, ctx,
                                &valid_end, &records, err);
        if (torn < 0) {
            free(firsts);
            goto fail;
        }
        if (torn && valid_end == 0) { /* a new segment whose header is torn */
            if (notes)
                fprintf(notes, "melon serve: %s: removed a segment whose "
                        "header was never completely written\n", path);
            if (unlink(path) != 0 || fsync(log->dir_fd) != 0) {
                melon_fail(err, "%s: cannot remove: %s", path, strerror(errno));
                free(firsts);
                goto fail;
            }
            n_segs--;
            break;
        }
        if (torn) {
            struct stat st;
            int fd = open(path, O_WRONLY | O_CLOEXEC);
            if (fd < 0 || fstat(fd, &st) != 0 ||
                ftruncate(fd, (off_t)valid_end) != 0 || fdatasync(fd) != 0) {
                melon_fail(err, "%s: cannot cut the torn tail: %s", path,
                           strerror(errno));
                if (fd >= 0) close(fd);
                free(firsts);
                goto fail;
            }
            close(fd);
            if (notes)
                fprintf(notes, "melon serve: %s: cut off a torn record at the "
                        "end of the log (bytes %" PRIu64 " to %lld, never "
                        "acknowledged)\n", path, valid_end,
                        (long long)st.st_size);
        }
        expected = firsts[s] + records;
        last_end = valid_end;
        log->total_bytes += valid_end;
    }
    log->n_records = expected;
    log->n_segments = n_segs;
    if (n_segs == 0) {
        free(firsts);
        if (segment_create(log, 0, err) != 0) goto fail;
        return 0;
    }
    uint64_t last_first = firsts[n_segs - 1];
    free(firsts);
    if (open_last_for_append(log, last_first, last_end, err) != 0) goto fail;
    return 0;
fail:
    serve_log_close(log);
    return -1;
}

void serve_log_close(serve_log *log) {
    if (log->fd >= 0) close(log->fd);
    if (log->dir_fd >= 0) close(log->dir_fd);
    log->fd = -1;
    log->dir_fd = -1;
}

int serve_log_append(serve_log *log, const void *records, size_t bytes,
                     uint64_t n_records, melon_err *err) {
    if (log->broken)
        return melon_fail(err, "the event log is read-only after a failed "
                          "sync: %s", log->broken_why);
    if (log->seg_bytes > SERVE_SEGMENT_HEADER &&
        log->seg_bytes + bytes > log->segment_limit) {
        if (serve_log_sync(log, err) != 0) return -1;
        if (segment_create(log, log->n_records, err) != 0) return -1;
    }
    if (write_all(log->fd, records, bytes) != 0) {
        int e = errno;
        /* leave nothing of these records: the next append starts clean */
        if (ftruncate(log->fd, (off_t)log->seg_bytes) != 0 ||
            lseek(log->fd, (off_t)log->seg_bytes, SEEK_SET) < 0) {
            log->broken = 1;
            snprintf(log->broken_why, sizeof log->broken_why,
                     "cannot cut back a failed write: %s", strerror(errno));
        }
        char path[4200];
        segment_name(path, sizeof path, log->dir, log->seg_first);
        return melon_fail(err, "%s: cannot append to the event log: %s", path,
                          strerror(e));
    }
    log->seg_bytes += bytes;
    log->total_bytes += bytes;
    log->n_records += n_records;
    return 0;
}

int serve_log_sync(serve_log *log, melon_err *err) {
    if (log->broken)
        return melon_fail(err, "the event log is read-only after a failed "
                          "sync: %s", log->broken_why);
    if (fdatasync(log->fd) != 0) {
        int e = errno;
        log->broken = 1;
        snprintf(log->broken_why, sizeof log->broken_why, "%s", strerror(e));
        return melon_fail(err, "%s: cannot sync the event log: %s", log->dir,
                          strerror(e));
    }
    return 0;
}

/* ---- reading ----------------------------------------------------------- */

static int reader_open_segment(serve_log_reader *rd, uint64_t first,
                               melon_err *err) {
    char path[4200];
    segment_name(path, sizeof path, rd->dir, first);
    if (rd->fd >= 0) close(rd->fd);
    rd->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (rd->fd < 0)
        return melon_fail(err, "%s: cannot open: %s", path, strerror(errno));
    rd->offset = SERVE_SEGMENT_HEADER;
    return 0;
}

static int reader_grow(serve_log_reader *rd, size_t need, melon_err *err) {
    if (need <= rd->cap) return 0;
    size_t cap = rd->cap ? rd->cap : 1 << 16;
    while (cap < need) cap *= 2;
    uint8_t *grown = realloc(rd->buf, cap);
    if (!grown) return melon_fail(err, "out of memory reading the event log");
    rd->buf = grown;
    rd->cap = cap;
    return 0;
}

/* Reads the record at the reader's offset; 0 when the segment ends there. */
static int reader_read(serve_log_reader *rd, uint32_t *body_len,
                       melon_err *err) {
    uint8_t header[SERVE_RECORD_HEADER];
    size_t got;
    if (pread_all(rd->fd, header, sizeof header, rd->offset, &got) != 0)
        return melon_fail(err, "%s: cannot read the event log: %s", rd->dir,
                          strerror(errno));
    if (got == 0) return 0;
    uint32_t len = serve_record_body_len(header);
    if (got < sizeof header || len == 0 || len > SERVE_RECORD_MAX)
        return melon_fail(err, "%s: record %" PRIu64 " at byte %" PRIu64
                          " is damaged", rd->dir, rd->record, rd->offset);
    if (reader_grow(rd, len, err) != 0) return -1;
    if (pread_all(rd->fd, rd->buf, len, rd->offset + sizeof header, &got) != 0 ||
        got != len || serve_record_check(header, rd->buf, len) != 0)
        return melon_fail(err, "%s: record %" PRIu64 " at byte %" PRIu64
                          " cannot be read back whole", rd->dir, rd->record,
                          rd->offset);
    *body_len = len;
    return 1;
}

int serve_log_reader_open(serve_log_reader *rd, const serve_log *log,
                          uint64_t from, melon_err *err) {
    memset(rd, 0, sizeof *rd);
    rd->fd = -1;
    strcpy(rd->dir, log->dir);
    if (from > log->n_records)
        return melon_fail(err, "%s: record %" PRIu64 " is past the end of the "
                          "event log (%" PRIu64 " records)", log->dir, from,
                          log->n_records);
    uint64_t *firsts;
    size_t n;
    if (list_segments(log->dir, &firsts, &n, err) != 0) return -1;
    size_t s = 0;
    while (s + 1 < n && firsts[s + 1] <= from) s++;
    uint64_t first = n ? firsts[s] : 0;
    free(firsts);
    if (reader_open_segment(rd, first, err) != 0) return -1;
    rd->record = first;
    while (rd->record < from) { /* skip to `from` within the segment */
        uint32_t len;
        int got = reader_read(rd, &len, err);
        if (got < 0) goto fail;
        if (got == 0) {
            melon_fail(err, "%s: segment %" PRIu64 " ends before record %" PRIu64,
                       log->dir, first, from);
            goto fail;
        }
        rd->offset += SERVE_RECORD_HEADER + len;
        rd->record++;
    }
    return 0;
fail:
    serve_log_reader_close(rd);
    return -1;
}

int serve_log_reader_next(serve_log_reader *rd, uint64_t limit,
                          const uint8_t **body, uint32_t *body_len,
                          melon_err *err) {
    if (rd->record >= limit) return 0;
    int got = reader_read(rd, body_len, err);
    if (got < 0) return -1;
    if (got == 0) { /* the segment ended: the next one starts here */
        if (reader_open_segment(rd, rd->record, err) != 0) return -1;
        got = reader_read(rd, body_len, err);
        if (got < 0) return -1;
        if (got == 0)
            return melon_fail(err, "%s: record %" PRIu64 " is missing", rd->dir,
                              rd->record);
    }
    *body = rd->buf;
    rd->offset += SERVE_RECORD_HEADER + *body_len;
    rd->record++;
    return 1;
}

void serve_log_reader_close(serve_log_reader *rd) {
    if (rd->fd >= 0) close(rd->fd);
    rd->fd = -1;
    free(rd->buf);
    rd->buf = NULL;
    rd->cap = 0;
}
