/* The publishers' own formats of the paper's datasets, all JSON lines:
 * which keys hold the user, the item and the time, how the time is
 * written, and which keys tell the formats apart. */
#ifndef MELON_DATA_NATIVE_FORMAT_H
#define MELON_DATA_NATIVE_FORMAT_H

#include <stddef.h>

typedef enum {
    MELON_TIME_UNIX,            /* a number of seconds since 1970 (UTC) */
    MELON_TIME_DATETIME,        /* "YYYY-MM-DD HH:MM:SS", UTC */
    MELON_TIME_MONTH_DAY_YEAR   /* "MM D, YYYY", midnight UTC */
} melon_time_kind;

/* The fields of an interaction, in the order of the keys below. */
enum { MELON_FIELD_USER, MELON_FIELD_ITEM, MELON_FIELD_TIME,
       MELON_FIELD_TIME_FALLBACK, MELON_N_FIELDS };

typedef struct {
    const char *name;      /* the --format value: "adressa", ... */
    const char *title;     /* what it reads, for help and messages */
    /* Keys of the user, the item, the time and a second time key read
     * when the first is missing (NULL: none). */
    const char *keys[MELON_N_FIELDS];
    melon_time_kind time_kind;
    melon_time_kind fallback_kind;
    /* How records without each of user, item, time are described. */
    const char *missing_note[3];
} melon_native_format;

size_t melon_native_format_count(void);
const melon_native_format *melon_native_format_entry(size_t index);
/* The format called name, or NULL. */
const melon_native_format *melon_native_format_find(const char *name);

/* Keys whose presence identifies a format, NULL-terminated; at most
 * MELON_JSON_MAX_KEYS of them. */
extern const char *const melon_native_signature_keys[];

/* Given which signature keys a record has (present[k] for key k), the one
 * format they identify; NULL when they identify none or several, with the
 * reason in why. */
const melon_native_format *melon_native_format_detect(const int *present,
                                                      char *why,
                                                      size_t why_cap);

#endif
