/* The settings table of MWNet. */
#include "mwnet_settings.h"

#define AT(field) offsetof(melon_mwnet_config, field)

static const char *const meta_data_names[] = MELON_META_DATA_NAMES;

static const melon_setting settings[] = {
    {.name = "mwnet-hidden", .type = MELON_SETTING_INT, .offset = AT(hidden),
     .metavar = "H", .def = 100, .min = 1, .max = 100000,
     .help = "MWNet: hidden width of the weight net"},
    {.name = "mwnet-meta-lr", .type = MELON_SETTING_FLOAT, .offset = AT(meta_lr),
     .metavar = "LR", .def = 1e-3, .min = 0, .max = 10,
     .flags = MELON_SETTING_LR | MELON_SETTING_TUNABLE | MELON_SETTING_LOG,
     .tune_low = 1e-5, .tune_high = 1e-1,
     .help = "MWNet: Adam learning rate of the weight net"},
    {.name = "mwnet-meta-l2", .type = MELON_SETTING_FLOAT, .offset = AT(meta_l2),
     .metavar = "L2", .def = 1e-4, .min = 0, .max = 10,
     .help = "MWNet: weight decay of the weight net"},
    {.name = "mwnet-trial-lr", .type = MELON_SETTING_FLOAT, .offset = AT(trial_lr),
     .metavar = "LR", .def = 0, .min = 0, .max = 1e6, .flags = MELON_SETTING_LR,
     .help = "MWNet: learning rate of the trial step (0: --lr)"},
    {.name = "mwnet-meta-data", .type = MELON_SETTING_ENUM, .offset = AT(meta_data),
     .metavar = "WHICH", .def = MELON_META_LAST_BATCH, .choices = meta_data_names,
     .help = "MWNet: support/query data of a meta step"},
};

const melon_settings_table melon_mwnet_settings = {
    "mwnet", "MWNet", settings, (int)(sizeof settings / sizeof settings[0])};
