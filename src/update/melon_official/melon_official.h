/* MeLON as the authors' code implements it (update-strategies.md A.3-A.6):
 * the pieces of one call of A.4 — the pairs and the nodes they look up, the
 * GAT with self/neighbour projections, the interaction MLP with BatchNorm,
 * the gates and the fused proposals — and their backward passes (A.5).
 * Internal to src/update; the tests include it to reach each piece.
 *
 * Vocabulary. A call processes R triples (the support set S_t in the meta
 * step, the batch B_t in the real update); pair q = 2 r + c is column c of
 * triple r (c = 0 scores (u, i), c = 1 scores (u, j)), N = 2 R pairs. A node
 * is a distinct user (side OFFICIAL_USER) or item (OFFICIAL_ITEM) among the
 * pairs; a node is also the row every table of its side has for it, so the
 * node's pair count is the o_k of the mean aggregation (A.3 item 7). */
#ifndef MELON_OFFICIAL_H
#define MELON_OFFICIAL_H

#include "model/grad.h"
#include "melon/history.h"
#include "nn/meta_params.h"
#include "nn/nn.h"
#include "nn/vmath.h"
#include "update/meta_trial.h"
#include "melon/model.h"
#include "update/strategy.h"

#include <math.h>
#include <omp.h>

#define OFFICIAL_SLOPE 0.01f   /* LeakyReLU of the attention (A.3 item 5) */
#define OFFICIAL_BN_EPS 1e-5f  /* BatchNorm epsilon (A.3 item 4) */

enum { OFFICIAL_USER, OFFICIAL_ITEM, OFFICIAL_SIDES };

/* Meta-parameter blocks. The GAT's six blocks repeat per side:
 * OB_GAT(side, OB_ATT) etc. */
enum {
    OB_ATT,     /* a: [a_nb; a_self], 2 d_node (attention logit, A.3 item 5) */
    OB_SELF_W,  /* S: d x d_node */
    OB_SELF_B,  /* s: d */
    OB_NB_W,    /* N: d x d_node */
    OB_NB_B,    /* n: d */
    OB_OUT_W,   /* F: d x 2d, no bias */
    OB_GAT_BLOCKS
};
#define OB_GAT(side, which) ((side) * OB_GAT_BLOCKS + (which))
enum {
    OB_L1_W = OFFICIAL_SIDES * OB_GAT_BLOCKS, /* L1: hw x 2d */
    OB_L1_B,                                  /* hw */
    OB_BN1_G, OB_BN1_B,                       /* BatchNorm 1: gamma, beta */
    OB_L2_W, OB_L2_B,                         /* L2: hw x hw, hw */
    OB_BN2_G, OB_BN2_B,
    OB_ROLE_W,  /* A: zw x 4 (role map z = A p + a, A.3 item 3) */
    OB_ROLE_B,  /* a: zw */
    OB_GATE_F,  /* w_F = [w_F^(z); w_F^(h)] */
    OB_GATE_I,  /* w_I */
    OB_GATE_F_B, OB_GATE_I_B, /* b_F, b_I */
    OB_COUNT
};

typedef struct {
    int d_node;   /* node feature width: the side's embedding tables */
    int d;        /* GAT output width: the model's embedding size */
    int hw;       /* width of the interaction vector h (meta_emb_size 20) */
    int zw;       /* width of the role vector z (20) */
    int has_p;    /* gates see the role vector (not melon-i) */
    int has_h;    /* gates see the interaction vector (not melon-p) */
} official_dims;

typedef struct {
    official_dims dims;
    melon_meta_params mp;
    float *value[OB_COUNT];  /* NULL for blocks the ablation drops */
    float *grad[OB_COUNT];
} official_params;

/* Creates the blocks the ablation keeps and initialises them as the
 * reference does (A.6), from the generator `rng`. */
int official_params_init(official_params *p, const official_dims *dims,
                         const melon_meta_adam_config *adam, melon_rng *rng,
                         melon_err *err);
void official_params_free(official_params *p);
/* The gate weights' role part w^(z) and interaction part w^(h) (NULL when
 * absent). */
float *official_gate_z(const official_params *p, int block, int grad);
float *official_gate_h(const official_params *p, int block, int grad);

/* Which model tensors are node features: every table of a side wider than
 * one column, concatenated in tensor order (BPR-MF: user_emb / item_emb;
 * NCF: [user_gmf; user_mlp] / [item_gmf; item_mlp]); biases are not. */
typedef struct {
    int n_tables[OFFICIAL_SIDES];
    int table[OFFICIAL_SIDES][MELON_MAX_TENSORS];
    int width[OFFICIAL_SIDES];
} official_features;

int official_features_init(official_features *f, const melon_model *m,
                           melon_err *err);
/* Copies node `id`'s feature row of `side` into out[width]. */
void official_features_gather(const official_features *f,
                              const melon_model *m, int side, int32_t id,
                              float *out);
/* Asks for a node's feature rows ahead of their gather (a hint: on tables
 * far larger than the caches the gathers wait for memory otherwise). */
void official_features_prefetch(const official_features *f,
                                const melon_model *m, int side, int32_t id);

/* One side of the call: its nodes, their sampled neighbours, and the GAT's
 * activations (A.3 items 5-6). */
typedef struct {
    int cap_nodes, cap_edges;
    int n_nodes, n_edges;
    int32_t *node_id;      /* [cap_nodes] in order of first look-up */
    int32_t *n_pairs;      /* [cap_nodes] pairs that look the node up (o_k) */
    int32_t *index_of;     /* [table rows] node index, -1 when absent */
    int32_t index_rows;    /* table rows index_of covers */
    int32_t *edge_begin;   /* [cap_nodes + 1] node j's edges */
    int32_t *edge_id;      /* [cap_edges] neighbour ids (other side) */
    float *self;           /* [cap_nodes][d_node] e_self */
    float *nb;             /* [cap_edges][d_node] e_nb */
    float *pi, *alpha;     /* [cap_edges] logits before LeakyReLU, weights */
    float *mu;             /* [cap_nodes][d_node] attention aggregate */
    float *cat;            /* [cap_nodes][2d] ReLU(S e + s) | ReLU(N mu + n) */
    float *out;            /* [cap_nodes][d] o = ReLU(F cat) */
    float *out_grad;       /* [cap_nodes][d] */
    float *cat_grad;       /* [cap_nodes][2d] */
    float *mu_grad;        /* [cap_nodes][d_node] */
    float *edge_grad;      /* [cap_edges] d meta-loss / d pi */
    float *node_grad;      /* [cap_nodes] sum of its edges' edge_grad */
} official_side;

/* The interaction MLP over the N pairs (A.3 item 4):
 * h = ReLU(BN2(L2 ReLU(BN1(L1 v + b1)) + b2)), v = [o_u; o_v]. */
typedef struct {
    int cap, n;
    float *v;                  /* [cap][2d] */
    float *xhat1, *act1;       /* [cap][hw] BN1 normalised input, ReLU out */
    float *xhat2, *h;          /* [cap][hw] */
    float *inv_std1, *inv_std2; /* [hw] 1 / sqrt(var + eps) */
    double *stats;             /* [2 hw] column sums */
    float *h_grad;             /* [cap][hw] d meta-loss / d h */
    float *scratch_a, *scratch_b; /* [cap][hw] backward */
    float *v_grad;             /* [cap][2d] */
} official_mlp;

/* Per-pair sums of the fused meta-gradient loop (A.5 step 4):
 * Sigma^F, Pi^F[2], Pi^F[3], Sigma^I, Pi^I[2], Pi^I[3] (Pi[0], Pi[1] are
 * rho(L) times Sigma, the loss feature being shared by the call). */
enum { PS_F, PS_F1, PS_F2, PS_I, PS_I1, PS_I2, PS_COUNT };

/* log|x| and eps / |x| (deltas e, rows) or 1 / |x| (inputs h, cols) of a
 * dense tensor's per-pair slots, zeros where x = 0, so that rho(e_a h_b)
 * costs a few multiply-adds per coordinate (the gradient of a dense
 * coordinate is never stored: g = e_a h_b). */
typedef struct {
    float *e_log, *e_inv;   /* [cap_pairs][rows] */
    float *h_log, *h_inv;   /* [cap_pairs][cols] */
    float *h_max;           /* [cap_pairs]: max_b |h_b| */
} official_dense_logs;

/* One dense row a of pair q in the fused loops: g = e_a h_b at column b. */
typedef struct {
    const float *h, *h_log, *h_inv;  /* the pair's inputs and their tables */
    float e, e_log, e_inv;           /* the row's delta and its tables */
} official_dense_row;

/* Whether every coordinate of the row has |g| < e^-10, where rho(g) is
 * (-1, e^10 g): rounding is monotonic, so |e_a| max_b |h_b| bounds every
 * |e_a h_b| as computed. On NCF at least 95% of rows are such rows. */
static inline int official_row_is_linear(const official_dense_row *d,
                                         float h_max) {
    return fabsf(d->e) * h_max < MELON_PREPROCESS_MIN;
}

/* rho(g) at column b (Eq. 11's preprocessing) from the log tables; with
 * `linear` (a constant where this is inlined) the same values without the
 * log's work. */
static inline __attribute__((always_inline)) void
official_dense_rho(const official_dense_row *d, int b, float g, float *rho1,
                   float *rho2, const int linear) {
    if (linear) {
        *rho1 = -1.0f;
        *rho2 = MELON_PREPROCESS_SCALE * g;
        return;
    }
    float log_g = VM_FMA(d->e_inv, d->h_inv[b], d->e_log + d->h_log[b]);
    vm_preprocess_of_log(g, log_g, rho1, rho2);
}

/* The fused dense loops work on blocks of rows of one tensor, small enough
 * that the block's sums stay in cache while every pair streams past. */
#define OFFICIAL_BLOCK_FLOATS 2048

typedef struct {
    const melon_model *model;
    official_dims dims;
    official_features features;
    int max_edge;
    melon_neighbor_mode neighbors;
    int cap_pairs, cap_nodes, max_threads;

    /* the current call */
    int n_triples, n_pairs;
    const melon_triple *triples;
    const melon_grads *slots;
    float rho_loss[2];          /* rho of the call's mean loss */
    int32_t *pair_node[OFFICIAL_SIDES]; /* [cap_pairs] node of each pair */
    official_side side[OFFICIAL_SIDES];
    official_mlp mlp;

    /* gates (A.4 step 4): f = base_F[q] + u_F[2] rho1 + u_F[3] rho2 */
    float u_F[4], u_I[4];       /* A^T w^(z) */
    float *base_F, *base_I;     /* [cap_pairs] */
    float *forget_zero;         /* [cap_pairs] sigma(f) where g = 0 */

    /* theta at the call: table rows by node, dense tensors whole */
    float *theta[MELON_MAX_TENSORS];
    official_dense_logs logs[MELON_MAX_TENSORS];

    /* dense tasks (row blocks), split over threads by their size */
    int n_tasks;
    int16_t *task_tensor;       /* [n_tasks] */
    int32_t *task_row;          /* first row */
    int32_t *task_rows;         /* rows in the block */

    float *proposal[MELON_MAX_TENSORS]; /* tables: [cap_pairs][cols] */
    float *row_sum[MELON_MAX_TENSORS];  /* tables: [cap_nodes][cols] */
    int block_floats;           /* largest task: OFFICIAL_BLOCK_FLOATS, or a
                                   row wider than that */
    float *thread_block;        /* [max_threads][4 block_floats] */
    double *pair_sums;          /* [cap_pairs][PS_COUNT] */
    double *thread_sums;        /* [max_threads][cap_pairs][PS_COUNT] */
} official_call;

/* cap_triples: the most triples one call processes (the support set). */
int official_call_init(official_call *c, const melon_model *m,
                       const official_dims *dims, int max_edge,
                       melon_neighbor_mode neighbors, int cap_triples,
                       melon_err *err);
void official_call_free(official_call *c);
/* The model's tables have grown: their new rows are in no call. */
int official_call_grow(official_call *c, const melon_model *m, melon_err *err);

/* A.4 steps 1-4 up to the proposals: indexes the pairs' nodes, copies
 * theta, samples each node's neighbours before stream position `before`
 * (drawing from rng), runs the GAT and the MLP (when the gates see h) and
 * the gates' per-pair terms. slots holds the triples' losses and slot
 * gradients at the model's current values. */
void official_call_prepare(official_call *c, const official_params *p,
                           const melon_triple *triples, int n,
                           const melon_grads *slots,
                           const melon_history *history, size_t before,
                           melon_rng *rng);

/* The pieces of prepare, in order (the tests drive them one by one). */
void official_call_index(official_call *c, const melon_triple *triples,
                         int n, const melon_grads *slots);
void official_call_sample(official_call *c, const melon_history *history,
                          size_t before, melon_rng *rng);
void official_call_interaction(official_call *c, const official_params *p);
void official_call_gates(official_call *c, const official_params *p);

/* Below this many nodes (both sides) the GAT and the MLP run on one
 * thread. */
#define OFFICIAL_PARALLEL_NODES 128
/* Rows asked for this many gathers ahead (official_features_prefetch). */
#define OFFICIAL_PREFETCH_AHEAD 8

/* GAT (melon_official_gat.c): forward of both sides over their sampled
 * nodes (gathering the features), and the backward from the sides'
 * out_grad, adding to p->grad. Called by every thread of a parallel
 * region (or outside one): each thread takes a block of each side's nodes
 * (the GEMMs of a block run single-threaded inside the region), and in the
 * backward, after a barrier, a block of the weights' rows, every gradient
 * entry being summed by one thread over all nodes. */
void official_gat_forward(official_call *c, const official_params *p);
void official_gat_backward(official_call *c, official_params *p);

/* Interaction MLP (melon_official_mlp.c): from the sides' outputs to
 * mlp.h; backward from mlp.h_grad to the sides' out_grad. */
void official_mlp_forward(official_call *c, const official_params *p);
void official_mlp_backward(official_call *c, official_params *p);

/* A.4 step 5: writes the mean of the pairs' proposals
 * c = sigma(f) theta - sigma(iota) g into every table row the pairs look up
 * and into every dense coordinate (melon_official_gates.c). */
void official_call_apply(official_call *c, melon_model *m);

/* Below this many (pair, coordinate) evaluations a call's fused loops run
 * on one thread: a parallel region costs more than it saves there. */
#define OFFICIAL_PARALLEL_WORK 200000L

/* (pair, coordinate) evaluations of the current call. */
long official_call_work(const official_call *c);

/* Threads of the fused loops: the current team size, at most the count
 * the per-thread buffers were sized for. */
static inline int official_team_size(const official_call *c) {
    int t = omp_get_max_threads();
    return t < c->max_threads ? t : c->max_threads;
}

/* Thread t's share [*first, *end) of the dense tasks when `threads`
 * threads split them: contiguous, balanced by size, fixed for a given
 * thread count (so every reduction over threads is deterministic). */
void official_thread_tasks(const official_call *c, int threads, int t,
                           int *first, int *end);

/* Learning rate sigma(iota) of pair q for coordinate m given the
 * coordinate's per-pair gradient g (for the Figure 4 dump). */
float official_input_gate(const official_call *c, int q, float g);

/* A.5: adds d meta-loss / d phi to p->grad, given
 * G = d meta-loss / d Theta' (rows of table tensors, dense tensors whole)
 * for the call last prepared (melon_official_meta_grad.c). */
void official_meta_gradient(official_call *c, official_params *p,
                            const melon_sparse_grad *G);

/* The strategy's pieces (melon_official.c), for the tests. */
/* First half of a meta step: the support set S_t and one call of A.4 on it;
 * the trial values Theta' stay in the model. */
int official_strategy_trial(melon_strategy *s, melon_context *ctx,
                            const melon_triple *batch, int n, melon_err *err);
/* A meta step without its Adam step: the meta-gradient is left in the
 * blocks' grad, the model holds Theta_t again. */
int official_strategy_meta_gradient(melon_strategy *s, melon_context *ctx,
                                    const melon_triple *batch, int n,
                                    melon_err *err);
official_params *official_strategy_params(melon_strategy *s);
const official_call *official_strategy_call(const melon_strategy *s);
const melon_meta_trial *official_strategy_meta_trial(const melon_strategy *s);

#endif
