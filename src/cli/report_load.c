/* Reading a directory of result files into runs and groups. */
#define _XOPEN_SOURCE 700
#include "report.h"

#include "melon/runner.h"

#include <cJSON.h>
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const report_metric_names[REPORT_N_METRICS] = {
    "HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20"};

/* The paper's order of strategies; other labels follow alphabetically. */
static const char *const paper_order[] = {
    "default", "eals", "eals-replay", "eals-als", "mwnet", "metasgd", "sml",
    "s2meta", "melon-i", "melon-p", "melon", NULL};

static char *read_whole(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    if (!buf) {
        fclose(f);
        return NULL;
    }
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2) {
            char *bigger = realloc(buf, 2 * cap);
            if (!bigger) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    buf[len] = 0;
    return buf;
}

static const cJSON *get(const cJSON *obj, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static char *get_string(const cJSON *obj, const char *key) {
    const cJSON *v = get(obj, key);
    return cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
}

static int get_number(const cJSON *obj, const char *key, double *out) {
    const cJSON *v = get(obj, key);
    if (!cJSON_IsNumber(v)) return -1;
    *out = v->valuedouble;
    return 0;
}

/* The numbers of a JSON array (null, as written for NaN, reads as NaN);
 * *n = 0 and NULL when key is not an array. */
static double *number_array(const cJSON *obj, const char *key, size_t *n) {
    const cJSON *a = cJSON_IsObject(obj) ? get(obj, key) : NULL;
    *n = 0;
    if (!cJSON_IsArray(a)) return NULL;
    double *v = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(double));
    const cJSON *x;
    if (v) cJSON_ArrayForEach(x, a) v[(*n)++] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
    return v;
}

/* The run's divergence warning, NULL when none: as the run wrote it, or,
 * in result files from before runs wrote one, judged from their losses
 * (never for popularity, which has no loss to descend). */
static char *diverged_why(const cJSON *root, const cJSON *per_batch,
                          const char *strategy) {
    char *written = get_string(root, "warning");
    if (written) {
        if (written[0]) return written;
        free(written);
        return NULL;
    }
    char *model = get_string(get(root, "settings"), "model");
    int pop = model && strcmp(model, "pop") == 0;
    free(model);
    if (pop) return NULL;
    size_t epochs, batches;
    double *pretrain = number_array(root, "pretrain_loss", &epochs);
    double *online = number_array(per_batch, "loss", &batches);
    char why[256];
    int diverged = melon_losses_diverged(pretrain, (int)epochs, online, batches,
                                         strategy, why, sizeof why);
    free(pretrain);
    free(online);
    return diverged ? strdup(why) : NULL;
}

/* Parses one file; 1 = a melon result, 0 = some other JSON, -1 = broken. */
static int parse_run(report_run *r, const char *path) {
    memset(r, 0, sizeof *r);
    char *text = read_whole(path);
    if (!text) {
        fprintf(stderr, "melon report: %s: cannot read\n", path);
        return -1;
    }
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) {
        fprintf(stderr, "melon report: %s: not valid JSON\n", path);
        return -1;
    }
    const cJSON *dataset = get(root, "dataset"), *settings = get(root, "settings");
    const cJSON *metrics = get(root, "metrics"), *per_batch = get(root, "per_batch");
    const cJSON *timing = get(root, "timing");
    int rc = 0;
    if (!cJSON_IsObject(dataset) || !cJSON_IsObject(settings) ||
        !cJSON_IsObject(metrics)) {
        cJSON_Delete(root);
        return 0;
    }
    double seed = 0.0;
    r->path = strdup(path);
    r->dataset = get_string(dataset, "name");
    r->model = get_string(settings, "model");
    r->strategy = get_string(settings, "strategy");
    r->label = get_string(settings, "label");
    if (!r->label && r->strategy) r->label = strdup(r->strategy);
    if (get_number(settings, "validation", &r->validation) != 0) r->validation = 0.0;
    if (!r->dataset || !r->model || !r->strategy || !r->label ||
        get_number(settings, "seed", &seed) != 0) {
        fprintf(stderr, "melon report: %s: missing dataset name, model, strategy "
                        "or seed\n", path);
        rc = -1;
        goto done;
    }
    r->seed = (long)seed;
    if (r->validation > 0.0) {
        /* validation runs never mix with test-stream runs */
        size_t len = strlen(r->dataset) + 32;
        char *named = malloc(len);
        snprintf(named, len, "%s (validation)", r->dataset);
        free(r->dataset);
        r->dataset = named;
    }
    for (int m = 0; m < REPORT_N_METRICS; m++)
        if (get_number(metrics, report_metric_names[m], &r->metrics[m]) != 0) {
            fprintf(stderr, "melon report: %s: metric %s missing\n", path,
                    report_metric_names[m]);
            rc = -1;
            goto done;
        }
    const cJSON *update = cJSON_IsObject(timing) ? get(timing, "update_s_per_batch") : NULL;
    /* the run's median batch time (robust to a batch slowed by another
     * process), else its mean (result files without a median) */
    if (!update || (get_number(update, "median", &r->update_s) != 0 &&
                    get_number(update, "mean", &r->update_s) != 0))
        r->update_s = -1.0;
    const cJSON *series = cJSON_IsObject(per_batch) ? get(per_batch, "NDCG@10") : NULL;
    if (cJSON_IsArray(series)) {
        r->n_batches = (size_t)cJSON_GetArraySize(series);
        r->ndcg10 = calloc(r->n_batches ? r->n_batches : 1, sizeof(double));
        size_t k = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, series) r->ndcg10[k++] = cJSON_IsNumber(x) ? x->valuedouble : 0.0;
    }
    r->warning = diverged_why(root, per_batch, r->strategy);
    rc = 1;
done:
    cJSON_Delete(root);
    return rc;
}

static void free_run(report_run *r) {
    free(r->warning);
    free(r->path);
    free(r->dataset);
    free(r->model);
    free(r->strategy);
    free(r->label);
    free(r->ndcg10);
}

/* nftw has no user pointer: the walk collects paths in this list. */
static char **found_paths;
static size_t n_found, cap_found;

static int collect(const char *path, const struct stat *st, int type,
                   struct FTW *ftw) {
    (void)st;
    (void)ftw;
    size_t len = strlen(path);
    if (type != FTW_F || len < 5 || strcmp(path + len - 5, ".json") != 0) return 0;
    if (n_found == cap_found) {
        cap_found = cap_found ? 2 * cap_found : 64;
        char **bigger = realloc(found_paths, cap_found * sizeof *bigger);
        if (!bigger) return -1;
        found_paths = bigger;
    }
    found_paths[n_found++] = strdup(path);
    return 0;
}

static int compare_strings(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int order_of(const char *label) {
    for (int k = 0; paper_order[k]; k++)
        if (strcmp(paper_order[k], label) == 0) return k;
    return 1000;
}

static int compare_labels(const void *a, const void *b) {
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    int ox = order_of(x), oy = order_of(y);
    return ox != oy ? ox - oy : strcmp(x, y);
}

/* Adds s to a set of strings (kept unsorted until the end). */
static void add_unique(char ***list, size_t *n, const char *s) {
    for (size_t k = 0; k < *n; k++)
        if (strcmp((*list)[k], s) == 0) return;
    *list = realloc(*list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = strdup(s);
}

static int compare_runs_by_seed(const void *a, const void *b) {
    const report_run *x = *(report_run *const *)a, *y = *(report_run *const *)b;
    return (x->seed > y->seed) - (x->seed < y->seed);
}

static void build_groups(report_data *d) {
    for (size_t k = 0; k < d->n_runs; k++) {
        report_run *r = &d->runs[k];
        add_unique(&d->datasets, &d->n_datasets, r->dataset);
        add_unique(&d->models, &d->n_models, r->model);
        add_unique(&d->labels, &d->n_labels, r->label);
        report_group *g = (report_group *)report_find(d, r->dataset, r->model, r->label);
        if (!g) {
            d->groups = realloc(d->groups, (d->n_groups + 1) * sizeof *d->groups);
            g = &d->groups[d->n_groups++];
            memset(g, 0, sizeof *g);
            g->dataset = r->dataset;
            g->model = r->model;
            g->label = r->label;
            g->strategy = r->strategy;
        }
        g->runs = realloc(g->runs, (g->n_runs + 1) * sizeof *g->runs);
        g->runs[g->n_runs++] = r;
    }
    for (size_t k = 0; k < d->n_groups; k++)
        qsort(d->groups[k].runs, d->groups[k].n_runs, sizeof(report_run *),
              compare_runs_by_seed);
    qsort(d->datasets, d->n_datasets, sizeof(char *), compare_strings);
    qsort(d->models, d->n_models, sizeof(char *), compare_strings);
    qsort(d->labels, d->n_labels, sizeof(char *), compare_labels);
}

int report_load(report_data *d, const char *dir) {
    memset(d, 0, sizeof *d);
    found_paths = NULL;
    n_found = cap_found = 0;
    if (nftw(dir, collect, 16, FTW_PHYS) != 0) {
        fprintf(stderr, "melon report: %s: cannot read the directory\n", dir);
        for (size_t k = 0; k < n_found; k++) free(found_paths[k]);
        free(found_paths);
        return -1;
    }
    qsort(found_paths, n_found, sizeof(char *), compare_strings);
    d->runs = calloc(n_found ? n_found : 1, sizeof *d->runs);
    int rc = 0;
    for (size_t k = 0; k < n_found; k++) {
        int parsed = parse_run(&d->runs[d->n_runs], found_paths[k]);
        if (parsed == 1) d->n_runs++;
        else {
            free_run(&d->runs[d->n_runs]);
            if (parsed == 0) d->n_skipped++;
            else rc = -1;
        }
        free(found_paths[k]);
    }
    free(found_paths);
    found_paths = NULL;
    if (rc == 0) build_groups(d);
    return rc;
}

void report_free(report_data *d) {
    for (size_t k = 0; k < d->n_runs; k++) free_run(&d->runs[k]);
    for (size_t k = 0; k < d->n_groups; k++) free(d->groups[k].runs);
    for (size_t k = 0; k < d->n_datasets; k++) free(d->datasets[k]);
    for (size_t k = 0; k < d->n_models; k++) free(d->models[k]);
    for (size_t k = 0; k < d->n_labels; k++) free(d->labels[k]);
    free(d->runs);
    free(d->groups);
    free(d->datasets);
    free(d->models);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

const report_group *report_find(const report_data *d, const char *dataset,
                                const char *model, const char *label) {
    for (size_t k = 0; k < d->n_groups; k++) {
        const report_group *g = &d->groups[k];
        if (strcmp(g->dataset, dataset) == 0 && strcmp(g->model, model) == 0 &&
            strcmp(g->label, label) == 0)
            return g;
    }
    return NULL;
}

void report_values(const report_group *g, int metric, double *out) {
    for (size_t k = 0; k < g->n_runs; k++)
        out[k] = metric < 0 ? g->runs[k]->update_s : g->runs[k]->metrics[metric];
}

int report_is_melon(const report_group *g) {
    return strcmp(g->strategy, "melon") == 0;
}

int report_is_ablation(const report_group *g) {
    return strcmp(g->strategy, "melon-i") == 0 || strcmp(g->strategy, "melon-p") == 0;
}
