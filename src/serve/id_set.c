/* Open addressing with linear probing and backward-shift deletion
 * (id_set.h). */
#include "id_set.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES (1u << 20)

/* A seeded 64-bit hash: 8 bytes at a time through a multiply-xorshift
 * mix, so a client cannot pick colliding ids without the seed. */
static uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

static uint64_t hash_key(uint64_t seed, const char *key, size_t len) {
    uint64_t h = mix(seed ^ (len * 0x9e3779b97f4a7c15ULL));
    size_t k = 0;
    for (; k + 8 <= len; k += 8) {
        uint64_t w;
        memcpy(&w, key + k, 8);
        h = mix(h ^ w);
    }
    uint64_t tail = 0;
    memcpy(&tail, key + k, len - k);
    return mix(h ^ tail ^ 0x5bd1e995ULL);
}

int serve_id_set_init(serve_id_set *set, uint64_t seed, melon_err *err) {
    memset(set, 0, sizeof *set);
    set->seed = seed;
    set->cap = 1024;
    set->slots = melon_calloc(set->cap, sizeof *set->slots, err);
    return set->slots ? 0 : -1;
}

void serve_id_set_free(serve_id_set *set) {
    for (size_t c = 0; c < set->n_chunks; c++) free(set->chunks[c]);
    free(set->chunks);
    free(set->slots);
    memset(set, 0, sizeof *set);
}

static size_t find(const serve_id_set *set, uint64_t h, const char *key,
                   size_t len) {
    size_t mask = set->cap - 1, at = (size_t)h & mask;
    while (set->slots[at].key) {
        const serve_id_slot *s = &set->slots[at];
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return at;
        at = (at + 1) & mask;
    }
    return at;
}

int serve_id_set_get(const serve_id_set *set, const char *key, size_t len) {
    size_t at = find(set, hash_key(set->seed, key, len), key, len);
    return set->slots[at].key ? set->slots[at].state : SERVE_ID_ABSENT;
}

static int grow(serve_id_set *set, melon_err *err) {
    size_t cap = set->cap * 2;
    serve_id_slot *slots = melon_calloc(cap, sizeof *slots, err);
    if (!slots) return -1;
    for (size_t k = 0; k < set->cap; k++) {
        if (!set->slots[k].key) continue;
        size_t at = (size_t)set->slots[k].hash & (cap - 1);
        while (slots[at].key) at = (at + 1) & (cap - 1);
        slots[at] = set->slots[k];
    }
    free(set->slots);
    set->slots = slots;
    set->cap = cap;
    return 0;
}

static const char *copy_key(serve_id_set *set, const char *key, size_t len,
                            melon_err *err) {
    if (set->n_chunks == 0 || set->chunk_used + len > CHUNK_BYTES) {
        char **chunks = realloc(set->chunks, (set->n_chunks + 1) * sizeof *chunks);
        if (!chunks) return melon_fail(err, "out of memory for event ids"), NULL;
        set->chunks = chunks;
        chunks[set->n_chunks] = melon_alloc(CHUNK_BYTES, err);
        if (!chunks[set->n_chunks]) return NULL;
        set->n_chunks++;
        set->chunk_used = 0;
    }
    char *at = set->chunks[set->n_chunks - 1] + set->chunk_used;
    memcpy(at, key, len);
    set->chunk_used += len;
    return at;
}

int serve_id_set_put(serve_id_set *set, const char *key, size_t len,
                     int state, melon_err *err) {
    if (len == 0 || len > 0xffff || len > CHUNK_BYTES)
        return melon_fail(err, "event id of %zu bytes", len);
    uint64_t h = hash_key(set->seed, key, len);
    size_t at = find(set, h, key, len);
    if (set->slots[at].key) {
        set->slots[at].state = (uint8_t)state;
        return 0;
    }
    if (2 * (set->n + 1) > set->cap) { /* keep it at most half full */
        if (grow(set, err) != 0) return -1;
        at = find(set, h, key, len);
    }
    const char *copy = copy_key(set, key, len, err);
    if (!copy) return -1;
    set->slots[at] = (serve_id_slot){copy, h, (uint16_t)len, (uint8_t)state};
    set->n++;
    return 0;
}

void serve_id_set_remove(serve_id_set *set, const char *key, size_t len) {
    size_t mask = set->cap - 1;
    size_t at = find(set, hash_key(set->seed, key, len), key, len);
    if (!set->slots[at].key) return;
    set->slots[at].key = NULL;
    set->n--;
    /* shift back the entries whose probe run passed through the hole */
    size_t hole = at, next = (at + 1) & mask;
    while (set->slots[next].key) {
        size_t home = (size_t)set->slots[next].hash & mask;
        if (((next - home) & mask) >= ((next - hole) & mask)) {
            set->slots[hole] = set->slots[next];
            set->slots[next].key = NULL;
            hole = next;
        }
        next = (next + 1) & mask;
    }
}
