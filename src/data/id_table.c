/* String interning for user and item ids. */
#include "id_table.h"

#include <stdlib.h>
#include <string.h>

#define EMPTY_SLOT UINT32_MAX
#define INITIAL_SLOTS 1024

/* A fast 64-bit hash of a short byte string, eight bytes at a time. */
static uint64_t hash_bytes(const char *text, size_t len) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)len * 0xff51afd7ed558ccdULL);
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, text, 8);
        h = (h ^ word) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 29;
        text += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    memcpy(&tail, text, len);
    h = (h ^ tail) * 0x94d049bb133111ebULL;
    h ^= h >> 32;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 29;
    return h;
}

int melon_id_table_init(melon_id_table *t, melon_err *err) {
    memset(t, 0, sizeof *t);
    t->slots = melon_alloc(INITIAL_SLOTS * sizeof *t->slots, err);
    if (!t->slots) return -1;
    for (size_t k = 0; k < INITIAL_SLOTS; k++) t->slots[k].id = EMPTY_SLOT;
    t->slot_cap = INITIAL_SLOTS;
    return 0;
}

void melon_id_table_free(melon_id_table *t) {
    free(t->slots);
    free(t->offset);
    free(t->length);
    free(t->arena);
    memset(t, 0, sizeof *t);
}

static int same_string(const melon_id_table *t, uint32_t id, const char *text,
                       size_t len) {
    return t->length[id] == len &&
           memcmp(t->arena + t->offset[id], text, len) == 0;
}

/* Doubles the slot array and re-inserts every id. */
static int grow_slots(melon_id_table *t, melon_err *err) {
    size_t cap = 2 * t->slot_cap;
    melon_id_slot *slots = melon_alloc(cap * sizeof *slots, err);
    if (!slots) return -1;
    for (size_t k = 0; k < cap; k++) slots[k].id = EMPTY_SLOT;
    for (uint32_t id = 0; id < t->count; id++) {
        uint64_t h = hash_bytes(t->arena + t->offset[id], t->length[id]);
        size_t k = (size_t)h & (cap - 1);
        while (slots[k].id != EMPTY_SLOT) k = (k + 1) & (cap - 1);
        slots[k].id = id;
        slots[k].tag = (uint32_t)h;
    }
    free(t->slots);
    t->slots = slots;
    t->slot_cap = cap;
    return 0;
}

static int grow_to(void **array, size_t *cap, size_t needed, size_t elem,
                   size_t initial, melon_err *err) {
    if (needed <= *cap) return 0;
    size_t grown = *cap ? *cap : initial;
    while (grown < needed) grown *= 2;
    void *p = realloc(*array, grown * elem);
    if (!p) return melon_fail(err, "out of memory storing ids");
    *array = p;
    *cap = grown;
    return 0;
}

/* Appends a new string and returns its id. */
static int add_entry(melon_id_table *t, const char *text, size_t len,
                     melon_err *err) {
    if (t->count >= (size_t)INT32_MAX)
        return melon_fail(err, "more than %d distinct ids", INT32_MAX);
    size_t entry_cap = t->entry_cap;
    if (grow_to((void **)&t->offset, &entry_cap, t->count + 1,
                sizeof *t->offset, 1024, err) != 0)
        return -1;
    entry_cap = t->entry_cap;
    if (grow_to((void **)&t->length, &entry_cap, t->count + 1,
                sizeof *t->length, 1024, err) != 0)
        return -1;
    t->entry_cap = entry_cap;
    if (grow_to((void **)&t->arena, &t->arena_cap, t->arena_len + len + 1, 1,
                16384, err) != 0)
        return -1;
    memcpy(t->arena + t->arena_len, text, len);
    t->arena[t->arena_len + len] = '\0';
    t->offset[t->count] = t->arena_len;
    t->length[t->count] = (uint32_t)len;
    t->arena_len += len + 1;
    t->count++;
    return 0;
}

int melon_id_table_intern(melon_id_table *t, const char *text, size_t len,
                          uint32_t *id, melon_err *err) {
    uint64_t h = hash_bytes(text, len);
    uint32_t tag = (uint32_t)h;
    size_t mask = t->slot_cap - 1;
    size_t k = (size_t)h & mask;
    while (t->slots[k].id != EMPTY_SLOT) {
        if (t->slots[k].tag == tag && same_string(t, t->slots[k].id, text, len)) {
            *id = t->slots[k].id;
            return 0;
        }
        k = (k + 1) & mask;
    }
    if (add_entry(t, text, len, err) != 0) return -1;
    uint32_t new_id = (uint32_t)(t->count - 1);
    t->slots[k].id = new_id;
    t->slots[k].tag = tag;
    *id = new_id;
    if (2 * t->count > t->slot_cap && grow_slots(t, err) != 0) return -1;
    return 0;
}

/* Linear probing places an id only past slots taken by older ids (a
 * rehash re-inserts in id order, keeping that true), so emptying the slots
 * of the newest ids leaves every older id's probe sequence as it was. */
void melon_id_table_truncate(melon_id_table *t, size_t count) {
    size_t mask = t->slot_cap - 1;
    while (t->count > count) {
        uint32_t id = (uint32_t)(t->count - 1);
        uint64_t h = hash_bytes(t->arena + t->offset[id], t->length[id]);
        size_t k = (size_t)h & mask;
        while (t->slots[k].id != id) k = (k + 1) & mask;
        t->slots[k].id = EMPTY_SLOT;
        t->arena_len = t->offset[id];
        t->count--;
    }
}

int64_t melon_id_table_find(const melon_id_table *t, const char *text,
                            size_t len) {
    uint64_t h = hash_bytes(text, len);
    size_t mask = t->slot_cap - 1;
    for (size_t k = (size_t)h & mask; t->slots[k].id != EMPTY_SLOT;
         k = (k + 1) & mask)
        if (t->slots[k].tag == (uint32_t)h &&
            same_string(t, t->slots[k].id, text, len))
            return t->slots[k].id;
    return -1;
}
