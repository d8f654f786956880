/* Settings of eALS, MWNet and MetaSGD (update-strategies.md B.2-B.4). */
#ifndef MELON_STRATEGIES_BASELINES_CONFIG_H
#define MELON_STRATEGIES_BASELINES_CONFIG_H

#include "melon/strategies/meta_data.h"

typedef struct {
    float weight;        /* w_new, the weight of new interactions: 4 */
    /* eals-als (B.2.b) */
    float c0;            /* missing-data weight scale: 512 */
    float alpha;         /* popularity exponent: 0.4 */
    float lambda;        /* L2: 0.01 */
    int offline_iters;   /* full sweeps to pre-train with ALS itself: 50 */
    int online_iters;    /* maxIterOnline: 1 */
} melon_eals_config;

typedef struct {
    int hidden;          /* V(l): 1-hidden-1, width 100 */
    float meta_lr;       /* 1e-3 */
    float meta_l2;       /* weight decay 1e-4 */
    float trial_lr;      /* 0: Default's learning rate */
    melon_meta_data meta_data;
} melon_mwnet_config;

typedef struct {
    float alpha_low;     /* alpha init U[low, high]: 0.005 */
    float alpha_high;    /* 0.1 */
    float meta_lr;       /* 1e-3 */
    int dense_adam;      /* Adam over every alpha entry each step (0) */
    melon_meta_data meta_data;
} melon_metasgd_config;

void melon_eals_config_default(melon_eals_config *cfg);
void melon_mwnet_config_default(melon_mwnet_config *cfg);
void melon_metasgd_config_default(melon_metasgd_config *cfg);

#endif
