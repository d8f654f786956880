/* The settings table of S2Meta. */
#include "s2meta_settings.h"

#define AT(field) offsetof(melon_s2meta_config, field)

static const char *const meta_data_names[] = MELON_META_DATA_NAMES;
static const char *const scope_names[] = {"touched", "full", NULL};

static const melon_setting settings[] = {
    {.name = "s2meta-steps", .type = MELON_SETTING_INT, .offset = AT(steps),
     .metavar = "K", .def = 1, .min = 1, .max = 20,
     .flags = MELON_SETTING_TUNABLE, .tune_low = 1, .tune_high = 3,
     .help = "S2Meta: inner steps per batch (the original's most: 20)"},
    {.name = "s2meta-flexible", .type = MELON_SETTING_FLAG, .offset = AT(flexible),
     .def = 0,
     .help = "S2Meta: a learned stop controller ends the inner steps, between "
             "--s2meta-min-steps and --s2meta-steps (the original: 4 and 20)"},
    {.name = "s2meta-min-steps", .type = MELON_SETTING_INT, .offset = AT(min_steps),
     .metavar = "M", .def = 4, .min = 1, .max = 19,
     .help = "S2Meta --s2meta-flexible: steps before the controller may stop"},
    {.name = "s2meta-step-penalty", .type = MELON_SETTING_FLOAT, .offset = AT(step_penalty),
     .metavar = "P", .def = 0, .min = 0, .max = 1e3,
     .help = "S2Meta --s2meta-flexible: cost of a step in the controller's reward"},
    {.name = "s2meta-stop-lr", .type = MELON_SETTING_FLOAT, .offset = AT(stop_lr),
     .metavar = "LR", .def = 1e-4, .min = 0, .max = 10, .flags = MELON_SETTING_LR,
     .help = "S2Meta --s2meta-flexible: Adam learning rate of the controller"},
    {.name = "s2meta-carry-state", .type = MELON_SETTING_FLAG, .offset = AT(carry_state),
     .def = 0, .help = "S2Meta: keep each coordinate's LSTM state across batches"},
    {.name = "s2meta-scope", .type = MELON_SETTING_ENUM, .offset = AT(scope),
     .metavar = "WHICH", .def = MELON_SCOPE_TOUCHED, .choices = scope_names,
     .help = "S2Meta: update the rows a batch touches or whole tables"},
    {.name = "s2meta-hidden", .type = MELON_SETTING_INT, .offset = AT(hidden),
     .metavar = "H", .def = 16, .min = 1, .max = 256,
     .help = "S2Meta: MetaLSTM width"},
    {.name = "s2meta-meta-lr", .type = MELON_SETTING_FLOAT, .offset = AT(meta_lr),
     .metavar = "LR", .def = 1e-4, .min = 0, .max = 10,
     .flags = MELON_SETTING_LR | MELON_SETTING_TUNABLE | MELON_SETTING_LOG,
     .tune_low = 1e-6, .tune_high = 1e-2,
     .help = "S2Meta: Adam learning rate of the MetaLSTMs"},
    {.name = "s2meta-clip", .type = MELON_SETTING_FLOAT, .offset = AT(clip),
     .metavar = "C", .def = 0.25, .min = 0, .max = 1e6,
     .help = "S2Meta: clip meta-gradients by value (0: off)"},
    {.name = "s2meta-meta-data", .type = MELON_SETTING_ENUM, .offset = AT(meta_data),
     .metavar = "WHICH", .def = MELON_META_LAST_BATCH, .choices = meta_data_names,
     .help = "S2Meta: support/query data of a meta step"},
};

const melon_settings_table melon_s2meta_settings = {
    "s2meta", "S2Meta", settings, (int)(sizeof settings / sizeof settings[0])};
