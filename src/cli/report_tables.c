/* The Markdown of `melon report`: Table 2 (accuracy), Table 3 (ablation),
 * Table 4 (time per online batch), and MeLON against the best baseline with
 * a paired t-test over seeds. */
#include "report.h"

#include "melon/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SIGNIFICANCE 0.05

static double group_mean(const report_group *g, int metric) {
    double v[g->n_runs];
    report_values(g, metric, v);
    return melon_mean(v, g->n_runs);
}

static double group_se(const report_group *g, int metric) {
    double v[g->n_runs];
    report_values(g, metric, v);
    return melon_standard_error(v, g->n_runs);
}

/* Groups of Table 2 for one dataset and model: every label but the
 * ablations, in label order. */
static size_t table2_groups(const report_data *d, const char *dataset,
                            const char *model, const report_group **out) {
    size_t n = 0;
    for (size_t k = 0; k < d->n_labels; k++) {
        const report_group *g = report_find(d, dataset, model, d->labels[k]);
        if (g && !report_is_ablation(g)) out[n++] = g;
    }
    return n;
}

/* The baseline with the highest mean of the metric, or NULL. */
static const report_group *best_baseline(const report_group **groups, size_t n,
                                         int metric) {
    const report_group *best = NULL;
    for (size_t k = 0; k < n; k++) {
        if (report_is_melon(groups[k])) continue;
        if (!best || group_mean(groups[k], metric) > group_mean(best, metric))
            best = groups[k];
    }
    return best;
}

/* MeLON's runs against the baseline's, paired by seed: only the seeds both
 * ran count, in the test and in the means compared. */
typedef struct {
    melon_paired_test test;
    double mean_a, mean_b;   /* over the common seeds */
} paired_comparison;

static paired_comparison compare_paired(const report_group *a,
                                        const report_group *b, int metric) {
    double x[a->n_runs + 1], y[a->n_runs + 1];
    size_t n = 0;
    for (size_t i = 0; i < a->n_runs; i++)
        for (size_t j = 0; j < b->n_runs; j++)
            if (a->runs[i]->seed == b->runs[j]->seed) {
                x[n] = metric < 0 ? a->runs[i]->update_s : a->runs[i]->metrics[metric];
                y[n] = metric < 0 ? b->runs[j]->update_s : b->runs[j]->metrics[metric];
                n++;
            }
    paired_comparison c = {melon_paired_t_test(x, y, n), melon_mean(x, n),
                           melon_mean(y, n)};
    return c;
}

/* A test needs two pairs at least; with fewer its p is undefined. */
static int testable(const paired_comparison *c) { return c->test.n >= 2; }

/* Whether the groups ran different sets of seeds. */
static int seeds_differ(const report_group **groups, size_t n) {
    for (size_t k = 1; k < n; k++) {
        if (groups[k]->n_runs != groups[0]->n_runs) return 1;
        for (size_t r = 0; r < groups[k]->n_runs; r++)
            if (groups[k]->runs[r]->seed != groups[0]->runs[r]->seed) return 1;
    }
    return 0;
}

/* The value of key ("key=value" entries) in a run's settings, or NULL. */
static const char *setting_of(const report_run *r, const char *key, size_t len) {
    for (size_t k = 0; k < r->n_settings; k++)
        if (strncmp(r->settings[k], key, len) == 0 && r->settings[k][len] == '=')
            return r->settings[k] + len + 1;
    return NULL;
}

/* Settings every row records but not with one value (other than which
 * strategy it is): named under the table, since its rows are compared. */
static void write_other_differences(FILE *out, const report_group **groups, size_t n) {
    if (n < 2) return;
    const report_run *first = groups[0]->runs[0];
    int any = 0;
    for (size_t k = 0; k < first->n_settings; k++) {
        const char *entry = first->settings[k];
        size_t len = strcspn(entry, "=");
        if ((len == 8 && strncmp(entry, "strategy", 8) == 0) ||
            (len == 5 && strncmp(entry, "label", 5) == 0))
            continue;
        int everywhere = 1, differs = 0;
        for (size_t g = 1; g < n && everywhere; g++) {
            const char *v = setting_of(groups[g]->runs[0], entry, len);
            everywhere = v != NULL;
            differs |= v && strcmp(v, entry + len + 1) != 0;
        }
        if (!everywhere || !differs) continue;
        fprintf(out, "%s%.*s", any++ ? ", " : "\nBesides the strategy, the rows differ in ",
                (int)len, entry);
    }
    if (any) fprintf(out, ".\n");
}

static void write_table2(FILE *out, const report_data *d, const char *dataset,
                         const char *model) {
    const report_group *groups[d->n_labels + 1];
    size_t n = table2_groups(d, dataset, model, groups);
    if (n == 0) return;
    fprintf(out, "\n**%s, %s**\n\n| strategy |", dataset, model);
    for (int m = 0; m < REPORT_N_METRICS; m++) fprintf(out, " %s |", report_metric_names[m]);
    fprintf(out, " seeds |\n| --- |");
    for (int m = 0; m < REPORT_N_METRICS; m++) fprintf(out, " ---: |");
    fprintf(out, " ---: |\n");
    for (size_t k = 0; k < n; k++) {
        const report_group *g = groups[k];
        fprintf(out, "| %s |", g->label);
        for (int m = 0; m < REPORT_N_METRICS; m++) {
            double mean = group_mean(g, m);
            int rank = 0; /* how many groups are strictly better */
            for (size_t j = 0; j < n; j++) rank += group_mean(groups[j], m) > mean;
            char mark[8] = "";
            if (report_is_melon(g)) {
                const report_group *base = best_baseline(groups, n, m);
                if (base) {
                    paired_comparison c = compare_paired(g, base, m);
                    if (testable(&c) && c.test.p_two_sided < SIGNIFICANCE)
                        snprintf(mark, sizeof mark, "%s",
                                 c.test.mean_difference > 0 ? " †" : " ‡");
                }
            }
            const char *open = rank == 0 ? "**" : rank == 1 ? "<u>" : "";
            const char *close = rank == 0 ? "**" : rank == 1 ? "</u>" : "";
            /* one seed has no standard error */
            if (g->n_runs < 2) fprintf(out, " %s%.4f%s%s |", open, mean, close, mark);
            else fprintf(out, " %s%.4f ± %.4f%s%s |", open, mean, group_se(g, m), close, mark);
        }
        fprintf(out, " %zu |\n", g->n_runs);
    }
    if (seeds_differ(groups, n))
        fprintf(out, "\nThe rows ran different seeds (the seeds column); each MeLON "
                     "test pairs the seeds both of its runs have.\n");
    write_other_differences(out, groups, n);
}

/* The improvement of each MeLON configuration over the best baseline, per
 * metric, with the paired test; and whether the paper's direction (MeLON
 * best) holds. */
static void write_improvement(FILE *out, const report_data *d, const char *dataset,
                              const char *model) {
    const report_group *groups[d->n_labels + 1];
    size_t n = table2_groups(d, dataset, model, groups);
    for (size_t k = 0; k < n; k++) {
        const report_group *g = groups[k];
        if (!report_is_melon(g)) continue;
        int wins = 0, significant_wins = 0, significant_losses = 0, compared = 0,
            tested = 0;
        fprintf(out, "| %s | %s | %s |", dataset, model, g->label);
        for (int m = 0; m < REPORT_N_METRICS; m++) {
            const report_group *base = best_baseline(groups, n, m);
            if (!base) {
                fprintf(out, " – |");
                continue;
            }
            paired_comparison c = compare_paired(g, base, m);
            if (c.test.n == 0) {
                fprintf(out, " no common seed with %s |", base->label);
                continue;
            }
            double mine = c.mean_a, theirs = c.mean_b;
            int significant = testable(&c) && c.test.p_two_sided < SIGNIFICANCE;
            compared++;
            tested += testable(&c);
            wins += mine > theirs;
            significant_wins += mine > theirs && significant;
            significant_losses += mine < theirs && significant;
            char p[32], seeds[64] = "";
            if (testable(&c)) snprintf(p, sizeof p, "%.3f", c.test.p_two_sided);
            else snprintf(p, sizeof p, "n/a");
            if (c.test.n < g->n_runs || c.test.n < base->n_runs)
                snprintf(seeds, sizeof seeds, ", over the %zu common seed%s", c.test.n,
                         c.test.n == 1 ? "" : "s");
            fprintf(out, " %+.1f%% vs %s (p %s%s) |",
                    theirs != 0.0 ? 100.0 * (mine - theirs) / theirs : 0.0, base->label,
                    p, seeds);
        }
        if (compared == 0) fprintf(out, " no baseline with a common seed |\n");
        else if (tested == 0)
            fprintf(out, " %s: higher on %d of %d metrics; no test (fewer than two "
                         "common seeds) |\n",
                    wins == compared ? "agrees in direction" : "**does not agree**", wins,
                    compared);
        else if (significant_wins == compared)
            fprintf(out, " agrees: significantly best on every metric |\n");
        else if (significant_losses > 0)
            fprintf(out, " **disagrees**: significantly worse on %d of %d metrics |\n",
                    significant_losses, compared);
        else
            fprintf(out, " %s: higher on %d of %d metrics, significantly on %d |\n",
                    wins == compared ? "agrees in direction" : "**does not agree**", wins,
                    compared, significant_wins);
    }
}

static int any_group(const report_data *d, int (*is)(const report_group *)) {
    for (size_t k = 0; k < d->n_groups; k++)
        if (is(&d->groups[k])) return 1;
    return 0;
}

/* Left out when there are no ablation runs. */
static void write_table3(FILE *out, const report_data *d) {
    static const char *const ablations[3] = {"melon-i", "melon-p", "melon"};
    if (!any_group(d, report_is_ablation)) return;
    fprintf(out, "\n## Table 3: ablation (HR@5)\n");
    fprintf(out, "\n| dataset | model | MeLON_I (melon-i) | MeLON_P (melon-p) | MeLON |\n"
                 "| --- | --- | ---: | ---: | ---: |\n");
    for (size_t i = 0; i < d->n_datasets; i++)
        for (size_t j = 0; j < d->n_models; j++) {
            const report_group *g[3];
            int present = 0;
            for (int a = 0; a < 3; a++) {
                g[a] = report_find(d, d->datasets[i], d->models[j], ablations[a]);
                present += g[a] != NULL;
            }
            if (!present) continue;
            fprintf(out, "| %s | %s |", d->datasets[i], d->models[j]);
            for (int a = 0; a < 3; a++) {
                if (!g[a]) fprintf(out, " – |");
                else if (g[a]->n_runs < 2) fprintf(out, " %.4f |", group_mean(g[a], 0));
                else fprintf(out, " %.4f ± %.4f |", group_mean(g[a], 0), group_se(g[a], 0));
            }
            fputc('\n', out);
        }
}

static void write_table4(FILE *out, const report_data *d) {
    fprintf(out, "\n| dataset | model |");
    for (size_t k = 0; k < d->n_labels; k++) fprintf(out, " %s |", d->labels[k]);
    fprintf(out, "\n| --- | --- |");
    for (size_t k = 0; k < d->n_labels; k++) fprintf(out, " ---: |");
    fputc('\n', out);
    for (size_t i = 0; i < d->n_datasets; i++)
        for (size_t j = 0; j < d->n_models; j++) {
            const report_group *base = report_find(d, d->datasets[i], d->models[j], "default");
            int present = 0;
            for (size_t k = 0; k < d->n_labels; k++)
                present += report_find(d, d->datasets[i], d->models[j], d->labels[k]) != NULL;
            if (!present) continue;
            fprintf(out, "| %s | %s |", d->datasets[i], d->models[j]);
            for (size_t k = 0; k < d->n_labels; k++) {
                const report_group *g =
                    report_find(d, d->datasets[i], d->models[j], d->labels[k]);
                if (!g) {
                    fprintf(out, " – |");
                    continue;
                }
                double s = group_mean(g, -1);
                int timed = 1; /* result files without timings have none */
                for (size_t r = 0; r < g->n_runs; r++) timed &= g->runs[r]->update_s >= 0.0;
                if (!timed) fprintf(out, " n/a |");
                else if (base && group_mean(base, -1) > 0.0)
                    fprintf(out, " %.3g ms (%.1f×) |", 1e3 * s, s / group_mean(base, -1));
                else
                    fprintf(out, " %.3g ms |", 1e3 * s);
            }
            fputc('\n', out);
        }
}

/* MRR, Recall and HR of repeat and new pairs at 10, for the groups whose
 * files have them (nothing when none has). */
static void write_beyond(FILE *out, const report_data *d) {
    int any = 0;
    for (size_t k = 0; k < d->n_runs && !any; k++) any = !isnan(d->runs[k].beyond[0]);
    if (!any) return;
    fprintf(out, "\n## MRR, Recall, repeat and new pairs\n\n"
                 "MRR@10 and HR@10 are means over interactions; Recall@10 is the "
                 "mean over users and batches of the share of a user's items of "
                 "the batch ranked in the top 10 together; a pair is a repeat when "
                 "its user had the item before (docs/protocol.md section 4.1). "
                 "n/a: no such pairs, or results from before these measures.\n\n"
                 "| dataset | model | strategy |");
    for (int b = 0; b < REPORT_N_BEYOND; b++) fprintf(out, " %s |", report_beyond_names[b]);
    fprintf(out, " seeds |\n| --- | --- | --- |");
    for (int b = 0; b < REPORT_N_BEYOND; b++) fprintf(out, " ---: |");
    fprintf(out, " ---: |\n");
    for (size_t i = 0; i < d->n_datasets; i++)
        for (size_t j = 0; j < d->n_models; j++)
            for (size_t k = 0; k < d->n_labels; k++) {
                const report_group *g =
                    report_find(d, d->datasets[i], d->models[j], d->labels[k]);
                if (!g) continue;
                fprintf(out, "| %s | %s | %s |", g->dataset, g->model, g->label);
                for (int b = 0; b < REPORT_N_BEYOND; b++) {
                    double v[g->n_runs];
                    for (size_t r = 0; r < g->n_runs; r++) v[r] = g->runs[r]->beyond[b];
                    double mean = melon_mean(v, g->n_runs);
                    if (isnan(mean)) fprintf(out, " n/a |");
                    else if (g->n_runs < 2) fprintf(out, " %.4f |", mean);
                    else fprintf(out, " %.4f ± %.4f |", mean,
                                 melon_standard_error(v, g->n_runs));
                }
                fprintf(out, " %zu |\n", g->n_runs);
            }
}

/* The runs whose losses say the updates diverged (none: nothing). */
static void write_diverged(FILE *out, const report_data *d) {
    int any = 0;
    for (size_t k = 0; k < d->n_runs; k++) {
        const report_run *r = &d->runs[k];
        if (!r->warning) continue;
        if (!any++)
            fprintf(out, "\n## Runs whose loss diverged\n\n"
                         "A pre-training epoch's mean loss rose to more than "
                         "twice the lowest before it and above 2 ln 2 (a model "
                         "giving every item the same score has ln 2), the "
                         "online batches averaged more than twice the last "
                         "epoch's, or a loss stopped being a number. Their "
                         "metrics above are those of the model each run "
                         "ended with.\n\n| dataset | model | strategy | seed | "
                         "why |\n| --- | --- | --- | ---: | --- |\n");
        fprintf(out, "| %s | %s | %s | %ld | %s |\n", r->dataset, r->model,
                r->label, r->seed, r->warning);
    }
}

static int file_exists(const char *path) {
    FILE *f = fopen(path, "r");
    if (f) fclose(f);
    return f != NULL;
}

static void write_figures(FILE *out, const report_data *d, const char *dir,
                          const char *link) {
    char path[4400], slug_d[256], slug_m[64], slug[512], name[512];
    fprintf(out, "\n## Figure 5: NDCG@10 per online batch (mean over seeds)\n\n");
    for (size_t i = 0; i < d->n_datasets; i++)
        for (size_t j = 0; j < d->n_models; j++) {
            report_slug(d->datasets[i], slug_d, sizeof slug_d);
            report_slug(d->models[j], slug_m, sizeof slug_m);
            snprintf(path, sizeof path, "%s/fig5-%s-%s.svg", dir, slug_d, slug_m);
            if (file_exists(path))
                fprintf(out, "![NDCG@10 per online batch, %s, %s](%s/fig5-%s-%s.svg)\n\n",
                        d->datasets[i], d->models[j], link, slug_d, slug_m);
        }
    int any = 0;
    for (size_t k = 0; k < d->n_runs; k++) {
        const report_run *r = &d->runs[k];
        snprintf(name, sizeof name, "%s-%s-%s", r->dataset, r->model, r->label);
        report_slug(name, slug, sizeof slug);
        snprintf(path, sizeof path, "%s/fig4-%s.svg", dir, slug);
        if (!file_exists(path)) continue;
        if (!any++)
            fprintf(out, "## Figure 4: learning rates of interaction-parameter pairs\n\n"
                         "Rows are the interactions of one online batch and columns the "
                         "parameters they touch (blank: not touched). The side plots "
                         "are the row and column means, which are the one-directional "
                         "rates.\n\n");
        fprintf(out, "![Learning rates, %s, %s, %s, seed %ld](%s/fig4-%s.svg)\n\n",
                r->dataset, r->model, r->label, r->seed, link, slug);
    }
}

void report_write_markdown(FILE *out, const report_data *d,
                           const char *figures_dir, const char *figures_link) {
    fprintf(out, "# Online update: results\n\n"
                 "%zu runs: %zu datasets, %zu models, %zu strategies. Mean ± standard "
                 "error over seeds (one seed: its value alone). Runs are averaged "
                 "only when every setting but the seed is the same; where runs of "
                 "one strategy differ, its name says how. In each column the best mean is **bold** and "
                 "the second <u>underlined</u>. † marks a MeLON value that is "
                 "significantly better than the best baseline of that column, and ‡ "
                 "one that is significantly worse (paired t-test over seeds, two-sided, "
                 "p < %.2f; a seed fixes the evaluation negatives, so runs pair by "
                 "seed).\n",
            d->n_runs, d->n_datasets, d->n_models, d->n_labels, SIGNIFICANCE);
    fprintf(out, "\n## Table 2: accuracy of the online updates\n");
    for (size_t i = 0; i < d->n_datasets; i++)
        for (size_t j = 0; j < d->n_models; j++)
            write_table2(out, d, d->datasets[i], d->models[j]);
    report_write_choices(out, d);
    if (any_group(d, report_is_melon)) {
        fprintf(out, "\n## MeLON against the best baseline\n\n"
                     "The relative difference to the best baseline of each metric, "
                     "with the p-value of the paired t-test, both over the seeds the "
                     "two have in common (n/a: fewer than two). The paper reports "
                     "MeLON best everywhere; the last column says whether these runs "
                     "agree.\n\n"
                     "| dataset | model | MeLON |");
        for (int m = 0; m < REPORT_N_METRICS; m++) fprintf(out, " %s |", report_metric_names[m]);
        fprintf(out, " the paper's direction |\n| --- | --- | --- |");
        for (int m = 0; m < REPORT_N_METRICS; m++) fprintf(out, " --- |");
        fprintf(out, " --- |\n");
        for (size_t i = 0; i < d->n_datasets; i++)
            for (size_t j = 0; j < d->n_models; j++)
                write_improvement(out, d, d->datasets[i], d->models[j]);
    }
    write_beyond(out, d);
    write_table3(out, d);
    fprintf(out, "\n## Table 4: time per online batch (meta step and update, "
                 "without evaluation; each run's median batch, mean over "
                 "seeds) and the ratio to Default\n");
    write_table4(out, d);
    write_diverged(out, d);
    if (figures_dir) write_figures(out, d, figures_dir, figures_link);
}
