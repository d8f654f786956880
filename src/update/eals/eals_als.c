/* eals-als (update-strategies.md B.2.b): the original element-wise ALS of
 * He et al. (2016) on BPR-MF's user_emb and item_emb (the biases are left
 * as they are; the eALS model has none).
 *
 * State: the positives of the past with weight 1 (repeats collapse), the
 * missing-data weights c_i from the past's item popularity, and the caches
 * S^P, S^Q; built at the first call from the stream positions the history
 * holds then (the whole past in pre-training, the past before the first
 * online batch without pre-training).
 *
 * Pre-training: the first pre-training call runs --eals-offline-iters full
 * sweeps (every user, then every item) over the past; the runner's later
 * pre-training calls (other batches, other epochs) change nothing, so the
 * number of epochs does not matter to eals-als.
 *
 * Online (after the batch is evaluated): each interaction of the batch in
 * stream order gets w_ui = --eals-weight, then --eals-online-iters times
 * its user and then its item are updated (MF_fastALS.updateModel). */
#include "update/update_internal.h"

#include "eals_als.h"
#include "melon/history.h"
#include "melon/negatives.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    melon_eals_config cfg;
    int user_emb, item_emb;    /* tensor indices */
    int32_t n_users, n_items, dim;  /* the model's, which a loaded state
                                       must have */
    eals_als als;
    int ready;                 /* state built from the past */
    int pretrained;            /* offline sweeps done */
    melon_grads slots;         /* for the batch's BPR loss (reporting) */
    /* A loaded state, applied when the state is built at the next call:
     * every list's entries in their order, c, S^P and S^Q. */
    int32_t saved_users, saved_items; /* nodes of the loaded state */
    int32_t *saved_len;        /* [saved_users + saved_items], NULL: none */
    int32_t *saved_other;
    float *saved_weight;
    double *saved_c;           /* [n_items] */
    double *saved_S;           /* [2][K][K] */
} eals_als_state;

static int find_tensor(const melon_model *m, const char *name) {
    for (int k = 0; k < m->n_tensors; k++)
        if (strcmp(m->tensor[k].name, name) == 0) return k;
    return -1;
}

/* Sizes the lists from the stream known so far (each node's distinct
 * partners; lists grow beyond) and fills them with the positives of
 * [0, past_end). */
static int build_state(eals_als_state *st, const melon_context *ctx,
                       melon_err *err) {
    melon_model *m = ctx->model;
    const melon_stream *s = ctx->stream;
    size_t past_end = ctx->history->appended_until;
    int32_t *item_cap = melon_calloc((size_t)m->n_items, sizeof(int32_t), err);
    if (!item_cap) return -1;
    for (size_t p = 0; p < s->n; p++)
        if (melon_pair_first(ctx->pairs, s->user[p], s->item[p]) == p)
            item_cap[s->item[p]]++;
    int rc = eals_als_init(&st->als, m->n_users, m->n_items, m->cfg.dim,
                           m->tensor[st->user_emb].value,
                           m->tensor[st->item_emb].value,
                           ctx->pairs->user_distinct, item_cap,
                           st->cfg.lambda, err);
    free(item_cap);
    if (rc != 0) return -1;
    for (size_t p = 0; p < past_end; p++)
        if (eals_als_set(&st->als, s->user[p], s->item[p], 1.0f) != 0)
            return melon_fail(err, "eals-als: interaction lists overflow at "
                                   "position %zu", p);
    eals_als_popularity_weights(&st->als, st->cfg.c0, st->cfg.alpha);
    eals_als_rebuild_caches(&st->als);
    st->ready = 1;
    return 0;
}

static void free_saved(eals_als_state *st) {
    free(st->saved_len);
    free(st->saved_other);
    free(st->saved_weight);
    free(st->saved_c);
    free(st->saved_S);
    st->saved_len = st->saved_other = NULL;
    st->saved_weight = NULL;
    st->saved_c = st->saved_S = NULL;
}

/* Puts a loaded state in place of the one build_state made. */
static int apply_saved(eals_als_state *st, melon_err *err) {
    eals_als *a = &st->als;
    int32_t users = st->saved_users, items = st->saved_items;
    if (users > a->n_users || items > a->n_items) {
        free_saved(st);
        return melon_fail(err, "eals-als state: %d users and %d items, the "
                               "model has %d and %d", users, items,
                          a->n_users, a->n_items);
    }
    size_t at = 0;
    for (int32_t k = 0; k < users + items; k++) {
        eals_list *l = k < users ? &a->user[k] : &a->item[k - users];
        int32_t len = st->saved_len[k];
        for (int32_t e = 0; e < len; e++) {
            int32_t other = st->saved_other[at + (size_t)e];
            if (other < 0 || other >= (k < users ? a->n_items : a->n_users)) {
                free_saved(st);
                return melon_fail(err, "eals-als state: partner %d out of "
                                       "range", other);
            }
        }
        if (eals_als_reserve(a, l, len) != 0) {
            free_saved(st);
            return melon_fail(err, "eals-als state: out of memory for a list "
                                   "of %d entries", len);
        }
        memcpy(l->other, st->saved_other + at, (size_t)len * sizeof(int32_t));
        memcpy(l->weight, st->saved_weight + at, (size_t)len * sizeof(float));
        l->len = len;
        at += (size_t)len;
    }
    size_t kk = (size_t)a->dim * (size_t)a->dim;
    memcpy(a->c, st->saved_c, (size_t)items * sizeof(double));
    memcpy(a->SP, st->saved_S, kk * sizeof(double));
    memcpy(a->SQ, st->saved_S + kk, kk * sizeof(double));
    free_saved(st);
    return 0;
}

static int eals_als_update(melon_strategy *s, melon_context *ctx,
                           const melon_triple *batch, int n, melon_err *err) {
    eals_als_state *st = s->impl;
    melon_model *m = ctx->model;
    m->ops->forward_backward(m, batch, n, &st->slots);
    s->batch_loss = melon_mean_loss(&st->slots);
    if (!st->ready && build_state(st, ctx, err) != 0) return -1;
    if (st->saved_len && apply_saved(st, err) != 0) return -1;
    if (ctx->phase == MELON_PHASE_PRETRAIN) {
        if (!st->pretrained)
            for (int it = 0; it < st->cfg.offline_iters; it++)
                eals_als_sweep(&st->als);
        st->pretrained = 1;
        return 0;
    }
    for (int r = 0; r < n; r++)
        if (eals_als_online(&st->als, batch[r].user, batch[r].item,
                            st->cfg.weight, st->cfg.c0,
                            st->cfg.online_iters) != 0)
            return melon_fail(err, "eals-als: interaction lists overflow at "
                                   "user %d, item %d", batch[r].user,
                              batch[r].item);
    return 0;
}

/* Flags, then (once built) every list in order, c, S^P and S^Q: the lists
 * change online, so they cannot be rebuilt from the past alone. */
static int eals_als_save(const melon_strategy *s, FILE *f, melon_err *err) {
    const eals_als_state *st = s->impl;
    const eals_als *a = &st->als;
    int32_t head[5] = {st->ready, st->pretrained, a->n_users, a->n_items, a->dim};
    int ok = fwrite(head, sizeof head, 1, f) == 1;
    if (ok && st->ready) {
        for (int32_t k = 0; ok && k < a->n_users + a->n_items; k++) {
            const eals_list *l = k < a->n_users ? &a->user[k] : &a->item[k - a->n_users];
            ok = fwrite(&l->len, sizeof l->len, 1, f) == 1 &&
                 fwrite(l->other, sizeof(int32_t), (size_t)l->len, f) == (size_t)l->len &&
                 fwrite(l->weight, sizeof(float), (size_t)l->len, f) == (size_t)l->len;
        }
        size_t kk = (size_t)a->dim * (size_t)a->dim;
        ok = ok && fwrite(a->c, sizeof(double), (size_t)a->n_items, f) == (size_t)a->n_items &&
             fwrite(a->SP, sizeof(double), kk, f) == kk &&
             fwrite(a->SQ, sizeof(double), kk, f) == kk;
    }
    return ok ? 0 : melon_fail(err, "eals-als: cannot write its state");
}

static int eals_als_load(melon_strategy *s, FILE *f, melon_err *err) {
    eals_als_state *st = s->impl;
    int32_t head[5];
    if (fread(head, sizeof head, 1, f) != 1)
        return melon_fail(err, "eals-als state: truncated");
    free_saved(st);
    st->pretrained = head[1];
    if (!head[0]) return 0;
    int32_t n_nodes = head[2] + head[3], dim = head[4];
    if (head[2] < 0 || head[3] < 0 || dim != st->dim)
        return melon_fail(err, "eals-als state: saved for %d users, %d items "
                               "and d = %d; the model has d = %d",
                          head[2], head[3], dim, st->dim);
    st->saved_users = head[2];
    st->saved_items = head[3];
    size_t kk = (size_t)dim * (size_t)dim, total = 0, room = 1024;
    st->saved_len = melon_alloc(((size_t)n_nodes + 1) * sizeof(int32_t), err);
    st->saved_other = melon_alloc(room * sizeof(int32_t), err);
    st->saved_weight = melon_alloc(room * sizeof(float), err);
    st->saved_c = melon_alloc(((size_t)head[3] + 1) * sizeof(double), err);
    st->saved_S = melon_alloc(2 * kk * sizeof(double), err);
    if (!st->saved_len || !st->saved_other || !st->saved_weight ||
        !st->saved_c || !st->saved_S)
        goto fail;
    for (int32_t k = 0; k < n_nodes; k++) {
        int32_t len;
        if (fread(&len, sizeof len, 1, f) != 1 || len < 0 || len > (1 << 28))
            goto truncated;
        if (total + (size_t)len > room) {
            while (total + (size_t)len > room) room *= 2;
            int32_t *other = realloc(st->saved_other, room * sizeof *other);
            if (other) st->saved_other = other;
            float *weight = realloc(st->saved_weight, room * sizeof *weight);
            if (weight) st->saved_weight = weight;
            if (!other || !weight) goto fail;
        }
        if (fread(st->saved_other + total, sizeof(int32_t), (size_t)len, f) != (size_t)len ||
            fread(st->saved_weight + total, sizeof(float), (size_t)len, f) != (size_t)len)
            goto truncated;
        /* a user's partners are items, an item's users */
        int32_t partners = k < head[2] ? head[3] : head[2];
        for (int32_t e = 0; e < len; e++)
            if (st->saved_other[total + (size_t)e] < 0 ||
                st->saved_other[total + (size_t)e] >= partners) {
                int32_t bad = st->saved_other[total + (size_t)e];
                free_saved(st);
                return melon_fail(err, "eals-als state: %s %d lists partner %d "
                                       "of %d", k < head[2] ? "user" : "item",
                                  k < head[2] ? k : k - head[2], bad, partners);
            }
        st->saved_len[k] = len;
        total += (size_t)len;
    }
    if (fread(st->saved_c, sizeof(double), (size_t)head[3], f) != (size_t)head[3] ||
        fread(st->saved_S, sizeof(double), 2 * kk, f) != 2 * kk)
        goto truncated;
    return 0;
truncated:
    free_saved(st);
    return melon_fail(err, "eals-als state: truncated");
fail:
    free_saved(st);
    return -1;
}

static void eals_als_strategy_free(melon_strategy *s) {
    eals_als_state *st = s->impl;
    if (!st) return;
    free_saved(st);
    eals_als_free(&st->als);
    melon_grads_free(&st->slots);
    free(st);
    s->impl = NULL;
}

/* New users and items: empty lists (the state is built at the first call,
 * from the sizes then). */
static int eals_als_strategy_grow(melon_strategy *s, melon_model *m,
                                  melon_err *err) {
    eals_als_state *st = s->impl;
    if (!st->ready) return 0;
    return eals_als_grow(&st->als, m->n_users, m->n_items,
                         m->tensor[st->user_emb].value,
                         m->tensor[st->item_emb].value, err);
}

static const melon_strategy_ops eals_als_ops = {
    .name = "eals-als",
    .meta_step = NULL,
    .update = eals_als_update,
    .save = eals_als_save,
    .load = eals_als_load,
    .free_impl = eals_als_strategy_free,
    .grow = eals_als_strategy_grow,
};

MELON_CONSTRUCTOR(melon_eals_als_create) {
    const melon_eals_config *cfg = own;
    melon_model *model = m;
    int user_emb = find_tensor(model, "user_emb");
    int item_emb = find_tensor(model, "item_emb");
    if (strcmp(model->ops->name, "bpr") != 0 || user_emb < 0 || item_emb < 0) {
        melon_fail(err, "strategy eals-als is element-wise ALS for matrix "
                        "factorisation and runs on --model bpr only, not '%s' "
                        "(use eals or eals-replay for other models)",
                   model->ops->name);
        return MELON_NOT_APPLICABLE;
    }
    eals_als_state *st = melon_calloc(1, sizeof *st, err);
    if (!st) return -1;
    s->ops = &eals_als_ops;
    s->impl = st;
    st->cfg = *cfg;
    st->user_emb = user_emb;
    st->item_emb = item_emb;
    st->n_users = model->n_users;
    st->n_items = model->n_items;
    st->dim = model->cfg.dim;
    if (melon_grads_init(&st->slots, model, model->max_triples, err) != 0) {
        eals_als_strategy_free(s);
        return -1;
    }
    return 0;
}
