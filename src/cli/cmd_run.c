/* `melon run`: one prequential run (protocol.md) of one model and one update
 * strategy on one dataset. Its options are the settings tables of every
 * room (melon_config_set), plus a few of the command line's own. */
#include "cli.h"

#include "eval/config.h"
#include "eval/rerun.h"
#include "eval/runner.h"
#include "fetch/fetch.h"

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
static int resolve_data(run_args *a) {
    melon_err err = {{0}};
    melon_config *cfg = &a->cfg;
    int known = melon_dataset_resolve(cfg->data.files, a->cache_dir, a->resolved,
                                      sizeof a->resolved, &err);
    if (known < 0) {
        fprintf(stderr, "melon run: %s\n", err.msg);
        return 1;
    }
    if (known == 1) {
        if (!cfg->data.name) cfg->data.name = cfg->data.files;
        cfg->data.files = a->resolved;
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
            /* pass 0: --rerun alone; pass 1: everything else on top */
            if ((pass == 0) != (cli && strcmp(name, "rerun") == 0)) continue;
            int rc = cli ? melon_setting_parse(cli, a, value, &err)
                         : melon_config_set(&a->cfg, name, value, &err);
            if (rc == 0 && pass == 0)
                rc = melon_config_load_result(&a->cfg, a->rerun, &err);
            if (rc != 0) {
                fprintf(stderr, "melon run: %s%s\n", pass == 0 ? "--rerun: " : "",
                        err.msg);
                return 2;
            }
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

int melon_cmd_run(int argc, char **argv) {
    run_args a;
    memset(&a, 0, sizeof a);
    melon_config_default(&a.cfg);
    melon_config *cfg = &a.cfg;
    const char *usage =
        "usage: melon run --data FILE[,FILE...]|NAME [options]\n"
        "       melon run --rerun RESULT.json [options]\n\n"
        "Pre-trains a recommender on the past of an interaction stream, then\n"
        "replays the rest batch by batch: evaluate each batch before updating\n"
        "on it (HR, NDCG, MRR and Recall at 5, 10, 20, against 99 sampled\n"
        "negatives unless --negatives says otherwise) and time each update.\n";
    char *name = NULL;
    melon_run_result res;
    memset(&res, 0, sizeof res);
    int rc = parse_args(&a, argc, argv, usage);
    if (rc != 0) {
        rc = rc == 1 ? 0 : rc;
        goto done;
    }
    if ((rc = refuse_other_strategy_options(cfg, argc, argv)) != 0) goto done;
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
    if ((rc = resolve_data(&a)) != 0) goto done;
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

    melon_err err = {{0}};
    int ran = melon_run(cfg, &res, &err);
    if (ran == MELON_NOT_APPLICABLE) {
        fprintf(stderr, "melon run: not applicable: %s\n", err.msg);
        rc = 3;
    } else if (ran != 0) {
        fprintf(stderr, "melon run: error: %s\n", err.msg);
        rc = 1;
    } else {
        if (!cfg->run.quiet) melon_print_result_table(stdout, cfg, &res);
        if (res.warning[0]) {
            fprintf(stderr, "melon run: warning: %s\n", res.warning);
            print_learning_rate_options(cfg);
        }
        if ((cfg->run.out_json &&
             melon_write_result_json(cfg->run.out_json, cfg, &res, &err) != 0) ||
            (cfg->run.per_batch_csv &&
             melon_write_per_batch_csv(cfg->run.per_batch_csv, &res, &err) != 0)) {
            fprintf(stderr, "melon run: error: %s\n", err.msg);
            rc = 1;
        }
    }
done:
    melon_run_result_free(&res);
    free(name);
    melon_config_free(cfg);
    return rc;
}
