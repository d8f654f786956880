/* SML's CNN transfer f_Psi(w, w^) (update-strategies.md B.6; Zhang et al.
 * 2020, `ConvTransfer_com` / `one_transfer` of zyang1580/SML), one network
 * for user rows and one for item rows. For a row with old vector w and new
 * vector w^ (width d), with gelu(x) = x sigmoid(1.702 x):
 *
 *   H    = [w; w^; (w (.) w^) / |w|_2]             3 x d, row 3 detached
 *   a1   = K1 H + beta1      (10 filters 3x1)      z1 = gelu(a1)   10 x d
 *   a2   = K2 z1 + beta2     (5 filters 1x1)       z2 = gelu(a2)    5 x d
 *   a3   = F1 vec(z2) + phi1 (vec channel-major)   z3 = gelu(a3)  h (512)
 *   out  = F2 z3 + phi2                                                 d
 *
 * A call runs R rows as a batch: the convolutions row by row (threads over
 * rows), the two dense layers as GEMMs over the rows. */
#ifndef MELON_SML_TRANSFER_H
#define MELON_SML_TRANSFER_H

#include "melon/common.h"

#include <stddef.h>

#define SML_CONV1 10     /* filters of the 3x1 convolution */
#define SML_CONV2 5      /* filters of the 1x1 convolution */

enum { SML_K1, SML_B1, SML_K2, SML_B2, SML_F1, SML_P1, SML_F2, SML_P2,
       SML_N_BLOCKS };

/* Sizes of the eight parameter blocks for row width d and dense width h. */
void sml_block_sizes(int d, int hidden, size_t size[SML_N_BLOCKS]);

/* One network: its blocks' values and gradients (the gradients may be
 * NULL for a network that is only run forward or back to its input). */
typedef struct {
    int dim, hidden;
    float *w[SML_N_BLOCKS];
    float *g[SML_N_BLOCKS];
} sml_net;

/* PyTorch's default init of Conv2d and Linear: weights and biases
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in 3, 10, 5d and h. */
void sml_net_init(sml_net *net, melon_rng *rng);

/* Activations of up to `cap` rows. */
typedef struct {
    int cap;
    float *h;        /* [cap][3][d] */
    float *a1, *z1;  /* [cap][10][d] */
    float *a2, *z2;  /* [cap][5][d] */
    float *a3, *z3;  /* [cap][h] */
    float *d3;       /* [cap][h] backward scratch */
    float *d2;       /* [cap][5d] */
    float *d1;       /* [cap][10][d] */
    float *conv_grad;/* [cap][conv floats]: per-row K1, beta1, K2, beta2 */
    float *memory;
} sml_acts;

int sml_acts_init(sml_acts *a, int dim, int hidden, int cap, melon_err *err);
void sml_acts_free(sml_acts *a);

/* out[r] = f(w_prev[r], w_hat[r]) for R <= cap rows ([R][d] each). */
void sml_transfer_forward(const sml_net *net, int R, const float *w_prev,
                          const float *w_hat, sml_acts *a, float *out);

/* Back-propagates d_out ([R][d], dL/dout) through the last forward: adds
 * the parameter gradients to net->g (when weights != 0) and writes
 * dL/dw^ to d_hat ([R][d], may be NULL). The input gradient flows through
 * H's second row only: w is an old value, and w^ is detached in the third
 * (update-strategies.md B.6). */
void sml_transfer_backward(sml_net *net, int R, sml_acts *a,
                           const float *d_out, int weights, float *d_hat);

#endif
