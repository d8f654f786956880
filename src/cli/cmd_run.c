/* `melon run`: one prequential run (protocol.md) of one model and one update
 * strategy on one dataset. */
#include "cli.h"
#include "options.h"
#include "strategy_options.h"

#include "melon/config.h"
#include "melon/lr_matrix.h"
#include "melon/output_files.h"
#include "fetch/fetch.h"
#include "melon/evaluate.h"
#include "melon/runner.h"
#include "melon/strategy.h"
#ifdef MELON_HAVE_MPI
#include "dist/dist.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const model_names[] = {"bpr", "ncf", "pop", NULL};
static const char *const optimizer_names[] = {"adam", "sgd", NULL};
static const char *const tower_init_names[] = {"normal", "he", NULL};

typedef struct {
    melon_config cfg;
    const char *data;          /* the --data value */
    char *data_copy;           /* owned storage for the split file list */
    const char *optimizer;
    const char *tower_init;
    const char *cache_dir;
    const char *resume;        /* --resume: a run's checkpoint */
    int dense_adam;
    int check;                 /* --check: print the settings and stop */
    int n_core_specs;          /* the run's own options come first, */
    int n_melon_specs_end;     /* then MeLON's, then the other strategies' */
    int progress;
    int no_progress;
    int distributed;
    char resolved[4096];
} run_args;

static int parse_layers(void *ctx, const char *value, char *why, size_t cap) {
    run_args *a = ctx;
    melon_model_config *m = &a->cfg.model_cfg;
    int n = 0;
    const char *p = value;
    while (*p) {
        char *end;
        long w = strtol(p, &end, 10);
        if (end == p || w < 1 || w > 4096 || (*end && *end != ',')) {
            snprintf(why, cap, "expected comma-separated widths such as "
                               "64,64,64,64");
            return -1;
        }
        if (n == MELON_MAX_LAYERS) {
            snprintf(why, cap, "at most %d layers", MELON_MAX_LAYERS);
            return -1;
        }
        m->layers[n++] = (int)w;
        p = *end ? end + 1 : end;
    }
    if (n == 0) {
        snprintf(why, cap, "needs at least one layer");
        return -1;
    }
    m->n_layers = n;
    return 0;
}

/* --negatives: a count of sampled negatives, or "all". */
static int parse_negatives(void *ctx, const char *value, char *why,
                           size_t cap) {
    run_args *a = ctx;
    if (strcmp(value, "all") == 0) {
        a->cfg.negatives = MELON_NEGATIVES_ALL;
        return 0;
    }
    char *end;
    errno = 0;
    long n = strtol(value, &end, 10);
    if (end == value || *end || errno == ERANGE || n < 1 || n > 100000000) {
        snprintf(why, cap, "must be 'all' or a number of negatives from 1 "
                           "to 100000000");
        return -1;
    }
    a->cfg.negatives = (int)n;
    return 0;
}

/* Every input file (or folder) can be opened, before any work. */
static int check_inputs(const melon_config *cfg) {
    for (int k = 0; k < cfg->n_data_files; k++) {
        const char *path = cfg->data_files[k];
        struct stat st;
        int fd = stat(path, &st) != 0 ? -1
                 : S_ISDIR(st.st_mode) ? open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                       : open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "melon run: --data: %s: cannot open: %s\n", path,
                    strerror(errno));
            return 1;
        }
        close(fd);
    }
    return 0;
}

/* --data: a dataset name from the catalog (fetched into the cache), or one
 * or more files separated by commas. */
static int resolve_data(run_args *a) {
    melon_err err = {{0}};
    int known = melon_dataset_resolve(a->data, a->cache_dir, a->resolved,
                                      sizeof a->resolved, &err);
    if (known < 0) {
        fprintf(stderr, "melon run: %s\n", err.msg);
        return 1;
    }
    melon_config *cfg = &a->cfg;
    if (known == 1) {
        cfg->data_files[0] = a->resolved;
        cfg->n_data_files = 1;
        if (!cfg->dataset_name) cfg->dataset_name = a->data;
        return 0;
    }
    a->data_copy = strdup(a->data);
    if (!a->data_copy) {
        fprintf(stderr, "melon run: out of memory\n");
        return 1;
    }
    cfg->n_data_files = 0;
    for (char *save = NULL, *tok = strtok_r(a->data_copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (cfg->n_data_files == MELON_MAX_FILES) {
            fprintf(stderr, "melon run: --data: at most %d files\n",
                    MELON_MAX_FILES);
            return 2;
        }
        cfg->data_files[cfg->n_data_files++] = tok;
    }
    if (cfg->n_data_files == 0) {
        fprintf(stderr, "melon run: --data: no file given\n");
        return 2;
    }
    return check_inputs(cfg);
}

char *melon_default_dataset_name(const char *path) {
    const char *slash = strrchr(path, '/');
    if (slash && slash != path) {
        const char *start = slash - 1;
        while (start > path && start[-1] != '/') start--;
        size_t len = (size_t)(slash - start);
        if (len > 0 && !(len == 1 && start[0] == '.') &&
            !(len == 2 && start[0] == '.' && start[1] == '.'))
            return strndup(start, len);
    }
    const char *base = slash ? slash + 1 : path;
    const char *dot = strchr(base, '.');
    return strndup(base, dot && dot != base ? (size_t)(dot - base) : strlen(base));
}

#define MAX_RUN_OPTIONS 160

/* The full option table of `melon run`: the run's own options, then each
 * strategy family's. */
static int build_specs(run_args *a, option_spec *specs) {
    melon_config *cfg = &a->cfg;
    const option_spec core_specs[] = {
        {"data", OPT_STRING, &a->data, "FILE[,FILE...]|NAME",
         "interaction file(s), concatenated, or a fetched dataset name", 0, 0, NULL, NULL},
        {"name", OPT_STRING, &cfg->dataset_name, "NAME",
         "dataset name in the results (default: the first file's folder)", 0, 0, NULL, NULL},
        {"format", OPT_STRING, &cfg->load.format, "FORMAT",
         "input format: auto, delimited (CSV/TSV), adressa, amazon, yelp", 0, 0, NULL, NULL},
        {"columns", OPT_STRING, &cfg->load.columns, "U,I,T",
         "user, item and time columns: header names or 1-based numbers "
         "(default: detected)", 0, 0, NULL, NULL},
        {"min-user", OPT_INT, &cfg->load.min_user, "N",
         "k-core: keep users with at least N interactions", 0, 1e9, NULL, NULL},
        {"min-item", OPT_INT, &cfg->load.min_item, "N",
         "k-core: keep items with at least N interactions", 0, 1e9, NULL, NULL},
        {"cache-dir", OPT_STRING, &a->cache_dir, "DIR",
         "where fetched datasets live (default: $MELON_CACHE_DIR, "
         "$XDG_CACHE_HOME/melon or ~/.cache/melon)", 0, 0, NULL, NULL},
        {"model", OPT_CHOICE, &cfg->model, "NAME", "recommender", 0, 0, model_names, NULL},
        {"strategy", OPT_CHOICE, &cfg->strategy, "NAME", "update strategy", 0, 0,
         melon_strategy_names, NULL},
        {"label", OPT_STRING, &cfg->label, "NAME",
         "name of this configuration in the results (default: the strategy)",
         0, 0, NULL, NULL},
        {"seed", OPT_U64, &cfg->seed, "N",
         "random seed (init, negatives, batch order)", 0, 0, NULL, NULL},
        {"epochs", OPT_INT, &cfg->epochs, "E", "pre-training epochs over the past", 0, 100000, NULL, NULL},
        {"train-ratio", OPT_DOUBLE | OPT_ABOVE_MIN | OPT_BELOW_MAX, &cfg->train_ratio,
         "R", "share of batches that are the past", 0, 1, NULL, NULL},
        {"validation", OPT_DOUBLE, &cfg->validation, "V",
         "model selection: replay the last V of the past batches as the "
         "stream instead of the test stream (0: off)", 0, 0.99, NULL, NULL},
        {"batch-size", OPT_INT, &cfg->batch_size, "N", "interactions per batch", 1, 1 << 20, NULL, NULL},
        {"negatives", OPT_LIST, NULL, "N|all",
         "rank each interaction against N sampled items its user never "
         "interacts with, or against every item the user has not "
         "interacted with (all) [default: 99]", 0, 0, NULL, parse_negatives},
        {"dim", OPT_INT, &cfg->model_cfg.dim, "D", "embedding size", 1, 4096, NULL, NULL},
        {"layers", OPT_LIST, NULL, "W,W,...",
         "NCF tower widths [default: 64,64,64,64]", 0, 0, NULL, parse_layers},
        {"init-std", OPT_FLOAT, &cfg->model_cfg.init_std, "S",
         "standard deviation of the normal initialisation", 0, 10, NULL, NULL},
        {"tower-init", OPT_CHOICE, &a->tower_init, "NAME",
         "NCF tower weights: normal (init-std, the paper's code) or he "
         "(normal(0, 2/fan-in); see docs/ncf-tower.md)", 0, 0,
         tower_init_names, NULL},
        {"optimizer", OPT_CHOICE, &a->optimizer, "NAME",
         "optimiser of the default strategy", 0, 0, optimizer_names, NULL},
        {"lr", OPT_FLOAT, &cfg->optim.lr, "LR", "learning rate", 0, 1e6, NULL, NULL},
        {"l2", OPT_FLOAT, &cfg->optim.l2, "L2", "L2 penalty on weights (not biases)", 0, 1e6, NULL, NULL},
        {"dense-adam", OPT_FLAG, &a->dense_adam, NULL,
         "Adam moves every table row each step (PyTorch's dense semantics) "
         "instead of only the rows a batch touches", 0, 0, NULL, NULL},
        {"threads", OPT_INT, &cfg->threads, "T", "threads (0: all cores)", 0, 1024, NULL, NULL},
        {"out", OPT_STRING, &cfg->out_json, "FILE.json", "write the result JSON here", 0, 0, NULL, NULL},
        {"per-batch", OPT_STRING, &cfg->per_batch_csv, "FILE.csv",
         "write per-batch metrics, loss and update time here", 0, 0, NULL, NULL},
        {"ranks", OPT_STRING, &cfg->ranks_csv, "FILE.csv",
         "write the rank of every evaluated interaction here", 0, 0, NULL, NULL},
        {"save-model", OPT_STRING, &cfg->save_model, "FILE",
         "save the final recommender parameters here", 0, 0, NULL, NULL},
        {"checkpoint", OPT_STRING, &cfg->checkpoint, "FILE",
         "keep the run's whole state here (atomically replaced): after "
         "pre-training and every --checkpoint-every online batches", 0, 0, NULL, NULL},
        {"checkpoint-every", OPT_INT, &cfg->checkpoint_every, "N",
         "online batches between checkpoints (0: only after pre-training)",
         0, 1e9, NULL, NULL},
        {"resume", OPT_STRING, &a->resume, "FILE",
         "continue the run saved in this checkpoint (its data and settings "
         "come from it; give output files, --checkpoint and --threads)",
         0, 0, NULL, NULL},
        {"progress", OPT_FLAG, &a->progress, NULL,
         "show the progress bar even when stderr is not a terminal", 0, 0, NULL, NULL},
        {"no-progress", OPT_FLAG, &a->no_progress, NULL, "never show the progress bar", 0, 0, NULL, NULL},
        {"quiet", OPT_FLAG, &cfg->quiet, NULL, "do not print the result table", 0, 0, NULL, NULL},
        {"check", OPT_FLAG, &a->check, NULL,
         "check the options and input files, print the settings the result "
         "file would record (JSON) and exit without running", 0, 0, NULL, NULL},
        {"distributed", OPT_FLAG, &a->distributed, NULL,
         "replay across the processes of an MPI job (mpirun -np R melon run "
         "--distributed ...; default strategy, BPR-MF): tables sharded, "
         "metrics as one process's", 0, 0, NULL, NULL},
        {NULL, 0, NULL, NULL, NULL, 0, 0, NULL, NULL},
    };
    int n_specs = 0;
    if (options_append(specs, &n_specs, MAX_RUN_OPTIONS, core_specs) != 0) return -1;
    a->n_core_specs = n_specs;
    if (options_append(specs, &n_specs, MAX_RUN_OPTIONS, options_melon(cfg)) != 0)
        return -1;
    a->n_melon_specs_end = n_specs;
    if (options_append(specs, &n_specs, MAX_RUN_OPTIONS, options_baselines(cfg)) != 0 ||
        options_append(specs, &n_specs, MAX_RUN_OPTIONS, options_s2meta_sml(cfg)) != 0)
        return -1;
    return 0;
}

/* Whether a strategy's name starts with the family (melon-i: melon). */
static int in_family(const char *strategy, const char *family, size_t len) {
    return strncmp(strategy, family, len) == 0 &&
           (strategy[len] == 0 || strategy[len] == '-');
}

/* The strategy family an option of a strategy table belongs to, as the
 * length of its name's prefix: mwnet-hidden is mwnet's; MeLON's options
 * without a family's prefix (max-edge, dump-batch) are melon's. 0 for the
 * run's own options. */
static size_t option_family(const run_args *a, const option_spec *specs,
                            const option_spec *s, const char **family) {
    int index = (int)(s - specs);
    if (index < a->n_core_specs) return 0;
    size_t len = strcspn(s->name, "-");
    for (const char *const *name = melon_strategy_names; *name; name++)
        if (s->name[len] == '-' && in_family(*name, s->name, len)) {
            *family = s->name;
            return len;
        }
    *family = "melon";
    return index < a->n_melon_specs_end ? strlen("melon") : 0;
}

/* Options of another strategy would be ignored: refused, naming the
 * strategies they belong to. */
static int refuse_other_strategy_options(const run_args *a, const option_spec *specs,
                                         int argc, char **argv) {
    const option_spec *given[MAX_RUN_OPTIONS];
    int n = options_given(specs, argc, argv, 1, given, MAX_RUN_OPTIONS);
    for (int k = 0; k < n; k++) {
        const char *family;
        size_t len = option_family(a, specs, given[k], &family);
        if (len == 0 || in_family(a->cfg.strategy, family, len)) continue;
        int count = 0;
        for (const char *const *name = melon_strategy_names; *name; name++)
            count += in_family(*name, family, len);
        fprintf(stderr, "melon run: --%s is an option of strateg%s", given[k]->name,
                count > 1 ? "ies" : "y");
        int shown = 0;
        for (const char *const *name = melon_strategy_names; *name; name++)
            if (in_family(*name, family, len))
                fprintf(stderr, "%s %s", shown++ ? "," : "", *name);
        fprintf(stderr, ", not of %s (this run's --strategy)\n", a->cfg.strategy);
        return 2;
    }
    return 0;
}

static void run_args_init(run_args *a) {
    memset(a, 0, sizeof *a);
    melon_config_default(&a->cfg);
    a->optimizer = "adam";
    a->tower_init = "normal";
}

int melon_run_option_arity(const char *name) {
    run_args a;
    run_args_init(&a);
    option_spec specs[MAX_RUN_OPTIONS];
    if (build_specs(&a, specs) != 0) return -1;
    for (const option_spec *s = specs; s->name; s++)
        if (strcmp(s->name, name) == 0) return s->kind == OPT_FLAG ? 0 : 1;
    return -1;
}

int melon_run_option_family(const char *name, char *family, size_t cap) {
    run_args a;
    run_args_init(&a);
    option_spec specs[MAX_RUN_OPTIONS];
    if (build_specs(&a, specs) != 0) return -1;
    for (const option_spec *s = specs; s->name; s++) {
        const char *start;
        size_t len;
        if (strcmp(s->name, name) != 0 || (len = option_family(&a, specs, s, &start)) == 0)
            continue;
        snprintf(family, cap, "%.*s", (int)len, start);
        return 1;
    }
    return 0;
}

/* After a divergence warning, a sentence naming the options of the
 * strategy's family (the name up to its first '-') that set a learning rate
 * ("...-lr"), read from the option table; --lr when it has none. */
static void print_learning_rate_options(const option_spec *specs,
                                        const char *strategy) {
    size_t family = strcspn(strategy, "-");
    const option_spec *found[16];
    int n = 0;
    for (const option_spec *o = specs; o->name && n < 16; o++) {
        size_t len = strlen(o->name);
        if (strncmp(o->name, strategy, family) == 0 && o->name[family] == '-' &&
            len >= 3 && strcmp(o->name + len - 3, "-lr") == 0)
            found[n++] = o;
    }
    fprintf(stderr, "melon run: the learning rate%s of %s %s set by ",
            n > 1 ? "s" : "", strategy, n > 1 ? "are" : "is");
    if (n == 0) fputs("--lr", stderr);
    for (int k = 0; k < n; k++)
        fprintf(stderr, "%s--%s", k == 0 ? "" : k == n - 1 ? " and " : ", ",
                found[k]->name);
    fputs(".\n", stderr);
}

/* Every output of the run, checked and given its temporary before any
 * work (output_files.h); the run writes to the temporaries. */
static int reserve_outputs(melon_config *cfg, melon_outputs *o, melon_err *err) {
    const char **paths[] = {&cfg->out_json, &cfg->per_batch_csv,
                            &cfg->ranks_csv, &cfg->save_model,
                            &cfg->melon.dump_lr_matrix};
    const char *options[] = {"--out", "--per-batch", "--ranks", "--save-model",
                             "--dump-lr-matrix"};
    if (cfg->save_model && strcmp(cfg->model, "pop") == 0)
        return melon_fail(err, "--save-model: model pop has no parameters to save");
    /* only MeLON's strategies write the learning-rate matrix */
    if (strncmp(cfg->strategy, "melon", 5) != 0) cfg->melon.dump_lr_matrix = NULL;
    for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
        if (!*paths[k]) continue;
        const char *temp = melon_outputs_add(o, options[k], *paths[k], err);
        if (!temp) return -1;
        if (paths[k] == &cfg->melon.dump_lr_matrix) {
            char means[4400], means_temp[4400];
            melon_lr_dump_means_path(means, sizeof means, *paths[k]);
            melon_lr_dump_means_path(means_temp, sizeof means_temp, temp);
            if (melon_outputs_add_derived(o, "--dump-lr-matrix (means)", means,
                                          means_temp, err) != 0)
                return -1;
        }
        *paths[k] = temp;
    }
    return 0;
}

/* Prints a finished run's table and warnings, writes its files and puts
 * every output in place, or none (output_files.h); returns the exit
 * status. */
static int report_run(const melon_config *cfg, const option_spec *specs,
                      int ran, const melon_run_result *res,
                      melon_outputs *outputs, melon_err *err) {
    if (ran == 0 && !cfg->quiet) melon_print_result_table(stdout, cfg, res);
    if (ran == 0 && res->warning[0]) {
        fprintf(stderr, "melon run: warning: %s\n", res->warning);
        print_learning_rate_options(specs, cfg->strategy);
    }
    if (ran == 0 &&
        ((cfg->out_json && melon_write_result_json(cfg->out_json, cfg, res, err) != 0) ||
         (cfg->per_batch_csv &&
          melon_write_per_batch_csv(cfg->per_batch_csv, res, err) != 0)))
        ran = -1;
    if (ran == 0 && melon_outputs_commit(outputs, err) != 0) ran = -1;
    if (ran == 0) return 0;
    melon_outputs_name_in_message(outputs, err->msg, sizeof err->msg);
    fprintf(stderr, "melon run: %s%s\n",
            ran == MELON_NOT_APPLICABLE ? "not applicable: " : "error: ", err->msg);
    return ran == MELON_NOT_APPLICABLE ? 3 : 1;
}

/* --resume FILE: the data and every setting of the run come from the
 * checkpoint, so options that would change them are refused. */
static int resume_run(run_args *a, const option_spec *specs, int argc,
                      char **argv) {
    static const char *const allowed[] = {
        "resume", "out", "per-batch", "ranks", "save-model", "checkpoint",
        "checkpoint-every", "threads", "progress", "no-progress", "quiet", NULL};
    const option_spec *given[MAX_RUN_OPTIONS];
    int n = options_given(specs, argc, argv, 1, given, MAX_RUN_OPTIONS);
    for (int k = 0; k < n; k++) {
        int ok = 0;
        for (const char *const *name = allowed; *name && !ok; name++)
            ok = strcmp(*name, given[k]->name) == 0;
        if (!ok) {
            fprintf(stderr, "melon run: --%s cannot be given with --resume: the "
                            "data and settings of the run come from its "
                            "checkpoint\n", given[k]->name);
            return 2;
        }
    }
    melon_config *cfg = &a->cfg;
    cfg->progress = a->no_progress ? 0 : a->progress ? 1 : -1;
    melon_outputs outputs;
    melon_outputs_init(&outputs);
    melon_err err = {{0}};
    const char *checkpoint = a->resume;
    if (reserve_outputs(cfg, &outputs, &err) != 0 ||
        melon_outputs_refuse_inputs(&outputs, &checkpoint, 1, &err) != 0) {
        fprintf(stderr, "melon run: %s\n", err.msg);
        melon_outputs_abort(&outputs);
        return 1;
    }
    melon_run_result res;
    int ran = melon_run_resume(a->resume, cfg, &res, &err);
    int rc = report_run(cfg, specs, ran, &res, &outputs, &err);
    melon_run_result_free(&res);
    melon_outputs_abort(&outputs); /* none left once committed */
    return rc;
}

int melon_cmd_run(int argc, char **argv) {
    run_args a;
    run_args_init(&a);
    melon_config *cfg = &a.cfg;
    const char *usage =
        "usage: melon run --data FILE[,FILE...]|NAME [options]\n\n"
        "Pre-trains a recommender on the past of an interaction stream, then\n"
        "replays the rest batch by batch: evaluate each batch before updating\n"
        "on it (HR, NDCG, MRR and Recall at 5, 10, 20, against 99 sampled\n"
        "negatives unless --negatives says otherwise) and time each update.\n";
    option_spec specs[MAX_RUN_OPTIONS];
    if (build_specs(&a, specs) != 0) {
        fprintf(stderr, "melon run: too many options\n");
        return 1;
    }
    int rc = options_parse(specs, argc, argv, 1, "run", usage, &a, NULL, 0, NULL);
    if (rc != 0) return rc == 1 ? 0 : rc;
    if ((rc = refuse_other_strategy_options(&a, specs, argc, argv)) != 0) return rc;
    if (a.resume) return resume_run(&a, specs, argc, argv);
    if (!a.data) {
        fprintf(stderr, "melon run: --data is required (see melon run --help)\n");
        return 2;
    }
    cfg->optim.kind = strcmp(a.optimizer, "sgd") == 0 ? MELON_OPT_SGD : MELON_OPT_ADAM;
    cfg->optim.dense = a.dense_adam;
    cfg->model_cfg.tower_init =
        strcmp(a.tower_init, "he") == 0 ? MELON_TOWER_HE : MELON_TOWER_NORMAL;
    if (a.dense_adam && cfg->optim.kind != MELON_OPT_ADAM) {
        fprintf(stderr, "melon run: --dense-adam needs --optimizer adam\n");
        return 2;
    }
    cfg->progress = a.no_progress ? 0 : a.progress ? 1 : -1;
    cfg->model_cfg.seed = cfg->seed;
    melon_outputs outputs;
    melon_outputs_init(&outputs);
    melon_err err = {{0}};
    char *name = NULL;
    if (reserve_outputs(cfg, &outputs, &err) != 0) {
        fprintf(stderr, "melon run: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    rc = resolve_data(&a);
    if (rc != 0) goto done;
    if (melon_outputs_refuse_inputs(&outputs, cfg->data_files, cfg->n_data_files,
                                    &err) != 0) {
        fprintf(stderr, "melon run: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    if (!cfg->dataset_name)
        cfg->dataset_name = name = melon_default_dataset_name(cfg->data_files[0]);
    if (a.check) {
        melon_write_run_settings(stdout, cfg);
        rc = fflush(stdout) == 0 ? 0 : 1;
        goto done;
    }

    melon_run_result res;
    int ran, is_root = 1;
    if (a.distributed) {
#ifdef MELON_HAVE_MPI
        cfg->progress = 0;
        ran = melon_dist_run(cfg, &res, &is_root, &err);
#else
        fprintf(stderr, "melon run: --distributed needs melon built with MPI "
                        "(install libopenmpi-dev, or run "
                        "scripts/install-deps.sh, and rebuild)\n");
        rc = 2;
        goto done;
#endif
    } else {
        ran = melon_run(cfg, &res, &err);
    }
    if (!is_root) {
        /* rank 0 reports and writes the results */
        melon_run_result_free(&res);
        rc = ran == 0 ? 0 : 1;
        goto done;
    }
    rc = report_run(cfg, specs, ran, &res, &outputs, &err);
    melon_run_result_free(&res);
done:
    melon_outputs_abort(&outputs); /* none left once committed */
    free(name);
    free(a.data_copy);
    return rc;
}
