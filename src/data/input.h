/* Reading the inputs of melon_stream_load into the raw log: a path is a
 * file or a directory of files (read in name order); a file is delimited
 * text or JSON lines in one of the native formats, chosen by the format
 * option or detected from its first record. */
#ifndef MELON_DATA_INPUT_H
#define MELON_DATA_INPUT_H

#include "native_format.h"
#include "raw_log.h"
#include "reader.h"

#include "melon/common.h"

#include <stddef.h>

/* What reading found besides the interactions. */
typedef struct {
    size_t n_records;         /* JSON records read, skipped ones included */
    size_t n_skipped;         /* JSON records without a user, item or time */
    size_t n_missing[3];      /* of those: per field, user, item, time (a
                                 record may lack several) */
    size_t n_python_literal;  /* records read as Python dict literals */
    size_t n_files;           /* files read */
    /* "delimited", "adressa", "amazon" or "yelp" when every file read so
     * far had that format, "mixed" when they differed; NULL before any. */
    const char *format;
} melon_input_report;

/* 1 if name is a value of the format option. */
int melon_input_format_known(const char *name);
/* "auto, delimited, adressa, amazon, yelp", for messages and help. */
const char *melon_input_format_names(void);

/* Appends the interactions of the file or directory at path. format is the
 * format option (NULL or "auto": detect); columns applies to delimited
 * files only. */
int melon_raw_log_read_input(melon_raw_log *log, const char *path,
                             const char *format, const melon_columns *columns,
                             melon_input_report *report, melon_err *err);

/* Appends the records of a JSON-lines file whose first non-blank line
 * (line, len; may be modified) the reader has just returned. format NULL:
 * detect it from the keys of that first record. */
int melon_raw_log_read_json(melon_raw_log *log, melon_line_reader *reader,
                            const melon_native_format *format, char *line,
                            size_t len, melon_input_report *report,
                            melon_err *err);

#endif
