/* One call of the official MeLON (update-strategies.md A.4): buffers sized
 * once, the pairs and the nodes they look up, the copy of theta the
 * proposals start from, and each node's sampled neighbours (A.3 item 6). */
#include "melon_official.h"

#include "data/history_prefetch.h"
#include "nn/nn.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

int official_features_init(official_features *f, const melon_model *m,
                           melon_err *err) {
    memset(f, 0, sizeof *f);
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        if (t->kind == MELON_DENSE || t->cols < 2) continue;
        int side = t->kind == MELON_USER_TABLE ? OFFICIAL_USER : OFFICIAL_ITEM;
        f->table[side][f->n_tables[side]++] = k;
        f->width[side] += t->cols;
    }
    if (f->width[OFFICIAL_USER] == 0 || f->width[OFFICIAL_ITEM] == 0)
        return melon_fail(err, "MeLON (official form): model '%s' has no user "
                               "and item embedding tables to use as node "
                               "features", m->ops ? m->ops->name : "?");
    if (f->width[OFFICIAL_USER] != f->width[OFFICIAL_ITEM])
        return melon_fail(err, "MeLON (official form): user features of width "
                               "%d and item features of width %d; the "
                               "attention needs equal widths",
                          f->width[OFFICIAL_USER], f->width[OFFICIAL_ITEM]);
    return 0;
}

void official_features_gather(const official_features *f,
                              const melon_model *m, int side, int32_t id,
                              float *out) {
    for (int a = 0; a < f->n_tables[side]; a++) {
        const melon_tensor *t = &m->tensor[f->table[side][a]];
        memcpy(out, t->value + (size_t)id * t->cols,
               (size_t)t->cols * sizeof(float));
        out += t->cols;
    }
}

void official_features_prefetch(const official_features *f,
                                const melon_model *m, int side, int32_t id) {
    for (int a = 0; a < f->n_tables[side]; a++) {
        const melon_tensor *t = &m->tensor[f->table[side][a]];
        const char *row = (const char *)(t->value + (size_t)id * t->cols);
        size_t bytes = (size_t)t->cols * sizeof(float);
        for (size_t at = 0; at < bytes; at += 64) __builtin_prefetch(row + at);
        __builtin_prefetch(row + bytes - 1);
    }
}

static int side_init(official_side *s, int32_t table_rows, int cap_nodes,
                     int max_edge, int d_node, int d, melon_err *err) {
    memset(s, 0, sizeof *s);
    size_t nodes = (size_t)cap_nodes;
    size_t edges = nodes * (size_t)(max_edge > 0 ? max_edge : 0);
    s->cap_nodes = cap_nodes;
    s->cap_edges = (int)edges;
    if (edges == 0) edges = 1;
    s->node_id = melon_alloc(nodes * sizeof(int32_t), err);
    s->n_pairs = melon_alloc(nodes * sizeof(int32_t), err);
    s->index_of = melon_alloc((size_t)table_rows * sizeof(int32_t), err);
    s->edge_begin = melon_calloc(nodes + 1, sizeof(int32_t), err);
    s->edge_id = melon_alloc(edges * sizeof(int32_t), err);
    s->self = melon_alloc(nodes * d_node * sizeof(float), err);
    s->nb = melon_alloc(edges * d_node * sizeof(float), err);
    s->pi = melon_alloc(edges * sizeof(float), err);
    s->alpha = melon_alloc(edges * sizeof(float), err);
    s->mu = melon_alloc(nodes * d_node * sizeof(float), err);
    s->cat = melon_alloc(nodes * 2 * d * sizeof(float), err);
    s->out = melon_alloc(nodes * d * sizeof(float), err);
    s->out_grad = melon_alloc(nodes * d * sizeof(float), err);
    s->cat_grad = melon_alloc(nodes * 2 * d * sizeof(float), err);
    s->mu_grad = melon_alloc(nodes * d_node * sizeof(float), err);
    s->edge_grad = melon_alloc(edges * sizeof(float), err);
    s->node_grad = melon_alloc(nodes * sizeof(float), err);
    if (!s->node_id || !s->n_pairs || !s->index_of || !s->edge_begin ||
        !s->edge_id || !s->self || !s->nb || !s->pi || !s->alpha || !s->mu ||
        !s->cat || !s->out || !s->out_grad || !s->cat_grad || !s->mu_grad ||
        !s->edge_grad || !s->node_grad)
        return -1;
    for (int32_t a = 0; a < table_rows; a++) s->index_of[a] = -1;
    s->index_rows = table_rows;
    return 0;
}

int official_call_grow(official_call *c, const melon_model *m,
                       melon_err *err) {
    int32_t rows[OFFICIAL_SIDES] = {m->n_users, m->n_items};
    for (int side = 0; side < OFFICIAL_SIDES; side++) {
        official_side *s = &c->side[side];
        if (rows[side] <= s->index_rows) continue;
        const melon_tensor *t = &m->tensor[c->features.table[side][0]];
        int32_t *index = melon_grow_rows(s->index_of, sizeof *index,
                                         (size_t)s->index_rows,
                                         (size_t)rows[side],
                                         (size_t)t->cap_rows, 0xff, err);
        if (!index) return -1;
        s->index_of = index; /* every byte 0xff: -1 */
        s->index_rows = rows[side];
    }
    return 0;
}

static void side_free(official_side *s) {
    free(s->node_id);
    free(s->n_pairs);
    free(s->index_of);
    free(s->edge_begin);
    free(s->edge_id);
    free(s->self);
    free(s->nb);
    free(s->pi);
    free(s->alpha);
    free(s->mu);
    free(s->cat);
    free(s->out);
    free(s->out_grad);
    free(s->cat_grad);
    free(s->mu_grad);
    free(s->edge_grad);
    free(s->node_grad);
    memset(s, 0, sizeof *s);
}

static int mlp_init(official_mlp *p, int cap, int in, int hw, melon_err *err) {
    memset(p, 0, sizeof *p);
    size_t rows = (size_t)cap;
    p->cap = cap;
    p->v = melon_alloc(rows * in * sizeof(float), err);
    p->xhat1 = melon_alloc(rows * hw * sizeof(float), err);
    p->act1 = melon_alloc(rows * hw * sizeof(float), err);
    p->xhat2 = melon_alloc(rows * hw * sizeof(float), err);
    p->h = melon_alloc(rows * hw * sizeof(float), err);
    p->inv_std1 = melon_alloc((size_t)hw * sizeof(float), err);
    p->inv_std2 = melon_alloc((size_t)hw * sizeof(float), err);
    p->stats = melon_alloc(2 * (size_t)hw * sizeof(double), err);
    p->h_grad = melon_alloc(rows * hw * sizeof(float), err);
    p->scratch_a = melon_alloc(rows * hw * sizeof(float), err);
    p->scratch_b = melon_alloc(rows * hw * sizeof(float), err);
    p->v_grad = melon_alloc(rows * in * sizeof(float), err);
    if (!p->v || !p->xhat1 || !p->act1 || !p->xhat2 || !p->h ||
        !p->inv_std1 || !p->inv_std2 || !p->stats || !p->h_grad ||
        !p->scratch_a || !p->scratch_b ||
        !p->v_grad)
        return -1;
    return 0;
}

static void mlp_free(official_mlp *p) {
    free(p->v);
    free(p->xhat1);
    free(p->act1);
    free(p->xhat2);
    free(p->h);
    free(p->inv_std1);
    free(p->inv_std2);
    free(p->stats);
    free(p->h_grad);
    free(p->scratch_a);
    free(p->scratch_b);
    free(p->v_grad);
    memset(p, 0, sizeof *p);
}

static int side_of(const melon_tensor *t) {
    return t->kind == MELON_USER_TABLE ? OFFICIAL_USER : OFFICIAL_ITEM;
}

/* Blocks of dense rows become the tasks of the fused loops. */
static int block_rows(const melon_tensor *t) {
    int rows = OFFICIAL_BLOCK_FLOATS / t->cols;
    return rows < 1 ? 1 : rows;
}

static int tasks_init(official_call *c, const melon_model *m, melon_err *err) {
    int n_tasks = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        if (t->kind == MELON_DENSE)
            n_tasks += (t->rows + block_rows(t) - 1) / block_rows(t);
    }
    c->n_tasks = n_tasks;
    size_t count = (size_t)n_tasks + 1;
    c->task_tensor = melon_alloc(count * sizeof(int16_t), err);
    c->task_row = melon_alloc(count * sizeof(int32_t), err);
    c->task_rows = melon_alloc(count * sizeof(int32_t), err);
    if (!c->task_tensor || !c->task_row || !c->task_rows) return -1;
    int at = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        if (t->kind != MELON_DENSE) continue;
        for (int a = 0; a < t->rows; a += block_rows(t)) {
            c->task_tensor[at] = (int16_t)k;
            c->task_row[at] = a;
            c->task_rows[at] = t->rows - a < block_rows(t) ? t->rows - a
                                                           : block_rows(t);
            at++;
        }
    }
    return 0;
}

int official_call_init(official_call *c, const melon_model *m,
                       const official_dims *dims, int max_edge,
                       melon_neighbor_mode neighbors, int cap_triples,
                       melon_err *err) {
    memset(c, 0, sizeof *c);
    c->model = m;
    c->dims = *dims;
    c->max_edge = max_edge;
    c->neighbors = neighbors;
    c->cap_pairs = 2 * cap_triples;
    c->cap_nodes = c->cap_pairs; /* items; users are at most cap_triples */
    c->max_threads = omp_get_max_threads();
    if (official_features_init(&c->features, m, err) != 0) return -1;
    size_t pairs = (size_t)c->cap_pairs;
    int widest_dense = 1;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        if (t->kind == MELON_DENSE && t->cols > widest_dense)
            widest_dense = t->cols;
    }
    /* a block holds at least one row */
    size_t block = widest_dense > OFFICIAL_BLOCK_FLOATS ? (size_t)widest_dense
                                                        : OFFICIAL_BLOCK_FLOATS;
    int32_t rows[OFFICIAL_SIDES] = {m->n_users, m->n_items};
    for (int s = 0; s < OFFICIAL_SIDES; s++) {
        c->pair_node[s] = melon_alloc(pairs * sizeof(int32_t), err);
        if (!c->pair_node[s] ||
            side_init(&c->side[s], rows[s],
                      s == OFFICIAL_USER ? cap_triples : c->cap_nodes,
                      dims->has_h ? max_edge : 0, dims->d_node, dims->d,
                      err) != 0)
            goto fail;
    }
    if (dims->has_h &&
        mlp_init(&c->mlp, c->cap_pairs, 2 * dims->d, dims->hw, err) != 0)
        goto fail;
    c->base_F = melon_alloc(pairs * sizeof(float), err);
    c->base_I = melon_alloc(pairs * sizeof(float), err);
    c->forget_zero = melon_alloc(pairs * sizeof(float), err);
    c->block_floats = (int)block;
    c->thread_block = melon_alloc((size_t)c->max_threads * 4 * block *
                                      sizeof(float), err);
    c->pair_sums = melon_alloc(pairs * PS_COUNT * sizeof(double), err);
    c->thread_sums = melon_alloc((size_t)c->max_threads * pairs * PS_COUNT *
                                     sizeof(double), err);
    if (!c->base_F || !c->base_I || !c->forget_zero || !c->thread_block ||
        !c->pair_sums || !c->thread_sums)
        goto fail;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        size_t rows_k = t->kind == MELON_DENSE ? (size_t)t->rows
                                               : (size_t)c->cap_nodes;
        c->theta[k] = melon_alloc(rows_k * t->cols * sizeof(float), err);
        if (!c->theta[k]) goto fail;
        if (t->kind != MELON_DENSE) {
            c->proposal[k] = melon_alloc(pairs * t->cols * sizeof(float), err);
            c->row_sum[k] = melon_alloc((size_t)c->cap_nodes * t->cols *
                                            sizeof(float), err);
            if (!c->proposal[k] || !c->row_sum[k]) goto fail;
            continue;
        }
        official_dense_logs *l = &c->logs[k];
        size_t e_size = pairs * t->rows, h_size = pairs * t->cols;
        l->e_log = melon_alloc(e_size * sizeof(float), err);
        l->e_inv = melon_alloc(e_size * sizeof(float), err);
        l->h_log = melon_alloc(h_size * sizeof(float), err);
        l->h_inv = melon_alloc(h_size * sizeof(float), err);
        l->h_max = melon_alloc(pairs * sizeof(float), err);
        if (!l->e_log || !l->e_inv || !l->h_log || !l->h_inv || !l->h_max)
            goto fail;
    }
    if (tasks_init(c, m, err) != 0) goto fail;
    return 0;
fail:
    official_call_free(c);
    return -1;
}

void official_call_free(official_call *c) {
    for (int s = 0; s < OFFICIAL_SIDES; s++) {
        free(c->pair_node[s]);
        side_free(&c->side[s]);
    }
    mlp_free(&c->mlp);
    free(c->base_F);
    free(c->base_I);
    free(c->forget_zero);
    free(c->thread_block);
    free(c->pair_sums);
    free(c->thread_sums);
    for (int k = 0; k < MELON_MAX_TENSORS; k++) {
        free(c->theta[k]);
        free(c->proposal[k]);
        free(c->row_sum[k]);
        official_dense_logs *l = &c->logs[k];
        free(l->e_log);
        free(l->e_inv);
        free(l->h_log);
        free(l->h_inv);
        free(l->h_max);
    }
    free(c->task_tensor);
    free(c->task_row);
    free(c->task_rows);
    memset(c, 0, sizeof *c);
}

static int32_t node_of(official_side *s, int32_t id) {
    int32_t j = s->index_of[id];
    if (j < 0) {
        j = s->n_nodes++;
        s->index_of[id] = j;
        s->node_id[j] = id;
        s->n_pairs[j] = 0;
    }
    s->n_pairs[j]++;
    return j;
}

void official_call_index(official_call *c, const melon_triple *triples,
                         int n, const melon_grads *slots) {
    const melon_model *m = c->model;
    c->n_triples = n;
    c->n_pairs = 2 * n;
    c->triples = triples;
    c->slots = slots;
    for (int s = 0; s < OFFICIAL_SIDES; s++) {
        official_side *side = &c->side[s];
        for (int j = 0; j < side->n_nodes; j++)
            side->index_of[side->node_id[j]] = -1;
        side->n_nodes = 0;
    }
    for (int q = 0; q < c->n_pairs; q++) {
        const melon_triple *tr = &triples[q / 2];
        c->pair_node[OFFICIAL_USER][q] =
            node_of(&c->side[OFFICIAL_USER], tr->user);
        c->pair_node[OFFICIAL_ITEM][q] =
            node_of(&c->side[OFFICIAL_ITEM], q % 2 ? tr->negative : tr->item);
    }
    /* the loss feature: rho of the call's mean loss (A.3 item 2) */
    double sum = 0.0;
    for (int r = 0; r < n; r++) sum += slots->loss[r];
    melon_preprocess((float)(n ? sum / n : 0.0), MELON_PREPROCESS_EPS,
                     &c->rho_loss[0], &c->rho_loss[1]);
    /* theta: the values every proposal starts from */
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        size_t cols = (size_t)t->cols;
        if (t->kind == MELON_DENSE) {
            memcpy(c->theta[k], t->value,
                   (size_t)t->rows * cols * sizeof(float));
            continue;
        }
        const official_side *side = &c->side[side_of(t)];
        for (int j = 0; j < side->n_nodes; j++)
            memcpy(c->theta[k] + (size_t)j * cols,
                   t->value + (size_t)side->node_id[j] * cols,
                   cols * sizeof(float));
    }
}

/* Up to max_edge edges per node, drawn for every user then every item in
 * node order (so the draws depend only on the call). */
void official_call_sample(official_call *c, const melon_history *history,
                          size_t before, melon_rng *rng) {
    if (!c->dims.has_h) return;
    for (int s = 0; s < OFFICIAL_SIDES; s++) {
        official_side *side = &c->side[s];
        int edges = 0;
        const melon_adjacency *lists =
            s == OFFICIAL_USER ? history->user_items : history->item_users;
        for (int j = 0; j < side->n_nodes; j++) {
            melon_history_prefetch(lists, side->node_id, j, side->n_nodes);
            int32_t id = side->node_id[j];
            const melon_adjacency *adj = &lists[id];
            side->edge_begin[j] = edges;
            edges += melon_history_sample(adj, before, c->max_edge,
                                          c->neighbors, rng,
                                          side->edge_id + edges);
        }
        side->edge_begin[side->n_nodes] = edges;
        side->n_edges = edges;
    }
}

/* One parallel region: the GAT over node blocks, then the MLP on one
 * thread (its GEMMs single-threaded inside the region). */
void official_call_interaction(official_call *c, const official_params *p) {
    if (!c->dims.has_h) return;
    int nodes = c->side[OFFICIAL_USER].n_nodes + c->side[OFFICIAL_ITEM].n_nodes;
#pragma omp parallel num_threads(official_team_size(c)) \
    if (nodes >= OFFICIAL_PARALLEL_NODES)
    {
        official_gat_forward(c, p);
#pragma omp barrier
#pragma omp single
        official_mlp_forward(c, p);
    }
}

void official_call_prepare(official_call *c, const official_params *p,
                           const melon_triple *triples, int n,
                           const melon_grads *slots,
                           const melon_history *history, size_t before,
                           melon_rng *rng) {
    official_call_index(c, triples, n, slots);
    official_call_sample(c, history, before, rng);
    official_call_interaction(c, p);
    official_call_gates(c, p);
}
