/* The runner's settings table, and setting any room's setting by name. */
#include "eval/config.h"
#include "melon/evaluate.h"
#include "melon/negatives.h"

#include <stdlib.h>
#include <string.h>

#define AT(field) offsetof(melon_run_config, field)

static const char *const eval_negatives_names[] = {"never", "before", NULL};

/* --negatives all: MELON_NEGATIVES_ALL */
static const char *const negatives_names[] = {"all", NULL};

static const melon_setting settings[] = {
    {.name = "strategy", .type = MELON_SETTING_CHOICE, .offset = AT(strategy),
     .metavar = "NAME", .def_text = "default", .choices = melon_strategy_names,
     .help = "update strategy"},
    {.name = "label", .type = MELON_SETTING_STRING, .offset = AT(label),
     .metavar = "NAME",
     .help = "name of this configuration in the results (default: the strategy)"},
    {.name = "seed", .type = MELON_SETTING_U64, .offset = AT(seed),
     .metavar = "N", .def = 1, .help = "random seed (init, negatives, batch order)"},
    {.name = "epochs", .type = MELON_SETTING_INT, .offset = AT(epochs),
     .metavar = "E", .def = 5, .min = 0, .max = 100000,
     .flags = MELON_SETTING_PROTOCOL | MELON_SETTING_TUNABLE, .tune_low = 1, .tune_high = 5,
     .help = "pre-training epochs over the past"},
    {.name = "train-ratio", .type = MELON_SETTING_DOUBLE, .offset = AT(train_ratio),
     .metavar = "R", .def = 0.8, .min = 0, .max = 1,
     .flags = MELON_SETTING_PROTOCOL | MELON_SETTING_ABOVE_MIN | MELON_SETTING_BELOW_MAX,
     .help = "share of batches that are the past"},
    {.name = "validation", .type = MELON_SETTING_DOUBLE, .offset = AT(validation),
     .metavar = "V", .def = 0, .min = 0, .max = 0.99,
     .help = "model selection: replay the last V of the past batches as the "
             "stream instead of the test stream (0: off)"},
    {.name = "batch-size", .type = MELON_SETTING_INT, .offset = AT(batch_size),
     .metavar = "N", .def = 256, .min = 1, .max = 1 << 20,
     .flags = MELON_SETTING_PROTOCOL, .help = "interactions per batch"},
    {.name = "negatives", .type = MELON_SETTING_INT, .offset = AT(negatives),
     .metavar = "N|all", .def = MELON_EVAL_NEGATIVES, .min = 1, .max = 100000000,
     .choices = negatives_names, .flags = MELON_SETTING_PROTOCOL,
     .help = "rank each interaction against N sampled items its user never "
             "interacts with, or against every item the user has not "
             "interacted with (all)"},
    {.name = "eval-negatives", .type = MELON_SETTING_ENUM,
     .offset = AT(eval_negatives), .metavar = "FROM", .def = MELON_EVAL_NEVER,
     .choices = eval_negatives_names, .flags = MELON_SETTING_PROTOCOL,
     .help = "sampled evaluation negatives come from the items the user "
             "never interacts with anywhere in the stream (never: the "
             "protocol's), or from those the user has not interacted with up "
             "to the end of the batch (before: what a live system knows; live "
             "sessions always draw them so)"},
    {.name = "threads", .type = MELON_SETTING_INT, .offset = AT(threads),
     .metavar = "T", .def = 0, .min = 0, .max = 1024, .help = "threads (0: all cores)"},
    {.name = "ieee-subnormals", .type = MELON_SETTING_FLAG,
     .offset = AT(ieee_subnormals), .def = 0,
     .help = "IEEE subnormal arithmetic instead of flushing subnormal floats "
             "to zero (slow on x86; for benchmarks)"},
    {.name = "out", .type = MELON_SETTING_STRING, .offset = AT(out_json),
     .metavar = "FILE.json", .flags = MELON_SETTING_OUTPUT,
     .help = "write the result JSON here"},
    {.name = "per-batch", .type = MELON_SETTING_STRING, .offset = AT(per_batch_csv),
     .metavar = "FILE.csv", .flags = MELON_SETTING_OUTPUT,
     .help = "write per-batch metrics, loss and update time here"},
    {.name = "ranks", .type = MELON_SETTING_STRING, .offset = AT(ranks_csv),
     .metavar = "FILE.csv", .flags = MELON_SETTING_OUTPUT,
     .help = "write the rank of every evaluated interaction here"},
    {.name = "save-model", .type = MELON_SETTING_STRING, .offset = AT(save_model),
     .metavar = "FILE", .flags = MELON_SETTING_OUTPUT,
     .help = "save the final session here as a checkpoint (melon "
             "recommend, melon_open)"},
    {.name = "checkpoint", .type = MELON_SETTING_STRING, .offset = AT(checkpoint),
     .metavar = "FILE", .flags = MELON_SETTING_OUTPUT,
     .help = "keep the run's whole state here (atomically replaced): after "
             "pre-training and every --checkpoint-every online batches"},
    {.name = "checkpoint-every", .type = MELON_SETTING_INT,
     .offset = AT(checkpoint_every), .metavar = "N", .def = 0, .min = 0,
     .max = 1e9, .flags = MELON_SETTING_OUTPUT,
     .help = "online batches between checkpoints (0: only after pre-training)"},
    {.name = "quiet", .type = MELON_SETTING_FLAG, .offset = AT(quiet), .def = 0,
     .flags = MELON_SETTING_OUTPUT, .help = "do not print the result table"},
};

const melon_settings_table melon_run_settings = {
    "run", "Run", settings, (int)(sizeof settings / sizeof settings[0])};

/* A copy of a string set by name, owned by the config. */
struct melon_config_text {
    melon_config_text *next;
    char text[];
};

#define ROOM(table, member) {&table, offsetof(melon_config, member)}

int melon_config_rooms(melon_config_room *out, int cap) {
    const melon_config_room fixed[] = {
        ROOM(melon_run_settings, run), ROOM(melon_data_settings, data),
        ROOM(melon_model_settings, model), ROOM(melon_optimizer_settings, optim)};
    int n = 0;
    for (size_t k = 0; k < sizeof fixed / sizeof fixed[0] && n < cap; k++)
        out[n++] = fixed[k];
    for (const melon_strategy_family *f = melon_strategy_families;
         f->table && n < cap; f++)
        out[n++] = (melon_config_room){
            f->table, offsetof(melon_config, strategy) + f->offset};
    return n;
}

int melon_config_run_rooms(const melon_config *cfg, melon_config_room *out,
                           int cap) {
    melon_config_room all[MELON_MAX_ROOMS];
    int n_all = melon_config_rooms(all, MELON_MAX_ROOMS), n = 0;
    const melon_strategy_entry *e = melon_strategy_find(cfg->run.strategy);
    for (int k = 0; k < n_all && n < cap; k++) {
        const melon_settings_table *t = all[k].table;
        int keep = k < 3 || (t == &melon_optimizer_settings && e && e->uses_optimizer) ||
                   (e && e->family && e->family->table == t);
        if (keep) out[n++] = all[k];
    }
    return n;
}

void melon_config_default(melon_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    melon_settings_table_defaults(&melon_run_settings, &cfg->run);
    cfg->run.progress = -1;
    melon_data_config_default(&cfg->data);
    melon_model_config_default(&cfg->model);
    melon_optimizer_config_default(&cfg->optim);
    melon_strategy_config_default(&cfg->strategy);
}

void melon_config_free(melon_config *cfg) {
    while (cfg->texts) {
        melon_config_text *next = cfg->texts->next;
        free(cfg->texts);
        cfg->texts = next;
    }
}

int melon_config_copy(melon_config *dst, const melon_config *src,
                      melon_err *err) {
    *dst = *src;
    dst->texts = NULL;
    melon_config_room rooms[MELON_MAX_ROOMS];
    int n = melon_config_rooms(rooms, MELON_MAX_ROOMS);
    for (int r = 0; r < n; r++) {
        const melon_settings_table *t = rooms[r].table;
        for (int k = 0; k < t->n; k++) {
            const melon_setting *s = &t->settings[k];
            const char *const *value = (const char *const *)(
                (const char *)src + rooms[r].offset + s->offset);
            if (s->type != MELON_SETTING_STRING || !*value) continue;
            if (melon_config_set(dst, s->name, *value, err) != 0) {
                melon_config_free(dst);
                return -1;
            }
        }
    }
    return 0;
}

const melon_setting *melon_config_find(const melon_config *cfg,
                                       const char *name, void **room) {
    melon_config_room all[MELON_MAX_ROOMS];
    int n = melon_config_rooms(all, MELON_MAX_ROOMS);
    for (int k = 0; k < n; k++) {
        const melon_setting *s = melon_settings_table_find(all[k].table, name);
        if (s) {
            if (room) *room = (char *)cfg + all[k].offset;
            return s;
        }
    }
    return NULL;
}

int melon_config_set(melon_config *cfg, const char *name, const char *text,
                     melon_err *err) {
    void *room;
    const melon_setting *s = melon_config_find(cfg, name, &room);
    if (!s) return melon_fail(err, "unknown setting '%s'", name);
    if (text && s->type == MELON_SETTING_STRING) {
        size_t len = strlen(text);
        melon_config_text *copy = melon_alloc(sizeof *copy + len + 1, err);
        if (!copy) return -1;
        memcpy(copy->text, text, len + 1);
        copy->next = cfg->texts;
        cfg->texts = copy;
        text = copy->text;
    }
    return melon_setting_parse(s, room, text, err);
}

int melon_config_assign(melon_config *cfg, const char *assignment,
                        melon_err *err) {
    const char *eq = strchr(assignment, '=');
    if (!eq) return melon_config_set(cfg, assignment, NULL, err);
    char name[128];
    size_t len = (size_t)(eq - assignment);
    if (len == 0 || len >= sizeof name)
        return melon_fail(err, "'%s': expected name=value", assignment);
    memcpy(name, assignment, len);
    name[len] = 0;
    return melon_config_set(cfg, name, eq + 1, err);
}

int melon_config_get(const melon_config *cfg, const char *name, char *buf,
                     size_t cap, melon_err *err) {
    void *room;
    const melon_setting *s = melon_config_find(cfg, name, &room);
    if (!s) return melon_fail(err, "unknown setting '%s'", name);
    melon_setting_format(s, room, buf, cap);
    return 0;
}

melon_run_shape melon_config_shape(const melon_config *cfg) {
    return (melon_run_shape){cfg->run.batch_size, cfg->run.seed, cfg->run.threads};
}

int melon_config_create_strategy(melon_strategy *s, const char *name,
                                 melon_model *model, const melon_config *cfg,
                                 melon_err *err) {
    melon_run_shape shape = melon_config_shape(cfg);
    return melon_strategy_create(s, name, model, &cfg->strategy, &cfg->optim,
                                 &shape, err);
}
