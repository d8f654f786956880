/* What the server measures of itself: latency histograms (lock-free, for
 * the request threads) and the live quality of the prequential ranks: per
 * online batch, over every ranked event and over the last SERVE_WINDOW. */
#ifndef MELON_SERVE_METRICS_H
#define MELON_SERVE_METRICS_H

#include "melon/metrics.h"

#include <stdatomic.h>
#include <stdint.h>

#define SERVE_HIST_BUCKETS 18
extern const double serve_hist_bounds[SERVE_HIST_BUCKETS]; /* seconds */

typedef struct {
    _Atomic uint64_t counts[SERVE_HIST_BUCKETS + 1]; /* last: above all */
    _Atomic uint64_t sum_ns;
    _Atomic uint64_t count;
} serve_histogram;

void serve_histogram_observe(serve_histogram *h, double seconds);
/* The q-quantile (0 < q < 1), interpolated inside its bucket; NaN when
 * nothing was observed. */
double serve_histogram_quantile(const serve_histogram *h, double q);

#define SERVE_MAX_RANK 100
#define SERVE_WINDOW 10000
#define SERVE_BATCHES_KEPT 4096

typedef struct {
    uint64_t index;          /* online batch number, from 0 */
    uint32_t events;
    uint32_t evaluated;
    double hr10;             /* means over the batch's ranked events */
    double ndcg10;
    double update_seconds;   /* the batch's step (meta step, ranking,
                                update), as measured; not restored */
} serve_batch_stat;

typedef struct {
    uint64_t rank_counts[SERVE_MAX_RANK + 1]; /* every ranked event, by rank */
    uint64_t unranked;                         /* events given no rank */
    uint8_t window[SERVE_WINDOW];              /* the last ranks, a ring */
    uint32_t window_n;
    uint32_t window_at;
    uint32_t window_counts[SERVE_MAX_RANK + 1];
    melon_metric_sums batch;                   /* the batch being ranked */
    serve_batch_stat batches[SERVE_BATCHES_KEPT]; /* a ring */
    uint64_t n_batches;
} serve_quality;

void serve_quality_init(serve_quality *q);
/* rank: 1..SERVE_MAX_RANK, or anything else for an event not ranked. */
void serve_quality_add_rank(serve_quality *q, int rank);
/* Closes the batch whose ranks were added since the last call. */
void serve_quality_end_batch(serve_quality *q, uint32_t events,
                             double update_seconds);
/* HR@10 and NDCG@10 of rank counts (counts[r]: events of rank r); NaN
 * when there are none. */
double serve_counts_hr10(const uint64_t *counts);
double serve_counts_ndcg10(const uint64_t *counts);
void serve_quality_window(const serve_quality *q, double *hr10, double *ndcg10);
/* The kept batch with this index, or NULL. */
const serve_batch_stat *serve_quality_batch(const serve_quality *q,
                                            uint64_t index);

#endif
