/* Setting up the grid of `melon bench`: datasets, models, strategies (with
 * labels and extra options), seeds, options passed to every run. */
#include "bench_grid.h"
#include "cli.h"

#include "fetch/fetch.h"
#include "core/atomic_file.h"
#include "update/strategy.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const own_options[] = {"data", "results", "models", "strategies",
                                          "seeds", "jobs", "threads",
                                          "lr-matrix-batch", "tuned", NULL};
/* Run options bench sets itself for every cell, or that would make cells
 * overwrite each other's files. */
static const char *const reserved_options[] = {
    "data", "name", "model", "strategy", "label", "seed", "out", "quiet", "check",
    "progress", "no-progress", "threads", "per-batch", "ranks", "save-model",
    "dump-lr-matrix", "dump-batch", NULL};

static int in_list(const char *const *list, const char *name) {
    for (int k = 0; list[k]; k++)
        if (strcmp(list[k], name) == 0) return 1;
    return 0;
}

void bench_grid_init(bench_grid *g) {
    memset(g, 0, sizeof *g);
    g->jobs = 1;
    g->lr_matrix_batch = -1;
}

void bench_grid_free(bench_grid *g) {
    for (int k = 0; k < g->n_datasets; k++) {
        free(g->datasets[k].name);
        free(g->datasets[k].files);
    }
    for (int k = 0; k < g->n_models; k++) free(g->models[k]);
    for (int k = 0; k < g->n_strategies; k++) {
        bench_strategy *s = &g->strategies[k];
        free(s->label);
        free(s->strategy);
        for (int e = 0; e < s->n_extra; e++) free(s->extra[e]);
    }
    for (int k = 0; k < g->n_forward; k++) {
        free(g->forward[k]);
        free(g->forward_family[k]);
    }
    free(g->cells);
    memset(g, 0, sizeof *g);
}

int bench_grid_is_own_option(const char *name) {
    return in_list(own_options, name);
}

/* "ml-100k", "files", or "label=files". */
static int add_dataset(bench_grid *g, const char *value, char *why, size_t cap) {
    if (g->n_datasets == BENCH_MAX_DATASETS) {
        snprintf(why, cap, "at most %d datasets", BENCH_MAX_DATASETS);
        return -1;
    }
    bench_dataset *d = &g->datasets[g->n_datasets];
    const char *eq = strchr(value, '=');
    if (eq && !memchr(value, '/', (size_t)(eq - value)) &&
        !memchr(value, ',', (size_t)(eq - value))) {
        d->name = strndup(value, (size_t)(eq - value));
        d->files = strdup(eq + 1);
    } else {
        d->files = strdup(value);
        char first[4096];
        snprintf(first, sizeof first, "%s", value);
        char *comma = strchr(first, ',');
        if (comma) *comma = 0;
        d->name = melon_catalog_find(first) ? strdup(first)
                                            : melon_default_dataset_name(first);
    }
    if (!d->name || !d->files || !d->name[0] || !d->files[0]) {
        snprintf(why, cap, "expected FILES, NAME or LABEL=FILES");
        return -1;
    }
    for (int k = 0; k < g->n_datasets; k++)
        if (strcmp(g->datasets[k].name, d->name) == 0) {
            snprintf(why, cap, "a second dataset named '%s': name it with "
                               "LABEL=FILES", d->name);
            return -1;
        }
    g->n_datasets++;
    return 0;
}

static int add_models(bench_grid *g, const char *value, char *why, size_t cap) {
    static const char *const known[] = {"bpr", "ncf", "pop", NULL};
    char *copy = strdup(value), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!in_list(known, tok)) {
            snprintf(why, cap, "unknown model '%s' (known: bpr, ncf, pop)", tok);
            rc = -1;
            break;
        }
        if (g->n_models == BENCH_MAX_MODELS) {
            snprintf(why, cap, "at most %d models", BENCH_MAX_MODELS);
            rc = -1;
            break;
        }
        g->models[g->n_models++] = strdup(tok);
    }
    free(copy);
    return rc;
}

/* LABEL=NAME:--opt=value:--flag or NAME. */
static int add_strategy(bench_grid *g, const char *entry, char *why, size_t cap) {
    if (g->n_strategies == BENCH_MAX_STRATEGIES) {
        snprintf(why, cap, "at most %d strategies", BENCH_MAX_STRATEGIES);
        return -1;
    }
    bench_strategy *s = &g->strategies[g->n_strategies];
    memset(s, 0, sizeof *s);
    const char *eq = strchr(entry, '=');
    const char *colon = strchr(entry, ':');
    const char *spec = entry;
    if (eq && (!colon || eq < colon)) {
        s->label = strndup(entry, (size_t)(eq - entry));
        spec = eq + 1;
    }
    colon = strchr(spec, ':');
    s->strategy = colon ? strndup(spec, (size_t)(colon - spec)) : strdup(spec);
    if (!s->label) s->label = strdup(s->strategy);
    g->n_strategies++; /* owned from here on, freed by bench_grid_free */
    if (!in_list(melon_strategy_names, s->strategy)) {
        snprintf(why, cap, "unknown strategy '%s' (see melon run --help)",
                 s->strategy);
        return -1;
    }
    while (colon) {
        const char *next = strchr(colon + 1, ':');
        char *opt = next ? strndup(colon + 1, (size_t)(next - colon - 1))
                         : strdup(colon + 1);
        if (s->n_extra == BENCH_MAX_EXTRA) {
            free(opt);
            snprintf(why, cap, "at most %d options per strategy", BENCH_MAX_EXTRA);
            return -1;
        }
        s->extra[s->n_extra++] = opt;
        char key[64];
        const char *oeq = strchr(opt, '=');
        size_t len = oeq ? (size_t)(oeq - opt) : strlen(opt);
        if (strncmp(opt, "--", 2) != 0 || len - 2 >= sizeof key) {
            snprintf(why, cap, "strategy option '%s' must look like --name=value",
                     opt);
            return -1;
        }
        memcpy(key, opt + 2, len - 2);
        key[len - 2] = 0;
        int arity = melon_run_option_arity(key);
        if (arity < 0 || in_list(reserved_options, key) || (arity == 1) != (oeq != NULL)) {
            snprintf(why, cap, "strategy option '%s': %s", opt,
                     arity < 0 ? "unknown option of melon run"
                     : in_list(reserved_options, key) ? "set by bench itself"
                     : arity == 1 ? "needs =value" : "takes no value");
            return -1;
        }
        colon = next;
    }
    for (int k = 0; k + 1 < g->n_strategies; k++)
        if (strcmp(g->strategies[k].label, s->label) == 0) {
            snprintf(why, cap, "two strategies labelled '%s'", s->label);
            return -1;
        }
    return 0;
}

static int add_strategies(bench_grid *g, const char *value, char *why, size_t cap) {
    char *copy = strdup(value), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0;
         tok = strtok_r(NULL, ",", &save))
        rc = add_strategy(g, tok, why, cap);
    free(copy);
    return rc;
}

/* "1,2,3", "1-5" or a mix. */
static int add_seeds(bench_grid *g, const char *value, char *why, size_t cap) {
    const char *p = value;
    while (*p) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p || lo < 0) goto bad;
        if (*end == '-') {
            const char *q = end + 1;
            hi = strtol(q, &end, 10);
            if (end == q || hi < lo) goto bad;
        }
        if (*end && *end != ',') goto bad;
        for (long s = lo; s <= hi; s++) {
            if (g->n_seeds == BENCH_MAX_SEEDS) {
                snprintf(why, cap, "at most %d seeds", BENCH_MAX_SEEDS);
                return -1;
            }
            g->seeds[g->n_seeds++] = s;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
bad:
    snprintf(why, cap, "expected seeds such as 1,2,3 or 1-5");
    return -1;
}

static int parse_count(const char *value, int min, int *out, char *why, size_t cap) {
    char *end;
    long x = strtol(value, &end, 10);
    if (end == value || *end || x < min || x > 100000) {
        snprintf(why, cap, "expected an integer >= %d", min);
        return -1;
    }
    *out = (int)x;
    return 0;
}

int bench_grid_set_option(bench_grid *g, const char *name, const char *value,
                          char *why, size_t cap) {
    if (strcmp(name, "data") == 0) return add_dataset(g, value, why, cap);
    if (strcmp(name, "models") == 0) return add_models(g, value, why, cap);
    if (strcmp(name, "strategies") == 0) return add_strategies(g, value, why, cap);
    if (strcmp(name, "seeds") == 0) return add_seeds(g, value, why, cap);
    if (strcmp(name, "jobs") == 0) return parse_count(value, 1, &g->jobs, why, cap);
    if (strcmp(name, "threads") == 0) return parse_count(value, 0, &g->threads, why, cap);
    if (strcmp(name, "lr-matrix-batch") == 0)
        return parse_count(value, 0, &g->lr_matrix_batch, why, cap);
    if (strcmp(name, "results") == 0) {
        g->results = value;
        return 0;
    }
    if (strcmp(name, "tuned") == 0) {
        g->tuned = value;
        return 0;
    }
    snprintf(why, cap, "unknown option");
    return -1;
}

int bench_grid_forward(bench_grid *g, const char *name, const char *value,
                       char *why, size_t cap) {
    if (in_list(reserved_options, name)) {
        snprintf(why, cap, "bench sets --%s itself for each cell", name);
        return -1;
    }
    if (g->n_forward + 2 > 2 * BENCH_MAX_FORWARD) {
        snprintf(why, cap, "too many options");
        return -1;
    }
    size_t len = strlen(name) + 3;
    char *opt = malloc(len);
    snprintf(opt, len, "--%s", name);
    /* an option of one family of strategies goes to its cells only */
    char family[64];
    int of_family = melon_run_option_family(name, family, sizeof family) == 1;
    g->forward_family[g->n_forward] = of_family ? strdup(family) : NULL;
    g->forward[g->n_forward++] = opt;
    if (value) {
        g->forward_family[g->n_forward] = of_family ? strdup(family) : NULL;
        g->forward[g->n_forward++] = strdup(value);
    }
    return 0;
}

int bench_forward_applies(const bench_grid *g, int k, const char *strategy) {
    const char *family = g->forward_family[k];
    if (!family) return 1;
    size_t len = strlen(family);
    return strncmp(strategy, family, len) == 0 &&
           (strategy[len] == 0 || strategy[len] == '-');
}

/* mkdir -p */
static int make_dir(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

/* The NAME=VALUE lines of one of melon tune's choices (DIR/FILE): the
 * strategy, the data and the model apart, every other setting an option of
 * the strategy's cells. */
static int add_tuned_file(bench_grid *g, const char *dir, const char *file,
                          char *data, char *name, char *model, char *why, size_t cap) {
    char path[4096], line[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, cap, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char spec[16384] = "", strategy[64] = "";
    char file_data[4096] = "", file_name[256] = "", file_model[64] = "";
    int number = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        number++;
        size_t len = strlen(line);
        while (len && isspace((unsigned char)line[len - 1])) line[--len] = 0;
        if (!len || line[0] == '#') continue;
        char *eq = strchr(line, '=');
        if (!eq) {
            snprintf(why, cap, "%s:%d: '%s': expected NAME=VALUE", path, number, line);
            rc = -1;
            break;
        }
        *eq = 0;
        const char *key = line, *value = eq + 1;
        if (strcmp(key, "strategy") == 0) snprintf(strategy, sizeof strategy, "%s", value);
        else if (strcmp(key, "data") == 0) snprintf(file_data, sizeof file_data, "%s", value);
        else if (strcmp(key, "name") == 0) snprintf(file_name, sizeof file_name, "%s", value);
        else if (strcmp(key, "model") == 0) snprintf(file_model, sizeof file_model, "%s", value);
        else if (melon_run_option_arity(key) == 0) { /* a flag: on or off */
            if (strcmp(value, "on") == 0)
                snprintf(spec + strlen(spec), sizeof spec - strlen(spec), ":--%s", key);
        } else {
            snprintf(spec + strlen(spec), sizeof spec - strlen(spec), ":--%s=%s", key,
                     value);
        }
    }
    fclose(f);
    if (rc != 0) return -1;
    if (!strategy[0] || !file_data[0] || !file_model[0]) {
        snprintf(why, cap, "%s: no strategy=, data= or model= line (not a choice of "
                           "melon tune)", path);
        return -1;
    }
    if (!file_name[0]) snprintf(file_name, sizeof file_name, "%s", strategy);
    if (!data[0]) {
        snprintf(data, 4096, "%s", file_data);
        snprintf(name, 256, "%s", file_name);
        snprintf(model, 64, "%s", file_model);
    } else if (strcmp(data, file_data) != 0 || strcmp(model, file_model) != 0) {
        snprintf(why, cap, "%s: tuned on %s with %s, the others on %s with %s (one "
                           "dataset and model per --tuned folder)",
                 path, file_data, file_model, data, model);
        return -1;
    }
    char entry[16500];
    if (snprintf(entry, sizeof entry, "%s=%s%s", strategy, strategy, spec) >=
        (int)sizeof entry) {
        snprintf(why, cap, "%s: the chosen settings are too long", path);
        return -1;
    }
    return add_strategy(g, entry, why, cap);
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* --tuned DIR: each DIR/STRATEGY.settings is a strategy of the grid, on
 * the dataset and model it was tuned on. */
static int add_tuned(bench_grid *g, char *why, size_t cap) {
    DIR *dir = opendir(g->tuned);
    if (!dir) {
        snprintf(why, cap, "%s: cannot open: %s", g->tuned, strerror(errno));
        return -1;
    }
    char *names[BENCH_MAX_STRATEGIES];
    int n = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 10 || strcmp(e->d_name + len - 9, ".settings") != 0)
            continue;
        if (n == BENCH_MAX_STRATEGIES) {
            snprintf(why, cap, "%s: more than %d choices", g->tuned, BENCH_MAX_STRATEGIES);
            rc = -1;
            break;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(dir);
    qsort(names, (size_t)n, sizeof *names, by_name);
    char data[4096] = "", name[256] = "", model[64] = "";
    for (int k = 0; k < n && rc == 0; k++)
        rc = add_tuned_file(g, g->tuned, names[k], data, name, model, why, cap);
    for (int k = 0; k < n; k++) free(names[k]);
    if (rc == 0 && n == 0) {
        snprintf(why, cap, "%s: no STRATEGY.settings (run melon tune --results %s)",
                 g->tuned, g->tuned);
        rc = -1;
    }
    if (rc != 0) return -1;
    char dataset[4400];
    snprintf(dataset, sizeof dataset, "%s=%s", name, data);
    return add_dataset(g, dataset, why, cap) != 0 || add_models(g, model, why, cap) != 0
               ? -1 : 0;
}

/* The choices beside the results (RESULTS/DATASET/tuned/MODEL-LABEL.settings),
 * for the report. */
static int copy_choices(const bench_grid *g) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s/tuned", g->results, g->datasets[0].name);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "melon bench: %s: cannot create: %s\n", dir, strerror(errno));
        return 1;
    }
    for (int s = 0; s < g->n_strategies; s++) {
        char from[4096], to[4400], buf[8192];
        snprintf(from, sizeof from, "%s/%s.settings", g->tuned, g->strategies[s].label);
        snprintf(to, sizeof to, "%s/%s-%s.settings", dir, g->models[0],
                 g->strategies[s].label);
        FILE *in = fopen(from, "r");
        melon_atomic_file af;
        melon_err err = {{0}};
        if (!in || melon_atomic_open(&af, to, &err) != 0) {
            fprintf(stderr, "melon bench: %s\n", in ? err.msg : strerror(errno));
            if (in) fclose(in);
            return 1;
        }
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, got, af.f);
        int bad = ferror(in);
        fclose(in);
        if (bad) {
            melon_atomic_abort(&af);
            fprintf(stderr, "melon bench: %s: cannot read\n", from);
            return 1;
        }
        if (melon_atomic_commit(&af, &err) != 0) {
            fprintf(stderr, "melon bench: %s\n", err.msg);
            return 1;
        }
    }
    return 0;
}

int bench_grid_finish_setup(bench_grid *g) {
    char why[16384];
    if (g->tuned) {
        if (g->n_datasets || g->n_models || g->n_strategies) {
            fprintf(stderr, "melon bench: --tuned gives the data, model and strategies "
                            "(no --data, --models or --strategies with it)\n");
            return 2;
        }
        if (add_tuned(g, why, sizeof why) != 0) {
            fprintf(stderr, "melon bench: --tuned: %s\n", why);
            return 2;
        }
    }
    if (!g->results) {
        fprintf(stderr, "melon bench: --results DIR is required\n");
        return 2;
    }
    if (g->n_datasets == 0) {
        fprintf(stderr, "melon bench: at least one --data is required\n");
        return 2;
    }
    if (g->n_models == 0 && add_models(g, "bpr,ncf", why, sizeof why) != 0) return 2;
    if (g->n_strategies == 0 && add_strategies(g, "default,melon", why, sizeof why) != 0) {
        fprintf(stderr, "melon bench: %s\n", why);
        return 2;
    }
    if (g->n_seeds == 0) add_seeds(g, "1-5", why, sizeof why);
    if (g->threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        g->threads = cores / g->jobs > 1 ? (int)(cores / g->jobs) : 1;
    }
    g->n_cells = g->n_datasets * g->n_models * g->n_strategies * g->n_seeds;
    g->cells = calloc((size_t)g->n_cells, sizeof *g->cells);
    if (!g->cells) {
        fprintf(stderr, "melon bench: out of memory\n");
        return 1;
    }
    int k = 0;
    for (int d = 0; d < g->n_datasets; d++)
        for (int m = 0; m < g->n_models; m++)
            for (int s = 0; s < g->n_strategies; s++)
                for (int r = 0; r < g->n_seeds; r++)
                    g->cells[k++] = (bench_cell){d, m, s, r};
    if (g->dry_run) return 0;
    if (make_dir(g->results) != 0) {
        fprintf(stderr, "melon bench: %s: cannot create: %s\n", g->results,
                strerror(errno));
        return 1;
    }
    for (int d = 0; d < g->n_datasets; d++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", g->results, g->datasets[d].name);
        if (make_dir(dir) != 0) {
            fprintf(stderr, "melon bench: %s: cannot create: %s\n", dir,
                    strerror(errno));
            return 1;
        }
    }
    return g->tuned ? copy_choices(g) : 0;
}

void bench_cell_path(const bench_grid *g, const bench_cell *c,
                     const char *suffix, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s/%s-%s-seed%ld%s", g->results,
             g->datasets[c->dataset].name, g->models[c->model],
             g->strategies[c->strategy].label, g->seeds[c->seed], suffix);
}

int bench_grid_list(const bench_grid *g, FILE *out) {
    for (int k = 0; k < g->n_cells; k++) {
        const bench_cell *c = &g->cells[k];
        const bench_strategy *s = &g->strategies[c->strategy];
        fprintf(out, "%s %s %s seed %ld", g->datasets[c->dataset].name,
                g->models[c->model], s->label, g->seeds[c->seed]);
        for (int e = 0; e < s->n_extra; e++) fprintf(out, " %s", s->extra[e]);
        fputc('\n', out);
    }
    fprintf(out, "%d cells\n", g->n_cells);
    return 0;
}
