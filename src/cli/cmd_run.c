/* `melon run`: one prequential run (protocol.md) of one model and one update
 * strategy on one dataset. Its options are the settings tables of every
 * room (melon_config_set), plus a few of the command line's own. */
#include "cli.h"

#include "eval/config.h"
#include "eval/rerun.h"
#include "eval/runner.h"
#include "fetch/fetch.h"
#include "update/lr_matrix.h"
#include "core/output_files.h"
#ifdef MELON_HAVE_MPI
#include "dist/dist.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    melon_config cfg;
    const char *cache_dir;
    const char *rerun;
    const char *settings;      /* --settings: NAME=VALUE lines */
    const char *resume;        /* --resume: a run's checkpoint */
    int distributed;
    int check;                 /* --check: print the settings and stop */
    int progress;
    int no_progress;
    char resolved[4096];
} run_args;

/* Options of the command line itself, not settings of the run. */
static const melon_setting cli_options[] = {
    {.name = "cache-dir", .type = MELON_SETTING_STRING,
     .offset = offsetof(run_args, cache_dir), .metavar = "DIR",
     .help = "where fetched datasets live (default: $MELON_CACHE_DIR, "
             "$XDG_CACHE_HOME/melon or ~/.cache/melon)"},
    {.name = "rerun", .type = MELON_SETTING_STRING,
     .offset = offsetof(run_args, rerun), .metavar = "RESULT.json",
     .help = "repeat the run a result file records, with every setting it "
             "lists; the other options given change it (--out: where the "
             "new result goes)"},
    {.name = "settings", .type = MELON_SETTING_STRING,
     .offset = offsetof(run_args, settings), .metavar = "FILE",
     .help = "take the settings of a file of NAME=VALUE lines (such as those "
             "melon tune chooses), read after --rerun's; the other options "
             "given change them"},
    {.name = "resume", .type = MELON_SETTING_STRING,
     .offset = offsetof(run_args, resume), .metavar = "FILE",
     .help = "continue the run saved in this checkpoint (its data and "
             "settings come from it; give output files, --checkpoint and "
             "--threads)"},
    {.name = "distributed", .type = MELON_SETTING_FLAG,
     .offset = offsetof(run_args, distributed), .def = 0,
     .help = "replay across the processes of an MPI job (mpirun -np R melon "
             "run --distributed ...; default strategy, BPR-MF): tables "
             "sharded, metrics as one process's"},
    {.name = "progress", .type = MELON_SETTING_FLAG,
     .offset = offsetof(run_args, progress), .def = 0,
     .help = "show the progress bar even when stderr is not a terminal"},
    {.name = "no-progress", .type = MELON_SETTING_FLAG,
     .offset = offsetof(run_args, no_progress), .def = 0,
     .help = "never show the progress bar"},
    {.name = "check", .type = MELON_SETTING_FLAG, .offset = offsetof(run_args, check),
     .def = 0,
     .help = "check the options and input files, print the settings the result "
             "file would record (JSON) and exit without running"},
};
static const melon_settings_table cli_table = {
    "cli", "Command line", cli_options,
    (int)(sizeof cli_options / sizeof cli_options[0])};

/* Every input file (or folder) can be opened, before any work. */
static int check_inputs(const melon_config *cfg) {
    char buf[16384];
    const char *paths[MELON_MAX_FILES];
    melon_err err = {{0}};
    int n = melon_data_split_files(cfg->data.files, buf, sizeof buf, paths, &err);
    if (n < 0) {
        fprintf(stderr, "melon run: %s\n", err.msg);
        return 2;
    }
    for (int k = 0; k < n; k++) {
        struct stat st;
        int fd = stat(paths[k], &st) != 0 ? -1
                 : S_ISDIR(st.st_mode) ? open(paths[k], O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                       : open(paths[k], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "melon run: --data: %s: cannot open: %s\n", paths[k],
                    strerror(errno));
            return 1;
        }
        close(fd);
    }
    return 0;
}

/* --data: a dataset name from the catalog (fetched into the cache), or one
 * or more files separated by commas. */
int melon_cli_resolve_data(melon_config *cfg, const char *cache_dir,
                           char *resolved, size_t cap, const char *command) {
    melon_err err = {{0}};
    int known = melon_dataset_resolve(cfg->data.files, cache_dir, resolved, cap, &err);
    if (known < 0) {
        fprintf(stderr, "melon %s: %s\n", command, err.msg);
        return 1;
    }
    if (known == 1) {
        if (!cfg->data.name) cfg->data.name = cfg->data.files;
        cfg->data.files = resolved;
    }
    return 0;
}

static int resolve_data(run_args *a) {
    if (melon_cli_resolve_data(&a->cfg, a->cache_dir, a->resolved,
                               sizeof a->resolved, "run") != 0)
        return 1;
    return check_inputs(&a->cfg);
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


int melon_run_option_arity(const char *name) {
    melon_config cfg;
    melon_config_default(&cfg);
    const melon_setting *s = melon_config_find(&cfg, name, NULL);
    if (!s) s = melon_settings_table_find(&cli_table, name);
    if (!s) return -1;
    return s->type == MELON_SETTING_FLAG ? 0 : 1;
}

static void print_table(FILE *out, const melon_settings_table *t,
                        const void *room) {
    fprintf(out, "\n%s:\n", t->title);
    for (int k = 0; k < t->n; k++) {
        const melon_setting *s = &t->settings[k];
        char left[64], def[256];
        snprintf(left, sizeof left, "--%s%s%s", s->name, s->metavar ? " " : "",
                 s->metavar ? s->metavar : "");
        melon_setting_format(s, room, def, sizeof def);
        fprintf(out, "  %-26s %s", left, s->help);
        if (def[0] && s->type != MELON_SETTING_FLAG) fprintf(out, " [default: %s]", def);
        fputc('\n', out);
        if (s->type == MELON_SETTING_CHOICE || s->type == MELON_SETTING_ENUM) {
            fprintf(out, "  %-26s one of:", "");
            for (const char *const *c = s->choices; *c; c++) fprintf(out, " %s", *c);
            fputc('\n', out);
        }
    }
}

static void print_help(FILE *out, const run_args *a, const char *usage) {
    fputs(usage, out);
    melon_config_room rooms[MELON_MAX_ROOMS];
    int n = melon_config_rooms(rooms, MELON_MAX_ROOMS);
    for (int r = 0; r < n; r++)
        print_table(out, rooms[r].table, (const char *)&a->cfg + rooms[r].offset);
    print_table(out, &cli_table, a);
    fprintf(out, "  %-26s %s\n", "--help", "show this help and exit");
}

/* Parses the options; --rerun's file, when given, is read first and the
 * other options then change what it records. Returns 0, 1 after --help,
 * or 2 after a usage error. */
static int parse_args(run_args *a, int argc, char **argv, const char *usage) {
    melon_err err = {{0}};
    for (int pass = 0; pass < 2; pass++) {
        for (int k = 1; k < argc; k++) {
            const char *arg = argv[k];
            if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
                print_help(stdout, a, usage);
                return 1;
            }
            if (strncmp(arg, "--", 2) != 0) {
                fprintf(stderr, "melon run: unexpected argument '%s' (see melon "
                                "run --help)\n", arg);
                return 2;
            }
            char name[128];
            const char *eq = strchr(arg + 2, '=');
            int len = (int)(eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));
            snprintf(name, sizeof name, "%.*s", len, arg + 2);
            const melon_setting *cli = melon_settings_table_find(&cli_table, name);
            const melon_setting *s = cli ? cli : melon_config_find(&a->cfg, name, NULL);
            if (!s) {
                fprintf(stderr, "melon run: unknown option '--%s' (see melon run "
                                "--help)\n", name);
                return 2;
            }
            const char *value = NULL;
            if (s->type == MELON_SETTING_FLAG) {
                if (eq) {
                    fprintf(stderr, "melon run: option '--%s' takes no value\n", name);
                    return 2;
                }
            } else if (eq) {
                value = eq + 1;
            } else if (k + 1 < argc) {
                value = argv[++k];
            } else {
                fprintf(stderr, "melon run: option '--%s' needs a value (%s)\n",
                        name, s->metavar ? s->metavar : "VALUE");
                return 2;
            }
            /* pass 0: --rerun and --settings alone; pass 1: everything
             * else on top */
            int first = cli && (strcmp(name, "rerun") == 0 ||
                                strcmp(name, "settings") == 0);
            if ((pass == 0) != first) continue;
            int rc = cli ? melon_setting_parse(cli, a, value, &err)
                         : melon_config_set(&a->cfg, name, value, &err);
            if (rc != 0) {
                fprintf(stderr, "melon run: %s\n", err.msg);
                return 2;
            }
        }
        /* a result file first, a settings file over it */
        if (pass == 0 && a->rerun &&
            melon_config_load_result(&a->cfg, a->rerun, &err) != 0) {
            fprintf(stderr, "melon run: --rerun: %s\n", err.msg);
            return 2;
        }
        if (pass == 0 && a->settings &&
            melon_config_load_settings(&a->cfg, a->settings, &err) != 0) {
            fprintf(stderr, "melon run: --settings: %s\n", err.msg);
            return 2;
        }
    }
    return 0;
}

/* The strategy family table a setting belongs to, or NULL (the run's,
 * data's, model's and optimiser's settings belong to every run). */
static const melon_settings_table *setting_family(const char *name) {
    for (const melon_strategy_family *f = melon_strategy_families; f->table; f++)
        if (melon_settings_table_find(f->table, name)) return f->table;
    return NULL;
}

int melon_run_option_family(const char *name, char *family, size_t cap) {
    const melon_settings_table *t = setting_family(name);
    if (t) {
        snprintf(family, cap, "%s", t->room);
        return 1;
    }
    return melon_run_option_arity(name) < 0 ? -1 : 0;
}

/* Options of another strategy would be ignored: refused, naming the
 * strategies they belong to. */
static int refuse_other_strategy_options(const melon_config *cfg, int argc,
                                         char **argv) {
    const melon_strategy_entry *run = melon_strategy_find(cfg->run.strategy);
    for (int k = 1; k < argc; k++) {
        if (strncmp(argv[k], "--", 2) != 0) continue;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(argv[k] + 2, "="),
                 argv[k] + 2);
        const melon_settings_table *t = setting_family(name);
        if (!t || (run && run->family && run->family->table == t)) continue;
        int count = 0;
        for (const char *const *s = melon_strategy_names; *s; s++) {
            const melon_strategy_entry *e = melon_strategy_find(*s);
            count += e->family && e->family->table == t;
        }
        fprintf(stderr, "melon run: --%s is an option of strateg%s", name,
                count > 1 ? "ies" : "y");
        int shown = 0;
        for (const char *const *s = melon_strategy_names; *s; s++) {
            const melon_strategy_entry *e = melon_strategy_find(*s);
            if (e->family && e->family->table == t)
                fprintf(stderr, "%s %s", shown++ ? "," : "", *s);
        }
        fprintf(stderr, ", not of %s (this run's --strategy)\n", cfg->run.strategy);
        return 2;
    }
    return 0;
}

/* After a divergence warning, a sentence naming the settings that set the
 * strategy's learning rates (marked in the tables of the rooms the run
 * uses). */
static void print_learning_rate_options(const melon_config *cfg) {
    melon_config_room rooms[MELON_MAX_ROOMS];
    int n_rooms = melon_config_run_rooms(cfg, rooms, MELON_MAX_ROOMS), n = 0;
    const char *found[16];
    for (int r = 0; r < n_rooms; r++)
        for (int k = 0; k < rooms[r].table->n && n < 16; k++)
            if (rooms[r].table->settings[k].flags & MELON_SETTING_LR)
                found[n++] = rooms[r].table->settings[k].name;
    if (n == 0) {
        fprintf(stderr, "melon run: no setting sets a learning rate of %s.\n",
                cfg->run.strategy);
        return;
    }
    fprintf(stderr, "melon run: the learning rate%s of %s %s set by ",
            n > 1 ? "s" : "", cfg->run.strategy, n > 1 ? "are" : "is");
    for (int k = 0; k < n; k++)
        fprintf(stderr, "%s--%s", k == 0 ? "" : k == n - 1 ? " and " : ", ",
                found[k]);
    fputs(".\n", stderr);
}

/* Every output of the run, checked and given its temporary before any
 * work (output_files.h); the run writes to the temporaries. */
static int reserve_outputs(melon_config *cfg, melon_outputs *o, melon_err *err) {
    melon_run_config *run = &cfg->run;
    melon_melon_config *mc = &cfg->strategy.melon;
    const char **paths[] = {&run->out_json, &run->per_batch_csv, &run->ranks_csv,
                            &run->save_model, &mc->dump_lr_matrix};
    const char *options[] = {"--out", "--per-batch", "--ranks", "--save-model",
                             "--dump-lr-matrix"};
    /* only MeLON's strategies write the learning-rate matrix */
    if (strncmp(run->strategy, "melon", 5) != 0) mc->dump_lr_matrix = NULL;
    for (size_t k = 0; k < sizeof paths / sizeof paths[0]; k++) {
        if (!*paths[k]) continue;
        const char *temp = melon_outputs_add(o, options[k], *paths[k], err);
        if (!temp) return -1;
        if (paths[k] == &mc->dump_lr_matrix) {
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
static int report_run(const melon_config *cfg, int ran,
                      const melon_run_result *res, melon_outputs *outputs,
                      melon_err *err) {
    const melon_run_config *run = &cfg->run;
    if (ran == 0 && !run->quiet) melon_print_result_table(stdout, cfg, res);
    if (ran == 0 && res->warning[0]) {
        fprintf(stderr, "melon run: warning: %s\n", res->warning);
        print_learning_rate_options(cfg);
    }
    if (ran == 0 &&
        ((run->out_json && melon_write_result_json(run->out_json, cfg, res, err) != 0) ||
         (run->per_batch_csv &&
          melon_write_per_batch_csv(run->per_batch_csv, res, err) != 0)))
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
static int resume_run(run_args *a, int argc, char **argv) {
    static const char *const allowed[] = {
        "resume", "out", "per-batch", "ranks", "save-model", "checkpoint",
        "checkpoint-every", "threads", "progress", "no-progress", "quiet", NULL};
    for (int k = 1; k < argc; k++) {
        if (strncmp(argv[k], "--", 2) != 0) continue;
        size_t len = strcspn(argv[k] + 2, "=");
        int ok = 0;
        for (const char *const *name = allowed; *name && !ok; name++)
            ok = strlen(*name) == len && strncmp(*name, argv[k] + 2, len) == 0;
        if (!ok) {
            fprintf(stderr, "melon run: --%.*s cannot be given with --resume: "
                            "the data and settings of the run come from its "
                            "checkpoint\n", (int)len, argv[k] + 2);
            return 2;
        }
    }
    melon_config *cfg = &a->cfg;
    cfg->run.progress = a->no_progress ? 0 : a->progress ? 1 : -1;
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
    melon_config ran_cfg;
    int ran = melon_run_resume(a->resume, cfg, &ran_cfg, &res, &err);
    int rc = report_run(&ran_cfg, ran, &res, &outputs, &err);
    melon_run_result_free(&res);
    melon_config_free(&ran_cfg);
    melon_outputs_abort(&outputs); /* none left once committed */
    return rc;
}

/* Refuses an output that is one of the run's input files. */
static int refuse_input_outputs(const melon_config *cfg,
                                const melon_outputs *outputs, melon_err *err) {
    char buf[16384];
    const char *paths[MELON_MAX_FILES];
    int n = melon_data_split_files(cfg->data.files, buf, sizeof buf, paths, err);
    if (n < 0) return -1;
    return melon_outputs_refuse_inputs(outputs, paths, n, err);
}

int melon_cmd_run(int argc, char **argv) {
    run_args a;
    memset(&a, 0, sizeof a);
    melon_config_default(&a.cfg);
    melon_config *cfg = &a.cfg;
    const char *usage =
        "usage: melon run --data FILE[,FILE...]|NAME [options]\n"
        "       melon run --rerun RESULT.json [options]\n"
        "       melon run --resume CHECKPOINT [output options]\n\n"
        "Pre-trains a recommender on the past of an interaction stream, then\n"
        "replays the rest batch by batch: evaluate each batch before updating\n"
        "on it (HR, NDCG, MRR and Recall at 5, 10, 20, against 99 sampled\n"
        "negatives unless --negatives says otherwise) and time each update.\n";
    char *name = NULL;
    melon_run_result res;
    memset(&res, 0, sizeof res);
    melon_outputs outputs;
    melon_outputs_init(&outputs);
    melon_err err = {{0}};
    int rc = parse_args(&a, argc, argv, usage);
    if (rc != 0) {
        rc = rc == 1 ? 0 : rc;
        goto done;
    }
    if ((rc = refuse_other_strategy_options(cfg, argc, argv)) != 0) goto done;
    if (a.resume) {
        rc = resume_run(&a, argc, argv);
        goto done;
    }
    if (!cfg->data.files) {
        fprintf(stderr, "melon run: --data is required (see melon run --help)\n");
        rc = 2;
        goto done;
    }
    if (cfg->optim.dense && cfg->optim.kind != MELON_OPT_ADAM) {
        fprintf(stderr, "melon run: --dense-adam needs --optimizer adam\n");
        rc = 2;
        goto done;
    }
    cfg->run.progress = a.no_progress ? 0 : a.progress ? 1 : -1;
    if (reserve_outputs(cfg, &outputs, &err) != 0) {
        fprintf(stderr, "melon run: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    if ((rc = resolve_data(&a)) != 0) goto done;
    if (refuse_input_outputs(cfg, &outputs, &err) != 0) {
        fprintf(stderr, "melon run: %s\n", err.msg);
        rc = 1;
        goto done;
    }
    if (!cfg->data.name) {
        char first[4096];
        snprintf(first, sizeof first, "%s", cfg->data.files);
        first[strcspn(first, ",")] = 0;
        cfg->data.name = name = melon_default_dataset_name(first);
    }
    if (a.check) {
        melon_write_run_settings(stdout, cfg);
        rc = fflush(stdout) == 0 ? 0 : 1;
        goto done;
    }

    int ran, is_root = 1;
    if (a.distributed) {
#ifdef MELON_HAVE_MPI
        cfg->run.progress = 0;
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
    /* rank 0 reports and writes the results */
    rc = is_root ? report_run(cfg, ran, &res, &outputs, &err) : ran == 0 ? 0 : 1;
done:
    melon_run_result_free(&res);
    melon_outputs_abort(&outputs); /* none left once committed */
    free(name);
    melon_config_free(cfg);
    return rc;
}
