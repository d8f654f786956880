/* Reading a run's settings back from its result file (the "config" object
 * results.c writes), so that the run can be repeated. */
#ifndef MELON_EVAL_RERUN_H
#define MELON_EVAL_RERUN_H

#include "eval/config.h"

/* Sets every setting path's "config" records, except where the run wrote
 * (MELON_SETTING_OUTPUT); the others keep their values. Errors name the
 * file and the setting. */
int melon_config_load_result(melon_config *cfg, const char *path,
                             melon_err *err);

/* Sets the settings of a settings file: one NAME=VALUE per line (as
 * `melon tune` writes its choices), '#' comments and blank lines skipped;
 * settings where a run writes are refused. Errors name the file, the line
 * and the value. */
int melon_config_load_settings(melon_config *cfg, const char *path,
                               melon_err *err);

#endif
