/* Ranks and HR/NDCG sums (protocol.md section 4). */
#include "melon/metrics.h"

#include <math.h>

const int melon_cutoffs[MELON_N_CUTOFFS] = {5, 10, 20};

int melon_rank(float positive, const float *negatives, size_t n_negatives) {
    if (isnan(positive)) return (int)n_negatives + 1;
    int rank = 1;
    for (size_t k = 0; k < n_negatives; k++)
        rank += negatives[k] >= positive || isnan(negatives[k]);
    return rank;
}

void melon_metric_sums_clear(melon_metric_sums *s) {
    for (int c = 0; c < MELON_N_CUTOFFS; c++) s->hr[c] = s->ndcg[c] = 0.0;
    s->count = 0;
}

void melon_metric_sums_add_rank(melon_metric_sums *s, int rank) {
    for (int c = 0; c < MELON_N_CUTOFFS; c++) {
        if (rank <= melon_cutoffs[c]) {
            s->hr[c] += 1.0;
            s->ndcg[c] += 1.0 / log2((double)rank + 1.0);
        }
    }
    s->count++;
}

void melon_metric_sums_merge(melon_metric_sums *into,
                             const melon_metric_sums *from) {
    for (int c = 0; c < MELON_N_CUTOFFS; c++) {
        into->hr[c] += from->hr[c];
        into->ndcg[c] += from->ndcg[c];
    }
    into->count += from->count;
}

double melon_metric_hr(const melon_metric_sums *s, int c) {
    return s->count ? s->hr[c] / (double)s->count : 0.0;
}

double melon_metric_ndcg(const melon_metric_sums *s, int c) {
    return s->count ? s->ndcg[c] / (double)s->count : 0.0;
}
