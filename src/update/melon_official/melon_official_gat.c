/* The official MeLON's graph attention with separate self and neighbour
 * projections (update-strategies.md A.3 item 5); each side (users, items)
 * has its own parameters. For a node with feature e and sampled neighbours
 * e_k (the other side's features; embeddings are constants, detached from
 * the recommender):
 *
 *   pi_k = a_nb . e_k + a_self . e,  lambda_k = LeakyReLU_0.01(pi_k),
 *   alpha = softmax(lambda),  mu = sum_k alpha_k e_k   (mu = 0 if no k)
 *   x_s = ReLU(S e + s),  x_n = ReLU(N mu + n),  o = ReLU(F [x_s; x_n])
 *
 * The backward (A.5 step 6) goes from d meta-loss / d o back through F,
 * both ReLU branches, S and N to mu, then through the attention:
 *   t_k = e_k . mu_bar,  lambda_bar_k = alpha_k (t_k - sum_k' alpha_k' t_k'),
 *   pi_bar_k = lambda_bar_k * (1 if pi_k > 0 else 0.01),
 *   grad a_nb += sum_k pi_bar_k e_k,  grad a_self += (sum_k pi_bar_k) e. */
#include "melon_official.h"

#include "nn/nn.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

static inline float dot(const float *x, const float *y, int n) {
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int a = 0; a < n; a++) acc += x[a] * y[a];
    return acc;
}

/* Softmax attention of node j over its edges [e0, e1). */
static void attend(official_side *side, int j, int dn, const float *a_nb,
                   const float *a_self) {
    int e0 = side->edge_begin[j], e1 = side->edge_begin[j + 1];
    float *mu = side->mu + (size_t)j * dn;
    memset(mu, 0, (size_t)dn * sizeof(float));
    if (e0 == e1) return;
    float self_term = dot(a_self, side->self + (size_t)j * dn, dn);
    float max_logit = -INFINITY;
    for (int e = e0; e < e1; e++) {
        float pi = dot(a_nb, side->nb + (size_t)e * dn, dn) + self_term;
        float logit = pi > 0.0f ? pi : OFFICIAL_SLOPE * pi;
        side->pi[e] = pi;
        side->alpha[e] = logit;
        if (logit > max_logit) max_logit = logit;
    }
    float total = 0.0f;
    for (int e = e0; e < e1; e++) {
        side->alpha[e] = expf(side->alpha[e] - max_logit);
        total += side->alpha[e];
    }
    for (int e = e0; e < e1; e++) {
        float w = side->alpha[e] / total;
        side->alpha[e] = w;
        const float *nb = side->nb + (size_t)e * dn;
#pragma omp simd
        for (int a = 0; a < dn; a++) mu[a] += w * nb[a];
    }
}

static void add_bias_relu(int n, int width, float *x, int ld,
                          const float *bias) {
    for (int j = 0; j < n; j++) {
        float *row = x + (size_t)j * ld;
#pragma omp simd
        for (int a = 0; a < width; a++) {
            float v = row[a] + bias[a];
            row[a] = v > 0.0f ? v : 0.0f;
        }
    }
}

/* This thread's contiguous share [*begin, *end) of n items. */
static void share(int n, int *begin, int *end) {
    int threads = omp_get_num_threads(), t = omp_get_thread_num();
    *begin = (int)((long)n * t / threads);
    *end = (int)((long)n * (t + 1) / threads);
}

/* Nodes [j0, j1) of side s: features, attention, projections. */
static void forward_block(official_call *c, const official_params *p, int s,
                          int j0, int j1) {
    official_side *side = &c->side[s];
    int n = j1 - j0, dn = c->dims.d_node, d = c->dims.d;
    if (n <= 0) return;
    const melon_model *m = c->model;
    for (int j = j0; j < j1; j++) {
        if (j + OFFICIAL_PREFETCH_AHEAD < j1)
            official_features_prefetch(&c->features, m, s,
                                       side->node_id[j + OFFICIAL_PREFETCH_AHEAD]);
        official_features_gather(&c->features, m, s, side->node_id[j],
                                 side->self + (size_t)j * dn);
    }
    int e1 = side->edge_begin[j1];
    for (int e = side->edge_begin[j0]; e < e1; e++) {
        if (e + OFFICIAL_PREFETCH_AHEAD < e1)
            official_features_prefetch(&c->features, m, 1 - s,
                                       side->edge_id[e + OFFICIAL_PREFETCH_AHEAD]);
        official_features_gather(&c->features, m, 1 - s, side->edge_id[e],
                                 side->nb + (size_t)e * dn);
    }
    const float *att = p->value[OB_GAT(s, OB_ATT)];
    for (int j = j0; j < j1; j++) attend(side, j, dn, att, att + dn);
    /* cat = [ReLU(S e + s); ReLU(N mu + n)] */
    float *cat = side->cat + (size_t)j0 * 2 * d;
    melon_linear_forward(n, dn, d, side->self + (size_t)j0 * dn, dn,
                         p->value[OB_GAT(s, OB_SELF_W)], dn, cat, 2 * d);
    melon_linear_forward(n, dn, d, side->mu + (size_t)j0 * dn, dn,
                         p->value[OB_GAT(s, OB_NB_W)], dn, cat + d, 2 * d);
    add_bias_relu(n, d, cat, 2 * d, p->value[OB_GAT(s, OB_SELF_B)]);
    add_bias_relu(n, d, cat + d, 2 * d, p->value[OB_GAT(s, OB_NB_B)]);
    /* o = ReLU(F cat) */
    float *out = side->out + (size_t)j0 * d;
    melon_linear_forward(n, 2 * d, d, cat, 2 * d,
                         p->value[OB_GAT(s, OB_OUT_W)], 2 * d, out, d);
    melon_relu_forward(n, d, out, d);
}

void official_gat_forward(official_call *c, const official_params *p) {
    for (int s = 0; s < OFFICIAL_SIDES; s++) {
        int j0, j1;
        share(c->side[s].n_nodes, &j0, &j1);
        forward_block(c, p, s, j0, j1);
    }
}

/* pi_bar of node j's edges into edge_grad, their sum into node_grad. */
static void attend_backward(official_side *side, int j, int dn) {
    int e0 = side->edge_begin[j], e1 = side->edge_begin[j + 1];
    const float *mu_bar = side->mu_grad + (size_t)j * dn;
    float mean_t = 0.0f;
    for (int e = e0; e < e1; e++) {
        float t = dot(side->nb + (size_t)e * dn, mu_bar, dn);
        side->edge_grad[e] = t;
        mean_t += side->alpha[e] * t;
    }
    float total = 0.0f;
    for (int e = e0; e < e1; e++) {
        float lambda_bar = side->alpha[e] * (side->edge_grad[e] - mean_t);
        float slope = side->pi[e] > 0.0f ? 1.0f : OFFICIAL_SLOPE;
        float pi_bar = lambda_bar * slope;
        side->edge_grad[e] = pi_bar;
        total += pi_bar;
    }
    side->node_grad[j] = total;
}

/* Nodes [j0, j1) of side s: from out_grad back to cat_grad, mu_grad and
 * the attention's edge_grad and node_grad. */
static void backward_block(official_call *c, const official_params *p, int s,
                           int j0, int j1) {
    official_side *side = &c->side[s];
    int n = j1 - j0, dn = c->dims.d_node, d = c->dims.d;
    if (n <= 0) return;
    float *out_grad = side->out_grad + (size_t)j0 * d;
    float *cat_grad = side->cat_grad + (size_t)j0 * 2 * d;
    melon_relu_backward(n, d, side->out + (size_t)j0 * d, d, out_grad, d);
    melon_linear_backward_input(n, 2 * d, d, out_grad, d,
                                p->value[OB_GAT(s, OB_OUT_W)], 2 * d,
                                cat_grad, 2 * d);
    melon_relu_backward(n, 2 * d, side->cat + (size_t)j0 * 2 * d, 2 * d,
                        cat_grad, 2 * d);
    melon_linear_backward_input(n, dn, d, cat_grad + d, 2 * d,
                                p->value[OB_GAT(s, OB_NB_W)], dn,
                                side->mu_grad + (size_t)j0 * dn, dn);
    for (int j = j0; j < j1; j++) attend_backward(side, j, dn);
}

/* Rows [a0, a1) of F, S, N and of their biases: sums over all nodes. */
static void weight_rows(official_call *c, official_params *p, int s, int a0,
                        int a1) {
    const official_side *side = &c->side[s];
    int n = side->n_nodes, dn = c->dims.d_node, d = c->dims.d;
    int rows = a1 - a0;
    if (rows <= 0) return;
    float *g_out = p->grad[OB_GAT(s, OB_OUT_W)] + (size_t)a0 * 2 * d;
    float *g_self = p->grad[OB_GAT(s, OB_SELF_W)] + (size_t)a0 * dn;
    float *g_nb = p->grad[OB_GAT(s, OB_NB_W)] + (size_t)a0 * dn;
    melon_linear_backward_weight(n, 2 * d, rows, side->out_grad + a0, d,
                                 side->cat, 2 * d, 1.0f, g_out, 2 * d);
    melon_linear_backward_weight(n, dn, rows, side->cat_grad + a0, 2 * d,
                                 side->self, dn, 1.0f, g_self, dn);
    melon_linear_backward_weight(n, dn, rows, side->cat_grad + d + a0, 2 * d,
                                 side->mu, dn, 1.0f, g_nb, dn);
    float *g_self_b = p->grad[OB_GAT(s, OB_SELF_B)];
    float *g_nb_b = p->grad[OB_GAT(s, OB_NB_B)];
    for (int a = a0; a < a1; a++) {
        double self_sum = 0.0, nb_sum = 0.0;
        for (int j = 0; j < n; j++) {
            self_sum += side->cat_grad[(size_t)j * 2 * d + a];
            nb_sum += side->cat_grad[(size_t)j * 2 * d + d + a];
        }
        g_self_b[a] += (float)self_sum;
        g_nb_b[a] += (float)nb_sum;
    }
}

/* Entries [c0, c1) of grad a = [sum_k pi_bar_k e_k; sum_j node_grad_j e_j]. */
static void attention_entries(official_call *c, official_params *p, int s,
                              int c0, int c1) {
    const official_side *side = &c->side[s];
    int dn = c->dims.d_node;
    float *g_att = p->grad[OB_GAT(s, OB_ATT)];
    int nb0 = c0 < dn ? c0 : dn, nb1 = c1 < dn ? c1 : dn;
    if (nb1 > nb0 && side->n_edges > 0)
        cblas_sgemv(CblasRowMajor, CblasTrans, side->n_edges, nb1 - nb0, 1.0f,
                    side->nb + nb0, dn, side->edge_grad, 1, 1.0f,
                    g_att + nb0, 1);
    int self0 = (c0 > dn ? c0 : dn) - dn, self1 = (c1 > dn ? c1 : dn) - dn;
    if (self1 > self0)
        cblas_sgemv(CblasRowMajor, CblasTrans, side->n_nodes, self1 - self0,
                    1.0f, side->self + self0, dn, side->node_grad, 1, 1.0f,
                    g_att + dn + self0, 1);
}

void official_gat_backward(official_call *c, official_params *p) {
    int d = c->dims.d, dn = c->dims.d_node;
    for (int s = 0; s < OFFICIAL_SIDES; s++) {
        int j0, j1;
        share(c->side[s].n_nodes, &j0, &j1);
        backward_block(c, p, s, j0, j1);
    }
#pragma omp barrier
    for (int s = 0; s < OFFICIAL_SIDES; s++) {
        if (c->side[s].n_nodes == 0) continue;
        int a0, a1, c0, c1;
        share(d, &a0, &a1);
        weight_rows(c, p, s, a0, a1);
        share(2 * dn, &c0, &c1);
        attention_entries(c, p, s, c0, c1);
    }
}
