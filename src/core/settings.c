/* Reading, writing and defaulting one setting through its table entry. */
#include "melon/settings.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AT(obj, s, type) ((type *)((char *)(obj) + (s)->offset))
#define AT_CONST(obj, s, type) ((const type *)((const char *)(obj) + (s)->offset))

static int parse_widths(const char *text, melon_widths *out) {
    melon_widths w = {0};
    const char *p = text;
    while (*p) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno == ERANGE || x < 1 || x > 65536 ||
            (*end && *end != ',') || w.n == MELON_MAX_WIDTHS)
            return -1;
        w.w[w.n++] = (int)x;
        p = *end ? end + 1 : end;
    }
    if (w.n == 0) return -1;
    *out = w;
    return 0;
}

static int choice_index(const char *const *choices, const char *text) {
    for (int k = 0; choices[k]; k++)
        if (strcmp(choices[k], text) == 0) return k;
    return -1;
}

void melon_settings_table_defaults(const melon_settings_table *t, void *obj) {
    for (int k = 0; k < t->n; k++) {
        const melon_setting *s = &t->settings[k];
        switch (s->type) {
        case MELON_SETTING_INT:
        case MELON_SETTING_FLAG:
        case MELON_SETTING_ENUM: *AT(obj, s, int) = (int)s->def; break;
        case MELON_SETTING_U64: *AT(obj, s, uint64_t) = (uint64_t)s->def; break;
        case MELON_SETTING_FLOAT: *AT(obj, s, float) = (float)s->def; break;
        case MELON_SETTING_DOUBLE: *AT(obj, s, double) = s->def; break;
        case MELON_SETTING_CHOICE:
            *AT(obj, s, const char *) =
                s->choices[choice_index(s->choices, s->def_text)];
            break;
        case MELON_SETTING_STRING: *AT(obj, s, const char *) = s->def_text; break;
        case MELON_SETTING_WIDTHS:
            parse_widths(s->def_text, AT(obj, s, melon_widths));
            break;
        }
    }
}

const melon_setting *melon_settings_table_find(const melon_settings_table *t,
                                               const char *name) {
    for (int k = 0; k < t->n; k++)
        if (strcmp(t->settings[k].name, name) == 0) return &t->settings[k];
    return NULL;
}

static int parse_double(const char *text, double *out) {
    char *end;
    errno = 0;
    double x = strtod(text, &end);
    if (end == text || *end != 0 || errno == ERANGE || !isfinite(x)) return -1;
    *out = x;
    return 0;
}

static int parse_long(const char *text, long long *out) {
    char *end;
    errno = 0;
    long long x = strtoll(text, &end, 10);
    if (end == text || *end != 0 || errno == ERANGE) return -1;
    *out = x;
    return 0;
}

/* "must be between 0 and 1", "must be above 0 and at most 1", ... */
static int check_range(const melon_setting *s, const char *text, double x,
                       melon_err *err) {
    int above = (s->flags & MELON_SETTING_ABOVE_MIN) != 0;
    int below = (s->flags & MELON_SETTING_BELOW_MAX) != 0;
    if ((above ? x > s->min : x >= s->min) && (below ? x < s->max : x <= s->max))
        return 0;
    if (!above && !below)
        return melon_fail(err, "--%s '%s': must be between %g and %g", s->name,
                          text, s->min, s->max);
    return melon_fail(err, "--%s '%s': must be %s %g and %s %g", s->name, text,
                      above ? "above" : "at least", s->min,
                      below ? "below" : "at most", s->max);
}

static int fail_choices(const melon_setting *s, const char *text,
                        melon_err *err) {
    char names[512] = "";
    for (const char *const *c = s->choices; *c; c++) {
        strncat(names, " ", sizeof names - strlen(names) - 1);
        strncat(names, *c, sizeof names - strlen(names) - 1);
    }
    return melon_fail(err, "--%s '%s': must be one of:%s", s->name, text, names);
}

int melon_setting_parse(const melon_setting *s, void *obj, const char *text,
                        melon_err *err) {
    double x;
    long long i;
    int k;
    if (!text && s->type != MELON_SETTING_FLAG)
        return melon_fail(err, "--%s needs a value (%s)", s->name,
                          s->metavar ? s->metavar : "VALUE");
    switch (s->type) {
    case MELON_SETTING_STRING:
        *AT(obj, s, const char *) = text;
        return 0;
    case MELON_SETTING_CHOICE:
        if ((k = choice_index(s->choices, text)) < 0)
            return fail_choices(s, text, err);
        *AT(obj, s, const char *) = s->choices[k];
        return 0;
    case MELON_SETTING_ENUM:
        if ((k = choice_index(s->choices, text)) < 0)
            return fail_choices(s, text, err);
        *AT(obj, s, int) = k;
        return 0;
    case MELON_SETTING_FLAG:
        if (!text || strcmp(text, "1") == 0 || strcmp(text, "on") == 0 ||
            strcmp(text, "true") == 0)
            *AT(obj, s, int) = 1;
        else if (strcmp(text, "0") == 0 || strcmp(text, "off") == 0 ||
                 strcmp(text, "false") == 0)
            *AT(obj, s, int) = 0;
        else
            return melon_fail(err, "--%s '%s': must be on or off", s->name, text);
        return 0;
    case MELON_SETTING_INT:
        if (s->choices && (k = choice_index(s->choices, text)) >= 0) {
            *AT(obj, s, int) = k; /* a named value */
            return 0;
        }
        if (parse_long(text, &i) != 0)
            return melon_fail(err, "--%s '%s': is not an integer%s%s", s->name,
                              text, s->choices ? " or " : "",
                              s->choices ? s->choices[0] : "");
        if (check_range(s, text, (double)i, err) != 0) return -1;
        *AT(obj, s, int) = (int)i;
        return 0;
    case MELON_SETTING_U64:
        if (parse_long(text, &i) != 0 || i < 0)
            return melon_fail(err, "--%s '%s': is not a non-negative integer",
                              s->name, text);
        *AT(obj, s, uint64_t) = (uint64_t)i;
        return 0;
    case MELON_SETTING_FLOAT:
    case MELON_SETTING_DOUBLE:
        if (parse_double(text, &x) != 0)
            return melon_fail(err, "--%s '%s': is not a finite number", s->name,
                              text);
        if (check_range(s, text, x, err) != 0) return -1;
        if (s->type == MELON_SETTING_FLOAT) *AT(obj, s, float) = (float)x;
        else *AT(obj, s, double) = x;
        return 0;
    case MELON_SETTING_WIDTHS:
        if (parse_widths(text, AT(obj, s, melon_widths)) != 0)
            return melon_fail(err, "--%s '%s': expected 1 to %d comma-separated "
                                   "widths such as 64,64,64,64",
                              s->name, text, MELON_MAX_WIDTHS);
        return 0;
    }
    return melon_fail(err, "--%s: unknown setting type", s->name);
}

/* The shortest decimal text that reads back to the same float or double. */
static void format_real(double x, int is_float, char *buf, size_t cap) {
    for (int p = is_float ? 6 : 15; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, x);
        if (is_float ? strtof(buf, NULL) == (float)x : strtod(buf, NULL) == x)
            return;
    }
}

void melon_setting_format(const melon_setting *s, const void *obj, char *buf,
                          size_t cap) {
    buf[0] = 0;
    switch (s->type) {
    case MELON_SETTING_STRING:
    case MELON_SETTING_CHOICE: {
        const char *v = *(const char *const *)((const char *)obj + s->offset);
        snprintf(buf, cap, "%s", v ? v : "");
        break;
    }
    case MELON_SETTING_ENUM:
        snprintf(buf, cap, "%s", s->choices[*AT_CONST(obj, s, int)]);
        break;
    case MELON_SETTING_FLAG:
        snprintf(buf, cap, "%s", *AT_CONST(obj, s, int) ? "on" : "off");
        break;
    case MELON_SETTING_INT: {
        int v = *AT_CONST(obj, s, int), named = 0;
        if (s->choices)
            for (int k = 0; s->choices[k] && !named; k++) named = k == v;
        if (named) snprintf(buf, cap, "%s", s->choices[v]);
        else snprintf(buf, cap, "%d", v);
        break;
    }
    case MELON_SETTING_U64:
        snprintf(buf, cap, "%llu",
                 (unsigned long long)*AT_CONST(obj, s, uint64_t));
        break;
    case MELON_SETTING_FLOAT: format_real(*AT_CONST(obj, s, float), 1, buf, cap); break;
    case MELON_SETTING_DOUBLE: format_real(*AT_CONST(obj, s, double), 0, buf, cap); break;
    case MELON_SETTING_WIDTHS: {
        const melon_widths *w = AT_CONST(obj, s, melon_widths);
        size_t used = 0;
        for (int k = 0; k < w->n && used < cap; k++)
            used += (size_t)snprintf(buf + used, cap - used, "%s%d", k ? "," : "",
                                     w->w[k]);
        break;
    }
    }
}

void melon_setting_default_text(const melon_setting *s, char *buf,
                                size_t cap) {
    /* format the default through a scratch value of the setting's type */
    union {
        int i;
        uint64_t u;
        float f;
        double d;
        const char *text;
        melon_widths widths;
    } v;
    memset(&v, 0, sizeof v);
    melon_setting at = *s;
    at.offset = 0;
    switch (s->type) {
    case MELON_SETTING_U64: v.u = (uint64_t)s->def; break;
    case MELON_SETTING_FLOAT: v.f = (float)s->def; break;
    case MELON_SETTING_DOUBLE: v.d = s->def; break;
    case MELON_SETTING_STRING:
    case MELON_SETTING_CHOICE: v.text = s->def_text; break;
    case MELON_SETTING_WIDTHS: parse_widths(s->def_text, &v.widths); break;
    default: v.i = (int)s->def; break;
    }
    melon_setting_format(&at, &v, buf, cap);
}

int melon_setting_is_default(const melon_setting *s, const void *obj) {
    char now[1024], def[1024];
    melon_setting_format(s, obj, now, sizeof now);
    melon_setting_default_text(s, def, sizeof def);
    if (s->type == MELON_SETTING_STRING &&
        (*(const char *const *)((const char *)obj + s->offset) == NULL) !=
            (s->def_text == NULL))
        return 0;
    return strcmp(now, def) == 0;
}
