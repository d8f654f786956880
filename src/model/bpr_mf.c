/* BPR-MF (update-strategies.md 1.2): s(u, i) = P_u . Q_i + b^U_u + b^I_i.
 *
 * Slots of triple (u, i, j), column 0 scoring (u, i) with dl/ds = -kappa and
 * column 1 scoring (u, j) with dl/ds = +kappa:
 *   user_emb   row u:  -kappa Q_i,   +kappa Q_j
 *   item_emb   rows i, j:  -kappa P_u,   +kappa P_u
 *   user_bias  row u:  -kappa,       +kappa   (they cancel in the sum)
 *   item_bias  rows i, j:  -kappa,   +kappa */
#include "model_internal.h"

#include "melon/nn.h"

enum { USER_EMB, ITEM_EMB, USER_BIAS, ITEM_BIAS };

static inline float dot(const float *a, const float *b, int d) {
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int k = 0; k < d; k++) acc += a[k] * b[k];
    return acc;
}

static inline float bpr_score_one(const melon_model *m, int32_t u,
                                  int32_t i) {
    int d = m->cfg.dim;
    const float *P = m->tensor[USER_EMB].value;
    const float *Q = m->tensor[ITEM_EMB].value;
    return dot(P + (size_t)u * d, Q + (size_t)i * d, d) +
           m->tensor[USER_BIAS].value[u] + m->tensor[ITEM_BIAS].value[i];
}

static void bpr_score(melon_model *m, const int32_t *users,
                      const int32_t *items, size_t n, float *out) {
    long count = (long)n;
#pragma omp parallel for schedule(static) if (count > 8192)
    for (long p = 0; p < count; p++)
        out[p] = bpr_score_one(m, users[p], items[p]);
}

static inline void scaled_copy(float *dst, const float *src, float scale,
                               int d) {
#pragma omp simd
    for (int k = 0; k < d; k++) dst[k] = scale * src[k];
}

static void bpr_forward_backward(melon_model *m, const melon_triple *triples,
                                 int n, melon_grads *g) {
    melon_check_triples(m, n, g);
    int d = m->cfg.dim;
    const float *P = m->tensor[USER_EMB].value;
    const float *Q = m->tensor[ITEM_EMB].value;
    for (int r = 0; r < n; r++) {
        const melon_triple *tr = &triples[r];
        float s0 = bpr_score_one(m, tr->user, tr->item);
        float s1 = bpr_score_one(m, tr->user, tr->negative);
        float delta = s0 - s1;
        float kappa = melon_sigmoid(-delta);
        g->loss[r] = melon_softplus(-delta);
        g->kappa[r] = kappa;

        const float *Pu = P + (size_t)tr->user * d;
        const float *Qi = Q + (size_t)tr->item * d;
        const float *Qj = Q + (size_t)tr->negative * d;
        float *user0 = g->slot[USER_EMB] + (size_t)(2 * r) * d;
        float *item0 = g->slot[ITEM_EMB] + (size_t)(2 * r) * d;
        scaled_copy(user0, Qi, -kappa, d);       /* dl/dP_u via s(u,i) */
        scaled_copy(user0 + d, Qj, kappa, d);    /* dl/dP_u via s(u,j) */
        scaled_copy(item0, Pu, -kappa, d);       /* dl/dQ_i */
        scaled_copy(item0 + d, Pu, kappa, d);    /* dl/dQ_j */
        g->slot[USER_BIAS][2 * r] = -kappa;
        g->slot[USER_BIAS][2 * r + 1] = kappa;
        g->slot[ITEM_BIAS][2 * r] = -kappa;
        g->slot[ITEM_BIAS][2 * r + 1] = kappa;
    }
    g->n = n;
}

static const melon_model_ops bpr_ops = {
    .name = "bpr",
    .score = bpr_score,
    .forward_backward = bpr_forward_backward,
    .observe = NULL,
    .free_impl = NULL,
};

int melon_bpr_create(melon_model *m, melon_err *err) {
    m->ops = &bpr_ops;
    int d = m->cfg.dim;
    /* Bias tables are embeddings of width 1 in the reference and share the
     * normal(0, init_std) initialisation; they are exempt from L2. */
    if (melon_model_add_tensor(m, "user_emb", MELON_USER_TABLE, m->n_users, d,
                               1, err) != 0 ||
        melon_model_add_tensor(m, "item_emb", MELON_ITEM_TABLE, m->n_items, d,
                               1, err) != 0 ||
        melon_model_add_tensor(m, "user_bias", MELON_USER_TABLE, m->n_users,
                               1, 0, err) != 0 ||
        melon_model_add_tensor(m, "item_bias", MELON_ITEM_TABLE, m->n_items,
                               1, 0, err) != 0)
        return -1;
    return 0;
}
