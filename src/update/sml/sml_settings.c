/* The settings table of SML. */
#include "sml_settings.h"

#define AT(field) offsetof(melon_sml_config, field)

static const char *const loss_names[] = {"bpr", "bce", NULL};

static const melon_setting settings[] = {
    {.name = "sml-all-rows", .type = MELON_SETTING_FLAG, .offset = AT(all_rows),
     .def = 0, .help = "SML: transfer every row each batch, not only the touched ones"},
    {.name = "sml-loss", .type = MELON_SETTING_ENUM, .offset = AT(loss),
     .metavar = "LOSS", .def = MELON_SML_BPR, .choices = loss_names,
     .help = "SML: loss of the transfer (bce is the original)"},
    {.name = "sml-inner", .type = MELON_SETTING_INT, .offset = AT(inner),
     .metavar = "N", .def = 1, .min = 1, .max = 100,
     .help = "SML: alternating optimisation rounds per batch"},
    {.name = "sml-lr", .type = MELON_SETTING_FLOAT, .offset = AT(lr),
     .metavar = "LR", .def = 0.01, .min = 0, .max = 10,
     .flags = MELON_SETTING_LR | MELON_SETTING_TUNABLE | MELON_SETTING_LOG,
     .tune_low = 1e-4, .tune_high = 1e-1,
     .help = "SML: Adam learning rate of the new parameters"},
    {.name = "sml-l2", .type = MELON_SETTING_FLOAT, .offset = AT(l2),
     .metavar = "L2", .def = 1e-6, .min = 0, .max = 10,
     .help = "SML: L2 of the new parameters"},
    {.name = "sml-transfer-lr", .type = MELON_SETTING_FLOAT, .offset = AT(transfer_lr),
     .metavar = "LR", .def = 1e-3, .min = 0, .max = 10,
     .flags = MELON_SETTING_LR | MELON_SETTING_TUNABLE | MELON_SETTING_LOG,
     .tune_low = 1e-5, .tune_high = 1e-2,
     .help = "SML: Adam learning rate of the transfer networks"},
    {.name = "sml-transfer-l2", .type = MELON_SETTING_FLOAT, .offset = AT(transfer_l2),
     .metavar = "L2", .def = 1e-4, .min = 0, .max = 10,
     .help = "SML: weight decay of the transfer networks"},
    {.name = "sml-hidden", .type = MELON_SETTING_INT, .offset = AT(hidden),
     .metavar = "H", .def = 512, .min = 1, .max = 65536,
     .help = "SML: width of the transfer's first dense layer"},
};

const melon_settings_table melon_sml_settings = {
    "sml", "SML", settings, (int)(sizeof settings / sizeof settings[0])};
