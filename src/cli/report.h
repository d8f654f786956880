/* `melon report`: the paper's tables and figures from a directory of result
 * files (Tables 2-4, the improvement of MeLON over the best baseline with a
 * paired test over seeds, Figures 4 and 5). */
#ifndef MELON_REPORT_H
#define MELON_REPORT_H

#include <stddef.h>
#include <stdio.h>

#define REPORT_N_METRICS 6   /* HR@5, HR@10, HR@20, NDCG@5, NDCG@10, NDCG@20 */
extern const char *const report_metric_names[REPORT_N_METRICS];
/* Measures beyond the paper's (protocol.md section 4.1): MRR@10,
 * Recall@10, HR@10 of repeat pairs, HR@10 of new pairs. */
#define REPORT_N_BEYOND 4
extern const char *const report_beyond_names[REPORT_N_BEYOND];

/* One result file. */
typedef struct {
    char *path;
    char *dataset;
    char *model;
    char *strategy;
    char *label;
    long seed;
    double validation;
    double metrics[REPORT_N_METRICS];
    double beyond[REPORT_N_BEYOND];   /* NaN: undefined (no such pairs) or
                                         not in the file (older runs) */
    double update_s;          /* median seconds per online batch */
    double *ndcg10;           /* per test batch */
    size_t n_batches;
    char *warning;            /* why its losses say it diverged, or NULL */
    /* Every setting the file records but the seed (and the thread count),
     * flattened to "key=value" ("dataset.min_user=21", "lr=0.05"), sorted:
     * runs pool over seeds only when these are equal. */
    char **settings;
    size_t n_settings;
} report_run;

/* The runs of one (dataset, model, label), ordered by seed. Runs whose
 * settings differ never share a group: when runs of one label differ, the
 * label of each names the settings that tell them apart ("default (lr
 * 0.05)"). */
typedef struct {
    const char *dataset;
    const char *model;
    const char *label;
    const char *strategy;
    report_run **runs;
    size_t n_runs;
} report_group;

/* A choice of melon tune beside the results (DATASET/tuned/NAME.settings,
 * copied there by melon bench --tuned). */
typedef struct {
    char *dataset, *model, *strategy;
    char *chosen;             /* "NAME=VALUE NAME=VALUE" */
    char *metric, *seeds;
    double score, se;         /* on the validation tail */
} report_choice;

typedef struct {
    report_run *runs;
    size_t n_runs;
    report_choice *choices;
    size_t n_choices;
    report_group *groups;
    size_t n_groups;
    char **datasets;          /* in sorted order */
    size_t n_datasets;
    char **models;
    size_t n_models;
    char **labels;            /* strategies first in the paper's order */
    size_t n_labels;
    size_t n_skipped;         /* files that were not melon results */
} report_data;

/* Reads every *.json under dir (recursively). Returns 0, or -1 after a
 * message on stderr naming the file. */
int report_load(report_data *data, const char *dir);
void report_free(report_data *data);
/* The choices of melon tune under dir (every tuned/NAME.settings); 0, or -1
 * after a message naming the file. */
int report_load_choices(report_data *data, const char *dir);
void report_free_choices(report_data *data);
/* "Settings chosen on the validation tail": nothing when there are none. */
void report_write_choices(FILE *out, const report_data *data);
const report_group *report_find(const report_data *data, const char *dataset,
                                const char *model, const char *label);
/* Per-seed values of a metric (or of update_s with metric -1). */
void report_values(const report_group *g, int metric, double *out);

/* Strategy families. */
int report_is_melon(const report_group *g);     /* strategy melon */
int report_is_ablation(const report_group *g);  /* melon-i, melon-p */

/* figures_dir: where the figures are (NULL: none drawn); figures_link: the
 * same folder relative to the report, for the links. */
void report_write_markdown(FILE *out, const report_data *data,
                           const char *figures_dir, const char *figures_link);
/* A name made safe for a file name: letters, digits, '-', '_', '.'. */
void report_slug(const char *name, char *out, size_t cap);
/* Figures 5 (and 4 when learning-rate dumps exist) under out_dir/figures;
 * returns the number written, or -1 when gnuplot failed. */
int report_write_figures(const report_data *data, const char *results_dir,
                         const char *out_dir);

#endif
