/* MeLON's paper form re-implemented in double, straight from the equations
 * (Eq. 8-13, update-strategies.md A.1, A.7), independent of the library's
 * kernels: it reads only the model's tensor values and shapes, the history,
 * the meta-parameter values, and the support and query triples.
 *
 * meta_loss(psi) = mean BPR loss of Q at Theta'(psi), with
 *   Theta'_m = theta_m - agg_{r in S touching m} w_{r,m} g_{r,m}
 * and the per-triple losses and gradients of S taken at Theta (by central
 * differences in double), as the exact one-step hypergradient requires. */
#ifndef MELON_TEST_MELON_PAPER_REFERENCE_H
#define MELON_TEST_MELON_PAPER_REFERENCE_H

#include "melon_paper_fixture.h"

#include <math.h>

#define REF_MAX_D 64

typedef struct {
    const melon_model *m;
    const paper_params *p;
    const melon_history *history;
    size_t before;
    double slope;
    int mean_agg;
    double rate_scale;                   /* s of --melon-rate-scale */
    int batch_inputs;                    /* melon-p's batch-level inputs */
    const melon_triple *S, *Q;
    int nS, nQ;
    size_t off[MELON_MAX_TENSORS + 1];   /* flat offsets of whole tensors */
    double *theta;                       /* [M] at Theta */
    double *psi[MELON_MAX_META_BLOCKS];  /* meta-parameters */
    double *loss;                        /* [nS] */
    double *grad;                        /* [nS][M] per-triple gradients */
    double *work;                        /* [M] Theta' */
} ref_paper;

static inline int ref_is_ncf(const ref_paper *ref) {
    return strcmp(ref->m->ops->name, "ncf") == 0;
}

/* Score s(u, i) at parameters `theta` (flat). */
static inline double ref_score(const ref_paper *ref, const double *theta, int32_t u,
                        int32_t i) {
    const melon_model *m = ref->m;
    int d = m->cfg.dim;
    if (!ref_is_ncf(ref)) { /* user_emb, item_emb, user_bias, item_bias */
        const double *P = theta + ref->off[0], *Qt = theta + ref->off[1];
        double s = theta[ref->off[2] + u] + theta[ref->off[3] + i];
        for (int k = 0; k < d; k++) s += P[u * d + k] * Qt[i * d + k];
        return s;
    }
    /* user_gmf, item_gmf, user_mlp, item_mlp, mlp_w1..L, out_w, biases */
    int L = m->cfg.layers.n;
    double h[REF_MAX_D], next[REF_MAX_D];
    for (int k = 0; k < d; k++) {
        h[k] = theta[ref->off[2] + (size_t)u * d + k];
        h[d + k] = theta[ref->off[3] + (size_t)i * d + k];
    }
    int in = 2 * d;
    for (int l = 0; l < L; l++) {
        int out = m->cfg.layers.w[l];
        const double *W = theta + ref->off[4 + l];
        for (int a = 0; a < out; a++) {
            double acc = 0.0;
            for (int b = 0; b < in; b++) acc += W[a * in + b] * h[b];
            next[a] = acc > 0.0 ? acc : 0.0;
        }
        memcpy(h, next, (size_t)out * sizeof *h);
        in = out;
    }
    const double *w_out = theta + ref->off[4 + L];
    double s = theta[ref->off[5 + L] + u] + theta[ref->off[6 + L] + i];
    for (int k = 0; k < d; k++)
        s += w_out[k] * theta[ref->off[0] + (size_t)u * d + k] *
             theta[ref->off[1] + (size_t)i * d + k];
    for (int a = 0; a < in; a++) s += w_out[d + a] * h[a];
    return s;
}

static inline double ref_softplus(double x) {
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

static inline double ref_triple_loss(const ref_paper *ref, const double *theta,
                              const melon_triple *t) {
    return ref_softplus(-(ref_score(ref, theta, t->user, t->item) -
                          ref_score(ref, theta, t->user, t->negative)));
}

/* Does triple t touch coordinate x of tensor k (selective update)? */
static inline int ref_touches(const ref_paper *ref, int k, size_t x,
                       const melon_triple *t) {
    const melon_tensor *tensor = &ref->m->tensor[k];
    int32_t row = (int32_t)(x / (size_t)tensor->cols);
    if (tensor->kind == MELON_DENSE) return 1;
    if (tensor->kind == MELON_USER_TABLE) return row == t->user;
    return row == t->item || row == t->negative;
}

static inline double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static inline void ref_rho(double x, double *r1, double *r2) {
    double ax = fabs(x);
    if (ax >= exp(-10.0)) {
        *r1 = log(ax + 1e-8) / 10.0;
        *r2 = (x > 0) - (x < 0);
    } else {
        *r1 = -1.0;
        *r2 = exp(10.0) * x;
    }
}

static inline const double *ref_block(const ref_paper *ref, const melon_meta_block *b) {
    return ref->psi[b - ref->p->mp.block];
}

/* Node feature: the embedding tables (cols > 1) of that side, concatenated. */
static inline int ref_feature(const ref_paper *ref, const double *theta,
                       melon_tensor_kind kind, int32_t id, double *out) {
    int width = 0;
    for (int k = 0; k < ref->m->n_tensors; k++) {
        const melon_tensor *t = &ref->m->tensor[k];
        if (t->kind != kind || t->cols <= 1) continue;
        for (int c = 0; c < t->cols; c++)
            out[width++] = theta[ref->off[k] + (size_t)id * t->cols + c];
    }
    return width;
}

/* Eq. 9 then 8 for one node: ext = ReLU(W [e; sum alpha e'] + b). */
static inline void ref_extended(const ref_paper *ref, int user_side, int32_t id,
                         double *ext) {
    const paper_params *p = ref->p;
    int D = p->node_dim, E = p->ext_width;
    const double *a = ref_block(ref, user_side ? p->a_user : p->a_item);
    const double *W = ref_block(ref, user_side ? p->w_user : p->w_item);
    const double *b = ref_block(ref, user_side ? p->b_user : p->b_item);
    melon_tensor_kind self_kind = user_side ? MELON_USER_TABLE : MELON_ITEM_TABLE;
    melon_tensor_kind nb_kind = user_side ? MELON_ITEM_TABLE : MELON_USER_TABLE;
    const melon_adjacency *adj = user_side ? &ref->history->user_items[id]
                                           : &ref->history->item_users[id];
    uint32_t count = melon_history_count_before(adj, ref->before);
    double x[2 * REF_MAX_D], e[REF_MAX_D], logit[64];
    ref_feature(ref, ref->theta, self_kind, id, x);
    if (count == 0 && p->empty_self) { /* aggregate = its own embedding */
        for (int q = 0; q < E; q++) {
            double acc = b[q];
            for (int c = 0; c < D; c++)
                acc += (W[q * 2 * D + c] + W[q * 2 * D + D + c]) * x[c];
            ext[q] = acc > 0 ? acc : 0.0;
        }
        return;
    }
    double self_term = 0.0, top = -INFINITY;
    for (int c = 0; c < D; c++) self_term += a[c] * x[c];
    for (uint32_t k = 0; k < count; k++) {
        ref_feature(ref, ref->theta, nb_kind, adj->other[k], e);
        double pi = self_term;
        for (int c = 0; c < D; c++) pi += a[D + c] * e[c];
        logit[k] = pi > 0 ? pi : ref->slope * pi;
        top = fmax(top, logit[k]);
    }
    double total = 0.0;
    for (uint32_t k = 0; k < count; k++) total += exp(logit[k] - top);
    for (int c = 0; c < D; c++) x[D + c] = 0.0;
    for (uint32_t k = 0; k < count; k++) {
        ref_feature(ref, ref->theta, nb_kind, adj->other[k], e);
        double alpha = exp(logit[k] - top) / total;
        for (int c = 0; c < D; c++) x[D + c] += alpha * e[c];
    }
    for (int q = 0; q < E; q++) {
        double acc = b[q];
        for (int c = 0; c < 2 * D; c++) acc += W[q * 2 * D + c] * x[c];
        ext[q] = acc > 0 ? acc : 0.0;
    }
}

/* eta = w_lr,x . h_x + b_lr with h_x of Eq. 10 (b_lr alone for melon-p). */
static inline double ref_eta(const ref_paper *ref, const melon_triple *t) {
    const paper_params *p = ref->p;
    double eta = ref_block(ref, p->b_lr)[0];
    if (!p->has_interaction) return eta;
    int E = p->ext_width, H = p->h_width;
    double x[2 * REF_MAX_D];
    ref_extended(ref, 1, t->user, x);
    ref_extended(ref, 0, t->item, x + E);
    const double *W = ref_block(ref, p->w_x), *b = ref_block(ref, p->b_x);
    const double *w_lr = ref_block(ref, p->w_lr);
    for (int q = 0; q < H; q++) {
        double acc = b[q];
        for (int c = 0; c < 2 * E; c++) acc += W[q * 2 * E + c] * x[c];
        eta += w_lr[q] * (acc > 0 ? acc : 0.0);
    }
    return eta;
}

/* w_theta . MLP([theta; rho(L); rho(g)]) of Eq. 11-12. */
static inline double ref_role(const ref_paper *ref, double theta, double loss,
                       double g) {
    const paper_params *p = ref->p;
    int W = p->role_width;
    double in[REF_MAX_D], out[REF_MAX_D];
    int width = 0;
    if (p->role_inputs == 6) {
        ref_rho(theta, &in[0], &in[1]);
        width = 2;
    } else {
        in[width++] = theta;
    }
    ref_rho(loss, &in[width], &in[width + 1]);
    ref_rho(g, &in[width + 2], &in[width + 3]);
    width += 4;
    for (int l = 0; l < p->role_layers; l++) {
        const double *V = ref_block(ref, p->role_w[l]), *c = ref_block(ref, p->role_b[l]);
        for (int k = 0; k < W; k++) {
            double acc = c[k];
            for (int j = 0; j < width; j++) acc += V[k * width + j] * in[j];
            out[k] = acc > 0 ? acc : 0.0;
        }
        memcpy(in, out, (size_t)W * sizeof *in);
        width = W;
    }
    const double *w_theta = ref_block(ref, p->w_lr) + (p->has_interaction ? p->h_width : 0);
    double s = 0.0;
    for (int k = 0; k < W; k++) s += w_theta[k] * in[k];
    return s;
}

/* Theta'(psi) into ref->work. */
static inline void ref_trial(ref_paper *ref) {
    const paper_params *p = ref->p;
    size_t M = ref->off[ref->m->n_tensors];
    double eta[64], mean_loss = 0.0;
    for (int r = 0; r < ref->nS; r++) {
        eta[r] = ref_eta(ref, &ref->S[r]);
        mean_loss += ref->loss[r] / ref->nS;
    }
    for (int k = 0; k < ref->m->n_tensors; k++)
        for (size_t x = 0; x < ref->off[k + 1] - ref->off[k]; x++) {
            size_t flat = ref->off[k] + x;
            double theta = ref->theta[flat], sum = 0.0, mean_g = 0.0;
            int count = 0;
            for (int r = 0; r < ref->nS; r++) mean_g += ref->grad[(size_t)r * M + flat] / ref->nS;
            for (int r = 0; r < ref->nS; r++) {
                if (!ref_touches(ref, k, x, &ref->S[r])) continue;
                double g = ref->grad[(size_t)r * M + flat], s = eta[r];
                if (p->has_role)
                    s += ref->batch_inputs ? ref_role(ref, theta, mean_loss, mean_g)
                                           : ref_role(ref, theta, ref->loss[r], g);
                sum += ref_sigmoid(s) * g;
                count++;
            }
            ref->work[flat] =
                theta - ref->rate_scale * (ref->mean_agg && count ? sum / count : sum);
        }
}

static inline double ref_meta_loss(ref_paper *ref) {
    ref_trial(ref);
    double total = 0.0;
    for (int r = 0; r < ref->nQ; r++) total += ref_triple_loss(ref, ref->work, &ref->Q[r]);
    return total / ref->nQ;
}

/* Copies Theta and psi, computes the support set's losses and per-triple
 * gradients (central differences in double). */
static inline void ref_init(ref_paper *ref, const melon_model *m, const paper_params *p,
                     const melon_history *h, size_t before, double slope,
                     int mean_agg, const melon_triple *S, int nS,
                     const melon_triple *Q, int nQ) {
    memset(ref, 0, sizeof *ref);
    ref->m = m;
    ref->p = p;
    ref->history = h;
    ref->before = before;
    ref->slope = slope;
    ref->mean_agg = mean_agg;
    ref->rate_scale = 1.0;
    ref->batch_inputs = !p->has_interaction;
    ref->S = S;
    ref->nS = nS;
    ref->Q = Q;
    ref->nQ = nQ;
    assert_true(nS <= 64);
    for (int k = 0; k < m->n_tensors; k++)
        ref->off[k + 1] = ref->off[k] + (size_t)m->tensor[k].rows * m->tensor[k].cols;
    size_t M = ref->off[m->n_tensors];
    ref->theta = malloc(M * sizeof(double));
    ref->work = malloc(M * sizeof(double));
    ref->loss = malloc((size_t)nS * sizeof(double));
    ref->grad = malloc((size_t)nS * M * sizeof(double));
    assert_non_null(ref->theta);
    assert_non_null(ref->work);
    assert_non_null(ref->loss);
    assert_non_null(ref->grad);
    for (int k = 0; k < m->n_tensors; k++)
        for (size_t x = 0; x < ref->off[k + 1] - ref->off[k]; x++)
            ref->theta[ref->off[k] + x] = m->tensor[k].value[x];
    for (int k = 0; k < p->mp.n_blocks; k++) {
        ref->psi[k] = malloc(p->mp.block[k].size * sizeof(double));
        assert_non_null(ref->psi[k]);
        for (size_t a = 0; a < p->mp.block[k].size; a++)
            ref->psi[k][a] = p->mp.block[k].value[a];
    }
    const double step = 1e-6;
    for (int r = 0; r < nS; r++) {
        ref->loss[r] = ref_triple_loss(ref, ref->theta, &S[r]);
        for (size_t x = 0; x < M; x++) {
            double keep = ref->theta[x];
            ref->theta[x] = keep + step;
            double up = ref_triple_loss(ref, ref->theta, &S[r]);
            ref->theta[x] = keep - step;
            double down = ref_triple_loss(ref, ref->theta, &S[r]);
            ref->theta[x] = keep;
            ref->grad[(size_t)r * M + x] = (up - down) / (2 * step);
        }
    }
}

static inline void ref_free(ref_paper *ref) {
    free(ref->theta);
    free(ref->work);
    free(ref->loss);
    free(ref->grad);
    for (int k = 0; k < MELON_MAX_META_BLOCKS; k++) free(ref->psi[k]);
    memset(ref, 0, sizeof *ref);
}

#endif
