/* Strategy names, construction by name, and state files. */
#include "update_internal.h"

#include "melon/atomic_file.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const melon_strategy_names[] = {"default", "eals", "eals-replay",
                                             "eals-als", "mwnet", "metasgd",
                                             "s2meta", "sml",
                                             "melon", "melon-i", "melon-p",
                                             NULL};

typedef int (*strategy_constructor)(melon_strategy *, melon_model *,
                                    const melon_config *, melon_err *);

static const struct {
    const char *name;
    strategy_constructor create;
} registry[] = {
    {"default", melon_default_create},
    {"eals", melon_eals_create},
    {"eals-replay", melon_eals_replay_create},
    {"eals-als", melon_eals_als_create},
    {"mwnet", melon_mwnet_create},
    {"metasgd", melon_metasgd_create},
    {"s2meta", melon_s2meta_create},
    {"sml", melon_sml_create},
    {"melon", melon_melon_create},
    {"melon-i", melon_melon_i_create},
    {"melon-p", melon_melon_p_create},
};

double melon_mean_loss(const melon_grads *g) {
    double sum = 0.0;
    for (int r = 0; r < g->n; r++) sum += g->loss[r];
    return g->n ? sum / g->n : NAN;
}

int melon_strategy_create(melon_strategy *s, const char *name,
                          melon_model *model, const melon_config *cfg,
                          melon_err *err) {
    memset(s, 0, sizeof *s);
    s->batch_loss = NAN;
    for (size_t k = 0; k < sizeof registry / sizeof registry[0]; k++)
        if (strcmp(registry[k].name, name) == 0)
            return registry[k].create(s, model, cfg, err);
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
