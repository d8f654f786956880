/* Recommenders behind one interface (protocol.md section 6,
 * update-strategies.md section 1): BPR-MF, NCF (NeuMF) and the causal
 * popularity ranker `pop`.
 *
 * A model is a list of parameter tensors (embedding tables indexed by user or
 * item, and dense weights) plus operations: score pairs, and for a batch of
 * BPR triples (u, i, j) compute per-triple losses and per-(triple, column)
 * gradients in the "slot" layout below. Strategies change the tensors'
 * values directly. */
#ifndef MELON_MODEL_H
#define MELON_MODEL_H

#include "melon/common.h"
#include "melon/settings.h"
#include "melon/stream.h"

#include <stdint.h>
#include <stdio.h>

#define MELON_MAX_TENSORS 16
#define MELON_MAX_LAYERS MELON_MAX_WIDTHS
#define MELON_SCORE_ITEMS_BLOCK 256  /* users per product in score_items */

typedef enum {
    MELON_USER_TABLE,  /* rows = n_users, row u looked up by user u */
    MELON_ITEM_TABLE,  /* rows = n_items */
    MELON_DENSE        /* a weight matrix shared by every interaction */
} melon_tensor_kind;

typedef struct {
    const char *name;       /* "user_emb", "item_bias", "mlp_w1", ... */
    melon_tensor_kind kind;
    int rows;
    int cols;
    float *value;           /* rows * cols, row-major */
    int decay;              /* L2 applies (every tensor but the bias tables) */
    int cap_rows;           /* rows value has room for (>= rows) */
    float init_std;         /* its normal(0, init_std) initialisation */
} melon_tensor;

/* One BPR training example: user, positive item, sampled negative item. */
typedef struct {
    int32_t user;
    int32_t item;
    int32_t negative;
} melon_triple;

/* Per-triple losses and per-(triple, column) gradients ("slots",
 * update-strategies.md section 1.4). Column 0 scores (user, item), column 1
 * scores (user, negative); the BPR loss of triple r is
 * l_r = softplus(-(s_r0 - s_r1)), kappa_r = sigmoid(-(s_r0 - s_r1)).
 *
 * For a table tensor k, slot[k] holds [n][2][cols]: the gradient of l_r that
 * flows through column c's score, at the row column c looks up (user tables:
 * the user; item tables: the item for c = 0, the negative for c = 1). The
 * per-triple gradient is the sum of the two columns.
 *
 * For a dense tensor k (rows x cols), slot[k] holds [n][2][rows], the
 * upstream delta e, and input[k] holds [n][2][cols], the layer input h; the
 * column's gradient is the outer product e h^T. */
typedef struct {
    int capacity;           /* triples the buffers hold */
    int n;                  /* triples of the last forward_backward */
    int n_tensors;
    float *loss;            /* [n] */
    float *kappa;           /* [n] */
    float *slot[MELON_MAX_TENSORS];
    float *input[MELON_MAX_TENSORS];  /* dense tensors only, else NULL */
} melon_grads;

/* Initialisation of NCF's tower weights W_1..W_L: normal(0, init_std) as
 * the paper's code does, or He et al.'s (2015) normal(0, 2 / fan_in), which
 * keeps the scale of the activations through the ReLU layers
 * (docs/ncf-tower.md). Tables and the output weight keep init_std. */
typedef enum { MELON_TOWER_NORMAL, MELON_TOWER_HE } melon_tower_init;

typedef struct {
    const char *name;               /* "bpr", "ncf" or "pop" */
    int dim;                        /* embedding size d */
    melon_widths layers;            /* NCF tower widths */
    float init_std;                 /* normal(0, init_std) init */
    melon_tower_init tower_init;    /* NCF tower weights */
    uint64_t seed;                  /* the run's seed */
} melon_model_config;

/* model, dim, layers, init-std (model_settings.c) */
extern const melon_settings_table melon_model_settings;
void melon_model_config_default(melon_model_config *cfg);

typedef struct melon_model melon_model;

typedef struct {
    const char *name;
    /* Scores n (user, item) pairs. */
    void (*score)(melon_model *m, const int32_t *users,
                  const int32_t *items, size_t n, float *out);
    /* Scores every item for each of n users (full ranking): out holds
     * [n][n_items], row k for users[k]. The same scores as score() up to
     * rounding (the sums run in another order); every score of a row comes
     * from the same computation. */
    void (*score_items)(melon_model *m, const int32_t *users, size_t n,
                        float *out);
    /* Per-triple losses and slot gradients at the current parameters. */
    void (*forward_backward)(melon_model *m, const melon_triple *triples,
                             int n, melon_grads *g);
    /* Optional: told about positions [begin, end) of the stream once they
     * are in the past (pop counts them). */
    void (*observe)(melon_model *m, const melon_stream *s, size_t begin,
                    size_t end);
    void (*free_impl)(melon_model *m);
    /* Optional: n_users / n_items have grown (from old_users, old_items);
     * extend the model's own state beyond the tensors. */
    int (*grow)(melon_model *m, int32_t old_users, int32_t old_items,
                melon_err *err);
} melon_model_ops;

struct melon_model {
    const melon_model_ops *ops;
    int32_t n_users;
    int32_t n_items;
    melon_model_config cfg;
    int n_tensors;
    melon_tensor tensor[MELON_MAX_TENSORS];
    int max_triples;        /* forward_backward capacity */
    void *impl;             /* model-specific workspace */
    /* Each tensor's initialisation stream, where its last row's draws
     * ended: the rows a table grows by continue it. */
    melon_rng init_rng[MELON_MAX_TENSORS];
};

/* name: "bpr", "ncf" or "pop". max_triples bounds one forward_backward
 * call (and score calls up to max_triples * 2 pairs at once; larger score
 * calls are split internally). score_items takes its users in blocks of
 * MELON_SCORE_ITEMS_BLOCK (larger calls are split internally). */
int melon_model_create(melon_model *m, const char *name, int32_t n_users,
                       int32_t n_items, const melon_model_config *cfg,
                       int max_triples, melon_err *err);
void melon_model_free(melon_model *m);

/* Gives the user tables n_users rows and the item tables n_items (never
 * fewer than they have). New rows take the next draws of their tensor's
 * initialisation stream, so a table grown in steps holds exactly what a
 * table created at the full size holds. Room doubles, so growth costs
 * amortised O(1) per row. On failure the model is as it was. */
int melon_model_grow(melon_model *m, int32_t n_users, int32_t n_items,
                     melon_err *err);
/* The same with the new rows zero and the streams left where they were:
 * for a caller that fills every value and sets the streams (a checkpoint
 * being loaded), which spares the draws. */
int melon_model_grow_undrawn(melon_model *m, int32_t n_users, int32_t n_items,
                             melon_err *err);
int melon_model_has_parameters(const melon_model *m);

/* Rows the tables of one side (MELON_USER_TABLE or MELON_ITEM_TABLE) have
 * room for: per-row state that follows them reallocates to it, so its
 * growth is amortised as theirs is. */
static inline size_t melon_model_room(const melon_model *m,
                                      melon_tensor_kind kind) {
    for (int k = 0; k < m->n_tensors; k++)
        if (m->tensor[k].kind == kind) return (size_t)m->tensor[k].cap_rows;
    return (size_t)(kind == MELON_USER_TABLE ? m->n_users : m->n_items);
}

/* The mean BPR loss softplus(-(s(u, i) - s(u, j))) of n triples at the
 * current values, through the model's score alone (no gradients; the same
 * loss forward_backward reports). users, items and scores hold 2n each. */
double melon_model_mean_loss(melon_model *m, const melon_triple *triples,
                             int n, int32_t *users, int32_t *items,
                             float *scores);

/* Row a slot of table tensor `t` looks up for column c of a triple. */
static inline int32_t melon_slot_row(const melon_tensor *t,
                                     const melon_triple *tr, int c) {
    if (t->kind == MELON_USER_TABLE) return tr->user;
    return c == 0 ? tr->item : tr->negative;
}
/* Width of a slot vector of tensor t (dense: the delta's length). */
static inline int melon_slot_width(const melon_tensor *t) {
    return t->kind == MELON_DENSE ? t->rows : t->cols;
}

int melon_grads_init(melon_grads *g, const melon_model *m, int capacity,
                     melon_err *err);
void melon_grads_free(melon_grads *g);

/* Copies every tensor value of src into dst (same model and sizes). */
void melon_model_copy_values(melon_model *dst, const melon_model *src);

/* Parameter files: a small binary format with a magic, the model name, the
 * tensor names and shapes, then the values. */
int melon_model_save(const melon_model *m, const char *path, melon_err *err);
int melon_model_load(melon_model *m, const char *path, melon_err *err);

#endif
