/* Subcommands of the `melon` program. Each returns the process exit code. */
#ifndef MELON_CLI_H
#define MELON_CLI_H

#include <stddef.h>

int melon_cmd_run(int argc, char **argv);
int melon_cmd_data(int argc, char **argv);
/* `melon data stats`, argv[0] being "stats". */
int melon_cmd_data_stats(int argc, char **argv);
int melon_cmd_bench(int argc, char **argv);
int melon_cmd_tune(int argc, char **argv);
int melon_cmd_report(int argc, char **argv);
int melon_cmd_serve(int argc, char **argv);
int melon_cmd_loadgen(int argc, char **argv);
int melon_cmd_recommend(int argc, char **argv);

/* For `melon bench`: whether `melon run` knows option --name and whether
 * it takes a value (1), is a flag (0), or is unknown (-1). */
int melon_run_option_arity(const char *name);
/* Whether option --name of `melon run` belongs to a family of strategies
 * (1, its name in family: "melon" for melon, melon-i and melon-p) or to
 * every run (0); -1 when there is no such option. */
int melon_run_option_family(const char *name, char *family, size_t cap);

/* Default dataset name for a list of files: the first file's folder
 * (data/ml-100k/u.data -> ml-100k), or its name without extensions when it
 * has no folder. Returns a malloc'ed string. */
char *melon_default_dataset_name(const char *path);

/* --data of a run's settings: a dataset name from the catalog (fetched
 * into cache_dir; its path written to resolved, which then holds
 * data.files, and the name kept as data.name) or files as given. 0, or 1
 * after printing "melon COMMAND: why". */
struct melon_config;
int melon_cli_resolve_data(struct melon_config *cfg, const char *cache_dir,
                           char *resolved, size_t cap, const char *command);

#endif
