#include "update/meta_trial.h"

#include "update/support.h"

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

int melon_meta_trial_grow(melon_meta_trial *t, const melon_model *m,
                          melon_err *err) {
    if (melon_sparse_grad_grow(&t->support_grad, m, err) != 0 ||
        melon_sparse_grad_grow(&t->query_grad, m, err) != 0)
        return -1;
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

static void support_forward(melon_meta_trial *t, melon_model *m) {
    m->ops->forward_backward(m, t->support, t->n_support, &t->support_slots);
    melon_sparse_grad_accumulate(&t->support_grad, m, t->support,
                                 &t->support_slots, NULL);
}

void melon_meta_trial_support_given(melon_meta_trial *t, melon_model *m,
                                    const melon_triple *support,
                                    int n_support) {
    if (support != t->support)
        memcpy(t->support, support, (size_t)n_support * sizeof *support);
    t->n_support = n_support;
    support_forward(t, m);
    melon_snapshot_save(&t->saved, m, &t->support_grad);
}

int melon_meta_memory_init(melon_meta_memory *mem, const melon_model *m,
                           int max_batch, melon_err *err) {
    memset(mem, 0, sizeof *mem);
    mem->batch = melon_alloc((size_t)max_batch * sizeof *mem->batch, err);
    if (!mem->batch || melon_snapshot_init(&mem->values, m, max_batch, err) != 0)
        goto fail;
    for (int k = 0; k < m->n_tensors; k++) {
        if (m->tensor[k].kind == MELON_DENSE) continue;
        mem->seen[k] = melon_calloc((size_t)m->tensor[k].rows,
                                    sizeof(uint32_t), err);
        if (!mem->seen[k]) goto fail;
        mem->seen_rows[k] = m->tensor[k].rows;
    }
    return 0;
fail:
    melon_meta_memory_free(mem);
    return -1;
}

int melon_meta_memory_grow(melon_meta_memory *mem, const melon_model *m,
                           melon_err *err) {
    if (!mem->batch) return 0; /* not in use */
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        if (t->kind == MELON_DENSE || t->rows <= mem->seen_rows[k]) continue;
        uint32_t *seen = melon_grow_rows(mem->seen[k], sizeof *seen,
                                         (size_t)mem->seen_rows[k],
                                         (size_t)t->rows,
                                         (size_t)t->cap_rows, 0, err);
        if (!seen) return -1;
        mem->seen[k] = seen;
        mem->seen_rows[k] = t->rows;
    }
    return 0;
}

void melon_meta_memory_free(melon_meta_memory *mem) {
    free(mem->batch);
    melon_snapshot_free(&mem->values);
    for (int k = 0; k < MELON_MAX_TENSORS; k++) free(mem->seen[k]);
    memset(mem, 0, sizeof *mem);
}

/* Lists the distinct rows the batch looks up in every table (in order of
 * first look-up) with their values, and copies every dense tensor. */
void melon_meta_trial_remember(melon_meta_memory *mem, const melon_model *m,
                               const melon_triple *batch, int n) {
    if (++mem->stamp == 0) { /* wrapped: old stamps could collide */
        for (int k = 0; k < m->n_tensors; k++)
            if (mem->seen[k])
                memset(mem->seen[k], 0,
                       (size_t)m->tensor[k].rows * sizeof(uint32_t));
        mem->stamp = 1;
    }
    memcpy(mem->batch, batch, (size_t)n * sizeof *batch);
    mem->n = n;
    melon_snapshot *v = &mem->values;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        size_t cols = (size_t)t->cols;
        if (t->kind == MELON_DENSE) {
            memcpy(v->values[k], t->value, (size_t)t->rows * cols * sizeof(float));
            v->n_rows[k] = t->rows;
            continue;
        }
        int32_t n_rows = 0;
        for (int p = 0; p < 2 * n; p++) {
            int32_t row = melon_slot_row(t, &batch[p / 2], p % 2);
            if (mem->seen[k][row] == mem->stamp) continue;
            mem->seen[k][row] = mem->stamp;
            v->rows[k][n_rows] = row;
            memcpy(v->values[k] + (size_t)n_rows * cols,
                   t->value + (size_t)row * cols, cols * sizeof(float));
            n_rows++;
        }
        v->n_rows[k] = n_rows;
    }
}

/* dst := the model's current values of the rows src lists (and of every
 * dense tensor). */
static void snapshot_current_rows(melon_snapshot *dst,
                                  const melon_snapshot *src,
                                  const melon_model *m) {
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        size_t cols = (size_t)t->cols;
        if (t->kind == MELON_DENSE) {
            memcpy(dst->values[k], t->value, (size_t)t->rows * cols * sizeof(float));
            dst->n_rows[k] = t->rows;
            continue;
        }
        dst->n_rows[k] = src->n_rows[k];
        for (int32_t a = 0; a < src->n_rows[k]; a++) {
            int32_t row = src->rows[k][a];
            dst->rows[k][a] = row;
            memcpy(dst->values[k] + (size_t)a * cols,
                   t->value + (size_t)row * cols, cols * sizeof(float));
        }
    }
}

int melon_meta_trial_support_next_batch(melon_meta_trial *t,
                                        melon_meta_memory *mem,
                                        melon_context *ctx,
                                        const melon_triple *batch, int n,
                                        melon_err *err) {
    if (mem->n == 0) return melon_meta_trial_support(t, ctx, batch, n, err);
    melon_model *m = ctx->model;
    snapshot_current_rows(&t->saved, &mem->values, m); /* Theta_t */
    melon_snapshot_restore(&mem->values, m);            /* Theta_{t-1} */
    memcpy(t->support, mem->batch, (size_t)mem->n * sizeof *mem->batch);
    t->n_support = mem->n;
    support_forward(t, m);
    return 0;
}

int melon_meta_trial_support_for(melon_meta_trial *t, melon_meta_memory *mem,
                                 melon_meta_data which, melon_context *ctx,
                                 const melon_triple *batch, int n,
                                 melon_err *err) {
    if (which == MELON_META_NEXT_BATCH) {
        if (!mem)
            return melon_fail(err, "next-batch meta-data without a memory");
        return melon_meta_trial_support_next_batch(t, mem, ctx, batch, n, err);
    }
    return melon_meta_trial_support(t, ctx, batch, n, err);
}
