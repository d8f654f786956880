/* The settings table of eals, eals-replay and eals-als. */
#include "eals_settings.h"

#define AT(field) offsetof(melon_eals_config, field)

static const melon_setting settings[] = {
    {.name = "eals-weight", .type = MELON_SETTING_FLOAT, .offset = AT(weight),
     .metavar = "W", .def = 4, .min = 0, .max = 1e6,
     .flags = MELON_SETTING_TUNABLE | MELON_SETTING_LOG, .tune_low = 1, .tune_high = 64,
     .help = "eALS (eals, eals-replay, eals-als): weight w_new of new interactions"},
    {.name = "eals-c0", .type = MELON_SETTING_FLOAT, .offset = AT(c0),
     .metavar = "C", .def = 512, .min = 0, .max = 1e9,
     .help = "eals-als: missing-data weight scale"},
    {.name = "eals-alpha", .type = MELON_SETTING_FLOAT, .offset = AT(alpha),
     .metavar = "A", .def = 0.4, .min = 0, .max = 10,
     .help = "eals-als: popularity exponent of the missing-data weights"},
    {.name = "eals-lambda", .type = MELON_SETTING_FLOAT, .offset = AT(lambda),
     .metavar = "L", .def = 0.01, .min = 0, .max = 1e6,
     .help = "eals-als: L2 regularisation"},
    {.name = "eals-offline-iters", .type = MELON_SETTING_INT, .offset = AT(offline_iters),
     .metavar = "N", .def = 50, .min = 0, .max = 100000,
     .help = "eals-als: ALS sweeps over the past, run in the first pre-training call"},
    {.name = "eals-online-iters", .type = MELON_SETTING_INT, .offset = AT(online_iters),
     .metavar = "N", .def = 1, .min = 1, .max = 1000,
     .help = "eals-als: ALS passes per new interaction"},
};

const melon_settings_table melon_eals_settings = {
    "eals", "eALS (eals, eals-replay, eals-als)", settings,
    (int)(sizeof settings / sizeof settings[0])};
