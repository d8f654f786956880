/* The growing interaction history (MeLON paper, Definition 1): for every user
 * the items it interacted with and for every item its users, each with the
 * stream position of the interaction, appended in stream order (repeats
 * kept). Appends are amortised O(1); "before position p" is a prefix found by
 * binary search, so one structure answers for the shuffled pre-training
 * batches and for the online stream alike. */
#ifndef MELON_HISTORY_H
#define MELON_HISTORY_H

#include "melon/common.h"
#include "melon/stream.h"

#include <stdint.h>

typedef struct {
    int32_t *other;   /* item ids for a user list, user ids for an item list */
    uint32_t *pos;    /* stream position of each edge, increasing */
    uint32_t len;
    uint32_t cap;
} melon_adjacency;

typedef struct {
    int32_t n_users;
    int32_t n_items;
    melon_adjacency *user_items;  /* [n_users] */
    melon_adjacency *item_users;  /* [n_items] */
    size_t n_edges;
    size_t appended_until;        /* positions [0, appended_until) are in */
    int32_t user_room;            /* lists the arrays have room for */
    int32_t item_room;
} melon_history;

int melon_history_init(melon_history *h, int32_t n_users, int32_t n_items,
                       melon_err *err);
void melon_history_free(melon_history *h);

/* Room for n_users users and n_items items (never fewer than it has); the
 * new nodes have no edges. Room doubles: amortised O(1) per node. */
int melon_history_grow(melon_history *h, int32_t n_users, int32_t n_items,
                       melon_err *err);

/* Appends positions [begin, end) of the stream. begin must equal
 * appended_until (the history only grows in stream order). */
int melon_history_append(melon_history *h, const melon_stream *stream,
                         size_t begin, size_t end, melon_err *err);

/* Number of edges of the node strictly before stream position `before`. */
uint32_t melon_history_count_before(const melon_adjacency *adj,
                                    size_t before);

/* How neighbours are chosen when a node has more than the limit. */
typedef enum {
    MELON_NEIGHBORS_UNIFORM,  /* uniformly without replacement (repeats are
                                 separate edges, so weigh more) */
    MELON_NEIGHBORS_RECENT    /* the most recent edges */
} melon_neighbor_mode;

/* Up to `max` neighbours of a node among its edges before stream position
 * `before`, written to out (ids of the other side); returns how many. */
int melon_history_sample(const melon_adjacency *adj, size_t before, int max,
                         melon_neighbor_mode mode, melon_rng *rng,
                         int32_t *out);

/* The other side of the node's most recent edge before `before`, or -1. */
int32_t melon_history_last_before(const melon_adjacency *adj, size_t before);

#endif
