/* Ranking metrics (protocol.md section 4): the rank of a positive among its
 * negatives with ties counted against the positive, HR@k and NDCG@k for
 * k in {5, 10, 20}, summed in double. */
#ifndef MELON_METRICS_H
#define MELON_METRICS_H

#include <stddef.h>

#define MELON_N_CUTOFFS 3
extern const int melon_cutoffs[MELON_N_CUTOFFS];  /* 5, 10, 20 */

/* r = 1 + #{negatives scoring higher} + #{negatives scoring equal}.
 * A NaN score of the positive ranks it last. */
int melon_rank(float positive, const float *negatives, size_t n_negatives);

typedef struct {
    double hr[MELON_N_CUTOFFS];
    double ndcg[MELON_N_CUTOFFS];
    size_t count;
} melon_metric_sums;

void melon_metric_sums_clear(melon_metric_sums *s);
void melon_metric_sums_add_rank(melon_metric_sums *s, int rank);
void melon_metric_sums_merge(melon_metric_sums *into,
                             const melon_metric_sums *from);
/* Mean HR@k / NDCG@k for cutoff index c (0 when count is 0). */
double melon_metric_hr(const melon_metric_sums *s, int c);
double melon_metric_ndcg(const melon_metric_sums *s, int c);

#endif
