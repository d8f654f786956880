/* A small table-driven parser for long options, with strict value checks
 * and a help text that shows each option's current (default) value. */
#ifndef MELON_OPTIONS_H
#define MELON_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

typedef enum {
    OPT_STRING,   /* const char ** */
    OPT_INT,      /* int *, within [min, max] */
    OPT_U64,      /* uint64_t * */
    OPT_FLOAT,    /* float *, finite, within [min, max] */
    OPT_DOUBLE,   /* double *, finite, within [min, max] */
    OPT_FLAG,     /* int *, set to 1 (no value) */
    OPT_CHOICE,   /* const char **, one of `choices` (NULL-terminated) */
    OPT_ENUM,     /* int (or enum) *, the index of the value in `choices` */
    OPT_LIST      /* handled by a callback: void (*)(void *ctx, const char *) */
} option_kind;

typedef struct {
    const char *name;        /* without the leading "--" */
    option_kind kind;
    void *target;
    const char *metavar;
    const char *help;
    double min;
    double max;
    const char *const *choices;
    int (*on_value)(void *ctx, const char *value, char *why, size_t cap);
} option_spec;

/* Added to the kind of a number (OPT_INT | OPT_ABOVE_MIN): the bound itself
 * is refused. */
#define OPT_ABOVE_MIN 0x100
#define OPT_BELOW_MAX 0x200
#define OPT_KIND(s) ((option_kind)((s)->kind & 0xff))

/* Parses argv[first..argc); positional arguments are collected into
 * positional (up to max_positional). Returns 0, or 2 after printing a
 * usage error "melon <command>: ..." to stderr. --help prints help and
 * returns 1. */
int options_parse(const option_spec *specs, int argc, char **argv, int first,
                  const char *command, const char *usage, void *ctx,
                  const char **positional, int max_positional,
                  int *n_positional);

/* The specs of the options argv[first..argc) gives (as options_parse reads
 * them, after it accepted them), in order, up to cap; returns how many. */
int options_given(const option_spec *specs, int argc, char **argv, int first,
                  const option_spec **given, int cap);

void options_print_help(FILE *out, const option_spec *specs,
                        const char *usage);

/* Appends src's options (up to its NULL name) to dst, which holds *n and
 * room for cap; returns -1 when full. */
int options_append(option_spec *dst, int *n, int cap, const option_spec *src);

#endif
