/* MWNet as an online update strategy (update-strategies.md B.3).
 *
 * Meta step (section 2 data S, Q): V_x = V(l_x(Theta_t)) for x in S, trial
 * Theta' = Theta_t - eta_v / n_S sum_x V_x g_x (plain SGD), meta-loss
 * L_Q(Theta'), G = grad L_Q(Theta'), and the exact one-step hypergradient
 * dL_Q/dV_x = -eta_v / n_S <G, g_x> (V's input is a detached constant, so
 * no second derivative of the recommender enters), back through V; one
 * Adam step on (w1, b1, w2, b2).
 *
 * Update: one step of the Default optimiser on (1/n) sum_x V_x l_x with
 * the new V, the weights unnormalised: in the learning-rate matrix view
 * (paper Eq. 3) W_{x,.} = eta V(l_x) / n, constant along each row. */
#include "mwnet.h"

#include "nn/nn.h"

#include <stdlib.h>

/* out[r] = <G, g_r> for every triple r of `slots` (per-triple gradient =
 * the sum of its two columns). Table tensors: only rows Q touched count.
 * Dense tensor: sum_c e_rc^T G h_rc, with Y = H G^T by one GEMM. */
static void triple_dots(const melon_model *m, const melon_meta_trial *t,
                        const melon_triple *triples, const melon_grads *slots,
                        float *dense_buf, float *out) {
    int n = slots->n;
    for (int r = 0; r < n; r++) out[r] = 0.0f;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *tn = &m->tensor[k];
        if (tn->kind == MELON_DENSE) {
            int rows = tn->rows, cols = tn->cols;
            melon_linear_forward(2 * n, cols, rows, slots->input[k], cols,
                                 t->query_grad.grad[k], cols, dense_buf, rows);
            const float *e = slots->slot[k];
            for (int r = 0; r < n; r++) {
                double acc = 0.0;
                for (int p = 2 * r; p < 2 * r + 2; p++)
                    for (int a = 0; a < rows; a++)
                        acc += (double)e[(size_t)p * rows + a] *
                               dense_buf[(size_t)p * rows + a];
                out[r] += (float)acc;
            }
            continue;
        }
        int cols = tn->cols;
        for (int r = 0; r < n; r++) {
            double acc = 0.0;
            for (int c = 0; c < 2; c++) {
                const float *g_row = melon_meta_trial_g_row(
                    t, k, melon_slot_row(tn, &triples[r], c));
                if (!g_row) continue;
                const float *s = slots->slot[k] + (size_t)(2 * r + c) * cols;
                for (int b = 0; b < cols; b++) acc += (double)g_row[b] * s[b];
            }
            out[r] += (float)acc;
        }
    }
}

/* value -= lr * grad over the rows grad lists and every dense tensor. */
static void sgd_rows(melon_model *m, const melon_sparse_grad *g, float lr) {
    for (int k = 0; k < m->n_tensors; k++) {
        melon_tensor *t = &m->tensor[k];
        int cols = t->cols;
        for (int32_t at = 0; at < g->n_rows[k]; at++) {
            float *v = t->value + (size_t)g->rows[k][at] * cols;
            const float *d = g->grad[k] + (size_t)at * cols;
            for (int b = 0; b < cols; b++) v[b] -= lr * d[b];
        }
    }
}

double mwnet_meta_gradient(mwnet_state *st, melon_context *ctx,
                           const melon_triple *query, int n_query) {
    melon_meta_trial *t = &st->trial;
    melon_model *m = ctx->model;
    const melon_grads *sup = &t->support_slots;
    int n_s = t->n_support;
    mwnet_vnet_forward(&st->net, sup->loss, n_s, st->act, st->weight);
    /* trial: Theta' = Theta - eta_v sum_x (V_x / n_S) g_x */
    for (int x = 0; x < n_s; x++) st->step_weight[x] = st->weight[x] / (float)n_s;
    melon_sparse_grad_accumulate(&st->grad, m, t->support, sup,
                                 st->step_weight);
    sgd_rows(m, &st->grad, st->trial_lr);
    melon_meta_trial_query(t, ctx, query, n_query);
    /* dL/dV_x = -eta_v / n_S <G, g_x> */
    triple_dots(m, t, t->support, sup, st->dense_buf, st->dot);
    float scale = -st->trial_lr / (float)n_s;
    for (int x = 0; x < n_s; x++) st->dweight[x] = scale * st->dot[x];
    melon_meta_params_zero_grad(&st->net.params);
    mwnet_vnet_backward(&st->net, sup->loss, n_s, st->act, st->weight,
                        st->dweight);
    return t->query_loss;
}

static int mwnet_meta_step(melon_strategy *s, melon_context *ctx,
                           const melon_triple *batch, int n, melon_err *err) {
    mwnet_state *st = s->impl;
    if (melon_meta_trial_support_for(&st->trial, &st->memory,
                                     st->cfg.meta_data, ctx, batch, n,
                                     err) != 0)
        return -1;
    st->meta_loss = mwnet_meta_gradient(st, ctx, batch, n);
    melon_meta_params_step(&st->net.params);
    return 0;
}

static int mwnet_update(melon_strategy *s, melon_context *ctx,
                        const melon_triple *batch, int n, melon_err *err) {
    mwnet_state *st = s->impl;
    melon_model *m = ctx->model;
    m->ops->forward_backward(m, batch, n, &st->slots);
    s->batch_loss = melon_mean_loss(&st->slots);
    mwnet_vnet_forward(&st->net, st->slots.loss, n, NULL, st->weight);
    for (int x = 0; x < n; x++) st->step_weight[x] = st->weight[x] / (float)n;
    melon_sparse_grad_accumulate(&st->grad, m, batch, &st->slots,
                                 st->step_weight);
    if (st->cfg.meta_data == MELON_META_NEXT_BATCH)
        melon_meta_trial_remember(&st->memory, m, batch, n);
    melon_optimizer_step(&st->opt, m, &st->grad, 1.0f);
    (void)err;
    return 0;
}

static int mwnet_save(const melon_strategy *s, FILE *f, melon_err *err) {
    const mwnet_state *st = s->impl;
    if (melon_meta_params_save(&st->net.params, f, err) != 0) return -1;
    return melon_optimizer_save(&st->opt, f, err);
}

static int mwnet_load(melon_strategy *s, FILE *f, melon_err *err) {
    mwnet_state *st = s->impl;
    if (melon_meta_params_load(&st->net.params, f, err) != 0) return -1;
    return melon_optimizer_load(&st->opt, f, err);
}

static void mwnet_free(melon_strategy *s) {
    mwnet_state *st = s->impl;
    if (!st) return;
    mwnet_vnet_free(&st->net);
    melon_optimizer_free(&st->opt);
    melon_meta_trial_free(&st->trial);
    melon_meta_memory_free(&st->memory);
    melon_grads_free(&st->slots);
    melon_sparse_grad_free(&st->grad);
    free(st->weight);
    free(st->step_weight);
    free(st->act);
    free(st->dweight);
    free(st->dot);
    free(st->dense_buf);
    free(st);
    s->impl = NULL;
}

static int mwnet_grow(melon_strategy *s, melon_model *model, melon_err *err) {
    mwnet_state *st = s->impl;
    if (melon_optimizer_grow(&st->opt, model, err) != 0 ||
        melon_meta_trial_grow(&st->trial, model, err) != 0 ||
        melon_meta_memory_grow(&st->memory, model, err) != 0 ||
        melon_sparse_grad_grow(&st->grad, model, err) != 0)
        return -1;
    return 0;
}

static const melon_strategy_ops mwnet_ops = {
    .name = "mwnet",
    .meta_step = mwnet_meta_step,
    .update = mwnet_update,
    .save = mwnet_save,
    .load = mwnet_load,
    .free_impl = mwnet_free,
    .grow = mwnet_grow,
};

/* Random stream of the weight net's init (independent of the run's other
 * generators). */
#define MWNET_INIT_STREAM 0x4d574e4554ULL

MELON_CONSTRUCTOR(melon_mwnet_create) {
    const melon_mwnet_config *cfg = own;
    melon_model *model = m;
    if (!melon_model_has_parameters(model)) {
        melon_fail(err, "strategy mwnet needs a model with parameters (bpr "
                        "or ncf), not '%s'", model->ops->name);
        return MELON_NOT_APPLICABLE;
    }
    mwnet_state *st = melon_calloc(1, sizeof *st, err);
    if (!st) return -1;
    s->ops = &mwnet_ops;
    s->impl = st;
    st->cfg = *cfg;
    st->trial_lr = cfg->trial_lr > 0.0f ? cfg->trial_lr : optim->lr;
    int max_batch = shape->max_batch;
    size_t max_support = 2 * (size_t)max_batch;
    int widest = 1;
    for (int k = 0; k < model->n_tensors; k++)
        if (model->tensor[k].kind == MELON_DENSE && model->tensor[k].rows > widest)
            widest = model->tensor[k].rows;
    melon_rng rng;
    melon_rng_seed_stream(&rng, shape->seed, MWNET_INIT_STREAM);
    if (mwnet_vnet_init(&st->net, cfg->hidden, cfg->meta_lr,
                        cfg->meta_l2, &rng, err) != 0 ||
        melon_optimizer_init(&st->opt, model, optim, err) != 0 ||
        melon_meta_trial_init(&st->trial, model, max_batch, err) != 0 ||
        (st->cfg.meta_data == MELON_META_NEXT_BATCH &&
         melon_meta_memory_init(&st->memory, model, max_batch, err) != 0) ||
        melon_grads_init(&st->slots, model, max_batch, err) != 0 ||
        melon_sparse_grad_init(&st->grad, model, (int)max_support, err) != 0 ||
        !(st->weight = melon_alloc(max_support * sizeof(float), err)) ||
        !(st->step_weight = melon_alloc(max_support * sizeof(float), err)) ||
        !(st->act = melon_alloc(max_support * (size_t)st->net.hidden *
                                sizeof(float), err)) ||
        !(st->dweight = melon_alloc(max_support * sizeof(float), err)) ||
        !(st->dot = melon_alloc(max_support * sizeof(float), err)) ||
        !(st->dense_buf = melon_alloc(2 * max_support * (size_t)widest *
                                      sizeof(float), err))) {
        mwnet_free(s);
        return -1;
    }
    return 0;
}
