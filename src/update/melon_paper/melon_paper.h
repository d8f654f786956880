/* MeLON as the paper defines it (Eq. 8-13; update-strategies.md A.1, A.2,
 * A.7), shared by its files:
 *
 *   melon_paper.c              meta-parameters, the strategy's operations
 *   melon_paper_interaction.c  Step I: GAT and interaction representation
 *                              h_x (Eq. 8-10), forward and backward
 *   melon_paper_role.c         Step II-III kernels: role MLP (Eq. 11) and
 *                              the rate w = sigma(w_lr . [h_x; h_theta] +
 *                              b_lr) (Eq. 12) over blocks of pairs
 *   melon_paper_pairs.c        enumeration of the (interaction, parameter)
 *                              pairs of a call into blocks
 *   melon_paper_update.c       the fused update of Eq. 13 with the mean or
 *                              sum over interactions (Eq. 5), rate sinks
 *   melon_paper_meta.c         the meta step: trial update, query gradient
 *                              and the exact one-step hypergradient
 *
 * A call processes a set of triples (u, i, j) at the current parameters:
 * the support set S_t in the meta step, the batch B_t in the update. A pair
 * (r, m) is a triple r and a coordinate m it touches (selective update: its
 * user's rows of user tables, rows i and j of item tables, every dense
 * weight); g_{r,m} is the per-triple gradient (sum of the two slot columns).
 * Coordinates of a call are numbered in a flat space: every dense tensor
 * whole, then for each table the rows the call touched, in the order of the
 * call's sparse gradient. */
#ifndef MELON_UPDATE_MELON_PAPER_H
#define MELON_UPDATE_MELON_PAPER_H

#include "update/update_internal.h"

#include "nn/attention.h"
#include "update/lr_matrix.h"
#include "nn/meta_params.h"
#include "update/meta_trial.h"

#define PAPER_BLOCK 128            /* pairs per role-MLP block */
#define PAPER_LANES 16             /* floats per vector in the kernels */
/* A block's arrays have room for one vector past the block, so pairs can
 * be appended a vector at a time. */
#define PAPER_BLOCK_ROOM (PAPER_BLOCK + PAPER_LANES)
#define PAPER_MAX_ROLE_LAYERS 8
#define PAPER_MAX_ROLE_INPUTS 6    /* [theta or rho(theta), rho(L), rho(g)],
                                      Eq. 11 */

/* ---------------------------------------------------------------------- */
/* Meta-parameters psi. */

typedef struct {
    melon_ablation ablation;
    int has_interaction;   /* h_x enters Eq. 12 (not melon-p) */
    int has_role;          /* h_theta enters Eq. 12 (not melon-i) */
    int node_dim;          /* D: width of a node feature */
    int ext_width;         /* E: width of an extended embedding */
    int h_width;           /* H: width of h_x */
    int role_width;        /* width of the role MLP layers */
    int role_layers;
    int role_inputs;       /* 5: [theta, rho(L), rho(g)]; 6 with rho(theta) */
    int empty_self;        /* a node without history aggregates itself */
    melon_meta_params mp;
    /* Blocks of mp (NULL when the ablation drops them). a_user is
     * [a_self; a_nb], each D wide: the paper's a_U^T [e_u; e_i']. */
    melon_meta_block *a_user, *a_item;
    melon_meta_block *w_user, *b_user;   /* [E][2D], [E] */
    melon_meta_block *w_item, *b_item;
    melon_meta_block *w_x, *b_x;         /* [H][2E], [H] */
    melon_meta_block *role_w[PAPER_MAX_ROLE_LAYERS]; /* [W][inputs], then
                                                        [W][W] */
    melon_meta_block *role_b[PAPER_MAX_ROLE_LAYERS]; /* [W] */
    melon_meta_block *w_lr;  /* [H (if has_interaction); W (if has_role)] */
    melon_meta_block *b_lr;  /* [1] */
} paper_params;

int paper_params_init(paper_params *p, const melon_melon_config *c,
                      melon_ablation ablation, int node_dim, int ext_width,
                      uint64_t seed, melon_err *err);
void paper_params_free(paper_params *p);

/* ---------------------------------------------------------------------- */
/* Step I: interaction representation (Eq. 8-10). */

typedef struct {
    int node_dim, ext_width, h_width, max_edge, max_triples;
    int threads;                            /* that run Step I: 1 or 2 */
    int empty_self;                         /* no history: aggregate self */
    int n_user_tensors, n_item_tensors;     /* tables concatenated into a */
    int user_tensor[4], item_tensor[4];     /* node feature */
    /* The call's distinct users and positive items, first-seen order. */
    int n_users, n_items;
    int32_t *user_id, *item_id;             /* [max_triples] */
    int32_t *user_of, *item_of;             /* [max_triples] per triple */
    int32_t *user_index, *item_index;       /* [n_users], [n_items] of the
                                               model; -1 = not in the call */
    int32_t index_users, index_items;       /* rows those cover */
    int32_t *user_nb, *item_nb;             /* [max_triples][max_edge] */
    int *user_n_nb, *item_n_nb;             /* [max_triples] */
    float *user_pi, *user_alpha, *user_dpi; /* [max_triples][max_edge] */
    float *item_pi, *item_alpha, *item_dpi;
    float *user_dpi_sum, *item_dpi_sum;     /* [max_triples] */
    float *x_user, *x_item;                 /* [.][2D]: [e; sum alpha e'] */
    float *ext_user, *ext_item;             /* [.][E] after ReLU, Eq. 8 */
    float *x_pair;                          /* [max_triples][2E] */
    float *h;                               /* [max_triples][H], Eq. 10 */
    float *eta;                             /* [max_triples]: w_lr,h . h + b_lr */
    /* backward scratch */
    float *dh, *dx_pair, *dext_user, *dext_item, *dx_user, *dx_item;
    float *nb_buf;                          /* [threads][max_edge][D]: a
                                               node's neighbour features */
} paper_interaction;

int paper_interaction_init(paper_interaction *it, const melon_model *m,
                           const paper_params *p, int max_triples,
                           int max_edge, melon_err *err);
void paper_interaction_free(paper_interaction *it);
/* The model's tables have grown: their new rows are in no call. */
int paper_interaction_grow(paper_interaction *it, const melon_model *m,
                           melon_err *err);
/* Step I for n triples runs in two parts. First, on one thread, the
 * call's distinct nodes and their neighbours, drawn from the history
 * strictly before stream position `before`. */
void paper_interaction_sample(paper_interaction *it, const melon_history *h,
                              size_t before, melon_neighbor_mode mode,
                              melon_rng *rng, const melon_triple *triples,
                              int n);
/* Then h_r and eta_r, called by every thread of a parallel region (it
 * holds barriers); the region's other work may follow it at once, so a
 * region start is shared. */
void paper_interaction_forward_team(paper_interaction *it,
                                    const paper_params *p,
                                    const melon_model *m, float slope, int n);
/* Adds to p's gradients the effect of d_eta[r] = dL/d eta_r through Eq.
 * 12's h_x part, Eq. 10, 8 and 9 (b_lr excluded: the role kernels count
 * it); called by every thread of a parallel region, once every d_eta is
 * in place. Uses the forward's caches and the model's current embeddings,
 * which must be those of the forward. */
void paper_interaction_backward_team(paper_interaction *it, paper_params *p,
                                     const melon_model *m, float slope,
                                     const double *d_eta, int n);

/* ---------------------------------------------------------------------- */
/* Steps II-III kernels over a block of pairs. */

typedef struct {
    int n;
    _Alignas(64) float theta[PAPER_BLOCK_ROOM]; /* theta_m (Eq. 11, not
                                                  preprocessed) */
    float in_g[PAPER_BLOCK_ROOM];    /* gradient input of Eq. 11 */
    float mult[PAPER_BLOCK_ROOM];    /* what the rate multiplies (Eq. 13) */
    float lrho1[PAPER_BLOCK_ROOM];   /* rho(L) of Eq. 11 */
    float lrho2[PAPER_BLOCK_ROOM];
    float eta[PAPER_BLOCK_ROOM];     /* b_lr (+ w_lr,h . h_x) */
    float gc[PAPER_BLOCK_ROOM];      /* backward: dL/dtheta'_m / c_m */
    float rate[PAPER_BLOCK_ROOM];    /* out: w_{x,m} */
    int32_t dst[PAPER_BLOCK_ROOM];   /* flat coordinate */
    int32_t triple[PAPER_BLOCK_ROOM];/* triple of the call, or -1 */
} pair_block;

typedef struct {
    int layers, width;
    int inputs;             /* 5, or 6 when theta is preprocessed */
    const float *w[PAPER_MAX_ROLE_LAYERS];
    const float *b[PAPER_MAX_ROLE_LAYERS];
    const float *w_theta;   /* role part of w_lr, NULL without h_theta */
} role_net;

typedef struct {
    float *z;       /* [layers][width][PAPER_BLOCK] activations */
    float *dz;      /* [2][width][PAPER_BLOCK] */
    float *scaled;  /* [width][width]: the top layer's weights times
                       w_theta (the backward's upstream through it) */
    float *rho1, *rho2, *delta;   /* [PAPER_BLOCK]: rho(g), scratch */
    float *theta1, *theta2;       /* [PAPER_BLOCK]: rho(theta) */
} role_scratch;

/* One thread's meta-gradient partials of the role MLP, w_theta and b_lr:
 * per-lane float sums of a few blocks (the kernels add whole vectors),
 * folded into double totals every few blocks and at the end. Entry layout:
 * role_w[0], role_b[0], role_w[1], role_b[1], ..., b_lr. For the top
 * layer the kernels sum A[k][j] = sum_p u_kp z_jp and B[k] = sum_p u_kp
 * with u_kp = delta_p [top_kp > 0] (no w_theta factor), from which
 * paper_role_grad_store derives grad V_top = w_theta[k] A, grad c_top =
 * w_theta[k] B and grad w_theta[k] = V_top[k] . A[k] + c_top[k] B[k]: the
 * top activations themselves are never needed, only their signs. */
typedef struct {
    size_t size;
    size_t w_off[PAPER_MAX_ROLE_LAYERS], b_off[PAPER_MAX_ROLE_LAYERS];
    size_t b_lr_off;
    double *total;   /* [size] */
    float *lanes;    /* [size][PAPER_LANES], 64-byte aligned */
    int pending;     /* blocks added to lanes since the last fold */
} role_grad;

void paper_role_net_view(role_net *net, const paper_params *p);
int paper_role_scratch_init(role_scratch *ws, const paper_params *p,
                            melon_err *err);
void paper_role_scratch_free(role_scratch *ws);
int paper_role_grad_init(role_grad *g, const paper_params *p, melon_err *err);
void paper_role_grad_free(role_grad *g);
void paper_role_grad_zero(role_grad *g);
/* dst += src (combining threads in a fixed order). */
void paper_role_grad_add(role_grad *dst, const role_grad *src);
/* Adds g to p's meta-parameter gradients. */
void paper_role_grad_store(const role_grad *g, paper_params *p);

/* Folds the lanes into the totals. */
void paper_role_grad_fold(role_grad *g);
/* rate = sigma(eta + w_theta . MLP([theta, lrho1, lrho2, rho(in_g)])),
 * with rho(theta) for theta when so configured, or sigma(eta) without the
 * role MLP (Eq. 11-12). With rate_out and mask_out, also stores each
 * pair's rate and the signs of its top-layer activations (bit k: unit k
 * active; widths up to 32), for the backward of the same pairs. */
void paper_role_rates(const role_net *net, pair_block *b, role_scratch *ws,
                      float *rate_out, uint32_t *mask_out);
/* With omega = -gc * mult (dL/dw of Eq. 13) and delta = omega w (1 - w):
 * adds the gradients of the role MLP, w_theta and b_lr to g and delta to
 * d_eta[triple] (when d_eta and the triple exist). With rate and mask
 * (stored by paper_role_rates for these pairs), the top layer is not
 * recomputed. */
void paper_role_backward(const role_net *net, pair_block *b,
                         role_scratch *ws, role_grad *g, double *d_eta,
                         const float *rate, const uint32_t *mask);

/* ---------------------------------------------------------------------- */
/* A call and its pairs. */

typedef struct {
    const melon_model *m;
    const melon_triple *triples;
    int n;
    const melon_grads *slots;           /* at the call's parameters */
    const melon_sparse_grad *touched;   /* rows, counts, mean gradient */
    const float *eta;                   /* [n], or NULL: eta_const */
    float eta_const;
    /* Step I's forward, still to run at the start of the call's forward
     * pass, which fills eta (NULL: none) */
    paper_interaction *inter;
    const paper_params *inter_params;
    float slope;
    const float *lrho1, *lrho2;         /* [n] rho of the loss input */
    int batch_inputs;                   /* melon-p: batch-mean loss and
                                           gradient as role inputs */
    size_t offset[MELON_MAX_TENSORS];   /* flat space */
    size_t size;
    float *agg_scale;                   /* [size]: s/c_m (mean) or s, with
                                           s the rate scale */
    float *mean_grad;                   /* [size]: batch-mean gradient */
} paper_call;

/* Lays out the flat space of the call's touched coordinates and fills
 * agg_scale and mean_grad (buffers of at least paper_flat_capacity). */
void paper_call_layout(paper_call *c, melon_aggregation aggregation,
                       float rate_scale);
size_t paper_flat_capacity(const melon_model *m, int max_triples);
/* Tensor, row and column of flat coordinate `flat`. */
void paper_call_locate(const paper_call *c, size_t flat, int *tensor,
                       int32_t *row, int *col);

typedef void (*pair_flush)(pair_block *b, void *arg);

/* Emits the pairs of triples [r0, r1) into b, calling flush on every full
 * block and on the last one. keep_zeros: also pairs whose gradient is zero
 * (they change nothing, but have a rate). keep != NULL: only coordinates
 * whose keep entry is non-zero. gc != NULL: b->gc is filled from it
 * (G_m / c_m in the backward), else with zeros. The same arguments give
 * the same blocks in the same order. */
void paper_pairs_of_triples(const paper_call *c, int r0, int r1,
                            int keep_zeros, const float *keep,
                            const float *gc, pair_block *b, pair_flush flush,
                            void *arg);
/* melon-p: one pair per coordinate in [m0, m1) (rates constant over the
 * interactions), multiplier = sum over the call's triples of g_{r,m}. */
void paper_pairs_of_coordinates(const paper_call *c, size_t m0, size_t m1,
                                const float *keep, const float *gc,
                                pair_block *b, pair_flush flush, void *arg);

/* ---------------------------------------------------------------------- */
/* The strategy's state. */

/* Receives every rate of an update (Figure 4), from one thread at a time. */
typedef void (*paper_rate_sink)(void *user, int triple, const char *tensor,
                                int32_t row, int col, float rate);

typedef struct {
    pair_block block;
    role_scratch role;
    role_grad grad;
    float *delta;           /* [flat capacity] this thread's sum of w g */
    /* The meta step's trial pass stores each of this thread's pairs' rate
     * and top-layer signs in order; the backward pass reads them back at
     * the same positions (NULL when the role MLP is wider than 32 or
     * absent). */
    float *cache_rate;
    uint32_t *cache_mask;
    size_t cache_capacity, cursor;
} paper_thread;

typedef struct {
    melon_melon_config cfg;
    paper_params params;
    paper_interaction inter;
    role_net net;
    int n_threads;
    paper_thread *thread;
    melon_meta_trial trial;
    melon_grads slots;            /* the update's slot gradients */
    melon_sparse_grad touched;    /* the update's rows and mean gradient */
    size_t flat_capacity;
    float *lrho1, *lrho2;         /* [max triples] */
    float *agg_scale, *mean_grad; /* [flat capacity] */
    float *delta;                 /* [flat capacity] combined sum of w g */
    float *gc;                    /* [flat capacity] */
    double *d_eta;                /* [max triples] */
    float *needed;                /* [flat capacity] meta step: 1 where the
                                     query touches the coordinate */
    uint32_t *user_mark, *item_mark; /* [n_users], [n_items] stamps */
    int32_t mark_users, mark_items;  /* rows the marks cover */
    uint32_t stamp;
    long first_online_batch;      /* -1 until the first online update */
    paper_rate_sink sink;
    void *sink_user;
} paper_state;

/* Prepares c for the n triples with the given slots and touched rows:
 * loss inputs, flat layout and, when the variant has h_x, Step I's draws
 * (the forward pass runs the rest, which fills eta). */
void paper_prepare_call(paper_state *st, paper_call *c, melon_context *ctx,
                        const melon_triple *triples, int n,
                        const melon_grads *slots,
                        const melon_sparse_grad *touched);
/* delta[flat] = sum over the pairs of w_{r,m} g_{r,m} (Eq. 13 before the
 * aggregation), all threads combined in a fixed order, after the rest of
 * Step I when the call has it. With needed != NULL, only coordinates
 * whose `needed` entry is non-zero are computed (delta is zero elsewhere). cache: fill the threads' rate caches. The
 * sink, if set, sees every rate including those of zero-gradient pairs. */
void paper_forward_pass(paper_state *st, const paper_call *c,
                        const float *needed, int cache, paper_rate_sink sink,
                        void *sink_user);
/* theta_m -= agg_scale_m delta_m over the call's coordinates; with
 * skip != NULL, table rows that skip touches are left alone. */
void paper_apply_delta(const paper_call *c, melon_model *m,
                       const float *delta, const melon_sparse_grad *skip);

int paper_update(melon_strategy *s, melon_context *ctx,
                 const melon_triple *batch, int n, melon_err *err);
int paper_meta_step(melon_strategy *s, melon_context *ctx,
                    const melon_triple *batch, int n, melon_err *err);

int melon_paper_create(melon_strategy *s, melon_model *m,
                       const melon_melon_config *cfg,
                       const melon_run_shape *shape, melon_ablation ablation,
                       melon_err *err);
/* Routes every rate of the following updates to sink (NULL to stop). */
void melon_paper_set_rate_sink(melon_strategy *s, paper_rate_sink sink,
                               void *user);

#endif
