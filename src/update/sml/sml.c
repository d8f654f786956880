/* SML as an online update strategy (update-strategies.md B.6, "Online use"),
 * see sml.h for the steps. Rows of a side are handled in lists of at most
 * the work capacity (a batch's rows), so every buffer is sized at create
 * time; with all_rows the kept rows are every row of the table and are
 * transferred in chunks of that capacity. */
#include "sml.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Random stream of the transfers' init. */
#define SML_INIT_STREAM 0x534d4cULL

static const char *const block_names[SML_SIDES][SML_N_BLOCKS] = {
    {"user.K1", "user.beta1", "user.K2", "user.beta2", "user.F1", "user.phi1",
     "user.F2", "user.phi2"},
    {"item.K1", "item.beta1", "item.K2", "item.beta2", "item.F1", "item.phi1",
     "item.F2", "item.phi2"}};

/* Starts a new set of distinct rows (stamps avoid clearing the marks). */
static void new_stamp(sml_state *st, const melon_model *m) {
    if (++st->stamp != 0) return;
    for (int s = 0; s < SML_SIDES; s++)
        memset(st->mark[s], 0,
               (size_t)m->tensor[st->tensor[s]].rows * sizeof(uint32_t));
    st->stamp = 1;
}

/* work[side].rows := the side's distinct rows the batch looks up (only the
 * kept ones when only_kept), in order of first look-up. */
static void select_rows(sml_state *st, const melon_model *m, int side,
                        const melon_triple *batch, int n, int only_kept) {
    const melon_tensor *t = &m->tensor[st->tensor[side]];
    sml_rows *w = &st->work[side];
    const sml_kept *kept = &st->kept[side];
    w->n = 0;
    for (int p = 0; p < 2 * n; p++) {
        int32_t row = melon_slot_row(t, &batch[p / 2], p % 2);
        if (st->mark[side][row] == st->stamp) continue;
        st->mark[side][row] = st->stamp;
        if (only_kept && kept->at[row] < 0) continue;
        w->rows[w->n] = row;
        w->kept[w->n] = kept->at[row];
        w->n++;
    }
}

/* work[side].out := f(w^prev, w^) of the listed (kept) rows. */
static void transfer_rows(sml_state *st, int side) {
    sml_rows *w = &st->work[side];
    const sml_kept *kept = &st->kept[side];
    const float *hat = st->shadow.tensor[st->tensor[side]].value;
    size_t d = (size_t)st->dim;
    for (int32_t r = 0; r < w->n; r++) {
        memcpy(w->w_prev + r * d, kept->w_prev + (size_t)w->kept[r] * d,
               d * sizeof(float));
        memcpy(w->w_hat + r * d, hat + (size_t)w->rows[r] * d, d * sizeof(float));
    }
    sml_transfer_forward(&st->net[side], w->n, w->w_prev, w->w_hat,
                         &st->acts[side], w->out);
}

/* Writes work[side].out into the model's rows, keeping the old values in
 * `saved` when save != 0. */
static void write_rows(sml_state *st, melon_model *m, int side, int save) {
    sml_rows *w = &st->work[side];
    float *table = m->tensor[st->tensor[side]].value;
    size_t d = (size_t)st->dim;
    for (int32_t r = 0; r < w->n; r++) {
        float *row = table + (size_t)w->rows[r] * d;
        if (save) memcpy(w->saved + r * d, row, d * sizeof(float));
        memcpy(row, w->out + r * d, d * sizeof(float));
    }
}

static void restore_rows(sml_state *st, melon_model *m, int side) {
    sml_rows *w = &st->work[side];
    float *table = m->tensor[st->tensor[side]].value;
    size_t d = (size_t)st->dim;
    for (int32_t r = 0; r < w->n; r++)
        memcpy(table + (size_t)w->rows[r] * d, w->saved + r * d, d * sizeof(float));
}

/* The batch's loss and mean gradient at the model's current values. */
static double batch_gradient(sml_state *st, melon_model *m,
                             const melon_triple *batch, int n) {
    sml_loss_forward_backward(st, m, batch, n, &st->slots);
    melon_sparse_grad_accumulate(&st->grad, m, batch, &st->slots, NULL);
    return melon_mean_loss(&st->slots);
}

/* work[side].d_out := the mean gradient at the listed rows. */
static void gather_row_gradients(sml_state *st, int side) {
    sml_rows *w = &st->work[side];
    int k = st->tensor[side];
    size_t d = (size_t)st->dim;
    for (int32_t r = 0; r < w->n; r++) {
        int32_t at = st->grad.row_index[k][w->rows[r]];
        if (at >= 0)
            memcpy(w->d_out + r * d, st->grad.grad[k] + (size_t)at * d, d * sizeof(float));
        else
            memset(w->d_out + r * d, 0, d * sizeof(float));
    }
}

double sml_transfer_gradient(sml_state *st, melon_model *m,
                             const melon_triple *query, int n) {
    new_stamp(st, m);
    int any = 0;
    for (int s = 0; s < SML_SIDES; s++) {
        select_rows(st, m, s, query, n, 1);
        any |= st->work[s].n > 0;
    }
    melon_meta_params_zero_grad(&st->params);
    if (!any) return NAN;
    for (int s = 0; s < SML_SIDES; s++) {
        transfer_rows(st, s);
        write_rows(st, m, s, 1);
    }
    double loss = batch_gradient(st, m, query, n);
    for (int s = 0; s < SML_SIDES; s++) {
        gather_row_gradients(st, s);
        sml_transfer_backward(&st->net[s], st->work[s].n, &st->acts[s],
                              st->work[s].d_out, 1, NULL);
        restore_rows(st, m, s);
    }
    return loss;
}

double sml_new_values_step(sml_state *st, melon_model *m,
                           const melon_triple *batch, int n, int biases) {
    new_stamp(st, m);
    for (int s = 0; s < SML_SIDES; s++) {
        select_rows(st, m, s, batch, n, 1);
        transfer_rows(st, s);
        write_rows(st, m, s, 1);
    }
    double loss = batch_gradient(st, m, batch, n);
    size_t d = (size_t)st->dim;
    for (int s = 0; s < SML_SIDES; s++) {
        sml_rows *w = &st->work[s];
        int k = st->tensor[s];
        const float *hat = st->shadow.tensor[k].value;
        gather_row_gradients(st, s);
        sml_transfer_backward(&st->net[s], w->n, &st->acts[s], w->d_out, 0,
                              w->d_hat);
        /* lambda_1 / 2 sum over the batch's look-ups of |w^|^2: a user row
         * is looked up once per triple (two slots), an item row per slot */
        for (int32_t r = 0; r < w->n; r++) {
            int32_t at = st->grad.row_index[k][w->rows[r]];
            if (at < 0) continue; /* not looked up: no loss, no L2 */
            float looks = (float)st->grad.count[k][at] / (s == SML_USERS ? 2.0f : 1.0f);
            float *g = st->grad.grad[k] + (size_t)at * d;
            const float *row = hat + (size_t)w->rows[r] * d;
            for (size_t c = 0; c < d; c++) {
                w->d_hat[r * d + c] += st->cfg.l2 * looks * row[c];
                g[c] = w->d_hat[r * d + c];
            }
        }
        restore_rows(st, m, s);
    }
    /* Adam on the new values: the transferred tables' rows along dL/dw^,
     * the biases (when they step) along their own gradient */
    melon_sparse_grad step = st->grad; /* a view; the optimizer only reads */
    for (int s = 0; s < SML_SIDES; s++) {
        int b = st->bias[s];
        if (!biases) {
            step.n_rows[b] = 0;
            continue;
        }
        for (int32_t a = 0; a < st->grad.n_rows[b]; a++) {
            int32_t row = st->grad.rows[b][a];
            st->shadow.tensor[b].value[row] = m->tensor[b].value[row];
        }
    }
    melon_optimizer_step(&st->opt, &st->shadow, &step, 1.0f);
    if (biases)
        for (int s = 0; s < SML_SIDES; s++) {
            int b = st->bias[s];
            for (int32_t a = 0; a < st->grad.n_rows[b]; a++) {
                int32_t row = st->grad.rows[b][a];
                m->tensor[b].value[row] = st->shadow.tensor[b].value[row];
            }
        }
    return loss;
}

/* Deploys f(w^prev, w^) on every kept row of the side, in chunks. */
static void deploy_kept(sml_state *st, melon_model *m, int side) {
    sml_kept *kept = &st->kept[side];
    sml_rows *w = &st->work[side];
    for (int32_t first = 0; first < kept->n; first += w->cap) {
        int32_t count = kept->n - first < w->cap ? kept->n - first : w->cap;
        for (int32_t r = 0; r < count; r++) {
            w->rows[r] = kept->rows[first + r];
            w->kept[r] = first + r;
        }
        w->n = count;
        transfer_rows(st, side);
        write_rows(st, m, side, 0);
    }
}

/* The kept rows become the batch's (all rows: every row), each with
 * w^prev = w^ = its deployed value. */
static void keep_rows(sml_state *st, melon_model *m, int side,
                      const melon_triple *batch, int n) {
    sml_kept *kept = &st->kept[side];
    int k = st->tensor[side];
    size_t d = (size_t)st->dim;
    if (!st->cfg.all_rows) {
        for (int32_t a = 0; a < kept->n; a++) kept->at[kept->rows[a]] = -1;
        new_stamp(st, m);
        select_rows(st, m, side, batch, n, 0);
        const sml_rows *w = &st->work[side];
        kept->n = w->n;
        for (int32_t a = 0; a < w->n; a++) {
            kept->rows[a] = w->rows[a];
            kept->at[w->rows[a]] = a;
        }
    }
    for (int32_t a = 0; a < kept->n; a++) {
        const float *value = m->tensor[k].value + (size_t)kept->rows[a] * d;
        memcpy(kept->w_prev + a * d, value, d * sizeof(float));
        memcpy(st->shadow.tensor[k].value + (size_t)kept->rows[a] * d, value,
               d * sizeof(float));
    }
}

static int sml_meta_step(melon_strategy *s, melon_context *ctx,
                         const melon_triple *batch, int n, melon_err *err) {
    sml_state *st = s->impl;
    melon_model *m = ctx->model;
    for (int round = 0; round < st->cfg.inner; round++) {
        if (round > 0 && st->n_prev > 0)
            sml_new_values_step(st, m, st->prev_batch, st->n_prev, 0);
        double loss = sml_transfer_gradient(st, m, batch, n);
        if (isnan(loss)) break; /* nothing kept is looked up */
        st->meta_loss = loss;
        melon_meta_params_step(&st->params);
    }
    (void)err;
    return 0;
}

static int sml_update(melon_strategy *s, melon_context *ctx,
                      const melon_triple *batch, int n, melon_err *err) {
    sml_state *st = s->impl;
    melon_model *m = ctx->model;
    for (int side = 0; side < SML_SIDES; side++) {
        deploy_kept(st, m, side); /* refresh with the new Psi */
        keep_rows(st, m, side, batch, n);
    }
    s->batch_loss = sml_new_values_step(st, m, batch, n, 1);
    for (int side = 0; side < SML_SIDES; side++) deploy_kept(st, m, side);
    memcpy(st->prev_batch, batch, (size_t)n * sizeof *batch);
    st->n_prev = n;
    (void)err;
    return 0;
}

/* State files: both transfers with their Adam moments, the new values
 * (the shadow model's tables) with theirs, and the kept rows. */
static int sml_save(const melon_strategy *s, FILE *f, melon_err *err) {
    const sml_state *st = s->impl;
    if (melon_meta_params_save(&st->params, f, err) != 0 ||
        melon_optimizer_save(&st->opt, f, err) != 0)
        return -1;
    int ok = 1;
    for (int k = 0; ok && k < st->shadow.n_tensors; k++) {
        const melon_tensor *t = &st->shadow.tensor[k];
        size_t size = (size_t)t->rows * t->cols;
        ok = fwrite(t->value, sizeof(float), size, f) == size;
    }
    for (int side = 0; ok && side < SML_SIDES; side++) {
        const sml_kept *kept = &st->kept[side];
        size_t n = (size_t)kept->n;
        ok = fwrite(&kept->n, sizeof kept->n, 1, f) == 1 &&
             fwrite(kept->rows, sizeof(int32_t), n, f) == n &&
             fwrite(kept->w_prev, sizeof(float), n * st->dim, f) == n * st->dim;
    }
    ok = ok && fwrite(&st->n_prev, sizeof st->n_prev, 1, f) == 1 &&
         fwrite(st->prev_batch, sizeof *st->prev_batch, (size_t)st->n_prev, f) ==
             (size_t)st->n_prev;
    return ok ? 0 : melon_fail(err, "cannot write the SML state");
}

static int sml_load(melon_strategy *s, FILE *f, melon_err *err) {
    sml_state *st = s->impl;
    if (melon_meta_params_load(&st->params, f, err) != 0 ||
        melon_optimizer_load(&st->opt, f, err) != 0)
        return -1;
    int ok = 1;
    for (int k = 0; ok && k < st->shadow.n_tensors; k++) {
        melon_tensor *t = &st->shadow.tensor[k];
        size_t size = (size_t)t->rows * t->cols;
        ok = fread(t->value, sizeof(float), size, f) == size;
    }
    for (int side = 0; ok && side < SML_SIDES; side++) {
        sml_kept *kept = &st->kept[side];
        int32_t n = 0;
        ok = fread(&n, sizeof n, 1, f) == 1 && n >= 0 && n <= kept->cap;
        if (!ok) break;
        int32_t rows = st->shadow.tensor[kept->tensor].rows;
        for (int32_t a = 0; a < kept->n; a++) kept->at[kept->rows[a]] = -1;
        kept->n = n;
        ok = fread(kept->rows, sizeof(int32_t), (size_t)n, f) == (size_t)n &&
             fread(kept->w_prev, sizeof(float), (size_t)n * st->dim, f) ==
                 (size_t)n * st->dim;
        for (int32_t a = 0; ok && a < n; a++) {
            ok = kept->rows[a] >= 0 && kept->rows[a] < rows;
            if (ok) kept->at[kept->rows[a]] = a;
        }
    }
    ok = ok && fread(&st->n_prev, sizeof st->n_prev, 1, f) == 1 &&
         st->n_prev >= 0 && st->n_prev <= st->slots.capacity &&
         fread(st->prev_batch, sizeof *st->prev_batch, (size_t)st->n_prev, f) ==
             (size_t)st->n_prev;
    return ok ? 0 : melon_fail(err, "truncated or inconsistent SML state");
}

static void sml_free(melon_strategy *s) {
    sml_state *st = s->impl;
    if (!st) return;
    melon_meta_params_free(&st->params);
    for (int side = 0; side < SML_SIDES; side++) {
        sml_acts_free(&st->acts[side]);
        sml_kept *kept = &st->kept[side];
        free(kept->rows);
        free(kept->at);
        free(kept->w_prev);
        sml_rows *w = &st->work[side];
        free(w->rows);
        free(w->kept);
        free(w->w_prev);
        free(w->w_hat);
        free(w->out);
        free(w->saved);
        free(w->d_out);
        free(w->d_hat);
        free(st->mark[side]);
    }
    melon_model_free(&st->shadow);
    melon_optimizer_free(&st->opt);
    melon_grads_free(&st->slots);
    melon_sparse_grad_free(&st->grad);
    free(st->pairs_user);
    free(st->pairs_item);
    free(st->pair_score);
    free(st->prev_batch);
    free(st);
    s->impl = NULL;
}

/* Gives a side's working list room for cap rows (a batch's rows, or all
 * of a small table's). */
static int grow_work(sml_state *st, int side, int32_t cap, melon_err *err) {
    sml_rows *w = &st->work[side];
    if (cap <= w->cap) return 0;
    size_t d = (size_t)st->dim;
    int32_t **ints[2] = {&w->rows, &w->kept};
    for (int b = 0; b < 2; b++) {
        int32_t *p = melon_grow_rows(*ints[b], sizeof(int32_t), 0, 0,
                                     (size_t)cap, 0, err);
        if (!p) return -1;
        *ints[b] = p;
    }
    float **bufs[6] = {&w->w_prev, &w->w_hat, &w->out, &w->saved, &w->d_out, &w->d_hat};
    for (int b = 0; b < 6; b++) {
        float *p = melon_grow_rows(*bufs[b], d * sizeof(float), 0, 0,
                                   (size_t)cap, 0, err);
        if (!p) return -1;
        *bufs[b] = p;
    }
    sml_acts_free(&st->acts[side]);
    if (sml_acts_init(&st->acts[side], st->dim, st->cfg.hidden, cap, err) != 0)
        return -1;
    w->cap = cap;
    return 0;
}

/* A side's new rows: unmarked; kept (with their values as w^prev and as
 * new values) when every row is kept, else not kept. */
static int grow_side(sml_state *st, melon_model *m, int side, melon_err *err) {
    const melon_tensor *t = &m->tensor[st->tensor[side]];
    int32_t old = st->rows[side], rows = t->rows;
    if (rows <= old) return 0;
    size_t d = (size_t)st->dim, room = (size_t)t->cap_rows;
    int32_t batch_rows = side == SML_USERS ? st->max_batch : 2 * st->max_batch;
    int32_t cap = rows < batch_rows ? rows : batch_rows;
    sml_kept *kept = &st->kept[side];
    uint32_t *mark = melon_grow_rows(st->mark[side], sizeof *mark, (size_t)old,
                                     (size_t)rows, room, 0, err);
    if (!mark) return -1;
    st->mark[side] = mark;
    int32_t *at = melon_grow_rows(kept->at, sizeof *at, (size_t)old,
                                  (size_t)rows, room, 0xff, err); /* -1 */
    if (!at) return -1;
    kept->at = at;
    int32_t kept_cap = st->cfg.all_rows ? rows : cap;
    if (kept_cap > kept->cap) {
        size_t kept_room = st->cfg.all_rows ? room : (size_t)kept_cap;
        int32_t *krows = melon_grow_rows(kept->rows, sizeof *krows, 0, 0,
                                         kept_room, 0, err);
        if (!krows) return -1;
        kept->rows = krows;
        float *w_prev = melon_grow_rows(kept->w_prev, d * sizeof(float), 0, 0,
                                        kept_room, 0, err);
        if (!w_prev) return -1;
        kept->w_prev = w_prev;
        kept->cap = kept_cap;
    }
    if (st->cfg.all_rows) {
        float *shadow = st->shadow.tensor[st->tensor[side]].value;
        for (int32_t r = old; r < rows; r++) {
            kept->at[r] = r;
            kept->rows[r] = r;
            memcpy(kept->w_prev + (size_t)r * d, t->value + (size_t)r * d,
                   d * sizeof(float));
            memcpy(shadow + (size_t)r * d, t->value + (size_t)r * d,
                   d * sizeof(float));
        }
        kept->n = rows;
    }
    if (grow_work(st, side, cap, err) != 0) return -1;
    st->rows[side] = rows;
    return 0;
}

static int sml_grow(melon_strategy *s, melon_model *m, melon_err *err) {
    sml_state *st = s->impl;
    if (melon_model_grow(&st->shadow, m->n_users, m->n_items, err) != 0 ||
        melon_optimizer_grow(&st->opt, &st->shadow, err) != 0 ||
        melon_sparse_grad_grow(&st->grad, m, err) != 0)
        return -1;
    for (int side = 0; side < SML_SIDES; side++)
        if (grow_side(st, m, side, err) != 0) return -1;
    return 0;
}

static const melon_strategy_ops sml_ops = {
    .name = "sml",
    .meta_step = sml_meta_step,
    .update = sml_update,
    .save = sml_save,
    .load = sml_load,
    .free_impl = sml_free,
    .grow = sml_grow,
};

static int find_tensor(const melon_model *m, const char *name,
                       melon_tensor_kind kind) {
    for (int k = 0; k < m->n_tensors; k++)
        if (strcmp(m->tensor[k].name, name) == 0 && m->tensor[k].kind == kind)
            return k;
    return -1;
}

/* SML is defined on matrix factorisation (update-strategies.md B.6, "Why
 * SML is N/A for NCF"): MELON_NOT_APPLICABLE on any other model. */
static int check_model(sml_state *st, const melon_model *m, melon_err *err) {
    if (strcmp(m->ops->name, "bpr") != 0) {
        melon_fail(err, "strategy sml needs the bpr model, not '%s': SML's "
                        "transfer combines old and new matrix-factorisation "
                        "vectors whose inner product is the score, and "
                        "defines no combination for NCF's shared MLP tower "
                        "(the MeLON paper reports SML on NCF as N/A)",
                   m->ops->name);
        return MELON_NOT_APPLICABLE;
    }
    st->tensor[SML_USERS] = find_tensor(m, "user_emb", MELON_USER_TABLE);
    st->tensor[SML_ITEMS] = find_tensor(m, "item_emb", MELON_ITEM_TABLE);
    st->bias[SML_USERS] = find_tensor(m, "user_bias", MELON_USER_TABLE);
    st->bias[SML_ITEMS] = find_tensor(m, "item_bias", MELON_ITEM_TABLE);
    for (int s = 0; s < SML_SIDES; s++)
        if (st->tensor[s] < 0 || st->bias[s] < 0)
            return melon_fail(err, "strategy sml: the bpr model lacks its "
                                   "embedding or bias tables");
    return 0;
}

static int create_side(sml_state *st, const melon_model *m, int side, int n,
                       melon_err *err) {
    const melon_tensor *t = &m->tensor[st->tensor[side]];
    /* a batch of n triples looks up <= n users and <= 2n items */
    int32_t batch_rows = side == SML_USERS ? n : 2 * n;
    int32_t cap = t->rows < batch_rows ? t->rows : batch_rows;
    size_t d = (size_t)st->dim;
    sml_kept *kept = &st->kept[side];
    kept->tensor = st->tensor[side];
    kept->cap = st->cfg.all_rows ? t->rows : cap;
    kept->rows = melon_alloc((size_t)kept->cap * sizeof(int32_t), err);
    kept->at = melon_alloc((size_t)t->rows * sizeof(int32_t), err);
    kept->w_prev = melon_alloc((size_t)kept->cap * d * sizeof(float), err);
    st->mark[side] = melon_calloc((size_t)t->rows, sizeof(uint32_t), err);
    if (!kept->rows || !kept->at || !kept->w_prev || !st->mark[side]) return -1;
    for (int32_t r = 0; r < t->rows; r++) kept->at[r] = st->cfg.all_rows ? r : -1;
    if (st->cfg.all_rows) {
        for (int32_t r = 0; r < t->rows; r++) kept->rows[r] = r;
        kept->n = t->rows;
        memcpy(kept->w_prev, t->value, (size_t)t->rows * d * sizeof(float));
    }
    sml_rows *w = &st->work[side];
    w->cap = cap;
    w->rows = melon_alloc((size_t)cap * sizeof(int32_t), err);
    w->kept = melon_alloc((size_t)cap * sizeof(int32_t), err);
    float **bufs[6] = {&w->w_prev, &w->w_hat, &w->out, &w->saved, &w->d_out, &w->d_hat};
    for (int b = 0; b < 6; b++) {
        *bufs[b] = melon_alloc((size_t)cap * d * sizeof(float), err);
        if (!*bufs[b]) return -1;
    }
    if (!w->rows || !w->kept) return -1;
    if (sml_acts_init(&st->acts[side], st->dim, st->cfg.hidden, cap, err) != 0)
        return -1;
    st->rows[side] = t->rows;
    size_t size[SML_N_BLOCKS];
    sml_block_sizes(st->dim, st->cfg.hidden, size);
    sml_net *net = &st->net[side];
    net->dim = st->dim;
    net->hidden = st->cfg.hidden;
    for (int b = 0; b < SML_N_BLOCKS; b++) {
        net->w[b] = melon_meta_params_add(&st->params, block_names[side][b],
                                          size[b], 1, err);
        if (!net->w[b]) return -1;
        net->g[b] = st->params.block[st->params.n_blocks - 1].grad;
    }
    return 0;
}

MELON_CONSTRUCTOR(melon_sml_create) {
    const melon_sml_config *cfg = own;
    melon_model *model = m;
    if (!melon_model_has_parameters(model)) {
        melon_fail(err, "strategy sml needs the bpr model, not '%s'",
                   model->ops->name);
        return MELON_NOT_APPLICABLE;
    }
    if (cfg->inner < 1)
        return melon_fail(err, "sml: %d inner rounds, expected >= 1",
                          cfg->inner);
    if (cfg->hidden < 1)
        return melon_fail(err, "sml: transfer width %d, expected >= 1",
                          cfg->hidden);
    sml_state *st = melon_calloc(1, sizeof *st, err);
    if (!st) return -1;
    s->ops = &sml_ops;
    s->impl = st;
    st->cfg = *cfg;
    st->dim = model->cfg.dim;
    int applicable = check_model(st, model, err);
    if (applicable != 0) {
        sml_free(s);
        return applicable;
    }
    int n = shape->max_batch;
    st->max_batch = n;
    melon_meta_adam_config adam;
    melon_meta_adam_config_default(&adam);
    adam.lr = st->cfg.transfer_lr;
    adam.l2 = st->cfg.transfer_l2; /* Adam weight decay on every block */
    melon_meta_params_init(&st->params, &adam);
    for (int side = 0; side < SML_SIDES; side++)
        if (create_side(st, model, side, n, err) != 0) goto fail;
    melon_rng rng;
    melon_rng_seed_stream(&rng, shape->seed, SML_INIT_STREAM);
    for (int side = 0; side < SML_SIDES; side++) sml_net_init(&st->net[side], &rng);
    melon_optimizer_config opt;
    melon_optimizer_config_default(&opt);
    opt.lr = st->cfg.lr;
    opt.l2 = 0.0f; /* lambda_1 is added per look-up in sml_new_values_step */
    opt.dense = 0;
    if (melon_model_create(&st->shadow, model->ops->name, model->n_users,
                           model->n_items, &model->cfg, 1, err) != 0 ||
        melon_optimizer_init(&st->opt, &st->shadow, &opt, err) != 0 ||
        melon_grads_init(&st->slots, model, n, err) != 0 ||
        melon_sparse_grad_init(&st->grad, model, n, err) != 0 ||
        !(st->pairs_user = melon_alloc(2 * (size_t)n * sizeof(int32_t), err)) ||
        !(st->pairs_item = melon_alloc(2 * (size_t)n * sizeof(int32_t), err)) ||
        !(st->pair_score = melon_alloc(2 * (size_t)n * sizeof(float), err)) ||
        !(st->prev_batch = melon_alloc((size_t)n * sizeof *st->prev_batch, err)))
        goto fail;
    if (st->cfg.all_rows)
        for (int side = 0; side < SML_SIDES; side++) {
            const melon_tensor *t = &model->tensor[st->tensor[side]];
            memcpy(st->shadow.tensor[st->tensor[side]].value, t->value,
                   (size_t)t->rows * st->dim * sizeof(float));
        }
    return 0;
fail:
    sml_free(s);
    return -1;
}
