/* The settings melon tune chose, beside the tables of the runs that used
 * them: every tuned/NAME.settings under the results (melon bench --tuned
 * copies them there). */
#include "report.h"

#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* nftw has no user pointer: the walk collects paths in this list. */
static char **found;
static size_t n_found, cap_found;

static int collect(const char *path, const struct stat *st, int type,
                   struct FTW *ftw) {
    (void)st;
    size_t len = strlen(path);
    if (type != FTW_F || len < 9 || strcmp(path + len - 9, ".settings") != 0 ||
        ftw->base < 7 || strncmp(path + ftw->base - 7, "/tuned/", 7) != 0)
        return 0;
    if (n_found == cap_found) {
        cap_found = cap_found ? 2 * cap_found : 16;
        char **bigger = realloc(found, cap_found * sizeof *bigger);
        if (!bigger) return -1;
        found = bigger;
    }
    found[n_found++] = strdup(path);
    return 0;
}

static int by_path(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void set(char **field, const char *value) {
    free(*field);
    *field = strdup(value);
}

/* One file; 0, or -1 after a message. */
static int read_choice(report_choice *c, const char *path) {
    memset(c, 0, sizeof *c);
    c->score = c->se = NAN;
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "melon report: %s: cannot read\n", path);
        return -1;
    }
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, "# chosen: ", 10) == 0) set(&c->chosen, line + 10);
        else if (strncmp(line, "# metric=", 9) == 0) set(&c->metric, line + 9);
        else if (strncmp(line, "# seeds=", 8) == 0) set(&c->seeds, line + 8);
        else if (strncmp(line, "# validation-score=", 19) == 0) c->score = atof(line + 19);
        else if (strncmp(line, "# validation-se=", 16) == 0) c->se = atof(line + 16);
        else if (strncmp(line, "name=", 5) == 0) set(&c->dataset, line + 5);
        else if (strncmp(line, "model=", 6) == 0) set(&c->model, line + 6);
        else if (strncmp(line, "strategy=", 9) == 0) set(&c->strategy, line + 9);
    }
    fclose(f);
    if (!c->chosen || !c->dataset || !c->model || !c->strategy || !c->metric ||
        isnan(c->score)) {
        fprintf(stderr, "melon report: %s: not a choice of melon tune (no chosen, "
                        "name, model, strategy, metric or score line)\n", path);
        return -1;
    }
    return 0;
}

static void free_choice(report_choice *c) {
    free(c->dataset);
    free(c->model);
    free(c->strategy);
    free(c->chosen);
    free(c->metric);
    free(c->seeds);
}

int report_load_choices(report_data *d, const char *dir) {
    found = NULL;
    n_found = cap_found = 0;
    int rc = nftw(dir, collect, 16, FTW_PHYS) == 0 ? 0 : -1;
    if (rc != 0) fprintf(stderr, "melon report: %s: cannot read the directory\n", dir);
    if (n_found > 1) qsort(found, n_found, sizeof *found, by_path);
    d->choices = calloc(n_found ? n_found : 1, sizeof *d->choices);
    for (size_t k = 0; k < n_found; k++) {
        if (rc == 0 && d->choices) {
            if (read_choice(&d->choices[d->n_choices], found[k]) == 0) d->n_choices++;
            else {
                free_choice(&d->choices[d->n_choices]);
                rc = -1;
            }
        }
        free(found[k]);
    }
    free(found);
    found = NULL;
    return d->choices ? rc : -1;
}

void report_free_choices(report_data *d) {
    for (size_t k = 0; k < d->n_choices; k++) free_choice(&d->choices[k]);
    free(d->choices);
    d->choices = NULL;
    d->n_choices = 0;
}

void report_write_choices(FILE *out, const report_data *d) {
    if (d->n_choices == 0) return;
    fprintf(out, "\n## Settings chosen on the validation tail\n\n"
                 "`melon tune` chose these settings on the last part of the past "
                 "(the test stream was not used), and the runs above used them. "
                 "The score is the mean ± standard error over the validation "
                 "seeds.\n\n"
                 "| dataset | model | strategy | chosen settings | validation score | "
                 "validation seeds |\n| --- | --- | --- | --- | ---: | --- |\n");
    for (size_t k = 0; k < d->n_choices; k++) {
        const report_choice *c = &d->choices[k];
        fprintf(out, "| %s | %s | %s | `%s` | %s %.4f ± %.4f | %s |\n", c->dataset,
                c->model, c->strategy, c->chosen, c->metric, c->score, c->se,
                c->seeds ? c->seeds : "n/a");
    }
}
