/* The common frame of a meta step (update-strategies.md section 2):
 *
 *   melon_meta_trial_support: build the support set S_t, run the
 *       recommender on it at Theta_t (per-triple losses and slot gradients,
 *       the batch-mean gradient and the rows S_t touches, with how many
 *       slots looked each row up), and save those rows and the dense
 *       tensors;
 *   (the strategy writes its trial values Theta'(phi) into the model)
 *   melon_meta_trial_query: score the query set Q_t = B_t at Theta' (its
 *       mean BPR loss and gradient G), then restore Theta_t.
 *
 * The strategy then back-propagates G through its trial rule to its
 * meta-parameters. */
#ifndef MELON_META_TRIAL_H
#define MELON_META_TRIAL_H

#include "melon/grad.h"
#include "melon/snapshot.h"
#include "melon/strategy.h"

typedef struct {
    melon_triple *support;       /* [2 * max_batch] */
    int n_support;
    melon_grads support_slots;   /* at Theta_t */
    melon_sparse_grad support_grad; /* mean gradient; rows and counts */
    melon_snapshot saved;
    melon_grads query_slots;     /* at Theta' */
    melon_sparse_grad query_grad;   /* G = grad of the mean query loss */
    double query_loss;           /* mean BPR loss of Q_t at Theta' */
    int cols[MELON_MAX_TENSORS]; /* each tensor's row width */
} melon_meta_trial;

/* max_batch: the largest batch (the support set has twice as many). */
int melon_meta_trial_init(melon_meta_trial *t, const melon_model *m,
                          int max_batch, melon_err *err);
void melon_meta_trial_free(melon_meta_trial *t);

int melon_meta_trial_support(melon_meta_trial *t, melon_context *ctx,
                             const melon_triple *batch, int n,
                             melon_err *err);
void melon_meta_trial_query(melon_meta_trial *t, melon_context *ctx,
                            const melon_triple *batch, int n);

/* G's row for table tensor k and row `row`, or NULL when Q_t does not
 * touch it (then G is zero there). */
static inline const float *melon_meta_trial_g_row(const melon_meta_trial *t,
                                                  int k, int32_t row) {
    int32_t at = t->query_grad.row_index[k][row];
    return at < 0 ? NULL : t->query_grad.grad[k] + (size_t)at * t->cols[k];
}

#endif
