/* The official MeLON's interaction vector (update-strategies.md A.3 item 4,
 * A.4 step 3): for every pair q, v_q = [o_u; o_v] (the GAT outputs of its
 * user and item) and
 *
 *   h_q = ReLU(BN2(L2 ReLU(BN1(L1 v_q + b1)) + b2)),
 *
 * BatchNorm always in training mode: each feature normalised by the mean
 * and biased variance of the call's N rows (eps 1e-5), then gamma x + beta.
 * The batch statistics couple the pairs; the backward (A.5 step 5) is, per
 * feature, with x_hat the normalised input and s = sqrt(var + eps):
 *   x_bar = gamma / s (y_bar - mean(y_bar) - x_hat mean(y_bar x_hat)),
 *   grad gamma = sum y_bar x_hat,  grad beta = sum y_bar. */
#include "melon_official.h"

#include "nn/nn.h"

#include <math.h>
#include <string.h>

static void add_bias(int n, int width, float *x, const float *bias) {
    for (int q = 0; q < n; q++) {
        float *row = x + (size_t)q * width;
        for (int a = 0; a < width; a++) row[a] += bias[a];
    }
}

/* x: [n][width], the layer output on entry, x_hat on exit; out = gamma
 * x_hat + beta. stats: 2 width doubles. Row-major passes (the rows are
 * contiguous), sums in double. */
static void batchnorm_forward(int n, int width, float *x, float *inv_std,
                              const float *gamma, const float *beta,
                              float *out, double *stats) {
    double *mean = stats, *var = stats + width;
    for (int a = 0; a < width; a++) mean[a] = var[a] = 0.0;
    for (int q = 0; q < n; q++)
        for (int a = 0; a < width; a++) mean[a] += x[(size_t)q * width + a];
    for (int a = 0; a < width; a++) mean[a] /= n;
    for (int q = 0; q < n; q++)
        for (int a = 0; a < width; a++) {
            double dev = x[(size_t)q * width + a] - mean[a];
            var[a] += dev * dev;
        }
    for (int a = 0; a < width; a++)
        inv_std[a] = (float)(1.0 / sqrt(var[a] / n + OFFICIAL_BN_EPS));
    for (int q = 0; q < n; q++)
        for (int a = 0; a < width; a++) {
            size_t at = (size_t)q * width + a;
            float xhat = (float)((x[at] - mean[a]) * inv_std[a]);
            x[at] = xhat;
            out[at] = gamma[a] * xhat + beta[a];
        }
}

/* grad: y_bar on entry, x_bar on exit. */
static void batchnorm_backward(int n, int width, const float *xhat,
                               const float *inv_std, const float *gamma,
                               float *grad, float *grad_gamma,
                               float *grad_beta, double *stats) {
    double *sum = stats, *sum_x = stats + width;
    for (int a = 0; a < width; a++) sum[a] = sum_x[a] = 0.0;
    for (int q = 0; q < n; q++)
        for (int a = 0; a < width; a++) {
            size_t at = (size_t)q * width + a;
            sum[a] += grad[at];
            sum_x[a] += (double)grad[at] * xhat[at];
        }
    for (int a = 0; a < width; a++) {
        grad_beta[a] += (float)sum[a];
        grad_gamma[a] += (float)sum_x[a];
        sum[a] /= n;   /* mean(y_bar) */
        sum_x[a] /= n; /* mean(y_bar x_hat) */
    }
    for (int q = 0; q < n; q++)
        for (int a = 0; a < width; a++) {
            size_t at = (size_t)q * width + a;
            double scale = (double)gamma[a] * inv_std[a];
            double centred = grad[at] - sum[a] - xhat[at] * sum_x[a];
            grad[at] = (float)(scale * centred);
        }
}

static void add_column_sums(int n, int width, const float *x, float *out,
                            double *stats) {
    for (int a = 0; a < width; a++) stats[a] = 0.0;
    for (int q = 0; q < n; q++)
        for (int a = 0; a < width; a++) stats[a] += x[(size_t)q * width + a];
    for (int a = 0; a < width; a++) out[a] += (float)stats[a];
}

void official_mlp_forward(official_call *c, const official_params *p) {
    official_mlp *mlp = &c->mlp;
    int n = c->n_pairs, d = c->dims.d, in = 2 * d, hw = c->dims.hw;
    mlp->n = n;
    const official_side *users = &c->side[OFFICIAL_USER];
    const official_side *items = &c->side[OFFICIAL_ITEM];
    for (int q = 0; q < n; q++) {
        float *v = mlp->v + (size_t)q * in;
        memcpy(v, users->out + (size_t)c->pair_node[OFFICIAL_USER][q] * d,
               (size_t)d * sizeof(float));
        memcpy(v + d, items->out + (size_t)c->pair_node[OFFICIAL_ITEM][q] * d,
               (size_t)d * sizeof(float));
    }
    melon_linear_forward(n, in, hw, mlp->v, in, p->value[OB_L1_W], in,
                         mlp->xhat1, hw);
    add_bias(n, hw, mlp->xhat1, p->value[OB_L1_B]);
    batchnorm_forward(n, hw, mlp->xhat1, mlp->inv_std1, p->value[OB_BN1_G],
                      p->value[OB_BN1_B], mlp->act1, mlp->stats);
    melon_relu_forward(n, hw, mlp->act1, hw);
    melon_linear_forward(n, hw, hw, mlp->act1, hw, p->value[OB_L2_W], hw,
                         mlp->xhat2, hw);
    add_bias(n, hw, mlp->xhat2, p->value[OB_L2_B]);
    batchnorm_forward(n, hw, mlp->xhat2, mlp->inv_std2, p->value[OB_BN2_G],
                      p->value[OB_BN2_B], mlp->h, mlp->stats);
    melon_relu_forward(n, hw, mlp->h, hw);
}

void official_mlp_backward(official_call *c, official_params *p) {
    official_mlp *mlp = &c->mlp;
    int n = mlp->n, d = c->dims.d, in = 2 * d, hw = c->dims.hw;
    float *g2 = mlp->scratch_a, *g1 = mlp->scratch_b;
    memcpy(g2, mlp->h_grad, (size_t)n * hw * sizeof(float));
    melon_relu_backward(n, hw, mlp->h, hw, g2, hw);
    batchnorm_backward(n, hw, mlp->xhat2, mlp->inv_std2, p->value[OB_BN2_G],
                       g2, p->grad[OB_BN2_G], p->grad[OB_BN2_B],
                       mlp->stats);
    melon_linear_backward_weight(n, hw, hw, g2, hw, mlp->act1, hw, 1.0f,
                                 p->grad[OB_L2_W], hw);
    add_column_sums(n, hw, g2, p->grad[OB_L2_B], mlp->stats);
    melon_linear_backward_input(n, hw, hw, g2, hw, p->value[OB_L2_W], hw, g1,
                                hw);
    melon_relu_backward(n, hw, mlp->act1, hw, g1, hw);
    batchnorm_backward(n, hw, mlp->xhat1, mlp->inv_std1, p->value[OB_BN1_G],
                       g1, p->grad[OB_BN1_G], p->grad[OB_BN1_B],
                       mlp->stats);
    melon_linear_backward_weight(n, in, hw, g1, hw, mlp->v, in, 1.0f,
                                 p->grad[OB_L1_W], in);
    add_column_sums(n, hw, g1, p->grad[OB_L1_B], mlp->stats);
    melon_linear_backward_input(n, in, hw, g1, hw, p->value[OB_L1_W], in,
                                mlp->v_grad, in);
    /* v = [o_u; o_v]: each half back to its node */
    official_side *users = &c->side[OFFICIAL_USER];
    official_side *items = &c->side[OFFICIAL_ITEM];
    memset(users->out_grad, 0, (size_t)users->n_nodes * d * sizeof(float));
    memset(items->out_grad, 0, (size_t)items->n_nodes * d * sizeof(float));
    for (int q = 0; q < n; q++) {
        const float *v_bar = mlp->v_grad + (size_t)q * in;
        size_t u = (size_t)c->pair_node[OFFICIAL_USER][q];
        size_t i = (size_t)c->pair_node[OFFICIAL_ITEM][q];
        float *gu = users->out_grad + u * d, *gi = items->out_grad + i * d;
        for (int a = 0; a < d; a++) {
            gu[a] += v_bar[a];
            gi[a] += v_bar[d + a];
        }
    }
}
