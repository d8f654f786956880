/* Every strategy family's own settings, side by side; each family's table
 * (in its folder) describes its part. */
#ifndef MELON_UPDATE_STRATEGY_CONFIG_H
#define MELON_UPDATE_STRATEGY_CONFIG_H

#include "update/eals/eals_settings.h"
#include "update/melon/melon_settings.h"
#include "update/metasgd/metasgd_settings.h"
#include "update/mwnet/mwnet_settings.h"
#include "update/s2meta/s2meta_settings.h"
#include "update/sml/sml_settings.h"

typedef struct {
    melon_eals_config eals;
    melon_mwnet_config mwnet;
    melon_metasgd_config metasgd;
    melon_s2meta_config s2meta;
    melon_sml_config sml;
    melon_melon_config melon;
} melon_strategy_config;

/* Every family's settings to their defaults. */
void melon_strategy_config_default(melon_strategy_config *cfg);

#endif
