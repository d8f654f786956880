/* Delimited-text parsing: delimiter detection, in-place field splitting,
 * timestamps, header names and the `columns` option. */
#ifndef MELON_DATA_PARSE_H
#define MELON_DATA_PARSE_H

#include "melon/common.h"

#include <stddef.h>

/* ' ' stands for "runs of spaces and tabs", ':' for "::" (MovieLens 1M). */
#define MELON_DELIM_WHITESPACE ' '
#define MELON_DELIM_DOUBLE_COLON ':'

typedef struct {
    char *text;  /* NUL-terminated, inside the line */
    size_t len;
} melon_field;

typedef struct {
    melon_field *items;
    size_t count;
    size_t cap;
} melon_fields;

void melon_fields_free(melon_fields *fields);

/* Tab if the line holds one, else comma, else semicolon, else "::", else
 * whitespace. */
char melon_detect_delimiter(const char *line, size_t len);

/* 1 if the line is empty or holds only spaces and tabs. */
int melon_line_is_blank(const char *line, size_t len);

/* Splits the line in place (fields become NUL-terminated). With a
 * one-character delimiter, spaces around a field are trimmed and a field
 * that starts with '"' is a quoted CSV field ("" stands for one quote). */
int melon_split_fields(melon_fields *out, char *line, size_t len,
                       char delimiter, melon_err *err);

/* Decimal number: [+-]digits[.digits][(e|E)[+-]digits]. Returns 0 and the
 * value, -1 when the text is not such a number (NaN, inf and hex included),
 * -2 when it is one but does not fit a finite double. -0 reads as +0. */
int melon_parse_number(const char *text, size_t len, double *out);

/* What a header name means in "auto" format (case-insensitive). */
typedef enum {
    MELON_ROLE_NONE = -1,
    MELON_ROLE_USER = 0,
    MELON_ROLE_ITEM = 1,
    MELON_ROLE_TIME = 2
} melon_role;
melon_role melon_header_role(const char *name);
/* The accepted names of a role, for messages: "user, userId, ...". */
const char *melon_role_names(melon_role role);

/* The parsed `columns` option: three header names or three 0-based field
 * indices, in the order user, item, time. */
typedef struct {
    int by_name;      /* 1: names[], 0: index[] */
    char *names[3];   /* owned */
    size_t index[3];
} melon_columns;

int melon_columns_parse(melon_columns *cols, const char *option,
                        melon_err *err);
void melon_columns_free(melon_columns *cols);

/* Writes a short printable rendering of a field for messages: non-printable
 * bytes as \xNN, cut with "..." beyond a few dozen characters. */
void melon_quote_value(char *dst, size_t cap, const char *text, size_t len);

#endif
