/* Top-K recommendations and a user's history (readers: they hold the
 * session's lock shared, so they see the model between two batches). */
#include "session_internal.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Users scored by one matrix product in the batch form. */
#define USER_BLOCK 64

/* Popularity: how often each item occurred in the events the model has
 * learned from (pre-training and completed batches). */
static void popularity_scores(const melon_session *s, float *scores) {
    for (int32_t i = 0; i < s->history.n_items; i++)
        scores[i] = (float)s->history.item_users[i].len;
    for (int32_t i = s->history.n_items; i < (int32_t)s->items.table.count; i++)
        scores[i] = 0.0f;
}

static int is_bpr(const melon_session *s) {
    return s->has_model && strcmp(s->model.ops->name, "bpr") == 0;
}

/* Scores of n users (rows) over every item: out [n][n_items]. */
static void model_scores(melon_session *s, const int32_t *users, int n,
                         float *out, int32_t *pair_users, int32_t *pair_items) {
    const melon_model *m = &s->model;
    int32_t n_items = m->n_items;
    if (is_bpr(s)) {
        /* s(u, i) = P_u . Q_i + b_u + b_i (bpr_mf.c): the rows start as
         * the biases and the product is added to them, by one GEMM per
         * block of users, or for one user by a GEMV, which reads Q once
         * instead of packing it first (half the time over 100k items) */
        int d = m->cfg.dim;
        const float *P = m->tensor[0].value, *Q = m->tensor[1].value;
        const float *user_bias = m->tensor[2].value, *item_bias = m->tensor[3].value;
        for (int r = 0; r < n; r++) {
            float *row = out + (size_t)r * n_items;
            float bu = user_bias[users[r]];
            for (int32_t i = 0; i < n_items; i++) row[i] = bu + item_bias[i];
        }
        if (n == 1) {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, n_items, d, 1.0f, Q, d,
                        P + (size_t)users[0] * d, 1, 1.0f, out, 1);
            return;
        }
        float *rows = (float *)pair_users;
        for (int r = 0; r < n; r++)
            memcpy(rows + (size_t)r * d, P + (size_t)users[r] * d,
                   (size_t)d * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n_items, d,
                    1.0f, rows, d, Q, d, 1.0f, out, n_items);
        return;
    }
    /* Other models through their score(), which may keep a workspace. */
    size_t chunk = (size_t)m->max_triples * 2;
    pthread_mutex_lock(&s->score_lock);
    for (int r = 0; r < n; r++)
        for (size_t at = 0; at < (size_t)n_items; at += chunk) {
            size_t len = (size_t)n_items - at < chunk ? (size_t)n_items - at : chunk;
            for (size_t k = 0; k < len; k++) {
                pair_users[k] = users[r];
                pair_items[k] = (int32_t)(at + k);
            }
            m->ops->score((melon_model *)m, pair_users, pair_items, len,
                          out + (size_t)r * n_items + at);
        }
    pthread_mutex_unlock(&s->score_lock);
}

/* Sets the scores of the user's items (learned and pending) to -inf. */
static void hide_seen(const melon_session *s, int32_t user, float *scores) {
    if (user < s->pairs.n_users)
        for (int32_t a = 0; a < s->pairs.user_distinct[user]; a++)
            scores[s->pairs.user_items[user][a]] = -INFINITY;
    size_t end = s->preloaded_end ? s->done : s->stream.n;
    for (size_t p = s->done; p < end; p++)
        if (s->stream.user[p] == user) scores[s->stream.item[p]] = -INFINITY;
}

/* Inserts item i with score v into the sorted best list. */
static void top_insert(int32_t i, float v, int k, int *have, int32_t *best,
                       float *best_score) {
    int at = *have < k ? (*have)++ : k - 1;
    while (at > 0 && v > best_score[at - 1]) {
        best[at] = best[at - 1];
        best_score[at] = best_score[at - 1];
        at--;
    }
    best[at] = i;
    best_score[at] = v;
}

/* The k best of n scores, best first (ties: the lower item first), skipping
 * -inf and NaN; returns how many. Once the list is full, a block of scores
 * none of which beats its last is passed over by one vectorised test. */
#define TOP_BLOCK 64
static int top_k(const float *scores, int32_t n, int k, int32_t *best,
                 float *best_score) {
    int have = 0;
    int32_t i = 0;
    for (; i < n && have < k; i++) {
        float v = scores[i];
        if (v == -INFINITY || isnan(v)) continue;
        top_insert(i, v, k, &have, best, best_score);
    }
    while (i < n) {
        int32_t end = n - i < TOP_BLOCK ? n : i + TOP_BLOCK;
        float bar = best_score[k - 1];
        int any = 0;
        for (int32_t j = i; j < end; j++) any |= scores[j] > bar;
        if (any)
            for (int32_t j = i; j < end; j++)
                if (scores[j] > best_score[k - 1])
                    top_insert(j, scores[j], k, &have, best, best_score);
        i = end;
    }
    return have;
}

/* Scratch of one reader call. */
typedef struct {
    float *scores;           /* [block][n_items] */
    int32_t *pair_users;     /* [max(chunk, block * dim)] */
    int32_t *pair_items;
    int32_t *best;           /* [k] */
} reader_scratch;

static void scratch_free(reader_scratch *x) {
    free(x->scores);
    free(x->pair_users);
    free(x->pair_items);
    free(x->best);
}

static int scratch_init(reader_scratch *x, const melon_session *s, int block,
                        int k, melon_err *err) {
    memset(x, 0, sizeof *x);
    size_t n_items = s->items.table.count ? s->items.table.count : 1;
    size_t pairs = s->has_model ? (size_t)s->model.max_triples * 2 : 1;
    size_t rows = (size_t)block * (size_t)s->cfg.model.dim;
    if (rows > pairs) pairs = rows;
    x->scores = melon_alloc((size_t)block * n_items * sizeof(float), err);
    x->pair_users = melon_alloc(pairs * sizeof(int32_t), err);
    x->pair_items = melon_alloc(pairs * sizeof(int32_t), err);
    x->best = melon_alloc((size_t)(k > 0 ? k : 1) * sizeof(int32_t), err);
    if (!x->scores || !x->pair_users || !x->pair_items || !x->best) {
        scratch_free(x);
        return -1;
    }
    return 0;
}

/* Recommends for `n` users (-1: unknown), best items into item_ids [n][k]. */
static int recommend_rows(melon_session *s, const int32_t *users, int n, int k,
                          int flags, int32_t *item_ids, float *scores_out,
                          int32_t *counts, uint8_t *popular,
                          reader_scratch *x) {
    int32_t n_items = (int32_t)s->items.table.count;
    int use_pop = !s->has_model || (flags & MELON_POPULAR) ||
                  strcmp(s->cfg.model.name, "pop") == 0;
    int32_t known[USER_BLOCK];
    int n_known = 0;
    for (int r = 0; r < n; r++)
        if (!use_pop && users[r] >= 0 && users[r] < s->model.n_users)
            known[n_known++] = users[r];
    if (n_known) model_scores(s, known, n_known, x->scores, x->pair_users,
                              x->pair_items);
    int next_known = 0;
    for (int r = 0; r < n; r++) {
        int32_t u = users[r];
        int by_model = !use_pop && u >= 0 && u < s->model.n_users;
        float *row = by_model ? x->scores + (size_t)next_known++ * n_items
                              : x->scores + (size_t)n_known * n_items;
        if (!by_model) popularity_scores(s, row);
        if (!(flags & MELON_INCLUDE_SEEN) && u >= 0) hide_seen(s, u, row);
        counts[r] = top_k(row, n_items, k, item_ids + (size_t)r * k,
                          scores_out + (size_t)r * k);
        popular[r] = (uint8_t)!by_model;
    }
    return 0;
}

/* Looks users up; unknown ones are -1. */
typedef struct {
    const char *const *names;
    const size_t *lens;
    const int64_t *ids;
} user_list;

static int32_t lookup_user(const melon_session *s, const user_list *ul,
                           size_t k) {
    char buf[32];
    if (ul->ids) {
        size_t len = session_id_text(ul->ids[k], buf);
        return session_find(&s->users, buf, len);
    }
    const char *t = ul->names[k];
    if (!t) return -1;
    return session_find(&s->users, t, ul->lens ? ul->lens[k] : strlen(t));
}

static int parse_id(const char *text, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || errno) return -1;
    *out = v;
    return 0;
}

/* The common body of the four recommend calls. */
static int recommend(melon_session *s, const user_list *ul, size_t n, int k,
                     int flags, const char **names_out, int64_t *ids_out,
                     float *scores, int32_t *counts, uint8_t *popular,
                     melon_err *err) {
    melon_err scratch;
    if (!err) err = &scratch;
    if (session_usable(s, err) != 0) return -1;
    if (k < 1) return melon_fail(err, "recommend: k = %d, expected >= 1", k);
    if (n && (!ul->names && !ul->ids))
        return melon_fail(err, "recommend: %zu users but no array", n);
    if (n && (!scores || !counts || !popular || (!names_out && !ids_out)))
        return melon_fail(err, "recommend: an output array is NULL");
    pthread_rwlock_rdlock(&s->lock);
    int block = n < USER_BLOCK ? (int)(n ? n : 1) : USER_BLOCK;
    reader_scratch x;
    int rc = scratch_init(&x, s, block + 1, k, err);
    int32_t *item_rows = rc == 0 ? melon_alloc((size_t)block * (size_t)k *
                                                   sizeof(int32_t), err)
                                 : NULL;
    if (rc == 0 && !item_rows) rc = -1;
    for (size_t at = 0; rc == 0 && at < n; at += (size_t)block) {
        int m = n - at < (size_t)block ? (int)(n - at) : block;
        int32_t users[USER_BLOCK];
        for (int r = 0; r < m; r++) users[r] = lookup_user(s, ul, at + (size_t)r);
        recommend_rows(s, users, m, k, flags, item_rows, scores + at * (size_t)k,
                       counts + at, popular + at, &x);
        for (int r = 0; r < m && rc == 0; r++)
            for (int j = 0; j < counts[at + (size_t)r]; j++) {
                size_t o = (at + (size_t)r) * (size_t)k + (size_t)j;
                const char *name = s->items.name[item_rows[(size_t)r * k + j]];
                if (names_out) names_out[o] = name;
                else if (parse_id(name, &ids_out[o]) != 0)
                    rc = melon_fail(err, "recommend: item '%s' has no integer "
                                         "id (use the string form)", name);
            }
    }
    free(item_rows);
    if (x.scores) scratch_free(&x);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int melon_recommend(melon_session *s, const char *user, int k, int flags,
                    const char **items, float *scores, int *n_out,
                    int *popular, melon_err *err) {
    user_list ul = {&user, NULL, NULL};
    int32_t count = 0;
    uint8_t pop = 0;
    int rc = recommend(s, &ul, 1, k, flags, items, NULL, scores, &count, &pop, err);
    if (n_out) *n_out = rc == 0 ? count : 0;
    if (popular) *popular = pop;
    return rc;
}

int melon_recommend_id(melon_session *s, int64_t user, int k, int flags,
                       int64_t *items, float *scores, int *n_out,
                       int *popular, melon_err *err) {
    user_list ul = {NULL, NULL, &user};
    int32_t count = 0;
    uint8_t pop = 0;
    int rc = recommend(s, &ul, 1, k, flags, NULL, items, scores, &count, &pop, err);
    if (n_out) *n_out = rc == 0 ? count : 0;
    if (popular) *popular = pop;
    return rc;
}

int melon_recommend_batch(melon_session *s, const char *const *users,
                          const size_t *user_lens, size_t n, int k,
                          int flags, const char **items, float *scores,
                          int32_t *counts, uint8_t *popular, melon_err *err) {
    user_list ul = {users, user_lens, NULL};
    return recommend(s, &ul, n, k, flags, items, NULL, scores, counts, popular, err);
}

int melon_recommend_batch_ids(melon_session *s, const int64_t *users,
                              size_t n, int k, int flags, int64_t *items,
                              float *scores, int32_t *counts,
                              uint8_t *popular, melon_err *err) {
    user_list ul = {NULL, NULL, users};
    return recommend(s, &ul, n, k, flags, NULL, items, scores, counts, popular, err);
}

/* The user's items oldest first: learned ones from the history, then the
 * pending ones. */
static int user_items(melon_session *s, const user_list *ul, const char **names,
                      int64_t *ids, size_t cap, size_t *n_total, melon_err *err) {
    melon_err scratch;
    if (!err) err = &scratch;
    if (session_usable(s, err) != 0) return -1;
    if (!n_total) return melon_fail(err, "user items: n_total is NULL");
    if (cap && !names && !ids) return melon_fail(err, "user items: no output array");
    pthread_rwlock_rdlock(&s->lock);
    int32_t u = lookup_user(s, ul, 0);
    size_t learned = 0, pending = 0;
    size_t end = s->preloaded_end ? s->done : s->stream.n;
    if (u >= 0) {
        learned = u < s->history.n_users ? s->history.user_items[u].len : 0;
        for (size_t p = s->done; p < end; p++) pending += s->stream.user[p] == u;
    }
    size_t total = learned + pending;
    size_t skip = total > cap ? total - cap : 0, out = 0;
    int rc = 0;
    for (size_t a = 0; u >= 0 && a < learned + (end - s->done) && rc == 0; a++) {
        int32_t item;
        if (a < learned) {
            item = s->history.user_items[u].other[a];
        } else {
            size_t p = s->done + (a - learned);
            if (s->stream.user[p] != u) continue;
            item = s->stream.item[p];
        }
        if (skip) {
            skip--;
            continue;
        }
        const char *name = s->items.name[item];
        if (names) names[out] = name;
        else if (parse_id(name, &ids[out]) != 0)
            rc = melon_fail(err, "user items: item '%s' has no integer id", name);
        out++;
    }
    *n_total = total;
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int melon_user_items(melon_session *s, const char *user, const char **items,
                     size_t cap, size_t *n_total, melon_err *err) {
    user_list ul = {&user, NULL, NULL};
    return user_items(s, &ul, items, NULL, cap, n_total, err);
}

int melon_user_items_id(melon_session *s, int64_t user, int64_t *items,
                        size_t cap, size_t *n_total, melon_err *err) {
    user_list ul = {NULL, NULL, &user};
    return user_items(s, &ul, NULL, items, cap, n_total, err);
}
