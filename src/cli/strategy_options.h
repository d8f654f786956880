/* Each strategy family's command-line options, in a file of its own; the
 * tables point into the run's melon_config. */
#ifndef MELON_STRATEGY_OPTIONS_H
#define MELON_STRATEGY_OPTIONS_H

#include "melon/config.h"
#include "options.h"

const option_spec *options_melon(melon_config *cfg);
const option_spec *options_baselines(melon_config *cfg);
const option_spec *options_s2meta_sml(melon_config *cfg);

extern const char *const meta_data_names[];    /* last-batch, next-batch */
extern const char *const neighbor_mode_names[]; /* uniform, recent */

#endif
