/* One JSON object per line: the values of a few top-level keys, read with
 * the yajl event parser (nothing else of the record is kept). The whole
 * line is parsed and checked: one object, valid UTF-8, nothing after it. */
#ifndef MELON_DATA_JSON_RECORD_H
#define MELON_DATA_JSON_RECORD_H

#include <stddef.h>

#define MELON_JSON_MAX_KEYS 8
#define MELON_JSON_WHY 160

typedef enum {
    MELON_JSON_ABSENT = 0,
    MELON_JSON_NULL,
    MELON_JSON_STRING,
    MELON_JSON_NUMBER,
    MELON_JSON_BOOL,
    MELON_JSON_OBJECT,
    MELON_JSON_ARRAY
} melon_json_kind;

/* "a string", "an array", ... for messages. */
const char *melon_json_kind_name(melon_json_kind kind);

typedef struct {
    melon_json_kind kind;
    char *text;   /* string (decoded) or number (as written), NUL-terminated */
    size_t len;
    size_t cap;
} melon_json_value;

typedef struct {
    const char *const *keys;  /* the wanted keys, borrowed */
    size_t key_len[MELON_JSON_MAX_KEYS];
    size_t n_keys;
    melon_json_value value[MELON_JSON_MAX_KEYS]; /* one per wanted key */
    /* parse state */
    size_t depth;
    int pending;              /* index of the key whose value comes next */
    int n_objects;            /* top-level objects seen on the line */
    int out_of_memory;
    char why[MELON_JSON_WHY]; /* the reason a callback stopped the parse */
    void *parser;             /* the yajl handle, kept from line to line */
} melon_json_record;

/* keys: n_keys <= MELON_JSON_MAX_KEYS distinct names, kept by the caller. */
void melon_json_record_init(melon_json_record *rec, const char *const *keys,
                            size_t n_keys);
void melon_json_record_free(melon_json_record *rec);

/* Parses one line. Returns 0 with every wanted value filled in (a key that
 * occurs twice keeps its last value); -1 when the line is not one JSON
 * object, with *column (1-based byte offset where the parser stopped) and
 * the reason in why; -2 when out of memory. */
int melon_json_record_parse(melon_json_record *rec, const char *line,
                            size_t len, size_t *column, char *why,
                            size_t why_cap);

#endif
