/* `melon data stats`: load files (or a fetched dataset) as `melon run`
 * would and print what the stream holds. */
#include "cli.h"
#include "options.h"

#include "fetch/fetch.h"
#include "melon/stream.h"
#include "data/stream_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUTS 256
#define PATH_CAP 4096
#define EXIT_FAILED 1

static const char usage[] =
    "usage: melon data stats FILE|DIR|NAME[,...]... [options]\n\n"
    "Loads the files (concatenated; a directory stands for its files in\n"
    "name order; NAME is a fetched dataset) the way `melon run` does and\n"
    "prints users, items, interactions, the time span (UTC), repeated\n"
    "(user, item) pairs and quantiles of the interactions per user and per\n"
    "item. Formats: auto, delimited, adressa, amazon, yelp.\n";

/* Replaces catalog names by the paths of their fetched files. */
static int resolve_inputs(const char **inputs, int n, const char *cache_dir,
                          char (*resolved)[PATH_CAP]) {
    for (int k = 0; k < n; k++) {
        melon_err err;
        int known = melon_dataset_resolve(inputs[k], cache_dir, resolved[k],
                                          PATH_CAP, &err);
        if (known < 0) {
            fprintf(stderr, "melon data stats: %s\n", err.msg);
            return -1;
        }
        if (known == 1) inputs[k] = resolved[k];
    }
    return 0;
}

static void print_quantiles(const char *label, const melon_count_quantiles *q) {
    printf("%-16s %8zu %8zu %8zu %8zu %8zu %8zu\n", label, q->min, q->q25,
           q->median, q->q75, q->q90, q->max);
}

static void print_stats(const melon_stream *s, const melon_stream_stats *st,
                        const melon_load_options *opt) {
    printf("format           %s (%zu file%s)\n", s->format, s->n_files,
           s->n_files == 1 ? "" : "s");
    printf("records          %zu read, %zu skipped\n", s->n_read + s->n_skipped,
           s->n_skipped);
    if (s->n_skipped > 0) {
        char summary[1024];
        melon_stream_skipped_summary(s, summary, sizeof summary);
        printf("                 %s\n", summary);
    }
    melon_stream_print_time_note(s, stdout, "warning          ");
    if (s->n_python_literal > 0)
        printf("                 %zu of them written as Python dict "
               "literals\n",
               s->n_python_literal);
    if (opt->min_user > 1 || opt->min_item > 1)
        printf("k-core           min-user %d, min-item %d: %zu interactions "
               "dropped\n",
               opt->min_user, opt->min_item, s->n_dropped);
    else
        printf("k-core           none\n");
    printf("users            %d\n", st->n_users);
    printf("items            %d\n", st->n_items);
    printf("interactions     %zu\n", st->n);
    char first[64], last[64];
    melon_format_utc(st->first_time, first, sizeof first);
    melon_format_utc(st->last_time, last, sizeof last);
    printf("time span        %s to %s UTC (%.2f days)\n", first, last,
           (st->last_time - st->first_time) / 86400.0);
    printf("repeated pairs   %zu interactions repeat an earlier (user, item) "
           "pair; %zu of %zu distinct pairs occur more than once\n",
           st->n_repeats, st->n_repeated_pairs, st->n_distinct_pairs);
    printf("interactions     %8s %8s %8s %8s %8s %8s\n", "min", "25%",
           "median", "75%", "90%", "max");
    print_quantiles("  per user", &st->per_user);
    print_quantiles("  per item", &st->per_item);
}

int melon_cmd_data_stats(int argc, char **argv) {
    melon_load_options opt;
    melon_load_options_default(&opt);
    opt.notes = NULL; /* the skipped records are part of the output */
    const char *cache_dir = NULL;
    const option_spec specs[] = {
        {"format", OPT_STRING, &opt.format, "FORMAT",
         "auto, delimited, adressa, amazon or yelp", 0, 0, NULL, NULL},
        {"columns", OPT_STRING, &opt.columns, "U,I,T",
         "user, item and time columns of delimited files: header names or "
         "1-based numbers (default: detected)", 0, 0, NULL, NULL},
        {"min-user", OPT_INT, &opt.min_user, "N",
         "k-core: keep users with at least N interactions", 0, 1e9, NULL,
         NULL},
        {"min-item", OPT_INT, &opt.min_item, "N",
         "k-core: keep items with at least N interactions", 0, 1e9, NULL,
         NULL},
        {"cache-dir", OPT_STRING, &cache_dir, "DIR",
         "where fetched datasets live (default: $MELON_CACHE_DIR, "
         "$XDG_CACHE_HOME/melon or ~/.cache/melon)", 0, 0, NULL, NULL},
        {NULL, 0, NULL, NULL, NULL, 0, 0, NULL, NULL},
    };
    const char *inputs[MAX_INPUTS];
    int n_inputs = 0;
    int status = options_parse(specs, argc, argv, 1, "data stats", usage, NULL,
                               inputs, MAX_INPUTS, &n_inputs);
    if (status == 1) return 0;
    if (status != 0) return status;
    if (n_inputs == 0) {
        fprintf(stderr, "melon data stats: give at least one FILE, DIR or "
                        "dataset NAME (see melon data stats --help)\n");
        return 2;
    }
    /* FILE,FILE... as `melon run --data` takes them */
    char *lists[MAX_INPUTS];
    int n_lists = n_inputs;
    memcpy(lists, inputs, sizeof *inputs * (size_t)n_inputs);
    n_inputs = 0;
    for (int k = 0; k < n_lists; k++) {
        lists[k] = strdup(lists[k]);
        char *save = NULL;
        for (char *tok = lists[k] ? strtok_r(lists[k], ",", &save) : NULL; tok;
             tok = strtok_r(NULL, ",", &save)) {
            if (n_inputs == MAX_INPUTS) {
                fprintf(stderr, "melon data stats: at most %d inputs\n", MAX_INPUTS);
                for (int j = 0; j <= k; j++) free(lists[j]);
                return 2;
            }
            inputs[n_inputs++] = tok;
        }
    }
    char (*resolved)[PATH_CAP] = n_inputs ? calloc((size_t)n_inputs, PATH_CAP) : NULL;
    if (!resolved) {
        fprintf(stderr, "melon data stats: %s\n",
                n_inputs ? "out of memory" : "no input file given");
        for (int k = 0; k < n_lists; k++) free(lists[k]);
        return n_inputs ? EXIT_FAILED : 2;
    }
    melon_stream stream;
    melon_stream_stats stats;
    melon_err err;
    status = EXIT_FAILED;
    if (resolve_inputs(inputs, n_inputs, cache_dir, resolved) == 0) {
        if (melon_stream_load(&stream, inputs, n_inputs, &opt, &err) != 0) {
            fprintf(stderr, "melon data stats: %s\n", err.msg);
        } else {
            if (melon_stream_stats_compute(&stream, &stats, &err) != 0) {
                fprintf(stderr, "melon data stats: %s\n", err.msg);
            } else {
                print_stats(&stream, &stats, &opt);
                status = fflush(stdout) == 0 ? 0 : EXIT_FAILED;
            }
            melon_stream_free(&stream);
        }
    }
    free(resolved);
    for (int k = 0; k < n_lists; k++) free(lists[k]);
    return status;
}
