/* A session's settings as "name=value" text: the options of `melon run`
 * that shape the model, the batches and the default optimiser, plus the
 * session's own (evaluate). */
#include "session_internal.h"

#include "melon/evaluate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { SET_MODEL, SET_STRATEGY, SET_INT, SET_U64, SET_FLOAT,
               SET_DOUBLE, SET_FLAG, SET_OPTIMIZER, SET_LAYERS,
               SET_NEGATIVES } setting_kind;

typedef struct {
    const char *name;
    setting_kind kind;
    size_t offset;        /* into melon_config; evaluate lives outside */
    double min, max;
} setting_spec;

#define AT(field) offsetof(melon_config, field)
#define EVALUATE ((size_t)-1)

static const setting_spec specs[] = {
    {"model", SET_MODEL, AT(model), 0, 0},
    {"strategy", SET_STRATEGY, AT(strategy), 0, 0},
    {"seed", SET_U64, AT(seed), 0, 0},
    {"batch-size", SET_INT, AT(batch_size), 1, 1 << 20},
    {"epochs", SET_INT, AT(epochs), 0, 100000},
    {"dim", SET_INT, AT(model_cfg.dim), 1, 4096},
    {"layers", SET_LAYERS, AT(model_cfg), 0, 0},
    {"init-std", SET_FLOAT, AT(model_cfg.init_std), 0, 10},
    {"optimizer", SET_OPTIMIZER, AT(optim.kind), 0, 0},
    {"lr", SET_FLOAT, AT(optim.lr), 0, 1e6},
    {"l2", SET_FLOAT, AT(optim.l2), 0, 1e6},
    {"dense-adam", SET_FLAG, AT(optim.dense), 0, 1},
    {"threads", SET_INT, AT(threads), 0, 1024},
    {"negatives", SET_NEGATIVES, AT(negatives), 1, 1 << 30},
    {"evaluate", SET_FLAG, EVALUATE, 0, 1},
};
#define N_SPECS (sizeof specs / sizeof specs[0])

static const char *const model_names[] = {"bpr", "ncf", "pop", NULL};

static const setting_spec *find(const char *name, size_t len) {
    for (size_t k = 0; k < N_SPECS; k++)
        if (strlen(specs[k].name) == len && strncmp(specs[k].name, name, len) == 0)
            return &specs[k];
    return NULL;
}

static const char *choice(const char *const *names, const char *value) {
    for (; *names; names++)
        if (strcmp(*names, value) == 0) return *names;
    return NULL;
}

static int parse_flag(const char *v, int *out) {
    static const char *const on[] = {"1", "on", "true", "yes", NULL};
    static const char *const off[] = {"0", "off", "false", "no", NULL};
    if (choice(on, v)) *out = 1;
    else if (choice(off, v)) *out = 0;
    else return -1;
    return 0;
}

static int parse_layers(melon_model_config *m, const char *v) {
    int n = 0, widths[MELON_MAX_LAYERS];
    while (*v) {
        char *end;
        errno = 0;
        long w = strtol(v, &end, 10);
        if (end == v || errno || w < 1 || w > 4096 || (*end && *end != ',') ||
            n == MELON_MAX_LAYERS)
            return -1;
        widths[n++] = (int)w;
        v = *end ? end + 1 : end;
    }
    if (n == 0) return -1;
    m->n_layers = n;
    memcpy(m->layers, widths, sizeof(int) * (size_t)n);
    return 0;
}

int session_apply_setting(melon_config *cfg, int *evaluate, const char *text,
                          melon_err *err) {
    const char *eq = text ? strchr(text, '=') : NULL;
    if (!eq)
        return melon_fail(err, "setting '%s': expected name=value",
                          text ? text : "(null)");
    const setting_spec *s = find(text, (size_t)(eq - text));
    if (!s)
        return melon_fail(err, "unknown setting '%.*s'", (int)(eq - text), text);
    const char *v = eq + 1;
    char *base = (char *)cfg + (s->offset == EVALUATE ? 0 : s->offset);
    char *end;
    errno = 0;
    switch (s->kind) {
    case SET_MODEL: {
        const char *c = choice(model_names, v);
        if (!c) return melon_fail(err, "setting model '%s': expected bpr, ncf or pop", v);
        cfg->model = c;
        return 0;
    }
    case SET_STRATEGY: {
        const char *c = choice(melon_strategy_names, v);
        if (!c) return melon_fail(err, "setting strategy '%s': unknown strategy", v);
        cfg->strategy = c;
        return 0;
    }
    case SET_OPTIMIZER:
        if (strcmp(v, "adam") == 0) cfg->optim.kind = MELON_OPT_ADAM;
        else if (strcmp(v, "sgd") == 0) cfg->optim.kind = MELON_OPT_SGD;
        else return melon_fail(err, "setting optimizer '%s': expected adam or sgd", v);
        return 0;
    case SET_NEGATIVES: {
        if (strcmp(v, "all") == 0) {
            cfg->negatives = MELON_NEGATIVES_ALL;
            return 0;
        }
        long long x = strtoll(v, &end, 10);
        if (end == v || *end || errno || x < s->min || x > s->max)
            return melon_fail(err, "setting negatives '%s': expected 'all' or "
                                   "a number of sampled negatives", v);
        cfg->negatives = (int)x;
        return 0;
    }
    case SET_LAYERS:
        if (parse_layers(&cfg->model_cfg, v) != 0)
            return melon_fail(err, "setting layers '%s': expected up to %d "
                                   "comma-separated widths such as 64,64",
                              v, MELON_MAX_LAYERS);
        return 0;
    case SET_FLAG: {
        int on;
        if (parse_flag(v, &on) != 0)
            return melon_fail(err, "setting %s '%s': expected 1 or 0", s->name, v);
        if (s->offset == EVALUATE) *evaluate = on;
        else *(int *)base = on;
        return 0;
    }
    case SET_U64: {
        unsigned long long x = strtoull(v, &end, 10);
        if (end == v || *end || errno || v[0] == '-')
            return melon_fail(err, "setting %s '%s': expected a non-negative "
                                   "integer", s->name, v);
        *(uint64_t *)base = x;
        return 0;
    }
    case SET_INT: {
        long long x = strtoll(v, &end, 10);
        if (end == v || *end || errno || x < s->min || x > s->max)
            return melon_fail(err, "setting %s '%s': expected an integer from "
                                   "%g to %g", s->name, v, s->min, s->max);
        *(int *)base = (int)x;
        return 0;
    }
    case SET_FLOAT:
    case SET_DOUBLE: {
        double x = strtod(v, &end);
        if (end == v || *end || errno || !isfinite(x) || x < s->min || x > s->max)
            return melon_fail(err, "setting %s '%s': expected a number from "
                                   "%g to %g", s->name, v, s->min, s->max);
        if (s->kind == SET_FLOAT) *(float *)base = (float)x;
        else *(double *)base = x;
        return 0;
    }
    }
    return -1;
}

static void format_one(const melon_config *cfg, int evaluate,
                       const setting_spec *s, char *out, size_t size) {
    const char *base = (const char *)cfg + (s->offset == EVALUATE ? 0 : s->offset);
    switch (s->kind) {
    case SET_MODEL: snprintf(out, size, "%s", cfg->model); break;
    case SET_STRATEGY: snprintf(out, size, "%s", cfg->strategy); break;
    case SET_OPTIMIZER:
        snprintf(out, size, "%s", cfg->optim.kind == MELON_OPT_SGD ? "sgd" : "adam");
        break;
    case SET_NEGATIVES:
        if (cfg->negatives == MELON_NEGATIVES_ALL) snprintf(out, size, "all");
        else snprintf(out, size, "%d", cfg->negatives);
        break;
    case SET_LAYERS: {
        size_t at = 0;
        out[0] = 0;
        for (int l = 0; l < cfg->model_cfg.n_layers && at < size; l++)
            at += (size_t)snprintf(out + at, size - at, "%s%d", l ? "," : "",
                                   cfg->model_cfg.layers[l]);
        break;
    }
    case SET_FLAG:
        snprintf(out, size, "%d", s->offset == EVALUATE ? evaluate : *(const int *)base);
        break;
    case SET_U64:
        snprintf(out, size, "%llu", (unsigned long long)*(const uint64_t *)base);
        break;
    case SET_INT: snprintf(out, size, "%d", *(const int *)base); break;
    case SET_FLOAT: snprintf(out, size, "%.9g", (double)*(const float *)base); break;
    case SET_DOUBLE: snprintf(out, size, "%.17g", *(const double *)base); break;
    }
}

int session_format_setting(const melon_config *cfg, int evaluate,
                           const char *name, char *value, size_t size,
                           melon_err *err) {
    const setting_spec *s = name ? find(name, strlen(name)) : NULL;
    if (!s) return melon_fail(err, "unknown setting '%s'", name ? name : "(null)");
    format_one(cfg, evaluate, s, value, size);
    return 0;
}

int session_write_settings(const melon_config *cfg, int evaluate, char *out,
                           size_t size) {
    size_t at = 0;
    for (size_t k = 0; k < N_SPECS; k++) {
        char value[256];
        format_one(cfg, evaluate, &specs[k], value, sizeof value);
        int n = snprintf(out + at, size - at, "%s=%s\n", specs[k].name, value);
        if (n < 0 || (size_t)n >= size - at) return -1;
        at += (size_t)n;
    }
    return (int)at;
}
