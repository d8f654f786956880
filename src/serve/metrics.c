/* metrics.h */
#include "metrics.h"

#include <math.h>
#include <string.h>

const double serve_hist_bounds[SERVE_HIST_BUCKETS] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,    0.1,    0.25,    0.5,    1.0,   2.5,    5.0,   10.0, 30.0};

void serve_histogram_observe(serve_histogram *h, double seconds) {
    size_t b = 0;
    while (b < SERVE_HIST_BUCKETS && seconds > serve_hist_bounds[b]) b++;
    atomic_fetch_add_explicit(&h->counts[b], 1, memory_order_relaxed);
    double ns = seconds > 0 ? seconds * 1e9 : 0;
    atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

double serve_histogram_quantile(const serve_histogram *h, double q) {
    uint64_t counts[SERVE_HIST_BUCKETS + 1], total = 0;
    for (size_t b = 0; b <= SERVE_HIST_BUCKETS; b++) {
        counts[b] = atomic_load_explicit(&h->counts[b], memory_order_relaxed);
        total += counts[b];
    }
    if (total == 0) return NAN;
    double want = q * (double)total, seen = 0;
    for (size_t b = 0; b <= SERVE_HIST_BUCKETS; b++) {
        if (counts[b] == 0 || seen + (double)counts[b] < want) {
            seen += (double)counts[b];
            continue;
        }
        double lo = b == 0 ? 0 : serve_hist_bounds[b - 1];
        if (b == SERVE_HIST_BUCKETS) return lo; /* above every bound */
        double hi = serve_hist_bounds[b];
        return lo + (hi - lo) * (want - seen) / (double)counts[b];
    }
    return serve_hist_bounds[SERVE_HIST_BUCKETS - 1];
}

void serve_quality_init(serve_quality *q) {
    memset(q, 0, sizeof *q);
    melon_metric_sums_clear(&q->batch);
}

void serve_quality_add_rank(serve_quality *q, int rank) {
    if (rank < 1 || rank > SERVE_MAX_RANK) {
        q->unranked++;
        return;
    }
    q->rank_counts[rank]++;
    melon_metric_sums_add_rank(&q->batch, rank);
    if (q->window_n == SERVE_WINDOW)
        q->window_counts[q->window[q->window_at]]--;
    else
        q->window_n++;
    q->window[q->window_at] = (uint8_t)rank;
    q->window_counts[rank]++;
    q->window_at = (q->window_at + 1) % SERVE_WINDOW;
}

void serve_quality_end_batch(serve_quality *q, uint32_t events,
                             double update_seconds) {
    serve_batch_stat *b = &q->batches[q->n_batches % SERVE_BATCHES_KEPT];
    b->index = q->n_batches;
    b->events = events;
    b->evaluated = (uint32_t)q->batch.count;
    b->hr10 = q->batch.count ? melon_metric_hr(&q->batch, 1) : NAN;
    b->ndcg10 = q->batch.count ? melon_metric_ndcg(&q->batch, 1) : NAN;
    b->update_seconds = update_seconds;
    q->n_batches++;
    melon_metric_sums_clear(&q->batch);
}

/* Ranks 1..10 are hits; NDCG@10 of rank r is 1 / log2(r + 1) (protocol.md
 * section 4). Summed from rank 1 up, so equal counts give equal values. */
double serve_counts_hr10(const uint64_t *counts) {
    uint64_t n = 0, hits = 0;
    for (int r = 1; r <= SERVE_MAX_RANK; r++) {
        n += counts[r];
        if (r <= 10) hits += counts[r];
    }
    return n ? (double)hits / (double)n : NAN;
}

double serve_counts_ndcg10(const uint64_t *counts) {
    uint64_t n = 0;
    double gain = 0;
    for (int r = 1; r <= SERVE_MAX_RANK; r++) {
        n += counts[r];
        if (r <= 10) gain += (double)counts[r] / log2((double)r + 1.0);
    }
    return n ? gain / (double)n : NAN;
}

void serve_quality_window(const serve_quality *q, double *hr10,
                          double *ndcg10) {
    uint64_t counts[SERVE_MAX_RANK + 1];
    for (int r = 0; r <= SERVE_MAX_RANK; r++) counts[r] = q->window_counts[r];
    *hr10 = serve_counts_hr10(counts);
    *ndcg10 = serve_counts_ndcg10(counts);
}

const serve_batch_stat *serve_quality_batch(const serve_quality *q,
                                            uint64_t index) {
    if (index >= q->n_batches || q->n_batches - index > SERVE_BATCHES_KEPT)
        return NULL;
    return &q->batches[index % SERVE_BATCHES_KEPT];
}
