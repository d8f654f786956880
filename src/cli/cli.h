/* Subcommands of the `melon` program. Each returns the process exit code. */
#ifndef MELON_CLI_H
#define MELON_CLI_H

int melon_cmd_run(int argc, char **argv);
int melon_cmd_data(int argc, char **argv);

#endif
