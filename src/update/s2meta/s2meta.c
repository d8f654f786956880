/* S2Meta as an online update strategy (update-strategies.md B.5): which
 * coordinates take a step, the meta step on (S_t, Q_t) of section 2, the
 * real update, and the strategy's life cycle.
 *
 * Which rows a trial must compute. A trial row matters only if it reaches
 * the meta-loss: directly (the query Q_t looks it up) or, with several inner
 * steps, through the support gradients of later steps (S_t looks it up).
 * The trial updates the support's rows (scope touched) or every row (scope
 * full), so it computes, per table,
 *   first the rows the meta-gradient reaches:  Q and S (touched) or Q (full)
 *   then, with K > 1 steps, the rest of S.
 * Rows the trial would change but that reach nothing are left alone: the
 * trial is discarded and they cannot change the meta-loss. Dense tensors
 * are always computed whole. */
#include "s2meta.h"

#include "nn/vmath.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Random stream of the MetaLSTMs' init (independent of the run's other
 * generators). */
#define S2META_INIT_STREAM 0x53324d455441ULL
#define S2META_STOP_STREAM 0x53324d53544f50ULL /* the stop draws */

static float loss_rho1(double loss) {
    float rho1, rho2;
    vm_preprocess((float)loss, S2META_RHO_EPS, &rho1, &rho2);
    return rho1;
}

static void set_finish(s2meta_set *set, const melon_model *m) {
    set->n_coords = 0;
    for (int k = 0; k < set->n_tensors; k++) {
        set->base[k] = set->n_coords;
        set->n_coords += (size_t)set->n_rows[k] * (size_t)m->tensor[k].cols;
    }
}

/* Lists the query's distinct table rows and stamps them. */
static void mark_query_rows(s2meta_state *st, const melon_model *m,
                            const melon_triple *query, int n) {
    if (++st->stamp == 0) {
        for (int k = 0; k < m->n_tensors; k++)
            if (st->mark[k])
                memset(st->mark[k], 0, (size_t)m->tensor[k].rows * sizeof(uint32_t));
        st->stamp = 1;
    }
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        st->n_query_rows[k] = 0;
        if (t->kind == MELON_DENSE) continue;
        for (int p = 0; p < 2 * n; p++) {
            int32_t row = melon_slot_row(t, &query[p / 2], p % 2);
            if (st->mark[k][row] == st->stamp) continue;
            st->mark[k][row] = st->stamp;
            st->query_rows[k][st->n_query_rows[k]++] = row;
        }
    }
}

/* The trial set (see the top of this file) and the rows outside the
 * support that it changes, which the frame's snapshot does not restore. */
static void build_trial_set(s2meta_state *st, const melon_model *m) {
    const melon_sparse_grad *S = &st->trial.support_grad;
    s2meta_set *set = &st->trial_set;
    int full = st->cfg.scope == MELON_SCOPE_FULL;
    for (int k = 0; k < m->n_tensors; k++) {
        st->n_extra[k] = 0;
        if (m->tensor[k].kind == MELON_DENSE) continue; /* whole, fixed */
        int32_t n = 0, n_extra = 0;
        for (int32_t a = 0; a < st->n_query_rows[k]; a++) {
            int32_t row = st->query_rows[k][a];
            int in_support = S->row_index[k][row] >= 0;
            if (!in_support && !full) continue;
            set->rows[k][n++] = row;
            if (!in_support) st->extra_rows[k][n_extra++] = row;
        }
        set->n_first[k] = n;
        if (st->cfg.steps > 1)
            for (int32_t a = 0; a < S->n_rows[k]; a++)
                if (st->mark[k][S->rows[k][a]] != st->stamp)
                    set->rows[k][n++] = S->rows[k][a];
        set->n_rows[k] = n;
        st->n_extra[k] = n_extra;
    }
    set_finish(set, m);
}

/* Saves (restore = 0) or restores the extra rows' values. Dense tensors are
 * the frame's business: with next-batch meta-data they hold Theta_{t-1}
 * during the trial, and only the frame knows Theta_t. */
static void extra_rows_copy(s2meta_state *st, melon_model *m, int restore) {
    for (int k = 0; k < m->n_tensors; k++) {
        melon_tensor *t = &m->tensor[k];
        size_t cols = (size_t)t->cols;
        for (int32_t a = 0; a < st->n_extra[k]; a++) {
            float *model_row = t->value + (size_t)st->extra_rows[k][a] * cols;
            float *saved = st->extra_values[k] + (size_t)a * cols;
            if (restore)
                memcpy(model_row, saved, cols * sizeof(float));
            else
                memcpy(saved, model_row, cols * sizeof(float));
        }
    }
}

static s2meta_state_view view(s2meta_state_kind kind, float *values) {
    s2meta_state_view v = {kind, values};
    return v;
}

/* The L2 norm of each tensor's gradient in g (the controller's input). */
static void grad_norms(const melon_model *m, const melon_sparse_grad *g,
                       double *norms) {
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        size_t n = (t->kind == MELON_DENSE ? (size_t)t->rows : (size_t)g->n_rows[k]) *
                   (size_t)t->cols;
        double sq = 0.0;
        for (size_t a = 0; a < n; a++) sq += (double)g->grad[k][a] * g->grad[k][a];
        norms[k] = sqrt(sq);
    }
}

/* --s2meta-flexible: runs the controller before inner step s on the step's
 * gradient and loss; from min_steps on, stops with probability s_k. */
static int controller_stops(s2meta_state *st, const melon_model *m,
                            const melon_sparse_grad *g, double loss, int s) {
    double norms[MELON_MAX_TENSORS];
    grad_norms(m, g, norms);
    const float *p = st->stop_params.block[0].value;
    double stop = s2meta_stop_step(&st->stop_run, p, norms, loss);
    return s >= st->cfg.min_steps && melon_rng_uniform(&st->stop_rng) < stop;
}

/* The controller's REINFORCE gradient (s2meta_stop.h) for a trial of N
 * steps whose query loss ended at final_loss. */
static void controller_gradient(s2meta_state *st, int N, double final_loss) {
    melon_meta_params_zero_grad(&st->stop_params);
    for (int k = 0; k < N; k++)
        st->advantage[k] = st->step_query_loss[k] - final_loss -
                           (double)(N - k) * st->cfg.step_penalty;
    melon_meta_block *b = &st->stop_params.block[0];
    s2meta_stop_backward(&st->stop_run, b->value, st->advantage, N, b->grad);
}

double s2meta_meta_gradient(s2meta_state *st, melon_context *ctx,
                            const melon_triple *query, int n_query) {
    melon_model *m = ctx->model;
    melon_meta_trial *t = &st->trial;
    int K = st->cfg.steps;
    mark_query_rows(st, m, query, n_query);
    build_trial_set(st, m);
    extra_rows_copy(st, m, 0);
    s2meta_state_view initial =
        st->cfg.carry_state ? view(S2META_STATE_MODEL, st->carry)
                            : view(S2META_STATE_SHARED, NULL);
    s2meta_state_view working = view(S2META_STATE_SET, st->work_state);
    s2meta_state_view none = view(S2META_STATE_SET, NULL);
    size_t stride = 2 * st->trial_set.cap_coords;
    int flexible = st->cfg.flexible;
    if (flexible) s2meta_stop_begin(&st->stop_run, st->stop_params.block[0].value);
    st->trial_steps = K;
    for (int s = 0; s < K; s++) {
        const melon_sparse_grad *g = &t->support_grad;
        double loss = melon_mean_loss(&t->support_slots);
        if (s > 0) {
            m->ops->forward_backward(m, t->support, t->n_support, &st->slots);
            melon_sparse_grad_accumulate(&st->grad, m, t->support, &st->slots,
                                         NULL);
            g = &st->grad;
            loss = melon_mean_loss(&st->slots);
        }
        if (flexible) {
            if (controller_stops(st, m, g, loss, s)) {
                st->trial_steps = s;
                break;
            }
            /* the query loss before this step (a constant of the reward) */
            st->step_query_loss[s] =
                melon_model_mean_loss(m, query, n_query, st->loss_users,
                                      st->loss_items, st->loss_scores);
        }
        st->loss_rho[s] = loss_rho1(loss);
        s2meta_step_set(st, m, &st->trial_set, g, st->loss_rho[s],
                        s == 0 ? initial : working, s < K - 1 ? working : none,
                        st->record + (size_t)s * stride, K == 1);
    }
    melon_meta_trial_query(t, ctx, query, n_query);
    extra_rows_copy(st, m, 1);
    s2meta_backward_set(st, m, &st->trial_set, initial);
    if (flexible) controller_gradient(st, st->trial_steps, t->query_loss);
    return t->query_loss;
}

/* The rows a real update steps: those the batch touched (scope touched)
 * or every row (scope full, rows listed once at create time). */
static void build_update_set(s2meta_state *st, const melon_model *m) {
    s2meta_set *set = &st->update_set;
    if (st->cfg.scope == MELON_SCOPE_TOUCHED)
        for (int k = 0; k < m->n_tensors; k++) {
            if (m->tensor[k].kind == MELON_DENSE) continue;
            set->n_rows[k] = set->n_first[k] = st->grad.n_rows[k];
            memcpy(set->rows[k], st->grad.rows[k],
                   (size_t)st->grad.n_rows[k] * sizeof(int32_t));
        }
    set_finish(set, m);
}

static void mark_carried(s2meta_state *st, const melon_model *m) {
    const s2meta_set *set = &st->update_set;
    for (int k = 0; k < m->n_tensors; k++)
        for (int32_t a = 0; a < set->n_rows[k]; a++)
            st->carried[k][set->rows[k][a]] = 1;
}

double s2meta_apply_update(s2meta_state *st, melon_model *m,
                           const melon_triple *batch, int n) {
    int K = st->cfg.steps, carry = st->cfg.carry_state;
    double first_loss = 0.0;
    s2meta_state_view working =
        carry ? view(S2META_STATE_MODEL, st->carry)
              : view(S2META_STATE_SET, st->work_state);
    if (st->cfg.flexible)
        s2meta_stop_begin(&st->stop_run, st->stop_params.block[0].value);
    for (int s = 0; s < K; s++) {
        m->ops->forward_backward(m, batch, n, &st->slots);
        melon_sparse_grad_accumulate(&st->grad, m, batch, &st->slots, NULL);
        double loss = melon_mean_loss(&st->slots);
        if (s == 0) {
            first_loss = loss;
            build_update_set(st, m);
        }
        if (st->cfg.flexible && controller_stops(st, m, &st->grad, loss, s)) break;
        st->update_steps = s + 1;
        s2meta_state_view in = s == 0 && !carry
                                   ? view(S2META_STATE_SHARED, NULL)
                                   : working;
        s2meta_state_view out = carry || s < K - 1
                                    ? working
                                    : view(S2META_STATE_SET, NULL);
        s2meta_step_set(st, m, &st->update_set, &st->grad, loss_rho1(loss),
                        in, out, NULL, 0);
        if (carry) mark_carried(st, m);
    }
    return first_loss;
}

static int s2meta_meta_step(melon_strategy *s, melon_context *ctx,
                            const melon_triple *batch, int n, melon_err *err) {
    s2meta_state *st = s->impl;
    if (melon_meta_trial_support_for(&st->trial, &st->memory,
                                     st->cfg.meta_data, ctx, batch, n,
                                     err) != 0)
        return -1;
    st->meta_loss = s2meta_meta_gradient(st, ctx, batch, n);
    melon_meta_params_step(&st->params);
    if (st->cfg.flexible) melon_meta_params_step(&st->stop_params);
    return 0;
}

static int s2meta_update(melon_strategy *s, melon_context *ctx,
                         const melon_triple *batch, int n, melon_err *err) {
    s2meta_state *st = s->impl;
    melon_model *m = ctx->model;
    if (st->cfg.meta_data == MELON_META_NEXT_BATCH)
        melon_meta_trial_remember(&st->memory, m, batch, n);
    s->batch_loss = s2meta_apply_update(st, m, batch, n);
    (void)err;
    return 0;
}

/* State files: the MetaLSTMs with their Adam moments, then (carry_state)
 * every coordinate's (h, c) and which rows hold one. */
static int s2meta_save(const melon_strategy *s, FILE *f, melon_err *err) {
    const s2meta_state *st = s->impl;
    if (melon_meta_params_save(&st->params, f, err) != 0) return -1;
    if (st->cfg.flexible &&
        (melon_meta_params_save(&st->stop_params, f, err) != 0 ||
         fwrite(&st->stop_rng, sizeof st->stop_rng, 1, f) != 1))
        return melon_fail(err, "cannot write the S2Meta stop controller");
    if (!st->carry) return 0;
    size_t floats = st->carry_base[st->n_tensors] * 2 * st->layout.hidden;
    int ok = fwrite(st->carry, sizeof(float), floats, f) == floats;
    for (int k = 0; ok && k < st->n_tensors; k++) {
        size_t rows = (size_t)st->n_carried[k];
        ok = fwrite(st->carried[k], 1, rows, f) == rows;
    }
    return ok ? 0 : melon_fail(err, "cannot write the S2Meta carried states");
}

static int s2meta_load(melon_strategy *s, FILE *f, melon_err *err) {
    s2meta_state *st = s->impl;
    if (melon_meta_params_load(&st->params, f, err) != 0) return -1;
    if (st->cfg.flexible) {
        if (melon_meta_params_load(&st->stop_params, f, err) != 0) return -1;
        if (fread(&st->stop_rng, sizeof st->stop_rng, 1, f) != 1)
            return melon_fail(err, "truncated S2Meta stop controller");
    }
    if (!st->carry) return 0;
    size_t floats = st->carry_base[st->n_tensors] * 2 * st->layout.hidden;
    int ok = fread(st->carry, sizeof(float), floats, f) == floats;
    for (int k = 0; ok && k < st->n_tensors; k++) {
        size_t rows = (size_t)st->n_carried[k];
        ok = fread(st->carried[k], 1, rows, f) == rows;
    }
    return ok ? 0 : melon_fail(err, "truncated S2Meta carried states");
}

static void set_free(s2meta_set *set) {
    for (int k = 0; k < MELON_MAX_TENSORS; k++) free(set->rows[k]);
    memset(set, 0, sizeof *set);
}

/* Frees what create_sets and create_step_buffers made, but the marks. */
static void free_set_buffers(s2meta_state *st) {
    set_free(&st->trial_set);
    set_free(&st->update_set);
    free(st->chunks);
    st->chunks = NULL;
    for (int k = 0; k < MELON_MAX_TENSORS; k++) {
        free(st->query_rows[k]);
        free(st->extra_rows[k]);
        free(st->extra_values[k]);
        st->query_rows[k] = st->extra_rows[k] = NULL;
        st->extra_values[k] = NULL;
    }
    free(st->record);
    free(st->work_state);
    free(st->kept);
    free(st->kept_memory);
    st->record = st->work_state = st->kept_memory = NULL;
    st->kept = NULL;
    st->n_kept = 0;
    if (st->work)
        for (int t = 0; t < st->n_threads; t++) {
            free(st->work[t].memory);
            free(st->work[t].rec);
        }
    free(st->work);
    st->work = NULL;
}

static void s2meta_free(melon_strategy *s) {
    s2meta_state *st = s->impl;
    if (!st) return;
    melon_meta_params_free(&st->params);
    melon_meta_params_free(&st->stop_params);
    s2meta_stop_run_free(&st->stop_run);
    melon_meta_trial_free(&st->trial);
    melon_meta_memory_free(&st->memory);
    melon_grads_free(&st->slots);
    melon_sparse_grad_free(&st->grad);
    free_set_buffers(st);
    for (int k = 0; k < MELON_MAX_TENSORS; k++) {
        free(st->mark[k]);
        free(st->carried[k]);
    }
    free(st->loss_users);
    free(st->loss_items);
    free(st->loss_scores);
    free(st->carry);
    free(st);
    s->impl = NULL;
}

static int create_sets(s2meta_state *st, const melon_model *m, int n,
                       melon_err *err);
static int create_step_buffers(s2meta_state *st, melon_err *err);

static int32_t min_rows(const melon_tensor *t, size_t bound) {
    return (size_t)t->rows < bound ? t->rows : (int32_t)bound;
}

/* Whether the sets' row bounds differ from those the tables call for now
 * (bounds follow the tables until they reach a batch's rows; a full-scope
 * update set lists every row). */
static int sets_outgrown(const s2meta_state *st, const melon_model *m) {
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        if (t->kind == MELON_DENSE) continue;
        size_t query = (t->kind == MELON_USER_TABLE ? 1 : 2) * (size_t)st->max_batch;
        int32_t update = st->cfg.scope == MELON_SCOPE_FULL ? t->rows
                                                            : min_rows(t, query);
        if (st->trial_set.cap_rows[k] != min_rows(t, 3 * query) ||
            st->update_set.cap_rows[k] != update)
            return 1;
    }
    return 0;
}

/* The carried states in the layout of the grown tables: each tensor's
 * block moves to its new base, new rows hold none. */
static int grow_carry(s2meta_state *st, const melon_model *m, melon_err *err) {
    size_t two_h = 2 * (size_t)st->layout.hidden, total = 0;
    size_t base[MELON_MAX_TENSORS + 1];
    for (int k = 0; k < m->n_tensors; k++) {
        base[k] = total;
        total += (size_t)m->tensor[k].rows * (size_t)m->tensor[k].cols;
    }
    base[m->n_tensors] = total;
    if (total == st->carry_base[m->n_tensors]) return 0;
    float *carry = melon_calloc(total * two_h, sizeof(float), err);
    if (!carry) return -1;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        size_t old = st->carry_base[k + 1] - st->carry_base[k];
        memcpy(carry + base[k] * two_h, st->carry + st->carry_base[k] * two_h,
               old * two_h * sizeof(float));
        if (t->rows > st->n_carried[k]) {
            uint8_t *flags = melon_grow_rows(st->carried[k], 1,
                                             (size_t)st->n_carried[k],
                                             (size_t)t->rows,
                                             (size_t)t->cap_rows, 0, err);
            if (!flags) {
                free(carry);
                return -1;
            }
            st->carried[k] = flags;
            st->n_carried[k] = t->rows;
        }
    }
    free(st->carry);
    st->carry = carry;
    memcpy(st->carry_base, base, sizeof base);
    return 0;
}

/* New rows: unmarked, no carried state; the per-call buffers whose size
 * follows the tables are made again when their bounds moved. */
static int s2meta_grow(melon_strategy *s, melon_model *m, melon_err *err) {
    s2meta_state *st = s->impl;
    if (melon_meta_trial_grow(&st->trial, m, err) != 0 ||
        melon_meta_memory_grow(&st->memory, m, err) != 0 ||
        melon_sparse_grad_grow(&st->grad, m, err) != 0)
        return -1;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        if (t->kind == MELON_DENSE || t->rows <= st->mark_rows[k]) continue;
        uint32_t *mark = melon_grow_rows(st->mark[k], sizeof *mark,
                                         (size_t)st->mark_rows[k],
                                         (size_t)t->rows, (size_t)t->cap_rows,
                                         0, err);
        if (!mark) return -1;
        st->mark[k] = mark;
        st->mark_rows[k] = t->rows;
    }
    if (st->carry && grow_carry(st, m, err) != 0) return -1;
    if (!sets_outgrown(st, m)) return 0;
    free_set_buffers(st);
    if (create_sets(st, m, st->max_batch, err) != 0 ||
        create_step_buffers(st, err) != 0) {
        free_set_buffers(st);
        return melon_fail(err, "s2meta: cannot grow its buffers: %s", err->msg);
    }
    return 0;
}

static const melon_strategy_ops s2meta_ops = {
    .name = "s2meta",
    .meta_step = s2meta_meta_step,
    .update = s2meta_update,
    .save = s2meta_save,
    .load = s2meta_load,
    .free_impl = s2meta_free,
    .grow = s2meta_grow,
};

/* Allocates a set able to hold cap_rows[k] rows of tensor k; dense tensors
 * (and tables when all_rows) are listed whole once and for all. */
static int set_init(s2meta_set *set, const melon_model *m,
                    const int32_t *cap_rows, int all_rows, melon_err *err) {
    memset(set, 0, sizeof *set);
    set->n_tensors = m->n_tensors;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        int whole = all_rows || t->kind == MELON_DENSE;
        set->cap_rows[k] = whole ? t->rows : cap_rows[k];
        set->rows[k] = melon_alloc((size_t)set->cap_rows[k] * sizeof(int32_t), err);
        if (!set->rows[k]) return -1;
        if (whole) {
            for (int32_t a = 0; a < t->rows; a++) set->rows[k][a] = a;
            set->n_rows[k] = set->n_first[k] = t->rows;
        }
        set->cap_coords += (size_t)set->cap_rows[k] * (size_t)t->cols;
    }
    set_finish(set, m);
    return 0;
}

/* Per-thread work space: K step records of one chunk and the backward's
 * buffers. */
static int work_init(s2meta_state *st, int chunk, melon_err *err) {
    const s2meta_layout *l = &st->layout;
    int K = st->cfg.steps;
    size_t H = (size_t)l->hidden, C = (size_t)s2meta_record_ld(chunk);
    size_t floats = (size_t)K * s2meta_record_floats(l, chunk) +
                    s2meta_scratch_floats(l, chunk) + 3 * C + 4 * C * H +
                    (size_t)st->n_tensors * l->size;
    st->work = melon_calloc((size_t)st->n_threads, sizeof *st->work, err);
    if (!st->work) return -1;
    for (int t = 0; t < st->n_threads; t++) {
        s2meta_work *w = &st->work[t];
        w->memory = melon_alloc(floats * sizeof(float), err);
        w->rec = melon_alloc((size_t)K * sizeof *w->rec, err);
        if (!w->memory || !w->rec) return -1;
        float *at = w->memory;
        for (int s = 0; s < K; s++) at = s2meta_record_carve(l, &w->rec[s], chunk, at);
        at = s2meta_scratch_carve(l, &w->scratch, chunk, at);
        w->theta_out = at;  at += C;
        w->d_theta = at;    at += C;
        w->d_theta_in = at; at += C;
        w->d_h = at;        at += C * H;
        w->d_c = at;        at += C * H;
        w->d_h_in = at;     at += C * H;
        w->d_c_in = at;     at += C * H;
        w->grad = at;
    }
    return 0;
}

static int check_config(const melon_s2meta_config *c, const melon_model *m,
                        melon_err *err) {
    if (!melon_model_has_parameters(m)) {
        melon_fail(err, "strategy s2meta needs a model with parameters (bpr "
                        "or ncf), not '%s'", m->ops->name);
        return MELON_NOT_APPLICABLE;
    }
    if (c->steps < 1 || c->steps > S2META_MAX_STEPS)
        return melon_fail(err, "s2meta: %d inner steps, expected 1 to %d",
                          c->steps, S2META_MAX_STEPS);
    if (c->hidden < 1 || c->hidden > S2META_MAX_HIDDEN)
        return melon_fail(err, "s2meta: MetaLSTM width %d, expected 1 to %d",
                          c->hidden, S2META_MAX_HIDDEN);
    if (m->n_tensors > MELON_MAX_META_BLOCKS)
        return melon_fail(err, "s2meta: %d tensors, at most %d MetaLSTMs",
                          m->n_tensors, MELON_MAX_META_BLOCKS);
    if (c->flexible && (c->steps < 2 || c->min_steps < 1 || c->min_steps >= c->steps))
        return melon_fail(err, "s2meta: --s2meta-flexible needs 1 <= min-steps "
                               "< steps (got %d and %d; the original: 4 and 20)",
                          c->min_steps, c->steps);
    return 0;
}

static int create_sets(s2meta_state *st, const melon_model *m, int n,
                       melon_err *err) {
    int32_t trial_cap[MELON_MAX_TENSORS], update_cap[MELON_MAX_TENSORS];
    int widest = 1, chunks = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        int user = t->kind == MELON_USER_TABLE;
        /* a batch of n triples looks up <= n users and <= 2n items; a
         * support set of <= 2n triples twice as many */
        size_t query = user ? (size_t)n : 2 * (size_t)n;
        trial_cap[k] = min_rows(t, 3 * query);
        update_cap[k] = min_rows(t, query);
        if (t->cols > widest) widest = t->cols;
    }
    int full = st->cfg.scope == MELON_SCOPE_FULL;
    if (set_init(&st->trial_set, m, trial_cap, 0, err) != 0 ||
        set_init(&st->update_set, m, update_cap, full, err) != 0)
        return -1;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        int per = S2META_CHUNK / t->cols > 0 ? S2META_CHUNK / t->cols : 1;
        int32_t rows = st->trial_set.cap_rows[k] > st->update_set.cap_rows[k]
                           ? st->trial_set.cap_rows[k]
                           : st->update_set.cap_rows[k];
        chunks += (rows + per - 1) / per;
        if (t->kind == MELON_DENSE) continue;
        size_t query = t->kind == MELON_USER_TABLE ? (size_t)n : 2 * (size_t)n;
        if (!st->mark[k]) {
            st->mark[k] = melon_calloc((size_t)t->rows, sizeof(uint32_t), err);
            st->mark_rows[k] = t->rows;
        }
        st->query_rows[k] = melon_alloc((size_t)min_rows(t, query) * sizeof(int32_t), err);
        st->extra_rows[k] = melon_alloc((size_t)min_rows(t, query) * sizeof(int32_t), err);
        st->extra_values[k] = melon_alloc((size_t)min_rows(t, query) * (size_t)t->cols *
                                          sizeof(float), err);
        if (!st->mark[k] || !st->query_rows[k] || !st->extra_rows[k] ||
            !st->extra_values[k])
            return -1;
    }
    st->cap_chunks = chunks;
    st->chunks = melon_alloc((size_t)chunks * sizeof *st->chunks, err);
    if (!st->chunks) return -1;
    int chunk = widest > S2META_CHUNK ? widest : S2META_CHUNK;
    if (st->cfg.steps == 1) {
        /* kept activations of a one-step trial, up to the budget */
        size_t floats = s2meta_record_floats(&st->layout, chunk);
        size_t fit = S2META_KEPT_BYTES / (floats * sizeof(float));
        st->n_kept = (int)(fit < (size_t)chunks ? fit : (size_t)chunks);
        st->kept = melon_calloc((size_t)st->n_kept, sizeof *st->kept, err);
        st->kept_memory = melon_alloc((size_t)st->n_kept * floats * sizeof(float), err);
        if (!st->kept || !st->kept_memory) return -1;
        float *at = st->kept_memory;
        for (int c = 0; c < st->n_kept; c++)
            at = s2meta_record_carve(&st->layout, &st->kept[c], chunk, at);
    }
    return work_init(st, chunk, err);
}

/* The inner steps' records and working states, sized by the sets. */
static int create_step_buffers(s2meta_state *st, melon_err *err) {
    size_t two_h = 2 * (size_t)st->layout.hidden;
    int K = st->cfg.steps;
    size_t trial = st->trial_set.cap_coords, update = st->update_set.cap_coords;
    st->record = melon_alloc((size_t)K * trial * 2 * sizeof(float), err);
    if (!st->record) return -1;
    if (K > 1) {
        size_t coords = trial > update ? trial : update;
        st->work_state = melon_alloc(coords * two_h * sizeof(float), err);
        if (!st->work_state) return -1;
    }
    return 0;
}

static int create_states(s2meta_state *st, const melon_model *m,
                         melon_err *err) {
    if (create_step_buffers(st, err) != 0) return -1;
    if (!st->cfg.carry_state) return 0;
    size_t two_h = 2 * (size_t)st->layout.hidden;
    size_t total = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        st->carry_base[k] = total;
        total += (size_t)m->tensor[k].rows * (size_t)m->tensor[k].cols;
        st->n_carried[k] = m->tensor[k].rows;
        st->carried[k] = melon_calloc((size_t)m->tensor[k].rows, 1, err);
        if (!st->carried[k]) return -1;
    }
    st->carry_base[m->n_tensors] = total;
    st->carry = melon_calloc(total * two_h, sizeof(float), err);
    if (!st->carry)
        return melon_fail(err, "s2meta: cannot hold a carried state for "
                               "%zu coordinates (%zu MB)", total,
                          total * two_h * sizeof(float) >> 20);
    return 0;
}

MELON_CONSTRUCTOR(melon_s2meta_create) {
    const melon_s2meta_config *cfg = own;
    melon_model *model = m;
    int checked = check_config(cfg, model, err);
    if (checked != 0) return checked; /* -1 or MELON_NOT_APPLICABLE */
    s2meta_state *st = melon_calloc(1, sizeof *st, err);
    if (!st) return -1;
    s->ops = &s2meta_ops;
    s->impl = st;
    st->cfg = *cfg;
    st->n_tensors = model->n_tensors;
    st->n_threads = omp_get_max_threads();
    s2meta_layout_make(&st->layout, st->cfg.hidden);
    int n = shape->max_batch;
    st->max_batch = n;
    melon_meta_adam_config adam;
    melon_meta_adam_config_default(&adam);
    adam.lr = st->cfg.meta_lr;
    adam.clip = st->cfg.clip;
    melon_meta_params_init(&st->params, &adam);
    melon_rng rng;
    melon_rng_seed_stream(&rng, shape->seed, S2META_INIT_STREAM);
    for (int k = 0; k < model->n_tensors; k++) {
        float *p = melon_meta_params_add(&st->params, model->tensor[k].name,
                                         st->layout.size, 0, err);
        if (!p) goto fail;
        s2meta_lstm_init(&st->layout, p, &rng);
    }
    if (st->cfg.flexible) {
        melon_meta_adam_config stop_adam = adam;
        stop_adam.lr = st->cfg.stop_lr;
        melon_meta_params_init(&st->stop_params, &stop_adam);
        s2meta_stop_layout_make(&st->stop_layout, model->n_tensors);
        float *p = melon_meta_params_add(&st->stop_params, "stop_controller",
                                         st->stop_layout.size, 0, err);
        if (!p || s2meta_stop_run_init(&st->stop_run, &st->stop_layout,
                                       st->cfg.steps, err) != 0)
            goto fail;
        s2meta_stop_init(&st->stop_layout, p, &rng);
        melon_rng_seed_stream(&st->stop_rng, shape->seed, S2META_STOP_STREAM);
        st->loss_users = melon_alloc(2 * (size_t)n * sizeof(int32_t), err);
        st->loss_items = melon_alloc(2 * (size_t)n * sizeof(int32_t), err);
        st->loss_scores = melon_alloc(2 * (size_t)n * sizeof(float), err);
        if (!st->loss_users || !st->loss_items || !st->loss_scores) goto fail;
    }
    if (melon_meta_trial_init(&st->trial, model, n, err) != 0 ||
        (st->cfg.meta_data == MELON_META_NEXT_BATCH &&
         melon_meta_memory_init(&st->memory, model, n, err) != 0) ||
        melon_grads_init(&st->slots, model, 2 * n, err) != 0 ||
        melon_sparse_grad_init(&st->grad, model, 2 * n, err) != 0 ||
        create_sets(st, model, n, err) != 0 ||
        create_states(st, model, err) != 0)
        goto fail;
    return 0;
fail:
    s2meta_free(s);
    return -1;
}
