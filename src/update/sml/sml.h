/* SML (Sequential Meta-Learning, Zhang et al., SIGIR 2020) as an online
 * update strategy on BPR-MF (update-strategies.md B.6). One period is one
 * batch. For the embedding rows B_{t-1} touched ("kept" rows) the strategy
 * keeps the old value w^prev and the new value w^; the deployed row is
 * f_Psi(w^prev, w^), a learned CNN transfer per side (users, items).
 *
 *   meta_step (transfer step, before the evaluation): one Adam step on Psi
 *     along the loss of B_t scored with f_Psi(w^prev, w^) on the kept rows
 *     (first-order: w^ held fixed); the deployed values are not refreshed.
 *   update (after it): refresh the kept rows with the new Psi; then for
 *     B_t's rows w^prev := deployed, w^ := the same, one Adam step on w^
 *     along L(f_Psi(w^prev, w^) | B_t) + lambda_1 |w^|^2 (back through the
 *     transfer), deploy f_Psi(w^prev, w^), and keep B_t's rows.
 *
 * The biases are not transferred: they take their Adam step with w^ and
 * are deployed as they are. With `inner` = N > 1 rounds, the meta step
 * alternates N - 1 more (w^ step on B_{t-1}, Psi step on B_t) pairs, as the
 * original's multi_num repeats its two steps for one period. Shared by
 * sml*.c and the tests. */
#ifndef MELON_UPDATE_SML_H
#define MELON_UPDATE_SML_H

#include "update/update_internal.h"

#include "nn/meta_params.h"
#include "sml_transfer.h"

enum { SML_USERS, SML_ITEMS, SML_SIDES };

/* The kept rows of one side: their table rows and old values w^prev; their
 * new values w^ are the rows of the shadow model. */
typedef struct {
    int tensor;          /* user_emb or item_emb */
    int32_t cap, n;
    int32_t *rows;       /* [cap] */
    int32_t *at;         /* [table rows]: index in rows, or -1 */
    float *w_prev;       /* [cap][d] */
} sml_kept;

/* A working list of rows of one side with gathered inputs and outputs. */
typedef struct {
    int32_t cap, n;
    int32_t *rows;       /* [cap] table rows */
    int32_t *kept;       /* [cap] their index among the kept rows */
    float *w_prev, *w_hat, *out, *saved, *d_out, *d_hat; /* [cap][d] */
} sml_rows;

typedef struct {
    melon_sml_config cfg;
    int dim;
    int tensor[SML_SIDES];       /* user_emb, item_emb */
    int bias[SML_SIDES];         /* user_bias, item_bias */
    melon_meta_params params;    /* 8 blocks per side */
    sml_net net[SML_SIDES];
    sml_acts acts[SML_SIDES];
    sml_kept kept[SML_SIDES];
    sml_rows work[SML_SIDES];
    melon_model shadow;          /* w^ and the biases' new values */
    melon_optimizer opt;         /* Adam on them (state kept across batches) */
    melon_grads slots;
    melon_sparse_grad grad;
    int32_t *pairs_user, *pairs_item; /* [2 max_batch] for BCE scores */
    float *pair_score;
    melon_triple *prev_batch;    /* B_{t-1}, for inner rounds */
    int n_prev;
    uint32_t *mark[SML_SIDES];   /* per table row: stamp of a batch */
    int32_t rows[SML_SIDES];     /* table rows mark and kept.at cover */
    int max_batch;
    uint32_t stamp;
    double meta_loss;            /* loss of the last transfer step */
} sml_state;

/* sml_loss.c: per-triple losses and slots (model.h layout) of the chosen
 * loss at the model's current values: BPR through the model, or the
 * original's pointwise log loss -log sigmoid(s+) - log(1 - sigmoid(s-)),
 * whose column c carries dl/ds_c ds_c/dtheta (BPR-MF's score). */
void sml_loss_forward_backward(sml_state *st, melon_model *m,
                               const melon_triple *batch, int n,
                               melon_grads *g);

/* The transfer step's loss on `query` with the kept rows scored through
 * the transfer (returned; the model is restored), and its gradient with
 * respect to both transfers, written (not added) to the blocks' gradients.
 * Returns NAN when no kept row is looked up (no gradient). */
double sml_transfer_gradient(sml_state *st, melon_model *m,
                             const melon_triple *query, int n);

/* One Adam step on w^ (and the biases) along the loss of `batch` scored
 * with f(w^prev, w^) on the kept rows it looks up; writes dL/dw^ of those
 * rows to work[side].d_hat first (for the tests). Leaves the model as it
 * was; returns the loss. */
double sml_new_values_step(sml_state *st, melon_model *m,
                           const melon_triple *batch, int n, int biases);

#endif
