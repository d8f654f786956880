/* Settings tables. Each room describes its settings once, in a table beside
 * its settings struct: the name (as on the command line, without "--"),
 * the type, where the value lives in the struct, the default, the range,
 * the help text, whether it is a learning rate, and the range a tuner may
 * search. The command line, its --help, the result file and re-runs from a
 * result file are all built from these tables. */
#ifndef MELON_SETTINGS_H
#define MELON_SETTINGS_H

#include "melon/common.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    MELON_SETTING_INT,     /* int, within [min, max], or k named by
                              choices[k] ("all" for 0) */
    MELON_SETTING_U64,     /* uint64_t */
    MELON_SETTING_FLOAT,   /* float, finite, within [min, max] */
    MELON_SETTING_DOUBLE,  /* double, finite, within [min, max] */
    MELON_SETTING_FLAG,    /* int, 0 or 1 (on the command line: no value) */
    MELON_SETTING_ENUM,    /* int (an enum): the index of a name in choices */
    MELON_SETTING_CHOICE,  /* const char *: one of choices (the static name) */
    MELON_SETTING_STRING,  /* const char *, NULL when unset */
    MELON_SETTING_WIDTHS   /* melon_widths: positive integers "64,64,64" */
} melon_setting_type;

/* A list of layer widths (MELON_SETTING_WIDTHS). */
#define MELON_MAX_WIDTHS 8
typedef struct {
    int n;
    int w[MELON_MAX_WIDTHS];
} melon_widths;

/* melon_setting.flags */
#define MELON_SETTING_LR 1u       /* a learning rate (named after a run's
                                     losses diverge) */
#define MELON_SETTING_TUNABLE 2u  /* a tuner may search [tune_low,
                                     tune_high] (enums: every choice) */
#define MELON_SETTING_LOG 4u      /* ... on a log scale */
#define MELON_SETTING_OUTPUT 8u   /* where a run writes, or how it shows
                                     progress: not repeated by a re-run */
#define MELON_SETTING_PROTOCOL 16u /* fixed by the protocol: a run with
                                      another value says so */
#define MELON_SETTING_ABOVE_MIN 32u /* the range excludes min */
#define MELON_SETTING_BELOW_MAX 64u /* the range excludes max */

typedef struct {
    const char *name;
    melon_setting_type type;
    size_t offset;                /* of the value in the room's struct */
    const char *metavar;          /* NULL for flags */
    const char *help;
    double def;                   /* numbers, flags, enum indices */
    const char *def_text;         /* strings, choices, widths (NULL: unset) */
    double min, max;              /* numbers */
    const char *const *choices;   /* enums, choices, named ints:
                                     NULL-terminated */
    unsigned flags;
    double tune_low, tune_high;   /* MELON_SETTING_TUNABLE numbers */
} melon_setting;

/* One room's settings: the key of its group in the result file, a heading
 * for --help, and its settings. */
typedef struct {
    const char *room;
    const char *title;
    const melon_setting *settings;
    int n;
} melon_settings_table;

/* Every field of the table's settings to its default. */
void melon_settings_table_defaults(const melon_settings_table *t, void *obj);
/* The setting called name (without "--"), or NULL. */
const melon_setting *melon_settings_table_find(const melon_settings_table *t,
                                               const char *name);

/* Parses text as setting s and stores it in obj, checking the type and the
 * range; a string is stored as the pointer text itself (the caller keeps
 * it alive). On failure, err says "--NAME 'TEXT': why". A flag accepts
 * "1", "0", "on", "off", "true", "false" (NULL: on). */
int melon_setting_parse(const melon_setting *s, void *obj, const char *text,
                        melon_err *err);
/* The value as text that melon_setting_parse reads back to the same value
 * ("" for an unset string). */
void melon_setting_format(const melon_setting *s, const void *obj, char *buf,
                          size_t cap);
/* The default as melon_setting_format writes it. */
void melon_setting_default_text(const melon_setting *s, char *buf, size_t cap);
/* 1 when the value is the setting's default. */
int melon_setting_is_default(const melon_setting *s, const void *obj);

/* A run's settings, every room's (opaque here). */
typedef struct melon_config melon_config;

/* Sets the setting called name (as on the command line, without "--")
 * from text, in whichever room it belongs to, with the checks of
 * melon_setting_parse; strings are copied. An unknown name fails with a
 * message that names it. */
int melon_config_set(melon_config *cfg, const char *name, const char *text,
                     melon_err *err);
/* The same from "name=value" (a flag may be given as "name" alone). */
int melon_config_assign(melon_config *cfg, const char *assignment,
                        melon_err *err);
/* The current value of a setting as text (melon_setting_format). */
int melon_config_get(const melon_config *cfg, const char *name, char *buf,
                     size_t cap, melon_err *err);

#endif
