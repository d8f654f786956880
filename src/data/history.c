/* The growing user<->item interaction history (MeLON, Definition 1). */
#include "melon/history.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL_EDGES 4

int melon_history_init(melon_history *h, int32_t n_users, int32_t n_items,
                       melon_err *err) {
    memset(h, 0, sizeof *h);
    if (n_users < 0 || n_items < 0)
        return melon_fail(err, "history: negative size (%d users, %d items)",
                          n_users, n_items);
    h->user_items = melon_calloc((size_t)n_users, sizeof *h->user_items, err);
    h->item_users = melon_calloc((size_t)n_items, sizeof *h->item_users, err);
    if (!h->user_items || !h->item_users) {
        melon_history_free(h);
        return -1;
    }
    h->n_users = h->user_room = n_users;
    h->n_items = h->item_room = n_items;
    return 0;
}

/* Grows one side's list array to n nodes, doubling its room. */
static int grow_lists(melon_adjacency **lists, int32_t *n_nodes,
                      int32_t *room, int32_t n, melon_err *err) {
    if (n <= *n_nodes) return 0;
    if (n > *room) {
        size_t cap = *room > 0 ? (size_t)*room : 16;
        while (cap < (size_t)n) cap *= 2;
        if (cap > INT32_MAX) cap = INT32_MAX;
        melon_adjacency *grown = realloc(*lists, cap * sizeof *grown);
        if (!grown)
            return melon_fail(err, "history: out of memory for %d nodes", n);
        *lists = grown;
        *room = (int32_t)cap;
    }
    memset(*lists + *n_nodes, 0, (size_t)(n - *n_nodes) * sizeof **lists);
    *n_nodes = n;
    return 0;
}

int melon_history_grow(melon_history *h, int32_t n_users, int32_t n_items,
                       melon_err *err) {
    if (grow_lists(&h->user_items, &h->n_users, &h->user_room, n_users,
                   err) != 0 ||
        grow_lists(&h->item_users, &h->n_items, &h->item_room, n_items,
                   err) != 0)
        return -1;
    return 0;
}

static void free_lists(melon_adjacency *lists, int32_t n) {
    if (!lists) return;
    for (int32_t k = 0; k < n; k++) {
        free(lists[k].other);
        free(lists[k].pos);
    }
    free(lists);
}

void melon_history_free(melon_history *h) {
    free_lists(h->user_items, h->n_users);
    free_lists(h->item_users, h->n_items);
    memset(h, 0, sizeof *h);
}

/* Makes room for one more edge, doubling the capacity. */
static int reserve_one(melon_adjacency *adj, melon_err *err) {
    if (adj->len < adj->cap) return 0;
    if (adj->cap > UINT32_MAX / 2)
        return melon_fail(err, "history: a node has too many edges");
    uint32_t cap = adj->cap ? 2 * adj->cap : INITIAL_EDGES;
    int32_t *other = realloc(adj->other, cap * sizeof *other);
    if (other) adj->other = other;
    uint32_t *pos = realloc(adj->pos, cap * sizeof *pos);
    if (pos) adj->pos = pos;
    if (!other || !pos)
        return melon_fail(err, "history: out of memory growing a node to "
                               "%u edges", cap);
    adj->cap = cap;
    return 0;
}

static void push(melon_adjacency *adj, int32_t other, uint32_t pos) {
    adj->other[adj->len] = other;
    adj->pos[adj->len] = pos;
    adj->len++;
}

/* Takes back the edges of positions [begin, end) after a failed append. */
static void undo_appends(melon_history *h, const melon_stream *stream,
                         size_t begin, size_t end) {
    for (size_t p = end; p > begin; p--) {
        h->user_items[stream->user[p - 1]].len--;
        h->item_users[stream->item[p - 1]].len--;
    }
}

int melon_history_append(melon_history *h, const melon_stream *stream,
                         size_t begin, size_t end, melon_err *err) {
    if (begin != h->appended_until)
        return melon_fail(err, "history: append from position %zu, but "
                               "positions up to %zu are in (appends must "
                               "follow the stream)",
                          begin, h->appended_until);
    if (end < begin || end > stream->n || end > UINT32_MAX)
        return melon_fail(err, "history: append range [%zu, %zu) outside "
                               "the stream of %zu",
                          begin, end, stream->n);
    for (size_t p = begin; p < end; p++) {
        int32_t user = stream->user[p], item = stream->item[p];
        if (user < 0 || user >= h->n_users || item < 0 || item >= h->n_items) {
            undo_appends(h, stream, begin, p);
            return melon_fail(err, "history: position %zu has user %d / item "
                                   "%d outside 0..%d / 0..%d",
                              p, user, item, h->n_users - 1, h->n_items - 1);
        }
        melon_adjacency *items_of_user = &h->user_items[user];
        melon_adjacency *users_of_item = &h->item_users[item];
        if (reserve_one(items_of_user, err) != 0 ||
            reserve_one(users_of_item, err) != 0) {
            undo_appends(h, stream, begin, p);
            return -1;
        }
        push(items_of_user, item, (uint32_t)p);
        push(users_of_item, user, (uint32_t)p);
    }
    h->n_edges += end - begin;
    h->appended_until = end;
    return 0;
}

uint32_t melon_history_count_before(const melon_adjacency *adj,
                                    size_t before) {
    if (!adj) return 0;
    /* the newest edge first: in pre-training and in a live session every
     * edge is usually before the position, and one probe answers where a
     * popular node's bisection would touch a dozen lines of memory */
    if (adj->len == 0 || (size_t)adj->pos[adj->len - 1] < before) return adj->len;
    uint32_t lo = 0, hi = adj->len; /* first edge with pos >= before */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if ((size_t)adj->pos[mid] < before)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int32_t melon_history_last_before(const melon_adjacency *adj, size_t before) {
    uint32_t count = melon_history_count_before(adj, before);
    return count ? adj->other[count - 1] : -1;
}

int melon_history_sample(const melon_adjacency *adj, size_t before, int max,
                         melon_neighbor_mode mode, melon_rng *rng,
                         int32_t *out) {
    uint32_t count = melon_history_count_before(adj, before);
    if (max <= 0 || count == 0) return 0;
    if (count <= (uint32_t)max) {
        memcpy(out, adj->other, count * sizeof *out);
        return (int)count;
    }
    if (mode == MELON_NEIGHBORS_RECENT) {
        memcpy(out, adj->other + (count - (uint32_t)max), (size_t)max * sizeof *out);
        return max;
    }
    /* Floyd's method: max distinct edge indices, uniformly, in O(max^2)
     * with max small (10 by default). */
    uint32_t chosen[max];
    int n = 0;
    for (uint32_t j = count - (uint32_t)max; j < count; j++) {
        uint32_t pick = melon_rng_below(rng, j + 1);
        for (int k = 0; k < n; k++)
            if (chosen[k] == pick) {
                pick = j;
                break;
            }
        chosen[n++] = pick;
    }
    for (int k = 0; k < n; k++) out[k] = adj->other[chosen[k]];
    return n;
}
