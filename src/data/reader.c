/* Line reader: large decompressed chunks into one buffer, lines split
 * with memchr. */
#include "reader.h"

#include <stdlib.h>
#include <string.h>

/* Our buffer starts small (most files are small) and doubles up to
 * MELON_MAX_LINE while the file keeps filling it or a line needs it. */
#define INITIAL_BUFFER ((size_t)1 << 16)

int melon_line_reader_open(melon_line_reader *r, const char *path,
                           melon_err *err) {
    memset(r, 0, sizeof *r);
    r->path = path;
    r->cap = INITIAL_BUFFER < MELON_MAX_LINE ? INITIAL_BUFFER : MELON_MAX_LINE;
    r->buf = melon_alloc(r->cap + 1, err);
    if (!r->buf) return -1;
    r->source = melon_source_open(path, err);
    if (!r->source) {
        free(r->buf);
        r->buf = NULL;
        return -1;
    }
    return 0;
}

/* Hands out buf[begin, stop) as a line and moves past `skip` more bytes. */
static void take_line(melon_line_reader *r, size_t stop, size_t skip,
                      char **line, size_t *len) {
    size_t n = stop - r->begin;
    char *text = r->buf + r->begin;
    if (n > 0 && text[n - 1] == '\r') n--;
    text[n] = '\0';
    r->begin = stop + skip;
    r->scanned = r->begin;
    r->line_no++;
    *line = text;
    *len = n;
}

/* Doubles the buffer, up to MELON_MAX_LINE. */
static int grow(melon_line_reader *r, melon_err *err) {
    size_t cap = 2 * r->cap < MELON_MAX_LINE ? 2 * r->cap : MELON_MAX_LINE;
    char *buf = realloc(r->buf, cap + 1);
    if (!buf)
        return melon_fail(err, "%s: out of memory growing the line buffer",
                          r->path);
    r->buf = buf;
    r->cap = cap;
    return 0;
}

/* Reads more bytes after the unread ones; sets at_eof at the end. */
static int refill(melon_line_reader *r, melon_err *err) {
    /* The last read filled the buffer: the file is large, read more at once. */
    int file_is_large = r->end == r->cap;
    if (r->begin > 0) {
        size_t unread = r->end - r->begin;
        memmove(r->buf, r->buf + r->begin, unread);
        r->end = unread;
        r->scanned -= r->begin;
        r->begin = 0;
    }
    if (r->end == MELON_MAX_LINE)
        return melon_fail(err, "%s:%zu: line is longer than %zu bytes",
                          r->path, r->line_no + 1, MELON_MAX_LINE);
    if ((r->end == r->cap || file_is_large) && r->cap < MELON_MAX_LINE &&
        grow(r, err) != 0)
        return -1;
    long got = melon_source_read(r->source, r->buf + r->end, r->cap - r->end, err);
    if (got < 0) return -1;
    if (got == 0) r->at_eof = 1;
    r->end += (size_t)got;
    return 0;
}

int melon_line_reader_next(melon_line_reader *r, char **line, size_t *len,
                           melon_err *err) {
    for (;;) {
        char *newline = memchr(r->buf + r->scanned, '\n', r->end - r->scanned);
        if (newline) {
            take_line(r, (size_t)(newline - r->buf), 1, line, len);
            return 1;
        }
        r->scanned = r->end;
        if (r->at_eof) {
            if (r->begin == r->end) return 0;
            take_line(r, r->end, 0, line, len); /* last line, no newline */
            return 1;
        }
        if (refill(r, err) != 0) return -1;
    }
}

void melon_line_reader_close(melon_line_reader *r) {
    melon_source_close(r->source);
    free(r->buf);
    memset(r, 0, sizeof *r);
}
