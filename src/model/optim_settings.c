/* The settings table of the recommender's optimiser, which Default, eALS
 * and MWNet step with (protocol.md section 6). */
#include "model/optim.h"

#include <string.h>

#define AT(field) offsetof(melon_optimizer_config, field)

static const char *const kind_names[] = {"adam", "sgd", NULL};

static const melon_setting settings[] = {
    {.name = "optimizer", .type = MELON_SETTING_ENUM, .offset = AT(kind),
     .metavar = "NAME", .def = MELON_OPT_ADAM, .choices = kind_names,
     .flags = MELON_SETTING_PROTOCOL,
     .help = "optimiser of the recommender (default, eals, eals-replay, mwnet)"},
    {.name = "lr", .type = MELON_SETTING_FLOAT, .offset = AT(lr),
     .metavar = "LR", .def = 1e-3, .min = 0, .max = 1e6,
     .flags = MELON_SETTING_LR | MELON_SETTING_TUNABLE | MELON_SETTING_LOG |
              MELON_SETTING_PROTOCOL,
     .tune_low = 1e-4, .tune_high = 1e-1, .help = "learning rate"},
    {.name = "l2", .type = MELON_SETTING_FLOAT, .offset = AT(l2),
     .metavar = "L2", .def = 1e-6, .min = 0, .max = 1e6,
     .flags = MELON_SETTING_TUNABLE | MELON_SETTING_LOG | MELON_SETTING_PROTOCOL,
     .tune_low = 1e-8, .tune_high = 1e-3, .help = "L2 penalty on weights (not biases)"},
    {.name = "dense-adam", .type = MELON_SETTING_FLAG, .offset = AT(dense), .def = 0,
     .help = "Adam moves every table row each step (PyTorch's dense semantics) "
             "instead of only the rows a batch touches"},
};

const melon_settings_table melon_optimizer_settings = {
    "optimizer", "Optimiser of the recommender", settings,
    (int)(sizeof settings / sizeof settings[0])};

void melon_optimizer_config_default(melon_optimizer_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    melon_settings_table_defaults(&melon_optimizer_settings, cfg);
    cfg->beta1 = 0.9f;
    cfg->beta2 = 0.999f;
    cfg->eps = 1e-8f;
}
