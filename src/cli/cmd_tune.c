/* `melon tune`: each strategy's settings chosen on the validation tail of
 * the past (eval/tune.h), never on the test stream; the choices go to
 * DIR/STRATEGY.settings, which `melon run --settings` and `melon bench
 * --tuned` read. */
#include "cli.h"

#include "eval/config.h"
#include "eval/tune.h"
#include "fetch/fetch.h"
#include "core/atomic_file.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_STRATEGIES 16

static const char *const usage =
    "usage: melon tune --data FILE[,FILE...]|NAME --results DIR\n"
    "                  [--model bpr] [--strategies default,melon,...]\n"
    "                  [--seeds 1-3] [--budget MINUTES | --trials N]\n"
    "                  [--space FILE] [--validation 0.25] [run options]\n"
    "       melon tune --list-space [--markdown] [--strategies ...] [--space FILE]\n\n"
    "Chooses each strategy's settings on the validation tail of the past: the\n"
    "model pre-trains on the head of the past and is scored on its last\n"
    "--validation share, and the test stream is never used (users and items\n"
    "first seen in it are left out too). Candidates are the run's settings\n"
    "(the defaults, or those given) and random draws from the strategy's\n"
    "search space (--list-space); successive halving runs all of them on the\n"
    "first seed, then the best third on three seeds, and so on, until the best\n"
    "on every seed. Each finished run is appended to DIR/trials.log, so an\n"
    "interrupted tuning resumes where it stopped and chooses the same. The\n"
    "choice of each strategy goes to DIR/STRATEGY.settings (NAME=VALUE lines,\n"
    "for melon run --settings and melon bench --tuned DIR).\n\n"
    "Options:\n"
    "  --data FILES|NAME      the interaction log (as melon run --data)\n"
    "  --results DIR          where the log and the choices go (required)\n"
    "  --strategies LIST      strategies to tune [default: default,melon]\n"
    "  --seeds LIST           validation seeds, e.g. 1-3 or 1,2,3 [default: 1-3]\n"
    "  --budget MINUTES       run time per strategy: the number of candidates\n"
    "                         follows from the time of the first run, and the\n"
    "                         search stops early when the time is spent\n"
    "                         [default: 10]\n"
    "  --trials N             first-rung candidates (instead of --budget)\n"
    "  --space FILE           search spaces: lines [STRATEGY:]NAME = LOW..HIGH [log],\n"
    "                         NAME = V1,V2,... or NAME = V (fixed)\n"
    "  --metric M             validation metric to maximise [default: HR@10]\n"
    "  --tune-seed N          seed of the candidates' draws [default: 1]\n"
    "  --validation V         share of the past batches scored [default: 0.25]\n"
    "  --list-space           print the search spaces and exit (--markdown: as\n"
    "                         table rows)\n"
    "  --quiet                no progress lines\n"
    "  --cache-dir DIR        where fetched datasets live\n"
    "  --help                 show this help and exit\n"
    "Any other option is a setting of the runs (see melon run --help), e.g.\n"
    "--model ncf, --dim 32 or --threads 2; a searched setting given this way\n"
    "is the starting candidate's value.\n";

typedef struct {
    melon_config base;
    const char *results;
    const char *space_file;
    const char *metric;
    const char *cache_dir;
    char strategies[MAX_STRATEGIES][32];
    int n_strategies;
    uint64_t seeds[MELON_TUNE_MAX_SEEDS];
    int n_seeds;
    double budget_min;
    int trials;
    uint64_t tune_seed;
    int list_space, markdown, quiet;
    int validation_given, strategies_given;
    char resolved[4096];
    char *name;
} tune_args;

/* Run settings tune sets itself, or that would make runs write files. */
static const char *const reserved[] = {"strategy", "label", "seed", "out", "per-batch",
                                       "ranks", "save-model", "checkpoint",
                                       "checkpoint-every", "dump-lr-matrix",
                                       "dump-batch", "quiet", NULL};

static int parse_u64(const char *text, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end || errno || text[0] == '-') return -1;
    *out = v;
    return 0;
}

/* "1-3" or "1,2,5". */
static int parse_seeds(tune_args *a, const char *text) {
    char copy[512], *save = NULL;
    snprintf(copy, sizeof copy, "%s", text);
    a->n_seeds = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        uint64_t lo, hi;
        char *dash = strchr(tok, '-');
        if (dash) {
            *dash = 0;
            if (parse_u64(tok, &lo) != 0 || parse_u64(dash + 1, &hi) != 0 || hi < lo)
                return -1;
        } else if (parse_u64(tok, &lo) != 0) {
            return -1;
        } else {
            hi = lo;
        }
        for (uint64_t s = lo; s <= hi; s++) {
            if (a->n_seeds == MELON_TUNE_MAX_SEEDS) return -1;
            for (int k = 0; k < a->n_seeds; k++)
                if (a->seeds[k] == s) return -1;
            a->seeds[a->n_seeds++] = s;
        }
    }
    return a->n_seeds > 0 ? 0 : -1;
}

static int parse_strategies(tune_args *a, const char *text) {
    char copy[1024], *save = NULL;
    snprintf(copy, sizeof copy, "%s", text);
    a->n_strategies = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        melon_tune_space probe;
        melon_err err = {{0}};
        if (melon_tune_default_space(&probe, tok, &err) != 0) {
            fprintf(stderr, "melon tune: --strategies: %s\n", err.msg);
            return -1;
        }
        for (int k = 0; k < a->n_strategies; k++)
            if (strcmp(a->strategies[k], tok) == 0) {
                fprintf(stderr, "melon tune: --strategies: '%s' twice\n", tok);
                return -1;
            }
        if (a->n_strategies == MAX_STRATEGIES) {
            fprintf(stderr, "melon tune: --strategies: at most %d\n", MAX_STRATEGIES);
            return -1;
        }
        snprintf(a->strategies[a->n_strategies++], sizeof a->strategies[0], "%s", tok);
    }
    if (a->n_strategies == 0) {
        fprintf(stderr, "melon tune: --strategies: no strategy given\n");
        return -1;
    }
    return 0;
}

/* Options of tune itself; 1 when name is one (value used), 0 when not,
 * -1 after a message. */
static int own_option(tune_args *a, const char *name, const char *value) {
    if (strcmp(name, "results") == 0) a->results = value;
    else if (strcmp(name, "space") == 0) a->space_file = value;
    else if (strcmp(name, "metric") == 0) a->metric = value;
    else if (strcmp(name, "cache-dir") == 0) a->cache_dir = value;
    else if (strcmp(name, "strategies") == 0) {
        a->strategies_given = 1;
        return parse_strategies(a, value) ? -1 : 1;
    }
    else if (strcmp(name, "seeds") == 0) {
        if (parse_seeds(a, value) != 0) {
            fprintf(stderr, "melon tune: --seeds '%s': expected distinct seeds such "
                            "as 1-3 or 1,2,5 (at most %d)\n", value,
                    MELON_TUNE_MAX_SEEDS);
            return -1;
        }
    } else if (strcmp(name, "budget") == 0) {
        char *end;
        a->budget_min = strtod(value, &end);
        if (end == value || *end || !(a->budget_min > 0) || a->budget_min > 1e6) {
            fprintf(stderr, "melon tune: --budget '%s': expected minutes above 0\n",
                    value);
            return -1;
        }
    } else if (strcmp(name, "trials") == 0) {
        char *end;
        long n = strtol(value, &end, 10);
        if (end == value || *end || n < 1 || n > 1000) {
            fprintf(stderr, "melon tune: --trials '%s': expected 1 to 1000\n", value);
            return -1;
        }
        a->trials = (int)n;
    } else if (strcmp(name, "tune-seed") == 0) {
        if (parse_u64(value, &a->tune_seed) != 0) {
            fprintf(stderr, "melon tune: --tune-seed '%s': expected a non-negative "
                            "integer\n", value);
            return -1;
        }
    } else return 0;
    return 1;
}

static int parse_args(tune_args *a, int argc, char **argv) {
    static const char *const flags[] = {"list-space", "markdown", "quiet",
                                        "no-progress", NULL};
    static const char *const valued[] = {"results", "space", "metric", "cache-dir",
                                         "strategies", "seeds", "budget", "trials",
                                         "tune-seed", NULL};
    for (int k = 1; k < argc; k++) {
        const char *arg = argv[k];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "melon tune: unexpected argument '%s' (see melon tune "
                            "--help)\n", arg);
            return 2;
        }
        char name[128];
        const char *eq = strchr(arg + 2, '=');
        snprintf(name, sizeof name, "%.*s",
                 (int)(eq ? (size_t)(eq - arg - 2) : strlen(arg + 2)), arg + 2);
        int is_flag = 0, is_own = 0;
        for (int f = 0; flags[f]; f++) is_flag |= strcmp(flags[f], name) == 0;
        for (int f = 0; valued[f]; f++) is_own |= strcmp(valued[f], name) == 0;
        if (is_flag) {
            if (strcmp(name, "list-space") == 0) a->list_space = 1;
            else if (strcmp(name, "markdown") == 0) a->markdown = 1;
            else a->quiet = 1;
            continue;
        }
        for (int r = 0; reserved[r]; r++)
            if (strcmp(reserved[r], name) == 0) {
                fprintf(stderr, "melon tune: --%s is set by melon tune itself%s\n",
                        name,
                        strcmp(name, "strategy") == 0 ? " (use --strategies)"
                        : strcmp(name, "seed") == 0   ? " (use --seeds)"
                                                      : "");
                return 2;
            }
        const melon_setting *s = is_own ? NULL : melon_config_find(&a->base, name, NULL);
        if (!is_own && !s) {
            fprintf(stderr, "melon tune: unknown option '--%s' (see melon tune --help "
                            "and melon run --help)\n", name);
            return 2;
        }
        const char *value = NULL;
        if (s && s->type == MELON_SETTING_FLAG) {
            value = eq ? eq + 1 : NULL;
        } else if (eq) {
            value = eq + 1;
        } else if (k + 1 < argc) {
            value = argv[++k];
        } else {
            fprintf(stderr, "melon tune: option '--%s' needs a value\n", name);
            return 2;
        }
        if (is_own) {
            if (own_option(a, name, value) < 0) return 2;
            continue;
        }
        melon_err err = {{0}};
        if (melon_config_set(&a->base, name, value, &err) != 0) {
            fprintf(stderr, "melon tune: %s\n", err.msg);
            return 2;
        }
        if (strcmp(name, "validation") == 0) a->validation_given = 1;
    }
    return 0;
}

/* The text naming this tuning in its log: every setting of the runs (not
 * where they write), the seeds, the metric and the draws' seed. */
static char *tuning_header(const tune_args *a) {
    size_t cap = 1 << 16, used = 0;
    char *h = malloc(cap);
    if (!h) return NULL;
    h[0] = 0;
    melon_config_room rooms[MELON_MAX_ROOMS];
    int n = melon_config_rooms(rooms, MELON_MAX_ROOMS);
    for (int r = 0; r < n; r++) {
        const melon_settings_table *t = rooms[r].table;
        for (int k = 0; k < t->n; k++) {
            const melon_setting *s = &t->settings[k];
            if ((s->flags & MELON_SETTING_OUTPUT) || strcmp(s->name, "strategy") == 0 ||
                strcmp(s->name, "seed") == 0 || strcmp(s->name, "label") == 0)
                continue;
            char value[4096];
            melon_setting_format(s, (const char *)&a->base + rooms[r].offset, value,
                                 sizeof value);
            used += (size_t)snprintf(h + used, cap - used, "%s=%s\t", s->name, value);
            if (used >= cap) break;
        }
    }
    if (used < cap) used += (size_t)snprintf(h + used, cap - used, "seeds=");
    for (int k = 0; k < a->n_seeds && used < cap; k++)
        used += (size_t)snprintf(h + used, cap - used, "%s%llu", k ? "," : "",
                                 (unsigned long long)a->seeds[k]);
    if (used < cap)
        snprintf(h + used, cap - used, "\tmetric=%s\ttune-seed=%llu", a->metric,
                 (unsigned long long)a->tune_seed);
    return h;
}

static void format_duration(double s, char *buf, size_t cap) {
    if (s < 0) snprintf(buf, cap, "?");
    else if (s < 60) snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600) snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

typedef struct {
    const tune_args *a;
    int reused;
} progress_state;

static void show_progress(void *ctx, const melon_tune_event *ev) {
    progress_state *p = ctx;
    if (ev->reused) {
        p->reused++;
        return;
    }
    if (p->a->quiet) return;
    char spent[32], left[32];
    format_duration(ev->seconds_spent, spent, sizeof spent);
    format_duration(ev->seconds_left, left, sizeof left);
    fprintf(stderr, "melon tune: %s run %d/%d, rung %d/%d, seed %llu, %s: %s %.4f "
                    "(%.1f s); best %.4f; %s spent, about %s left\n",
            ev->strategy, ev->runs_done, ev->runs_planned, ev->rung + 1, ev->n_rungs,
            (unsigned long long)ev->seed, ev->candidate, p->a->metric, ev->score,
            ev->seconds, ev->best_score, spent, left);
}

/* The settings that make the chosen run: the strategy, the data, every
 * setting of its rooms that is not the default, and the candidate's. */
static int write_choice(const tune_args *a, const char *strategy,
                        const melon_tune_choice *c, melon_err *err) {
    melon_config cfg;
    if (melon_tune_apply(&cfg, &a->base, c->candidate, err) != 0) return -1;
    cfg.run.strategy = strategy;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.settings", a->results, strategy);
    melon_atomic_file af;
    if (melon_atomic_open(&af, path, err) != 0) {
        melon_config_free(&cfg);
        return -1;
    }
    FILE *f = af.f;
    fprintf(f, "# melon tune: %s on %s (model %s), the last %g of the past "
               "batches scored\n",
            strategy, a->base.data.name, a->base.model.name, a->base.run.validation);
    fprintf(f, "# validation %s %.4f +- %.4f over seeds", a->metric, c->mean, c->se);
    for (int s = 0; s < c->n_seeds; s++)
        fprintf(f, "%s%llu", s ? "," : " ", (unsigned long long)a->seeds[s]);
    fprintf(f, " (");
    for (int s = 0; s < c->n_seeds; s++) fprintf(f, "%s%.4f", s ? " " : "", c->scores[s]);
    fprintf(f, "); the starting settings %.4f on seed %llu\n", c->default_score,
            (unsigned long long)a->seeds[0]);
    fprintf(f, "# %d candidates, %d runs, %.0f s of runs%s\n", c->candidates, c->runs,
            c->seconds, c->budget_stop ? "; the budget ended the search" : "");
    fprintf(f, "# chosen: %s\n", c->candidate);
    fprintf(f, "# metric=%s\n# validation-score=%.17g\n# validation-se=%.17g\n# seeds=",
            a->metric, c->mean, c->se);
    for (int s = 0; s < c->n_seeds; s++)
        fprintf(f, "%s%llu", s ? "," : "", (unsigned long long)a->seeds[s]);
    fputc('\n', f);
    melon_config_room rooms[MELON_MAX_ROOMS];
    int n = melon_config_run_rooms(&cfg, rooms, MELON_MAX_ROOMS);
    for (int r = 0; r < n; r++) {
        const melon_settings_table *t = rooms[r].table;
        const void *room = (const char *)&cfg + rooms[r].offset;
        for (int k = 0; k < t->n; k++) {
            const melon_setting *s = &t->settings[k];
            char key[80];
            snprintf(key, sizeof key, " %s=", s->name);
            char padded[MELON_TUNE_TEXT + 2];
            snprintf(padded, sizeof padded, " %s", c->candidate);
            int chosen = strstr(padded, key) != NULL;
            if ((s->flags & MELON_SETTING_OUTPUT) || strcmp(s->name, "seed") == 0 ||
                strcmp(s->name, "validation") == 0 || strcmp(s->name, "threads") == 0 ||
                strcmp(s->name, "label") == 0)
                continue;
            if (!chosen && melon_setting_is_default(s, room) &&
                strcmp(s->name, "strategy") != 0 && strcmp(s->name, "data") != 0 &&
                strcmp(s->name, "model") != 0)
                continue;
            char value[4096];
            melon_setting_format(s, room, value, sizeof value);
            fprintf(f, "%s=%s\n", s->name, value);
        }
    }
    melon_config_free(&cfg);
    return melon_atomic_commit(&af, err);
}

static int load_spaces(const tune_args *a, melon_tune_space *spaces, melon_err *err) {
    for (int k = 0; k < a->n_strategies; k++)
        if (melon_tune_default_space(&spaces[k], a->strategies[k], err) != 0) return -1;
    if (a->space_file &&
        melon_tune_read_space(spaces, a->n_strategies, a->space_file, err) != 0)
        return -1;
    return 0;
}

static int resolve_data(tune_args *a) {
    melon_config *cfg = &a->base;
    if (melon_cli_resolve_data(cfg, a->cache_dir, a->resolved, sizeof a->resolved,
                               "tune") != 0)
        return 1;
    if (!cfg->data.name) {
        char first[4096];
        snprintf(first, sizeof first, "%s", cfg->data.files);
        first[strcspn(first, ",")] = 0;
        cfg->data.name = a->name = melon_default_dataset_name(first);
    }
    return 0;
}

static int tune_all(tune_args *a, melon_tune_space *spaces) {
    melon_err err = {{0}};
    struct stat st;
    if (stat(a->results, &st) != 0 && mkdir(a->results, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "melon tune: --results %s: cannot create: %s\n", a->results,
                strerror(errno));
        return 1;
    }
    if (stat(a->results, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "melon tune: --results %s: not a folder\n", a->results);
        return 1;
    }
    char *header = tuning_header(a);
    melon_tune_log log;
    if (!header || melon_tune_log_open(&log, a->results, header, &err) != 0) {
        fprintf(stderr, "melon tune: %s\n", header ? err.msg : "out of memory");
        free(header);
        return 1;
    }
    free(header);
    char buf[16384];
    const char *paths[MELON_MAX_FILES];
    melon_stream stream;
    int n_paths = melon_data_split_files(a->base.data.files, buf, sizeof buf, paths, &err);
    if (n_paths < 0 ||
        melon_stream_load(&stream, paths, n_paths, &a->base.data.load, &err) != 0) {
        fprintf(stderr, "melon tune: %s\n", err.msg);
        melon_tune_log_close(&log);
        return 1;
    }
    if (a->base.data.load.min_user > 0 || a->base.data.load.min_item > 0)
        fprintf(stderr, "melon tune: note: --min-user/--min-item filter the whole log, "
                        "its test part included, before the split\n");
    int rc = 0;
    progress_state prog = {a, 0};
    if (!a->quiet)
        printf("%-12s %-9s %-17s %6s %5s %7s  %s\n", "strategy", a->metric,
               "(se, seeds)", "start", "runs", "time", "chosen settings");
    for (int k = 0; k < a->n_strategies && rc == 0; k++) {
        melon_tune_job job = {
            .base = &a->base, .stream = &stream, .space = &spaces[k],
            .n_seeds = a->n_seeds, .candidates = a->trials,
            .budget_s = a->trials ? 0 : a->budget_min * 60, .tune_seed = a->tune_seed,
            .metric = a->metric, .log = &log, .progress = show_progress,
            .progress_ctx = &prog};
        memcpy(job.seeds, a->seeds, sizeof job.seeds);
        melon_tune_choice choice;
        int ran = melon_tune_strategy(&job, &choice, &err);
        if (ran == MELON_NOT_APPLICABLE) {
            fprintf(stderr, "melon tune: %s: not applicable: %s\n", a->strategies[k],
                    err.msg);
            continue;
        }
        if (ran == 0 && !isfinite(choice.mean))
            ran = melon_fail(&err, "%s: every run failed", a->strategies[k]);
        if (ran != 0 || write_choice(a, a->strategies[k], &choice, &err) != 0) {
            fprintf(stderr, "melon tune: %s\n", err.msg);
            rc = 1;
            break;
        }
        char took[32], se[32];
        format_duration(choice.seconds, took, sizeof took);
        snprintf(se, sizeof se, "(%.4f, %d)", choice.se, choice.n_seeds);
        printf("%-12s %-9.4f %-17s %6.4f %5d %7s  %s%s\n", a->strategies[k], choice.mean,
               se, choice.default_score, choice.runs, took, choice.candidate,
               choice.budget_stop ? " (budget spent)" : "");
        fflush(stdout);
    }
    if (prog.reused)
        fprintf(stderr, "melon tune: %d runs read back from %s\n", prog.reused, log.path);
    melon_stream_free(&stream);
    melon_tune_log_close(&log);
    return rc;
}

int melon_cmd_tune(int argc, char **argv) {
    tune_args a;
    memset(&a, 0, sizeof a);
    melon_config_default(&a.base);
    a.metric = "HR@10";
    a.tune_seed = 1;
    a.budget_min = 10;
    a.n_seeds = 3;
    for (int k = 0; k < 3; k++) a.seeds[k] = (uint64_t)k + 1;
    snprintf(a.strategies[0], sizeof a.strategies[0], "default");
    snprintf(a.strategies[1], sizeof a.strategies[1], "melon");
    a.n_strategies = 2;
    melon_tune_space spaces[MAX_STRATEGIES];
    melon_err err = {{0}};
    int rc = parse_args(&a, argc, argv);
    if (rc != 0) {
        rc = rc == 1 ? 0 : rc;
        goto done;
    }
    if (a.list_space && !a.strategies_given) { /* every strategy */
        a.n_strategies = 0;
        for (int k = 0; melon_strategy_names[k] && k < MAX_STRATEGIES; k++)
            snprintf(a.strategies[a.n_strategies++], sizeof a.strategies[0], "%s",
                     melon_strategy_names[k]);
    }
    if (!a.validation_given) a.base.run.validation = 0.25;
    if (!(a.base.run.validation > 0)) {
        fprintf(stderr, "melon tune: --validation must be above 0: tuning never "
                        "scores the test stream\n");
        rc = 2;
        goto done;
    }
    if (melon_tune_metric_check(a.metric, &err) < 0) {
        fprintf(stderr, "melon tune: --metric: %s\n", err.msg);
        rc = 2;
        goto done;
    }
    if (load_spaces(&a, spaces, &err) != 0) {
        fprintf(stderr, "melon tune: %s\n", err.msg);
        rc = 2;
        goto done;
    }
    if (a.list_space) {
        if (a.markdown)
            printf("| strategy | setting | searched | default | what it sets |\n"
                   "| --- | --- | --- | --- | --- |\n");
        for (int k = 0; k < a.n_strategies; k++)
            melon_tune_print_space(stdout, &spaces[k], a.markdown);
        goto done;
    }
    if (!a.base.data.files || !a.results) {
        fprintf(stderr, "melon tune: --data and --results are required (see melon "
                        "tune --help)\n");
        rc = 2;
        goto done;
    }
    if ((rc = resolve_data(&a)) != 0) goto done;
    a.base.run.progress = 0;
    a.base.run.quiet = 1;
    rc = tune_all(&a, spaces);
done:
    free(a.name);
    melon_config_free(&a.base);
    return rc;
}
