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

void melon_pair_index_free(melon_pair_index *index) {
    free(index->keys);
    free(index->first_pos);
    if (index->user_items)
        for (int32_t u = 0; u < index->n_users; u++) free(index->user_items[u]);
    free(index->user_items);
    free(index->user_items_room);
    free(index->user_distinct);
    memset(index, 0, sizeof *index);
}

/* A hash table of `capacity` empty slots holding the index's pairs. */
static int rehash(melon_pair_index *index, size_t capacity, melon_err *err) {
    uint64_t *keys = melon_alloc(capacity * sizeof *keys, err);
    uint32_t *first_pos = melon_alloc(capacity * sizeof *first_pos, err);
    if (!keys || !first_pos) {
        free(keys);
        free(first_pos);
        return -1;
    }
    memset(keys, 0xff, capacity * sizeof *keys);
    for (size_t k = 0; k < index->capacity; k++) {
        if (index->keys[k] == EMPTY_KEY) continue;
        size_t slot = (size_t)melon_mix64(index->keys[k]) & (capacity - 1);
        while (keys[slot] != EMPTY_KEY) slot = (slot + 1) & (capacity - 1);
        keys[slot] = index->keys[k];
        first_pos[slot] = index->first_pos[k];
    }
    free(index->keys);
    free(index->first_pos);
    index->keys = keys;
    index->first_pos = first_pos;
    index->capacity = capacity;
    return 0;
}

int melon_pair_index_init(melon_pair_index *index, int32_t n_users,
                          int32_t n_items, melon_err *err) {
    memset(index, 0, sizeof *index);
    if (rehash(index, 16, err) != 0) return -1;
    if (melon_pair_index_grow(index, n_users, n_items, err) != 0) {
        melon_pair_index_free(index);
        return -1;
    }
    return 0;
}

int melon_pair_index_grow(melon_pair_index *index, int32_t n_users,
                          int32_t n_items, melon_err *err) {
    if (n_items > index->n_items) index->n_items = n_items;
    if (n_users <= index->n_users) return 0;
    if (n_users > index->user_room) {
        size_t room = index->user_room > 0 ? (size_t)index->user_room : 16;
        while (room < (size_t)n_users) room *= 2;
        if (room > INT32_MAX) room = INT32_MAX;
        int32_t *distinct = realloc(index->user_distinct, room * sizeof *distinct);
        if (distinct) index->user_distinct = distinct;
        int32_t **items = realloc(index->user_items, room * sizeof *items);
        if (items) index->user_items = items;
        int32_t *item_room = realloc(index->user_items_room, room * sizeof *item_room);
        if (item_room) index->user_items_room = item_room;
        if (!distinct || !items || !item_room)
            return melon_fail(err, "pair index: out of memory for %d users",
                              n_users);
        index->user_room = (int32_t)room;
    }
    size_t added = (size_t)(n_users - index->n_users);
    memset(index->user_distinct + index->n_users, 0, added * sizeof(int32_t));
    memset(index->user_items + index->n_users, 0, added * sizeof(int32_t *));
    memset(index->user_items_room + index->n_users, 0, added * sizeof(int32_t));
    index->n_users = n_users;
    return 0;
}

int melon_pair_index_add(melon_pair_index *index, int32_t user, int32_t item,
                         uint32_t pos, melon_err *err) {
    if (user < 0 || user >= index->n_users || item < 0 ||
        item >= index->n_items)
        return melon_fail(err, "pair index: position %u has user %d / item %d "
                               "outside 0..%d / 0..%d",
                          pos, user, item, index->n_users - 1,
                          index->n_items - 1);
    if (pos == NO_POSITION)
        return melon_fail(err, "pair index: position %u does not fit 32 bits",
                          pos);
    uint64_t key = pair_key(user, item);
    size_t mask = index->capacity - 1;
    size_t slot = (size_t)melon_mix64(key) & mask;
    while (index->keys[slot] != EMPTY_KEY && index->keys[slot] != key)
        slot = (slot + 1) & mask;
    if (index->keys[slot] == key) return 0; /* a repeat: keep the first */
    int32_t *room = &index->user_items_room[user];
    if (index->user_distinct[user] == *room) {
        int32_t cap = *room ? 2 * *room : 4;
        int32_t *items = realloc(index->user_items[user], (size_t)cap * sizeof *items);
        if (!items)
            return melon_fail(err, "pair index: out of memory for %d items of "
                                   "user %d", cap, user);
        index->user_items[user] = items;
        *room = cap;
    }
    if (2 * (index->n_pairs + 1) > index->capacity) {
        if (rehash(index, 2 * index->capacity, err) != 0) return -1;
        mask = index->capacity - 1;
        slot = (size_t)melon_mix64(key) & mask;
        while (index->keys[slot] != EMPTY_KEY) slot = (slot + 1) & mask;
    }
    index->keys[slot] = key;
    index->first_pos[slot] = pos;
    index->n_pairs++;
    index->user_items[user][index->user_distinct[user]++] = item;
    return 0;
}

int melon_pair_index_build(melon_pair_index *index, const melon_stream *stream,
                           melon_err *err) {
    if (stream->n >= NO_POSITION)
        return melon_fail(err, "pair index: %zu interactions do not fit "
                               "32-bit positions", stream->n);
    if (melon_pair_index_init(index, stream->n_users, stream->n_items, err) != 0)
        return -1;
    size_t capacity = 16;
    while (capacity < 2 * stream->n) capacity *= 2;
    if (rehash(index, capacity, err) != 0) {
        melon_pair_index_free(index);
        return -1;
    }
    index->stream = stream;
    for (size_t p = 0; p < stream->n; p++)
        if (melon_pair_index_add(index, stream->user[p], stream->item[p],
                                 (uint32_t)p, err) != 0) {
            melon_pair_index_free(index);
            return -1;
        }
    return 0;
}

uint32_t melon_pair_first(const melon_pair_index *index, int32_t user,
                          int32_t item) {
    if (!index->keys || user < 0 || item < 0) return NO_POSITION;
    uint64_t key = pair_key(user, item);
    size_t mask = index->capacity - 1;
    size_t slot = (size_t)melon_mix64(key) & mask;
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

int32_t melon_pair_count_before(const melon_pair_index *index, int32_t user,
                                size_t end) {
    int32_t n = index->user_distinct[user];
    if (end == SIZE_MAX) return n;
    /* the items' first positions rise along the list: the first item at or
     * after `end` by bisection, after one probe of the last (before `end`
     * in a live session, which indexes no pair after it) */
    const int32_t *items = index->user_items[user];
    if (n == 0 || (size_t)melon_pair_first(index, user, items[n - 1]) < end)
        return n;
    int32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if ((size_t)melon_pair_first(index, user, items[mid]) < end)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void mark_user_items(const melon_pair_index *index, eval_marks *m,
                            int32_t user, int32_t n_user_items) {
    m->tag++;
    for (int32_t a = 0; a < n_user_items; a++)
        m->mark[index->user_items[user][a]] = m->tag;
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
    return melon_sample_eval_negatives_before(index, seed, batch, users, n,
                                              n_negatives, SIZE_MAX, out, err);
}

int melon_sample_eval_negatives_before(const melon_pair_index *index,
                                       uint64_t seed, size_t batch,
                                       const int32_t *users, size_t n,
                                       int n_negatives, size_t end,
                                       int32_t *out, melon_err *err) {
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
        int32_t n_user_items = melon_pair_count_before(index, user, end);
        int64_t n_free = (int64_t)n_items - n_user_items;
        if (n_free < n_negatives) {
            char buf[32];
            free(scratch);
            free(marks.mark);
            return melon_fail(err,
                              "user '%s' interacts with %d of the %d items%s, "
                              "leaving %lld never interacted with: fewer "
                              "than the %d evaluation negatives needed",
                              user_label(index, user, buf, sizeof buf),
                              n_user_items, n_items,
                              end == SIZE_MAX ? "" : " up to this batch",
                              (long long)n_free, n_negatives);
        }
        melon_rng rng;
        melon_rng_seed_stream(&rng, seed, batch * EVAL_STREAM_STRIDE + k);
        int few_free = n_free < 4 * (int64_t)n_negatives ||
                       4 * n_free < (int64_t)n_items;
        mark_user_items(index, &marks, user, n_user_items);
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
