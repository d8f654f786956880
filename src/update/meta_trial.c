#include "melon/meta_trial.h"

#include "melon/support.h"

#include <stdlib.h>
#include <string.h>

int melon_meta_trial_init(melon_meta_trial *t, const melon_model *m,
                          int max_batch, melon_err *err) {
    memset(t, 0, sizeof *t);
    int max_support = 2 * max_batch;
    if (m->max_triples < max_support)
        return melon_fail(err, "model sized for %d triples, a support set "
                               "needs %d", m->max_triples, max_support);
    for (int k = 0; k < m->n_tensors; k++) t->cols[k] = m->tensor[k].cols;
    t->support = melon_alloc((size_t)max_support * sizeof *t->support, err);
    if (!t->support ||
        melon_grads_init(&t->support_slots, m, max_support, err) != 0 ||
        melon_sparse_grad_init(&t->support_grad, m, max_support, err) != 0 ||
        melon_snapshot_init(&t->saved, m, max_support, err) != 0 ||
        melon_grads_init(&t->query_slots, m, max_batch, err) != 0 ||
        melon_sparse_grad_init(&t->query_grad, m, max_batch, err) != 0) {
        melon_meta_trial_free(t);
        return -1;
    }
    return 0;
}

void melon_meta_trial_free(melon_meta_trial *t) {
    free(t->support);
    melon_grads_free(&t->support_slots);
    melon_sparse_grad_free(&t->support_grad);
    melon_snapshot_free(&t->saved);
    melon_grads_free(&t->query_slots);
    melon_sparse_grad_free(&t->query_grad);
    memset(t, 0, sizeof *t);
}

int melon_meta_trial_support(melon_meta_trial *t, melon_context *ctx,
                             const melon_triple *batch, int n,
                             melon_err *err) {
    if (melon_support_last_batch(ctx, batch, n, t->support, err) != 0)
        return -1;
    t->n_support = 2 * n;
    melon_model *m = ctx->model;
    m->ops->forward_backward(m, t->support, t->n_support, &t->support_slots);
    melon_sparse_grad_accumulate(&t->support_grad, m, t->support,
                                 &t->support_slots, NULL);
    melon_snapshot_save(&t->saved, m, &t->support_grad);
    return 0;
}

void melon_meta_trial_query(melon_meta_trial *t, melon_context *ctx,
                            const melon_triple *batch, int n) {
    melon_model *m = ctx->model;
    m->ops->forward_backward(m, batch, n, &t->query_slots);
    melon_sparse_grad_accumulate(&t->query_grad, m, batch, &t->query_slots,
                                 NULL);
    double sum = 0.0;
    for (int r = 0; r < n; r++) sum += t->query_slots.loss[r];
    t->query_loss = n ? sum / n : 0.0;
    melon_snapshot_restore(&t->saved, m);
}
