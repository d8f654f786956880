/* Settings of MetaSGD (update-strategies.md B.4). */
#ifndef MELON_METASGD_SETTINGS_H
#define MELON_METASGD_SETTINGS_H

#include "melon/settings.h"
#include "update/meta_data.h"

typedef struct {
    float alpha_low;     /* alpha init U[low, high] */
    float alpha_high;
    float meta_lr;
    int dense_adam;      /* Adam over every alpha entry each step */
    melon_meta_data meta_data;
} melon_metasgd_config;

extern const melon_settings_table melon_metasgd_settings;

#endif
