/* Reading one delimited file into the raw log.
 *
 * Per file: the first non-blank line fixes the delimiter, the field count
 * and the columns. It is a header when it names the columns: in "auto" mode
 * when it names a user, an item and a time column (melon_header_role); with
 * `columns` given by name it must be a header holding those names; with
 * `columns` given by number it is a header when its time field is not a
 * number. A headerless file without `columns` has 3 fields (user, item,
 * time) or 4 (user, item, rating, time, like MovieLens u.data).
 *
 * Blank lines (empty or only spaces and tabs) are skipped anywhere in the
 * file; every other line must have the first line's field count and a
 * numeric time. */
#include "raw_log.h"
#include "reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define INITIAL_RECORDS 65536

int melon_raw_log_init(melon_raw_log *log, melon_err *err) {
    memset(log, 0, sizeof *log);
    if (melon_id_table_init(&log->users, err) != 0) return -1;
    if (melon_id_table_init(&log->items, err) != 0) {
        melon_id_table_free(&log->users);
        return -1;
    }
    return 0;
}

void melon_raw_log_free(melon_raw_log *log) {
    free(log->user);
    free(log->item);
    free(log->time);
    melon_id_table_free(&log->users);
    melon_id_table_free(&log->items);
    memset(log, 0, sizeof *log);
}

static int grow_records(melon_raw_log *log, melon_err *err) {
    size_t cap = log->cap ? 2 * log->cap : INITIAL_RECORDS;
    if (cap > MELON_MAX_INTERACTIONS) cap = MELON_MAX_INTERACTIONS;
    uint32_t *user = realloc(log->user, cap * sizeof *user);
    if (user) log->user = user;
    uint32_t *item = realloc(log->item, cap * sizeof *item);
    if (item) log->item = item;
    double *time = realloc(log->time, cap * sizeof *time);
    if (time) log->time = time;
    if (!user || !item || !time)
        return melon_fail(err, "out of memory storing %zu interactions", cap);
    log->cap = cap;
    return 0;
}

/* How the lines of one file map to (user, item, time). */
typedef struct {
    const char *path;
    char delimiter;
    size_t n_fields;
    size_t col[3]; /* field index of user, item, time */
    int trailing_delimiter; /* the first line ends with its delimiter */
} file_layout;

/* Whether the line ended with its delimiter: an empty last field after
 * others (runs of spaces and tabs make no empty fields). */
static int ends_with_empty_field(const melon_fields *fields, char delimiter) {
    return delimiter != MELON_DELIM_WHITESPACE && fields->count > 1 &&
           fields->items[fields->count - 1].len == 0;
}

/* The line as it was read, from its fields (split in place), for messages. */
static void quote_line(char *dst, size_t cap, const melon_fields *fields,
                       char delimiter) {
    char joined[512];
    size_t w = 0;
    char one[2] = {delimiter, 0};
    const char *sep = delimiter == MELON_DELIM_DOUBLE_COLON ? "::"
                      : delimiter == '\t' ? "\\t" /* shown as typed */
                                          : one;
    for (size_t k = 0; k < fields->count && w < sizeof joined; k++) {
        int n = snprintf(joined + w, sizeof joined - w, "%s%s", k ? sep : "",
                         fields->items[k].text);
        if (n < 0) break;
        w += (size_t)n;
    }
    if (w > sizeof joined - 1) w = sizeof joined - 1;
    melon_quote_value(dst, cap, joined, w);
}

static const char *const role_label[3] = {"user id", "item id", "timestamp"};

static int add_record(melon_raw_log *log, const file_layout *layout,
                      const melon_fields *fields, size_t line_no,
                      melon_err *err) {
    const melon_field *user = &fields->items[layout->col[0]];
    const melon_field *item = &fields->items[layout->col[1]];
    const melon_field *time = &fields->items[layout->col[2]];
    char shown[256];
    if (user->len == 0 || item->len == 0)
        return melon_fail(err, "%s:%zu: %s is empty", layout->path, line_no,
                          role_label[user->len == 0 ? 0 : 1]);
    double value;
    int status = melon_parse_number(time->text, time->len, &value);
    if (status != 0) {
        melon_quote_value(shown, sizeof shown, time->text, time->len);
        return melon_fail(err, "%s:%zu: timestamp '%s' %s", layout->path,
                          line_no, shown,
                          status == -1 ? "is not a number"
                                       : "is out of range");
    }
    if (log->n == MELON_MAX_INTERACTIONS)
        return melon_fail(err, "%s:%zu: more than %zu interactions",
                          layout->path, line_no, MELON_MAX_INTERACTIONS);
    if (melon_raw_log_check_time(log, value, layout->path, line_no, err) != 0)
        return -1;
    return melon_raw_log_append(log, user->text, user->len, item->text,
                                item->len, value, err);
}

/* 2^53: above it a double no longer holds every integer. */
#define EXACT_TIME_LIMIT 9007199254740992.0
/* 1e11 Unix seconds is in the year 5138; millisecond times from 1973 on
 * are above it. */
#define SECONDS_LIMIT 1e11

int melon_raw_log_check_time(melon_raw_log *log, double time, const char *path,
                             size_t line_no, melon_err *err) {
    if (time >= EXACT_TIME_LIMIT || time <= -EXACT_TIME_LIMIT)
        return melon_fail(err, "%s:%zu: timestamp %.17g is beyond 2^53, where "
                               "times no longer order the stream exactly "
                               "(nanoseconds?); give seconds",
                          path, line_no, time);
    if (time >= 0 && time < SECONDS_LIMIT) return 0;
    if (log->n_odd_times++ == 0)
        snprintf(log->time_note, sizeof log->time_note,
                 "%s:%zu: timestamp %.17g %s; melon expects Unix seconds, and "
                 "since times only order the stream it reads them as they are",
                 path, line_no, time,
                 time < 0 ? "is negative (before 1970)"
                          : "is after the year 5000 in seconds (milliseconds?)");
    return 0;
}

int melon_raw_log_append(melon_raw_log *log, const char *user,
                         size_t user_len, const char *item, size_t item_len,
                         double time, melon_err *err) {
    if (log->n == MELON_MAX_INTERACTIONS)
        return melon_fail(err, "more than %zu interactions",
                          MELON_MAX_INTERACTIONS);
    if (log->n == log->cap && grow_records(log, err) != 0) return -1;
    uint32_t user_id, item_id;
    if (melon_id_table_intern(&log->users, user, user_len, &user_id, err) !=
            0 ||
        melon_id_table_intern(&log->items, item, item_len, &item_id, err) != 0)
        return -1;
    log->user[log->n] = user_id;
    log->item[log->n] = item_id;
    log->time[log->n] = time;
    log->n++;
    return 0;
}

static int find_named(const melon_fields *fields, const char *name,
                      size_t *index) {
    for (size_t k = 0; k < fields->count; k++)
        if (strcasecmp(fields->items[k].text, name) == 0) {
            *index = k;
            return 1;
        }
    return 0;
}

static int is_number(const melon_field *field) {
    double ignored;
    return melon_parse_number(field->text, field->len, &ignored) == 0;
}

/* Auto mode: a header names user, item and time; otherwise 3 or 4 fields. */
static int layout_auto(file_layout *layout, const melon_fields *fields,
                       int *is_header, melon_err *err) {
    int found[3] = {0, 0, 0}, any_name = 0;
    for (size_t k = 0; k < fields->count; k++) {
        melon_role role = melon_header_role(fields->items[k].text);
        if (role == MELON_ROLE_NONE || found[role]) continue;
        found[role] = 1;
        any_name = 1;
        layout->col[role] = k;
    }
    if (found[0] && found[1] && found[2]) {
        *is_header = 1;
        return 0;
    }
    if (fields->count == 3 || fields->count == 4) {
        layout->col[0] = 0;
        layout->col[1] = 1;
        layout->col[2] = fields->count - 1;
        if (is_number(&fields->items[layout->col[2]]) || !any_name) {
            *is_header = 0;
            return 0; /* data, or a bad timestamp reported by add_record */
        }
    }
    if (any_name) {
        for (int role = 0; role < 3; role++)
            if (!found[role])
                return melon_fail(err,
                                  "%s:1: the header has no %s column (known "
                                  "names: %s); give the columns option",
                                  layout->path, role_label[role],
                                  melon_role_names((melon_role)role));
    }
    return melon_fail(err,
                      "%s:1: cannot tell which of the %zu fields are user, "
                      "item and time without a header; expected 3 fields "
                      "(user, item, time) or 4 (user, item, rating, time), "
                      "or give the columns option",
                      layout->path, fields->count);
}

static int layout_from_columns(file_layout *layout, const melon_fields *fields,
                               const melon_columns *columns, int *is_header,
                               melon_err *err) {
    if (columns->by_name) {
        for (int role = 0; role < 3; role++)
            if (!find_named(fields, columns->names[role], &layout->col[role]))
                return melon_fail(err,
                                  "%s:1: no column named '%s' in the first "
                                  "line (the columns option names header "
                                  "columns)",
                                  layout->path, columns->names[role]);
        *is_header = 1;
        return 0;
    }
    for (int role = 0; role < 3; role++) {
        layout->col[role] = columns->index[role];
        if (columns->index[role] >= fields->count)
            return melon_fail(err,
                              "%s:1: columns select field %zu but the line "
                              "has %zu fields",
                              layout->path, columns->index[role] + 1,
                              fields->count);
    }
    *is_header = !is_number(&fields->items[layout->col[2]]);
    return 0;
}

/* Reads the lines of an open file; the reader and fields are the caller's. */
static int read_lines(melon_raw_log *log, melon_line_reader *reader,
                      melon_fields *fields, const melon_columns *columns,
                      melon_err *err) {
    file_layout layout = {.path = reader->path};
    int seen_first = 0, saw_header = 0, status;
    size_t records_before = log->n;
    char *line;
    size_t len;
    while ((status = melon_line_reader_next(reader, &line, &len, err)) == 1) {
        if (reader->line_no == 1 && len >= 3 &&
            memcmp(line, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 byte order mark */
            line += 3;
            len -= 3;
        }
        if (melon_line_is_blank(line, len)) continue;
        if (memchr(line, '\0', len))
            return melon_fail(err, "%s:%zu: line contains a NUL byte",
                              layout.path, reader->line_no);
        if (!seen_first) layout.delimiter = melon_detect_delimiter(line, len);
        if (melon_split_fields(fields, line, len, layout.delimiter, err) != 0)
            return -1;
        if (!seen_first)
            layout.trailing_delimiter = ends_with_empty_field(fields, layout.delimiter);
        if (layout.trailing_delimiter && ends_with_empty_field(fields, layout.delimiter))
            fields->count--;
        if (!seen_first) {
            seen_first = 1;
            layout.n_fields = fields->count;
            int is_header = 0;
            int rc = columns ? layout_from_columns(&layout, fields, columns,
                                                   &is_header, err)
                             : layout_auto(&layout, fields, &is_header, err);
            if (rc != 0) return -1;
            if (is_header) {
                saw_header = 1;
                continue;
            }
        } else if (fields->count != layout.n_fields) {
            char shown[256];
            quote_line(shown, sizeof shown, fields, layout.delimiter);
            return melon_fail(err, "%s:%zu: expected %zu fields, found %zu: "
                                   "'%s'",
                              layout.path, reader->line_no, layout.n_fields,
                              fields->count, shown);
        }
        if (add_record(log, &layout, fields, reader->line_no, err) != 0)
            return -1;
    }
    if (status < 0) return -1;
    if (log->n == records_before)
        return melon_fail(err, "%s: no interactions%s", layout.path,
                          saw_header ? " (only a header)" : "");
    return 0;
}

int melon_raw_log_read_file(melon_raw_log *log, const char *path,
                            const melon_columns *columns, melon_err *err) {
    melon_line_reader reader;
    if (melon_line_reader_open(&reader, path, err) != 0) return -1;
    melon_fields fields = {0};
    int status = read_lines(log, &reader, &fields, columns, err);
    melon_fields_free(&fields);
    melon_line_reader_close(&reader);
    return status;
}
