/* BPR-MF (update-strategies.md 1.2): s(u, i) = P_u . Q_i + b^U_u + b^I_i.
 *
 * Slots of triple (u, i, j), column 0 scoring (u, i) with dl/ds = -kappa and
 * column 1 scoring (u, j) with dl/ds = +kappa:
 *   user_emb   row u:  -kappa Q_i,   +kappa Q_j
 *   item_emb   rows i, j:  -kappa P_u,   +kappa P_u
 *   user_bias  row u:  -kappa,       +kappa   (they cancel in the sum)
 *   item_bias  rows i, j:  -kappa,   +kappa */
#include "model_internal.h"

#include "nn/nn.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

enum { USER_EMB, ITEM_EMB, USER_BIAS, ITEM_BIAS };

typedef struct {
    float *user_rows;  /* [MELON_SCORE_ITEMS_BLOCK][d]: P_u of a block */
} bpr_impl;

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

/* Full ranking: per block of users, S = b^U_u + b^I_j, then S += P_U Q^T,
 * one GEMM. */
static void bpr_score_items(melon_model *m, const int32_t *users, size_t n,
                            float *out) {
    bpr_impl *impl = m->impl;
    int d = m->cfg.dim;
    size_t n_items = (size_t)m->n_items;
    const float *P = m->tensor[USER_EMB].value;
    const float *Q = m->tensor[ITEM_EMB].value;
    const float *user_bias = m->tensor[USER_BIAS].value;
    const float *item_bias = m->tensor[ITEM_BIAS].value;
    for (size_t k0 = 0; k0 < n; k0 += MELON_SCORE_ITEMS_BLOCK) {
        size_t block = n - k0 < MELON_SCORE_ITEMS_BLOCK ? n - k0
                                                        : MELON_SCORE_ITEMS_BLOCK;
        float *rows = out + k0 * n_items;
        for (size_t k = 0; k < block; k++) {
            size_t u = (size_t)users[k0 + k];
            memcpy(impl->user_rows + k * (size_t)d, P + u * d,
                   (size_t)d * sizeof(float));
            float *row = rows + k * n_items;
            float bu = user_bias[u];
            for (size_t j = 0; j < n_items; j++) row[j] = bu + item_bias[j];
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)block,
                    (int)n_items, d, 1.0f, impl->user_rows, d, Q, d, 1.0f,
                    rows, (int)n_items);
    }
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

static void bpr_free(melon_model *m) {
    bpr_impl *impl = m->impl;
    if (!impl) return;
    free(impl->user_rows);
    free(impl);
    m->impl = NULL;
}

static const melon_model_ops bpr_ops = {
    .name = "bpr",
    .score = bpr_score,
    .score_items = bpr_score_items,
    .forward_backward = bpr_forward_backward,
    .observe = NULL,
    .free_impl = bpr_free,
};

int melon_bpr_create(melon_model *m, melon_err *err) {
    m->ops = &bpr_ops;
    int d = m->cfg.dim;
    bpr_impl *impl = melon_calloc(1, sizeof *impl, err);
    if (!impl) return -1;
    m->impl = impl;
    impl->user_rows = melon_alloc((size_t)MELON_SCORE_ITEMS_BLOCK * (size_t)d *
                                      sizeof(float), err);
    if (!impl->user_rows) return -1;
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
