/* MetaSGD (Li et al. 2017) as an online update strategy
 * (update-strategies.md B.4): one learned learning rate alpha_m per
 * recommender parameter, Theta_{t+1} = Theta_t - alpha (.) grad L_B(Theta_t),
 * alpha meta-learned by Adam on the query loss after a trial step. Shared by
 * metasgd.c and the tests. */
#ifndef MELON_UPDATE_METASGD_H
#define MELON_UPDATE_METASGD_H

#include "update/update_internal.h"

#include "nn/meta_params.h"
#include "update/meta_trial.h"

typedef struct {
    melon_metasgd_config cfg;
    melon_meta_params alpha;    /* one block per tensor, its shape */
    /* Each block's initialisation stream, where its last entry's draw
     * ended: the rows a block grows by continue it. */
    melon_rng init_rng[MELON_MAX_TENSORS];
    char names[MELON_MAX_TENSORS][64];  /* "alpha.<tensor>" */
    melon_meta_trial trial;
    melon_meta_memory memory;   /* next-batch meta-data only */
    melon_grads slots;          /* the real update's batch */
    melon_sparse_grad grad;     /* its mean gradient */
    /* Table rows whose alpha got a meta-gradient in the last meta step
     * (touched by both S and Q); the gradient blocks are zero elsewhere. */
    int32_t n_meta_rows[MELON_MAX_TENSORS];
    int32_t *meta_rows[MELON_MAX_TENSORS];
    double meta_loss;
} metasgd_state;

/* With the frame's support set already run: the trial step
 * Theta' = Theta - alpha (.) grad L_S(Theta), the query loss at Theta'
 * (returned, model restored), and the exact gradient
 * d L_Q / d alpha = -grad L_S(Theta) (.) G written to the alpha blocks'
 * gradients (zero outside the rows touched by both S and Q). */
double metasgd_meta_gradient(metasgd_state *st, melon_context *ctx,
                             const melon_triple *query, int n_query);

/* One Adam step on alpha along the last meta-gradient: over the entries
 * that have one (lazy, default) or over every entry (cfg.dense_adam). */
void metasgd_meta_update(metasgd_state *st, const melon_model *m);

#endif
