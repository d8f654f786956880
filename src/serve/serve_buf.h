/* A growing text buffer for responses: raw text, printf, JSON strings. An
 * allocation failure is remembered (oom) and later additions are dropped,
 * so a caller checks once at the end. */
#ifndef MELON_SERVE_BUF_H
#define MELON_SERVE_BUF_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    int oom;
} serve_buf;

void serve_buf_init(serve_buf *b);
void serve_buf_free(serve_buf *b);
void serve_buf_add(serve_buf *b, const char *text, size_t len);
void serve_buf_str(serve_buf *b, const char *text);
void serve_buf_printf(serve_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* text[0..len) as a quoted JSON string; bytes that are not valid UTF-8
 * become U+FFFD so the output is always valid JSON. */
void serve_buf_json_string(serve_buf *b, const char *text, size_t len);
/* A double as JSON: NaN and infinities become null. */
void serve_buf_json_number(serve_buf *b, double v);

#endif
