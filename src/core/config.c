/* The protocol's defaults (protocol.md sections 2 and 6). */
#include "melon/config.h"

#include <string.h>

void melon_config_default(melon_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->dataset_name = NULL;
    melon_load_options_default(&cfg->load);
    cfg->batch_size = 256;
    cfg->train_ratio = 0.8;
    cfg->epochs = 5;
    cfg->negatives = 99;
    cfg->seed = 1;
    cfg->threads = 0;
    cfg->model = "bpr";
    melon_model_config_default(&cfg->model_cfg);
    cfg->strategy = "default";
    melon_optimizer_config_default(&cfg->optim);
    melon_melon_config_default(&cfg->melon);
    melon_eals_config_default(&cfg->eals);
    melon_mwnet_config_default(&cfg->mwnet);
    melon_metasgd_config_default(&cfg->metasgd);
    melon_s2meta_config_default(&cfg->s2meta);
    melon_sml_config_default(&cfg->sml);
    cfg->progress = -1;
}
