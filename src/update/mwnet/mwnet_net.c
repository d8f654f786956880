/* The weight net of MWNet, V(l) = sigmoid(w2 . relu(w1 l + b1) + b2)
 * (update-strategies.md B.3, resnet.py VNet(1, hidden, 1)), and its
 * backward. */
#include "mwnet.h"

#include "nn/nn.h"

#include <math.h>
#include <string.h>

static void uniform_fill(float *x, size_t n, float bound, melon_rng *rng) {
    for (size_t a = 0; a < n; a++)
        x[a] = (float)((2.0 * melon_rng_uniform(rng) - 1.0) * bound);
}

int mwnet_vnet_init(mwnet_vnet *net, int hidden, float meta_lr,
                    float meta_l2, melon_rng *rng, melon_err *err) {
    memset(net, 0, sizeof *net);
    if (hidden < 1) return melon_fail(err, "MWNet: hidden width %d < 1", hidden);
    net->hidden = hidden;
    melon_meta_adam_config adam;
    melon_meta_adam_config_default(&adam);
    adam.lr = meta_lr;
    adam.l2 = meta_l2;
    melon_meta_params_init(&net->params, &adam);
    size_t h = (size_t)hidden;
    if (!(net->w1 = melon_meta_params_add(&net->params, "w1", h, 1, err)) ||
        !(net->b1 = melon_meta_params_add(&net->params, "b1", h, 1, err)) ||
        !(net->w2 = melon_meta_params_add(&net->params, "w2", h, 1, err)) ||
        !(net->b2 = melon_meta_params_add(&net->params, "b2", 1, 1, err))) {
        mwnet_vnet_free(net);
        return -1;
    }
    net->gw1 = net->params.block[0].grad;
    net->gb1 = net->params.block[1].grad;
    net->gw2 = net->params.block[2].grad;
    net->gb2 = net->params.block[3].grad;
    float out_bound = 1.0f / sqrtf((float)hidden);
    uniform_fill(net->w1, h, 1.0f, rng);
    uniform_fill(net->b1, h, 1.0f, rng);
    uniform_fill(net->w2, h, out_bound, rng);
    uniform_fill(net->b2, 1, out_bound, rng);
    return 0;
}

void mwnet_vnet_free(mwnet_vnet *net) {
    melon_meta_params_free(&net->params);
    memset(net, 0, sizeof *net);
}

/* Eight interactions at a time (one vector of lanes), each still summing
 * its hidden units in order j = 0, 1, ... as one interaction at a time
 * would, so the result does not depend on the blocking. */
#define VNET_LANES 8

void mwnet_vnet_forward(const mwnet_vnet *net, const float *loss, int n,
                        float *act, float *weight) {
    int h = net->hidden;
    for (int x0 = 0; x0 < n; x0 += VNET_LANES) {
        int m = n - x0 < VNET_LANES ? n - x0 : VNET_LANES;
        double o[VNET_LANES];
        float l[VNET_LANES] = {0};
        for (int k = 0; k < m; k++) l[k] = loss[x0 + k];
        for (int k = 0; k < VNET_LANES; k++) o[k] = net->b2[0];
        for (int j = 0; j < h; j++) {
            float w1 = net->w1[j], b1 = net->b1[j];
            double w2 = net->w2[j];
            float a[VNET_LANES];
#pragma omp simd
            for (int k = 0; k < VNET_LANES; k++) {
                float z = w1 * l[k] + b1;
                a[k] = z > 0.0f ? z : 0.0f; /* fmaxf would be a libm call */
                o[k] += w2 * a[k];
            }
            if (act)
                for (int k = 0; k < m; k++) act[(size_t)(x0 + k) * h + j] = a[k];
        }
        for (int k = 0; k < m; k++) weight[x0 + k] = melon_sigmoid((float)o[k]);
    }
}

/* o_bar = dV sigma'(o); w2 += o_bar a, b2 += o_bar;
 * a_bar = o_bar w2 [a > 0]; w1 += a_bar l, b1 += a_bar. */
void mwnet_vnet_backward(mwnet_vnet *net, const float *loss, int n,
                         const float *act, const float *weight,
                         const float *dweight) {
    int h = net->hidden;
    double gb2 = 0.0;
    for (int x = 0; x < n; x++)
        gb2 += (double)dweight[x] * weight[x] * (1.0f - weight[x]);
    net->gb2[0] += (float)gb2;
    /* eight hidden units at a time, each summing over x in order */
    for (int j0 = 0; j0 < h; j0 += VNET_LANES) {
        int m = h - j0 < VNET_LANES ? h - j0 : VNET_LANES;
        double gw2[VNET_LANES] = {0}, gw1[VNET_LANES] = {0}, gb1[VNET_LANES] = {0};
        double w2[VNET_LANES] = {0};
        for (int k = 0; k < m; k++) w2[k] = net->w2[j0 + k];
        for (int x = 0; x < n; x++) {
            const float *ax = act + (size_t)x * h + j0;
            float a[VNET_LANES] = {0};
            for (int k = 0; k < m; k++) a[k] = ax[k];
            double ob = (double)dweight[x] * weight[x] * (1.0f - weight[x]);
            double lx = loss[x];
#pragma omp simd
            for (int k = 0; k < VNET_LANES; k++) {
                gw2[k] += ob * a[k];
                double a_bar = a[k] > 0.0f ? ob * w2[k] : 0.0;
                gw1[k] += a_bar * lx;
                gb1[k] += a_bar;
            }
        }
        for (int k = 0; k < m; k++) {
            net->gw2[j0 + k] += (float)gw2[k];
            net->gw1[j0 + k] += (float)gw1[k];
            net->gb1[j0 + k] += (float)gb1[k];
        }
    }
}
