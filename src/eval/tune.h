/* Choosing a strategy's settings on the validation tail of the past
 * (protocol.md section 2), never on the test stream: a search space per
 * strategy (from the settings tables, or a space file), random candidates
 * drawn from it, and successive halving over seeds (every candidate on one
 * seed first, then the best third on more seeds, until the best on all of
 * them). Every finished run is appended to a log that a restart reads back,
 * so an interrupted tuning resumes where it stopped with the same choice. */
#ifndef MELON_EVAL_TUNE_H
#define MELON_EVAL_TUNE_H

#include "eval/config.h"
#include "melon/stream.h"

#include <stdio.h>

#define MELON_TUNE_MAX_DIMS 16
#define MELON_TUNE_MAX_VALUES 16
#define MELON_TUNE_MAX_SEEDS 32
#define MELON_TUNE_TEXT 1024

/* One searched setting: a range (log-uniform or uniform; integers drawn as
 * integers) or a list of values drawn uniformly (one value: fixed). */
typedef struct {
    const melon_setting *setting;
    int is_range;
    double low, high;
    int log;
    int n_values;
    char values[MELON_TUNE_MAX_VALUES][64];
} melon_tune_dim;

typedef struct {
    char strategy[32];
    melon_tune_dim dims[MELON_TUNE_MAX_DIMS];
    int n_dims;
} melon_tune_space;

/* The strategy's own search space: every setting marked
 * MELON_SETTING_TUNABLE in the rooms its runs record (the run's, the
 * optimiser's when it steps with it, its family's), over [tune_low,
 * tune_high] (enums: every choice). An unknown strategy fails naming the
 * known ones. */
int melon_tune_default_space(melon_tune_space *space, const char *strategy,
                             melon_err *err);

/* Reads a space file into the spaces of the strategies being tuned. Lines:
 *   [STRATEGY:]NAME = LOW..HIGH [log]   a range
 *   [STRATEGY:]NAME = V1,V2,...         values to choose from
 *   [STRATEGY:]NAME = V                 a fixed value
 * '#' starts a comment. A line without STRATEGY: applies to every strategy
 * whose runs have the setting. A line replaces the setting's range in the
 * strategy's own space, or adds the setting to it; a fixed value takes it
 * out of the search. Errors name the file, the line and the value. */
int melon_tune_read_space(melon_tune_space *spaces, int n_spaces,
                          const char *path, melon_err *err);

/* The space as lines "NAME  LOW..HIGH  log" for --list-space (markdown
 * table rows when markdown is set). */
void melon_tune_print_space(FILE *out, const melon_tune_space *space,
                            int markdown);

/* Candidate k of the space: k = 0 is the settings' defaults, each later one
 * is drawn from the generator of (seed, k), rounded to three significant
 * digits, as "NAME=VALUE NAME=VALUE ..." (values formatted by the tables).
 * base gives the settings not searched. */
int melon_tune_candidate(const melon_tune_space *space,
                         const melon_config *base, uint64_t seed, int k,
                         char *out, size_t cap, melon_err *err);
/* cfg = base with a candidate's settings (cfg freed by the caller). */
int melon_tune_apply(melon_config *cfg, const melon_config *base,
                     const char *candidate, melon_err *err);

/* The log of finished runs: a header naming the tuning (its data, model,
 * validation share, seeds, metric, ... as text), then one line per plan and
 * per finished run, each written and fsynced whole. */
typedef struct {
    char strategy[32];
    char candidate[MELON_TUNE_TEXT];
    uint64_t seed;
    double score;
    double seconds;
    int diverged;
} melon_tune_trial;

typedef struct {
    char path[4096];
    int fd;
    melon_tune_trial *trials;
    int n_trials, cap_trials;
    char plan_strategy[64][32];
    int plan_candidates[64];
    int n_plans;
} melon_tune_log;

/* Opens DIR's log, reading back what an earlier tuning with the same
 * header finished (a torn last line is dropped); a log written for another
 * tuning is refused, naming the first setting that differs. */
int melon_tune_log_open(melon_tune_log *log, const char *dir,
                        const char *header, melon_err *err);
void melon_tune_log_close(melon_tune_log *log);
const melon_tune_trial *melon_tune_log_find(const melon_tune_log *log,
                                            const char *strategy,
                                            const char *candidate,
                                            uint64_t seed);
int melon_tune_log_append(melon_tune_log *log, const melon_tune_trial *t,
                          melon_err *err);
/* The number of first-rung candidates a strategy's plan fixed (0: none). */
int melon_tune_log_plan(const melon_tune_log *log, const char *strategy);
int melon_tune_log_set_plan(melon_tune_log *log, const char *strategy,
                            int candidates, melon_err *err);

/* What the tuner reports after every run. */
typedef struct {
    const char *strategy;
    const char *candidate;
    uint64_t seed;
    double score;
    double seconds;
    int reused;              /* read back from the log, not run */
    int rung, n_rungs;
    int runs_done, runs_planned;   /* this strategy's seed runs */
    double seconds_spent;          /* by this strategy's runs, logged ones too */
    double seconds_left;           /* estimate, < 0 when unknown */
    double best_score;
} melon_tune_event;

typedef struct {
    const melon_config *base;      /* data, model, validation, threads ... */
    const melon_stream *stream;
    const melon_tune_space *space;
    uint64_t seeds[MELON_TUNE_MAX_SEEDS];
    int n_seeds;
    int candidates;                /* first-rung candidates, 0: from budget */
    double budget_s;               /* per strategy; 0: none */
    uint64_t tune_seed;
    const char *metric;            /* "HR@10", "NDCG@20", ... */
    melon_tune_log *log;
    void (*progress)(void *ctx, const melon_tune_event *ev);
    void *progress_ctx;
} melon_tune_job;

typedef struct {
    char candidate[MELON_TUNE_TEXT];
    int n_seeds;
    double scores[MELON_TUNE_MAX_SEEDS];
    double mean, se;
    double default_score;          /* defaults' score on the first seed */
    int candidates;                /* first-rung candidates */
    int runs, runs_reused;
    double seconds;                /* spent by its runs, logged ones too */
    int budget_stop;               /* 1 when the budget ended the search */
} melon_tune_choice;

/* Reads "HR@10" etc.; -1 with err for an unknown metric. */
int melon_tune_metric_check(const char *metric, melon_err *err);

/* Tunes job->space's strategy. Returns 0, MELON_NOT_APPLICABLE (the
 * strategy does not apply to the model) or -1. */
int melon_tune_strategy(const melon_tune_job *job, melon_tune_choice *choice,
                        melon_err *err);

#endif
