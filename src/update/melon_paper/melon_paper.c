/* MeLON as the paper defines it (Eq. 8-13): meta-parameters, construction
 * and the strategy's operations (update-strategies.md A.1, A.2, A.7).
 *
 * Ablations (Table 3, A.7): melon-i drops h_theta from Eq. 12, so every row
 * of W is constant; melon-p drops h_x and feeds the role MLP the batch-mean
 * loss and the batch-mean gradient of theta_m, so every column of W is
 * constant.
 *
 * Initialisation (A.6, the reference's rule for every Linear layer of the
 * meta-model): every weight and bias N(0, 0.01^2), except b_lr =
 * init_lr_bias, so the initial rates are sigma(init_lr_bias) ~ 0.011. */
#include "melon_paper.h"

#include "nn/nn.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define INIT_STD 0.01f
#define INIT_STREAM 0x4d656c6f6e50ULL   /* the meta-model's random stream */

static const char *const role_w_names[PAPER_MAX_ROLE_LAYERS] = {
    "role_w1", "role_w2", "role_w3", "role_w4",
    "role_w5", "role_w6", "role_w7", "role_w8"};
static const char *const role_b_names[PAPER_MAX_ROLE_LAYERS] = {
    "role_b1", "role_b2", "role_b3", "role_b4",
    "role_b5", "role_b6", "role_b7", "role_b8"};

static melon_meta_block *add_block(paper_params *p, const char *name,
                                   size_t size, int decay, melon_err *err) {
    if (!melon_meta_params_add(&p->mp, name, size, decay, err)) return NULL;
    return &p->mp.block[p->mp.n_blocks - 1];
}

int paper_params_init(paper_params *p, const melon_melon_config *c,
                      melon_ablation ablation, int node_dim, int ext_width,
                      uint64_t seed, melon_err *err) {
    memset(p, 0, sizeof *p);
    if (c->role_layers < 1 || c->role_layers > PAPER_MAX_ROLE_LAYERS)
        return melon_fail(err, "melon: %d role layers (1..%d)", c->role_layers,
                          PAPER_MAX_ROLE_LAYERS);
    if (c->role_width < 1 || c->interaction_width < 1 || ext_width < 1)
        return melon_fail(err, "melon: widths must be positive");
    p->ablation = ablation;
    p->has_interaction = ablation != MELON_ABLATION_PARAMETER;
    p->has_role = ablation != MELON_ABLATION_INTERACTION;
    p->node_dim = node_dim;
    p->ext_width = ext_width;
    p->h_width = c->interaction_width;
    p->role_width = c->role_width;
    p->role_layers = c->role_layers;
    p->role_inputs = c->preprocess_theta ? 6 : 5;
    p->empty_self = c->empty_history == MELON_EMPTY_SELF;
    melon_meta_adam_config adam;
    melon_meta_adam_config_default(&adam);
    adam.lr = c->meta_lr;
    adam.l2 = c->meta_l2;
    melon_meta_params_init(&p->mp, &adam);
    size_t D = (size_t)node_dim, E = (size_t)ext_width, H = (size_t)p->h_width,
           W = (size_t)p->role_width;
    int ok = 1;
    if (p->has_interaction) {
        ok = (p->a_user = add_block(p, "a_user", 2 * D, 1, err)) &&
             (p->a_item = add_block(p, "a_item", 2 * D, 1, err)) &&
             (p->w_user = add_block(p, "w_user", E * 2 * D, 1, err)) &&
             (p->b_user = add_block(p, "b_user", E, 0, err)) &&
             (p->w_item = add_block(p, "w_item", E * 2 * D, 1, err)) &&
             (p->b_item = add_block(p, "b_item", E, 0, err)) &&
             (p->w_x = add_block(p, "w_x", H * 2 * E, 1, err)) &&
             (p->b_x = add_block(p, "b_x", H, 0, err));
    }
    for (int l = 0; ok && p->has_role && l < p->role_layers; l++) {
        size_t in = l == 0 ? (size_t)p->role_inputs : W;
        ok = (p->role_w[l] = add_block(p, role_w_names[l], W * in, 1, err)) &&
             (p->role_b[l] = add_block(p, role_b_names[l], W, 0, err));
    }
    size_t lr_size = (p->has_interaction ? H : 0) + (p->has_role ? W : 0);
    ok = ok && (p->w_lr = add_block(p, "w_lr", lr_size, 1, err)) &&
         (p->b_lr = add_block(p, "b_lr", 1, 0, err));
    if (!ok) {
        paper_params_free(p);
        return -1;
    }
    melon_rng rng;
    melon_rng_seed_stream(&rng, seed, INIT_STREAM);
    for (int k = 0; k < p->mp.n_blocks; k++)
        melon_init_normal(p->mp.block[k].value, p->mp.block[k].size, INIT_STD,
                          &rng);
    p->b_lr->value[0] = c->init_lr_bias;
    return 0;
}

void paper_params_free(paper_params *p) {
    melon_meta_params_free(&p->mp);
    memset(p, 0, sizeof *p);
}

static void paper_free(melon_strategy *s) {
    paper_state *st = s->impl;
    if (!st) return;
    for (int t = 0; st->thread && t < st->n_threads; t++) {
        paper_role_scratch_free(&st->thread[t].role);
        paper_role_grad_free(&st->thread[t].grad);
        free(st->thread[t].delta);
        free(st->thread[t].cache_rate);
        free(st->thread[t].cache_mask);
    }
    free(st->thread);
    paper_interaction_free(&st->inter);
    paper_params_free(&st->params);
    melon_meta_trial_free(&st->trial);
    melon_grads_free(&st->slots);
    melon_sparse_grad_free(&st->touched);
    free(st->lrho1);
    free(st->lrho2);
    free(st->agg_scale);
    free(st->mean_grad);
    free(st->delta);
    free(st->gc);
    free(st->d_eta);
    free(st->needed);
    free(st->user_mark);
    free(st->item_mark);
    free(st);
    s->impl = NULL;
}

static int paper_save(const melon_strategy *s, FILE *f, melon_err *err) {
    const paper_state *st = s->impl;
    return melon_meta_params_save(&st->params.mp, f, err);
}

static int paper_load(melon_strategy *s, FILE *f, melon_err *err) {
    paper_state *st = s->impl;
    return melon_meta_params_load(&st->params.mp, f, err);
}

/* New users and items: their marks and call indices start empty. */
static int paper_grow(melon_strategy *s, melon_model *m, melon_err *err) {
    paper_state *st = s->impl;
    if (m->n_users > st->mark_users) {
        uint32_t *mark = melon_grow_rows(st->user_mark, sizeof *mark,
                                         (size_t)st->mark_users,
                                         (size_t)m->n_users,
                                         melon_model_room(m, MELON_USER_TABLE), 0, err);
        if (!mark) return -1;
        st->user_mark = mark;
        st->mark_users = m->n_users;
    }
    if (m->n_items > st->mark_items) {
        uint32_t *mark = melon_grow_rows(st->item_mark, sizeof *mark,
                                         (size_t)st->mark_items,
                                         (size_t)m->n_items,
                                         melon_model_room(m, MELON_ITEM_TABLE), 0, err);
        if (!mark) return -1;
        st->item_mark = mark;
        st->mark_items = m->n_items;
    }
    if (paper_interaction_grow(&st->inter, m, err) != 0 ||
        melon_meta_trial_grow(&st->trial, m, err) != 0 ||
        melon_sparse_grad_grow(&st->touched, m, err) != 0)
        return -1;
    return 0;
}

#define PAPER_OPS(var, label)          \
    static const melon_strategy_ops var = { \
        .name = label,                 \
        .meta_step = paper_meta_step,  \
        .update = paper_update,        \
        .save = paper_save,            \
        .load = paper_load,            \
        .free_impl = paper_free,       \
        .grow = paper_grow,            \
    };
PAPER_OPS(melon_ops, "melon")
PAPER_OPS(melon_i_ops, "melon-i")
PAPER_OPS(melon_p_ops, "melon-p")

/* Width of a node feature: the user tables that are embeddings (wider than
 * one column), concatenated. */
static int node_width(const melon_model *m) {
    int width = 0;
    for (int k = 0; k < m->n_tensors; k++)
        if (m->tensor[k].kind == MELON_USER_TABLE && m->tensor[k].cols > 1)
            width += m->tensor[k].cols;
    return width;
}

static int check_config(const melon_melon_config *c, const melon_model *m,
                        melon_err *err) {
    if (!melon_model_has_parameters(m) || node_width(m) == 0) {
        melon_fail(err, "strategy melon needs a recommender with embeddings "
                        "(bpr or ncf), not '%s'", m->ops->name);
        return MELON_NOT_APPLICABLE;
    }
    if (c->meta_data != MELON_META_LAST_BATCH)
        return melon_fail(err, "melon (paper form) meta-trains on the last "
                               "batch only (--melon-meta-data last-batch)");
    if (c->max_edge < 0) return melon_fail(err, "melon: max-edge %d", c->max_edge);
    if (m->max_triples < 2)
        return melon_fail(err, "melon: the model holds %d triples per call",
                          m->max_triples);
    return 0;
}

/* Pairs of the meta step's trial one thread may see: its share of the
 * support triples times the coordinates a triple touches, or (melon-p) its
 * share of the coordinates. */
static size_t pairs_per_thread(const paper_state *st, const melon_model *m) {
    size_t per_triple = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        per_triple += t->kind == MELON_DENSE ? (size_t)t->rows * t->cols
                      : t->kind == MELON_USER_TABLE ? (size_t)t->cols
                                                    : 2 * (size_t)t->cols;
    }
    size_t threads = (size_t)st->n_threads;
    size_t by_triple = ((size_t)m->max_triples + threads - 1) / threads * per_triple;
    size_t by_coordinate = (st->flat_capacity + threads - 1) / threads;
    return by_triple > by_coordinate ? by_triple : by_coordinate;
}

static int init_threads(paper_state *st, const melon_model *m, melon_err *err) {
    st->n_threads = omp_get_max_threads();
    if (st->n_threads < 1) st->n_threads = 1;
    /* the rate cache needs the top layer's signs in 32 bits */
    int cache = st->params.has_role && st->params.role_width <= 32;
    size_t capacity = cache ? pairs_per_thread(st, m) : 0;
    st->thread = melon_calloc((size_t)st->n_threads, sizeof *st->thread, err);
    if (!st->thread) return -1;
    for (int t = 0; t < st->n_threads; t++) {
        paper_thread *th = &st->thread[t];
        if (paper_role_scratch_init(&th->role, &st->params, err) != 0 ||
            paper_role_grad_init(&th->grad, &st->params, err) != 0)
            return -1;
        th->delta = melon_alloc(st->flat_capacity * sizeof(float), err);
        if (!th->delta) return -1;
        if (!cache) continue;
        th->cache_capacity = capacity;
        th->cache_rate = melon_alloc(capacity * sizeof(float), err);
        th->cache_mask = melon_alloc(capacity * sizeof(uint32_t), err);
        if (!th->cache_rate || !th->cache_mask) return -1;
    }
    return 0;
}

int melon_paper_create(melon_strategy *s, melon_model *m,
                       const melon_melon_config *c,
                       const melon_run_shape *shape, melon_ablation ablation,
                       melon_err *err) {
    int rc = check_config(c, m, err);
    if (rc != 0) return rc;
    paper_state *st = melon_calloc(1, sizeof *st, err);
    if (!st) return -1;
    s->impl = st;
    s->ops = ablation == MELON_ABLATION_INTERACTION ? &melon_i_ops
             : ablation == MELON_ABLATION_PARAMETER ? &melon_p_ops
                                                    : &melon_ops;
    st->cfg = *c;
    st->first_online_batch = -1;
    int max_triples = m->max_triples;
    int ext = c->extended_width > 0 ? c->extended_width : m->cfg.dim;
    st->flat_capacity = paper_flat_capacity(m, max_triples);
    size_t flat = st->flat_capacity, R = (size_t)max_triples;
    if (paper_params_init(&st->params, c, ablation, node_width(m), ext,
                          shape->seed, err) != 0)
        goto fail;
    if (st->params.has_interaction &&
        paper_interaction_init(&st->inter, m, &st->params, max_triples,
                               c->max_edge, err) != 0)
        goto fail;
    paper_role_net_view(&st->net, &st->params);
    if (melon_meta_trial_init(&st->trial, m, max_triples / 2, err) != 0 ||
        melon_grads_init(&st->slots, m, max_triples, err) != 0 ||
        melon_sparse_grad_init(&st->touched, m, max_triples, err) != 0)
        goto fail;
    st->lrho1 = melon_alloc(R * sizeof(float), err);
    st->lrho2 = melon_alloc(R * sizeof(float), err);
    st->d_eta = melon_alloc(R * sizeof(double), err);
    st->agg_scale = melon_alloc(flat * sizeof(float), err);
    st->mean_grad = melon_alloc(flat * sizeof(float), err);
    st->delta = melon_alloc(flat * sizeof(float), err);
    st->gc = melon_alloc(flat * sizeof(float), err);
    st->needed = melon_alloc(flat * sizeof(float), err);
    st->user_mark = melon_calloc((size_t)m->n_users, sizeof(uint32_t), err);
    st->item_mark = melon_calloc((size_t)m->n_items, sizeof(uint32_t), err);
    st->mark_users = m->n_users;
    st->mark_items = m->n_items;
    if (!st->lrho1 || !st->lrho2 || !st->d_eta || !st->agg_scale ||
        !st->mean_grad || !st->delta || !st->gc || !st->needed ||
        !st->user_mark || !st->item_mark)
        goto fail;
    if (init_threads(st, m, err) != 0) goto fail;
    return 0;
fail:
    paper_free(s);
    s->ops = NULL;
    return -1;
}

void melon_paper_set_rate_sink(melon_strategy *s, paper_rate_sink sink,
                               void *user) {
    paper_state *st = s->impl;
    st->sink = sink;
    st->sink_user = user;
}
