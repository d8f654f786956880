/* Early requests for what melon_history_sample reads first, for callers
 * that draw the neighbours of many nodes in a row: a list's header, then
 * its newest edge (whose position answers the sampler's first probe). */
#ifndef MELON_HISTORY_PREFETCH_H
#define MELON_HISTORY_PREFETCH_H

#include "melon/history.h"

/* Nodes ahead whose newest edge is requested; headers go twice as far. */
#define MELON_HISTORY_AHEAD 8

/* Before drawing for ids[j] of count nodes in the lists `lists`. */
static inline void melon_history_prefetch(const melon_adjacency *lists,
                                          const int32_t *ids, int j,
                                          int count) {
    if (j + 2 * MELON_HISTORY_AHEAD < count)
        __builtin_prefetch(&lists[ids[j + 2 * MELON_HISTORY_AHEAD]]);
    if (j + MELON_HISTORY_AHEAD < count) {
        const melon_adjacency *ahead = &lists[ids[j + MELON_HISTORY_AHEAD]];
        if (ahead->len > 0) __builtin_prefetch(&ahead->pos[ahead->len - 1]);
    }
}

#endif
