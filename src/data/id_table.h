/* Interning of id strings: an open-addressing hash table over an arena of
 * NUL-terminated strings. Ids are 0, 1, 2, ... in order of first lookup. */
#ifndef MELON_DATA_ID_TABLE_H
#define MELON_DATA_ID_TABLE_H

#include "melon/common.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t id;   /* UINT32_MAX: empty */
    uint32_t tag;  /* low bits of the hash, checked before the string */
} melon_id_slot;

typedef struct {
    melon_id_slot *slots;  /* [slot_cap], a power of two */
    size_t slot_cap;
    size_t *offset;        /* [count] start of each string in the arena */
    uint32_t *length;      /* [count] */
    size_t count;
    size_t entry_cap;
    char *arena;
    size_t arena_len;
    size_t arena_cap;
} melon_id_table;

int melon_id_table_init(melon_id_table *t, melon_err *err);
void melon_id_table_free(melon_id_table *t);

/* The id of `text` (len bytes, no NUL inside), added if new; -1 on
 * allocation failure or when the table would exceed INT32_MAX ids. */
int melon_id_table_intern(melon_id_table *t, const char *text, size_t len,
                          uint32_t *id, melon_err *err);

/* Forgets every id from `count` on (those interned last). */
void melon_id_table_truncate(melon_id_table *t, size_t count);

/* The id of `text`, or -1 when it was never interned. */
int64_t melon_id_table_find(const melon_id_table *t, const char *text,
                            size_t len);

static inline const char *melon_id_table_name(const melon_id_table *t,
                                              uint32_t id) {
    return t->arena + t->offset[id];
}

#endif
