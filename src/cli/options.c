#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const option_spec *find_spec(const option_spec *specs,
                                    const char *name, size_t len) {
    for (const option_spec *s = specs; s->name; s++)
        if (strlen(s->name) == len && strncmp(s->name, name, len) == 0)
            return s;
    return NULL;
}

static int parse_double_strict(const char *text, double *out) {
    char *end;
    errno = 0;
    double x = strtod(text, &end);
    if (end == text || *end != 0 || errno == ERANGE || !isfinite(x)) return -1;
    *out = x;
    return 0;
}

static int parse_long_strict(const char *text, long long *out) {
    char *end;
    errno = 0;
    long long x = strtoll(text, &end, 10);
    if (end == text || *end != 0 || errno == ERANGE) return -1;
    *out = x;
    return 0;
}

/* "must be between 0 and 1", "must be above 0 and below 1", ... */
static int out_of_range(const option_spec *s, double x, char *why, size_t cap) {
    int above = s->kind & OPT_ABOVE_MIN, below = s->kind & OPT_BELOW_MAX;
    if (x > s->min && x < s->max) return 0;
    if (!above && !below && x >= s->min && x <= s->max) return 0;
    if (above && !below && x <= s->max && x > s->min) return 0;
    if (!above && below && x >= s->min && x < s->max) return 0;
    if (!above && !below)
        snprintf(why, cap, "must be between %g and %g", s->min, s->max);
    else
        snprintf(why, cap, "must be %s %g and %s %g", above ? "above" : "at least",
                 s->min, below ? "below" : "at most", s->max);
    return -1;
}

static int set_value(const option_spec *s, const char *value, void *ctx,
                     char *why, size_t cap) {
    double x;
    long long i;
    switch (OPT_KIND(s)) {
    case OPT_STRING:
        *(const char **)s->target = value;
        return 0;
    case OPT_CHOICE:
        for (const char *const *c = s->choices; *c; c++)
            if (strcmp(*c, value) == 0) {
                *(const char **)s->target = *c;
                return 0;
            }
        snprintf(why, cap, "must be one of:");
        for (const char *const *c = s->choices; *c; c++) {
            strncat(why, " ", cap - strlen(why) - 1);
            strncat(why, *c, cap - strlen(why) - 1);
        }
        return -1;
    case OPT_ENUM:
        for (int k = 0; s->choices[k]; k++)
            if (strcmp(s->choices[k], value) == 0) {
                *(int *)s->target = k;
                return 0;
            }
        snprintf(why, cap, "must be one of:");
        for (const char *const *c = s->choices; *c; c++) {
            strncat(why, " ", cap - strlen(why) - 1);
            strncat(why, *c, cap - strlen(why) - 1);
        }
        return -1;
    case OPT_INT:
        if (parse_long_strict(value, &i) != 0) {
            snprintf(why, cap, "is not an integer");
            return -1;
        }
        if (out_of_range(s, (double)i, why, cap) != 0) return -1;
        *(int *)s->target = (int)i;
        return 0;
    case OPT_U64:
        if (parse_long_strict(value, &i) != 0 || i < 0) {
            snprintf(why, cap, "is not a non-negative integer");
            return -1;
        }
        *(uint64_t *)s->target = (uint64_t)i;
        return 0;
    case OPT_FLOAT:
    case OPT_DOUBLE:
        if (parse_double_strict(value, &x) != 0) {
            snprintf(why, cap, "is not a finite number");
            return -1;
        }
        if (out_of_range(s, x, why, cap) != 0) return -1;
        if (OPT_KIND(s) == OPT_FLOAT) *(float *)s->target = (float)x;
        else *(double *)s->target = x;
        return 0;
    case OPT_LIST:
        return s->on_value(ctx, value, why, cap);
    case OPT_FLAG:
        *(int *)s->target = 1;
        return 0;
    }
    return -1;
}

int options_parse(const option_spec *specs, int argc, char **argv, int first,
                  const char *command, const char *usage, void *ctx,
                  const char **positional, int max_positional,
                  int *n_positional) {
    int n_pos = 0;
    for (int k = first; k < argc; k++) {
        const char *arg = argv[k];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            options_print_help(stdout, specs, usage);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == 0) {
            if (n_pos >= max_positional) {
                fprintf(stderr, "melon %s: unexpected argument '%s' (see "
                                "melon %s --help)\n", command, arg, command);
                return 2;
            }
            positional[n_pos++] = arg;
            continue;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const option_spec *s = find_spec(specs, name, len);
        if (!s) {
            fprintf(stderr, "melon %s: unknown option '--%.*s' (see melon %s "
                            "--help)\n", command, (int)len, name, command);
            return 2;
        }
        const char *value = NULL;
        if (OPT_KIND(s) == OPT_FLAG) {
            if (eq) {
                fprintf(stderr, "melon %s: option '--%s' takes no value\n",
                        command, s->name);
                return 2;
            }
        } else if (eq) {
            value = eq + 1;
        } else if (k + 1 < argc) {
            value = argv[++k];
        } else {
            fprintf(stderr, "melon %s: option '--%s' needs a value (%s)\n",
                    command, s->name, s->metavar ? s->metavar : "VALUE");
            return 2;
        }
        char why[512] = "";
        if (set_value(s, value, ctx, why, sizeof why) != 0) {
            fprintf(stderr, "melon %s: --%s '%s': %s\n", command, s->name,
                    value ? value : "", why);
            return 2;
        }
    }
    if (n_positional) *n_positional = n_pos;
    return 0;
}

int options_given(const option_spec *specs, int argc, char **argv, int first,
                  const option_spec **given, int cap) {
    int n = 0;
    for (int k = first; k < argc && n < cap; k++) {
        if (strncmp(argv[k], "--", 2) != 0 || argv[k][2] == 0) continue;
        const char *name = argv[k] + 2;
        const char *eq = strchr(name, '=');
        const option_spec *s = find_spec(specs, name, eq ? (size_t)(eq - name)
                                                          : strlen(name));
        if (!s) continue;
        given[n++] = s;
        if (OPT_KIND(s) != OPT_FLAG && !eq) k++; /* its value */
    }
    return n;
}

static void format_default(const option_spec *s, char *buf, size_t cap) {
    buf[0] = 0;
    switch (OPT_KIND(s)) {
    case OPT_STRING:
    case OPT_CHOICE: {
        const char *v = *(const char **)s->target;
        if (v) snprintf(buf, cap, "%s", v);
        break;
    }
    case OPT_ENUM:
        snprintf(buf, cap, "%s", s->choices[*(int *)s->target]);
        break;
    case OPT_INT: snprintf(buf, cap, "%d", *(int *)s->target); break;
    case OPT_U64:
        snprintf(buf, cap, "%llu", (unsigned long long)*(uint64_t *)s->target);
        break;
    case OPT_FLOAT: snprintf(buf, cap, "%g", *(float *)s->target); break;
    case OPT_DOUBLE: snprintf(buf, cap, "%g", *(double *)s->target); break;
    case OPT_FLAG: snprintf(buf, cap, "%s", *(int *)s->target ? "on" : "off"); break;
    case OPT_LIST: break;
    }
}

void options_print_help(FILE *out, const option_spec *specs,
                        const char *usage) {
    fprintf(out, "%s\nOptions:\n", usage);
    for (const option_spec *s = specs; s->name; s++) {
        char left[64], def[256];
        snprintf(left, sizeof left, "--%s%s%s", s->name, s->metavar ? " " : "",
                 s->metavar ? s->metavar : "");
        format_default(s, def, sizeof def);
        fprintf(out, "  %-26s %s", left, s->help);
        if (def[0]) fprintf(out, " [default: %s]", def);
        fputc('\n', out);
        if (OPT_KIND(s) == OPT_CHOICE || OPT_KIND(s) == OPT_ENUM) {
            fprintf(out, "  %-26s one of:", "");
            for (const char *const *c = s->choices; *c; c++) fprintf(out, " %s", *c);
            fputc('\n', out);
        }
    }
    fprintf(out, "  %-26s %s\n", "--help", "show this help and exit");
}

int options_append(option_spec *dst, int *n, int cap, const option_spec *src) {
    for (; src->name; src++) {
        if (*n + 1 >= cap) return -1;
        dst[(*n)++] = *src;
    }
    dst[*n] = (option_spec){0};
    return 0;
}
