/* The `melon` command: dispatches to its subcommands. */
#include "cli.h"

#include "core/float_mode.h"
#include "core/temp_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* Idle OpenMP threads sleep at once instead of spinning: on a machine
 * shared with other work, a spinning thread takes the core that the run's
 * own next step waits for (a MeLON run on ml-100k took 31 s instead of 5 s
 * beside other jobs). OpenMP reads OMP_WAIT_POLICY once, when its library
 * initialises before main, so the program runs itself again with it set.
 * A wait policy or spin count set by the user stays. */
static void wait_passively_unless_set(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* not possible here (no /proc): go on with the library's default */
}

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
          "  tune    choose each strategy's settings on the validation tail of\n"
          "          the past, never on the test stream\n"
          "  report  tables and figures from a directory of results\n"
          "  serve   the online recommender over HTTP: durable ingest, live\n"
          "          updates and quality, recommendations\n"
          "  loadgen replay a dataset against a running server\n"
          "  recommend  a user's top-K from a checkpoint\n\n"
          "Options:\n"
          "  --help     show this help (and `melon <command> --help`)\n"
          "  --version  print the version\n\n"
          "Example:\n"
          "  melon data fetch ml-100k\n"
          "  melon run --data ml-100k --model bpr --strategy default --out r.json\n",
          out);
}

int main(int argc, char **argv) {
    wait_passively_unless_set(argv);
    /* every thread the command creates copies this one's mode: subnormal
     * floats flushed to zero (float_mode.h) in the threads of a live
     * session and its server too; runs also set it in threads that exist */
    melon_float_mode process_mode;
    melon_float_mode_enter(&process_mode, 1);
    /* an interrupted command leaves no temporary file */
    melon_temp_files_on_signals();
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
    if (strcmp(cmd, "tune") == 0) return melon_cmd_tune(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0) return melon_cmd_report(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0) return melon_cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "loadgen") == 0) return melon_cmd_loadgen(argc - 1, argv + 1);
    if (strcmp(cmd, "recommend") == 0) return melon_cmd_recommend(argc - 1, argv + 1);
    fprintf(stderr, "melon: unknown command '%s' (commands: run, data, bench, tune, report, serve, loadgen, recommend; see "
                    "melon --help)\n", cmd);
    return 2;
}
