/* Shared by the official MeLON tests: a tiny online problem (a written
 * stream, its history, a tiny BPR-MF or NCF with large values, the official
 * strategy with large meta-parameters) and an independent double-precision
 * re-implementation of the meta-loss of update-strategies.md A.4-A.5,
 * written straight from the spec's formulas (no shortcut of the fused loops:
 * z = A p + a per coordinate, every neighbour's attention, BatchNorm over
 * the pairs, mean aggregation, the query loss at Theta'). */
#ifndef MELON_TEST_OFFICIAL_FIXTURE_H
#define MELON_TEST_OFFICIAL_FIXTURE_H

#include "test_support.h"

#include "update/melon_official/melon_official.h"
#include "update/update_internal.h"

#include "eval/config.h"
#include "melon/negatives.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The official form from a whole configuration: its MeLON settings and the
 * run's shape. */
static inline int official_create(melon_strategy *s, melon_model *m,
                                  const melon_config *cfg,
                                  melon_ablation ablation, melon_err *err) {
    melon_run_shape shape = melon_config_shape(cfg);
    return melon_official_create(s, m, &cfg->strategy.melon, &shape, ablation,
                                 err);
}

enum {
    FX_USERS = 6,
    FX_ITEMS = 9,
    FX_EVENTS = 40,
    FX_BATCH = 4,
    FX_BEGIN = 32,   /* the current batch is positions [32, 36) */
    FX_DIM = 4,
    FX_WIDTH = 3,    /* interaction and role widths */
    FX_MAX_BATCH = 64
};

/* A problem's size; fx_init uses the FX_* one above. */
typedef struct {
    int users, items, events, batch, begin;
    int dim; /* embedding size; NCF layers [dim, dim - 1] */
} fx_sizes;

static const fx_sizes fx_small = {FX_USERS, FX_ITEMS, FX_EVENTS, FX_BATCH,
                                  FX_BEGIN, FX_DIM};

typedef struct {
    melon_stream stream;
    melon_pair_index pairs;
    melon_history history;
    melon_model model;
    melon_config cfg;
    melon_strategy strategy;
    melon_rng rng;
    melon_context ctx;
    melon_triple batch[FX_MAX_BATCH];
    int n;
} fixture;

static char *fx_name(char prefix, int id) {
    char *s = malloc(16);
    assert_non_null(s);
    snprintf(s, 16, "%c%d", prefix, id);
    return s;
}

/* Every user and item appears early; then random events, so most nodes
 * have several neighbours before the batch. */
static void fx_stream(melon_stream *s, const fx_sizes *z, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->n = (size_t)z->events;
    s->n_users = z->users;
    s->n_items = z->items;
    s->user = malloc(s->n * sizeof(int32_t));
    s->item = malloc(s->n * sizeof(int32_t));
    s->time = malloc(s->n * sizeof(double));
    s->user_name = malloc((size_t)z->users * sizeof(char *));
    s->item_name = malloc((size_t)z->items * sizeof(char *));
    assert_true(s->user && s->item && s->time && s->user_name && s->item_name);
    melon_rng rng;
    melon_rng_seed(&rng, seed);
    for (int p = 0; p < z->events; p++) {
        s->user[p] = p < z->items ? p % z->users
                                  : (int32_t)melon_rng_below(&rng, z->users);
        s->item[p] = p < z->items ? p
                                  : (int32_t)melon_rng_below(&rng, z->items);
        s->time[p] = p;
    }
    for (int u = 0; u < z->users; u++) s->user_name[u] = fx_name('u', u);
    for (int i = 0; i < z->items; i++) s->item_name[i] = fx_name('i', i);
    s->n_read = s->n;
}

/* Meta-parameters large enough that the meta-loss moves visibly with
 * each of them: weights ~ N(0, 0.6^2), BatchNorm scales 1 +- 0.3, gate
 * biases ~ N(0, 0.5^2) (gates away from saturation), the GAT's branch
 * biases ~ N(0.3, 0.3^2) (so its ReLU branches stay alive). */
static void fx_scale_meta_params(official_params *p, uint64_t seed) {
    melon_rng rng;
    melon_rng_seed(&rng, seed);
    for (int b = 0; b < OB_COUNT; b++) {
        if (!p->value[b]) continue;
        melon_meta_block *blk = NULL;
        for (int k = 0; k < p->mp.n_blocks; k++)
            if (p->mp.block[k].value == p->value[b]) blk = &p->mp.block[k];
        assert_non_null(blk);
        for (size_t a = 0; a < blk->size; a++) {
            double z = melon_rng_normal(&rng);
            double v = 0.6 * z;
            if (b == OB_BN1_G || b == OB_BN2_G) v = 1.0 + 0.3 * z;
            if (b == OB_BN1_B || b == OB_BN2_B) v = 0.3 * z;
            if (b == OB_GATE_F_B || b == OB_GATE_I_B) v = 0.5 * z;
            if (b % OB_GAT_BLOCKS == OB_SELF_B || b % OB_GAT_BLOCKS == OB_NB_B)
                if (b < OB_L1_W) v = 0.3 + 0.3 * z;
            p->value[b][a] = (float)v;
        }
    }
}

static void fx_init_sized(fixture *f, const fx_sizes *z, const char *model,
                          melon_ablation ablation, int leaky, uint64_t seed) {
    memset(f, 0, sizeof *f);
    assert_true(z->batch <= FX_MAX_BATCH && z->begin + z->batch <= z->events);
    melon_err err = {{0}};
    fx_stream(&f->stream, z, seed);
    assert_int_equal(melon_pair_index_build(&f->pairs, &f->stream, &err), 0);
    assert_int_equal(melon_history_init(&f->history, z->users, z->items,
                                        &err), 0);
    assert_int_equal(melon_history_append(&f->history, &f->stream, 0,
                                          f->stream.n, &err), 0);
    melon_config_default(&f->cfg);
    f->cfg.model.name = model;
    f->cfg.run.batch_size = z->batch;
    f->cfg.run.seed = seed;
    f->cfg.model.dim = z->dim;
    f->cfg.model.layers.n = 2;
    f->cfg.model.layers.w[0] = z->dim;
    f->cfg.model.layers.w[1] = z->dim - 1;
    f->cfg.model.init_std = 0.5f;
    f->cfg.model.seed = seed;
    f->cfg.strategy.melon.variant = MELON_VARIANT_OFFICIAL;
    f->cfg.strategy.melon.max_edge = 64; /* every neighbour: sampling draws nothing */
    f->cfg.strategy.melon.interaction_width = FX_WIDTH;
    f->cfg.strategy.melon.role_width = FX_WIDTH;
    f->cfg.strategy.melon.leaky_trial = leaky;
    assert_int_equal(melon_model_create(&f->model, model, z->users, z->items,
                                        &f->cfg.model, 2 * z->batch, &err),
                     0);
    if (official_create(&f->strategy, &f->model, &f->cfg, ablation,
                              &err) != 0)
        fail_msg("create: %s", err.msg);
    melon_rng_seed(&f->rng, seed + 17);
    melon_context *ctx = &f->ctx;
    ctx->model = &f->model;
    ctx->stream = &f->stream;
    ctx->history = &f->history;
    ctx->pairs = &f->pairs;
    ctx->rng = &f->rng;
    ctx->phase = MELON_PHASE_ONLINE;
    ctx->batch = (size_t)(z->begin / z->batch);
    ctx->begin = (size_t)z->begin;
    ctx->end = (size_t)(z->begin + z->batch);
    f->n = z->batch;
    for (int r = 0; r < f->n; r++) {
        size_t p = ctx->begin + (size_t)r;
        int32_t neg = melon_sample_train_negative(&f->pairs, &f->rng,
                                                  f->stream.user[p], ctx->end);
        assert_true(neg >= 0);
        f->batch[r] = (melon_triple){f->stream.user[p], f->stream.item[p], neg};
    }
}

static void fx_init(fixture *f, const char *model, melon_ablation ablation,
                    int leaky, uint64_t seed) {
    fx_init_sized(f, &fx_small, model, ablation, leaky, seed);
}

static void fx_free(fixture *f) {
    melon_strategy_free(&f->strategy);
    melon_model_free(&f->model);
    melon_history_free(&f->history);
    melon_pair_index_free(&f->pairs);
    melon_stream_free(&f->stream);
}

/* ---- the double-precision reference ---------------------------------- */

typedef struct {
    const melon_model *m;
    official_dims dims;
    int is_ncf;
    double *theta[MELON_MAX_TENSORS];  /* Theta_t */
    const melon_triple *support;
    int n_support;
    const melon_grads *slots;          /* of the support set at Theta_t */
    double mean_loss;
    const melon_triple *query;
    int n_query;
    const melon_history *history;
    size_t before;
    double *phi[OB_COUNT];             /* meta-parameters */
    size_t phi_size[OB_COUNT];
} ref_problem;

static int ref_tensor(const melon_model *m, const char *name) {
    for (int k = 0; k < m->n_tensors; k++)
        if (strcmp(m->tensor[k].name, name) == 0) return k;
    fail_msg("no tensor %s", name);
    return -1;
}

static double *ref_copy_tensor(const melon_tensor *t) {
    size_t size = (size_t)t->rows * t->cols;
    double *x = malloc(size * sizeof(double));
    assert_non_null(x);
    for (size_t a = 0; a < size; a++) x[a] = t->value[a];
    return x;
}

/* Takes Theta_t from the model (call before the meta step, whose restore
 * leaves the model at Theta_t anyway) and phi from the strategy. */
static void ref_init(ref_problem *P, fixture *f) {
    memset(P, 0, sizeof *P);
    P->m = &f->model;
    P->is_ncf = strcmp(f->cfg.model.name, "ncf") == 0;
    official_params *p = official_strategy_params(&f->strategy);
    P->dims = p->dims;
    for (int k = 0; k < f->model.n_tensors; k++)
        P->theta[k] = ref_copy_tensor(&f->model.tensor[k]);
    for (int b = 0; b < OB_COUNT; b++) {
        if (!p->value[b]) continue;
        for (int k = 0; k < p->mp.n_blocks; k++)
            if (p->mp.block[k].value == p->value[b])
                P->phi_size[b] = p->mp.block[k].size;
        P->phi[b] = malloc(P->phi_size[b] * sizeof(double));
        assert_non_null(P->phi[b]);
        for (size_t a = 0; a < P->phi_size[b]; a++)
            P->phi[b][a] = p->value[b][a];
    }
    P->query = f->batch;
    P->n_query = f->n;
    P->history = &f->history;
    P->before = f->ctx.begin;
}

/* The support set and its slots, from the strategy's last meta step. */
static void ref_take_support(ref_problem *P, const fixture *f) {
    const melon_meta_trial *t = official_strategy_meta_trial(&f->strategy);
    P->support = t->support;
    P->n_support = t->n_support;
    P->slots = &t->support_slots;
    double sum = 0.0;
    for (int r = 0; r < t->n_support; r++) sum += t->support_slots.loss[r];
    P->mean_loss = sum / t->n_support;
}

static void ref_free(ref_problem *P) {
    for (int k = 0; k < MELON_MAX_TENSORS; k++) free(P->theta[k]);
    for (int b = 0; b < OB_COUNT; b++) free(P->phi[b]);
}

static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double ref_relu(double x) { return x > 0 ? x : 0.0; }
static double ref_softplus(double x) {
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

/* rho with the reference's eps 1e-8 and p = 10 (section 0). */
static void ref_rho(double x, double *r1, double *r2) {
    if (fabs(x) >= exp(-10.0)) {
        *r1 = log(fabs(x) + 1e-8) / 10.0;
        *r2 = x > 0 ? 1.0 : -1.0;
    } else {
        *r1 = -1.0;
        *r2 = exp(10.0) * x;
    }
}

/* Node features: BPR-MF user_emb / item_emb, NCF [gmf; mlp] (A.3 item 5). */
static int ref_features(const ref_problem *P, double *const *theta, int side,
                        int32_t id, double *out) {
    static const char *const bpr[2][2] = {{"user_emb", NULL},
                                          {"item_emb", NULL}};
    static const char *const ncf[2][2] = {{"user_gmf", "user_mlp"},
                                         {"item_gmf", "item_mlp"}};
    const char *const *names = P->is_ncf ? ncf[side] : bpr[side];
    int width = 0;
    for (int a = 0; a < 2 && names[a]; a++) {
        int k = ref_tensor(P->m, names[a]);
        int cols = P->m->tensor[k].cols;
        for (int c = 0; c < cols; c++)
            out[width + c] = theta[k][(size_t)id * cols + c];
        width += cols;
    }
    return width;
}

/* o for node `id` of `side`, over all its neighbours before P->before. */
static void ref_gat(const ref_problem *P, int side, int32_t id, double *o) {
    const official_dims *dm = &P->dims;
    int dn = dm->d_node, d = dm->d;
    double e[64], mu[64], nb[64][64], cat[128];
    assert_true(dn <= 64 && d <= 64);
    ref_features(P, P->theta, side, id, e);
    const melon_adjacency *adj = side == OFFICIAL_USER
                                     ? &P->history->user_items[id]
                                     : &P->history->item_users[id];
    int K = (int)melon_history_count_before(adj, P->before);
    assert_true(K <= 64);
    for (int k = 0; k < K; k++)
        ref_features(P, P->theta, 1 - side, adj->other[k], nb[k]);
    const double *att = P->phi[OB_GAT(side, OB_ATT)];
    for (int c = 0; c < dn; c++) mu[c] = 0.0;
    if (K > 0) {
        double logit[64], top = -1e300, total = 0.0;
        for (int k = 0; k < K; k++) {
            double pi = 0.0;
            for (int c = 0; c < dn; c++)
                pi += att[c] * nb[k][c] + att[dn + c] * e[c];
            logit[k] = pi > 0 ? pi : 0.01 * pi;
            if (logit[k] > top) top = logit[k];
        }
        for (int k = 0; k < K; k++) total += exp(logit[k] - top);
        for (int k = 0; k < K; k++) {
            double alpha = exp(logit[k] - top) / total;
            for (int c = 0; c < dn; c++) mu[c] += alpha * nb[k][c];
        }
    }
    const double *S = P->phi[OB_GAT(side, OB_SELF_W)];
    const double *s = P->phi[OB_GAT(side, OB_SELF_B)];
    const double *N = P->phi[OB_GAT(side, OB_NB_W)];
    const double *nbias = P->phi[OB_GAT(side, OB_NB_B)];
    const double *F = P->phi[OB_GAT(side, OB_OUT_W)];
    for (int a = 0; a < d; a++) {
        double xs = s[a], xn = nbias[a];
        for (int c = 0; c < dn; c++) {
            xs += S[a * dn + c] * e[c];
            xn += N[a * dn + c] * mu[c];
        }
        cat[a] = ref_relu(xs);
        cat[d + a] = ref_relu(xn);
    }
    for (int a = 0; a < d; a++) {
        double y = 0.0;
        for (int c = 0; c < 2 * d; c++) y += F[a * 2 * d + c] * cat[c];
        o[a] = ref_relu(y);
    }
}

/* BatchNorm (training mode) of column block y[n][w] in place, then ReLU. */
static void ref_batchnorm_relu(double *y, int n, int w, const double *gamma,
                               const double *beta) {
    for (int j = 0; j < w; j++) {
        double mean = 0.0, var = 0.0;
        for (int q = 0; q < n; q++) mean += y[q * w + j];
        mean /= n;
        for (int q = 0; q < n; q++)
            var += (y[q * w + j] - mean) * (y[q * w + j] - mean);
        var /= n;
        for (int q = 0; q < n; q++) {
            double x = (y[q * w + j] - mean) / sqrt(var + 1e-5);
            y[q * w + j] = ref_relu(gamma[j] * x + beta[j]);
        }
    }
}

/* h[N][hw] of every support pair. */
static void ref_interaction(const ref_problem *P, double *h) {
    const official_dims *dm = &P->dims;
    int N = 2 * P->n_support, d = dm->d, hw = dm->hw;
    double *v = malloc((size_t)N * 2 * d * sizeof(double));
    double *y1 = malloc((size_t)N * hw * sizeof(double));
    assert_true(v && y1);
    for (int q = 0; q < N; q++) {
        const melon_triple *tr = &P->support[q / 2];
        ref_gat(P, OFFICIAL_USER, tr->user, v + (size_t)q * 2 * d);
        ref_gat(P, OFFICIAL_ITEM, q % 2 ? tr->negative : tr->item,
                v + (size_t)q * 2 * d + d);
    }
    for (int q = 0; q < N; q++)
        for (int j = 0; j < hw; j++) {
            double y = P->phi[OB_L1_B][j];
            for (int c = 0; c < 2 * d; c++)
                y += P->phi[OB_L1_W][j * 2 * d + c] * v[(size_t)q * 2 * d + c];
            y1[q * hw + j] = y;
        }
    ref_batchnorm_relu(y1, N, hw, P->phi[OB_BN1_G], P->phi[OB_BN1_B]);
    for (int q = 0; q < N; q++)
        for (int j = 0; j < hw; j++) {
            double y = P->phi[OB_L2_B][j];
            for (int c = 0; c < hw; c++)
                y += P->phi[OB_L2_W][j * hw + c] * y1[q * hw + c];
            h[q * hw + j] = y;
        }
    ref_batchnorm_relu(h, N, hw, P->phi[OB_BN2_G], P->phi[OB_BN2_B]);
    free(v);
    free(y1);
}

/* sigma(f) theta - sigma(iota) g for one (pair, coordinate) (A.4 step 4);
 * *rate receives sigma(iota). */
static double ref_proposal(const ref_problem *P, const double *h, double theta,
                           double g, double *rate) {
    const official_dims *dm = &P->dims;
    double p[4];
    ref_rho(P->mean_loss, &p[0], &p[1]);
    ref_rho(g, &p[2], &p[3]);
    double f = P->phi[OB_GATE_F_B][0], iota = P->phi[OB_GATE_I_B][0];
    if (dm->has_p)
        for (int j = 0; j < dm->zw; j++) {
            double z = P->phi[OB_ROLE_B][j];
            for (int i = 0; i < 4; i++)
                z += P->phi[OB_ROLE_W][j * 4 + i] * p[i];
            f += P->phi[OB_GATE_F][j] * z;
            iota += P->phi[OB_GATE_I][j] * z;
        }
    if (dm->has_h) {
        int off = dm->has_p ? dm->zw : 0;
        for (int j = 0; j < dm->hw; j++) {
            f += P->phi[OB_GATE_F][off + j] * h[j];
            iota += P->phi[OB_GATE_I][off + j] * h[j];
        }
    }
    if (rate) *rate = ref_sigmoid(iota);
    return ref_sigmoid(f) * theta - ref_sigmoid(iota) * g;
}

/* Theta' of A.4: every table row the support pairs look up takes the mean
 * of their proposals, every dense coordinate the mean over all pairs. */
static void ref_trial(const ref_problem *P, double **out) {
    const melon_model *m = P->m;
    int N = 2 * P->n_support, hw = P->dims.hw;
    double *h = calloc((size_t)N * (hw > 0 ? hw : 1), sizeof(double));
    assert_non_null(h);
    if (P->dims.has_h) ref_interaction(P, h);
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        size_t size = (size_t)t->rows * t->cols;
        memcpy(out[k], P->theta[k], size * sizeof(double));
        double *sum = calloc(size, sizeof(double));
        int *count = calloc((size_t)t->rows, sizeof(int));
        assert_true(sum && count);
        for (int q = 0; q < N; q++) {
            const double *hq = h + (size_t)q * hw;
            if (t->kind == MELON_DENSE) {
                const float *e = P->slots->slot[k] + (size_t)q * t->rows;
                const float *x = P->slots->input[k] + (size_t)q * t->cols;
                for (int a = 0; a < t->rows; a++)
                    for (int b = 0; b < t->cols; b++) {
                        size_t at = (size_t)a * t->cols + b;
                        sum[at] += ref_proposal(P, hq, P->theta[k][at],
                                                (double)e[a] * x[b], NULL);
                    }
                continue;
            }
            int32_t row = melon_slot_row(t, &P->support[q / 2], q % 2);
            const float *g = P->slots->slot[k] + (size_t)q * t->cols;
            for (int b = 0; b < t->cols; b++) {
                size_t at = (size_t)row * t->cols + b;
                sum[at] += ref_proposal(P, hq, P->theta[k][at], g[b], NULL);
            }
            count[row]++;
        }
        for (int a = 0; a < t->rows; a++) {
            int o = t->kind == MELON_DENSE ? N : count[a];
            if (o == 0) continue;
            for (int b = 0; b < t->cols; b++)
                out[k][(size_t)a * t->cols + b] =
                    sum[(size_t)a * t->cols + b] / o;
        }
        free(sum);
        free(count);
    }
    free(h);
}

/* The recommender's score in double (update-strategies.md 1.2, 1.3). */
static double ref_score(const ref_problem *P, double *const *th, int32_t u,
                        int32_t i) {
    const melon_model *m = P->m;
    double s = th[ref_tensor(m, "user_bias")][u] +
               th[ref_tensor(m, "item_bias")][i];
    int d = m->cfg.dim;
    if (!P->is_ncf) {
        const double *Pu = th[ref_tensor(m, "user_emb")] + (size_t)u * d;
        const double *Qi = th[ref_tensor(m, "item_emb")] + (size_t)i * d;
        for (int c = 0; c < d; c++) s += Pu[c] * Qi[c];
        return s;
    }
    const double *w_out = th[ref_tensor(m, "out_w")];
    const double *pg = th[ref_tensor(m, "user_gmf")] + (size_t)u * d;
    const double *qg = th[ref_tensor(m, "item_gmf")] + (size_t)i * d;
    for (int c = 0; c < d; c++) s += w_out[c] * pg[c] * qg[c];
    double x[64], y[64];
    const double *ph = th[ref_tensor(m, "user_mlp")] + (size_t)u * d;
    const double *qh = th[ref_tensor(m, "item_mlp")] + (size_t)i * d;
    int width = 2 * d;
    for (int c = 0; c < d; c++) {
        x[c] = ph[c];
        x[d + c] = qh[c];
    }
    static const char *const names[] = {"mlp_w1", "mlp_w2", "mlp_w3", "mlp_w4"};
    for (int l = 0; l < m->cfg.layers.n; l++) {
        const double *W = th[ref_tensor(m, names[l])];
        int out = m->cfg.layers.w[l];
        for (int a = 0; a < out; a++) {
            double acc = 0.0;
            for (int b = 0; b < width; b++) acc += W[a * width + b] * x[b];
            y[a] = ref_relu(acc);
        }
        width = out;
        memcpy(x, y, (size_t)width * sizeof(double));
    }
    for (int c = 0; c < width; c++) s += w_out[d + c] * x[c];
    return s;
}

/* The meta-loss: mean BPR loss of the query triples at Theta'. */
static inline double ref_meta_loss(const ref_problem *P) {
    const melon_model *m = P->m;
    double *trial[MELON_MAX_TENSORS] = {0};
    for (int k = 0; k < m->n_tensors; k++) {
        trial[k] = malloc((size_t)m->tensor[k].rows * m->tensor[k].cols *
                          sizeof(double));
        assert_non_null(trial[k]);
    }
    ref_trial(P, trial);
    double loss = 0.0;
    for (int r = 0; r < P->n_query; r++) {
        const melon_triple *tr = &P->query[r];
        double diff = ref_score(P, trial, tr->user, tr->item) -
                      ref_score(P, trial, tr->user, tr->negative);
        loss += ref_softplus(-diff);
    }
    for (int k = 0; k < m->n_tensors; k++) free(trial[k]);
    return loss / P->n_query;
}

#endif
