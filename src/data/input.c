/* Paths to files, files to readers: directories are expanded in name
 * order, and each file goes to the delimited or the JSON-lines reader. */
#include "input.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char format_names[] = "auto, delimited, adressa, amazon, yelp";

int melon_input_format_known(const char *name) {
    return !name || strcmp(name, "auto") == 0 ||
           strcmp(name, "delimited") == 0 ||
           melon_native_format_find(name) != NULL;
}

const char *melon_input_format_names(void) { return format_names; }

static void note_delimited(melon_input_report *report) {
    if (!report->format) report->format = "delimited";
    else if (strcmp(report->format, "delimited") != 0) report->format = "mixed";
}

static int read_delimited(melon_raw_log *log, const char *path,
                          const melon_columns *columns,
                          melon_input_report *report, melon_err *err) {
    note_delimited(report);
    return melon_raw_log_read_file(log, path, columns, err);
}

/* Opens the file and returns its first non-blank line (1), or 0 when it
 * has none (the reader is then closed). */
static int first_line(melon_line_reader *reader, const char *path,
                      char **line, size_t *len, melon_err *err) {
    if (melon_line_reader_open(reader, path, err) != 0) return -1;
    int status;
    while ((status = melon_line_reader_next(reader, line, len, err)) == 1) {
        if (reader->line_no == 1 && *len >= 3 &&
            memcmp(*line, "\xEF\xBB\xBF", 3) == 0) { /* UTF-8 byte order mark */
            *line += 3;
            *len -= 3;
        }
        if (!melon_line_is_blank(*line, *len)) return 1;
    }
    melon_line_reader_close(reader);
    return status;
}

static int starts_with_brace(const char *line, size_t len) {
    size_t k = 0;
    while (k < len && (line[k] == ' ' || line[k] == '\t')) k++;
    return k < len && line[k] == '{';
}

static int read_file(melon_raw_log *log, const char *path, const char *format,
                     const melon_columns *columns, melon_input_report *report,
                     melon_err *err) {
    report->n_files++;
    if (format && strcmp(format, "delimited") == 0)
        return read_delimited(log, path, columns, report, err);
    const melon_native_format *native = melon_native_format_find(format);
    melon_line_reader reader;
    char *line;
    size_t len;
    int found = first_line(&reader, path, &line, &len, err);
    if (found < 0) return -1;
    if (found == 0) {
        if (native) return melon_fail(err, "%s: no interactions", path);
        return read_delimited(log, path, columns, report, err);
    }
    if (!native && !starts_with_brace(line, len)) {
        melon_line_reader_close(&reader);
        return read_delimited(log, path, columns, report, err);
    }
    int status;
    if (columns)
        status = melon_fail(err, "%s:%zu: the file holds JSON lines; the "
                                 "columns option applies to delimited files "
                                 "only", path, reader.line_no);
    else
        status = melon_raw_log_read_json(log, &reader, native, line, len,
                                         report, err);
    melon_line_reader_close(&reader);
    return status;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n) {
    for (size_t k = 0; k < n; k++) free(names[k]);
    free(names);
}

/* The paths of the regular files in dir (hidden ones left out), sorted by
 * name. */
static int list_files(const char *dir, char ***paths, size_t *n_paths,
                      melon_err *err) {
    *paths = NULL;
    *n_paths = 0;
    DIR *listing = opendir(dir);
    if (!listing)
        return melon_fail(err, "%s: cannot open: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int status = 0;
    struct dirent *entry;
    while (status == 0 && (entry = readdir(listing)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        char *path = NULL;
        struct stat st;
        if (asprintf(&path, "%s/%s", dir, entry->d_name) < 0) {
            path = NULL;
            status = melon_fail(err, "%s: out of memory listing", dir);
            break;
        }
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        if (n == cap) {
            size_t grown_cap = cap ? 2 * cap : 64;
            char **grown = realloc(names, grown_cap * sizeof *grown);
            if (!grown) {
                free(path);
                status = melon_fail(err, "%s: out of memory listing", dir);
                break;
            }
            names = grown;
            cap = grown_cap;
        }
        names[n++] = path;
    }
    closedir(listing);
    if (status == 0 && n == 0)
        status = melon_fail(err, "%s: the directory holds no files", dir);
    if (status != 0) {
        free_names(names, n);
        return -1;
    }
    qsort(names, n, sizeof *names, compare_names);
    *paths = names;
    *n_paths = n;
    return 0;
}

int melon_raw_log_read_input(melon_raw_log *log, const char *path,
                             const char *format, const melon_columns *columns,
                             melon_input_report *report, melon_err *err) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return read_file(log, path, format, columns, report, err);
    char **files;
    size_t n_files;
    if (list_files(path, &files, &n_files, err) != 0) return -1;
    int status = 0;
    for (size_t k = 0; k < n_files && status == 0; k++)
        status = read_file(log, files[k], format, columns, report, err);
    free_names(files, n_files);
    return status;
}
