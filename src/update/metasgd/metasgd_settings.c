/* The settings table of MetaSGD. */
#include "metasgd_settings.h"

#define AT(field) offsetof(melon_metasgd_config, field)

static const char *const meta_data_names[] = MELON_META_DATA_NAMES;

static const melon_setting settings[] = {
    {.name = "metasgd-alpha-low", .type = MELON_SETTING_FLOAT, .offset = AT(alpha_low),
     .metavar = "A", .def = 0.005, .min = -10, .max = 10,
     .help = "MetaSGD: lower end of the uniform init of alpha"},
    {.name = "metasgd-alpha-high", .type = MELON_SETTING_FLOAT, .offset = AT(alpha_high),
     .metavar = "A", .def = 0.1, .min = -10, .max = 10,
     .flags = MELON_SETTING_TUNABLE | MELON_SETTING_LOG, .tune_low = 0.005, .tune_high = 0.1,
     .help = "MetaSGD: upper end of the uniform init of alpha"},
    {.name = "metasgd-meta-lr", .type = MELON_SETTING_FLOAT, .offset = AT(meta_lr),
     .metavar = "LR", .def = 1e-3, .min = 0, .max = 10,
     .flags = MELON_SETTING_LR | MELON_SETTING_TUNABLE | MELON_SETTING_LOG,
     .tune_low = 1e-5, .tune_high = 1e-1,
     .help = "MetaSGD: Adam learning rate of alpha"},
    {.name = "metasgd-dense-adam", .type = MELON_SETTING_FLAG, .offset = AT(dense_adam),
     .def = 0, .help = "MetaSGD: Adam moves every alpha entry each step"},
    {.name = "metasgd-meta-data", .type = MELON_SETTING_ENUM, .offset = AT(meta_data),
     .metavar = "WHICH", .def = MELON_META_LAST_BATCH, .choices = meta_data_names,
     .help = "MetaSGD: support/query data of a meta step"},
};

const melon_settings_table melon_metasgd_settings = {
    "metasgd", "MetaSGD", settings, (int)(sizeof settings / sizeof settings[0])};
