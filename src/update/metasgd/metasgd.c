/* MetaSGD as an online update strategy (update-strategies.md B.4).
 *
 * Update: Theta_{t+1} = Theta_t - alpha (.) grad L_{B_t}(Theta_t) with no
 * other optimiser; coordinates the batch does not touch have a zero
 * gradient and do not move. In the learning-rate matrix view (paper Eq. 4)
 * W_{., m} = alpha_m / n, constant along each column.
 *
 * Meta step (section 2 data S, Q): Theta' = Theta_t - alpha (.) grad L_S,
 * G = grad L_Q(Theta'), d L_Q / d alpha = -grad L_S (.) G (exact: alpha
 * changes only the step), one Adam step on alpha: by default lazily, over
 * the entries with a meta-gradient (rows touched by both S and Q, and the
 * dense tensors); with dense_adam over every entry. */
#include "metasgd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* value -= alpha (.) grad over the rows grad lists and the dense tensors. */
static void alpha_step(melon_model *m, const melon_meta_params *alpha,
                       const melon_sparse_grad *g) {
    for (int k = 0; k < m->n_tensors; k++) {
        melon_tensor *t = &m->tensor[k];
        int cols = t->cols;
        const float *a = alpha->block[k].value;
        for (int32_t at = 0; at < g->n_rows[k]; at++) {
            size_t off = (size_t)g->rows[k][at] * cols;
            const float *d = g->grad[k] + (size_t)at * cols;
            for (int b = 0; b < cols; b++)
                t->value[off + b] -= a[off + b] * d[b];
        }
    }
}

/* Restores the invariant: gradient blocks are zero outside meta_rows. */
static void clear_meta_rows(metasgd_state *st, const melon_model *m) {
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        if (t->kind == MELON_DENSE) continue;
        size_t cols = (size_t)t->cols;
        float *ga = st->alpha.block[k].grad;
        for (int32_t a = 0; a < st->n_meta_rows[k]; a++)
            memset(ga + (size_t)st->meta_rows[k][a] * cols, 0,
                   cols * sizeof(float));
        st->n_meta_rows[k] = 0;
    }
}

double metasgd_meta_gradient(metasgd_state *st, melon_context *ctx,
                             const melon_triple *query, int n_query) {
    melon_meta_trial *t = &st->trial;
    melon_model *m = ctx->model;
    const melon_sparse_grad *gs = &t->support_grad;
    clear_meta_rows(st, m);
    alpha_step(m, &st->alpha, gs);
    melon_meta_trial_query(t, ctx, query, n_query);
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *tn = &m->tensor[k];
        int cols = tn->cols;
        float *ga = st->alpha.block[k].grad;
        if (tn->kind == MELON_DENSE) {
            size_t size = (size_t)tn->rows * cols;
            const float *G = t->query_grad.grad[k];
            for (size_t a = 0; a < size; a++) ga[a] = -gs->grad[k][a] * G[a];
            continue;
        }
        int32_t n_rows = 0;
        for (int32_t at = 0; at < gs->n_rows[k]; at++) {
            int32_t row = gs->rows[k][at];
            const float *G = melon_meta_trial_g_row(t, k, row);
            if (!G) continue;
            const float *d = gs->grad[k] + (size_t)at * cols;
            float *dst = ga + (size_t)row * cols;
            for (int b = 0; b < cols; b++) dst[b] = -d[b] * G[b];
            st->meta_rows[k][n_rows++] = row;
        }
        st->n_meta_rows[k] = n_rows;
    }
    return t->query_loss;
}

/* Adam over the entries with a meta-gradient only (the step count is
 * global, as in sparse Adam). */
static void lazy_adam(metasgd_state *st, const melon_model *m) {
    melon_meta_params *mp = &st->alpha;
    float step_size, inv_sqrt_bc2;
    melon_meta_adam_corrections(&mp->cfg, ++mp->step, &step_size, &inv_sqrt_bc2);
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        melon_meta_block *b = &mp->block[k];
        if (t->kind == MELON_DENSE) {
            melon_meta_adam_entries((long)b->size, b->value, b->grad, mp->m[k],
                                    mp->v[k], &mp->cfg, 0.0f, step_size,
                                    inv_sqrt_bc2);
            continue;
        }
        size_t cols = (size_t)t->cols;
        for (int32_t a = 0; a < st->n_meta_rows[k]; a++) {
            size_t off = (size_t)st->meta_rows[k][a] * cols;
            melon_meta_adam_entries((long)cols, b->value + off, b->grad + off,
                                    mp->m[k] + off, mp->v[k] + off, &mp->cfg,
                                    0.0f, step_size, inv_sqrt_bc2);
        }
    }
}

void metasgd_meta_update(metasgd_state *st, const melon_model *m) {
    if (st->cfg.dense_adam)
        melon_meta_params_step(&st->alpha);
    else
        lazy_adam(st, m);
}

static int metasgd_meta_step(melon_strategy *s, melon_context *ctx,
                             const melon_triple *batch, int n,
                             melon_err *err) {
    metasgd_state *st = s->impl;
    melon_model *m = ctx->model;
    if (melon_meta_trial_support_for(&st->trial, &st->memory,
                                     st->cfg.meta_data, ctx, batch, n,
                                     err) != 0)
        return -1;
    st->meta_loss = metasgd_meta_gradient(st, ctx, batch, n);
    metasgd_meta_update(st, m);
    return 0;
}

static int metasgd_update(melon_strategy *s, melon_context *ctx,
                          const melon_triple *batch, int n, melon_err *err) {
    metasgd_state *st = s->impl;
    melon_model *m = ctx->model;
    m->ops->forward_backward(m, batch, n, &st->slots);
    s->batch_loss = melon_mean_loss(&st->slots);
    melon_sparse_grad_accumulate(&st->grad, m, batch, &st->slots, NULL);
    if (st->cfg.meta_data == MELON_META_NEXT_BATCH)
        melon_meta_trial_remember(&st->memory, m, batch, n);
    alpha_step(m, &st->alpha, &st->grad);
    (void)err;
    return 0;
}

static int metasgd_save(const melon_strategy *s, FILE *f, melon_err *err) {
    const metasgd_state *st = s->impl;
    return melon_meta_params_save(&st->alpha, f, err);
}

static int metasgd_load(melon_strategy *s, FILE *f, melon_err *err) {
    metasgd_state *st = s->impl;
    return melon_meta_params_load(&st->alpha, f, err);
}

/* alpha's entries [from, to) of block k, drawn from U(alpha_low,
 * alpha_high) on the block's own stream. */
static void alpha_init(metasgd_state *st, int k, size_t from, size_t to) {
    float *a = st->alpha.block[k].value;
    const melon_metasgd_config *c = &st->cfg;
    for (size_t e = from; e < to; e++)
        a[e] = (float)(c->alpha_low + (c->alpha_high - c->alpha_low) *
                                          melon_rng_uniform(&st->init_rng[k]));
}

/* New table rows get the learning rates they would have had at creation. */
static int metasgd_grow(melon_strategy *s, melon_model *model,
                        melon_err *err) {
    metasgd_state *st = s->impl;
    for (int k = 0; k < model->n_tensors; k++) {
        const melon_tensor *t = &model->tensor[k];
        size_t size = (size_t)t->rows * t->cols, old = st->alpha.block[k].size;
        if (t->kind == MELON_DENSE || size <= old) continue;
        if (melon_meta_params_grow(&st->alpha, k, size,
                                   (size_t)t->cap_rows * t->cols, err) != 0)
            return -1;
        alpha_init(st, k, old, size);
    }
    if (melon_meta_trial_grow(&st->trial, model, err) != 0 ||
        melon_meta_memory_grow(&st->memory, model, err) != 0 ||
        melon_sparse_grad_grow(&st->grad, model, err) != 0)
        return -1;
    return 0;
}

static void metasgd_free(melon_strategy *s) {
    metasgd_state *st = s->impl;
    if (!st) return;
    melon_meta_params_free(&st->alpha);
    melon_meta_trial_free(&st->trial);
    melon_meta_memory_free(&st->memory);
    melon_grads_free(&st->slots);
    melon_sparse_grad_free(&st->grad);
    for (int k = 0; k < MELON_MAX_TENSORS; k++) free(st->meta_rows[k]);
    free(st);
    s->impl = NULL;
}

static const melon_strategy_ops metasgd_ops = {
    .name = "metasgd",
    .meta_step = metasgd_meta_step,
    .update = metasgd_update,
    .save = metasgd_save,
    .load = metasgd_load,
    .free_impl = metasgd_free,
    .grow = metasgd_grow,
};

/* Random stream of alpha's init. */
#define METASGD_INIT_STREAM 0x4d45544153474455ULL

MELON_CONSTRUCTOR(melon_metasgd_create) {
    const melon_metasgd_config *c = own;
    melon_model *model = m;
    if (!melon_model_has_parameters(model)) {
        melon_fail(err, "strategy metasgd needs a model with parameters (bpr "
                        "or ncf), not '%s'", model->ops->name);
        return MELON_NOT_APPLICABLE;
    }
    if (c->alpha_low > c->alpha_high)
        return melon_fail(err, "MetaSGD: alpha init range [%g, %g] is empty",
                          (double)c->alpha_low, (double)c->alpha_high);
    metasgd_state *st = melon_calloc(1, sizeof *st, err);
    if (!st) return -1;
    s->ops = &metasgd_ops;
    s->impl = st;
    st->cfg = *c;
    melon_meta_adam_config adam;
    melon_meta_adam_config_default(&adam);
    adam.lr = c->meta_lr;
    melon_meta_params_init(&st->alpha, &adam);
    int max_batch = shape->max_batch;
    for (int k = 0; k < model->n_tensors; k++) {
        const melon_tensor *t = &model->tensor[k];
        size_t size = (size_t)t->rows * t->cols;
        snprintf(st->names[k], sizeof st->names[k], "alpha.%s", t->name);
        if (!melon_meta_params_add(&st->alpha, st->names[k], size, 0, err))
            goto fail;
        melon_rng_seed_stream(&st->init_rng[k], shape->seed,
                              METASGD_INIT_STREAM + (uint64_t)k);
        alpha_init(st, k, 0, size);
        if (t->kind != MELON_DENSE &&
            !(st->meta_rows[k] = melon_alloc(4 * (size_t)max_batch *
                                             sizeof(int32_t), err)))
            goto fail;
    }
    if (melon_meta_trial_init(&st->trial, model, max_batch, err) != 0 ||
        (c->meta_data == MELON_META_NEXT_BATCH &&
         melon_meta_memory_init(&st->memory, model, max_batch, err) != 0) ||
        melon_grads_init(&st->slots, model, max_batch, err) != 0 ||
        melon_sparse_grad_init(&st->grad, model, max_batch, err) != 0)
        goto fail;
    return 0;
fail:
    metasgd_free(s);
    return -1;
}
