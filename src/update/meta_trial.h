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

#include "model/grad.h"
#include "model/snapshot.h"
#include "update/strategy.h"

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
/* The model's tables have grown (melon_model_grow). */
int melon_meta_trial_grow(melon_meta_trial *t, const melon_model *m,
                          melon_err *err);

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

/* A given support set: runs the recommender on `support` (n_support <=
 * 2 * max_batch triples) at the model's current values and saves the rows
 * it touches and the dense tensors, as melon_meta_trial_support does for
 * the last batch. */
void melon_meta_trial_support_given(melon_meta_trial *t, melon_model *m,
                                    const melon_triple *support,
                                    int n_support);

/* The next-batch protocol (update-strategies.md section 2, option
 * next-batch): S = B_{t-1} applied to a stored copy of Theta_{t-1}, Q = B_t.
 *
 * A strategy calls melon_meta_trial_remember with its batch right before
 * its real update changes the model; the memory keeps the batch's triples
 * and the values of the table rows they look up and of every dense tensor.
 * At the next meta step, melon_meta_trial_support_next_batch saves the
 * current values of those rows (Theta_t) for the restore, writes the
 * remembered values back (so the model holds Theta_{t-1} on them and
 * Theta_t elsewhere), and runs the recommender on the remembered batch
 * there. The strategy then writes its trial values as usual and
 * melon_meta_trial_query scores B_t and restores Theta_t.
 *
 * What is remembered is always the strategy's previous update: in
 * pre-training the previously processed (shuffled) past batch, and at the
 * first online batch the last pre-training batch. With nothing remembered
 * (the very first meta step of a run), the last-batch support set of
 * melon_meta_trial_support is used instead. */
typedef struct {
    melon_triple *batch;         /* [max_batch] the remembered triples */
    int n;                       /* 0: nothing remembered */
    melon_snapshot values;       /* their rows and the dense tensors */
    uint32_t *seen[MELON_MAX_TENSORS]; /* per table row: stamp of the last
                                          remember that listed it */
    int32_t seen_rows[MELON_MAX_TENSORS]; /* rows seen[k] covers */
    uint32_t stamp;
} melon_meta_memory;

int melon_meta_memory_init(melon_meta_memory *mem, const melon_model *m,
                           int max_batch, melon_err *err);
void melon_meta_memory_free(melon_meta_memory *mem);
/* The model's tables have grown: new rows were never remembered. */
int melon_meta_memory_grow(melon_meta_memory *mem, const melon_model *m,
                           melon_err *err);

void melon_meta_trial_remember(melon_meta_memory *mem, const melon_model *m,
                               const melon_triple *batch, int n);
int melon_meta_trial_support_next_batch(melon_meta_trial *t,
                                        melon_meta_memory *mem,
                                        melon_context *ctx,
                                        const melon_triple *batch, int n,
                                        melon_err *err);

/* The support set a strategy's meta_data setting selects: last-batch, or
 * next-batch with mem (mem may be NULL only for last-batch). */
int melon_meta_trial_support_for(melon_meta_trial *t, melon_meta_memory *mem,
                                 melon_meta_data which, melon_context *ctx,
                                 const melon_triple *batch, int n,
                                 melon_err *err);

#endif
