/* The causal popularity ranker: s(u, i) = how often item i occurred in the
 * part of the stream the model has been told about (observe). It has no
 * tensors, so update strategies leave it alone; forward_backward still
 * reports the BPR losses of its scores. */
#include "model_internal.h"

#include "nn/nn.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t *count;     /* [n_items] */
} pop_impl;

static void pop_score(melon_model *m, const int32_t *users,
                      const int32_t *items, size_t n, float *out) {
    const pop_impl *pop = m->impl;
    for (size_t p = 0; p < n; p++) out[p] = (float)pop->count[items[p]];
}

static void pop_score_items(melon_model *m, const int32_t *users, size_t n,
                            float *out) {
    (void)users;
    const pop_impl *pop = m->impl;
    size_t n_items = (size_t)m->n_items;
    for (size_t k = 0; k < n; k++)
        for (size_t j = 0; j < n_items; j++)
            out[k * n_items + j] = (float)pop->count[j];
}

static void pop_forward_backward(melon_model *m, const melon_triple *triples,
                                 int n, melon_grads *g) {
    melon_check_triples(m, n, g);
    const pop_impl *pop = m->impl;
    for (int r = 0; r < n; r++) {
        float diff = (float)pop->count[triples[r].item] -
                     (float)pop->count[triples[r].negative];
        g->loss[r] = melon_softplus(-diff);
        g->kappa[r] = melon_sigmoid(-diff);
    }
    g->n = n;
}

static void pop_observe(melon_model *m, const melon_stream *s, size_t begin,
                        size_t end) {
    pop_impl *pop = m->impl;
    if (end > s->n) end = s->n;
    for (size_t p = begin; p < end; p++) {
        int32_t item = s->item[p];
        if (item >= 0 && item < m->n_items) pop->count[item]++;
    }
}

static void pop_free(melon_model *m) {
    pop_impl *pop = m->impl;
    if (!pop) return;
    free(pop->count);
    free(pop);
    m->impl = NULL;
}

static int pop_grow(melon_model *m, int32_t old_users, int32_t old_items,
                    melon_err *err) {
    pop_impl *pop = m->impl;
    int64_t *count = realloc(pop->count, (size_t)m->n_items * sizeof *count);
    if (!count)
        return melon_fail(err, "pop: out of memory for %d item counts",
                          (int)m->n_items);
    memset(count + old_items, 0,
           (size_t)(m->n_items - old_items) * sizeof *count);
    pop->count = count;
    return 0;
}

static const melon_model_ops pop_ops = {
    .name = "pop",
    .score = pop_score,
    .score_items = pop_score_items,
    .forward_backward = pop_forward_backward,
    .observe = pop_observe,
    .free_impl = pop_free,
    .grow = pop_grow,
};

void *melon_pop_state(const melon_model *m, size_t *bytes) {
    pop_impl *pop = m->impl;
    *bytes = pop ? (size_t)m->n_items * sizeof(int64_t) : 0;
    return pop ? pop->count : NULL;
}

int melon_pop_create(melon_model *m, melon_err *err) {
    m->ops = &pop_ops;
    pop_impl *pop = melon_calloc(1, sizeof *pop, err);
    if (!pop) return -1;
    m->impl = pop;
    pop->count = melon_calloc((size_t)m->n_items, sizeof(int64_t), err);
    return pop->count ? 0 : -1;
}
