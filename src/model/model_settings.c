/* The settings table of the recommender (protocol.md section 6). */
#include "melon/model.h"

#include <string.h>

#define AT(field) offsetof(melon_model_config, field)

static const char *const model_names[] = {"bpr", "ncf", "pop", NULL};
static const char *const tower_init_names[] = {"normal", "he", NULL};

static const melon_setting settings[] = {
    {.name = "model", .type = MELON_SETTING_CHOICE, .offset = AT(name),
     .metavar = "NAME", .def_text = "bpr", .choices = model_names,
     .help = "recommender"},
    {.name = "dim", .type = MELON_SETTING_INT, .offset = AT(dim),
     .metavar = "D", .def = 64, .min = 1, .max = 4096, .flags = MELON_SETTING_PROTOCOL,
     .help = "embedding size"},
    {.name = "layers", .type = MELON_SETTING_WIDTHS, .offset = AT(layers),
     .metavar = "W,W,...", .def_text = "64,64,64,64", .help = "NCF tower widths"},
    {.name = "init-std", .type = MELON_SETTING_FLOAT, .offset = AT(init_std),
     .metavar = "S", .def = 0.01, .min = 0, .max = 10,
     .help = "standard deviation of the normal initialisation"},
    {.name = "tower-init", .type = MELON_SETTING_ENUM, .offset = AT(tower_init),
     .metavar = "NAME", .def = MELON_TOWER_NORMAL, .choices = tower_init_names,
     .flags = MELON_SETTING_PROTOCOL,
     .help = "NCF tower weights: normal (init-std, the paper's code) or he "
             "(normal(0, 2/fan-in); see docs/ncf-tower.md)"},
};

const melon_settings_table melon_model_settings = {
    "model", "Recommender", settings, (int)(sizeof settings / sizeof settings[0])};

void melon_model_config_default(melon_model_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    melon_settings_table_defaults(&melon_model_settings, cfg);
    cfg->seed = 1;
}
