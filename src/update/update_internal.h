/* Shared by the strategy implementations (not part of the public API). */
#ifndef MELON_UPDATE_INTERNAL_H
#define MELON_UPDATE_INTERNAL_H

#include "melon/grad.h"
#include "melon/optim.h"
#include "melon/strategy.h"

/* Constructors, one per strategy, dispatched by melon_strategy_create. */
int melon_default_create(melon_strategy *s, melon_model *model,
                         const melon_config *cfg, melon_err *err);
/* Baselines (update-strategies.md B.2-B.4): eals.c, eals_replay.c,
 * eals_als.c, mwnet.c, metasgd.c. */
int melon_eals_create(melon_strategy *s, melon_model *model,
                      const melon_config *cfg, melon_err *err);
int melon_eals_replay_create(melon_strategy *s, melon_model *model,
                             const melon_config *cfg, melon_err *err);
int melon_eals_als_create(melon_strategy *s, melon_model *model,
                          const melon_config *cfg, melon_err *err);
int melon_mwnet_create(melon_strategy *s, melon_model *model,
                       const melon_config *cfg, melon_err *err);
int melon_metasgd_create(melon_strategy *s, melon_model *model,
                         const melon_config *cfg, melon_err *err);
/* S2Meta and SML (update-strategies.md B.5-B.6): s2meta.c, sml.c. */
int melon_s2meta_create(melon_strategy *s, melon_model *model,
                        const melon_config *cfg, melon_err *err);
int melon_sml_create(melon_strategy *s, melon_model *model,
                     const melon_config *cfg, melon_err *err);
/* MeLON and its ablations (melon.c): dispatch on cfg->melon.variant. */
int melon_melon_create(melon_strategy *s, melon_model *model,
                       const melon_config *cfg, melon_err *err);
int melon_melon_i_create(melon_strategy *s, melon_model *model,
                         const melon_config *cfg, melon_err *err);
int melon_melon_p_create(melon_strategy *s, melon_model *model,
                         const melon_config *cfg, melon_err *err);
/* MeLON in the authors' code form (update-strategies.md A.3-A.6); called by
 * the "melon" strategies when cfg->melon.variant is MELON_VARIANT_OFFICIAL. */
int melon_official_create(melon_strategy *s, melon_model *m,
                          const melon_config *cfg, melon_ablation ablation,
                          melon_err *err);

/* Mean of the per-triple losses of the last forward_backward. */
double melon_mean_loss(const melon_grads *g);

#endif
