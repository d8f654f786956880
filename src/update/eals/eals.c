/* eALS as the MeLON paper uses it (update-strategies.md B.2.a): fixed-weight
 * importance reweighting, every new interaction weighted w_new, i.e.
 * Default's step scaled by w_new (W_{x,.} = w_new eta / n, paper Eq. 3).
 * Adam is invariant to a uniform loss scale, so with Adam the learning rate
 * is multiplied by w_new; with SGD the loss is (so L2 is not scaled). */
#include "update/update_internal.h"

#include <stdlib.h>

typedef struct {
    float weight;
    melon_optimizer opt;
    melon_grads slots;
    melon_sparse_grad grad;
    float *triple_weight;   /* [max_triples] w_new / n (SGD) */
} eals_state;

static int eals_update(melon_strategy *s, melon_context *ctx,
                       const melon_triple *batch, int n, melon_err *err) {
    eals_state *st = s->impl;
    melon_model *m = ctx->model;
    m->ops->forward_backward(m, batch, n, &st->slots);
    s->batch_loss = melon_mean_loss(&st->slots);
    if (!melon_model_has_parameters(m)) return 0;
    if (st->opt.cfg.kind == MELON_OPT_ADAM) {
        melon_sparse_grad_accumulate(&st->grad, m, batch, &st->slots, NULL);
        melon_optimizer_step(&st->opt, m, &st->grad, st->weight);
    } else {
        for (int r = 0; r < n; r++) st->triple_weight[r] = st->weight / (float)n;
        melon_sparse_grad_accumulate(&st->grad, m, batch, &st->slots,
                                     st->triple_weight);
        melon_optimizer_step(&st->opt, m, &st->grad, 1.0f);
    }
    (void)err;
    return 0;
}

static int eals_save(const melon_strategy *s, FILE *f, melon_err *err) {
    const eals_state *st = s->impl;
    return melon_optimizer_save(&st->opt, f, err);
}

static int eals_load(melon_strategy *s, FILE *f, melon_err *err) {
    eals_state *st = s->impl;
    return melon_optimizer_load(&st->opt, f, err);
}

static int eals_grow(melon_strategy *s, melon_model *model, melon_err *err) {
    eals_state *st = s->impl;
    if (melon_optimizer_grow(&st->opt, model, err) != 0 ||
        melon_sparse_grad_grow(&st->grad, model, err) != 0)
        return -1;
    return 0;
}

static void eals_free(melon_strategy *s) {
    eals_state *st = s->impl;
    if (!st) return;
    melon_optimizer_free(&st->opt);
    melon_grads_free(&st->slots);
    melon_sparse_grad_free(&st->grad);
    free(st->triple_weight);
    free(st);
    s->impl = NULL;
}

static const melon_strategy_ops eals_ops = {
    .name = "eals",
    .meta_step = NULL,
    .update = eals_update,
    .save = eals_save,
    .load = eals_load,
    .free_impl = eals_free,
    .grow = eals_grow,
};

MELON_CONSTRUCTOR(melon_eals_create) {
    const melon_eals_config *cfg = own;
    melon_model *model = m;
    eals_state *st = melon_calloc(1, sizeof *st, err);
    if (!st) return -1;
    s->ops = &eals_ops;
    s->impl = st;
    st->weight = cfg->weight;
    if (melon_optimizer_init(&st->opt, model, optim, err) != 0 ||
        melon_grads_init(&st->slots, model, model->max_triples, err) != 0 ||
        melon_sparse_grad_init(&st->grad, model, model->max_triples, err) != 0 ||
        !(st->triple_weight = melon_alloc((size_t)model->max_triples *
                                          sizeof(float), err))) {
        eals_free(s);
        return -1;
    }
    return 0;
}
