/* S2Meta (Du et al., KDD 2019) as an online update strategy
 * (update-strategies.md B.5): every recommender tensor is updated
 * coordinate-wise by its own MetaLSTM, theta' = fg theta - lr g~, with the
 * gates computed from the batch-mean gradient, the parameter and the batch
 * loss; the MetaLSTMs are meta-learned on the query loss after a trial
 * update on the support set (section 2). Shared by s2meta*.c and the tests.
 *
 * Coordinates are handled row by row: a "set" lists, per tensor, the rows
 * (of a table; every row of a dense tensor) whose coordinates take a step.
 * Sets are cut into chunks of about S2META_CHUNK coordinates, and chunks are
 * shared out to the threads in fixed contiguous blocks, so results depend
 * only on the seed and the thread count. */
#ifndef MELON_UPDATE_S2META_H
#define MELON_UPDATE_S2META_H

#include "update/update_internal.h"

#include "nn/meta_params.h"
#include "update/meta_trial.h"
#include "s2meta_lstm.h"
#include "s2meta_stop.h"

#define S2META_CHUNK 256   /* coordinates per chunk (at least one row) */
/* Memory for the activations a one-step trial keeps for its backward
 * (chunks beyond it are replayed instead). */
#define S2META_KEPT_BYTES ((size_t)32 << 20)
#define S2META_MAX_STEPS 20 /* the original's `step` */

typedef struct {
    int n_tensors;
    int32_t cap_rows[MELON_MAX_TENSORS];
    int32_t n_rows[MELON_MAX_TENSORS];
    int32_t n_first[MELON_MAX_TENSORS]; /* rows [0, n_first) are the ones
                                           the meta-gradient reaches */
    int32_t *rows[MELON_MAX_TENSORS];
    size_t base[MELON_MAX_TENSORS];     /* index of the tensor's first
                                           coordinate in the set */
    size_t n_coords;
    size_t cap_coords;
} s2meta_set;

typedef struct {
    int tensor;
    int32_t first, last;  /* positions [first, last) in the set's row list */
} s2meta_chunk;

/* Where the (h, c) state of a coordinate lives: per coordinate of a set
 * (the working state of an inner loop) or per coordinate of the whole model
 * (the carried state), [2H] floats each, h then c. */
typedef enum { S2META_STATE_SHARED, S2META_STATE_SET, S2META_STATE_MODEL }
    s2meta_state_kind;

typedef struct {
    s2meta_state_kind kind;
    float *values;
} s2meta_state_view;

typedef struct {
    s2meta_record *rec;   /* [steps] */
    s2meta_scratch scratch;
    float *theta_out;     /* [chunk] */
    float *d_theta;       /* [chunk] */
    float *d_theta_in;    /* [chunk] */
    float *d_h, *d_c;     /* [chunk][H] upstream into the later state */
    float *d_h_in, *d_c_in;
    float *grad;          /* [n_tensors][layout size]: this thread's sums */
    float *memory;
} s2meta_work;

typedef struct {
    melon_s2meta_config cfg;
    s2meta_layout layout;
    int n_tensors;
    melon_meta_params params;          /* block k: tensor k's MetaLSTM */
    melon_meta_trial trial;
    melon_meta_memory memory;          /* next-batch meta-data only */
    melon_grads slots;                 /* a batch or support set */
    melon_sparse_grad grad;            /* its mean gradient */
    s2meta_set trial_set, update_set;
    s2meta_chunk *chunks;
    int cap_chunks;
    int max_batch;
    uint32_t *mark[MELON_MAX_TENSORS]; /* per table row: query stamp */
    int32_t mark_rows[MELON_MAX_TENSORS]; /* rows mark[k] covers */
    uint32_t stamp;
    int32_t *query_rows[MELON_MAX_TENSORS]; /* the query's distinct rows */
    int32_t n_query_rows[MELON_MAX_TENSORS];
    int32_t *extra_rows[MELON_MAX_TENSORS]; /* trial rows the support set
                                               does not save (full scope) */
    int32_t n_extra[MELON_MAX_TENSORS];
    float *extra_values[MELON_MAX_TENSORS]; /* their values before it */
    float *record;          /* [steps][trial coordinates][2]: theta, g~ */
    float loss_rho[S2META_MAX_STEPS];
    float *work_state;      /* [coordinates][2H], inner steps > 1 */
    float *carry;           /* [model coordinates][2H], carry_state */
    uint8_t *carried[MELON_MAX_TENSORS]; /* per row: holds a state */
    int32_t n_carried[MELON_MAX_TENSORS]; /* rows of those flags */
    size_t carry_base[MELON_MAX_TENSORS + 1];
    int n_threads;
    s2meta_work *work;
    s2meta_record *kept;    /* [n_kept] activations of a one-step trial's
                               first chunks, kept for its backward */
    int n_kept;
    float *kept_memory;
    double meta_loss;       /* query loss of the last meta step */
    int trial_steps;        /* inner steps the last trial took */
    int update_steps;       /* inner steps the last update took */
    /* --s2meta-flexible: the stop controller, its run over a task's steps,
     * the draws that stop it, and a trial's query losses before each step */
    s2meta_stop_layout stop_layout;
    melon_meta_params stop_params;
    s2meta_stop_run stop_run;
    melon_rng stop_rng;
    double step_query_loss[S2META_MAX_STEPS];
    double advantage[S2META_MAX_STEPS];
    int32_t *loss_users, *loss_items; /* [2 batch] pairs of the query loss */
    float *loss_scores;               /* [2 batch] */
} s2meta_state;

/* With the frame's support set already run (melon_meta_trial_support*):
 * the trial update of cfg.steps inner steps on the support set, the query
 * loss at the trial values (returned; the model is restored), and its
 * meta-gradient, written (not added) to every MetaLSTM's gradient. */
double s2meta_meta_gradient(s2meta_state *st, melon_context *ctx,
                            const melon_triple *query, int n_query);

/* The real update of the batch: cfg.steps inner steps from the model's
 * values (s2meta.c); returns the batch's mean loss before the update. */
double s2meta_apply_update(s2meta_state *st, melon_model *m,
                           const melon_triple *batch, int n);

/* s2meta_steps.c: one inner step on every coordinate of `set`, theta read
 * from and written back to the model, g from `grad` (zero on rows it lacks),
 * state read from `in` and written to `out` (out.values NULL: not kept);
 * record, if not NULL, receives theta and g~ per coordinate of the set;
 * keep != 0 also keeps the first chunks' activations (st->kept) for the
 * backward of a one-step trial. */
void s2meta_step_set(s2meta_state *st, melon_model *m, const s2meta_set *set,
                     const melon_sparse_grad *grad, float loss_rho1,
                     s2meta_state_view in, s2meta_state_view out,
                     float *record, int keep);

/* s2meta_steps.c: the meta-gradient of the rows [0, n_first) of every
 * tensor of `set`, given the recorded inner steps and the query gradient
 * of the trial (st->trial.query_grad); adds to the thread sums and reduces
 * them into the MetaLSTMs' gradients. */
void s2meta_backward_set(s2meta_state *st, const melon_model *m,
                         const s2meta_set *set, s2meta_state_view initial);

#endif
