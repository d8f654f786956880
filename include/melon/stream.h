/* The interaction stream (protocol.md sections 1-3): parse delimited files
 * (plain or gzip), sort by time (stable), iterative k-core filter, dense ids,
 * mini-batches and the past/online split. */
#ifndef MELON_STREAM_H
#define MELON_STREAM_H

#include "melon/common.h"
#include "melon/settings.h"

#include <stdint.h>
#include <stdio.h>

/* How to read the input files. */
typedef struct {
    /* "delimited": CSV/TSV. "adressa", "amazon", "yelp": JSON lines in the
     * publisher's format (see melon_stream_load). "auto" (default): JSON
     * lines when a file's first line opens an object, in the format its
     * keys identify, else CSV/TSV. */
    const char *format;
    /* Column selection, NULL = detect from the header or the field count.
     * Either three header names "user,item,time" or three 1-based field
     * numbers "1,2,4". */
    const char *columns;
    /* Iterative k-core: drop users with fewer than min_user interactions
     * and items with fewer than min_item, until stable (0 = no filter). */
    int min_user;
    int min_item;
    /* Where melon_stream_load reports the records it skipped for lack of a
     * user, item or time, and timestamps that do not look like Unix
     * seconds: stderr (default), or NULL for nowhere. */
    FILE *notes;
} melon_load_options;

void melon_load_options_default(melon_load_options *opt);

#define MELON_MAX_FILES 64

/* The data of a run: files (comma-separated, read in order), the name in
 * the results, how to read them. */
typedef struct {
    const char *files;
    const char *name;             /* NULL: the first file's folder */
    melon_load_options load;
} melon_data_config;

/* data, name, format, columns, min-user, min-item (data_settings.c) */
extern const melon_settings_table melon_data_settings;
void melon_data_config_default(melon_data_config *cfg);
/* Splits cfg->files at the commas into paths[] (at most MELON_MAX_FILES),
 * pointing into buf (cap bytes); returns the count, or -1 with err. */
int melon_data_split_files(const char *files, char *buf, size_t cap,
                           const char **paths, melon_err *err);

/* A loaded, time-sorted stream with dense ids. */
typedef struct {
    size_t n;           /* interactions after filtering */
    int32_t n_users;    /* dense ids 0..n_users-1, by first appearance */
    int32_t n_items;
    int32_t *user;      /* [n] in time order */
    int32_t *item;      /* [n] */
    double *time;       /* [n] non-decreasing */
    char **user_name;   /* [n_users] original id strings */
    char **item_name;   /* [n_items] */
    size_t n_read;      /* records read before filtering */
    size_t n_dropped;   /* removed by the k-core filter */
    /* JSON records skipped because they lack a user, an item or a time
     * (absent, null or ""), not counted in n_read; and per field, where a
     * record may lack several. */
    size_t n_skipped;
    size_t n_missing_user;
    size_t n_missing_item;  /* Adressa: page views of non-article pages */
    size_t n_missing_time;
    size_t n_python_literal; /* records read as Python dict literals */
    size_t n_files;          /* files read, directories expanded */
    /* "delimited", "adressa", "amazon", "yelp", or "mixed" when the files
     * differ (a static string). */
    const char *format;
    /* Timestamps that do not look like Unix seconds (negative, or in
     * milliseconds): how many, and a sentence naming the first with its
     * file and line ("" when none). They are read as they are. */
    size_t n_odd_times;
    char time_note[512];
} melon_stream;

/* Loads and concatenates the files, in the given order, then sorts stably by
 * time (ties keep file order), filters and assigns dense ids. A path that
 * is a directory stands for the regular files in it, in name order (names
 * starting with '.' left out). On error the message names the file, line
 * and value; *stream is left empty.
 *
 * The native formats read these keys of each JSON object (one per line,
 * plain or gzip):
 *   adressa  "userId", "id" (the article), "time" (Unix seconds)
 *   amazon   "reviewerID", "asin", "unixReviewTime" (Unix seconds), or
 *            "reviewTime" ("MM D, YYYY") when that is missing; lines may
 *            also be Python dict literals, as in the 2014 release
 *   yelp     "user_id", "business_id", "date" ("YYYY-MM-DD HH:MM:SS", UTC)
 * Other keys are ignored. Records lacking one of the three are skipped and
 * counted in n_skipped; a value of the wrong type is an error. */
int melon_stream_load(melon_stream *stream, const char *const *paths,
                      int n_paths, const melon_load_options *opt,
                      melon_err *err);
void melon_stream_free(melon_stream *stream);

/* One line about the skipped records, e.g. "skipped 12 of 1000 records:
 * 10 without an article id (...), 2 without a time (...)", or an empty
 * string when none were skipped. */
void melon_stream_skipped_summary(const melon_stream *stream, char *out,
                                  size_t cap);

/* Prints the note about timestamps that do not look like Unix seconds,
 * after prefix, as one line; nothing when there are none. */
void melon_stream_print_time_note(const melon_stream *stream, FILE *out,
                                  const char *prefix);

/* Batches and split (protocol.md section 2): batch b holds positions
 * [b * batch_size, min((b + 1) * batch_size, n)); the first n_past batches
 * are the past, the rest the online test stream. */
typedef struct {
    int batch_size;
    size_t n_batches;
    size_t n_past;
} melon_split;

/* Fails (with a message) when the stream is too short to give at least one
 * past batch and one test batch. */
int melon_split_make(melon_split *split, size_t n, int batch_size,
                     double train_ratio, melon_err *err);
size_t melon_batch_begin(const melon_split *split, size_t b);
size_t melon_batch_end(const melon_split *split, size_t n, size_t b);

#endif
