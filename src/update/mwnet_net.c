/* The weight net of MWNet, V(l) = sigmoid(w2 . relu(w1 l + b1) + b2)
 * (update-strategies.md B.3, resnet.py VNet(1, hidden, 1)), and its
 * backward. */
#include "mwnet.h"

#include "melon/nn.h"

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

void mwnet_vnet_forward(const mwnet_vnet *net, const float *loss, int n,
                        float *act, float *weight) {
    int h = net->hidden;
    for (int x = 0; x < n; x++) {
        float l = loss[x];
        double o = net->b2[0];
        for (int j = 0; j < h; j++) {
            float a = fmaxf(net->w1[j] * l + net->b1[j], 0.0f);
            if (act) act[(size_t)x * h + j] = a;
            o += (double)net->w2[j] * a;
        }
        weight[x] = melon_sigmoid((float)o);
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
    for (int j = 0; j < h; j++) {
        double gw2 = 0.0, gw1 = 0.0, gb1 = 0.0;
        for (int x = 0; x < n; x++) {
            float a = act[(size_t)x * h + j];
            double o_bar = (double)dweight[x] * weight[x] * (1.0f - weight[x]);
            gw2 += o_bar * a;
            if (a > 0.0f) {
                double a_bar = o_bar * net->w2[j];
                gw1 += a_bar * loss[x];
                gb1 += a_bar;
            }
        }
        net->gw2[j] += (float)gw2;
        net->gw1[j] += (float)gw1;
        net->gb1[j] += (float)gb1;
    }
}
