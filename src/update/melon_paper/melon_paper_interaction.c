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
 * generator; then one parallel region computes the user side on one thread
 * and the item side on another (OpenBLAS runs single-threaded inside), and
 * splits the per-triple layer by rows. */
#include "melon_paper.h"

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
             ALLOC(user_alpha, R * K) && ALLOC(item_pi, R * K) &&
             ALLOC(item_alpha, R * K) && ALLOC(x_user, R * 2 * D) &&
             ALLOC(x_item, R * 2 * D) && ALLOC(ext_user, R * E) &&
             ALLOC(ext_item, R * E) && ALLOC(x_pair, R * 2 * E) &&
             ALLOC(h, R * H) && ALLOC(eta, R) && ALLOC(dh, R * H) &&
             ALLOC(dx_pair, R * 2 * E) && ALLOC(dext_user, R * E) &&
             ALLOC(dext_item, R * E) && ALLOC(dx_user, R * 2 * D) &&
             ALLOC(dx_item, R * 2 * D) && ALLOC(nb_user, K * D) &&
             ALLOC(nb_item, K * D);
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
                      it->item_pi,   it->item_alpha, it->x_user,  it->x_item,
                      it->ext_user,  it->ext_item,  it->x_pair,   it->h,
                      it->eta,       it->dh,        it->dx_pair,  it->dext_user,
                      it->dext_item, it->dx_user,   it->dx_item,  it->nb_user,
                      it->nb_item};
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
    float *x;                /* [n][2D] */
    float *ext;              /* [n][E] */
    float *dext, *dx;
    const int *self_tensors, *nb_tensors;
    int n_self_tensors, n_nb_tensors;
    melon_meta_block *a, *w, *b;
    float *nb_buf;           /* [max_edge][D] */
} graph_side;

static graph_side user_side(paper_interaction *it, const paper_params *p) {
    return (graph_side){it->n_users, it->user_id, it->user_nb, it->user_n_nb,
                        it->user_pi, it->user_alpha, it->x_user, it->ext_user,
                        it->dext_user, it->dx_user, it->user_tensor,
                        it->item_tensor, it->n_user_tensors, it->n_item_tensors,
                        p->a_user, p->w_user, p->b_user, it->nb_user};
}

static graph_side item_side(paper_interaction *it, const paper_params *p) {
    return (graph_side){it->n_items, it->item_id, it->item_nb, it->item_n_nb,
                        it->item_pi, it->item_alpha, it->x_item, it->ext_item,
                        it->dext_item, it->dx_item, it->item_tensor,
                        it->user_tensor, it->n_item_tensors, it->n_user_tensors,
                        p->a_item, p->w_item, p->b_item, it->nb_item};
}

static void gather_neighbours(const paper_interaction *it, const melon_model *m,
                              const graph_side *side, int a) {
    int D = it->node_dim, K = it->max_edge;
    for (int k = 0; k < side->n_nb[a]; k++)
        node_feature(m, side->nb_tensors, side->n_nb_tensors,
                     side->nb[(size_t)a * K + k], side->nb_buf + (size_t)k * D);
}

/* Eq. 9 and 8 for every node of one side. */
static void side_forward(paper_interaction *it, const melon_model *m,
                         const graph_side *side, float slope) {
    int D = it->node_dim, E = it->ext_width, K = it->max_edge;
    const float *a = side->a->value;   /* [a_self; a_nb] */
    for (int q = 0; q < side->n; q++) {
        float *x = side->x + (size_t)q * 2 * D;
        node_feature(m, side->self_tensors, side->n_self_tensors, side->id[q], x);
        gather_neighbours(it, m, side, q);
        melon_attention_cache cache = {side->n_nb[q], side->pi + (size_t)q * K,
                                       side->alpha + (size_t)q * K};
        melon_attention_forward(side->n_nb[q], D, side->nb_buf, x, a + D, a,
                                slope, &cache, x + D);
        /* --melon-empty-history self: a node without history aggregates
         * its own (constant) embedding */
        if (side->n_nb[q] == 0 && it->empty_self)
            memcpy(x + D, x, (size_t)D * sizeof *x);
    }
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

void paper_interaction_forward(paper_interaction *it, const paper_params *p,
                               const melon_model *m, const melon_history *h,
                               size_t before, melon_neighbor_mode mode,
                               melon_rng *rng, float slope,
                               const melon_triple *triples, int n) {
    int E = it->ext_width, H = it->h_width, K = it->max_edge;
    it->n_users = it->n_items = 0;
    for (int r = 0; r < n; r++) {
        it->user_of[r] = distinct(triples[r].user, it->user_index, it->user_id,
                                  &it->n_users);
        it->item_of[r] = distinct(triples[r].item, it->item_index, it->item_id,
                                  &it->n_items);
    }
    /* Definition 1: edges strictly before the batch; users, then items */
    for (int q = 0; q < it->n_users; q++)
        it->user_n_nb[q] = melon_history_sample(
            &h->user_items[it->user_id[q]], before, K, mode, rng,
            it->user_nb + (size_t)q * K);
    for (int q = 0; q < it->n_items; q++)
        it->item_n_nb[q] = melon_history_sample(
            &h->item_users[it->item_id[q]], before, K, mode, rng,
            it->item_nb + (size_t)q * K);
    graph_side users = user_side(it, p), items = item_side(it, p);
    const float *w_lr = p->w_lr->value, b_lr = p->b_lr->value[0];
#pragma omp parallel num_threads(it->threads)
    {
        int threads = omp_get_num_threads(), t = omp_get_thread_num();
        if (t == 0) side_forward(it, m, &users, slope);
        if (t == threads - 1) side_forward(it, m, &items, slope);
#pragma omp barrier
        /* Eq. 10 on this thread's triples */
        int r0 = (int)((long)n * t / threads), r1 = (int)((long)n * (t + 1) / threads);
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
    for (int q = 0; q < it->n_users; q++) it->user_index[it->user_id[q]] = -1;
    for (int q = 0; q < it->n_items; q++) it->item_index[it->item_id[q]] = -1;
}

/* Back through Eq. 8 and 9 for one side, from side->dext. */
static void side_backward(paper_interaction *it, const melon_model *m,
                          const graph_side *side, float slope) {
    int D = it->node_dim, E = it->ext_width, K = it->max_edge;
    if (side->n == 0) return;
    melon_relu_backward(side->n, E, side->ext, E, side->dext, E);
    melon_linear_backward_weight(side->n, 2 * D, E, side->dext, E, side->x,
                                 2 * D, 1.0f, side->w->grad, 2 * D);
    float *gb = side->b->grad;
    for (int q = 0; q < side->n; q++)
        for (int c = 0; c < E; c++) gb[c] += side->dext[(size_t)q * E + c];
    melon_linear_backward_input(side->n, 2 * D, E, side->dext, E,
                                side->w->value, 2 * D, side->dx, 2 * D);
    float *ga = side->a->grad;
    for (int q = 0; q < side->n; q++) {
        const float *x = side->x + (size_t)q * 2 * D;
        gather_neighbours(it, m, side, q);
        melon_attention_cache cache = {side->n_nb[q], side->pi + (size_t)q * K,
                                       side->alpha + (size_t)q * K};
        melon_attention_backward(side->n_nb[q], D, side->nb_buf, x, slope, &cache,
                                 side->dx + (size_t)q * 2 * D + D, ga + D, ga);
    }
}

void paper_interaction_backward(paper_interaction *it, paper_params *p,
                                const melon_model *m, float slope,
                                const double *d_eta, int n) {
    int E = it->ext_width, H = it->h_width;
    const float *w_lr = p->w_lr->value;
    /* Eq. 12's h_x part: eta_r = w_lr,x . h_r + b_lr */
    for (int c = 0; c < H; c++) {
        double sum = 0.0;
        for (int r = 0; r < n; r++) sum += d_eta[r] * it->h[(size_t)r * H + c];
        p->w_lr->grad[c] += (float)sum;
    }
    for (int r = 0; r < n; r++) {
        const float *hr = it->h + (size_t)r * H;
        float *dh = it->dh + (size_t)r * H;
        for (int c = 0; c < H; c++)
            dh[c] = hr[c] > 0.0f ? (float)d_eta[r] * w_lr[c] : 0.0f;
    }
    graph_side users = user_side(it, p), items = item_side(it, p);
#pragma omp parallel num_threads(it->threads)
    {
        int threads = omp_get_num_threads(), t = omp_get_thread_num();
        /* Eq. 10: this thread's rows of W_x's gradient, its triples' dx */
        int q0 = H * t / threads, q1 = H * (t + 1) / threads;
        int r0 = (int)((long)n * t / threads), r1 = (int)((long)n * (t + 1) / threads);
        if (q1 > q0)
            melon_linear_backward_weight(n, 2 * E, q1 - q0, it->dh + q0, H,
                                         it->x_pair, 2 * E, 1.0f,
                                         p->w_x->grad + (size_t)q0 * 2 * E, 2 * E);
        for (int q = q0; q < q1; q++)
            for (int r = 0; r < n; r++) p->b_x->grad[q] += it->dh[(size_t)r * H + q];
        melon_linear_backward_input(r1 - r0, 2 * E, H, it->dh + (size_t)r0 * H, H,
                                    p->w_x->value, 2 * E,
                                    it->dx_pair + (size_t)r0 * 2 * E, 2 * E);
#pragma omp barrier
        /* each side gathers its extended embeddings' gradients, then Eq. 8
         * and 9 back */
        for (int side = 0; side < 2; side++) {
            if (threads > 1 && side != t) continue;
            float *dext = side == 0 ? it->dext_user : it->dext_item;
            const int32_t *of = side == 0 ? it->user_of : it->item_of;
            int count = side == 0 ? it->n_users : it->n_items;
            memset(dext, 0, (size_t)count * E * sizeof(float));
            for (int r = 0; r < n; r++) {
                const float *dx = it->dx_pair + (size_t)r * 2 * E + side * E;
                float *d = dext + (size_t)of[r] * E;
                for (int c = 0; c < E; c++) d[c] += dx[c];
            }
            side_backward(it, m, side == 0 ? &users : &items, slope);
        }
    }
}
