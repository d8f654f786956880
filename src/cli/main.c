/* The `melon` command: dispatches to its subcommands. */
#include "cli.h"

#include <stdio.h>
#include <string.h>


static void print_usage(FILE *out) {
    fputs("usage: melon <command> [options]\n\n"
          "Online update of recommender systems: pre-train BPR-MF or NCF on the\n"
          "past of an interaction log, replay the rest as a stream and compare\n"
          "update strategies batch by batch.\n\n"
          "Commands:\n"
          "  run     one prequential run of a model and an update strategy\n"
          "  data    fetch public datasets into the cache, list them, print\n"
          "          the statistics of interaction files (data stats)\n"
          "  bench   a grid of runs: datasets x models x strategies x seeds\n"
          "  report  tables and figures from a directory of results\n\n"
          "Options:\n"
          "  --help     show this help (and `melon <command> --help`)\n"
          "  --version  print the version\n\n"
          "Example:\n"
          "  melon data fetch ml-100k\n"
          "  melon run --data ml-100k --model bpr --strategy default --out r.json\n",
          out);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
        strcmp(cmd, "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("melon %s\n", MELON_VERSION);
        return 0;
    }
    if (strcmp(cmd, "run") == 0) return melon_cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "data") == 0) return melon_cmd_data(argc - 1, argv + 1);
    if (strcmp(cmd, "bench") == 0) return melon_cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0) return melon_cmd_report(argc - 1, argv + 1);
    fprintf(stderr, "melon: unknown command '%s' (commands: run, data, bench, report; see "
                    "melon --help)\n", cmd);
    return 2;
}
