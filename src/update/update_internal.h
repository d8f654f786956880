/* Shared by the strategy implementations (not part of the public API). */
#ifndef MELON_UPDATE_INTERNAL_H
#define MELON_UPDATE_INTERNAL_H

#include "model/grad.h"
#include "model/optim.h"
#include "update/strategy.h"

/* Constructors, one per strategy (melon_strategy_constructor), dispatched
 * by melon_strategy_create: default/, eals/ (eals, eals-replay, eals-als),
 * mwnet/, metasgd/, s2meta/, sml/ (update-strategies.md B.2-B.6) and
 * melon/ (MeLON and its ablations, in the form the variant selects). */
#define MELON_CONSTRUCTOR(fn)                                                 \
    int fn(melon_strategy *s, melon_model *m, const void *own,               \
           const melon_optimizer_config *optim, const melon_run_shape *shape, \
           melon_err *err)
MELON_CONSTRUCTOR(melon_default_create);
MELON_CONSTRUCTOR(melon_eals_create);
MELON_CONSTRUCTOR(melon_eals_replay_create);
MELON_CONSTRUCTOR(melon_eals_als_create);
MELON_CONSTRUCTOR(melon_mwnet_create);
MELON_CONSTRUCTOR(melon_metasgd_create);
MELON_CONSTRUCTOR(melon_s2meta_create);
MELON_CONSTRUCTOR(melon_sml_create);
MELON_CONSTRUCTOR(melon_melon_create);
MELON_CONSTRUCTOR(melon_melon_i_create);
MELON_CONSTRUCTOR(melon_melon_p_create);
/* MeLON in the authors' code form (update-strategies.md A.3-A.6); called by
 * the "melon" strategies when the variant is MELON_VARIANT_OFFICIAL. */
int melon_official_create(melon_strategy *s, melon_model *m,
                          const melon_melon_config *cfg,
                          const melon_run_shape *shape, melon_ablation ablation,
                          melon_err *err);

/* Mean of the per-triple losses of the last forward_backward. */
double melon_mean_loss(const melon_grads *g);

#endif
