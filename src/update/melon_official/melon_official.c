/* MeLON as the authors' code implements it (update-strategies.md A.3-A.6),
 * the strategy behind "melon", "melon-i" and "melon-p" with
 * --melon-variant official.
 *
 * Per batch B_t (protocol.md section 5; A.3 item 9):
 *   meta step: the support set S_t (section 2) at Theta_t; one call of A.4
 *     on S_t writes the trial values Theta' into the model; the query loss
 *     of B_t at Theta' gives G; Theta_t is restored; the meta-gradient of
 *     A.5 and one Adam step on the meta-parameters (L2 rule of A.3 item 11).
 *   update: one call of A.4 on B_t from Theta_t with the new
 *     meta-parameters writes Theta_{t+1}. The recommender has no optimiser
 *     of its own (A.3 item 12).
 * Neighbours are sampled afresh for each call, strictly before the batch
 * (the history is queried with the batch's begin, in pre-training too).
 * By default the trial update is discarded; with --melon-leaky-trial the
 * table rows S_t touched and B_t does not keep their trial values after
 * the update (A.3 item 8; dense tensors are unaffected; the update itself
 * is computed from Theta_t). With --melon-meta-data next-batch the support
 * set is the previous batch on its stored values (section 2), its
 * neighbours taken before that batch. */
#include "update/update_internal.h"

#include "update/lr_matrix.h"
#include "update/meta_trial.h"
#include "melon_official.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Random stream of the meta-parameters' initialisation. */
#define OFFICIAL_INIT_STREAM 0x4d454c4f4f464649ULL

typedef struct {
    official_params params;
    official_call call;
    int max_batch;
    melon_meta_data meta_data;
    melon_meta_trial trial;
    melon_meta_memory memory;    /* next-batch only */
    size_t memory_begin;         /* stream position of the remembered batch */
    melon_grads slots;           /* B_t at Theta_t */
    /* leaky trial: S_t's nodes and their rows' trial values */
    int leaky;
    int leak_pending;
    int leak_nodes[OFFICIAL_SIDES];
    int32_t *leak_id[OFFICIAL_SIDES];
    float *leak_value[MELON_MAX_TENSORS];
    /* Figure 4 dump */
    const char *dump_path;
    int dump_batch;
    long first_online;           /* first batch index seen online, or -1 */
    int one_thread;              /* calls too small for threads to pay */
} official_state;

static void official_free(melon_strategy *s) {
    official_state *st = s->impl;
    if (!st) return;
    official_params_free(&st->params);
    official_call_free(&st->call);
    melon_meta_trial_free(&st->trial);
    melon_meta_memory_free(&st->memory);
    melon_grads_free(&st->slots);
    for (int side = 0; side < OFFICIAL_SIDES; side++) free(st->leak_id[side]);
    for (int k = 0; k < MELON_MAX_TENSORS; k++) free(st->leak_value[k]);
    free(st);
    s->impl = NULL;
}

static int table_side(const melon_tensor *t) {
    return t->kind == MELON_USER_TABLE ? OFFICIAL_USER : OFFICIAL_ITEM;
}

/* Keeps the trial values of every table row the support set touched. */
static void leak_save(official_state *st, const melon_model *m) {
    const official_call *c = &st->call;
    for (int side = 0; side < OFFICIAL_SIDES; side++) {
        st->leak_nodes[side] = c->side[side].n_nodes;
        memcpy(st->leak_id[side], c->side[side].node_id,
               (size_t)c->side[side].n_nodes * sizeof(int32_t));
    }
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        if (t->kind == MELON_DENSE) continue;
        int side = table_side(t);
        for (int j = 0; j < st->leak_nodes[side]; j++)
            memcpy(st->leak_value[k] + (size_t)j * t->cols,
                   t->value + (size_t)st->leak_id[side][j] * t->cols,
                   (size_t)t->cols * sizeof(float));
    }
    st->leak_pending = 1;
}

/* After the update: rows of S_t that B_t did not look up take their trial
 * values (the update's call still indexes B_t's nodes). */
static void leak_apply(official_state *st, melon_model *m) {
    const official_call *c = &st->call;
    for (int k = 0; k < m->n_tensors; k++) {
        melon_tensor *t = &m->tensor[k];
        if (t->kind == MELON_DENSE) continue;
        int side = table_side(t);
        for (int j = 0; j < st->leak_nodes[side]; j++) {
            int32_t id = st->leak_id[side][j];
            if (c->side[side].index_of[id] >= 0) continue;
            memcpy(t->value + (size_t)id * t->cols,
                   st->leak_value[k] + (size_t)j * t->cols,
                   (size_t)t->cols * sizeof(float));
        }
    }
    st->leak_pending = 0;
}

static int official_grow(melon_strategy *s, melon_model *m, melon_err *err) {
    official_state *st = s->impl;
    if (official_call_grow(&st->call, m, err) != 0 ||
        melon_meta_trial_grow(&st->trial, m, err) != 0 ||
        melon_meta_memory_grow(&st->memory, m, err) != 0)
        return -1;
    return 0;
}

int official_strategy_trial(melon_strategy *s, melon_context *ctx,
                            const melon_triple *batch, int n, melon_err *err) {
    official_state *st = s->impl;
    if (n < 1 || n > st->max_batch)
        return melon_fail(err, "MeLON: batch of %d triples (1 to %d expected)",
                          n, st->max_batch);
    int from_memory =
        st->meta_data == MELON_META_NEXT_BATCH && st->memory.n > 0;
    if (melon_meta_trial_support_for(&st->trial,
                                     st->meta_data == MELON_META_NEXT_BATCH
                                         ? &st->memory : NULL,
                                     st->meta_data, ctx, batch, n, err) != 0)
        return -1;
    size_t before = from_memory ? st->memory_begin : ctx->begin;
    official_call_prepare(&st->call, &st->params, st->trial.support,
                          st->trial.n_support, &st->trial.support_slots,
                          ctx->history, before, ctx->rng);
    official_call_apply(&st->call, ctx->model);
    return 0;
}

int official_strategy_meta_gradient(melon_strategy *s, melon_context *ctx,
                                    const melon_triple *batch, int n,
                                    melon_err *err) {
    official_state *st = s->impl;
    if (official_strategy_trial(s, ctx, batch, n, err) != 0) return -1;
    if (st->leaky) leak_save(st, ctx->model);
    melon_meta_trial_query(&st->trial, ctx, batch, n); /* G; Theta_t back */
    melon_meta_params_zero_grad(&st->params.mp);
    official_meta_gradient(&st->call, &st->params, &st->trial.query_grad);
    return 0;
}

/* A strategy whose calls are small (BPR-MF: about 130 thousand (pair,
 * coordinate) evaluations in a meta step) runs them on one thread: a parallel
 * region, and OpenBLAS's own threads (which follow OpenMP's count), cost
 * more than they save there, and much more on a busy machine. The
 * caller's thread count is restored afterwards. */
static int threads_enter(const official_state *st) {
    int saved = omp_get_max_threads();
    if (st->one_thread) omp_set_num_threads(1);
    return saved;
}

static void threads_leave(int saved) { omp_set_num_threads(saved); }

static int official_meta_step(melon_strategy *s, melon_context *ctx,
                              const melon_triple *batch, int n,
                              melon_err *err) {
    official_state *st = s->impl;
    int saved = threads_enter(st);
    int rc = official_strategy_meta_gradient(s, ctx, batch, n, err);
    if (rc == 0) melon_meta_params_step(&st->params.mp);
    threads_leave(saved);
    return rc;
}

official_params *official_strategy_params(melon_strategy *s) {
    return &((official_state *)s->impl)->params;
}

const official_call *official_strategy_call(const melon_strategy *s) {
    return &((const official_state *)s->impl)->call;
}

const melon_meta_trial *official_strategy_meta_trial(const melon_strategy *s) {
    return &((const official_state *)s->impl)->trial;
}

/* Figure 4: the input-gate rate sigma(iota) of every (pair, coordinate) of
 * the real update. Row 2 r + c of the dump is pair (triple r, column c) of
 * the batch, named "r<r>.pos u<user> i<item>" for c = 0 and
 * "r<r>.neg u<user> j<negative>" for c = 1, with the model's row numbers
 * (those of the column names, e.g. "user_emb[17,3]") and the original ids
 * in brackets. Dense coordinates are named by their position in the
 * weight. */
static int dump_rates(official_state *st, const melon_context *ctx,
                      const melon_model *m, melon_err *err) {
    const official_call *c = &st->call;
    melon_lr_dump *d;
    if (melon_lr_dump_open(&d, st->dump_path, c->n_pairs, err) != 0) return -1;
    const melon_stream *stream = ctx->stream;
    for (int q = 0; q < c->n_pairs; q++) {
        const melon_triple *tr = &c->triples[q / 2];
        char name[256];
        int32_t item = q % 2 ? tr->negative : tr->item;
        snprintf(name, sizeof name, "r%d.%s u%d %c%d (%s %s)", q / 2,
                 q % 2 ? "neg" : "pos", (int)tr->user, q % 2 ? 'j' : 'i',
                 (int)item, stream->user_name[tr->user],
                 stream->item_name[item]);
        melon_lr_dump_name_row(d, q, name);
    }
    const melon_grads *g = c->slots;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        for (int q = 0; q < c->n_pairs; q++) {
            if (t->kind != MELON_DENSE) {
                const float *slot = g->slot[k] + (size_t)q * t->cols;
                int32_t row = melon_slot_row(t, &c->triples[q / 2], q % 2);
                for (int b = 0; b < t->cols; b++)
                    melon_lr_dump_set(d, q, t->name, row, b,
                                      official_input_gate(c, q, slot[b]));
                continue;
            }
            const float *e = g->slot[k] + (size_t)q * t->rows;
            const float *h = g->input[k] + (size_t)q * t->cols;
            for (int a = 0; a < t->rows; a++)
                for (int b = 0; b < t->cols; b++)
                    melon_lr_dump_set(d, q, t->name, a, b,
                                      official_input_gate(c, q, e[a] * h[b]));
        }
    }
    return melon_lr_dump_close(d, err);
}

static int dump_due(official_state *st, const melon_context *ctx) {
    if (!st->dump_path || ctx->phase != MELON_PHASE_ONLINE) return 0;
    if (st->first_online < 0) st->first_online = (long)ctx->batch;
    return (long)ctx->batch - st->first_online == st->dump_batch;
}

static int official_update_call(melon_strategy *s, melon_context *ctx,
                                const melon_triple *batch, int n,
                                melon_err *err) {
    official_state *st = s->impl;
    melon_model *m = ctx->model;
    if (n < 1 || n > st->max_batch)
        return melon_fail(err, "MeLON: batch of %d triples (1 to %d expected)",
                          n, st->max_batch);
    if (st->meta_data == MELON_META_NEXT_BATCH) {
        melon_meta_trial_remember(&st->memory, m, batch, n);
        st->memory_begin = ctx->begin;
    }
    m->ops->forward_backward(m, batch, n, &st->slots);
    s->batch_loss = melon_mean_loss(&st->slots);
    official_call *c = &st->call;
    official_call_prepare(c, &st->params, batch, n, &st->slots, ctx->history,
                          ctx->begin, ctx->rng);
    if (dump_due(st, ctx) && dump_rates(st, ctx, m, err) != 0) return -1;
    official_call_apply(c, m);
    if (st->leak_pending) leak_apply(st, m);
    return 0;
}

static int official_update(melon_strategy *s, melon_context *ctx,
                           const melon_triple *batch, int n, melon_err *err) {
    int saved = threads_enter(s->impl);
    int rc = official_update_call(s, ctx, batch, n, err);
    threads_leave(saved);
    return rc;
}

static int official_save(const melon_strategy *s, FILE *f, melon_err *err) {
    const official_state *st = s->impl;
    return melon_meta_params_save(&st->params.mp, f, err);
}

static int official_load(melon_strategy *s, FILE *f, melon_err *err) {
    official_state *st = s->impl;
    return melon_meta_params_load(&st->params.mp, f, err);
}

#define OFFICIAL_OPS(ident, strategy_name)                                   \
    static const melon_strategy_ops ident = {                               \
        .name = strategy_name,                                              \
        .meta_step = official_meta_step,                                    \
        .update = official_update,                                          \
        .save = official_save,                                              \
        .load = official_load,                                              \
        .free_impl = official_free,                                         \
        .grow = official_grow,                                              \
    }
OFFICIAL_OPS(official_ops, "melon");
OFFICIAL_OPS(official_ops_i, "melon-i");
OFFICIAL_OPS(official_ops_p, "melon-p");

static int check_config(const melon_model *m, const melon_melon_config *mc,
                        int max_batch, melon_err *err) {
    if (!melon_model_has_parameters(m))
        return melon_fail(err, "MeLON: model '%s' has no parameters to update",
                          m->ops->name);
    if (mc->aggregation != MELON_AGG_MEAN)
        return melon_fail(err, "MeLON official form: the authors' code "
                               "averages the proposals (update-strategies.md "
                               "A.3 item 7); --melon-aggregation sum is a "
                               "paper-form setting");
    if (mc->rate_scale != 1.0f)
        return melon_fail(err, "MeLON official form: --melon-rate-scale is a "
                               "paper-form setting (the authors' code scales "
                               "its rates by the recommender's learning rate)");
    if (mc->interaction_width < 1 || mc->role_width < 1 || mc->max_edge < 0)
        return melon_fail(err, "MeLON: widths must be >= 1 and max-edge >= 0 "
                               "(got %d, %d, %d)", mc->interaction_width,
                          mc->role_width, mc->max_edge);
    if (max_batch < 1 || m->max_triples < 2 * max_batch)
        return melon_fail(err, "MeLON: batch size %d needs a model sized for "
                               "%d triples (it holds %d)", max_batch,
                          2 * max_batch, m->max_triples);
    return 0;
}

static int leak_init(official_state *st, const melon_model *m,
                     melon_err *err) {
    int cap = st->call.cap_nodes;
    for (int side = 0; side < OFFICIAL_SIDES; side++) {
        st->leak_id[side] = melon_alloc((size_t)cap * sizeof(int32_t), err);
        if (!st->leak_id[side]) return -1;
    }
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        if (t->kind == MELON_DENSE) continue;
        st->leak_value[k] =
            melon_alloc((size_t)cap * t->cols * sizeof(float), err);
        if (!st->leak_value[k]) return -1;
    }
    return 0;
}

int melon_official_create(melon_strategy *s, melon_model *m,
                          const melon_melon_config *mc,
                          const melon_run_shape *shape, melon_ablation ablation,
                          melon_err *err) {
    int max_batch = shape->max_batch;
    if (check_config(m, mc, max_batch, err) != 0) return -1;
    official_features features;
    if (official_features_init(&features, m, err) != 0) return -1;
    official_state *st = melon_calloc(1, sizeof *st, err);
    if (!st) return -1;
    s->impl = st;
    s->ops = ablation == MELON_ABLATION_INTERACTION ? &official_ops_i
             : ablation == MELON_ABLATION_PARAMETER ? &official_ops_p
                                                    : &official_ops;
    official_dims dims = {
        .d_node = features.width[OFFICIAL_USER],
        .d = m->cfg.dim,
        .hw = mc->interaction_width,
        .zw = mc->role_width,
        .has_p = ablation != MELON_ABLATION_INTERACTION,
        .has_h = ablation != MELON_ABLATION_PARAMETER,
    };
    melon_meta_adam_config adam;
    melon_meta_adam_config_default(&adam);
    adam.lr = mc->meta_lr;
    adam.l2 = mc->meta_l2;
    melon_rng rng;
    melon_rng_seed_stream(&rng, shape->seed, OFFICIAL_INIT_STREAM);
    st->max_batch = max_batch;
    st->meta_data = mc->meta_data;
    st->leaky = mc->leaky_trial;
    st->dump_path = mc->dump_lr_matrix;
    st->dump_batch = mc->dump_batch;
    st->first_online = -1;
    /* the largest call: the meta step's 4 n pairs, every coordinate each
     * touches */
    long per_pair = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        per_pair += t->kind == MELON_DENSE ? (long)t->rows * t->cols : t->cols;
    }
    st->one_thread = per_pair * 4L * max_batch < OFFICIAL_PARALLEL_WORK;
    if (official_params_init(&st->params, &dims, &adam, &rng, err) != 0 ||
        official_call_init(&st->call, m, &dims, mc->max_edge, mc->neighbors,
                           2 * max_batch, err) != 0 ||
        melon_meta_trial_init(&st->trial, m, max_batch, err) != 0 ||
        melon_grads_init(&st->slots, m, max_batch, err) != 0 ||
        (st->meta_data == MELON_META_NEXT_BATCH &&
         melon_meta_memory_init(&st->memory, m, max_batch, err) != 0) ||
        (st->leaky && leak_init(st, m, err) != 0)) {
        official_free(s);
        s->ops = NULL;
        return -1;
    }
    return 0;
}
