/* The fused update of MeLON's paper form (Eq. 12-13 with Eq. 5's
 * aggregation, update-strategies.md A.1):
 *
 *   theta_m <- theta_m - agg_{x touching m} w_{x,m} g_{x,m}
 *
 * agg = mean over the interactions that touch theta_m (default) or sum.
 * Each rate w_{x,m} is computed in a block of pairs and consumed at once
 * (W is never stored): every thread takes a contiguous share of the
 * triples (or, for melon-p, of the coordinates), sums w g into its own
 * buffer over the flat coordinates, and the buffers are added in thread
 * order, so the result depends only on the thread count. */
#include "melon_paper.h"

#include "nn/nn.h"

#include <omp.h>
#include <stdio.h>
#include <string.h>

void paper_prepare_call(paper_state *st, paper_call *c, melon_context *ctx,
                        const melon_triple *triples, int n,
                        const melon_grads *slots,
                        const melon_sparse_grad *touched) {
    const paper_params *p = &st->params;
    const melon_melon_config *mc = &st->cfg;
    memset(c, 0, sizeof *c);
    c->m = ctx->model;
    c->triples = triples;
    c->n = n;
    c->slots = slots;
    c->touched = touched;
    /* Eq. 11's loss input: rho(L(x)); melon-p: rho of the batch mean
     * (unless --melon-p-inputs interaction) */
    c->batch_inputs = !p->has_interaction && mc->p_inputs == MELON_P_INPUTS_BATCH;
    if (c->batch_inputs) {
        float r1, r2;
        melon_preprocess((float)melon_mean_loss(slots), MELON_PREPROCESS_EPS,
                         &r1, &r2);
        for (int r = 0; r < n; r++) st->lrho1[r] = r1, st->lrho2[r] = r2;
    } else {
        for (int r = 0; r < n; r++)
            melon_preprocess(slots->loss[r], MELON_PREPROCESS_EPS,
                             &st->lrho1[r], &st->lrho2[r]);
    }
    c->lrho1 = st->lrho1;
    c->lrho2 = st->lrho2;
    c->eta_const = p->b_lr->value[0];
    if (p->has_interaction) {
        paper_interaction_sample(&st->inter, ctx->history, ctx->begin,
                                 mc->neighbors, ctx->rng, triples, n);
        c->inter = &st->inter;
        c->inter_params = p;
        c->slope = mc->leaky_slope;
        c->eta = st->inter.eta;
    }
    c->agg_scale = st->agg_scale;
    c->mean_grad = st->mean_grad;
    paper_call_layout(c, mc->aggregation, mc->rate_scale);
}

typedef struct {
    const paper_call *c;
    const role_net *net;
    role_scratch *ws;
    float *delta;
    paper_thread *cache;    /* stores rates and top signs, or NULL */
    paper_rate_sink sink;
    void *sink_user;
} forward_ctx;

static void forward_flush(pair_block *b, void *arg) {
    forward_ctx *fc = arg;
    paper_thread *th = fc->cache;
    if (th) {
        paper_role_rates(fc->net, b, fc->ws, th->cache_rate + th->cursor,
                         th->cache_mask + th->cursor);
        th->cursor += (size_t)b->n;
    } else {
        paper_role_rates(fc->net, b, fc->ws, NULL, NULL);
    }
    float *delta = fc->delta;
    for (int p = 0; p < b->n; p++) delta[b->dst[p]] += b->rate[p] * b->mult[p];
    if (!fc->sink) return;
#pragma omp critical(melon_paper_rate_sink)
    for (int p = 0; p < b->n; p++) {
        int tensor, col;
        int32_t row;
        paper_call_locate(fc->c, (size_t)b->dst[p], &tensor, &row, &col);
        fc->sink(fc->sink_user, b->triple[p], fc->c->m->tensor[tensor].name,
                 row, col, b->rate[p]);
    }
}

/* This thread's share [*begin, *end) of n units. */
static void share(size_t n, int threads, int t, size_t *begin, size_t *end) {
    *begin = n * (size_t)t / (size_t)threads;
    *end = n * (size_t)(t + 1) / (size_t)threads;
}

void paper_forward_pass(paper_state *st, const paper_call *c,
                        const float *needed, int cache, paper_rate_sink sink,
                        void *sink_user) {
    /* melon-p's rates are constant over the interactions: one pair per
     * coordinate, unless a sink wants every (interaction, parameter). */
    int by_coordinate = c->batch_inputs && !sink;
    size_t size = c->size;
    float *total = st->delta;
#pragma omp parallel num_threads(st->n_threads)
    {
        int threads = omp_get_num_threads(), t = omp_get_thread_num();
        paper_thread *th = &st->thread[t];
        if (c->inter) {
            paper_interaction_forward_team(c->inter, c->inter_params, c->m,
                                           c->slope, c->n);
#pragma omp barrier
        }
        memset(th->delta, 0, size * sizeof(float));
        th->cursor = 0;
        forward_ctx fc = {c,      &st->net, &th->role, th->delta, cache ? th : NULL,
                          sink,   sink_user};
        size_t begin, end;
        if (by_coordinate) {
            share(size, threads, t, &begin, &end);
            paper_pairs_of_coordinates(c, begin, end, needed, NULL, &th->block,
                                       forward_flush, &fc);
        } else {
            share((size_t)c->n, threads, t, &begin, &end);
            paper_pairs_of_triples(c, (int)begin, (int)end, sink != NULL,
                                   needed, NULL, &th->block, forward_flush, &fc);
        }
#pragma omp barrier
#pragma omp for schedule(static) nowait
        for (size_t m = 0; m < size; m++) {
            float sum = 0.0f;
            for (int k = 0; k < threads; k++) sum += st->thread[k].delta[m];
            total[m] = sum;
        }
    }
}

void paper_apply_delta(const paper_call *c, melon_model *m, const float *delta,
                       const melon_sparse_grad *skip) {
    const melon_sparse_grad *sg = c->touched;
    for (int k = 0; k < m->n_tensors; k++) {
        melon_tensor *t = &m->tensor[k];
        size_t cols = (size_t)t->cols, base = c->offset[k];
        if (t->kind == MELON_DENSE) {
            if (skip) continue;
            size_t size = (size_t)t->rows * cols;
            for (size_t a = 0; a < size; a++)
                t->value[a] -= c->agg_scale[base + a] * delta[base + a];
            continue;
        }
        for (int32_t at = 0; at < sg->n_rows[k]; at++) {
            int32_t row = sg->rows[k][at];
            if (skip && skip->row_index[k][row] >= 0) continue;
            float *theta = t->value + (size_t)row * cols;
            size_t flat = base + (size_t)at * cols;
            for (size_t b = 0; b < cols; b++)
                theta[b] -= c->agg_scale[flat + b] * delta[flat + b];
        }
    }
}

/* --dump-lr-matrix: W of online batch K, rows = the batch's triples. */
static void dump_sink(void *user, int triple, const char *tensor, int32_t row,
                      int col, float rate) {
    melon_lr_dump_set(user, triple, tensor, row, col, rate);
}

static int dump_wanted(paper_state *st, const melon_context *ctx) {
    const melon_melon_config *mc = &st->cfg;
    if (ctx->phase != MELON_PHASE_ONLINE) return 0;
    if (st->first_online_batch < 0) st->first_online_batch = (long)ctx->batch;
    return mc->dump_lr_matrix &&
           (long)ctx->batch - st->first_online_batch == (long)mc->dump_batch;
}

static int open_dump(melon_lr_dump **dump, const melon_context *ctx,
                     const char *path, const melon_triple *batch, int n,
                     melon_err *err) {
    if (melon_lr_dump_open(dump, path, n, err) != 0) return -1;
    const melon_stream *s = ctx->stream;
    for (int r = 0; r < n; r++) {
        char name[512];
        snprintf(name, sizeof name, "u=%s i=%s j=%s", s->user_name[batch[r].user],
                 s->item_name[batch[r].item], s->item_name[batch[r].negative]);
        melon_lr_dump_name_row(*dump, r, name);
    }
    return 0;
}

int paper_update(melon_strategy *s, melon_context *ctx,
                 const melon_triple *batch, int n, melon_err *err) {
    paper_state *st = s->impl;
    melon_model *m = ctx->model;
    m->ops->forward_backward(m, batch, n, &st->slots);
    s->batch_loss = melon_mean_loss(&st->slots);
    melon_sparse_grad_accumulate(&st->touched, m, batch, &st->slots, NULL);
    paper_call c;
    paper_prepare_call(st, &c, ctx, batch, n, &st->slots, &st->touched);
    melon_lr_dump *dump = NULL;
    paper_rate_sink sink = st->sink;
    void *sink_user = st->sink_user;
    if (dump_wanted(st, ctx)) {
        if (open_dump(&dump, ctx, st->cfg.dump_lr_matrix, batch, n,
                      err) != 0)
            return -1;
        sink = dump_sink;
        sink_user = dump;
    }
    paper_forward_pass(st, &c, NULL, 0, sink, sink_user);
    paper_apply_delta(&c, m, st->delta, NULL);
    if (dump && melon_lr_dump_close(dump, err) != 0) return -1;
    return 0;
}
