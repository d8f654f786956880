/* Settings of eals, eals-replay and eals-als (update-strategies.md B.2). */
#ifndef MELON_EALS_SETTINGS_H
#define MELON_EALS_SETTINGS_H

#include "melon/settings.h"

typedef struct {
    float weight;        /* w_new, the weight of new interactions */
    /* eals-als (B.2.b) */
    float c0;            /* missing-data weight scale */
    float alpha;         /* popularity exponent */
    float lambda;        /* L2 */
    int offline_iters;   /* full sweeps to pre-train with ALS itself */
    int online_iters;    /* maxIterOnline */
} melon_eals_config;

extern const melon_settings_table melon_eals_settings;

#endif
