/* The set of event ids the server has taken, so that a client may send an
 * event again (after a timeout, say) without it being applied twice. An id
 * is PENDING while the request that brought it waits for its write, then
 * DURABLE; a failed write removes its ids. Keys are copied into chunks
 * that never move. Not thread-safe: the caller locks. */
#ifndef MELON_SERVE_ID_SET_H
#define MELON_SERVE_ID_SET_H

#include "melon/common.h"

#include <stddef.h>
#include <stdint.h>

enum { SERVE_ID_ABSENT = 0, SERVE_ID_PENDING = 1, SERVE_ID_DURABLE = 2 };

typedef struct {
    const char *key;
    uint64_t hash;
    uint16_t len;
    uint8_t state;
} serve_id_slot;

typedef struct {
    serve_id_slot *slots;
    size_t cap;          /* a power of two */
    size_t n;
    uint64_t seed;
    char **chunks;
    size_t n_chunks;
    size_t chunk_used;   /* bytes used in the last chunk */
} serve_id_set;

int serve_id_set_init(serve_id_set *set, uint64_t seed, melon_err *err);
void serve_id_set_free(serve_id_set *set);
/* SERVE_ID_ABSENT, PENDING or DURABLE. */
int serve_id_set_get(const serve_id_set *set, const char *key, size_t len);
/* Adds key (absent) with a state, or changes its state. */
int serve_id_set_put(serve_id_set *set, const char *key, size_t len,
                     int state, melon_err *err);
void serve_id_set_remove(serve_id_set *set, const char *key, size_t len);

#endif
