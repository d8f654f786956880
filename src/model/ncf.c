/* NCF / NeuMF (update-strategies.md 1.3), every (user, item) pair a row of
 * a batch so each layer is one GEMM:
 *   m   = P^g_u (.) Q^g_i                    GMF branch
 *   h_0 = [P^h_u; Q^h_i],  h_l = ReLU(W_l h_{l-1})   (l = 1..L, no biases)
 *   s   = w_o . [m; h_L] + b^U_u + b^I_i
 * Every tensor starts from normal(0, init_std); the tower's W_l optionally
 * from He's normal(0, 2 / fan_in) (cfg.tower_init).
 * Backward for one pair with upstream delta = dl/ds:
 *   grad w_o = delta [m; h_L],  grad P^g_u = delta w_o[:d] (.) Q^g_i, ...
 *   e_L = delta w_o[d:] (.) [h_L > 0];  e_{l-1} = (W_l^T e_l) (.) [h_{l-1} > 0]
 *   grad P^h_u, grad Q^h_i = the two halves of W_1^T e_1.
 * A triple's column 0 is the pair (u, i) with delta = -kappa, column 1 the
 * pair (u, j) with delta = +kappa; pair p = 2 r + c is row p of every batch
 * matrix, which is exactly the slot layout of model.h.
 *
 * Threads: every row of every matrix above depends only on its own pair, so
 * a call splits its pairs into one contiguous block per OpenMP thread and
 * each thread runs the whole chain of GEMMs on its block (OpenBLAS runs
 * single-threaded inside the region). One synchronisation per call instead
 * of one per GEMM; results depend only on the seed and the thread count.
 *
 * The score workspace makes score() non-reentrant: one caller per model. */
#include "model_internal.h"

#include "nn/nn.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

enum { USER_GMF, ITEM_GMF, USER_MLP, ITEM_MLP, MLP_W1 };

static const char *const layer_names[MELON_MAX_LAYERS] = {
    "mlp_w1", "mlp_w2", "mlp_w3", "mlp_w4",
    "mlp_w5", "mlp_w6", "mlp_w7", "mlp_w8"};

typedef struct {
    int n_layers;                       /* L */
    int width[MELON_MAX_LAYERS + 1];    /* width[0] = 2d, width[l] = layer l */
    int out_tensor;                     /* index of out_w; biases follow */
    int pair_capacity;                  /* 2 * max_triples */
    int32_t *pair_user;                 /* [pair_capacity] */
    int32_t *pair_item;
    float *pair_score;
    /* Activations for score(): act[l] = h_l [pairs][width[l]] for l < L,
     * act[L] = [m; h_L] [pairs][d + width[L]]. forward_backward uses the
     * slot buffers' inputs instead, which have the same shapes. */
    float *act[MELON_MAX_LAYERS + 1];
    /* For score_items: a block of users' rows, their first-layer halves
     * W_1^U P^h_u, and the item halves W_1^I Q^h_j of a chunk of items per
     * thread ([pair_capacity][width[1]], split between the threads). */
    float *user_rows;                   /* [MELON_SCORE_ITEMS_BLOCK][d] */
    float *user_half;                   /* [MELON_SCORE_ITEMS_BLOCK][width[1]] */
    float *item_half;                   /* [pair_capacity][width[1]] */
} ncf_net;

/* Below this many pairs a call runs on the calling thread alone. */
#define PARALLEL_MIN_PAIRS 128

static inline int w_tensor(int l) { return MLP_W1 + l - 1; }

/* Row stride of act[l]: h_l, or [m; h_L] for the last one. */
static inline int act_width(const ncf_net *net, int d, int l) {
    return l < net->n_layers ? net->width[l] : d + net->width[l];
}

/* This thread's share [*begin, *end) of n units, contiguous and in order. */
static void thread_block(int n, int *begin, int *end) {
    int threads = omp_get_num_threads(), t = omp_get_thread_num();
    *begin = (int)((long)n * t / threads);
    *end = (int)((long)n * (t + 1) / threads);
}

/* Forward pass of n_pairs pairs, on the calling thread; act[] as in
 * ncf_net (pointing at the block's first row), scores into score. */
static void ncf_forward(const melon_model *m, const ncf_net *net,
                        const int32_t *users, const int32_t *items,
                        int n_pairs, float *const *act, float *score) {
    if (n_pairs <= 0) return;
    int d = m->cfg.dim;
    int L = net->n_layers;
    int last_ld = d + net->width[L];
    const float *Pg = m->tensor[USER_GMF].value;
    const float *Qg = m->tensor[ITEM_GMF].value;
    const float *Ph = m->tensor[USER_MLP].value;
    const float *Qh = m->tensor[ITEM_MLP].value;
    const float *user_bias = m->tensor[net->out_tensor + 1].value;
    const float *item_bias = m->tensor[net->out_tensor + 2].value;

    /* h_0 = [P^h_u; Q^h_i] and m = P^g_u (.) Q^g_i into act[L][:, :d] */
    for (int p = 0; p < n_pairs; p++) {
        size_t u = (size_t)users[p], i = (size_t)items[p];
        float *h0 = act[0] + (size_t)p * 2 * d;
        memcpy(h0, Ph + u * d, (size_t)d * sizeof(float));
        memcpy(h0 + d, Qh + i * d, (size_t)d * sizeof(float));
        float *gmf = act[L] + (size_t)p * last_ld;
        const float *pu = Pg + u * d, *qi = Qg + i * d;
#pragma omp simd
        for (int k = 0; k < d; k++) gmf[k] = pu[k] * qi[k];
    }
    /* h_l = ReLU(W_l h_{l-1}); h_L lands beside m in act[L] */
    for (int l = 1; l <= L; l++) {
        float *out = l < L ? act[l] : act[L] + d;
        int ld_out = l < L ? net->width[l] : last_ld;
        melon_linear_forward(n_pairs, net->width[l - 1], net->width[l],
                             act[l - 1], net->width[l - 1],
                             m->tensor[w_tensor(l)].value, net->width[l - 1],
                             out, ld_out);
        melon_relu_forward(n_pairs, net->width[l], out, ld_out);
    }
    /* s = w_o . [m; h_L] + b^U_u + b^I_i */
    cblas_sgemv(CblasRowMajor, CblasNoTrans, n_pairs, last_ld, 1.0f, act[L],
                last_ld, m->tensor[net->out_tensor].value, 1, 0.0f, score, 1);
    for (int p = 0; p < n_pairs; p++)
        score[p] += user_bias[users[p]] + item_bias[items[p]];
}

static void ncf_score(melon_model *m, const int32_t *users,
                      const int32_t *items, size_t n, float *out) {
    ncf_net *net = m->impl;
    int d = m->cfg.dim;
    for (size_t first = 0; first < n; first += (size_t)net->pair_capacity) {
        int chunk = n - first < (size_t)net->pair_capacity
                        ? (int)(n - first)
                        : net->pair_capacity;
#pragma omp parallel if (chunk >= PARALLEL_MIN_PAIRS)
        {
            int begin, end;
            thread_block(chunk, &begin, &end);
            float *act[MELON_MAX_LAYERS + 1];
            for (int l = 0; l <= net->n_layers; l++)
                act[l] = net->act[l] + (size_t)begin * act_width(net, d, l);
            ncf_forward(m, net, users + first + begin, items + first + begin,
                        end - begin, act, out + first + begin);
        }
    }
}

/* The tower and the biases of user k (of the block whose first-layer
 * halves are in net->user_half) with items [j0, j0 + n) whose halves are
 * in item_half, on the calling thread; adds them to out[j0 .. j0 + n).
 * act[] and tower as in ncf_forward, for this thread's rows. */
static void ncf_tower_items(const melon_model *m, const ncf_net *net, int k,
                            int32_t user, int j0, int n,
                            const float *item_half, float *const *act,
                            float *tower, float *out) {
    int d = m->cfg.dim;
    int L = net->n_layers;
    int w1 = net->width[1];
    int last_ld = d + net->width[L];
    const float *user_half = net->user_half + (size_t)k * w1;
    /* h_1 = ReLU(W_1^U P^h_u + W_1^I Q^h_j) */
    float *h1 = L > 1 ? act[1] : act[L] + d;
    int ld1 = L > 1 ? w1 : last_ld;
    for (int j = 0; j < n; j++) {
        const float *b = item_half + (size_t)j * w1;
        float *h = h1 + (size_t)j * ld1;
#pragma omp simd
        for (int c = 0; c < w1; c++) {
            float a = user_half[c] + b[c];
            h[c] = a > 0.0f ? a : 0.0f;
        }
    }
    for (int l = 2; l <= L; l++) {
        float *y = l < L ? act[l] : act[L] + d;
        int ld_y = l < L ? net->width[l] : last_ld;
        /* h_{l-1} with l - 1 < L is act[l - 1] */
        melon_linear_forward(n, net->width[l - 1], net->width[l], act[l - 1],
                             net->width[l - 1], m->tensor[w_tensor(l)].value,
                             net->width[l - 1], y, ld_y);
        melon_relu_forward(n, net->width[l], y, ld_y);
    }
    cblas_sgemv(CblasRowMajor, CblasNoTrans, n, net->width[L], 1.0f,
                act[L] + d, last_ld, m->tensor[net->out_tensor].value + d, 1,
                0.0f, tower, 1);
    const float *user_bias = m->tensor[net->out_tensor + 1].value;
    const float *item_bias = m->tensor[net->out_tensor + 2].value + j0;
    float bu = user_bias[user];
    for (int j = 0; j < n; j++) out[j0 + j] += tower[j] + bu + item_bias[j];
}

/* Full ranking. The first layer splits, W_1 [P^h_u; Q^h_j] = W_1^U P^h_u +
 * W_1^I Q^h_j, and the GMF term is (w_o[:d] (.) P^g_u) . Q^g_j. Per block
 * of users: the GMF scores of every item are one GEMM and the users'
 * first-layer halves another; then each thread takes chunks of items,
 * computes their halves (one GEMM) and runs the rest of the tower on each
 * (user, chunk) block. */
static void ncf_score_items(melon_model *m, const int32_t *users, size_t n,
                            float *out) {
    ncf_net *net = m->impl;
    int d = m->cfg.dim;
    int L = net->n_layers;
    int w1 = net->width[1];
    int n_items = m->n_items;
    const float *w_out = m->tensor[net->out_tensor].value;
    const float *Pg = m->tensor[USER_GMF].value;
    const float *Qg = m->tensor[ITEM_GMF].value;
    const float *Ph = m->tensor[USER_MLP].value;
    const float *Qh = m->tensor[ITEM_MLP].value;
    const float *W1 = m->tensor[MLP_W1].value;
    int threads = omp_get_max_threads();
    if (threads > net->pair_capacity) threads = net->pair_capacity;
    int chunk = net->pair_capacity / threads;  /* items per (user, chunk) */
    int n_chunks = (n_items + chunk - 1) / chunk;
    if (n_chunks < threads) threads = n_chunks;
    for (size_t k0 = 0; k0 < n; k0 += MELON_SCORE_ITEMS_BLOCK) {
        int block = n - k0 < MELON_SCORE_ITEMS_BLOCK ? (int)(n - k0)
                                                     : MELON_SCORE_ITEMS_BLOCK;
        float *rows = out + k0 * (size_t)n_items;
        /* GMF: S = (w_o[:d] (.) P^g_U) Q^g^T */
        for (int k = 0; k < block; k++) {
            const float *pu = Pg + (size_t)users[k0 + k] * d;
            float *g = net->user_rows + (size_t)k * d;
            for (int c = 0; c < d; c++) g[c] = w_out[c] * pu[c];
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, block, n_items,
                    d, 1.0f, net->user_rows, d, Qg, d, 0.0f, rows, n_items);
        /* the users' halves W_1^U P^h_u */
        for (int k = 0; k < block; k++)
            memcpy(net->user_rows + (size_t)k * d,
                   Ph + (size_t)users[k0 + k] * d, (size_t)d * sizeof(float));
        melon_linear_forward(block, d, w1, net->user_rows, d, W1, 2 * d,
                             net->user_half, w1);
#pragma omp parallel num_threads(threads) if (threads > 1)
        {
            int t = omp_get_thread_num();
            size_t row0 = (size_t)t * chunk;
            float *act[MELON_MAX_LAYERS + 1];
            for (int l = 0; l <= L; l++)
                act[l] = net->act[l] + row0 * act_width(net, d, l);
            float *item_half = net->item_half + row0 * w1;
            float *tower = net->pair_score + row0;
#pragma omp for schedule(static)
            for (int c = 0; c < n_chunks; c++) {
                int j0 = c * chunk;
                int len = n_items - j0 < chunk ? n_items - j0 : chunk;
                /* the items' halves W_1^I Q^h_j */
                melon_linear_forward(len, d, w1, Qh + (size_t)j0 * d, d,
                                     W1 + d, 2 * d, item_half, w1);
                for (int k = 0; k < block; k++)
                    ncf_tower_items(m, net, k, users[k0 + k], j0, len,
                                    item_half, act, tower,
                                    rows + (size_t)k * n_items);
            }
        }
    }
}

/* Backward of pairs [first, first + n_pairs), on the calling thread: their
 * forward activations are in g->input and delta_p = dl/ds_p in the out_w
 * slot; fills every other slot of those pairs. */
static void ncf_backward(const melon_model *m, const ncf_net *net, int first,
                         int n_pairs, melon_grads *g) {
    int d = m->cfg.dim;
    int L = net->n_layers;
    int last_ld = d + net->width[L];
    int out = net->out_tensor;
    const float *w_out = m->tensor[out].value;
    const float *Pg = m->tensor[USER_GMF].value;
    const float *Qg = m->tensor[ITEM_GMF].value;
    const float *delta = g->slot[out];

    for (int p = first; p < first + n_pairs; p++) {
        size_t u = (size_t)net->pair_user[p], i = (size_t)net->pair_item[p];
        float dp = delta[p];
        /* biases: dl/db = delta */
        g->slot[out + 1][p] = dp;
        g->slot[out + 2][p] = dp;
        /* GMF: m_bar = delta w_o[:d]; grad P^g_u = m_bar (.) Q^g_i, ... */
        float *gu = g->slot[USER_GMF] + (size_t)p * d;
        float *gi = g->slot[ITEM_GMF] + (size_t)p * d;
        const float *pu = Pg + u * d, *qi = Qg + i * d;
#pragma omp simd
        for (int k = 0; k < d; k++) {
            float m_bar = dp * w_out[k];
            gu[k] = m_bar * qi[k];
            gi[k] = m_bar * pu[k];
        }
        /* e_L = delta w_o[d:] (.) [h_L > 0] */
        int wL = net->width[L];
        const float *hL = g->input[out] + (size_t)p * last_ld + d;
        float *eL = g->slot[w_tensor(L)] + (size_t)p * wL;
        for (int k = 0; k < wL; k++)
            eL[k] = hL[k] > 0.0f ? dp * w_out[d + k] : 0.0f;
    }
    /* e_{l-1} = (W_l^T e_l) (.) [h_{l-1} > 0], for l = L..2 */
    size_t row0 = (size_t)first;
    for (int l = L; l >= 2; l--) {
        int in = net->width[l - 1];
        float *e_prev = g->slot[w_tensor(l - 1)] + row0 * in;
        melon_linear_backward_input(n_pairs, in, net->width[l],
                                    g->slot[w_tensor(l)] + row0 * net->width[l],
                                    net->width[l],
                                    m->tensor[w_tensor(l)].value, in, e_prev,
                                    in);
        melon_relu_backward(n_pairs, in, g->input[w_tensor(l)] + row0 * in,
                            in, e_prev, in);
    }
    /* h_bar_0 = W_1^T e_1, split into its user and item halves */
    const float *W1 = m->tensor[MLP_W1].value;
    const float *e1 = g->slot[MLP_W1] + row0 * net->width[1];
    melon_linear_backward_input(n_pairs, d, net->width[1], e1, net->width[1],
                                W1, 2 * d, g->slot[USER_MLP] + row0 * d, d);
    melon_linear_backward_input(n_pairs, d, net->width[1], e1, net->width[1],
                                W1 + d, 2 * d, g->slot[ITEM_MLP] + row0 * d,
                                d);
}

static void ncf_forward_backward(melon_model *m, const melon_triple *triples,
                                 int n, melon_grads *g) {
    melon_check_triples(m, n, g);
    ncf_net *net = m->impl;
    g->n = n;
    int d = m->cfg.dim;
    int L = net->n_layers;
    int out = net->out_tensor;
#pragma omp parallel if (2 * n >= PARALLEL_MIN_PAIRS)
    {
        /* This thread's triples [r0, r1) are pairs [2 r0, 2 r1). */
        int r0, r1;
        thread_block(n, &r0, &r1);
        for (int r = r0; r < r1; r++) {
            net->pair_user[2 * r] = triples[r].user;
            net->pair_user[2 * r + 1] = triples[r].user;
            net->pair_item[2 * r] = triples[r].item;
            net->pair_item[2 * r + 1] = triples[r].negative;
        }
        /* The forward writes its activations straight into the slot
         * inputs: h_{l-1} is the input of W_l, [m; h_L] the input of w_o. */
        size_t p0 = 2 * (size_t)r0;
        float *act[MELON_MAX_LAYERS + 1];
        for (int l = 1; l <= L; l++)
            act[l - 1] = g->input[w_tensor(l)] + p0 * act_width(net, d, l - 1);
        act[L] = g->input[out] + p0 * act_width(net, d, L);
        ncf_forward(m, net, net->pair_user + p0, net->pair_item + p0,
                    2 * (r1 - r0), act, net->pair_score + p0);

        float *delta = g->slot[out];
        for (int r = r0; r < r1; r++) {
            float diff = net->pair_score[2 * r] - net->pair_score[2 * r + 1];
            float kappa = melon_sigmoid(-diff);
            g->loss[r] = melon_softplus(-diff);
            g->kappa[r] = kappa;
            delta[2 * r] = -kappa;
            delta[2 * r + 1] = kappa;
        }
        ncf_backward(m, net, (int)p0, 2 * (r1 - r0), g);
    }
}

static void ncf_free(melon_model *m) {
    ncf_net *net = m->impl;
    if (!net) return;
    free(net->pair_user);
    free(net->pair_item);
    free(net->pair_score);
    for (int l = 0; l <= MELON_MAX_LAYERS; l++) free(net->act[l]);
    free(net->user_rows);
    free(net->user_half);
    free(net->item_half);
    free(net);
    m->impl = NULL;
}

static const melon_model_ops ncf_ops = {
    .name = "ncf",
    .score = ncf_score,
    .score_items = ncf_score_items,
    .forward_backward = ncf_forward_backward,
    .observe = NULL,
    .free_impl = ncf_free,
};

int melon_ncf_create(melon_model *m, melon_err *err) {
    m->ops = &ncf_ops;
    ncf_net *net = melon_calloc(1, sizeof *net, err);
    if (!net) return -1;
    m->impl = net;
    int d = m->cfg.dim;
    int L = m->cfg.layers.n;
    net->n_layers = L;
    net->width[0] = 2 * d;
    for (int l = 1; l <= L; l++) net->width[l] = m->cfg.layers.w[l - 1];
    net->out_tensor = MLP_W1 + L;

    if (melon_model_add_tensor(m, "user_gmf", MELON_USER_TABLE, m->n_users,
                               d, 1, err) != 0 ||
        melon_model_add_tensor(m, "item_gmf", MELON_ITEM_TABLE, m->n_items,
                               d, 1, err) != 0 ||
        melon_model_add_tensor(m, "user_mlp", MELON_USER_TABLE, m->n_users,
                               d, 1, err) != 0 ||
        melon_model_add_tensor(m, "item_mlp", MELON_ITEM_TABLE, m->n_items,
                               d, 1, err) != 0)
        return -1;
    for (int l = 1; l <= L; l++) {
        /* He et al. (2015): normal(0, 2 / fan_in) keeps E[a_l^2] constant
         * through the ReLU layers (docs/ncf-tower.md) */
        float std = m->cfg.tower_init == MELON_TOWER_HE
                        ? sqrtf(2.0f / (float)net->width[l - 1])
                        : m->cfg.init_std;
        if (melon_model_add_tensor_std(m, layer_names[l - 1], MELON_DENSE,
                                       net->width[l], net->width[l - 1], 1,
                                       std, err) != 0)
            return -1;
    }
    if (melon_model_add_tensor(m, "out_w", MELON_DENSE, 1, d + net->width[L],
                               1, err) != 0 ||
        melon_model_add_tensor(m, "user_bias", MELON_USER_TABLE, m->n_users,
                               1, 0, err) != 0 ||
        melon_model_add_tensor(m, "item_bias", MELON_ITEM_TABLE, m->n_items,
                               1, 0, err) != 0)
        return -1;

    size_t pairs = 2 * (size_t)m->max_triples;
    net->pair_capacity = (int)pairs;
    net->pair_user = melon_alloc(pairs * sizeof(int32_t), err);
    net->pair_item = melon_alloc(pairs * sizeof(int32_t), err);
    net->pair_score = melon_alloc(pairs * sizeof(float), err);
    if (!net->pair_user || !net->pair_item || !net->pair_score) return -1;
    for (int l = 0; l <= L; l++) {
        size_t width = l < L ? (size_t)net->width[l]
                             : (size_t)(d + net->width[L]);
        net->act[l] = melon_alloc(pairs * width * sizeof(float), err);
        if (!net->act[l]) return -1;
    }
    size_t w1 = (size_t)net->width[1];
    net->user_rows = melon_alloc((size_t)MELON_SCORE_ITEMS_BLOCK * (size_t)d *
                                     sizeof(float), err);
    net->user_half = melon_alloc((size_t)MELON_SCORE_ITEMS_BLOCK * w1 *
                                     sizeof(float), err);
    net->item_half = melon_alloc(pairs * w1 * sizeof(float), err);
    if (!net->user_rows || !net->user_half || !net->item_half) return -1;
    return 0;
}
