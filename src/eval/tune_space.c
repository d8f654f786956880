/* Search spaces of `melon tune`: each strategy's from the settings tables,
 * changed by a space file, and the candidates drawn from them. */
#include "eval/tune.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Whether a setting may be searched at all: numbers, enums, choices and
 * flags of the strategy's rooms, not where a run writes; of the run's and
 * the data's rooms only those the tables mark tunable (the others define
 * the validation itself: batch size, negatives, split, seed). */
static int searchable(const melon_setting *s, const melon_settings_table *t) {
    if (s->flags & MELON_SETTING_OUTPUT) return 0;
    if (s->type == MELON_SETTING_STRING || s->type == MELON_SETTING_WIDTHS ||
        s->type == MELON_SETTING_U64)
        return 0;
    if ((t == &melon_run_settings || t == &melon_data_settings) &&
        !(s->flags & MELON_SETTING_TUNABLE))
        return 0;
    return 1;
}

/* The rooms the runs of strategy record. */
static int strategy_rooms(const char *strategy, melon_config_room *rooms) {
    melon_config cfg;
    melon_config_default(&cfg);
    cfg.run.strategy = strategy;
    return melon_config_run_rooms(&cfg, rooms, MELON_MAX_ROOMS);
}

/* The setting called name among the rooms strategy's runs record. */
static const melon_setting *strategy_setting(const char *strategy,
                                             const char *name,
                                             const melon_settings_table **table) {
    melon_config_room rooms[MELON_MAX_ROOMS];
    int n = strategy_rooms(strategy, rooms);
    for (int r = 0; r < n; r++) {
        const melon_setting *s = melon_settings_table_find(rooms[r].table, name);
        if (s) {
            if (table) *table = rooms[r].table;
            return s;
        }
    }
    return NULL;
}

static int unknown_strategy(const char *name, melon_err *err) {
    char names[512] = "";
    for (int k = 0; melon_strategy_names[k]; k++) {
        strncat(names, k ? ", " : "", sizeof names - strlen(names) - 1);
        strncat(names, melon_strategy_names[k], sizeof names - strlen(names) - 1);
    }
    return melon_fail(err, "unknown strategy '%s' (known: %s)", name, names);
}

static void set_choices(melon_tune_dim *d, const melon_setting *s) {
    d->is_range = 0;
    d->n_values = 0;
    if (s->type == MELON_SETTING_FLAG) {
        snprintf(d->values[0], sizeof d->values[0], "off");
        snprintf(d->values[1], sizeof d->values[1], "on");
        d->n_values = 2;
        return;
    }
    for (int k = 0; s->choices[k] && k < MELON_TUNE_MAX_VALUES; k++)
        snprintf(d->values[d->n_values++], sizeof d->values[0], "%s", s->choices[k]);
}

int melon_tune_default_space(melon_tune_space *space, const char *strategy,
                             melon_err *err) {
    memset(space, 0, sizeof *space);
    if (!melon_strategy_find(strategy)) return unknown_strategy(strategy, err);
    snprintf(space->strategy, sizeof space->strategy, "%s", strategy);
    melon_config_room rooms[MELON_MAX_ROOMS];
    int n = strategy_rooms(strategy, rooms);
    for (int r = 0; r < n; r++) {
        const melon_settings_table *t = rooms[r].table;
        for (int k = 0; k < t->n; k++) {
            const melon_setting *s = &t->settings[k];
            if (!(s->flags & MELON_SETTING_TUNABLE) || !searchable(s, t)) continue;
            if (space->n_dims == MELON_TUNE_MAX_DIMS)
                return melon_fail(err, "%s: more than %d tunable settings", strategy,
                                  MELON_TUNE_MAX_DIMS);
            melon_tune_dim *d = &space->dims[space->n_dims++];
            memset(d, 0, sizeof *d);
            d->setting = s;
            if (s->type == MELON_SETTING_ENUM || s->type == MELON_SETTING_CHOICE ||
                s->type == MELON_SETTING_FLAG) {
                set_choices(d, s);
            } else {
                d->is_range = 1;
                d->low = s->tune_low;
                d->high = s->tune_high;
                d->log = (s->flags & MELON_SETTING_LOG) != 0;
            }
        }
    }
    return 0;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

/* Checks text as a value of setting s (type and range), in a scratch
 * copy of the defaults. */
static int check_value(const melon_setting *s, const char *text, double *number,
                       melon_err *err) {
    melon_config cfg;
    melon_config_default(&cfg);
    if (melon_config_set(&cfg, s->name, text, err) != 0) return -1;
    if (number) {
        char *end;
        *number = strtod(text, &end);
    }
    return 0;
}

/* Parses the right-hand side of a space line into d. */
static int parse_dim(melon_tune_dim *d, const melon_setting *s, char *rhs,
                     melon_err *err) {
    memset(d, 0, sizeof *d);
    d->setting = s;
    int numeric = s->type == MELON_SETTING_INT || s->type == MELON_SETTING_FLOAT ||
                  s->type == MELON_SETTING_DOUBLE;
    char *dots = strstr(rhs, "..");
    if (dots) {
        if (!numeric)
            return melon_fail(err, "'%s': %s takes a list of values, not a range",
                              rhs, s->name);
        *dots = 0;
        char *low = trim(rhs), *rest = trim(dots + 2), *scale = rest;
        while (*scale && !isspace((unsigned char)*scale)) scale++;
        if (*scale) *scale++ = 0;
        scale = trim(scale);
        d->is_range = 1;
        if (check_value(s, low, &d->low, err) != 0 ||
            check_value(s, rest, &d->high, err) != 0)
            return -1;
        if (*scale && strcmp(scale, "log") != 0 && strcmp(scale, "linear") != 0)
            return melon_fail(err, "'%s': expected 'log' or 'linear' after the range",
                              scale);
        d->log = strcmp(scale, "log") == 0;
        if (d->low > d->high)
            return melon_fail(err, "range %s..%s of %s: the low end is above the high end",
                              low, rest, s->name);
        if (d->log && d->low <= 0)
            return melon_fail(err, "range %s..%s of %s: a log range needs a "
                                   "positive low end", low, rest, s->name);
        return 0;
    }
    char *save = NULL;
    for (char *v = strtok_r(rhs, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
        v = trim(v);
        if (!*v) return melon_fail(err, "an empty value in the list of %s", s->name);
        if (d->n_values == MELON_TUNE_MAX_VALUES)
            return melon_fail(err, "more than %d values for %s",
                              MELON_TUNE_MAX_VALUES, s->name);
        if (strlen(v) >= sizeof d->values[0])
            return melon_fail(err, "value '%.40s...' of %s is too long", v, s->name);
        if (check_value(s, v, NULL, err) != 0) return -1;
        snprintf(d->values[d->n_values++], sizeof d->values[0], "%s", v);
    }
    if (d->n_values == 0) return melon_fail(err, "no value for %s", s->name);
    return 0;
}

/* d into space: replaces the setting's dimension, or adds one. */
static int put_dim(melon_tune_space *space, const melon_tune_dim *d,
                   melon_err *err) {
    for (int k = 0; k < space->n_dims; k++)
        if (space->dims[k].setting == d->setting) {
            space->dims[k] = *d;
            return 0;
        }
    if (space->n_dims == MELON_TUNE_MAX_DIMS)
        return melon_fail(err, "more than %d settings searched for %s",
                          MELON_TUNE_MAX_DIMS, space->strategy);
    space->dims[space->n_dims++] = *d;
    return 0;
}

/* One line "[STRATEGY:]NAME = VALUES" of a space file. */
static int read_space_line(melon_tune_space *spaces, int n_spaces, char *line,
                           melon_err *err) {
    char *eq = strchr(line, '=');
    if (!eq) return melon_fail(err, "'%s': expected NAME = LOW..HIGH, NAME = V1,V2,... "
                                    "or NAME = V", line);
    *eq = 0;
    char *lhs = trim(line), *rhs = trim(eq + 1);
    const char *only = NULL;
    char *colon = strchr(lhs, ':');
    if (colon) {
        *colon = 0;
        only = trim(lhs);
        lhs = trim(colon + 1);
        if (!melon_strategy_find(only)) return unknown_strategy(only, err);
    }
    melon_config scratch;
    melon_config_default(&scratch);
    if (!melon_config_find(&scratch, lhs, NULL))
        return melon_fail(err, "unknown setting '%s'", lhs);
    int used = 0;
    for (int k = 0; k < n_spaces; k++) {
        melon_tune_space *sp = &spaces[k];
        if (only && strcmp(only, sp->strategy) != 0) continue;
        const melon_settings_table *t;
        const melon_setting *s = strategy_setting(sp->strategy, lhs, &t);
        if (!s) {
            if (only)
                return melon_fail(err, "%s is not a setting of %s's runs", lhs, only);
            continue;
        }
        if (!searchable(s, t))
            return melon_fail(err, "%s cannot be searched (it %s)", lhs,
                              (s->flags & MELON_SETTING_OUTPUT) ? "says where a run writes"
                              : t == &melon_run_settings || t == &melon_data_settings
                                  ? "defines the validation itself"
                                  : "is not a number, a choice or a flag");
        char copy[1024];
        snprintf(copy, sizeof copy, "%s", rhs);
        melon_tune_dim d;
        if (parse_dim(&d, s, copy, err) != 0 || put_dim(sp, &d, err) != 0) return -1;
        used = 1;
    }
    if (!used && !only)
        return melon_fail(err, "no strategy tuned here has the setting %s", lhs);
    return 0;
}

int melon_tune_read_space(melon_tune_space *spaces, int n_spaces,
                          const char *path, melon_err *err) {
    FILE *f = fopen(path, "r");
    if (!f) return melon_fail(err, "--space %s: cannot open: %s", path, strerror(errno));
    char line[2048];
    int number = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        number++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            rc = melon_fail(err, "%s:%d: line longer than %zu characters", path, number,
                            sizeof line - 2);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *text = trim(line);
        if (!*text) continue;
        melon_err why = {{0}};
        if (read_space_line(spaces, n_spaces, text, &why) != 0)
            rc = melon_fail(err, "%s:%d: %s", path, number, why.msg);
    }
    if (rc == 0 && ferror(f))
        rc = melon_fail(err, "%s: read error: %s", path, strerror(errno));
    fclose(f);
    return rc;
}

void melon_tune_print_space(FILE *out, const melon_tune_space *space,
                            int markdown) {
    for (int k = 0; k < space->n_dims; k++) {
        const melon_tune_dim *d = &space->dims[k];
        char def[256], what[1100] = "";
        melon_setting_default_text(d->setting, def, sizeof def);
        if (d->is_range) {
            snprintf(what, sizeof what, "%g .. %g%s", d->low, d->high,
                     d->log ? ", log scale" : "");
        } else {
            for (int v = 0; v < d->n_values; v++) {
                strncat(what, v ? ", " : "", sizeof what - strlen(what) - 1);
                strncat(what, d->values[v], sizeof what - strlen(what) - 1);
            }
        }
        if (markdown)
            fprintf(out, "| %s | `--%s` | %s | %s | %s |\n", space->strategy,
                    d->setting->name, what, def, d->setting->help);
        else
            fprintf(out, "%-12s %-22s %-28s default %s\n", space->strategy,
                    d->setting->name, what, def);
    }
}

/* A stable number for a strategy name (FNV-1a), so each strategy draws its
 * own candidates whatever else is tuned beside it. */
static uint64_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void draw(const melon_tune_dim *d, melon_rng *rng, char *buf, size_t cap) {
    if (!d->is_range) {
        snprintf(buf, cap, "%s", d->values[melon_rng_below(rng, (uint32_t)d->n_values)]);
        return;
    }
    double u = melon_rng_uniform(rng);
    double x = d->log ? exp(log(d->low) + u * (log(d->high) - log(d->low)))
                      : d->low + u * (d->high - d->low);
    if (d->setting->type == MELON_SETTING_INT) {
        /* every integer in [low, high] equally likely on a linear scale */
        if (!d->log) x = floor(d->low + u * (d->high - d->low + 1));
        x = fmin(fmax(round(x), d->low), d->high);
        snprintf(buf, cap, "%.0f", x);
    } else {
        snprintf(buf, cap, "%.3g", x);
    }
}

int melon_tune_apply(melon_config *cfg, const melon_config *base,
                     const char *candidate, melon_err *err) {
    if (melon_config_copy(cfg, base, err) != 0) return -1;
    char copy[MELON_TUNE_TEXT], *save = NULL;
    snprintf(copy, sizeof copy, "%s", candidate);
    for (char *a = strtok_r(copy, " ", &save); a; a = strtok_r(NULL, " ", &save))
        if (melon_config_assign(cfg, a, err) != 0) {
            melon_config_free(cfg);
            return -1;
        }
    return 0;
}

int melon_tune_candidate(const melon_tune_space *space,
                         const melon_config *base, uint64_t seed, int k,
                         char *out, size_t cap, melon_err *err) {
    melon_config cfg;
    if (melon_config_copy(&cfg, base, err) != 0) return -1;
    melon_rng rng;
    melon_rng_seed_stream(&rng, seed ^ name_hash(space->strategy), (uint64_t)k);
    size_t used = 0;
    out[0] = 0;
    for (int d = 0; d < space->n_dims; d++) {
        const melon_tune_dim *dim = &space->dims[d];
        char value[128];
        if (k == 0) melon_config_get(&cfg, dim->setting->name, value, sizeof value, err);
        else draw(dim, &rng, value, sizeof value);
        /* through the table: checked, and formatted as a re-run reads it */
        if (melon_config_set(&cfg, dim->setting->name, value, err) != 0 ||
            melon_config_get(&cfg, dim->setting->name, value, sizeof value, err) != 0) {
            melon_config_free(&cfg);
            return -1;
        }
        int w = snprintf(out + used, cap - used, "%s%s=%s", d ? " " : "",
                         dim->setting->name, value);
        if (w < 0 || (size_t)w >= cap - used) {
            melon_config_free(&cfg);
            return melon_fail(err, "%s: candidate settings longer than %zu characters",
                              space->strategy, cap);
        }
        used += (size_t)w;
    }
    melon_config_free(&cfg);
    return 0;
}
