/* Element-wise ALS (He et al. 2016, MF_fastALS.java; update-strategies.md
 * B.2.b). Setting dJ/dP_uf = 0 with the other coordinates fixed gives
 *
 *   P_uf = [sum_{k in R_u} (w_uk - (w_uk - c_k) r^{-f}_uk) Q_kf
 *           - sum_{f' != f} P_uf' S^Q_ff']
 *        / [sum_{k in R_u} (w_uk - c_k) Q_kf^2 + S^Q_ff + lambda]
 *
 * with r^{-f}_uk = p_u.q_k - P_uf Q_kf, and symmetrically for Q_if with
 * c_i S^P in place of S^Q. The denominator is at least
 * sum_{R_u} w Q_kf^2 + lambda > 0. */
#include "eals_als.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Gives a list room for cap entries. */
static int list_room(eals_list *l, int32_t cap) {
    if (cap <= l->cap) return 0;
    int32_t *other = realloc(l->other, (size_t)cap * sizeof *other);
    if (!other) return -1;
    l->other = other;
    float *weight = realloc(l->weight, (size_t)cap * sizeof *weight);
    if (!weight) return -1;
    l->weight = weight;
    l->cap = cap;
    return 0;
}

/* Gives the per-list buffers room for a list of len entries. */
static int buffers_room(eals_als *a, int32_t len) {
    if (len <= a->longest) return 0;
    size_t n = (size_t)len;
    double *pred = realloc(a->pred, n * sizeof *pred);
    if (pred) a->pred = pred;
    double *w = realloc(a->w, n * sizeof *w);
    if (w) a->w = w;
    double *wc = realloc(a->w_minus_c, n * sizeof *wc);
    if (wc) a->w_minus_c = wc;
    float *partner = realloc(a->partner, n * (size_t)a->dim * sizeof *partner);
    if (partner) a->partner = partner;
    if (!pred || !w || !wc || !partner) return -1;
    a->longest = len;
    return 0;
}

int eals_als_init(eals_als *a, int32_t n_users, int32_t n_items, int dim,
                  float *P, float *Q, const int32_t *user_cap,
                  const int32_t *item_cap, double lambda, melon_err *err) {
    memset(a, 0, sizeof *a);
    a->dim = dim;
    a->lambda = lambda;
    size_t kk = (size_t)dim * dim;
    a->SP = melon_calloc(kk, sizeof(double), err);
    a->SQ = melon_calloc(kk, sizeof(double), err);
    a->old = melon_alloc((size_t)dim * sizeof(double), err);
    a->sx = melon_alloc((size_t)dim * sizeof(double), err);
    if (!a->SP || !a->SQ || !a->old || !a->sx ||
        eals_als_grow(a, n_users, n_items, P, Q, err) != 0)
        goto fail;
    int32_t longest = 1;
    for (int32_t u = 0; u < n_users; u++) {
        if (list_room(&a->user[u], user_cap[u]) != 0) goto oom;
        if (user_cap[u] > longest) longest = user_cap[u];
    }
    for (int32_t i = 0; i < n_items; i++) {
        if (list_room(&a->item[i], item_cap[i]) != 0) goto oom;
        if (item_cap[i] > longest) longest = item_cap[i];
    }
    if (buffers_room(a, longest) != 0) goto oom;
    return 0;
oom:
    melon_fail(err, "eals-als: out of memory for the interaction lists");
fail:
    eals_als_free(a);
    return -1;
}

int eals_als_grow(eals_als *a, int32_t n_users, int32_t n_items, float *P,
                  float *Q, melon_err *err) {
    a->P = P;
    a->Q = Q;
    if (n_users > a->user_room) {
        size_t room = 2 * (size_t)n_users;
        eals_list *user = melon_grow_rows(a->user, sizeof *user, 0, 0, room,
                                          0, err);
        if (!user) return -1;
        a->user = user;
        a->user_room = (int32_t)room;
    }
    if (n_items > a->item_room) {
        size_t room = 2 * (size_t)n_items;
        eals_list *item = melon_grow_rows(a->item, sizeof *item, 0, 0, room,
                                          0, err);
        if (!item) return -1;
        a->item = item;
        double *c = melon_grow_rows(a->c, sizeof *c, 0, 0, room, 0, err);
        if (!c) return -1;
        a->c = c;
        a->item_room = (int32_t)room;
    }
    /* empty lists, and c = 0 (all-zero bytes) */
    if (n_users > a->n_users) {
        memset(a->user + a->n_users, 0,
               (size_t)(n_users - a->n_users) * sizeof *a->user);
        a->n_users = n_users;
    }
    if (n_items > a->n_items) {
        memset(a->item + a->n_items, 0,
               (size_t)(n_items - a->n_items) * sizeof *a->item);
        memset(a->c + a->n_items, 0,
               (size_t)(n_items - a->n_items) * sizeof *a->c);
        a->n_items = n_items;
    }
    return 0;
}

void eals_als_free(eals_als *a) {
    for (int32_t u = 0; a->user && u < a->n_users; u++) {
        free(a->user[u].other);
        free(a->user[u].weight);
    }
    for (int32_t i = 0; a->item && i < a->n_items; i++) {
        free(a->item[i].other);
        free(a->item[i].weight);
    }
    free(a->user);
    free(a->item);
    free(a->c);
    free(a->SP);
    free(a->SQ);
    free(a->pred);
    free(a->w);
    free(a->w_minus_c);
    free(a->partner);
    free(a->old);
    free(a->sx);
    memset(a, 0, sizeof *a);
}

int eals_als_reserve(eals_als *a, eals_list *l, int32_t cap) {
    if (list_room(l, cap) != 0 || buffers_room(a, cap) != 0) return -1;
    return 0;
}

static int list_set(eals_als *a, eals_list *l, int32_t other, float weight) {
    for (int32_t k = 0; k < l->len; k++)
        if (l->other[k] == other) {
            l->weight[k] = weight;
            return 0;
        }
    if (l->len == l->cap &&
        (list_room(l, l->cap > 0 ? 2 * l->cap : 4) != 0 ||
         buffers_room(a, l->cap) != 0))
        return -1;
    l->other[l->len] = other;
    l->weight[l->len] = weight;
    l->len++;
    return 0;
}

int eals_als_set(eals_als *a, int32_t u, int32_t i, float weight) {
    if (list_set(a, &a->user[u], i, weight) != 0 ||
        list_set(a, &a->item[i], u, weight) != 0)
        return -1;
    return 0;
}

void eals_als_popularity_weights(eals_als *a, double c0, double alpha) {
    double total = 0.0, z = 0.0;
    for (int32_t i = 0; i < a->n_items; i++) total += a->item[i].len;
    for (int32_t i = 0; i < a->n_items; i++) {
        double f = total > 0.0 ? a->item[i].len / total : 0.0;
        a->c[i] = f > 0.0 ? pow(f, alpha) : 0.0;
        z += a->c[i];
    }
    for (int32_t i = 0; i < a->n_items; i++)
        a->c[i] = z > 0.0 ? c0 * a->c[i] / z : 0.0;
}

/* S += scale v v^T (v a float row of length K). */
static void add_outer(double *S, const float *v, double scale, int K) {
    for (int f = 0; f < K; f++) {
        double vf = scale * v[f];
        for (int g = 0; g < K; g++) S[f * K + g] += vf * v[g];
    }
}

void eals_als_rebuild_caches(eals_als *a) {
    int K = a->dim;
    memset(a->SP, 0, (size_t)K * K * sizeof(double));
    memset(a->SQ, 0, (size_t)K * K * sizeof(double));
    for (int32_t u = 0; u < a->n_users; u++)
        if (a->user[u].len > 0) add_outer(a->SP, a->P + (size_t)u * K, 1.0, K);
    for (int32_t i = 0; i < a->n_items; i++)
        if (a->c[i] != 0.0) add_outer(a->SQ, a->Q + (size_t)i * K, a->c[i], K);
}

/* Shared by both sides. begin: for node vector x (P_u or Q_i) and its
 * list, gather the partners' vectors from table Y (transposed), their
 * weights w and w - c (c_k of each partner item for a user, c_i for an
 * item: partner_c NULL), the predictions x . y_k and S x (S the other
 * side's cache), and keep x. */
static void side_begin(eals_als *a, const float *x, const float *Y,
                       const double *S,
                       const eals_list *l, const double *partner_c,
                       double node_c) {
    int K = a->dim;
    int32_t len = l->len;
    for (int32_t k = 0; k < len; k++) {
        const float *y = Y + (size_t)l->other[k] * K;
        for (int f = 0; f < K; f++) a->partner[(size_t)f * len + k] = y[f];
        double c = partner_c ? partner_c[l->other[k]] : node_c;
        a->w[k] = l->weight[k];
        a->w_minus_c[k] = l->weight[k] - c;
    }
    /* x . y_k for every partner at once: factor by factor over the
     * transposed partners (each sum still runs f = 0, 1, ...) */
    double *restrict pred = a->pred;
    for (int32_t k = 0; k < len; k++) pred[k] = 0.0;
    for (int f = 0; f < K; f++) {
        double xf = x[f];
        const float *restrict y = a->partner + (size_t)f * len;
#pragma omp simd
        for (int32_t k = 0; k < len; k++) pred[k] += xf * y[k];
    }
    for (int f = 0; f < K; f++) a->old[f] = x[f];
    /* S x, kept up to date as the factors change (S is symmetric, so its
     * column h is its row h) */
    double *restrict sx = a->sx;
    for (int g = 0; g < K; g++) sx[g] = 0.0;
    for (int h = 0; h < K; h++) {
        double xh = x[h];
        const double *restrict col = S + (size_t)h * K;
#pragma omp simd
        for (int g = 0; g < K; g++) sx[g] += xh * col[g];
    }
}

/* The closed-form minimiser along x_f, with the cache S scaled by s_scale
 * (1 for users, c_i for items). */
static void side_factor(eals_als *a, float *x, int32_t len, const double *S,
                        double s_scale, int f) {
    int K = a->dim;
    /* -sum_{g != f} x_g S_fg from the kept S x */
    double numer = -s_scale * (a->sx[f] - S[f * K + f] * (double)x[f]);
    double denom = 0.0;
    const float *y = a->partner + (size_t)f * len;
    double *pred = a->pred;
    const double *w = a->w, *wc = a->w_minus_c;
    double xf = x[f];
#pragma omp simd reduction(+ : numer, denom)
    for (int32_t k = 0; k < len; k++) {
        double yk = y[k];
        double r = pred[k] - xf * yk;      /* r^{-f} */
        pred[k] = r;
        numer += (w[k] - wc[k] * r) * yk;
        denom += wc[k] * yk * yk;
    }
    denom += s_scale * S[f * K + f] + a->lambda;
    double before = x[f];
    x[f] = (float)(numer / denom);
    double step = (double)x[f] - before;
    double *restrict sx = a->sx;
    const double *restrict col = S + (size_t)f * K;
#pragma omp simd
    for (int g = 0; g < K; g++) sx[g] += step * col[g];
    double xn = x[f];
#pragma omp simd
    for (int32_t k = 0; k < len; k++) pred[k] += xn * y[k];
}

/* S += scale (x x^T - old old^T). */
static void side_end(eals_als *a, const float *x, double *S, double scale) {
    int K = a->dim;
    for (int f = 0; f < K; f++)
        for (int g = 0; g < K; g++)
            S[f * K + g] += scale * ((double)x[f] * x[g] - a->old[f] * a->old[g]);
}

void eals_als_user_begin(eals_als *a, int32_t u) {
    side_begin(a, a->P + (size_t)u * a->dim, a->Q, a->SQ, &a->user[u], a->c, 0.0);
}
void eals_als_user_factor(eals_als *a, int32_t u, int f) {
    side_factor(a, a->P + (size_t)u * a->dim, a->user[u].len, a->SQ, 1.0, f);
}
void eals_als_user_end(eals_als *a, int32_t u) {
    side_end(a, a->P + (size_t)u * a->dim, a->SP, 1.0);
}
void eals_als_item_begin(eals_als *a, int32_t i) {
    side_begin(a, a->Q + (size_t)i * a->dim, a->P, a->SP, &a->item[i], NULL, a->c[i]);
}
void eals_als_item_factor(eals_als *a, int32_t i, int f) {
    side_factor(a, a->Q + (size_t)i * a->dim, a->item[i].len, a->SP, a->c[i], f);
}
void eals_als_item_end(eals_als *a, int32_t i) {
    if (a->c[i] != 0.0)
        side_end(a, a->Q + (size_t)i * a->dim, a->SQ, a->c[i]);
}

void eals_als_update_user(eals_als *a, int32_t u) {
    if (a->user[u].len == 0) return;
    eals_als_user_begin(a, u);
    for (int f = 0; f < a->dim; f++) eals_als_user_factor(a, u, f);
    eals_als_user_end(a, u);
}

void eals_als_update_item(eals_als *a, int32_t i) {
    if (a->item[i].len == 0) return;
    eals_als_item_begin(a, i);
    for (int f = 0; f < a->dim; f++) eals_als_item_factor(a, i, f);
    eals_als_item_end(a, i);
}

void eals_als_sweep(eals_als *a) {
    for (int32_t u = 0; u < a->n_users; u++) eals_als_update_user(a, u);
    for (int32_t i = 0; i < a->n_items; i++) eals_als_update_item(a, i);
}

int eals_als_online(eals_als *a, int32_t u, int32_t i, float w_new,
                    double c0, int iters) {
    int joins = a->user[u].len == 0;
    if (eals_als_set(a, u, i, w_new) != 0) return -1;
    if (joins) add_outer(a->SP, a->P + (size_t)u * a->dim, 1.0, a->dim);
    if (a->c[i] == 0.0) {
        a->c[i] = c0 / a->n_items;
        add_outer(a->SQ, a->Q + (size_t)i * a->dim, a->c[i], a->dim);
    }
    for (int it = 0; it < iters; it++) {
        eals_als_update_user(a, u);
        eals_als_update_item(a, i);
    }
    return 0;
}
