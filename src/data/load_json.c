/* Reading one JSON-lines file of a native format into the raw log.
 *
 * Every non-blank line must be one JSON object (or, for the 2014 Amazon
 * files, one Python dict literal). Its user, item and time keys are read;
 * a record that lacks one of them (absent, null or "") is counted and
 * skipped, while a value of the wrong type or a time that does not parse
 * stops the load with the file, line and value.
 *
 * Two stages overlap: a reading thread reads and parses the next block of
 * lines into a compact list of (user, item, time), while the calling
 * thread interns the ids of the block before it and appends its
 * interactions. Ids are interned in file order, so the result is the same
 * as reading line by line. */
#include "input.h"
#include "native_record.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_RECORDS 8192

/* One parsed record of a block; its ids are in the block's text. */
typedef struct {
    size_t user_at;
    size_t item_at;
    uint32_t user_len;
    uint32_t item_len;
    double time;
    size_t line_no;
    unsigned char missing[3];
} block_record;

typedef struct {
    block_record *records;
    size_t n;
    char *ids;           /* the user and item ids of the records */
    size_t ids_len;
    size_t ids_cap;
    size_t n_literal;    /* records that were Python dict literals */
    int at_end;          /* the file ended in this block */
    int status;          /* -1: a line failed; err says why */
    melon_err err;
} json_block;

/* The reading side: the file, its parser and the first line already read
 * for format detection. */
typedef struct {
    melon_line_reader *reader;
    melon_native_parser parser;
    char *pending_line;
    size_t pending_len;
} json_source;

static void block_free(json_block *b) {
    free(b->records);
    free(b->ids);
    memset(b, 0, sizeof *b);
}

static int block_init(json_block *b, melon_err *err) {
    memset(b, 0, sizeof *b);
    b->records = melon_alloc(BLOCK_RECORDS * sizeof *b->records, err);
    b->ids_cap = (size_t)1 << 16;
    b->ids = melon_alloc(b->ids_cap, err);
    if (!b->records || !b->ids) {
        block_free(b);
        return -1;
    }
    return 0;
}

/* Copies text into the block's id text; returns its offset. */
static int keep_id(json_block *b, const char *text, size_t len, size_t *at) {
    if (b->ids_len + len > b->ids_cap) {
        size_t cap = b->ids_cap;
        while (cap < b->ids_len + len) cap *= 2;
        char *grown = realloc(b->ids, cap);
        if (!grown) return -1;
        b->ids = grown;
        b->ids_cap = cap;
    }
    memcpy(b->ids + b->ids_len, text, len);
    *at = b->ids_len;
    b->ids_len += len;
    return 0;
}

static int keep_record(json_block *b, const melon_native_fields *f,
                       size_t line_no) {
    block_record *r = &b->records[b->n];
    memset(r, 0, sizeof *r);
    for (int k = 0; k < 3; k++) r->missing[k] = (unsigned char)f->missing[k];
    r->line_no = line_no;
    r->time = f->time;
    if (!f->missing[0] && !f->missing[1]) {
        if (f->user_len > UINT32_MAX || f->item_len > UINT32_MAX ||
            keep_id(b, f->user, f->user_len, &r->user_at) != 0 ||
            keep_id(b, f->item, f->item_len, &r->item_at) != 0)
            return -1;
        r->user_len = (uint32_t)f->user_len;
        r->item_len = (uint32_t)f->item_len;
    }
    b->n++;
    return 0;
}

/* Reads and parses lines into b until it is full or the file ends. */
static void fill_block(json_source *src, json_block *b) {
    b->n = 0;
    b->ids_len = 0;
    b->at_end = 0;
    b->status = 0;
    size_t literal_before = src->parser.n_python_literal;
    melon_line_reader *reader = src->reader;
    while (b->n < BLOCK_RECORDS) {
        char *line;
        size_t len;
        if (src->pending_line) {
            line = src->pending_line;
            len = src->pending_len;
            src->pending_line = NULL;
        } else {
            int got = melon_line_reader_next(reader, &line, &len, &b->err);
            if (got < 0) {
                b->status = -1;
                break;
            }
            if (got == 0) {
                b->at_end = 1;
                break;
            }
            if (melon_line_is_blank(line, len)) continue;
        }
        melon_native_fields fields;
        if (melon_native_parse_line(&src->parser, line, len, reader->line_no,
                                    &fields, &b->err) != 0) {
            b->status = -1;
            break;
        }
        if (keep_record(b, &fields, reader->line_no) != 0) {
            b->status = melon_fail(&b->err, "%s:%zu: out of memory",
                                   reader->path, reader->line_no);
            break;
        }
    }
    b->n_literal = src->parser.n_python_literal - literal_before;
}

/* Counts the skipped records of b and appends the others. */
static int drain_block(melon_raw_log *log, const char *path,
                       const json_block *b, melon_input_report *report,
                       melon_err *err) {
    report->n_python_literal += b->n_literal;
    for (size_t k = 0; k < b->n; k++) {
        const block_record *r = &b->records[k];
        report->n_records++;
        if (r->missing[0] || r->missing[1] || r->missing[2]) {
            report->n_skipped++;
            for (int f = 0; f < 3; f++) report->n_missing[f] += r->missing[f];
            continue;
        }
        if (log->n == MELON_MAX_INTERACTIONS)
            return melon_fail(err, "%s:%zu: more than %zu interactions", path,
                              r->line_no, MELON_MAX_INTERACTIONS);
        if (melon_raw_log_check_time(log, r->time, path, r->line_no, err) != 0)
            return -1;
        if (melon_raw_log_append(log, b->ids + r->user_at, r->user_len,
                                 b->ids + r->item_at, r->item_len, r->time,
                                 err) != 0)
            return -1;
    }
    return 0;
}

/* Two blocks pass between the reading thread, which fills them, and the
 * calling thread, which drains them, under one lock. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    json_block blocks[2];
    int full[2];      /* 1: filled, waiting to be drained */
    int stop;         /* the drainer failed: read no further */
    json_source *src;
} pipeline;

static void *reading_thread(void *arg) {
    pipeline *pipe = arg;
    for (int k = 0;; k = 1 - k) {
        pthread_mutex_lock(&pipe->lock);
        while (pipe->full[k] && !pipe->stop)
            pthread_cond_wait(&pipe->changed, &pipe->lock);
        int stop = pipe->stop;
        pthread_mutex_unlock(&pipe->lock);
        if (stop) break;
        json_block *b = &pipe->blocks[k];
        fill_block(pipe->src, b);
        pthread_mutex_lock(&pipe->lock);
        pipe->full[k] = 1;
        pthread_cond_broadcast(&pipe->changed);
        pthread_mutex_unlock(&pipe->lock);
        if (b->status != 0 || b->at_end) break;
    }
    return NULL;
}

/* Drains the blocks in order as the reading thread fills them. */
static int drain_blocks(pipeline *pipe, melon_raw_log *log,
                        melon_input_report *report, melon_err *err) {
    const char *path = pipe->src->reader->path;
    for (int k = 0;; k = 1 - k) {
        pthread_mutex_lock(&pipe->lock);
        while (!pipe->full[k]) pthread_cond_wait(&pipe->changed, &pipe->lock);
        pthread_mutex_unlock(&pipe->lock);
        json_block *b = &pipe->blocks[k];
        if (drain_block(log, path, b, report, err) != 0) return -1;
        if (b->status != 0) {
            *err = b->err;
            return -1;
        }
        if (b->at_end) return 0;
        pthread_mutex_lock(&pipe->lock);
        pipe->full[k] = 0;
        pthread_cond_broadcast(&pipe->changed);
        pthread_mutex_unlock(&pipe->lock);
    }
}

static int read_blocks(melon_raw_log *log, json_source *src,
                       melon_input_report *report, melon_err *err) {
    pipeline pipe = {.src = src};
    if (block_init(&pipe.blocks[0], err) != 0) return -1;
    if (block_init(&pipe.blocks[1], err) != 0) {
        block_free(&pipe.blocks[0]);
        return -1;
    }
    pthread_mutex_init(&pipe.lock, NULL);
    pthread_cond_init(&pipe.changed, NULL);
    pthread_t reader;
    int status;
    if (pthread_create(&reader, NULL, reading_thread, &pipe) != 0) {
        status = melon_fail(err, "%s: cannot start a thread",
                            src->reader->path);
    } else {
        status = drain_blocks(&pipe, log, report, err);
        pthread_mutex_lock(&pipe.lock);
        pipe.stop = 1;
        pthread_cond_broadcast(&pipe.changed);
        pthread_mutex_unlock(&pipe.lock);
        pthread_join(reader, NULL);
    }
    pthread_cond_destroy(&pipe.changed);
    pthread_mutex_destroy(&pipe.lock);
    block_free(&pipe.blocks[0]);
    block_free(&pipe.blocks[1]);
    return status;
}

static void note_format(melon_input_report *report,
                        const melon_native_format *format) {
    if (!report->format) report->format = format->name;
    else if (strcmp(report->format, format->name) != 0)
        report->format = "mixed";
}

int melon_raw_log_read_json(melon_raw_log *log, melon_line_reader *reader,
                            const melon_native_format *format, char *line,
                            size_t len, melon_input_report *report,
                            melon_err *err) {
    if (!format && melon_native_detect(reader->path, line, len,
                                       reader->line_no, &format, err) != 0)
        return -1;
    note_format(report, format);
    json_source src = {.reader = reader, .pending_line = line,
                       .pending_len = len};
    melon_native_parser_init(&src.parser, reader->path, format);
    size_t appended_before = log->n, records_before = report->n_records;
    int status = read_blocks(log, &src, report, err);
    melon_native_parser_free(&src.parser);
    if (status == 0 && log->n == appended_before)
        status = melon_fail(err, "%s: no interactions: all %zu records lack "
                                 "a user, an item or a time",
                            reader->path, report->n_records - records_before);
    return status;
}
