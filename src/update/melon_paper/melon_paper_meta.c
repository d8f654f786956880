/* The meta step of MeLON's paper form (update-strategies.md A.2 and section
 * 2, adapted to Eq. 8-13):
 *
 *   1. S_t, the 2n-triple "last batch", at Theta_t (melon_meta_trial);
 *   2. trial values Theta'(psi) = Theta_t - agg w(psi) g on S_t (Eq. 13);
 *   3. G = grad of the mean BPR loss of B_t at Theta', then restore;
 *   4. the exact one-step hypergradient: per-triple gradients and losses
 *      are constants (section 2, "Order of meta-gradient"), so
 *        dL/dw_{x,m} = -(G_m / c_m) g_{x,m}      (c_m = 1 for the sum)
 *      flows back through the sigmoid of Eq. 12 into the role MLP (Eq. 11),
 *      w_lr, b_lr and, through eta_x = w_lr,x . h_x + b_lr, into Eq. 10, 8
 *      and 9;
 *   5. one Adam step on psi (meta_lr; meta_l2 on weights, not biases).
 *
 * The trial is discarded; with --melon-leaky-trial the table rows S_t
 * touched and B_t does not keep their trial values (A.3 item 8). */
#include "melon_paper.h"

#include <omp.h>
#include <string.h>

/* needed[flat] = 1 where the query B_t touches the coordinate (its table
 * rows and every dense weight), else 0: the meta-loss and G depend on
 * Theta' only there, so the trial needs no other coordinate. */
static void query_coordinates(paper_state *st, const paper_call *c,
                              const melon_triple *batch, int n) {
    const melon_model *m = c->m;
    uint32_t stamp = ++st->stamp;
    if (stamp == 0) { /* wrapped: forget every old mark */
        memset(st->user_mark, 0, (size_t)m->n_users * sizeof *st->user_mark);
        memset(st->item_mark, 0, (size_t)m->n_items * sizeof *st->item_mark);
        stamp = st->stamp = 1;
    }
    for (int r = 0; r < n; r++) {
        st->user_mark[batch[r].user] = stamp;
        st->item_mark[batch[r].item] = stamp;
        st->item_mark[batch[r].negative] = stamp;
    }
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        size_t cols = (size_t)t->cols, base = c->offset[k];
        if (t->kind == MELON_DENSE) {
            size_t size = (size_t)t->rows * cols;
            for (size_t a = 0; a < size; a++) st->needed[base + a] = 1.0f;
            continue;
        }
        const uint32_t *mark = t->kind == MELON_USER_TABLE ? st->user_mark : st->item_mark;
        for (int32_t at = 0; at < c->touched->n_rows[k]; at++) {
            float v = mark[c->touched->rows[k][at]] == stamp ? 1.0f : 0.0f;
            for (size_t b = 0; b < cols; b++) st->needed[base + (size_t)at * cols + b] = v;
        }
    }
}

/* gc[flat] = G_m * agg_scale_m over S_t's coordinates (zero on rows B_t
 * did not touch). */
static void query_upstream(const paper_call *c, const melon_meta_trial *t,
                           float *gc) {
    const melon_model *m = c->m;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *tensor = &m->tensor[k];
        size_t cols = (size_t)tensor->cols, base = c->offset[k];
        if (tensor->kind == MELON_DENSE) {
            size_t size = (size_t)tensor->rows * cols;
            const float *g = t->query_grad.grad[k];
            for (size_t a = 0; a < size; a++)
                gc[base + a] = g[a] * c->agg_scale[base + a];
            continue;
        }
        for (int32_t at = 0; at < c->touched->n_rows[k]; at++) {
            size_t flat = base + (size_t)at * cols;
            const float *g = melon_meta_trial_g_row(t, k, c->touched->rows[k][at]);
            for (size_t b = 0; b < cols; b++)
                gc[flat + b] = g ? g[b] * c->agg_scale[flat + b] : 0.0f;
        }
    }
}

typedef struct {
    const role_net *net;
    role_scratch *ws;
    role_grad *grad;
    double *d_eta;
    paper_thread *cache;    /* the trial pass's rates and top signs */
} backward_ctx;

static void backward_flush(pair_block *b, void *arg) {
    backward_ctx *bc = arg;
    paper_thread *th = bc->cache;
    if (th) {
        paper_role_backward(bc->net, b, bc->ws, bc->grad, bc->d_eta,
                            th->cache_rate + th->cursor,
                            th->cache_mask + th->cursor);
        th->cursor += (size_t)b->n;
    } else {
        paper_role_backward(bc->net, b, bc->ws, bc->grad, bc->d_eta, NULL,
                            NULL);
    }
}

/* Step 4 over the pairs: role MLP, w_lr's role part and b_lr into p's
 * gradients, d eta_r into st->d_eta. Threads split the pairs as the
 * forward pass does and their partials are added in thread order. With
 * the trial pass's cache (`cached`), the same pairs are enumerated in the
 * same order (filter `needed`; pairs with G = 0 add nothing); without it,
 * only the pairs with G != 0. Step I's backward from d eta follows in the
 * same parallel region. */
static void pairs_backward(paper_state *st, const paper_call *c, int cached) {
    int by_coordinate = c->batch_inputs;
    double *d_eta = st->d_eta;
    memset(d_eta, 0, (size_t)c->n * sizeof *d_eta);
    int used = 1;
#pragma omp parallel num_threads(st->n_threads)
    {
        int threads = omp_get_num_threads(), t = omp_get_thread_num();
        paper_thread *th = &st->thread[t];
        paper_role_grad_zero(&th->grad);
        th->cursor = 0;
        backward_ctx bc = {&st->net, &th->role, &th->grad,
                           by_coordinate ? NULL : d_eta, cached ? th : NULL};
        const float *keep = cached ? st->needed : st->gc;
        if (by_coordinate) {
            size_t begin = c->size * (size_t)t / (size_t)threads;
            size_t end = c->size * (size_t)(t + 1) / (size_t)threads;
            paper_pairs_of_coordinates(c, begin, end, keep, st->gc, &th->block,
                                       backward_flush, &bc);
        } else {
            int begin = (int)((long)c->n * t / threads);
            int end = (int)((long)c->n * (t + 1) / threads);
            paper_pairs_of_triples(c, begin, end, 0, keep, st->gc, &th->block,
                                   backward_flush, &bc);
        }
        paper_role_grad_fold(&th->grad);
        if (t == 0) used = threads;
        if (st->params.has_interaction) {
#pragma omp barrier
            paper_interaction_backward_team(&st->inter, &st->params, c->m,
                                            st->cfg.leaky_slope, d_eta, c->n);
        }
    }
    for (int k = 1; k < used; k++)
        paper_role_grad_add(&st->thread[0].grad, &st->thread[k].grad);
    paper_role_grad_store(&st->thread[0].grad, &st->params);
}

int paper_meta_step(melon_strategy *s, melon_context *ctx,
                    const melon_triple *batch, int n, melon_err *err) {
    paper_state *st = s->impl;
    paper_params *p = &st->params;
    melon_meta_trial *t = &st->trial;
    melon_model *m = ctx->model;
    if (melon_meta_trial_support(t, ctx, batch, n, err) != 0) return -1;
    paper_call c;
    paper_prepare_call(st, &c, ctx, t->support, t->n_support, &t->support_slots,
                       &t->support_grad);
    /* the leaky trial keeps S_t-only rows, so it needs all of Theta' */
    int leaky = st->cfg.leaky_trial;
    int cached = !leaky && st->thread[0].cache_rate != NULL;
    if (!leaky) query_coordinates(st, &c, batch, n);
    paper_forward_pass(st, &c, leaky ? NULL : st->needed, cached, NULL, NULL);
    paper_apply_delta(&c, m, st->delta, NULL);
    melon_meta_trial_query(t, ctx, batch, n);
    query_upstream(&c, t, st->gc);
    melon_meta_params_zero_grad(&p->mp);
    pairs_backward(st, &c, cached);
    melon_meta_params_step(&p->mp);
    if (leaky) paper_apply_delta(&c, m, st->delta, &t->query_grad);
    return 0;
}
