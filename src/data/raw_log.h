/* The interactions as read from the files, in file order, before sorting
 * and filtering. Ids are interned strings (raw ids, by first appearance in
 * the files). */
#ifndef MELON_DATA_RAW_LOG_H
#define MELON_DATA_RAW_LOG_H

#include "id_table.h"
#include "parse.h"

#include "melon/common.h"

#include <stddef.h>
#include <stdint.h>

/* Positions are stored as uint32 further on (UINT32_MAX means "none"). */
#define MELON_MAX_INTERACTIONS ((size_t)UINT32_MAX - 1)

typedef struct {
    uint32_t *user;
    uint32_t *item;
    double *time;
    size_t n;
    size_t cap;
    melon_id_table users;
    melon_id_table items;
    /* The first timestamp that does not look like Unix seconds (negative,
     * or after the year 5138: milliseconds?), where it was, and how many
     * there were; "" when none. */
    char time_note[512];
    size_t n_odd_times;
} melon_raw_log;

int melon_raw_log_init(melon_raw_log *log, melon_err *err);
void melon_raw_log_free(melon_raw_log *log);

/* Appends one interaction (ids as len-byte strings, no NUL inside). */
int melon_raw_log_append(melon_raw_log *log, const char *user,
                         size_t user_len, const char *item, size_t item_len,
                         double time, melon_err *err);

/* Checks a record's timestamp before it is appended: an error for times
 * beyond 2^53 (a double no longer tells neighbouring integers apart, so the
 * order of the stream would be lost), a note for times that do not look
 * like Unix seconds (only their order matters, so they are read). */
int melon_raw_log_check_time(melon_raw_log *log, double time, const char *path,
                             size_t line_no, melon_err *err);

/* Appends every interaction of one delimited file. `columns` is NULL for
 * detection from the header or the field count. */
int melon_raw_log_read_file(melon_raw_log *log, const char *path,
                            const melon_columns *columns, melon_err *err);

#endif
