/* One line of a native-format file: parsed (Python dict literals are
 * converted first) and its user, item and time read and checked. Errors
 * name the file, line, column and value. */
#include "native_record.h"

#include "civil_time.h"
#include "parse.h"

#include <stdio.h>
#include <string.h>

void melon_native_parser_init(melon_native_parser *p, const char *path,
                              const melon_native_format *format) {
    memset(p, 0, sizeof *p);
    p->path = path;
    p->format = format;
    melon_json_record_init(&p->record, format->keys,
                           format->keys[MELON_FIELD_TIME_FALLBACK]
                               ? MELON_N_FIELDS
                               : MELON_N_FIELDS - 1);
}

void melon_native_parser_free(melon_native_parser *p) {
    melon_json_record_free(&p->record);
    melon_text_buffer_free(&p->converted);
    memset(p, 0, sizeof *p);
}

/* "at 'text...'" or "at the end of the line" for a parse error. */
static void describe_position(char *out, size_t cap, const char *text,
                              size_t len, size_t column) {
    if (column > len) {
        snprintf(out, cap, "at the end of the line");
        return;
    }
    char shown[256];
    melon_quote_value(shown, sizeof shown, text + column - 1,
                      len - (column - 1));
    snprintf(out, cap, "at '%s'", shown);
}

/* Parses the line into p->record; Python dict literals are converted. */
static int parse_record(melon_native_parser *p, const char *line,
                        size_t len, size_t line_no, melon_err *err) {
    const char *text = line;
    size_t text_len = len;
    int literal = melon_loose_json_detect(line, len);
    size_t column = 0;
    char where[320];
    if (literal) {
        const char *why = "";
        int status = melon_loose_json_convert(line, len, &p->converted,
                                              &column, &why);
        if (status == -2)
            return melon_fail(err, "%s:%zu: out of memory", p->path, line_no);
        if (status != 0) {
            describe_position(where, sizeof where, line, len, column);
            return melon_fail(err, "%s:%zu:%zu: invalid Python dict literal: "
                                   "%s, %s",
                              p->path, line_no, column, why, where);
        }
        text = p->converted.text;
        text_len = p->converted.len;
        p->n_python_literal++;
    }
    char why[MELON_JSON_WHY];
    int status = melon_json_record_parse(&p->record, text, text_len, &column,
                                         why, sizeof why);
    if (status == -2)
        return melon_fail(err, "%s:%zu: out of memory", p->path, line_no);
    if (status != 0) {
        describe_position(where, sizeof where, text, text_len, column);
        if (literal)
            return melon_fail(err, "%s:%zu: invalid Python dict literal: %s, "
                                   "%s (after conversion to JSON)",
                              p->path, line_no, why, where);
        return melon_fail(err, "%s:%zu:%zu: invalid JSON: %s, %s", p->path,
                          line_no, column, why, where);
    }
    return 0;
}

/* An id value: sets *missing, or points text at it. */
static int read_id(const melon_native_parser *p, int field, size_t line_no,
                   const char **text, size_t *len, int *missing,
                   melon_err *err) {
    const melon_json_value *v = &p->record.value[field];
    const char *key = p->format->keys[field];
    *missing = 0;
    switch (v->kind) {
    case MELON_JSON_ABSENT:
    case MELON_JSON_NULL:
        *missing = 1;
        return 0;
    case MELON_JSON_STRING:
    case MELON_JSON_NUMBER:
        if (v->len == 0) {
            *missing = 1;
            return 0;
        }
        if (memchr(v->text, '\0', v->len))
            return melon_fail(err, "%s:%zu: \"%s\" contains a NUL character",
                              p->path, line_no, key);
        *text = v->text;
        *len = v->len;
        return 0;
    default:
        return melon_fail(err, "%s:%zu: \"%s\" is %s; expected a string",
                          p->path, line_no, key,
                          melon_json_kind_name(v->kind));
    }
}

static int bad_time(const melon_native_parser *p, size_t line_no,
                    const char *key, const melon_json_value *v,
                    const char *problem, melon_err *err) {
    char shown[256];
    melon_quote_value(shown, sizeof shown, v->text, v->len);
    return melon_fail(err, "%s:%zu: \"%s\" '%s' %s", p->path, line_no, key,
                      shown, problem);
}

/* One time value of the given kind; sets *missing when it is absent. */
static int read_time_value(const melon_native_parser *p, int field,
                           melon_time_kind kind, size_t line_no,
                           double *time, int *missing, melon_err *err) {
    const melon_json_value *v = &p->record.value[field];
    const char *key = p->format->keys[field];
    *missing = v->kind == MELON_JSON_ABSENT || v->kind == MELON_JSON_NULL ||
               (v->kind == MELON_JSON_STRING && v->len == 0);
    if (*missing) return 0;
    int wanted_number = kind == MELON_TIME_UNIX;
    if (v->kind != MELON_JSON_STRING &&
        !(wanted_number && v->kind == MELON_JSON_NUMBER))
        return melon_fail(err, "%s:%zu: \"%s\" is %s; expected %s", p->path,
                          line_no, key, melon_json_kind_name(v->kind),
                          wanted_number ? "a number" : "a string");
    if (kind == MELON_TIME_UNIX) {
        int status = melon_parse_number(v->text, v->len, time);
        if (status != 0)
            return bad_time(p, line_no, key, v,
                            status == -1 ? "is not a number"
                                         : "is out of range",
                            err);
        return 0;
    }
    if (kind == MELON_TIME_DATETIME) {
        if (melon_parse_datetime(v->text, v->len, time) != 0)
            return bad_time(p, line_no, key, v,
                            "is not a date and time like "
                            "\"2016-03-09 21:34:05\"",
                            err);
        return 0;
    }
    if (melon_parse_month_day_year(v->text, v->len, time) != 0)
        return bad_time(p, line_no, key, v,
                        "is not a date like \"09 13, 2009\"", err);
    return 0;
}

/* The time, from the first time key or else the fallback key. */
static int read_time(const melon_native_parser *p, size_t line_no,
                     double *time, int *missing, melon_err *err) {
    if (read_time_value(p, MELON_FIELD_TIME, p->format->time_kind, line_no,
                        time, missing, err) != 0)
        return -1;
    if (!*missing || !p->format->keys[MELON_FIELD_TIME_FALLBACK]) return 0;
    return read_time_value(p, MELON_FIELD_TIME_FALLBACK,
                           p->format->fallback_kind, line_no, time, missing,
                           err);
}

int melon_native_parse_line(melon_native_parser *p, const char *line,
                            size_t len, size_t line_no,
                            melon_native_fields *out, melon_err *err) {
    if (parse_record(p, line, len, line_no, err) != 0 ||
        read_id(p, MELON_FIELD_USER, line_no, &out->user, &out->user_len,
                &out->missing[0], err) != 0 ||
        read_id(p, MELON_FIELD_ITEM, line_no, &out->item, &out->item_len,
                &out->missing[1], err) != 0 ||
        read_time(p, line_no, &out->time, &out->missing[2], err) != 0)
        return -1;
    return 0;
}

int melon_native_detect(const char *path, const char *line, size_t len,
                        size_t line_no, const melon_native_format **format,
                        melon_err *err) {
    static const melon_native_format signatures = {
        .name = "detect", .keys = {NULL}};
    melon_native_parser p;
    memset(&p, 0, sizeof p);
    p.path = path;
    p.format = &signatures;
    size_t n_keys = 0;
    while (melon_native_signature_keys[n_keys]) n_keys++;
    melon_json_record_init(&p.record, melon_native_signature_keys, n_keys);
    int status = parse_record(&p, line, len, line_no, err);
    int present[MELON_JSON_MAX_KEYS] = {0};
    for (size_t k = 0; k < n_keys; k++)
        present[k] = p.record.value[k].kind != MELON_JSON_ABSENT;
    melon_native_parser_free(&p);
    if (status != 0) return -1;
    char why[320];
    *format = melon_native_format_detect(present, why, sizeof why);
    if (!*format)
        return melon_fail(err, "%s:%zu: cannot tell the format of this JSON "
                               "record: it has %s; give the format (adressa, "
                               "amazon or yelp)",
                          path, line_no, why);
    return 0;
}
