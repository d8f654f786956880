/* `melon report RESULTS_DIR --out REPORT_DIR`: REPORT_DIR/report.md with
 * the paper's tables from every result file under RESULTS_DIR, and its
 * figures under REPORT_DIR/figures. */
#include "cli.h"
#include "report.h"

#include "core/atomic_file.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static const char *const usage =
    "usage: melon report RESULTS_DIR --out REPORT_DIR [--no-figures]\n\n"
    "Reads every result JSON under RESULTS_DIR (as `melon bench` or `melon run\n"
    "--out` write them) and writes REPORT_DIR/report.md: Table 2 (HR and NDCG\n"
    "at 5/10/20, mean and standard error over seeds, best in bold, second\n"
    "underlined), MeLON against the best baseline with a paired t-test over\n"
    "seeds, Table 3 (ablation), Table 4 (seconds per online batch and the\n"
    "ratio to Default), and Figures 5 and 4 as SVG and PNG drawn by gnuplot.\n\n"
    "Options:\n"
    "  --out DIR       where the report goes (required)\n"
    "  --no-figures    tables only\n"
    "  --help          show this help and exit\n";

int melon_cmd_report(int argc, char **argv) {
    const char *results = NULL, *out_dir = NULL;
    int figures = 1;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[k], "--out") == 0 && k + 1 < argc) {
            out_dir = argv[++k];
        } else if (strncmp(argv[k], "--out=", 6) == 0) {
            out_dir = argv[k] + 6;
        } else if (strcmp(argv[k], "--no-figures") == 0) {
            figures = 0;
        } else if (argv[k][0] == '-' || results) {
            fprintf(stderr, "melon report: unexpected argument '%s' (see melon "
                            "report --help)\n", argv[k]);
            return 2;
        } else {
            results = argv[k];
        }
    }
    if (!results || !out_dir) {
        fprintf(stderr, "melon report: RESULTS_DIR and --out DIR are required "
                        "(see melon report --help)\n");
        return 2;
    }
    report_data d;
    if (report_load(&d, results) != 0) {
        report_free(&d);
        return 1;
    }
    if (d.n_runs == 0) {
        fprintf(stderr, "melon report: %s: no result files\n", results);
        report_free(&d);
        return 1;
    }
    char parents[4096];
    snprintf(parents, sizeof parents, "%s", out_dir);
    for (char *p = parents + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(parents, 0777); /* an existing parent is fine */
            *p = '/';
        }
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "melon report: %s: cannot create: %s\n", out_dir, strerror(errno));
        report_free(&d);
        return 1;
    }
    int rc = 0;
    char fig_dir[4096];
    snprintf(fig_dir, sizeof fig_dir, "%s/figures", out_dir);
    if (figures && report_write_figures(&d, results, out_dir) < 0) rc = 1;
    char path[4200];
    snprintf(path, sizeof path, "%s/report.md", out_dir);
    melon_atomic_file af;
    melon_err err = {{0}};
    if (melon_atomic_open(&af, path, &err) != 0) {
        fprintf(stderr, "melon report: %s\n", err.msg);
        report_free(&d);
        return 1;
    }
    report_write_markdown(af.f, &d, figures ? fig_dir : NULL, "figures");
    if (melon_atomic_commit(&af, &err) != 0) {
        fprintf(stderr, "melon report: %s\n", err.msg);
        rc = 1;
    } else {
        fprintf(stderr, "melon report: %zu runs, %zu groups -> %s\n", d.n_runs,
                d.n_groups, path);
    }
    if (d.n_skipped)
        fprintf(stderr, "melon report: %zu JSON files under %s are not melon results "
                        "and were skipped\n", d.n_skipped, results);
    report_free(&d);
    return rc;
}
