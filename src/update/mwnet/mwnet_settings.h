/* Settings of MWNet (update-strategies.md B.3). */
#ifndef MELON_MWNET_SETTINGS_H
#define MELON_MWNET_SETTINGS_H

#include "melon/settings.h"
#include "update/meta_data.h"

typedef struct {
    int hidden;          /* V(l): 1-hidden-1 */
    float meta_lr;
    float meta_l2;       /* weight decay */
    float trial_lr;      /* 0: the optimiser's learning rate */
    melon_meta_data meta_data;
} melon_mwnet_config;

extern const melon_settings_table melon_mwnet_settings;

#endif
