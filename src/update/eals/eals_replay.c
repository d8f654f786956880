/* eALS, replay reading (update-strategies.md B.2.a, alternative): one step
 * of Default's optimiser on B_t and the replayed history triples S_t of
 * section 2 together, new triples weighted w_new and replayed ones 1,
 *   L = (w_new sum_{x in B_t} l_x + sum_{s in S_t} l_s) / (w_new n + |S_t|),
 * which keeps eALS's contrast between new (w_new) and old (weight 1)
 * positives and, unlike a uniform loss scale, matters under Adam. */
#include "update/update_internal.h"

#include "update/support.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    float weight;
    melon_optimizer opt;
    melon_triple *triples;  /* [3 max_batch]: B_t, then S_t */
    melon_grads slots;      /* [3 max_batch] */
    melon_sparse_grad grad;
    float *triple_weight;   /* [3 max_batch] */
} eals_replay_state;

/* A view of g's triples from `first` on, so that a forward_backward fills
 * the tail of g (at most the model's capacity per call). */
static void grads_tail(melon_grads *view, const melon_grads *g,
                       const melon_model *m, int first) {
    *view = *g;
    view->capacity = g->capacity - first;
    view->loss = g->loss + first;
    view->kappa = g->kappa + first;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        view->slot[k] = g->slot[k] + (size_t)2 * first * melon_slot_width(t);
        if (g->input[k])
            view->input[k] = g->input[k] + (size_t)2 * first * t->cols;
    }
}

static int eals_replay_update(melon_strategy *s, melon_context *ctx,
                              const melon_triple *batch, int n,
                              melon_err *err) {
    eals_replay_state *st = s->impl;
    melon_model *m = ctx->model;
    memcpy(st->triples, batch, (size_t)n * sizeof *batch);
    if (melon_support_last_batch(ctx, batch, n, st->triples + n, err) != 0)
        return -1;
    int n_support = 2 * n, total = n + n_support;
    melon_grads tail;
    m->ops->forward_backward(m, st->triples, n, &st->slots);
    s->batch_loss = melon_mean_loss(&st->slots);
    grads_tail(&tail, &st->slots, m, n);
    m->ops->forward_backward(m, st->triples + n, n_support, &tail);
    st->slots.n = total;
    if (!melon_model_has_parameters(m)) return 0;
    float norm = st->weight * (float)n + (float)n_support;
    for (int r = 0; r < total; r++)
        st->triple_weight[r] = (r < n ? st->weight : 1.0f) / norm;
    melon_sparse_grad_accumulate(&st->grad, m, st->triples, &st->slots,
                                 st->triple_weight);
    melon_optimizer_step(&st->opt, m, &st->grad, 1.0f);
    return 0;
}

static int eals_replay_save(const melon_strategy *s, FILE *f, melon_err *err) {
    const eals_replay_state *st = s->impl;
    return melon_optimizer_save(&st->opt, f, err);
}

static int eals_replay_load(melon_strategy *s, FILE *f, melon_err *err) {
    eals_replay_state *st = s->impl;
    return melon_optimizer_load(&st->opt, f, err);
}

static int eals_replay_grow(melon_strategy *s, melon_model *model,
                            melon_err *err) {
    eals_replay_state *st = s->impl;
    if (melon_optimizer_grow(&st->opt, model, err) != 0 ||
        melon_sparse_grad_grow(&st->grad, model, err) != 0)
        return -1;
    return 0;
}

static void eals_replay_free(melon_strategy *s) {
    eals_replay_state *st = s->impl;
    if (!st) return;
    melon_optimizer_free(&st->opt);
    melon_grads_free(&st->slots);
    melon_sparse_grad_free(&st->grad);
    free(st->triples);
    free(st->triple_weight);
    free(st);
    s->impl = NULL;
}

static const melon_strategy_ops eals_replay_ops = {
    .name = "eals-replay",
    .meta_step = NULL,
    .update = eals_replay_update,
    .save = eals_replay_save,
    .load = eals_replay_load,
    .free_impl = eals_replay_free,
    .grow = eals_replay_grow,
};

MELON_CONSTRUCTOR(melon_eals_replay_create) {
    const melon_eals_config *cfg = own;
    melon_model *model = m;
    int max_batch = shape->max_batch;
    if (model->max_triples < 2 * max_batch)
        return melon_fail(err, "eals-replay: model sized for %d triples, the "
                               "replayed history needs %d",
                          model->max_triples, 2 * max_batch);
    eals_replay_state *st = melon_calloc(1, sizeof *st, err);
    if (!st) return -1;
    s->ops = &eals_replay_ops;
    s->impl = st;
    st->weight = cfg->weight;
    size_t total = 3 * (size_t)max_batch;
    if (melon_optimizer_init(&st->opt, model, optim, err) != 0 ||
        melon_grads_init(&st->slots, model, (int)total, err) != 0 ||
        melon_sparse_grad_init(&st->grad, model, (int)total, err) != 0 ||
        !(st->triples = melon_alloc(total * sizeof *st->triples, err)) ||
        !(st->triple_weight = melon_alloc(total * sizeof(float), err))) {
        eals_replay_free(s);
        return -1;
    }
    return 0;
}
