/* Step I of MeLON (paper Eq. 8-10, Definitions 1-3): the representation
 * h_x of interaction x = (u, i) from the interaction history.
 *
 *   alpha_{ui'} = softmax_{i'}(LeakyReLU(a_U^T [e_u; e_i']))            (9)
 *   e~_u = ReLU(W_user [e_u; sum_i' alpha_{ui'} e_i'] + b_user)        (8)
 *   e~_i likewise over the item's users with a_I, W_item, b_item
 *   h_x  = ReLU(W_x [e~_u; e~_i] + b_x)                                (10)
 *
 * and eta_x = w_lr,x . h_x + b_lr, the interaction's share of Eq. 12.
 * Node features e are the recommender's embeddings, detached (BPR-MF:
 * user_emb / item_emb rows; NCF: [user_gmf; user_mlp], [item_gmf;
 * item_mlp]); the neighbours of a node are up to max_edge edges of the
 * history strictly before the batch, drawn once per call per distinct
 * node. A node without history aggregates the zero vector (or, with
 * --melon-empty-history self, its own embedding). The triple's
 * negative item shares its interaction's h_x.
 *
 * Threads: neighbours are drawn first, in a fixed order from the run's
 * generator. Then one parallel region cuts the call's nodes (users, then
 * items: a batch holds many more items than users) into equal parts for
 * the attention, forward and back. Each side's Eq. 8 product stays one
 * BLAS call, on its own thread (OpenBLAS runs single-threaded inside): a
 * product's last bits depend on how its rows are cut. The attention
 * vectors' gradients are split by entry and summed in node order. The
 * per-triple layer (Eq. 10) is split by rows. */
#include "melon_paper.h"

#include "data/history_prefetch.h"
#include "nn/nn.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static int is_feature_table(const melon_tensor *t, melon_tensor_kind kind) {
    return t->kind == kind && t->cols > 1;
}

int paper_interaction_init(paper_interaction *it, const melon_model *m,
                           const paper_params *p, int max_triples,
                           int max_edge, melon_err *err) {
    memset(it, 0, sizeof *it);
    int user_dim = 0, item_dim = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        if (is_feature_table(t, MELON_USER_TABLE) && it->n_user_tensors < 4) {
            it->user_tensor[it->n_user_tensors++] = k;
            user_dim += t->cols;
        }
        if (is_feature_table(t, MELON_ITEM_TABLE) && it->n_item_tensors < 4) {
            it->item_tensor[it->n_item_tensors++] = k;
            item_dim += t->cols;
        }
    }
    if (user_dim != p->node_dim || item_dim != p->node_dim)
        return melon_fail(err, "melon: user features %d wide and item features "
                               "%d wide, %d expected",
                          user_dim, item_dim, p->node_dim);
    size_t R = (size_t)max_triples, K = (size_t)(max_edge > 0 ? max_edge : 1);
    size_t D = (size_t)p->node_dim, E = (size_t)p->ext_width,
           H = (size_t)p->h_width;
    it->node_dim = p->node_dim;
    it->ext_width = p->ext_width;
    it->h_width = p->h_width;
    it->max_edge = max_edge;
    it->max_triples = max_triples;
    it->threads = omp_get_max_threads() > 1 ? 2 : 1;
    it->empty_self = p->empty_self;
#define ALLOC(field, count) \
    ((it->field = melon_calloc((count), sizeof *it->field, err)) != NULL)
    int ok = ALLOC(user_id, R) && ALLOC(item_id, R) && ALLOC(user_of, R) &&
             ALLOC(item_of, R) && ALLOC(user_index, (size_t)m->n_users) &&
             ALLOC(item_index, (size_t)m->n_items) && ALLOC(user_nb, R * K) &&
             ALLOC(item_nb, R * K) && ALLOC(user_n_nb, R) &&
             ALLOC(item_n_nb, R) && ALLOC(user_pi, R * K) &&
             ALLOC(user_alpha, R * K) && ALLOC(user_dpi, R * K) &&
             ALLOC(item_pi, R * K) && ALLOC(item_alpha, R * K) &&
             ALLOC(item_dpi, R * K) && ALLOC(user_dpi_sum, R) &&
             ALLOC(item_dpi_sum, R) && ALLOC(x_user, R * 2 * D) &&
             ALLOC(x_item, R * 2 * D) && ALLOC(ext_user, R * E) &&
             ALLOC(ext_item, R * E) && ALLOC(x_pair, R * 2 * E) &&
             ALLOC(h, R * H) && ALLOC(eta, R) && ALLOC(dh, R * H) &&
             ALLOC(dx_pair, R * 2 * E) && ALLOC(dext_user, R * E) &&
             ALLOC(dext_item, R * E) && ALLOC(dx_user, R * 2 * D) &&
             ALLOC(dx_item, R * 2 * D) &&
             ALLOC(nb_buf, (size_t)it->threads * K * D);
#undef ALLOC
    if (!ok) {
        paper_interaction_free(it);
        return -1;
    }
    for (int32_t u = 0; u < m->n_users; u++) it->user_index[u] = -1;
    for (int32_t i = 0; i < m->n_items; i++) it->item_index[i] = -1;
    it->index_users = m->n_users;
    it->index_items = m->n_items;
    return 0;
}

int paper_interaction_grow(paper_interaction *it, const melon_model *m,
                           melon_err *err) {
    if (!it->user_index) return 0; /* the variant has no h_x */
    if (m->n_users > it->index_users) {
        int32_t *index = melon_grow_rows(it->user_index, sizeof *index,
                                         (size_t)it->index_users,
                                         (size_t)m->n_users,
                                         melon_model_room(m, MELON_USER_TABLE),
                                         0xff, err); /* every byte: -1 */
        if (!index) return -1;
        it->user_index = index;
        it->index_users = m->n_users;
    }
    if (m->n_items > it->index_items) {
        int32_t *index = melon_grow_rows(it->item_index, sizeof *index,
                                         (size_t)it->index_items,
                                         (size_t)m->n_items,
                                         melon_model_room(m, MELON_ITEM_TABLE),
                                         0xff, err);
        if (!index) return -1;
        it->item_index = index;
        it->index_items = m->n_items;
    }
    return 0;
}

void paper_interaction_free(paper_interaction *it) {
    void *fields[] = {it->user_id,   it->item_id,   it->user_of,  it->item_of,
                      it->user_index, it->item_index, it->user_nb, it->item_nb,
                      it->user_n_nb, it->item_n_nb, it->user_pi,  it->user_alpha,
                      it->user_dpi,  it->item_pi,   it->item_alpha, it->item_dpi,
                      it->user_dpi_sum, it->item_dpi_sum, it->x_user, it->x_item,
                      it->ext_user,  it->ext_item,  it->x_pair,   it->h,
                      it->eta,       it->dh,        it->dx_pair,  it->dext_user,
                      it->dext_item, it->dx_user,   it->dx_item,  it->nb_buf};
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) free(fields[k]);
    memset(it, 0, sizeof *it);
}

/* The node feature of `id`: its rows of the feature tables, concatenated. */
static void node_feature(const melon_model *m, const int *tensors, int count,
                         int32_t id, float *out) {
    for (int a = 0; a < count; a++) {
        const melon_tensor *t = &m->tensor[tensors[a]];
        memcpy(out, t->value + (size_t)id * t->cols, (size_t)t->cols * sizeof *out);
        out += t->cols;
    }
}

/* One side of the graph: the call's distinct nodes of that side. */
typedef struct {
    int n;
    const int32_t *id;
    const int32_t *nb;       /* [n][max_edge] neighbour ids */
    int *n_nb;
    float *pi, *alpha;       /* attention caches */
    float *dpi, *dpi_sum;    /* [n][max_edge] d pi_k, [n] their sums */
    float *x;                /* [n][2D] */
    float *ext;              /* [n][E] */
    float *dext, *dx;
    const int32_t *of;       /* [triples]: the triple's node */
    const int *self_tensors, *nb_tensors;
    int n_self_tensors, n_nb_tensors;
    melon_meta_block *a, *w, *b;
} graph_side;

static graph_side user_side(paper_interaction *it, const paper_params *p) {
    return (graph_side){it->n_users, it->user_id, it->user_nb, it->user_n_nb,
                        it->user_pi, it->user_alpha, it->user_dpi,
                        it->user_dpi_sum, it->x_user, it->ext_user,
                        it->dext_user, it->dx_user, it->user_of,
                        it->user_tensor, it->item_tensor, it->n_user_tensors,
                        it->n_item_tensors, p->a_user, p->w_user, p->b_user};
}

static graph_side item_side(paper_interaction *it, const paper_params *p) {
    return (graph_side){it->n_items, it->item_id, it->item_nb, it->item_n_nb,
                        it->item_pi, it->item_alpha, it->item_dpi,
                        it->item_dpi_sum, it->x_item, it->ext_item,
                        it->dext_item, it->dx_item, it->item_of,
                        it->item_tensor, it->user_tensor, it->n_item_tensors,
                        it->n_user_tensors, p->a_item, p->w_item, p->b_item};
}

/* Thread t's share [*q0, *q1) of side s's nodes: the call's nodes, users
 * then items, cut into equal contiguous parts. */
static void node_share(const paper_interaction *it, int s, int t, int threads,
                       int *q0, int *q1) {
    long total = (long)it->n_users + it->n_items;
    long offset = s == 0 ? 0 : it->n_users;
    long count = s == 0 ? it->n_users : it->n_items;
    long begin = total * t / threads - offset;
    long end = total * (t + 1) / threads - offset;
    *q0 = (int)(begin < 0 ? 0 : begin > count ? count : begin);
    *q1 = (int)(end < 0 ? 0 : end > count ? count : end);
}

/* Thread t's share [*a0, *a1) of n entries. */
static void entry_share(int n, int t, int threads, int *a0, int *a1) {
    *a0 = (int)((long)n * t / threads);
    *a1 = (int)((long)n * (t + 1) / threads);
}

static void gather_neighbours(const paper_interaction *it, const melon_model *m,
                              const graph_side *side, int q, float *nb_buf) {
    int D = it->node_dim, K = it->max_edge;
    for (int k = 0; k < side->n_nb[q]; k++)
        node_feature(m, side->nb_tensors, side->n_nb_tensors,
                     side->nb[(size_t)q * K + k], nb_buf + (size_t)k * D);
}

/* Eq. 9 for nodes [q0, q1) of one side: x = [e; sum_k alpha_k e_k]. */
static void attend_nodes(paper_interaction *it, const melon_model *m,
                         const graph_side *side, int q0, int q1, float slope,
                         float *nb_buf) {
    int D = it->node_dim, K = it->max_edge;
    const float *a = side->a->value;   /* [a_self; a_nb] */
    for (int q = q0; q < q1; q++) {
        float *x = side->x + (size_t)q * 2 * D;
        node_feature(m, side->self_tensors, side->n_self_tensors, side->id[q], x);
        gather_neighbours(it, m, side, q, nb_buf);
        melon_attention_cache cache = {side->n_nb[q], side->pi + (size_t)q * K,
                                       side->alpha + (size_t)q * K};
        melon_attention_forward(side->n_nb[q], D, nb_buf, x, a + D, a, slope,
                                &cache, x + D);
        /* --melon-empty-history self: a node without history aggregates
         * its own (constant) embedding */
        if (side->n_nb[q] == 0 && it->empty_self)
            memcpy(x + D, x, (size_t)D * sizeof *x);
    }
}

/* Eq. 8 for all of one side's nodes, in one product. */
static void side_extend(paper_interaction *it, const graph_side *side) {
    int D = it->node_dim, E = it->ext_width;
    if (side->n == 0) return;
    melon_linear_forward(side->n, 2 * D, E, side->x, 2 * D, side->w->value,
                         2 * D, side->ext, E);
    const float *bias = side->b->value;
    for (int q = 0; q < side->n; q++) {
        float *row = side->ext + (size_t)q * E;
        for (int c = 0; c < E; c++) row[c] += bias[c];
    }
    melon_relu_forward(side->n, E, side->ext, E);
}

static int distinct(int32_t id, int32_t *index, int32_t *ids, int *count) {
    if (index[id] < 0) {
        index[id] = *count;
        ids[(*count)++] = id;
    }
    return index[id];
}

/* A pass over nodes [q0, q1) of one side, with nb_buf its thread's. */
typedef void (*node_pass)(paper_interaction *it, const melon_model *m,
                          const graph_side *side, int q0, int q1, float slope,
                          float *nb_buf);

/* Runs `pass` over thread t's share of both sides' nodes. */
static void each_node_share(paper_interaction *it, const melon_model *m,
                            const graph_side *sides, int t, int threads,
                            float slope, node_pass pass) {
    float *nb_buf = it->nb_buf + (size_t)t * it->max_edge * it->node_dim;
    for (int s = 0; s < 2; s++) {
        int q0, q1;
        node_share(it, s, t, threads, &q0, &q1);
        pass(it, m, &sides[s], q0, q1, slope, nb_buf);
    }
}

void paper_interaction_sample(paper_interaction *it, const melon_history *h,
                              size_t before, melon_neighbor_mode mode,
                              melon_rng *rng, const melon_triple *triples,
                              int n) {
    int K = it->max_edge;
    it->n_users = it->n_items = 0;
    for (int r = 0; r < n; r++) {
        it->user_of[r] = distinct(triples[r].user, it->user_index, it->user_id,
                                  &it->n_users);
        it->item_of[r] = distinct(triples[r].item, it->item_index, it->item_id,
                                  &it->n_items);
    }
    for (int q = 0; q < it->n_users; q++) it->user_index[it->user_id[q]] = -1;
    for (int q = 0; q < it->n_items; q++) it->item_index[it->item_id[q]] = -1;
    /* Definition 1: edges strictly before the batch; users, then items */
    for (int q = 0; q < it->n_users; q++) {
        melon_history_prefetch(h->user_items, it->user_id, q, it->n_users);
        it->user_n_nb[q] = melon_history_sample(
            &h->user_items[it->user_id[q]], before, K, mode, rng,
            it->user_nb + (size_t)q * K);
    }
    for (int q = 0; q < it->n_items; q++) {
        melon_history_prefetch(h->item_users, it->item_id, q, it->n_items);
        it->item_n_nb[q] = melon_history_sample(
            &h->item_users[it->item_id[q]], before, K, mode, rng,
            it->item_nb + (size_t)q * K);
    }
}

/* The threads of the team that do Step I's work (it->threads at most, so
 * that results do not depend on a larger team); *t = this thread. */
static int working_threads(const paper_interaction *it, int *t) {
    int team = omp_get_num_threads();
    *t = omp_get_thread_num();
    return team < it->threads ? team : it->threads;
}

void paper_interaction_forward_team(paper_interaction *it,
                                    const paper_params *p,
                                    const melon_model *m, float slope, int n) {
    int E = it->ext_width, H = it->h_width;
    graph_side sides[2] = {user_side(it, p), item_side(it, p)};
    const float *w_lr = p->w_lr->value, b_lr = p->b_lr->value[0];
    int t, threads = working_threads(it, &t);
    int works = t < threads;
    if (works) each_node_share(it, m, sides, t, threads, slope, attend_nodes);
#pragma omp barrier
    if (t == 0) side_extend(it, &sides[0]);
    if (t == threads - 1) side_extend(it, &sides[1]);
#pragma omp barrier
    if (!works) return;
    /* Eq. 10 on this thread's triples */
    int r0, r1;
    entry_share(n, t, threads, &r0, &r1);
    for (int r = r0; r < r1; r++) {
        float *x = it->x_pair + (size_t)r * 2 * E;
        memcpy(x, it->ext_user + (size_t)it->user_of[r] * E, (size_t)E * sizeof *x);
        memcpy(x + E, it->ext_item + (size_t)it->item_of[r] * E,
               (size_t)E * sizeof *x);
    }
    melon_linear_forward(r1 - r0, 2 * E, H, it->x_pair + (size_t)r0 * 2 * E,
                         2 * E, p->w_x->value, 2 * E, it->h + (size_t)r0 * H, H);
    for (int r = r0; r < r1; r++) {
        float *hr = it->h + (size_t)r * H;
        float eta = b_lr;
        for (int c = 0; c < H; c++) {
            float v = hr[c] + p->b_x->value[c];
            hr[c] = v > 0.0f ? v : 0.0f;
            eta += w_lr[c] * hr[c];
        }
        it->eta[r] = eta;
    }
}

/* Back through Eq. 8 for all of side s's nodes: their extended
 * embeddings' gradients (summed over the triples in order), the ReLU, W's
 * and b's gradients and d x, whose second half is d mu. */
static void side_backward_layer(paper_interaction *it, const graph_side *side,
                                int s, int n) {
    int D = it->node_dim, E = it->ext_width;
    if (side->n == 0) return;
    memset(side->dext, 0, (size_t)side->n * E * sizeof *side->dext);
    for (int r = 0; r < n; r++) {
        const float *dx = it->dx_pair + (size_t)r * 2 * E + (size_t)s * E;
        float *d = side->dext + (size_t)side->of[r] * E;
        for (int c = 0; c < E; c++) d[c] += dx[c];
    }
    melon_relu_backward(side->n, E, side->ext, E, side->dext, E);
    melon_linear_backward_weight(side->n, 2 * D, E, side->dext, E, side->x,
                                 2 * D, 1.0f, side->w->grad, 2 * D);
    float *gb = side->b->grad;
    for (int q = 0; q < side->n; q++)
        for (int c = 0; c < E; c++) gb[c] += side->dext[(size_t)q * E + c];
    melon_linear_backward_input(side->n, 2 * D, E, side->dext, E,
                                side->w->value, 2 * D, side->dx, 2 * D);
}

/* Back through Eq. 9's softmax for nodes [q0, q1) of one side: d pi_k of
 * each neighbour and their sum. */
static void attend_nodes_backward(paper_interaction *it, const melon_model *m,
                                  const graph_side *side, int q0, int q1,
                                  float slope, float *nb_buf) {
    int D = it->node_dim, K = it->max_edge;
    for (int q = q0; q < q1; q++) {
        int count = side->n_nb[q];
        side->dpi_sum[q] = 0.0f;
        if (count == 0) continue;
        gather_neighbours(it, m, side, q, nb_buf);
        melon_attention_cache cache = {count, side->pi + (size_t)q * K,
                                       side->alpha + (size_t)q * K};
        side->dpi_sum[q] = melon_attention_backward_logits(
            count, D, nb_buf, slope, &cache, side->dx + (size_t)q * 2 * D + D,
            side->dpi + (size_t)q * K);
    }
}

/* Entries [c0, c1) of each half of one side's attention vector a =
 * [a_self; a_nb] (Eq. 9): sums over the side's nodes in node order,
 *   d a_nb = sum_q sum_k dpi_qk e_k,  d a_self = sum_q (sum_k dpi_qk) e_q,
 * with e_k read from the tables (the forward's values, still in place). */
static void attention_entries(paper_interaction *it, const melon_model *m,
                              const graph_side *side, int c0, int c1) {
    int D = it->node_dim, K = it->max_edge;
    float *da_self = side->a->grad, *da_nb = da_self + D;
    int offset = 0;   /* of this table's columns in the feature */
    for (int f = 0; f < side->n_nb_tensors; f++) {
        const melon_tensor *t = &m->tensor[side->nb_tensors[f]];
        int lo = c0 > offset ? c0 : offset;
        int hi = c1 < offset + t->cols ? c1 : offset + t->cols;
        float *g = da_nb + lo;
        for (int q = 0; q < side->n && hi > lo; q++)
            for (int k = 0; k < side->n_nb[q]; k++) {
                float dpi = side->dpi[(size_t)q * K + k];
                int32_t id = side->nb[(size_t)q * K + k];
                const float *e = t->value + (size_t)id * t->cols + (lo - offset);
                for (int c = 0; c < hi - lo; c++) g[c] += dpi * e[c];
            }
        offset += t->cols;
    }
    for (int q = 0; q < side->n; q++) {
        if (side->n_nb[q] == 0) continue;
        float total = side->dpi_sum[q];
        const float *self = side->x + (size_t)q * 2 * D;
        for (int c = c0; c < c1; c++) da_self[c] += total * self[c];
    }
}

void paper_interaction_backward_team(paper_interaction *it, paper_params *p,
                                     const melon_model *m, float slope,
                                     const double *d_eta, int n) {
    int D = it->node_dim, E = it->ext_width, H = it->h_width;
    const float *w_lr = p->w_lr->value;
    graph_side sides[2] = {user_side(it, p), item_side(it, p)};
    int t, threads = working_threads(it, &t);
    int works = t < threads;
    int q0 = 0, q1 = 0, r0 = 0, r1 = 0;
    if (works) {
        entry_share(H, t, threads, &q0, &q1);
        entry_share(n, t, threads, &r0, &r1);
    }
    /* Eq. 12's h_x part: eta_r = w_lr,x . h_r + b_lr; this thread's
     * entries of w_lr,x's gradient, its triples' d h */
    for (int c = q0; c < q1; c++) {
        double sum = 0.0;
        for (int r = 0; r < n; r++) sum += d_eta[r] * it->h[(size_t)r * H + c];
        p->w_lr->grad[c] += (float)sum;
    }
    for (int r = r0; r < r1; r++) {
        const float *hr = it->h + (size_t)r * H;
        float *dh = it->dh + (size_t)r * H;
        for (int c = 0; c < H; c++)
            dh[c] = hr[c] > 0.0f ? (float)d_eta[r] * w_lr[c] : 0.0f;
    }
#pragma omp barrier
    /* Eq. 10: this thread's rows of W_x's gradient, its triples' dx */
    if (q1 > q0)
        melon_linear_backward_weight(n, 2 * E, q1 - q0, it->dh + q0, H,
                                     it->x_pair, 2 * E, 1.0f,
                                     p->w_x->grad + (size_t)q0 * 2 * E, 2 * E);
    for (int q = q0; q < q1; q++)
        for (int r = 0; r < n; r++) p->b_x->grad[q] += it->dh[(size_t)r * H + q];
    if (works)
        melon_linear_backward_input(r1 - r0, 2 * E, H, it->dh + (size_t)r0 * H, H,
                                    p->w_x->value, 2 * E,
                                    it->dx_pair + (size_t)r0 * 2 * E, 2 * E);
#pragma omp barrier
    if (t == 0) side_backward_layer(it, &sides[0], 0, n);
    if (t == threads - 1) side_backward_layer(it, &sides[1], 1, n);
#pragma omp barrier
    if (works)
        each_node_share(it, m, sides, t, threads, slope, attend_nodes_backward);
#pragma omp barrier
    if (!works) return;
    int c0, c1;
    entry_share(D, t, threads, &c0, &c1);
    for (int s = 0; s < 2; s++) attention_entries(it, m, &sides[s], c0, c1);
}
