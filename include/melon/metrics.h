/* Ranking metrics (protocol.md section 4): the rank of a positive among its
 * negatives with ties counted against the positive; per interaction HR@k,
 * NDCG@k and MRR@k, per (user, batch) list Recall@k, for k in {5, 10, 20},
 * summed in double. */
#ifndef MELON_METRICS_H
#define MELON_METRICS_H

#include <stddef.h>

#define MELON_N_CUTOFFS 3
extern const int melon_cutoffs[MELON_N_CUTOFFS];  /* 5, 10, 20 */

/* r = 1 + #{negatives scoring higher} + #{negatives scoring equal}.
 * A NaN score of the positive ranks it last; a NaN negative counts
 * against the positive. */
int melon_rank(float positive, const float *negatives, size_t n_negatives);

typedef struct {
    /* per ranked interaction */
    double hr[MELON_N_CUTOFFS];
    double ndcg[MELON_N_CUTOFFS];
    double mrr[MELON_N_CUTOFFS];
    size_t count;                     /* interactions ranked */
    /* per (user, batch) list */
    double recall[MELON_N_CUTOFFS];
    size_t lists;                     /* lists with at least one target */
} melon_metric_sums;

void melon_metric_sums_clear(melon_metric_sums *s);
/* One interaction ranked at `rank`: HR@k = [r <= k],
 * NDCG@k = [r <= k] / log2(r + 1), MRR@k = [r <= k] / r. */
void melon_metric_sums_add_rank(melon_metric_sums *s, int rank);
/* One (user, batch) list: the ranks of its n_targets targets in the list;
 * Recall@k = #{targets ranked <= k} / n_targets. Nothing when n_targets
 * is 0. */
void melon_metric_sums_add_list(melon_metric_sums *s, const int *target_ranks,
                                size_t n_targets);
void melon_metric_sums_merge(melon_metric_sums *into,
                             const melon_metric_sums *from);
/* Means for cutoff index c: over interactions (HR, NDCG, MRR) or over
 * lists (Recall); NaN when there is nothing to average. */
double melon_metric_hr(const melon_metric_sums *s, int c);
double melon_metric_ndcg(const melon_metric_sums *s, int c);
double melon_metric_mrr(const melon_metric_sums *s, int c);
double melon_metric_recall(const melon_metric_sums *s, int c);

#endif
