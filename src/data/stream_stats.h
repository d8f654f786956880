/* Summary statistics of a loaded stream, for `melon data stats`: sizes,
 * time span, repeated (user, item) pairs and how interactions spread over
 * users and items. */
#ifndef MELON_STREAM_STATS_H
#define MELON_STREAM_STATS_H

#include "melon/common.h"
#include "melon/stream.h"

#include <stddef.h>
#include <stdint.h>

/* Quantiles of a list of counts by nearest rank: the q-quantile is the
 * smallest count c such that at least a fraction q of the list is <= c. */
typedef struct {
    size_t min, q25, median, q75, q90, max;
} melon_count_quantiles;

typedef struct {
    size_t n;                   /* interactions */
    int32_t n_users;
    int32_t n_items;
    double first_time;          /* Unix seconds */
    double last_time;
    size_t n_distinct_pairs;    /* distinct (user, item) pairs */
    size_t n_repeats;           /* interactions whose pair occurred before */
    size_t n_repeated_pairs;    /* pairs that occur more than once */
    melon_count_quantiles per_user;  /* interactions per user */
    melon_count_quantiles per_item;  /* interactions per item */
} melon_stream_stats;

/* Fills stats for a non-empty stream. */
int melon_stream_stats_compute(const melon_stream *stream,
                               melon_stream_stats *stats, melon_err *err);

/* The quantiles of counts[n] (n > 0); sorts counts in place. */
void melon_count_quantiles_compute(size_t *counts, size_t n,
                                   melon_count_quantiles *q);

/* Writes "YYYY-MM-DD HH:MM:SS" (UTC) for Unix seconds, rounded down to the
 * second, into out[cap]; seconds beyond the exact range of doubles are
 * written as a number. */
void melon_format_utc(double seconds, char *out, size_t cap);

#endif
