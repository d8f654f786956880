/* `melon bench`: a grid of runs (datasets x models x strategies x seeds),
 * one `melon run` process per cell, several at a time, one result JSON per
 * cell in a results directory. A cell whose JSON exists (with the settings
 * asked for) is done, so an interrupted grid resumes where it stopped. */
#include "bench_grid.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char *const usage =
    "usage: melon bench --data FILE[,FILE...] [--data ...] --results DIR\n"
    "       melon bench --tuned TUNE_DIR --results DIR [--seeds ...]\n"
    "                   [--models bpr,ncf] [--strategies default,melon,...]\n"
    "                   [--seeds 1,2,3,4,5] [--jobs J] [run options]\n\n"
    "Runs every combination of dataset, model, strategy and seed as its own\n"
    "`melon run` and keeps one result JSON per cell in DIR/DATASET/. Cells\n"
    "whose result exists are skipped, so an interrupted grid resumes; a\n"
    "result run with other settings stops bench before any cell, as do bad\n"
    "options and input files (checked with melon run --check). One bench at\n"
    "a time per DIR; stopping bench stops its cells.\n\n"
    "Options:\n"
    "  --data FILES|NAME|LABEL=FILES  a dataset (repeat for more); LABEL names it\n"
    "  --results DIR              where the result files go (required)\n"
    "  --models LIST              models [default: bpr,ncf]\n"
    "  --strategies LIST          strategies [default: default,melon]; an entry\n"
    "                             LABEL=NAME:--opt=value:... runs strategy NAME\n"
    "                             with extra options under its own label, e.g.\n"
    "                             melon-official=melon:--melon-variant=official\n"
    "  --seeds LIST               seeds, e.g. 1,2,3 or 1-5 [default: 1-5]\n"
    "  --tuned DIR                the choices of melon tune --results DIR: its\n"
    "                             dataset and model, each strategy with its chosen\n"
    "                             settings (copied to RESULTS/DATASET/tuned/ for\n"
    "                             melon report)\n"
    "  --jobs J                   cells run at once [default: 1]\n"
    "  --threads T                threads per cell [default: cores / jobs]\n"
    "  --lr-matrix-batch K        for melon cells of the first seed, also dump\n"
    "                             the learning-rate matrix of online batch K\n"
    "                             (for the report's Figure 4)\n"
    "  --dry-run                  list the cells and exit\n"
    "  --help                     show this help and exit\n"
    "Any other option is passed to every `melon run` (see melon run --help),\n"
    "e.g. --epochs 5 or --lr 0.01; an option of one strategy family, such as\n"
    "--melon-meta-lr, to the cells of that family only.\n";

static int parse_bench_args(bench_grid *g, int argc, char **argv) {
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (strcmp(arg, "--dry-run") == 0) {
            g->dry_run = 1;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "melon bench: unexpected argument '%s' (see melon "
                            "bench --help)\n", arg);
            return 2;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        char key[64];
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        if (len >= sizeof key) len = sizeof key - 1;
        memcpy(key, name, len);
        key[len] = 0;
        int own = bench_grid_is_own_option(key);
        int arity = own ? 1 : melon_run_option_arity(key);
        if (arity < 0) {
            fprintf(stderr, "melon bench: unknown option '--%s' (see melon "
                            "bench --help and melon run --help)\n", key);
            return 2;
        }
        const char *value = NULL;
        if (arity == 1) {
            if (eq) value = eq + 1;
            else if (k + 1 < argc) value = argv[++k];
            else {
                fprintf(stderr, "melon bench: option '--%s' needs a value\n", key);
                return 2;
            }
        }
        char why[512] = "";
        int rc = own ? bench_grid_set_option(g, key, value, why, sizeof why)
                     : bench_grid_forward(g, key, value, why, sizeof why);
        if (rc != 0) {
            fprintf(stderr, "melon bench: --%s '%s': %s\n", key, value ? value : "",
                    why);
            return 2;
        }
    }
    return 0;
}

int melon_cmd_bench(int argc, char **argv) {
    bench_grid g;
    bench_grid_init(&g);
    int rc = parse_bench_args(&g, argc, argv);
    if (rc == 1) rc = 0; /* --help */
    else if (rc == 0 && (rc = bench_grid_finish_setup(&g)) == 0)
        rc = g.dry_run ? bench_grid_list(&g, stdout) : bench_grid_run(&g);
    bench_grid_free(&g);
    return rc;
}
