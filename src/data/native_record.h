/* Reading the user, item and time of one line of a native-format file. */
#ifndef MELON_DATA_NATIVE_RECORD_H
#define MELON_DATA_NATIVE_RECORD_H

#include "json_record.h"
#include "loose_json.h"
#include "native_format.h"

#include "melon/common.h"

#include <stddef.h>

/* The parser of one file; not shared between threads. */
typedef struct {
    const char *path;                  /* for messages */
    const melon_native_format *format;
    melon_json_record record;
    melon_text_buffer converted;       /* a Python literal, as JSON */
    size_t n_python_literal;           /* lines read as Python literals */
} melon_native_parser;

void melon_native_parser_init(melon_native_parser *p, const char *path,
                              const melon_native_format *format);
void melon_native_parser_free(melon_native_parser *p);

/* What one record holds. user and item point into the parser and stay
 * valid until its next line; missing[f] is 1 when field f (user, item,
 * time) is absent, null or "". */
typedef struct {
    const char *user;
    const char *item;
    size_t user_len;
    size_t item_len;
    double time;
    int missing[3];
} melon_native_fields;

/* Parses one non-blank line. Fails (file:line[:column] and the value) on a
 * line that is not one object, a value of the wrong type or a time that
 * does not parse. */
int melon_native_parse_line(melon_native_parser *p, const char *line,
                            size_t len, size_t line_no,
                            melon_native_fields *out, melon_err *err);

/* The format that the keys of this first record identify. */
int melon_native_detect(const char *path, const char *line, size_t len,
                        size_t line_no, const melon_native_format **format,
                        melon_err *err);

#endif
