/* Reading a directory of result files into runs and groups. */
#define _XOPEN_SOURCE 700
#include "json_file.h"
#include "report.h"

#include "eval/runner.h"

#include <cJSON.h>
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const report_metric_names[REPORT_N_METRICS] = {
    "HR@5", "HR@10", "HR@20", "NDCG@5", "NDCG@10", "NDCG@20"};
const char *const report_beyond_names[REPORT_N_BEYOND] = {
    "MRR@10", "Recall@10", "HR@10 repeat pairs", "HR@10 new pairs"};

/* The paper's order of strategies (Default with dense Adam, the paper's
 * own, beside melon's lazy one); other labels follow alphabetically. */
static const char *const paper_order[] = {
    "default", "default-dense", "eals", "eals-replay", "eals-als", "mwnet", "metasgd", "sml",
    "s2meta", "melon-i", "melon-p", "melon", NULL};

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

/* What is not a setting of the experiment: the seed (runs pool over it),
 * the thread count (it changes sums' order, not what is measured), where
 * the data files were, and what the run measured. */
static const char *const not_settings[] = {"seed", "threads", "files", NULL};

static int is_listed(const char *const *list, const char *name) {
    for (; *list; list++)
        if (strcmp(*list, name) == 0) return 1;
    return 0;
}

/* Appends "prefix.key=value" for every value under obj (objects are
 * followed, other values written as compact JSON). */
static void flatten(const cJSON *obj, const char *prefix, char ***out, size_t *n) {
    const cJSON *item;
    cJSON_ArrayForEach(item, obj) {
        if (!item->string || is_listed(not_settings, item->string)) continue;
        char key[256];
        snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", item->string);
        if (cJSON_IsObject(item)) {
            flatten(item, key, out, n);
            continue;
        }
        char *value = cJSON_PrintUnformatted(item);
        char **grown = realloc(*out, (*n + 1) * sizeof *grown);
        if (!value || !grown) {
            free(value);
            if (grown) *out = grown;
            continue;
        }
        *out = grown;
        size_t len = strlen(key) + strlen(value) + 2;
        (*out)[*n] = malloc(len);
        if ((*out)[*n]) snprintf((*out)[*n], len, "%s=%s", key, value), (*n)++;
        free(value);
    }
}

static int compare_strings(const void *a, const void *b);

/* The run's settings: the settings object and the dataset's (its name,
 * k-core and sizes, which tell a different file apart). */
static void read_settings(report_run *r, const cJSON *settings, const cJSON *dataset) {
    flatten(settings, "", &r->settings, &r->n_settings);
    flatten(dataset, "dataset", &r->settings, &r->n_settings);
    /* files from before --negatives ranked against the protocol's 99 */
    if (!get(settings, "negatives")) {
        char **grown = realloc(r->settings, (r->n_settings + 1) * sizeof *grown);
        if (grown) {
            r->settings = grown;
            if ((grown[r->n_settings] = strdup("negatives=99"))) r->n_settings++;
        }
    }
    qsort(r->settings, r->n_settings, sizeof *r->settings, compare_strings);
}

/* A number of obj, or NaN (absent, null, or obj not an object). */
static double number_or_nan(const cJSON *obj, const char *key) {
    double x;
    return cJSON_IsObject(obj) && get_number(obj, key, &x) == 0 ? x : NAN;
}

/* Renames the run's dataset "NAME (what)", so its runs form tables of
 * their own. */
static void name_apart(report_run *r, const char *what) {
    size_t len = strlen(r->dataset) + strlen(what) + 4;
    char *named = malloc(len);
    if (!named) return;
    snprintf(named, len, "%s (%s)", r->dataset, what);
    free(r->dataset);
    r->dataset = named;
}

/* Parses one file; 1 = a melon result, 0 = some other JSON, -1 = broken. */
static int parse_run(report_run *r, const char *path) {
    memset(r, 0, sizeof *r);
    char *text = json_file_text(path);
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
    read_settings(r, settings, dataset);
    /* validation runs never mix with test-stream runs, nor rankings
     * against other negatives with the protocol's */
    if (r->validation > 0.0) name_apart(r, "validation");
    const cJSON *negatives = get(settings, "negatives");
    char apart[64];
    if (cJSON_IsString(negatives)) {
        snprintf(apart, sizeof apart, "%s items", negatives->valuestring);
        name_apart(r, apart);
    } else if (cJSON_IsNumber(negatives) && negatives->valuedouble != 99) {
        snprintf(apart, sizeof apart, "%g negatives", negatives->valuedouble);
        name_apart(r, apart);
    }
    const cJSON *pairs = get(root, "metrics_by_pair");
    r->beyond[0] = number_or_nan(metrics, "MRR@10");
    r->beyond[1] = number_or_nan(metrics, "Recall@10");
    r->beyond[2] = number_or_nan(get(pairs, "repeat"), "HR@10");
    r->beyond[3] = number_or_nan(get(pairs, "new"), "HR@10");
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
    for (size_t k = 0; k < r->n_settings; k++) free(r->settings[k]);
    free(r->settings);
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

static int same_settings(const report_run *a, const report_run *b) {
    if (a->n_settings != b->n_settings) return 0;
    for (size_t k = 0; k < a->n_settings; k++)
        if (strcmp(a->settings[k], b->settings[k]) != 0) return 0;
    return 1;
}

/* The value of key in the run's settings ("key=value"), NULL when unset. */
static const char *setting_value(const report_run *r, const char *key, size_t len) {
    for (size_t k = 0; k < r->n_settings; k++)
        if (strncmp(r->settings[k], key, len) == 0 && r->settings[k][len] == '=')
            return r->settings[k] + len + 1;
    return NULL;
}

static int same_value(const char *a, const char *b) {
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Appends " key value" for each setting of r that differs among runs[0..n). */
static void describe_difference(const report_run *r, report_run *const *runs, size_t n,
                                char *out, size_t cap) {
    size_t used = strlen(out);
    for (size_t j = 0; j < n; j++)
        for (size_t k = 0; k < runs[j]->n_settings; k++) {
            const char *entry = runs[j]->settings[k];
            size_t len = strcspn(entry, "=");
            /* each key once: at the first run that has it */
            int seen = 0;
            for (size_t i = 0; i < j && !seen; i++) seen = setting_value(runs[i], entry, len) != NULL;
            if (seen) continue;
            const char *mine = setting_value(r, entry, len);
            int differs = 0;
            for (size_t i = 0; i < n && !differs; i++)
                differs = !same_value(setting_value(runs[i], entry, len), mine);
            if (!differs) continue;
            /* strings without their quotes */
            const char *v = mine ? mine : "unset";
            size_t vlen = strlen(v);
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') v++, vlen -= 2;
            int wrote = snprintf(out + used, cap - used, "%s%.*s %.*s",
                                 out[used - 1] == '(' ? "" : ", ", (int)len, entry,
                                 (int)vlen, v);
            if (wrote < 0 || (size_t)wrote >= cap - used) return;
            used += (size_t)wrote;
        }
}

/* Runs of one (dataset, model, label) whose settings differ are never
 * pooled: each gets a label naming the settings that set it apart. */
static void separate_differing_settings(report_data *d) {
    char **labels = calloc(d->n_runs ? d->n_runs : 1, sizeof *labels);
    report_run **same = calloc(d->n_runs ? d->n_runs : 1, sizeof *same);
    if (!labels || !same) {
        free(labels);
        free(same);
        return;
    }
    for (size_t k = 0; k < d->n_runs; k++) {
        report_run *r = &d->runs[k];
        size_t n = 0;
        int differ = 0;
        for (size_t j = 0; j < d->n_runs; j++) {
            report_run *o = &d->runs[j];
            if (strcmp(o->dataset, r->dataset) || strcmp(o->model, r->model) ||
                strcmp(o->label, r->label))
                continue;
            same[n++] = o;
            differ |= !same_settings(o, r);
        }
        if (!differ) continue;
        char name[1024];
        snprintf(name, sizeof name, "%s (", r->label);
        describe_difference(r, same, n, name, sizeof name - 1);
        strcat(name, ")");
        labels[k] = strdup(name);
    }
    for (size_t k = 0; k < d->n_runs; k++)
        if (labels[k]) {
            free(d->runs[k].label);
            d->runs[k].label = labels[k];
        }
    free(labels);
    free(same);
}

static void build_groups(report_data *d) {
    separate_differing_settings(d);
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
    if (rc == 0) rc = report_load_choices(d, dir);
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
    report_free_choices(d);
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
