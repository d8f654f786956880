/* serve_buf.h */
#include "serve_buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void serve_buf_init(serve_buf *b) { memset(b, 0, sizeof *b); }

void serve_buf_free(serve_buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

static int reserve(serve_buf *b, size_t more) {
    if (b->oom) return -1;
    if (b->len + more + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1) cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown) {
        b->oom = 1;
        return -1;
    }
    b->data = grown;
    b->cap = cap;
    return 0;
}

void serve_buf_add(serve_buf *b, const char *text, size_t len) {
    if (reserve(b, len) != 0) return;
    memcpy(b->data + b->len, text, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void serve_buf_str(serve_buf *b, const char *text) {
    serve_buf_add(b, text, strlen(text));
}

void serve_buf_printf(serve_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n) != 0) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at p (at most left bytes), or 0. */
static size_t utf8_length(const unsigned char *p, size_t left) {
    size_t n;
    unsigned min;
    if (p[0] < 0x80) return 1;
    if ((p[0] & 0xe0) == 0xc0) n = 2, min = 0x80;
    else if ((p[0] & 0xf0) == 0xe0) n = 3, min = 0x800;
    else if ((p[0] & 0xf8) == 0xf0) n = 4, min = 0x10000;
    else return 0;
    if (n > left) return 0;
    unsigned cp = p[0] & (0x7f >> n);
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (p[k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

void serve_buf_json_string(serve_buf *b, const char *text, size_t len) {
    const unsigned char *p = (const unsigned char *)text;
    serve_buf_add(b, "\"", 1);
    size_t k = 0;
    while (k < len) {
        unsigned char c = p[k];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            serve_buf_add(b, esc, 2);
            k++;
        } else if (c < 0x20) {
            serve_buf_printf(b, "\\u%04x", c);
            k++;
        } else {
            size_t n = utf8_length(p + k, len - k);
            if (n == 0) {
                serve_buf_add(b, "\xef\xbf\xbd", 3);
                k++;
            } else {
                serve_buf_add(b, text + k, n);
                k += n;
            }
        }
    }
    serve_buf_add(b, "\"", 1);
}

void serve_buf_json_number(serve_buf *b, double v) {
    if (!isfinite(v)) serve_buf_str(b, "null");
    else serve_buf_printf(b, "%.17g", v);
}
