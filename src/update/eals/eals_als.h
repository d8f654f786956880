/* Element-wise ALS for implicit-feedback matrix factorisation (He et al.,
 * SIGIR 2016; update-strategies.md B.2.b), on the user and item tables of
 * BPR-MF. It minimises
 *
 *   J = sum_{(u,i) in R} w_ui (1 - p_u.q_i)^2
 *     + sum_u sum_{i not in R_u} c_i (p_u.q_i)^2 + lambda (|P|^2 + |Q|^2)
 *
 * one coordinate at a time in closed form, with the K x K caches
 * S^P = sum_u p_u p_u^T and S^Q = sum_i c_i q_i q_i^T standing in for the
 * sum over all missing pairs. The users are those with an interaction so
 * far (a user joins S^P with its first one), the items those with a
 * missing-data weight (an item joins S^Q with its first interaction), so
 * that ids not yet seen play no part: a live session that meets them as
 * they come holds what a run that knew them all holds. Shared by
 * eals_als.c and the tests. */
#ifndef MELON_UPDATE_EALS_ALS_H
#define MELON_UPDATE_EALS_ALS_H

#include "melon/common.h"

#include <stdint.h>

/* One node's positive list: the other side's ids and the weights w. */
typedef struct {
    int32_t *other;
    float *weight;
    int32_t len;
    int32_t cap;
} eals_list;

typedef struct {
    int32_t n_users, n_items;
    int32_t user_room, item_room; /* entries user[] / item[] and c have */
    int dim;                   /* K */
    float *P, *Q;              /* borrowed [n_users][K], [n_items][K] */
    double lambda;
    eals_list *user;           /* R_u with w_ui, each list its own storage */
    eals_list *item;           /* R_i with w_ui */
    double *c;                 /* [n_items] missing-data weights c_i */
    double *SP, *SQ;           /* [K][K] */
    int32_t longest;           /* room of the per-list buffers below */
    double *pred;              /* [longest list] prediction cache */
    double *w, *w_minus_c;     /* [longest list] w_uk and w_uk - c */
    float *partner;            /* [K][longest list] the partners' vectors,
                                  transposed, for contiguous factor loops */
    double *old;               /* [K] the vector before its update */
    double *sx;                /* [K] S x of the node being updated (S^Q
                                  for a user, S^P for an item) */
} eals_als;

/* user_cap[u] / item_cap[i]: the room each node's list starts with (a
 * list that fills up doubles its room). */
int eals_als_init(eals_als *a, int32_t n_users, int32_t n_items, int dim,
                  float *P, float *Q, const int32_t *user_cap,
                  const int32_t *item_cap, double lambda, melon_err *err);
void eals_als_free(eals_als *a);

/* More users and items (tables P and Q now at these addresses): their
 * lists start empty, the new items without missing-data weight. */
int eals_als_grow(eals_als *a, int32_t n_users, int32_t n_items, float *P,
                  float *Q, melon_err *err);

/* Gives a list room for cap entries (and the per-list buffers room for a
 * list that long); -1 when out of memory. */
int eals_als_reserve(eals_als *a, eals_list *l, int32_t cap);

/* Sets w_ui (adding (u, i) to R_u and R_i if absent; a repeated pair keeps
 * one entry). Returns -1 when a list cannot grow (out of memory). */
int eals_als_set(eals_als *a, int32_t u, int32_t i, float weight);

/* c_i = c0 f_i^alpha / sum_i' f_i'^alpha with f_i = |R_i| / sum |R_i'|
 * (zero for items without interactions). */
void eals_als_popularity_weights(eals_als *a, double c0, double alpha);

/* Recomputes S^P (users with an interaction) and S^Q (items with a
 * weight) from P, Q and c. */
void eals_als_rebuild_caches(eals_als *a);

/* The exact minimiser of J along P[u][f] (resp. Q[i][f]), for every
 * factor f in order, each with the others fixed; then the cache of that
 * side is refreshed. A node with an empty list is left alone. */
void eals_als_update_user(eals_als *a, int32_t u);
void eals_als_update_item(eals_als *a, int32_t i);

/* One factor of a user's (item's) update, for tests: begin fills the
 * prediction cache and S x, factor minimises J along P[u][f] (Q[i][f]), end
 * refreshes the cache of that side. update_user = begin, every factor,
 * end. */
void eals_als_user_begin(eals_als *a, int32_t u);
void eals_als_user_factor(eals_als *a, int32_t u, int f);
void eals_als_user_end(eals_als *a, int32_t u);
void eals_als_item_begin(eals_als *a, int32_t i);
void eals_als_item_factor(eals_als *a, int32_t i, int f);
void eals_als_item_end(eals_als *a, int32_t i);

/* A full sweep: every user, then every item (MF_fastALS.buildModel). */
void eals_als_sweep(eals_als *a);

/* The online step for a new interaction (MF_fastALS.updateModel): w_ui :=
 * w_new; a user's first interaction makes it join S^P; an item without
 * missing-data weight gets c_i = c0 / n_items (and joins S^Q); then
 * `iters` times: update user u, then item i. */
int eals_als_online(eals_als *a, int32_t u, int32_t i, float w_new,
                    double c0, int iters);

#endif
