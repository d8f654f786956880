/* A line reader over plain or compressed files (gzip, bzip2, xz; see
 * source.h). Compression is recognised by the magic bytes, never by the
 * file name. Lines are returned NUL-terminated without their "\n" or "\r\n"
 * and may be modified in place until the next call. */
#ifndef MELON_DATA_READER_H
#define MELON_DATA_READER_H

#include "source.h"

#include "melon/common.h"

#include <stddef.h>

/* Longest line accepted; longer ones are an error naming the line. */
#define MELON_MAX_LINE ((size_t)1 << 20)

typedef struct {
    const char *path;  /* borrowed, for messages */
    melon_source *source;
    char *buf;         /* cap bytes + 1 for a terminating NUL */
    size_t cap;        /* grows from 64 KiB up to MELON_MAX_LINE */
    size_t begin;      /* unread bytes are buf[begin, end) */
    size_t end;
    size_t scanned;    /* buf[begin, scanned) is known to hold no newline */
    size_t line_no;    /* 1-based number of the line last returned */
    int at_eof;
} melon_line_reader;

int melon_line_reader_open(melon_line_reader *r, const char *path,
                           melon_err *err);
/* Returns 1 with the next line, 0 at the end of the file, -1 on a read
 * error (truncated or corrupt compressed data, an over-long line). */
int melon_line_reader_next(melon_line_reader *r, char **line, size_t *len,
                           melon_err *err);
void melon_line_reader_close(melon_line_reader *r);

#endif
