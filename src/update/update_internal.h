/* Shared by the strategy implementations (not part of the public API). */
#ifndef MELON_UPDATE_INTERNAL_H
#define MELON_UPDATE_INTERNAL_H

#include "melon/grad.h"
#include "melon/optim.h"
#include "melon/strategy.h"

/* Constructors, one per strategy, dispatched by melon_strategy_create. */
int melon_default_create(melon_strategy *s, melon_model *model,
                         const melon_config *cfg, melon_err *err);

/* Mean of the per-triple losses of the last forward_backward. */
double melon_mean_loss(const melon_grads *g);

#endif
