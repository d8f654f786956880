/* The loss SML trains with (update-strategies.md B.6, "Loss and details of
 * the original"): the project's BPR loss by default, or the original's
 * pointwise log loss on one positive and one negative per interaction,
 *   l_r = -log sigmoid(s_r0) - log(1 - sigmoid(s_r1))
 *       = softplus(-s_r0) + softplus(s_r1),
 * averaged over the batch (the original's two means over the same number of
 * positives and negatives; its +1e-15 inside the logs only caps the loss
 * of a saturated score and is left out). Its slots follow model.h: column c
 * carries dl/ds_c times ds_c/dtheta at the row column c looks up, with
 * dl/ds_0 = -sigmoid(-s_0), dl/ds_1 = sigmoid(s_1), and BPR-MF's
 * ds/dP_u = Q_i, ds/dQ_i = P_u, ds/db = 1. */
#include "sml.h"

#include "nn/nn.h"

static void scaled_copy(float *dst, const float *src, float scale, int d) {
    for (int k = 0; k < d; k++) dst[k] = scale * src[k];
}

static void bce_forward_backward(sml_state *st, melon_model *m,
                                 const melon_triple *batch, int n,
                                 melon_grads *g) {
    int d = st->dim;
    for (int r = 0; r < n; r++) {
        st->pairs_user[2 * r] = st->pairs_user[2 * r + 1] = batch[r].user;
        st->pairs_item[2 * r] = batch[r].item;
        st->pairs_item[2 * r + 1] = batch[r].negative;
    }
    m->ops->score(m, st->pairs_user, st->pairs_item, (size_t)(2 * n),
                  st->pair_score);
    const float *P = m->tensor[st->tensor[SML_USERS]].value;
    const float *Q = m->tensor[st->tensor[SML_ITEMS]].value;
    float *user_slot = g->slot[st->tensor[SML_USERS]];
    float *item_slot = g->slot[st->tensor[SML_ITEMS]];
    float *user_bias = g->slot[st->bias[SML_USERS]];
    float *item_bias = g->slot[st->bias[SML_ITEMS]];
    for (int r = 0; r < n; r++) {
        float s0 = st->pair_score[2 * r], s1 = st->pair_score[2 * r + 1];
        g->loss[r] = melon_softplus(-s0) + melon_softplus(s1);
        g->kappa[r] = melon_sigmoid(-(s0 - s1)); /* unused by this loss */
        float delta[2] = {-melon_sigmoid(-s0), melon_sigmoid(s1)};
        const float *Pu = P + (size_t)batch[r].user * d;
        for (int c = 0; c < 2; c++) {
            size_t p = (size_t)(2 * r + c);
            int32_t item = c == 0 ? batch[r].item : batch[r].negative;
            scaled_copy(user_slot + p * d, Q + (size_t)item * d, delta[c], d);
            scaled_copy(item_slot + p * d, Pu, delta[c], d);
            user_bias[p] = delta[c];
            item_bias[p] = delta[c];
        }
    }
    g->n = n;
}

void sml_loss_forward_backward(sml_state *st, melon_model *m,
                               const melon_triple *batch, int n,
                               melon_grads *g) {
    if (st->cfg.loss == MELON_SML_BCE)
        bce_forward_backward(st, m, batch, n, g);
    else
        m->ops->forward_backward(m, batch, n, g);
}
