/* MeLON's defaults (update-strategies.md A.1, A.6). */
#include "melon/strategies/melon_config.h"

#include <string.h>

void melon_melon_config_default(melon_melon_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->variant = MELON_VARIANT_PAPER;
    cfg->max_edge = 10;
    cfg->neighbors = MELON_NEIGHBORS_UNIFORM;
    cfg->interaction_width = 20;
    cfg->role_width = 20;
    cfg->role_layers = 2;
    cfg->extended_width = 0;
    cfg->leaky_slope = 0.2f;
    cfg->aggregation = MELON_AGG_MEAN;
    cfg->init_lr_bias = -4.5f;
    cfg->rate_scale = 1.0f;
    cfg->meta_lr = 1e-3f;
    cfg->meta_l2 = 1e-6f;
    cfg->leaky_trial = 0;
    cfg->meta_data = MELON_META_LAST_BATCH;
    cfg->preprocess_theta = 0;
    cfg->empty_history = MELON_EMPTY_ZERO;
    cfg->p_inputs = MELON_P_INPUTS_BATCH;
    cfg->dump_lr_matrix = NULL;
    cfg->dump_batch = 0;
}
