/* The settings table of the MeLON strategies (update-strategies.md A.1,
 * A.6). */
#include "melon_settings.h"

#define AT(field) offsetof(melon_melon_config, field)

static const char *const meta_data_names[] = MELON_META_DATA_NAMES;
static const char *const variant_names[] = {"paper", "official", NULL};
static const char *const neighbor_names[] = {"uniform", "recent", NULL};
static const char *const aggregation_names[] = {"mean", "sum", NULL};
static const char *const empty_history_names[] = {"zero", "self", NULL};
static const char *const p_inputs_names[] = {"batch", "interaction", NULL};

static const melon_setting settings[] = {
    {.name = "melon-variant", .type = MELON_SETTING_ENUM, .offset = AT(variant),
     .metavar = "FORM", .def = MELON_VARIANT_PAPER, .choices = variant_names,
     .help = "MeLON as the paper defines it (Eq. 8-13) or as the authors' code "
             "implements it"},
    {.name = "max-edge", .type = MELON_SETTING_INT, .offset = AT(max_edge),
     .metavar = "N", .def = 10, .min = 0, .max = 1000,
     .help = "MeLON: neighbours per user or item in the attention"},
    {.name = "neighbors", .type = MELON_SETTING_ENUM, .offset = AT(neighbors),
     .metavar = "HOW", .def = MELON_NEIGHBORS_UNIFORM, .choices = neighbor_names,
     .help = "MeLON: which neighbours when there are more"},
    {.name = "melon-interaction-width", .type = MELON_SETTING_INT,
     .offset = AT(interaction_width), .metavar = "W", .def = 20, .min = 1, .max = 1024,
     .help = "MeLON: width of the interaction representation h_x (official "
             "form: of h)"},
    {.name = "melon-role-width", .type = MELON_SETTING_INT, .offset = AT(role_width),
     .metavar = "W", .def = 20, .min = 1, .max = 1024,
     .help = "MeLON: width of the role MLP layers (Eq. 11; official form: of "
             "the role map z = A p + a)"},
    {.name = "melon-role-layers", .type = MELON_SETTING_INT, .offset = AT(role_layers),
     .metavar = "L", .def = 2, .min = 1, .max = 8,
     .help = "MeLON paper form: layers of the role MLP"},
    {.name = "melon-extended-width", .type = MELON_SETTING_INT,
     .offset = AT(extended_width), .metavar = "W", .def = 0, .min = 0, .max = 4096,
     .help = "MeLON paper form: width of the extended embeddings (0: the "
             "embedding size)"},
    {.name = "melon-leaky-slope", .type = MELON_SETTING_FLOAT, .offset = AT(leaky_slope),
     .metavar = "S", .def = 0.2, .min = 0, .max = 1,
     .help = "MeLON paper form: negative slope of the attention's LeakyReLU (the "
             "official form uses the authors' 0.01)"},
    {.name = "melon-aggregation", .type = MELON_SETTING_ENUM, .offset = AT(aggregation),
     .metavar = "HOW", .def = MELON_AGG_MEAN, .choices = aggregation_names,
     .help = "MeLON paper form: combine the rates of the interactions touching a "
             "parameter by mean or by the sum of Eq. 5 (the official form "
             "averages)"},
    {.name = "melon-init-lr-bias", .type = MELON_SETTING_FLOAT, .offset = AT(init_lr_bias),
     .metavar = "B", .def = -4.5, .min = -50, .max = 50,
     .help = "MeLON paper form: initial bias b_lr of the adaptation layer (Eq. 12)"},
    {.name = "melon-rate-scale", .type = MELON_SETTING_FLOAT, .offset = AT(rate_scale),
     .metavar = "S", .def = 1, .min = 0, .max = 1,
     .flags = MELON_SETTING_LR | MELON_SETTING_TUNABLE | MELON_SETTING_LOG |
              MELON_SETTING_ABOVE_MIN,
     .tune_low = 1e-2, .tune_high = 1,
     .help = "MeLON paper form: multiply every rate of Eq. 13 by S, so no rate "
             "exceeds S (1: the paper; --dump-lr-matrix writes the rates before "
             "the scaling)"},
    {.name = "melon-meta-lr", .type = MELON_SETTING_FLOAT, .offset = AT(meta_lr),
     .metavar = "LR", .def = 1e-3, .min = 0, .max = 10,
     .flags = MELON_SETTING_LR | MELON_SETTING_TUNABLE | MELON_SETTING_LOG,
     .tune_low = 1e-5, .tune_high = 1e-2,
     .help = "MeLON: Adam learning rate of the meta-model"},
    {.name = "melon-meta-l2", .type = MELON_SETTING_FLOAT, .offset = AT(meta_l2),
     .metavar = "L2", .def = 1e-6, .min = 0, .max = 10,
     .help = "MeLON: L2 on the meta-model's weights"},
    {.name = "melon-leaky-trial", .type = MELON_SETTING_FLAG, .offset = AT(leaky_trial),
     .def = 0,
     .help = "MeLON: keep the trial update of rows the batch does not touch, as "
             "the authors' code does"},
    {.name = "melon-meta-data", .type = MELON_SETTING_ENUM, .offset = AT(meta_data),
     .metavar = "WHICH", .def = MELON_META_LAST_BATCH, .choices = meta_data_names,
     .help = "MeLON: support/query data of a meta step (the paper form: last-batch)"},
    {.name = "melon-preprocess-theta", .type = MELON_SETTING_FLAG,
     .offset = AT(preprocess_theta), .def = 0,
     .help = "MeLON paper form: feed rho(theta) to the role MLP instead of theta "
             "itself (Eq. 11)"},
    {.name = "melon-empty-history", .type = MELON_SETTING_ENUM,
     .offset = AT(empty_history), .metavar = "HOW", .def = MELON_EMPTY_ZERO,
     .choices = empty_history_names,
     .help = "MeLON paper form: the neighbour aggregate of a user or item "
             "without history (Eq. 8): the zero vector or its own embedding"},
    {.name = "melon-p-inputs", .type = MELON_SETTING_ENUM, .offset = AT(p_inputs),
     .metavar = "WHICH", .def = MELON_P_INPUTS_BATCH, .choices = p_inputs_names,
     .help = "MeLON paper form, melon-p: the role MLP's loss and gradient inputs, "
             "batch means (every column of W constant) or each interaction's own"},
    {.name = "dump-lr-matrix", .type = MELON_SETTING_STRING, .offset = AT(dump_lr_matrix),
     .metavar = "FILE.csv", .flags = MELON_SETTING_OUTPUT,
     .help = "MeLON: write the learning-rate matrix W of one online batch "
             "(Figure 4)"},
    {.name = "dump-batch", .type = MELON_SETTING_INT, .offset = AT(dump_batch),
     .metavar = "K", .def = 0, .min = 0, .max = 1e9, .flags = MELON_SETTING_OUTPUT,
     .help = "MeLON: which online batch --dump-lr-matrix writes (0 = the first)"},
};

const melon_settings_table melon_melon_settings = {
    "melon", "MeLON (melon, melon-i, melon-p)", settings,
    (int)(sizeof settings / sizeof settings[0])};
