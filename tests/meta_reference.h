/* Shared by the tests of the meta-learned baselines (test_mwnet.c,
 * test_metasgd.c, test_next_batch.c, test_eals.c): tiny BPR-MF and NCF
 * models with large values, a double-precision re-implementation of their
 * scores and BPR loss that reads only double copies of the parameters (so
 * a trial update can be redone in double, independent of the model code),
 * per-triple gradients as full tensors, an error measure for
 * finite-difference checks, and a small in-memory world (stream, pair
 * index, history) to build strategy contexts from. */
#ifndef MELON_TEST_META_REFERENCE_H
#define MELON_TEST_META_REFERENCE_H

#include "grad_check.h"
#include "test_support.h"

#include "eval/config.h"
#include "melon/history.h"
#include "melon/model.h"
#include "nn/meta_params.h"
#include "melon/negatives.h"
#include "melon/settings.h"
#include "eval/runner.h"
#include "update/strategy.h"
#include "melon/stream.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The meta-learned baselines' gradients pass the one checker
 * (grad_check.h) at this tolerance. */
#define META_TOL 1e-3

#define TINY_USERS 5
#define TINY_ITEMS 7
#define MAX_REF_WIDTH 256

static inline void tiny_model(melon_model *m, const char *name, float init_std,
                       uint64_t seed, int max_triples) {
    melon_model_config cfg;
    melon_model_config_default(&cfg);
    cfg.dim = 4;
    cfg.layers.n = 3;
    cfg.layers.w[0] = 6, cfg.layers.w[1] = 5, cfg.layers.w[2] = 4;
    cfg.init_std = init_std;
    cfg.seed = seed;
    melon_err err;
    if (melon_model_create(m, name, TINY_USERS, TINY_ITEMS, &cfg, max_triples,
                           &err) != 0)
        fail_msg("%s", err.msg);
}

/* A support and a query set over the tiny model's users and items, for
 * the meta-gradient checks. */
static const melon_triple meta_support[] __attribute__((unused)) = {
    {0, 1, 2}, {1, 3, 0}, {2, 3, 4}, {3, 5, 6}, {4, 1, 0},
    {0, 4, 6}, {2, 0, 5}, {1, 2, 6},
};
static const melon_triple meta_query[] __attribute__((unused)) = {
    {0, 3, 2}, {1, 1, 4}, {2, 5, 0}, {3, 3, 6}, {4, 0, 2}, {1, 4, 5},
};
#define N_S (int)(sizeof meta_support / sizeof meta_support[0])
#define N_Q (int)(sizeof meta_query / sizeof meta_query[0])

static inline size_t ref_tensor_size(const melon_tensor *t) {
    return (size_t)t->rows * (size_t)t->cols;
}

/* Double copies of every tensor. */
typedef struct {
    const melon_model *m;
    double *p[MELON_MAX_TENSORS];
} ref_params;

static inline void ref_params_init(ref_params *r, const melon_model *m) {
    memset(r, 0, sizeof *r);
    r->m = m;
    for (int k = 0; k < m->n_tensors; k++) {
        size_t size = ref_tensor_size(&m->tensor[k]);
        r->p[k] = malloc(size * sizeof(double));
        assert_non_null(r->p[k]);
        for (size_t a = 0; a < size; a++) r->p[k][a] = m->tensor[k].value[a];
    }
}

static inline void ref_params_copy(ref_params *dst, const ref_params *src) {
    for (int k = 0; k < src->m->n_tensors; k++)
        memcpy(dst->p[k], src->p[k],
               ref_tensor_size(&src->m->tensor[k]) * sizeof(double));
}

/* Writes the copies back into the model (rounded to float). */
static inline void ref_params_store(const ref_params *r, melon_model *m) {
    for (int k = 0; k < m->n_tensors; k++)
        for (size_t a = 0; a < ref_tensor_size(&m->tensor[k]); a++)
            m->tensor[k].value[a] = (float)r->p[k][a];
}

static inline void ref_params_free(ref_params *r) {
    for (int k = 0; k < MELON_MAX_TENSORS; k++) free(r->p[k]);
    memset(r, 0, sizeof *r);
}

/* Smallest |pre-activation| of NCF's tower seen by ref_score (kinks), and
 * how many of its units were active and inactive. */
static double ref_min_preact = INFINITY;
static int ref_relu_active, ref_relu_inactive;

/* s(u, i) in double (update-strategies.md 1.2 and 1.3). Tensor order:
 * BPR-MF user_emb, item_emb, user_bias, item_bias; NCF user_gmf, item_gmf,
 * user_mlp, item_mlp, mlp_w1..wL, out_w, user_bias, item_bias. */
static inline double ref_score(const ref_params *r, int32_t u, int32_t i) {
    const melon_model *m = r->m;
    int d = m->cfg.dim;
    double *const *p = r->p;
    if (strcmp(m->ops->name, "bpr") == 0) {
        double s = p[2][u] + p[3][i];
        for (int k = 0; k < d; k++)
            s += p[0][(size_t)u * d + k] * p[1][(size_t)i * d + k];
        return s;
    }
    int L = m->cfg.layers.n, out = 4 + L;
    double h[MAX_REF_WIDTH], next[MAX_REF_WIDTH];
    for (int k = 0; k < d; k++) {
        h[k] = p[2][(size_t)u * d + k];
        h[d + k] = p[3][(size_t)i * d + k];
    }
    int in = 2 * d;
    for (int l = 1; l <= L; l++) {
        int width = m->cfg.layers.w[l - 1];
        const double *W = p[4 + l - 1];
        for (int a = 0; a < width; a++) {
            double acc = 0.0;
            for (int b = 0; b < in; b++) acc += W[(size_t)a * in + b] * h[b];
            if (acc != 0.0) /* exact zeros (a dead layer below) stay 0 */
                ref_min_preact = fmin(ref_min_preact, fabs(acc));
            if (acc > 0) ref_relu_active++;
            else ref_relu_inactive++;
            next[a] = acc > 0 ? acc : 0.0;
        }
        memcpy(h, next, (size_t)width * sizeof(double));
        in = width;
    }
    double s = p[out + 1][u] + p[out + 2][i];
    for (int k = 0; k < d; k++)
        s += p[out][k] * p[0][(size_t)u * d + k] * p[1][(size_t)i * d + k];
    for (int a = 0; a < in; a++) s += p[out][d + a] * h[a];
    return s;
}

static inline double ref_softplus(double x) {
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

static inline double ref_mean_loss(const ref_params *r, const melon_triple *q,
                            int n) {
    double sum = 0.0;
    for (int x = 0; x < n; x++)
        sum += ref_softplus(-(ref_score(r, q[x].user, q[x].item) -
                              ref_score(r, q[x].user, q[x].negative)));
    return sum / n;
}

/* Triple r's gradient of tensor k from the slots, as a full tensor: the
 * column 0 or 1 alone, or their sum (column = -1). */
static inline void ref_slot_gradient(const melon_model *m, const melon_grads *g,
                                     const melon_triple *triples, int r, int k,
                                     int column, double *out) {
    const melon_tensor *t = &m->tensor[k];
    memset(out, 0, ref_tensor_size(t) * sizeof(double));
    for (int c = 0; c < 2; c++) {
        if (column >= 0 && c != column) continue;
        size_t p = (size_t)(2 * r + c);
        if (t->kind == MELON_DENSE) {
            const float *e = g->slot[k] + p * t->rows;
            const float *h = g->input[k] + p * t->cols;
            for (int a = 0; a < t->rows; a++)
                for (int b = 0; b < t->cols; b++)
                    out[(size_t)a * t->cols + b] += (double)e[a] * h[b];
        } else {
            int32_t row = melon_slot_row(t, &triples[r], c);
            const float *s = g->slot[k] + p * t->cols;
            for (int b = 0; b < t->cols; b++)
                out[(size_t)row * t->cols + b] += s[b];
        }
    }
}

/* All per-triple gradients of the last forward_backward in g: [r][k]. */
typedef struct {
    int n, n_tensors;
    double **grad;   /* [n * n_tensors] full tensors */
} ref_triple_grads;

static inline void ref_triple_grads_init(ref_triple_grads *tg, const melon_model *m,
                                  const melon_grads *g,
                                  const melon_triple *triples) {
    tg->n = g->n;
    tg->n_tensors = m->n_tensors;
    tg->grad = calloc((size_t)g->n * m->n_tensors, sizeof(double *));
    assert_non_null(tg->grad);
    for (int r = 0; r < g->n; r++)
        for (int k = 0; k < m->n_tensors; k++) {
            double *d = malloc(ref_tensor_size(&m->tensor[k]) * sizeof(double));
            assert_non_null(d);
            ref_slot_gradient(m, g, triples, r, k, -1, d);
            tg->grad[(size_t)r * m->n_tensors + k] = d;
        }
}

static inline void ref_triple_grads_free(ref_triple_grads *tg) {
    for (int a = 0; a < tg->n * tg->n_tensors; a++) free(tg->grad[a]);
    free(tg->grad);
}

/* Every block of p (the first n_blocks) against its central differences
 * numeric[b] at META_TOL, wrong gradients rejected (grad_check_block); a
 * block in may_vanish (a bit mask) has an exact zero gradient: it only has
 * to match. */
static inline void assert_meta_blocks_correct(const melon_meta_params *p,
                                              int n_blocks,
                                              double *const *numeric,
                                              unsigned may_vanish) {
    for (int b = 0; b < n_blocks; b++) {
        const melon_meta_block *blk = &p->block[b];
        if (may_vanish >> b & 1u) {
            double err = grad_error(blk->grad, numeric[b], blk->size);
            if (!(err < META_TOL))
                fail_msg("block %s: gradient check failed (%.3e)", blk->name,
                         err);
            continue;
        }
        grad_check_block(blk->name, blk->grad, numeric[b], blk->size,
                         META_TOL, 1e-4);
    }
}

static inline double max_abs_d(const double *x, size_t n) {
    double best = 0.0;
    for (size_t a = 0; a < n; a++) best = fmax(best, fabs(x[a]));
    return best;
}

/* One update taken apart by interaction (update-strategies.md C): from the
 * same Theta, the strategy updates on each interaction x of the batch
 * alone. move[x][k] is the full tensor theta' - theta, grad[x][k] the
 * gradient of x's loss at Theta, loss[x] that loss, gmax[x] the largest
 * |grad[x]|. The effective rate of (x, m) is W_xm = -move / (n g_xm). Also
 * checks that the update on the whole batch moves Theta by the mean of the
 * single moves (the batch step is the sum over x of W_x. g_x, Eq. 4). The
 * model is left at Theta. */
typedef struct {
    int n, n_tensors;
    double **move;          /* [n * n_tensors] */
    ref_triple_grads grad;  /* grad.grad[x * n_tensors + k] */
    float loss[64];
    double gmax[64];
} single_moves;

static inline double *single_move(const single_moves *sm, int x, int k) {
    return sm->move[(size_t)x * sm->n_tensors + k];
}

static inline double *single_grad(const single_moves *sm, int x, int k) {
    return sm->grad.grad[(size_t)x * sm->n_tensors + k];
}

static inline void single_moves_take(single_moves *sm, melon_strategy *s,
                                     melon_model *m, const melon_triple *batch,
                                     int n) {
    assert_true(n <= 64);
    melon_context ctx = {.model = m, .phase = MELON_PHASE_ONLINE};
    melon_err err = {{0}};
    ref_params theta, batch_step, mean_step;
    ref_params_init(&theta, m);
    ref_params_init(&mean_step, m);
    assert_int_equal(s->ops->update(s, &ctx, batch, n, &err), 0);
    ref_params_init(&batch_step, m);
    /* every x's loss and gradient at Theta (the slots are per triple) */
    ref_params_store(&theta, m);
    melon_grads g;
    assert_int_equal(melon_grads_init(&g, m, n, &err), 0);
    m->ops->forward_backward(m, batch, n, &g);
    ref_triple_grads_init(&sm->grad, m, &g, batch);
    sm->n = n;
    sm->n_tensors = m->n_tensors;
    sm->move = calloc((size_t)n * m->n_tensors, sizeof(double *));
    assert_non_null(sm->move);
    for (int x = 0; x < n; x++) {
        sm->loss[x] = g.loss[x];
        sm->gmax[x] = 0.0;
        ref_params_store(&theta, m);
        assert_int_equal(s->ops->update(s, &ctx, &batch[x], 1, &err), 0);
        for (int k = 0; k < m->n_tensors; k++) {
            size_t size = ref_tensor_size(&m->tensor[k]);
            sm->gmax[x] = fmax(sm->gmax[x], max_abs_d(single_grad(sm, x, k), size));
            double *move = malloc(size * sizeof(double));
            assert_non_null(move);
            for (size_t a = 0; a < size; a++) {
                move[a] = (double)m->tensor[k].value[a] - theta.p[k][a];
                mean_step.p[k][a] += move[a] / n;
            }
            sm->move[(size_t)x * m->n_tensors + k] = move;
        }
    }
    for (int k = 0; k < m->n_tensors; k++)
        for (size_t a = 0; a < ref_tensor_size(&m->tensor[k]); a++) {
            double want = mean_step.p[k][a];
            assert_true(fabs(batch_step.p[k][a] - want) <= 1e-5 * (1 + fabs(want)));
        }
    ref_params_store(&theta, m);
    melon_grads_free(&g);
    ref_params_free(&theta);
    ref_params_free(&mean_step);
    ref_params_free(&batch_step);
}

static inline void single_moves_free(single_moves *sm) {
    for (int a = 0; a < sm->n * sm->n_tensors; a++) free(sm->move[a]);
    free(sm->move);
    ref_triple_grads_free(&sm->grad);
}

/* A small stream and what a strategy's context points to. */
typedef struct {
    melon_stream stream;
    melon_pair_index pairs;
    melon_history history;
    melon_rng rng;
    melon_config cfg;
} test_world;

/* n_events interactions of TINY_USERS users over TINY_ITEMS items, with
 * repeats, in time order. */
static inline const char *write_tiny_stream(const char *name, int n_events,
                                     uint64_t seed) {
    const char *path = test_tmp_path(name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    melon_rng rng;
    melon_rng_seed(&rng, seed);
    /* every user and item appears first, in order, so ids are stable */
    int t = 0;
    for (int k = 0; k < TINY_ITEMS; k++)
        fprintf(f, "u%d\ti%d\t%d\n", k % TINY_USERS, k, t++);
    for (; t < n_events; t++)
        fprintf(f, "u%u\ti%u\t%d\n", melon_rng_below(&rng, TINY_USERS),
                melon_rng_below(&rng, TINY_ITEMS - 2), t);
    fclose(f);
    return path;
}

/* A stream for whole runs: 1,000 interactions of 60 users over 300 items
 * (enough items for 99 evaluation negatives), users preferring items near
 * their own id. */
static inline const char *write_run_stream(const char *name) {
    const char *path = test_tmp_path(name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    melon_rng rng;
    melon_rng_seed(&rng, 41);
    for (int t = 0; t < 1000; t++) {
        int user = (int)melon_rng_below(&rng, 60);
        int item = (user * 5 + (int)melon_rng_below(&rng, 40)) % 300;
        fprintf(f, "u%d\ti%d\t%d\n", user, item, t);
    }
    fclose(f);
    return path;
}

/* Runs cfg; fails the test unless the run succeeds, ranks something and
 * every online loss is finite. Returns NDCG@10. */
static inline double run_checked(const melon_config *cfg) {
    melon_run_result res;
    melon_err err = {{0}};
    if (melon_run(cfg, &res, &err) != 0) fail_msg("%s", err.msg);
    double ndcg = melon_metric_ndcg(&res.total, 1);
    assert_true(isfinite(ndcg) && ndcg > 0.0);
    for (size_t t = 0; t < res.n_test_batches; t++)
        assert_true(isfinite(res.train_loss[t]));
    melon_run_result_free(&res);
    return ndcg;
}

/* Runs `strategy` on `model` over path (batch 64, d 8, 2 epochs); returns
 * NDCG@10 and checks every online loss is finite. */
static inline double run_strategy(const char *path, const char *model,
                           const char *strategy, melon_config *cfg) {
    cfg->data.files = path;
    cfg->data.name = "test";
    cfg->run.batch_size = 64;
    cfg->run.epochs = 2;
    cfg->run.threads = 2;
    cfg->run.progress = 0;
    cfg->model.name = model;
    cfg->model.dim = 8;
    cfg->run.strategy = strategy;
    return run_checked(cfg);
}

/* `strategy` on both models with both meta-data protocols (its
 * `meta_data_setting`, e.g. "mwnet-meta-data") through the runner; the
 * same seed reproduces a run. */
static inline void assert_runs_reproduce(const char *strategy,
                                         const char *meta_data_setting) {
    char name[64];
    snprintf(name, sizeof name, "%s.tsv", strategy);
    const char *path = write_run_stream(name);
    const char *models[] = {"bpr", "ncf"};
    const char *protocols[] = {"last-batch", "next-batch"};
    for (int k = 0; k < 2; k++)
        for (int data = 0; data < 2; data++) {
            double ndcg[2];
            for (int rep = 0; rep < 2; rep++) {
                melon_config cfg;
                melon_config_default(&cfg);
                melon_err err = {{0}};
                if (melon_config_set(&cfg, meta_data_setting, protocols[data],
                                     &err) != 0)
                    fail_msg("%s", err.msg);
                ndcg[rep] = run_strategy(path, models[k], strategy, &cfg);
            }
            print_message("  %s %s: NDCG@10 %.4f\n", models[k],
                          protocols[data], ndcg[0]);
            assert_true(ndcg[0] == ndcg[1]);
        }
}

/* Loads path; the history holds positions [0, history_until). */
static inline void world_open(test_world *w, const char *path, size_t history_until) {
    memset(w, 0, sizeof *w);
    melon_config_default(&w->cfg);
    melon_err err = {{0}};
    const char *paths[1] = {path};
    melon_load_options opt;
    melon_load_options_default(&opt);
    if (melon_stream_load(&w->stream, paths, 1, &opt, &err) != 0 ||
        melon_pair_index_build(&w->pairs, &w->stream, &err) != 0 ||
        melon_history_init(&w->history, w->stream.n_users, w->stream.n_items,
                           &err) != 0 ||
        melon_history_append(&w->history, &w->stream, 0, history_until,
                             &err) != 0)
        fail_msg("%s", err.msg);
    melon_rng_seed(&w->rng, 7);
}

static inline void world_close(test_world *w) {
    melon_history_free(&w->history);
    melon_pair_index_free(&w->pairs);
    melon_stream_free(&w->stream);
}

static inline melon_context world_context(test_world *w, melon_model *m,
                                   melon_phase phase, size_t begin,
                                   size_t end) {
    melon_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.model = m;
    ctx.stream = &w->stream;
    ctx.history = &w->history;
    ctx.pairs = &w->pairs;
    ctx.rng = &w->rng;
    ctx.phase = phase;
    ctx.begin = begin;
    ctx.end = end;
    return ctx;
}

/* The stream's positions [begin, end) as triples with causal negatives. */
static inline int world_triples(test_world *w, size_t begin, size_t end,
                         melon_triple *out) {
    for (size_t p = begin; p < end; p++) {
        int32_t neg = melon_sample_train_negative(&w->pairs, &w->rng,
                                                  w->stream.user[p], end);
        assert_true(neg >= 0);
        out[p - begin] = (melon_triple){w->stream.user[p], w->stream.item[p],
                                        neg};
    }
    return (int)(end - begin);
}

#endif
