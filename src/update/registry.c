/* Strategy names, construction by name, and state files. */
#include "update_internal.h"

#include "core/atomic_file.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const melon_strategy_names[] = {"default", "eals", "eals-replay",
                                             "eals-als", "mwnet", "metasgd",
                                             "s2meta", "sml",
                                             "melon", "melon-i", "melon-p",
                                             NULL};

#define FAMILY(table, member) {&table, offsetof(melon_strategy_config, member)}

const melon_strategy_family melon_strategy_families[] = {
    FAMILY(melon_eals_settings, eals),
    FAMILY(melon_mwnet_settings, mwnet),
    FAMILY(melon_metasgd_settings, metasgd),
    FAMILY(melon_s2meta_settings, s2meta),
    FAMILY(melon_sml_settings, sml),
    FAMILY(melon_melon_settings, melon),
    {NULL, 0},
};

enum { EALS, MWNET, METASGD, S2META, SML, MELON };
#define OWN(k) (&melon_strategy_families[k])

/* name, own settings, steps with the optimiser, support-set factor */
static const melon_strategy_entry registry[] = {
    {"default", NULL, 1, 1, melon_default_create},
    {"eals", OWN(EALS), 1, 1, melon_eals_create},
    {"eals-replay", OWN(EALS), 1, 2, melon_eals_replay_create},
    {"eals-als", OWN(EALS), 0, 1, melon_eals_als_create},
    {"mwnet", OWN(MWNET), 1, 2, melon_mwnet_create},
    {"metasgd", OWN(METASGD), 0, 2, melon_metasgd_create},
    {"s2meta", OWN(S2META), 0, 2, melon_s2meta_create},
    {"sml", OWN(SML), 0, 1, melon_sml_create},
    {"melon", OWN(MELON), 0, 2, melon_melon_create},
    {"melon-i", OWN(MELON), 0, 2, melon_melon_i_create},
    {"melon-p", OWN(MELON), 0, 2, melon_melon_p_create},
};

void melon_strategy_config_default(melon_strategy_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    for (const melon_strategy_family *f = melon_strategy_families; f->table; f++)
        melon_settings_table_defaults(f->table, (char *)cfg + f->offset);
}

const melon_strategy_entry *melon_strategy_find(const char *name) {
    for (size_t k = 0; k < sizeof registry / sizeof registry[0]; k++)
        if (strcmp(registry[k].name, name) == 0) return &registry[k];
    return NULL;
}

double melon_mean_loss(const melon_grads *g) {
    double sum = 0.0;
    for (int r = 0; r < g->n; r++) sum += g->loss[r];
    return g->n ? sum / g->n : NAN;
}

int melon_strategy_create(melon_strategy *s, const char *name,
                          melon_model *model, const melon_strategy_config *settings,
                          const melon_optimizer_config *optim,
                          const melon_run_shape *shape, melon_err *err) {
    memset(s, 0, sizeof *s);
    s->batch_loss = NAN;
    const melon_strategy_entry *e = melon_strategy_find(name);
    if (e) {
        const void *own = e->family ? (const char *)settings + e->family->offset
                                    : NULL;
        return e->create(s, model, own, optim, shape, err);
    }
    char names[256] = "";
    for (int k = 0; melon_strategy_names[k]; k++) {
        if (k) strncat(names, ", ", sizeof names - strlen(names) - 1);
        strncat(names, melon_strategy_names[k], sizeof names - strlen(names) - 1);
    }
    return melon_fail(err, "unknown strategy '%s' (known: %s)", name, names);
}

void melon_strategy_free(melon_strategy *s) {
    if (s->ops && s->ops->free_impl) s->ops->free_impl(s);
    s->impl = NULL;
    s->ops = NULL;
}

static const char strategy_magic[8] = {'M', 'E', 'L', 'S', 'T', 'R', '0', '1'};

int melon_strategy_save(const melon_strategy *s, const char *path,
                        melon_err *err) {
    melon_atomic_file af;
    if (melon_atomic_open(&af, path, err) != 0) return -1;
    uint32_t len = (uint32_t)strlen(s->ops->name);
    errno = 0;
    int ok = fwrite(strategy_magic, 1, 8, af.f) == 8 &&
             fwrite(&len, sizeof len, 1, af.f) == 1 &&
             fwrite(s->ops->name, 1, len, af.f) == len;
    melon_err inner = {{0}};
    if (ok && s->ops->save && s->ops->save(s, af.f, &inner) != 0) ok = 0;
    if (!ok) {
        /* a failed write's reason, when one failed (a save may also refuse) */
        int why = errno;
        melon_atomic_abort(&af);
        return melon_fail(err, "%s: cannot write strategy state%s%s%s%s", path,
                          inner.msg[0] ? ": " : "", inner.msg, why ? ": " : "",
                          why ? strerror(why) : "");
    }
    return melon_atomic_commit(&af, err);
}

int melon_strategy_load(melon_strategy *s, const char *path, melon_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return melon_fail(err, "%s: cannot open", path);
    char magic[8], name[64];
    uint32_t len = 0;
    int ok = fread(magic, 1, 8, f) == 8 &&
             memcmp(magic, strategy_magic, 8) == 0 &&
             fread(&len, sizeof len, 1, f) == 1 && len < sizeof name &&
             fread(name, 1, len, f) == len;
    if (!ok) {
        fclose(f);
        return melon_fail(err, "%s: not a melon strategy state file", path);
    }
    name[len] = 0;
    if (strcmp(name, s->ops->name) != 0) {
        fclose(f);
        return melon_fail(err, "%s: state of strategy '%s', not '%s'", path,
                          name, s->ops->name);
    }
    melon_err inner = {{0}};
    int rc = s->ops->load ? s->ops->load(s, f, &inner) : 0;
    fclose(f);
    if (rc != 0) return melon_fail(err, "%s: %s", path, inner.msg);
    return 0;
}
