/* Default fine-tuning (MeLON paper, Eq. 1): one optimiser step per batch on
 * the mean BPR loss of its triples. */
#include "update/update_internal.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    melon_optimizer opt;
    melon_grads slots;
    melon_sparse_grad grad;
} default_state;

typedef struct {
    default_state *st;
    melon_model *m;
} dense_step;

/* Dense rows move on the thread that has just computed their gradient,
 * while it is in that thread's cache. */
static void step_dense_rows(void *user, int k, int a0, int a1) {
    dense_step *d = user;
    melon_optimizer_step_rows(&d->st->opt, d->m, &d->st->grad, k, a0, a1);
}

static int default_update(melon_strategy *s, melon_context *ctx,
                          const melon_triple *batch, int n, melon_err *err) {
    default_state *st = s->impl;
    melon_model *m = ctx->model;
    m->ops->forward_backward(m, batch, n, &st->slots);
    s->batch_loss = melon_mean_loss(&st->slots);
    if (!melon_model_has_parameters(m)) return 0;
    dense_step d = {st, m};
    melon_optimizer_begin(&st->opt, 1.0f);
    melon_sparse_grad_accumulate_then(&st->grad, m, batch, &st->slots, NULL,
                                      step_dense_rows, &d);
    melon_optimizer_step_tables(&st->opt, m, &st->grad);
    (void)err;
    return 0;
}

static int default_save(const melon_strategy *s, FILE *f, melon_err *err) {
    const default_state *st = s->impl;
    return melon_optimizer_save(&st->opt, f, err);
}

static int default_load(melon_strategy *s, FILE *f, melon_err *err) {
    default_state *st = s->impl;
    return melon_optimizer_load(&st->opt, f, err);
}

static int default_grow(melon_strategy *s, melon_model *model,
                        melon_err *err) {
    default_state *st = s->impl;
    if (melon_optimizer_grow(&st->opt, model, err) != 0 ||
        melon_sparse_grad_grow(&st->grad, model, err) != 0)
        return -1;
    return 0;
}

static void default_free(melon_strategy *s) {
    default_state *st = s->impl;
    if (!st) return;
    melon_optimizer_free(&st->opt);
    melon_grads_free(&st->slots);
    melon_sparse_grad_free(&st->grad);
    free(st);
}

static const melon_strategy_ops default_ops = {
    .name = "default",
    .meta_step = NULL,
    .update = default_update,
    .save = default_save,
    .load = default_load,
    .free_impl = default_free,
    .grow = default_grow,
};

MELON_CONSTRUCTOR(melon_default_create) {
    default_state *st = melon_calloc(1, sizeof *st, err);
    if (!st) return -1;
    s->ops = &default_ops;
    s->impl = st;
    if (melon_optimizer_init(&st->opt, m, optim, err) != 0 ||
        melon_grads_init(&st->slots, m, m->max_triples, err) != 0 ||
        melon_sparse_grad_init(&st->grad, m, m->max_triples, err) != 0) {
        default_free(s);
        s->impl = NULL;
        return -1;
    }
    return 0;
}
