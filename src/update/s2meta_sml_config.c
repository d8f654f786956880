/* Defaults of S2Meta and SML (update-strategies.md B.5-B.6). */
#include "melon/strategies/s2meta_sml_config.h"

#include <string.h>

void melon_s2meta_config_default(melon_s2meta_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->steps = 1;
    cfg->flexible = 0;
    cfg->min_steps = 4;
    cfg->step_penalty = 0.0f;
    cfg->stop_lr = 1e-4f;
    cfg->carry_state = 0;
    cfg->scope = MELON_SCOPE_TOUCHED;
    cfg->hidden = 16;
    cfg->meta_lr = 1e-4f;
    cfg->clip = 0.25f;
    cfg->meta_data = MELON_META_LAST_BATCH;
}

void melon_sml_config_default(melon_sml_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->all_rows = 0;
    cfg->loss = MELON_SML_BPR;
    cfg->inner = 1;
    cfg->lr = 0.01f;
    cfg->l2 = 1e-6f;
    cfg->transfer_lr = 1e-3f;
    cfg->transfer_l2 = 1e-4f;
    cfg->hidden = 512;
}
