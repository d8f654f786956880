/* MWNet (Meta-Weight-Net, Shu et al. 2019) as an online update strategy
 * (update-strategies.md B.3): a 1-hidden-1 MLP V(loss) gives every triple a
 * weight in (0, 1); the recommender takes one step of the Default optimiser
 * on the weighted mean loss, and V is meta-learned on the query loss after
 * a trial SGD step. Shared by mwnet.c, mwnet_net.c and the tests. */
#ifndef MELON_UPDATE_MWNET_H
#define MELON_UPDATE_MWNET_H

#include "update/update_internal.h"

#include "nn/meta_params.h"
#include "update/meta_trial.h"

/* The weight net V(l) = sigmoid(w2 . relu(w1 l + b1) + b2). */
typedef struct {
    int hidden;
    melon_meta_params params;   /* blocks w1, b1, w2 [hidden], b2 [1] */
    float *w1, *b1, *w2, *b2;   /* the blocks' values */
    float *gw1, *gb1, *gw2, *gb2; /* and gradients */
} mwnet_vnet;

/* PyTorch's default Linear init: w1, b1 ~ U(-1, 1) (fan-in 1), w2, b2 ~
 * U(-1/sqrt(hidden), 1/sqrt(hidden)); Adam with lr and weight decay on
 * every block (MW-Net.py). */
int mwnet_vnet_init(mwnet_vnet *net, int hidden, float meta_lr,
                    float meta_l2, melon_rng *rng, melon_err *err);
void mwnet_vnet_free(mwnet_vnet *net);
/* weight[x] = V(loss[x]); act ([n][hidden], may be NULL) keeps the hidden
 * activations for the backward. */
void mwnet_vnet_forward(const mwnet_vnet *net, const float *loss, int n,
                        float *act, float *weight);
/* Adds sum_x dweight[x] dV(loss[x])/dphi to the blocks' gradients. */
void mwnet_vnet_backward(mwnet_vnet *net, const float *loss, int n,
                         const float *act, const float *weight,
                         const float *dweight);

typedef struct {
    melon_mwnet_config cfg;
    float trial_lr;             /* eta_v of the trial step */
    mwnet_vnet net;
    melon_optimizer opt;        /* Default's optimiser, real update */
    melon_meta_trial trial;
    melon_meta_memory memory;   /* next-batch meta-data only */
    melon_grads slots;          /* the real update's batch */
    melon_sparse_grad grad;     /* weighted gradient (trial or real) */
    float *weight;              /* [2 max_batch] V of each triple */
    float *step_weight;         /* [2 max_batch] V / n, the gradient weights */
    float *act;                 /* [2 max_batch][hidden] */
    float *dweight;             /* [2 max_batch] dL_meta / dV */
    float *dot;                 /* [2 max_batch] <G, g_x> */
    float *dense_buf;           /* [4 max_batch][widest dense rows] */
    double meta_loss;           /* query loss of the last meta step */
} mwnet_state;

/* With the frame's support set already run (melon_meta_trial_support*):
 * the trial step Theta' = Theta - eta_v / n_S sum_x V_x g_x, the query loss
 * of `query` at Theta' (returned, and the model restored), and its exact
 * gradient with respect to w1, b1, w2, b2, written (not added) to the
 * blocks' gradients. */
double mwnet_meta_gradient(mwnet_state *st, melon_context *ctx,
                           const melon_triple *query, int n_query);

#endif
