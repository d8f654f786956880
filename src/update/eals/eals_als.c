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
    eals_als als;
    int ready;                 /* state built from the past */
    int pretrained;            /* offline sweeps done */
    melon_grads slots;         /* for the batch's BPR loss (reporting) */
} eals_als_state;

static int find_tensor(const melon_model *m, const char *name) {
    for (int k = 0; k < m->n_tensors; k++)
        if (strcmp(m->tensor[k].name, name) == 0) return k;
    return -1;
}

/* Sizes the lists from the whole stream (each node's distinct partners,
 * past and future) and fills them with the positives of [0, past_end). */
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

static int eals_als_update(melon_strategy *s, melon_context *ctx,
                           const melon_triple *batch, int n, melon_err *err) {
    eals_als_state *st = s->impl;
    melon_model *m = ctx->model;
    m->ops->forward_backward(m, batch, n, &st->slots);
    s->batch_loss = melon_mean_loss(&st->slots);
    if (!st->ready && build_state(st, ctx, err) != 0) return -1;
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

static void eals_als_strategy_free(melon_strategy *s) {
    eals_als_state *st = s->impl;
    if (!st) return;
    eals_als_free(&st->als);
    melon_grads_free(&st->slots);
    free(st);
    s->impl = NULL;
}

/* The state (lists, weights, caches) is rebuilt from the stream and the
 * model's tables at the first call, so nothing is saved. */
static const melon_strategy_ops eals_als_ops = {
    .name = "eals-als",
    .meta_step = NULL,
    .update = eals_als_update,
    .save = NULL,
    .load = NULL,
    .free_impl = eals_als_strategy_free,
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
    if (melon_grads_init(&st->slots, model, model->max_triples, err) != 0) {
        eals_als_strategy_free(s);
        return -1;
    }
    return 0;
}
