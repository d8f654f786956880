/* The durable event log: a directory of segment files, each a 32-byte
 * header and then records (log_record.h), numbered from 0 across the whole
 * log. A segment is named after the number of its first record
 * (00000000000000000000.seg, ...). Appends go to the last segment; a new
 * one starts when it passes the size limit. Nothing is acknowledged before
 * serve_log_sync returns, so on opening, a record that is incomplete or
 * whose checksum fails at the very end of the last segment was never
 * acknowledged: it is cut off with a message. Damage anywhere else stops
 * the open with the segment and byte offset. */
#ifndef MELON_SERVE_EVENT_LOG_H
#define MELON_SERVE_EVENT_LOG_H

#include "melon/common.h"

#include <stdint.h>
#include <stdio.h>

#define SERVE_SEGMENT_HEADER 32
/* Longest record body the log writes or reads back. */
#define SERVE_RECORD_MAX (64u << 20)

typedef struct {
    char dir[4096];
    int dir_fd;
    int fd;                 /* the last segment, open for appending */
    uint64_t seg_first;     /* number of its first record */
    uint64_t seg_bytes;     /* its size */
    uint64_t n_records;     /* records in the log */
    uint64_t n_segments;
    uint64_t total_bytes;   /* bytes of every segment */
    uint64_t segment_limit; /* start a new segment past this size */
    int broken;             /* a sync failed: no more appends */
    char broken_why[256];
} serve_log;

/* Called for every valid record found on opening, in order. A non-zero
 * return stops the open (with the message left in err). */
typedef int (*serve_log_visit_fn)(void *ctx, uint64_t record,
                                  const uint8_t *body, uint32_t body_len,
                                  melon_err *err);

/* Opens (creating when absent) the log in dir, checks every record, cuts
 * a torn tail (saying so on notes, when not NULL) and calls visit (when
 * not NULL) for each record. */
int serve_log_open(serve_log *log, const char *dir, uint64_t segment_limit,
                   serve_log_visit_fn visit, void *ctx, FILE *notes,
                   melon_err *err);
void serve_log_close(serve_log *log);

/* Appends n_records whole records (bytes of them) after the last one. On a
 * failed write the log is cut back to where it was and the error returned:
 * nothing of these records stays. Not durable before serve_log_sync. */
int serve_log_append(serve_log *log, const void *records, size_t bytes,
                     uint64_t n_records, melon_err *err);
/* Makes every appended record durable. A failure marks the log broken
 * (its state on disk is unknown): later appends and syncs fail. */
int serve_log_sync(serve_log *log, melon_err *err);

/* Reads records in order from any record on; may run in another thread
 * than the appender as long as it reads only records already appended. */
typedef struct {
    char dir[4096];
    int fd;
    uint64_t record;     /* number of the next record */
    uint64_t offset;     /* its offset in the open segment */
    uint8_t *buf;
    size_t cap;
} serve_log_reader;

/* Positions a reader at record `from` (at most log->n_records). */
int serve_log_reader_open(serve_log_reader *rd, const serve_log *log,
                          uint64_t from, melon_err *err);
/* The next record's body (valid until the next call): 1, or 0 when the
 * reader is at record `limit`, or -1 on an error. */
int serve_log_reader_next(serve_log_reader *rd, uint64_t limit,
                          const uint8_t **body, uint32_t *body_len,
                          melon_err *err);
void serve_log_reader_close(serve_log_reader *rd);

#endif
