/* melon_stream_load: read and concatenate the files, k-core filter, stable
 * sort by time, dense ids by first appearance in the sorted stream. */
#include "melon/stream.h"

#include "input.h"
#include "parse.h"
#include "raw_log.h"
#include "sort.h"

#include <stdlib.h>
#include <string.h>

void melon_load_options_default(melon_load_options *opt) {
    opt->format = "auto";
    opt->columns = NULL;
    opt->min_user = 0;
    opt->min_item = 0;
    opt->notes = stderr;
}

void melon_stream_free(melon_stream *stream) {
    if (stream->user_name)
        for (int32_t u = 0; u < stream->n_users; u++)
            free(stream->user_name[u]);
    if (stream->item_name)
        for (int32_t i = 0; i < stream->n_items; i++)
            free(stream->item_name[i]);
    free(stream->user_name);
    free(stream->item_name);
    free(stream->user);
    free(stream->item);
    free(stream->time);
    memset(stream, 0, sizeof *stream);
}

/* Iterative k-core: removes the interactions of users with fewer than
 * min_user and items with fewer than min_item interactions until no count
 * is below its bound. Counts only fall, so a node once below stays below,
 * and the fixed point (the largest qualifying subset) does not depend on
 * the order of removal. Fills kept[] with the surviving record indices in
 * file order. */
static int kcore_filter(const melon_raw_log *log, int min_user, int min_item,
                        uint32_t *kept, size_t *n_kept, melon_err *err) {
    size_t n = log->n;
    size_t n_users = log->users.count, n_items = log->items.count;
    if (min_user <= 1 && min_item <= 1) {
        for (size_t k = 0; k < n; k++) kept[k] = (uint32_t)k;
        *n_kept = n;
        return 0;
    }
    size_t *user_count = melon_calloc(n_users, sizeof *user_count, err);
    size_t *item_count = melon_calloc(n_items, sizeof *item_count, err);
    if (!user_count || !item_count) {
        free(user_count);
        free(item_count);
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        user_count[log->user[k]]++;
        item_count[log->item[k]]++;
        kept[k] = (uint32_t)k;
    }
    size_t alive = n, removed;
    do {
        removed = 0;
        size_t w = 0;
        for (size_t k = 0; k < alive; k++) {
            uint32_t r = kept[k];
            uint32_t u = log->user[r], i = log->item[r];
            if (user_count[u] < (size_t)min_user ||
                item_count[i] < (size_t)min_item) {
                user_count[u]--;
                item_count[i]--;
                removed++;
            } else {
                kept[w++] = r;
            }
        }
        alive = w;
    } while (removed > 0 && alive > 0);
    free(user_count);
    free(item_count);
    *n_kept = alive;
    return 0;
}

/* Returns the spare capacity of the record arrays once reading is done. */
static void shrink_records(melon_raw_log *log) {
    if (log->n == 0 || log->n == log->cap) return;
    uint32_t *user = realloc(log->user, log->n * sizeof *user);
    if (user) log->user = user;
    uint32_t *item = realloc(log->item, log->n * sizeof *item);
    if (item) log->item = item;
    double *time = realloc(log->time, log->n * sizeof *time);
    if (time) log->time = time;
    if (user && item && time) log->cap = log->n;
}

/* Moves the records into the order given by order[0..n), in the log's own
 * arrays, so that no second copy of the interactions is made. order is
 * first completed into a permutation of all the records (those the k-core
 * dropped go last), which is then applied cycle by cycle; each placed
 * position is marked in order itself, so it is used up. */
static int permute_records(melon_raw_log *log, uint32_t *order, size_t n,
                           melon_err *err) {
    size_t total = log->n;
    if (n < total) {
        unsigned char *kept = melon_calloc(total, 1, err);
        if (!kept) return -1;
        for (size_t k = 0; k < n; k++) kept[order[k]] = 1;
        size_t w = n;
        for (size_t r = 0; r < total; r++)
            if (!kept[r]) order[w++] = (uint32_t)r;
        free(kept);
    }
    const uint32_t placed = UINT32_MAX; /* never a record index */
    for (size_t start = 0; start < total; start++) {
        if (order[start] == placed) continue;
        uint32_t user = log->user[start], item = log->item[start];
        double time = log->time[start];
        size_t at = start;
        for (;;) {
            size_t from = order[at];
            order[at] = placed;
            if (from == start) {
                log->user[at] = user;
                log->item[at] = item;
                log->time[at] = time;
                break;
            }
            log->user[at] = log->user[from];
            log->item[at] = log->item[from];
            log->time[at] = log->time[from];
            at = from;
        }
    }
    return 0;
}

/* Gives the first n records of the log (in time order) to the stream,
 * shrunk to size; the log keeps its ids. */
static void take_records(melon_stream *stream, melon_raw_log *log, size_t n) {
    size_t bytes = n > 0 ? n : 1;
    uint32_t *user = realloc(log->user, bytes * sizeof *user);
    uint32_t *item = realloc(log->item, bytes * sizeof *item);
    double *time = realloc(log->time, bytes * sizeof *time);
    /* a failed shrink leaves the larger block, which is still good */
    stream->user = (int32_t *)(user ? user : log->user);
    stream->item = (int32_t *)(item ? item : log->item);
    stream->time = time ? time : log->time;
    stream->n = n;
    log->user = NULL;
    log->item = NULL;
    log->time = NULL;
    log->n = log->cap = 0;
}

/* Dense ids in order of first appearance along `order`, with their names.
 * The stream's arrays are the log's, rearranged in place; order is used
 * up. */
static int assign_dense_ids(melon_stream *stream, melon_raw_log *log,
                            uint32_t *order, size_t n, melon_err *err) {
    int32_t *user_dense = melon_alloc(log->users.count * sizeof *user_dense, err);
    int32_t *item_dense = melon_alloc(log->items.count * sizeof *item_dense, err);
    int status = -1;
    if (!user_dense || !item_dense || permute_records(log, order, n, err) != 0)
        goto done;
    memset(user_dense, 0xff, log->users.count * sizeof *user_dense);
    memset(item_dense, 0xff, log->items.count * sizeof *item_dense);
    int32_t n_users = 0, n_items = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t u = log->user[k], i = log->item[k];
        if (user_dense[u] < 0) user_dense[u] = n_users++;
        if (item_dense[i] < 0) item_dense[i] = n_items++;
        log->user[k] = (uint32_t)user_dense[u];
        log->item[k] = (uint32_t)item_dense[i];
    }
    take_records(stream, log, n);
    stream->user_name = melon_calloc((size_t)n_users, sizeof(char *), err);
    stream->item_name = melon_calloc((size_t)n_items, sizeof(char *), err);
    if (!stream->user_name || !stream->item_name) goto done;
    stream->n_users = n_users;
    stream->n_items = n_items;
    for (uint32_t raw = 0; raw < log->users.count; raw++) {
        int32_t u = user_dense[raw];
        if (u >= 0 && !(stream->user_name[u] = strdup(
                            melon_id_table_name(&log->users, raw)))) {
            melon_fail(err, "out of memory copying user ids");
            goto done;
        }
    }
    for (uint32_t raw = 0; raw < log->items.count; raw++) {
        int32_t i = item_dense[raw];
        if (i >= 0 && !(stream->item_name[i] = strdup(
                            melon_id_table_name(&log->items, raw)))) {
            melon_fail(err, "out of memory copying item ids");
            goto done;
        }
    }
    status = 0;
done:
    free(user_dense);
    free(item_dense);
    return status;
}

static int check_options(const melon_load_options *opt,
                         const char *const *paths, int n_paths,
                         melon_err *err) {
    if (n_paths < 1 || !paths) return melon_fail(err, "no input files given");
    for (int f = 0; f < n_paths; f++)
        if (!paths[f] || !paths[f][0])
            return melon_fail(err, "input file %d of %d has no name", f + 1,
                              n_paths);
    if (!melon_input_format_known(opt->format))
        return melon_fail(err, "unknown format '%s' (known: %s)", opt->format,
                          melon_input_format_names());
    if (opt->columns && melon_native_format_find(opt->format))
        return melon_fail(err, "the columns option applies to delimited "
                               "files, not to format '%s'", opt->format);
    if (opt->min_user < 0 || opt->min_item < 0)
        return melon_fail(err,
                          "k-core bounds must be >= 0 (min_user=%d, "
                          "min_item=%d)",
                          opt->min_user, opt->min_item);
    return 0;
}

static int load_into(melon_stream *stream, melon_raw_log *log,
                     const char *const *paths, int n_paths,
                     const melon_load_options *opt, melon_err *err) {
    melon_columns columns;
    const melon_columns *selected = NULL;
    if (opt->columns) {
        if (melon_columns_parse(&columns, opt->columns, err) != 0) return -1;
        selected = &columns;
    }
    int status = 0;
    melon_input_report report = {0};
    for (int f = 0; f < n_paths && status == 0; f++)
        status = melon_raw_log_read_input(log, paths[f], opt->format,
                                          selected, &report, err);
    if (selected) melon_columns_free(&columns);
    if (status != 0) return -1;
    stream->n_skipped = report.n_skipped;
    stream->n_missing_user = report.n_missing[0];
    stream->n_missing_item = report.n_missing[1];
    stream->n_missing_time = report.n_missing[2];
    stream->n_python_literal = report.n_python_literal;
    stream->n_files = report.n_files;
    stream->format = report.format;
    stream->n_odd_times = log->n_odd_times;
    memcpy(stream->time_note, log->time_note, sizeof stream->time_note);

    shrink_records(log);
    uint32_t *order = melon_alloc(log->n * sizeof *order, err);
    if (!order) return -1;
    size_t n = 0;
    status = kcore_filter(log, opt->min_user, opt->min_item, order, &n, err);
    if (status == 0 && n == 0)
        status = melon_fail(err,
                            "k-core filter (min_user=%d, min_item=%d) left no "
                            "interactions (of %zu read)",
                            opt->min_user, opt->min_item, log->n);
    size_t n_read = log->n;
    if (status == 0) status = melon_sort_by_time(order, n, log->time, err);
    if (status == 0) status = assign_dense_ids(stream, log, order, n, err);
    free(order);
    stream->n_read = n_read;
    stream->n_dropped = n_read - n;
    return status;
}

int melon_stream_load(melon_stream *stream, const char *const *paths,
                      int n_paths, const melon_load_options *opt,
                      melon_err *err) {
    memset(stream, 0, sizeof *stream);
    melon_load_options defaults;
    if (!opt) {
        melon_load_options_default(&defaults);
        opt = &defaults;
    }
    if (check_options(opt, paths, n_paths, err) != 0) return -1;
    melon_raw_log log;
    if (melon_raw_log_init(&log, err) != 0) return -1;
    int status = load_into(stream, &log, paths, n_paths, opt, err);
    melon_raw_log_free(&log);
    if (status != 0) melon_stream_free(stream);
    if (status == 0 && opt->notes && stream->n_skipped > 0) {
        char summary[1024];
        melon_stream_skipped_summary(stream, summary, sizeof summary);
        fprintf(opt->notes, "melon: %s\n", summary);
    }
    if (status == 0 && opt->notes && stream->n_odd_times > 0)
        melon_stream_print_time_note(stream, opt->notes, "melon: warning: ");
    return status;
}
