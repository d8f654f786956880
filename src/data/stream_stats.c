/* Stream statistics: counts per user and item, their quantiles, and the
 * repeated pairs found by sorting the packed (user, item) keys. */
#include "data/stream_stats.h"

#include <stdlib.h>
#include <string.h>

static int compare_sizes(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* The nearest-rank q-quantile of sorted[n]: index ceil(q n) - 1. */
static size_t nearest_rank(const size_t *sorted, size_t n, unsigned percent) {
    size_t rank = ((size_t)percent * n + 99) / 100;
    return sorted[rank > 0 ? rank - 1 : 0];
}

void melon_count_quantiles_compute(size_t *counts, size_t n,
                                   melon_count_quantiles *q) {
    qsort(counts, n, sizeof *counts, compare_sizes);
    q->min = counts[0];
    q->q25 = nearest_rank(counts, n, 25);
    q->median = nearest_rank(counts, n, 50);
    q->q75 = nearest_rank(counts, n, 75);
    q->q90 = nearest_rank(counts, n, 90);
    q->max = counts[n - 1];
}

static int count_quantiles(const int32_t *ids, size_t n, int32_t n_ids,
                           melon_count_quantiles *q, melon_err *err) {
    size_t *counts = melon_calloc((size_t)n_ids, sizeof *counts, err);
    if (!counts) return -1;
    for (size_t k = 0; k < n; k++) counts[ids[k]]++;
    melon_count_quantiles_compute(counts, (size_t)n_ids, q);
    free(counts);
    return 0;
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int count_pairs(const melon_stream *s, melon_stream_stats *st,
                       melon_err *err) {
    uint64_t *pairs = melon_alloc(s->n * sizeof *pairs, err);
    if (!pairs) return -1;
    for (size_t k = 0; k < s->n; k++)
        pairs[k] = (uint64_t)(uint32_t)s->user[k] << 32 | (uint32_t)s->item[k];
    qsort(pairs, s->n, sizeof *pairs, compare_u64);
    size_t distinct = 0, repeated_pairs = 0;
    for (size_t k = 0; k < s->n;) {
        size_t end = k + 1;
        while (end < s->n && pairs[end] == pairs[k]) end++;
        distinct++;
        if (end - k > 1) repeated_pairs++;
        k = end;
    }
    free(pairs);
    st->n_distinct_pairs = distinct;
    st->n_repeats = s->n - distinct;
    st->n_repeated_pairs = repeated_pairs;
    return 0;
}

int melon_stream_stats_compute(const melon_stream *stream,
                               melon_stream_stats *stats, melon_err *err) {
    memset(stats, 0, sizeof *stats);
    if (stream->n == 0 || stream->n_users < 1 || stream->n_items < 1)
        return melon_fail(err, "the stream is empty");
    stats->n = stream->n;
    stats->n_users = stream->n_users;
    stats->n_items = stream->n_items;
    stats->first_time = stream->time[0];
    stats->last_time = stream->time[stream->n - 1];
    if (count_quantiles(stream->user, stream->n, stream->n_users,
                        &stats->per_user, err) != 0 ||
        count_quantiles(stream->item, stream->n, stream->n_items,
                        &stats->per_item, err) != 0 ||
        count_pairs(stream, stats, err) != 0)
        return -1;
    return 0;
}
