/* Negative sampling (protocol.md section 3).
 *
 * A pair index maps every (user, item) pair of the stream to the position of
 * its first occurrence. A training negative for a user at a batch ending at
 * position `end` is an item the user has not interacted with in positions
 * [0, end) (causal). An evaluation negative is an item the user never
 * interacts with anywhere in the stream. */
#ifndef MELON_NEGATIVES_H
#define MELON_NEGATIVES_H

#include "melon/common.h"
#include "melon/stream.h"

#include <stdint.h>

/* The protocol's evaluation negatives per interaction. */
#define MELON_EVAL_NEGATIVES 99

typedef struct {
    uint64_t *keys;          /* open addressing; key = user << 32 | item, */
    uint32_t *first_pos;     /* empty slot: key == UINT64_MAX */
    size_t capacity;         /* power of two, at least twice n_pairs */
    size_t n_pairs;
    int32_t n_users;
    int32_t n_items;         /* negatives are drawn from items 0..n_items-1 */
    int32_t user_room;       /* users the per-user arrays have room for */
    int32_t *user_distinct;  /* [n_users] distinct items per user */
    int32_t **user_items;    /* [n_users] each user's distinct items, in
                                order of first interaction */
    int32_t *user_items_room;/* [n_users] */
    const melon_stream *stream; /* borrowed (must outlive the index): for
                                   messages naming original user ids */
} melon_pair_index;

/* The index of every pair of the whole stream. */
int melon_pair_index_build(melon_pair_index *index, const melon_stream *stream,
                           melon_err *err);
/* An empty index over n_users users and n_items items, to which pairs are
 * added as they arrive (a live stream). */
int melon_pair_index_init(melon_pair_index *index, int32_t n_users,
                          int32_t n_items, melon_err *err);
/* Room for more users and items (never fewer than it has). */
int melon_pair_index_grow(melon_pair_index *index, int32_t n_users,
                          int32_t n_items, melon_err *err);
/* Records the (user, item) interaction at stream position pos; a pair seen
 * before keeps its first position. */
int melon_pair_index_add(melon_pair_index *index, int32_t user, int32_t item,
                         uint32_t pos, melon_err *err);
void melon_pair_index_free(melon_pair_index *index);

/* Position of the first (user, item) interaction, or UINT32_MAX if none. */
uint32_t melon_pair_first(const melon_pair_index *index, int32_t user,
                          int32_t item);

/* How many distinct items the user interacted with before position `end`
 * (SIZE_MAX: at all). The user's items are kept in first-seen order, so
 * these are the first ones of the list. */
int32_t melon_pair_count_before(const melon_pair_index *index, int32_t user,
                                size_t end);

/* One causal training negative for `user`: uniform over the items the user
 * has not interacted with before position `end`. Returns -1 when the user
 * has interacted with every item. */
int32_t melon_sample_train_negative(const melon_pair_index *index,
                                    melon_rng *rng, int32_t user, size_t end);

/* n_negatives distinct evaluation negatives (the protocol's 99) for each of
 * the n interactions of online batch `batch` (out: [n * n_negatives]). The
 * draw depends only on (seed, batch, the users, n_negatives), so every
 * strategy of a comparison ranks the same lists. Fails with a message when
 * a user has fewer than n_negatives items never interacted with. */
int melon_sample_eval_negatives(const melon_pair_index *index, uint64_t seed,
                                size_t batch, const int32_t *users, size_t n,
                                int n_negatives, int32_t *out, melon_err *err);
/* The same, but the negatives come from the items the user has not
 * interacted with before position `end` (the end of the batch): what a live
 * system can know. The index may hold later positions too; the draw depends
 * on (seed, batch, the users, n_negatives, end) only. SIZE_MAX: as
 * melon_sample_eval_negatives. */
int melon_sample_eval_negatives_before(const melon_pair_index *index,
                                       uint64_t seed, size_t batch,
                                       const int32_t *users, size_t n,
                                       int n_negatives, size_t end,
                                       int32_t *out, melon_err *err);

#endif
