/* Pair index and negative sampling (protocol.md section 3). */
#include "melon/negatives.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY_KEY UINT64_MAX
#define NO_POSITION UINT32_MAX
/* Rejection draws for a training negative before enumerating. */
#define TRAIN_REJECTION_TRIES 64
/* Rejection draws per evaluation negative before enumerating. */
#define EVAL_REJECTION_TRIES_PER_NEGATIVE 100
/* Stream offset between batches for evaluation generators. */
#define EVAL_STREAM_STRIDE 1000003ULL

static inline uint64_t pair_key(int32_t user, int32_t item) {
    return ((uint64_t)(uint32_t)user << 32) | (uint32_t)item;
}

/* murmur3 finaliser: spreads user and item bits over the whole word. */
static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

void melon_pair_index_free(melon_pair_index *index) {
    free(index->keys);
    free(index->first_pos);
    free(index->user_distinct);
    free(index->user_start);
    free(index->user_items);
    memset(index, 0, sizeof *index);
}

/* Every user's distinct items, in order of first interaction. */
static int user_lists(melon_pair_index *index, const melon_stream *stream,
                      melon_err *err) {
    size_t n_users = (size_t)(index->n_users > 0 ? index->n_users : 0);
    index->user_start = melon_calloc(n_users + 1, sizeof *index->user_start, err);
    index->user_items = melon_alloc((index->n_pairs ? index->n_pairs : 1) *
                                        sizeof *index->user_items, err);
    if (!index->user_start || !index->user_items) {
        melon_pair_index_free(index);
        return -1;
    }
    for (size_t u = 0; u < n_users; u++)
        index->user_start[u + 1] = index->user_start[u] + (size_t)index->user_distinct[u];
    size_t *next = melon_alloc((n_users ? n_users : 1) * sizeof *next, err);
    if (!next) {
        melon_pair_index_free(index);
        return -1;
    }
    memcpy(next, index->user_start, n_users * sizeof *next);
    for (size_t p = 0; p < stream->n; p++)
        if (melon_pair_first(index, stream->user[p], stream->item[p]) == p)
            index->user_items[next[stream->user[p]]++] = stream->item[p];
    free(next);
    return 0;
}

int melon_pair_index_build(melon_pair_index *index, const melon_stream *stream,
                           melon_err *err) {
    memset(index, 0, sizeof *index);
    if (stream->n >= NO_POSITION)
        return melon_fail(err, "pair index: %zu interactions do not fit "
                               "32-bit positions", stream->n);
    size_t capacity = 16;
    while (capacity < 2 * stream->n) capacity *= 2;
    index->keys = melon_alloc(capacity * sizeof *index->keys, err);
    index->first_pos = melon_alloc(capacity * sizeof *index->first_pos, err);
    index->user_distinct =
        melon_calloc((size_t)(stream->n_users > 0 ? stream->n_users : 1),
                     sizeof *index->user_distinct, err);
    if (!index->keys || !index->first_pos || !index->user_distinct) {
        melon_pair_index_free(index);
        return -1;
    }
    memset(index->keys, 0xff, capacity * sizeof *index->keys);
    index->capacity = capacity;
    index->n_users = stream->n_users;
    index->n_items = stream->n_items;
    index->stream = stream;
    for (size_t p = 0; p < stream->n; p++) {
        int32_t user = stream->user[p], item = stream->item[p];
        if (user < 0 || user >= stream->n_users || item < 0 ||
            item >= stream->n_items) {
            melon_pair_index_free(index);
            return melon_fail(err,
                              "pair index: position %zu has user %d / item %d "
                              "outside 0..%d / 0..%d",
                              p, user, item, stream->n_users - 1,
                              stream->n_items - 1);
        }
        uint64_t key = pair_key(user, item);
        size_t slot = (size_t)mix64(key) & (capacity - 1);
        while (index->keys[slot] != EMPTY_KEY && index->keys[slot] != key)
            slot = (slot + 1) & (capacity - 1);
        if (index->keys[slot] == key) continue; /* a repeat: keep the first */
        index->keys[slot] = key;
        index->first_pos[slot] = (uint32_t)p;
        index->n_pairs++;
        index->user_distinct[user]++;
    }
    return user_lists(index, stream, err);
}

uint32_t melon_pair_first(const melon_pair_index *index, int32_t user,
                          int32_t item) {
    if (!index->keys || user < 0 || item < 0) return NO_POSITION;
    uint64_t key = pair_key(user, item);
    size_t mask = index->capacity - 1;
    size_t slot = (size_t)mix64(key) & mask;
    while (index->keys[slot] != EMPTY_KEY) {
        if (index->keys[slot] == key) return index->first_pos[slot];
        slot = (slot + 1) & mask;
    }
    return NO_POSITION;
}

/* Causal: the user has not interacted with the item in [0, end). */
static inline int free_before(const melon_pair_index *index, int32_t user,
                              int32_t item, size_t end) {
    return (size_t)melon_pair_first(index, user, item) >= end;
}

int32_t melon_sample_train_negative(const melon_pair_index *index,
                                    melon_rng *rng, int32_t user, size_t end) {
    int32_t n_items = index->n_items;
    if (n_items <= 0 || user < 0 || user >= index->n_users) return -1;
    for (int t = 0; t < TRAIN_REJECTION_TRIES; t++) {
        int32_t item = (int32_t)melon_rng_below(rng, (uint32_t)n_items);
        if (free_before(index, user, item, end)) return item;
    }
    /* Most items are taken: count the free ones, then pick one of them
     * uniformly (the mixture with the rejection step stays uniform). */
    uint32_t n_free = 0;
    for (int32_t item = 0; item < n_items; item++)
        n_free += (uint32_t)free_before(index, user, item, end);
    if (n_free == 0) return -1;
    uint32_t pick = melon_rng_below(rng, n_free);
    for (int32_t item = 0; item < n_items; item++)
        if (free_before(index, user, item, end) && pick-- == 0) return item;
    return -1; /* not reached */
}

/* Marks of the items, one tag per user being sampled: the user's own
 * items and the negatives chosen so far carry the tag. */
typedef struct {
    uint32_t *mark;  /* [n_items] */
    uint32_t tag;
} eval_marks;

static void mark_user_items(const melon_pair_index *index, eval_marks *m,
                            int32_t user) {
    m->tag++;
    for (size_t a = index->user_start[user]; a < index->user_start[user + 1]; a++)
        m->mark[index->user_items[a]] = m->tag;
}

/* n_negatives distinct items from the user's never-interacted list,
 * uniformly, by a partial Fisher-Yates shuffle of the full list. */
static void eval_by_enumeration(const melon_pair_index *index, melon_rng *rng,
                                const eval_marks *m, int32_t *scratch,
                                int n_negatives, int32_t *out) {
    uint32_t n_free = 0;
    for (int32_t item = 0; item < index->n_items; item++)
        if (m->mark[item] != m->tag) scratch[n_free++] = item;
    for (uint32_t t = 0; t < (uint32_t)n_negatives; t++) {
        uint32_t r = t + melon_rng_below(rng, n_free - t);
        int32_t chosen = scratch[r];
        scratch[r] = scratch[t];
        scratch[t] = chosen;
        out[t] = chosen;
    }
}

/* Rejection sampling of n_negatives distinct never-interacted items; 0
 * when done, -1 when it ran out of tries (the caller then enumerates, after
 * clearing the marks of the items chosen here). */
static int eval_by_rejection(const melon_pair_index *index, melon_rng *rng,
                             eval_marks *m, int n_negatives, int32_t *out) {
    int n_chosen = 0;
    long tries = (long)EVAL_REJECTION_TRIES_PER_NEGATIVE * n_negatives;
    for (long t = 0; t < tries; t++) {
        int32_t item = (int32_t)melon_rng_below(rng, (uint32_t)index->n_items);
        if (m->mark[item] == m->tag) continue; /* the user's, or chosen */
        m->mark[item] = m->tag;
        out[n_chosen++] = item;
        if (n_chosen == n_negatives) return 0;
    }
    for (int c = 0; c < n_chosen; c++) m->mark[out[c]] = 0;
    return -1;
}

static const char *user_label(const melon_pair_index *index, int32_t user,
                              char *buf, size_t cap) {
    const melon_stream *stream = index->stream;
    if (stream && stream->user_name && user < stream->n_users &&
        stream->user_name[user])
        return stream->user_name[user];
    snprintf(buf, cap, "#%d", user);
    return buf;
}

int melon_sample_eval_negatives(const melon_pair_index *index, uint64_t seed,
                                size_t batch, const int32_t *users, size_t n,
                                int n_negatives, int32_t *out,
                                melon_err *err) {
    int32_t n_items = index->n_items;
    if (n_negatives < 1)
        return melon_fail(err, "evaluation negatives: %d per interaction, "
                               "expected at least 1", n_negatives);
    int32_t *scratch = NULL;
    eval_marks marks = {melon_calloc((size_t)(n_items > 0 ? n_items : 1),
                                     sizeof(uint32_t), err), 0};
    if (!marks.mark) return -1;
    for (size_t k = 0; k < n; k++) {
        int32_t user = users[k];
        int32_t *chosen = out + k * (size_t)n_negatives;
        if (user < 0 || user >= index->n_users) {
            free(scratch);
            free(marks.mark);
            return melon_fail(err, "evaluation negatives: user %d outside "
                                   "0..%d", user, index->n_users - 1);
        }
        int64_t n_free = (int64_t)n_items - index->user_distinct[user];
        if (n_free < n_negatives) {
            char buf[32];
            free(scratch);
            free(marks.mark);
            return melon_fail(err,
                              "user '%s' interacts with %d of the %d items, "
                              "leaving %lld never interacted with: fewer "
                              "than the %d evaluation negatives needed",
                              user_label(index, user, buf, sizeof buf),
                              index->user_distinct[user], n_items,
                              (long long)n_free, n_negatives);
        }
        melon_rng rng;
        melon_rng_seed_stream(&rng, seed, batch * EVAL_STREAM_STRIDE + k);
        int few_free = n_free < 4 * (int64_t)n_negatives ||
                       4 * n_free < (int64_t)n_items;
        mark_user_items(index, &marks, user);
        if (!few_free &&
            eval_by_rejection(index, &rng, &marks, n_negatives, chosen) == 0)
            continue;
        if (!scratch) {
            scratch = melon_alloc((size_t)n_items * sizeof *scratch, err);
            if (!scratch) {
                free(marks.mark);
                return -1;
            }
        }
        eval_by_enumeration(index, &rng, &marks, scratch, n_negatives, chosen);
    }
    free(scratch);
    free(marks.mark);
    return 0;
}
