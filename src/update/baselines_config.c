/* Defaults of eALS, MWNet and MetaSGD (update-strategies.md B.2-B.4). */
#include "melon/strategies/baselines_config.h"

#include <string.h>

void melon_eals_config_default(melon_eals_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->weight = 4.0f;
    cfg->c0 = 512.0f;
    cfg->alpha = 0.4f;
    cfg->lambda = 0.01f;
    cfg->offline_iters = 50;
    cfg->online_iters = 1;
}

void melon_mwnet_config_default(melon_mwnet_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->hidden = 100;
    cfg->meta_lr = 1e-3f;
    cfg->meta_l2 = 1e-4f;
    cfg->trial_lr = 0.0f;
    cfg->meta_data = MELON_META_LAST_BATCH;
}

void melon_metasgd_config_default(melon_metasgd_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->alpha_low = 0.005f;
    cfg->alpha_high = 0.1f;
    cfg->meta_lr = 1e-3f;
    cfg->dense_adam = 0;
    cfg->meta_data = MELON_META_LAST_BATCH;
}
