/* Ranks, and the sums of HR, NDCG, MRR and Recall (protocol.md section 4). */
#include "melon/metrics.h"

#include <math.h>
#include <string.h>

const int melon_cutoffs[MELON_N_CUTOFFS] = {5, 10, 20};

int melon_rank(float positive, const float *negatives, size_t n_negatives) {
    if (isnan(positive)) return (int)n_negatives + 1;
    int rank = 1;
    for (size_t k = 0; k < n_negatives; k++)
        rank += negatives[k] >= positive || isnan(negatives[k]);
    return rank;
}

void melon_metric_sums_clear(melon_metric_sums *s) {
    memset(s, 0, sizeof *s);
}

void melon_metric_sums_add_rank(melon_metric_sums *s, int rank) {
    for (int c = 0; c < MELON_N_CUTOFFS; c++) {
        if (rank <= melon_cutoffs[c]) {
            s->hr[c] += 1.0;
            s->ndcg[c] += 1.0 / log2((double)rank + 1.0);
            s->mrr[c] += 1.0 / (double)rank;
        }
    }
    s->count++;
}

void melon_metric_sums_add_list(melon_metric_sums *s, const int *target_ranks,
                                size_t n_targets) {
    if (n_targets == 0) return;
    for (int c = 0; c < MELON_N_CUTOFFS; c++) {
        size_t hits = 0;
        for (size_t t = 0; t < n_targets; t++)
            hits += target_ranks[t] <= melon_cutoffs[c];
        s->recall[c] += (double)hits / (double)n_targets;
    }
    s->lists++;
}

void melon_metric_sums_merge(melon_metric_sums *into,
                             const melon_metric_sums *from) {
    for (int c = 0; c < MELON_N_CUTOFFS; c++) {
        into->hr[c] += from->hr[c];
        into->ndcg[c] += from->ndcg[c];
        into->mrr[c] += from->mrr[c];
        into->recall[c] += from->recall[c];
    }
    into->count += from->count;
    into->lists += from->lists;
}

static double mean(double sum, size_t n) {
    return n ? sum / (double)n : NAN;
}

double melon_metric_hr(const melon_metric_sums *s, int c) {
    return mean(s->hr[c], s->count);
}

double melon_metric_ndcg(const melon_metric_sums *s, int c) {
    return mean(s->ndcg[c], s->count);
}

double melon_metric_mrr(const melon_metric_sums *s, int c) {
    return mean(s->mrr[c], s->count);
}

double melon_metric_recall(const melon_metric_sums *s, int c) {
    return mean(s->recall[c], s->lists);
}
