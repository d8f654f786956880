/* Successive halving over seeds for one strategy (tune.h): rung r runs its
 * candidates on the first m_r seeds (m_0 = 1, m_{r+1} = min(3 m_r, all)),
 * and the best third of them, by their mean score, go on to the next
 * rung. Each run is a validation run (--validation): the model pre-trains on
 * the head of the past and is scored on the past's tail. */
#include "eval/tune.h"
#include "eval/runner.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ETA 3
#define MAX_RUNGS 8
#define MAX_CANDIDATES 1000

int melon_tune_metric_check(const char *metric, melon_err *err) {
    static const char *const names[] = {"HR", "NDCG", "MRR", "Recall"};
    const char *at = strchr(metric, '@');
    for (int k = 0; at && k < 4; k++) {
        if (strlen(names[k]) != (size_t)(at - metric) ||
            strncasecmp(metric, names[k], (size_t)(at - metric)) != 0)
            continue;
        for (int c = 0; c < MELON_N_CUTOFFS; c++) {
            char cut[16];
            snprintf(cut, sizeof cut, "%d", melon_cutoffs[c]);
            if (strcmp(at + 1, cut) == 0) return k * MELON_N_CUTOFFS + c;
        }
    }
    return melon_fail(err, "unknown metric '%s' (HR, NDCG, MRR or Recall at 5, 10 "
                           "or 20, e.g. HR@10)", metric);
}

static double metric_value(const melon_metric_sums *s, int which) {
    int c = which % MELON_N_CUTOFFS;
    switch (which / MELON_N_CUTOFFS) {
    case 0: return melon_metric_hr(s, c);
    case 1: return melon_metric_ndcg(s, c);
    case 2: return melon_metric_mrr(s, c);
    default: return melon_metric_recall(s, c);
    }
}

typedef struct {
    const melon_tune_job *job;
    int metric;
    char (*text)[MELON_TUNE_TEXT];   /* [n] candidates */
    double *score;                   /* [n][n_seeds], NAN: not run */
    int n;
    int rung_seeds[MAX_RUNGS];
    int n_rungs;
    int runs_done, runs_planned, runs_reused, runs_new;
    double spent, best;
    int failed_shown;
} tuner;

static double *score_at(tuner *t, int c, int s) {
    return &t->score[(size_t)c * (size_t)t->job->n_seeds + (size_t)s];
}

/* Mean score of candidate c over its first m seeds. */
static double mean_score(tuner *t, int c, int m) {
    double sum = 0;
    for (int s = 0; s < m; s++) sum += *score_at(t, c, s);
    return sum / m;
}

/* One validation run, or its score read back from the log. */
static int run_trial(tuner *t, int c, int s, int rung, melon_err *err) {
    const melon_tune_job *job = t->job;
    const char *strategy = job->space->strategy;
    uint64_t seed = job->seeds[s];
    const melon_tune_trial *done = melon_tune_log_find(job->log, strategy, t->text[c], seed);
    melon_tune_trial trial;
    int reused = done != NULL;
    if (done) {
        trial = *done;
    } else {
        memset(&trial, 0, sizeof trial);
        snprintf(trial.strategy, sizeof trial.strategy, "%s", strategy);
        snprintf(trial.candidate, sizeof trial.candidate, "%s", t->text[c]);
        trial.seed = seed;
        melon_config cfg;
        if (melon_tune_apply(&cfg, job->base, t->text[c], err) != 0) return -1;
        cfg.run.strategy = strategy;
        cfg.run.seed = seed;
        cfg.run.progress = 0;
        cfg.run.quiet = 1;
        melon_run_result res;
        memset(&res, 0, sizeof res);
        melon_err why = {{0}};
        double t0 = melon_now();
        int rc = melon_run_stream(&cfg, job->stream, &res, &why);
        trial.seconds = melon_now() - t0;
        melon_config_free(&cfg);
        if (rc == MELON_NOT_APPLICABLE) {
            melon_run_result_free(&res);
            snprintf(err->msg, sizeof err->msg, "%s", why.msg);
            return MELON_NOT_APPLICABLE;
        }
        trial.score = rc == 0 ? metric_value(&res.total, t->metric) : -INFINITY;
        if (isnan(trial.score)) trial.score = -INFINITY;
        trial.diverged = rc == 0 && res.warning[0];
        melon_run_result_free(&res);
        if (rc != 0 && !t->failed_shown) {
            fprintf(stderr, "melon tune: %s %s, seed %llu failed (scored as the "
                            "worst): %s\n", strategy, t->text[c],
                    (unsigned long long)seed, why.msg);
            t->failed_shown = 1;
        }
        if (melon_tune_log_append(job->log, &trial, err) != 0) return -1;
    }
    *score_at(t, c, s) = trial.score;
    t->runs_done++;
    t->runs_reused += reused;
    t->runs_new += !reused;
    t->spent += trial.seconds;
    if (trial.score > t->best) t->best = trial.score;
    if (job->progress) {
        double per_run = t->spent / t->runs_done;
        melon_tune_event ev = {
            .strategy = strategy, .candidate = t->text[c], .seed = seed,
            .score = trial.score, .seconds = trial.seconds, .reused = reused,
            .rung = rung, .n_rungs = t->n_rungs, .runs_done = t->runs_done,
            .runs_planned = t->runs_planned, .seconds_spent = t->spent,
            .seconds_left = t->runs_planned > 0
                                ? per_run * (t->runs_planned - t->runs_done) : -1,
            .best_score = t->best};
        job->progress(job->progress_ctx, &ev);
    }
    return 0;
}

static int keep_count(int n0, int rung) {
    int keep = n0;
    for (int r = 0; r < rung; r++) keep = (keep + ETA - 1) / ETA;
    return keep < 1 ? 1 : keep;
}

static void plan_runs(tuner *t, int n0) {
    t->runs_planned = 0;
    for (int r = 0; r < t->n_rungs; r++)
        t->runs_planned += keep_count(n0, r) *
                           (t->rung_seeds[r] - (r ? t->rung_seeds[r - 1] : 0));
}

/* Candidates 0, 1, ... of the space, skipping repeats, until n distinct. */
static int make_candidates(tuner *t, int n, melon_err *err) {
    const melon_tune_job *job = t->job;
    t->text = calloc((size_t)n, sizeof *t->text);
    t->score = malloc((size_t)n * (size_t)job->n_seeds * sizeof *t->score);
    if (!t->text || !t->score) return melon_fail(err, "out of memory");
    for (size_t k = 0; k < (size_t)n * (size_t)job->n_seeds; k++) t->score[k] = NAN;
    t->n = 0;
    for (int k = 0; t->n < n && k < 50 * n + 50; k++) {
        if (melon_tune_candidate(job->space, job->base, job->tune_seed, k,
                                 t->text[t->n], sizeof t->text[0], err) != 0)
            return -1;
        int repeat = 0;
        for (int c = 0; c < t->n && !repeat; c++)
            repeat = strcmp(t->text[c], t->text[t->n]) == 0;
        if (!repeat) t->n++;
    }
    return 0;
}

/* The number of first-rung candidates: fixed by an earlier run of this
 * tuning, given, or from the budget and the time of the defaults' first
 * run (the most expensive usually: most epochs), which it runs. */
static int first_rung_size(tuner *t, melon_err *err) {
    const melon_tune_job *job = t->job;
    const char *strategy = job->space->strategy;
    int n0 = melon_tune_log_plan(job->log, strategy);
    if (n0 > 0) return n0;
    if (job->candidates > 0) {
        n0 = job->candidates;
    } else {
        int rc = run_trial(t, 0, 0, 0, err);
        if (rc != 0) return rc;
        double per_candidate = 0; /* seed runs per first-rung candidate */
        for (int r = 0; r < t->n_rungs; r++)
            per_candidate += (t->rung_seeds[r] - (r ? t->rung_seeds[r - 1] : 0)) /
                             pow(ETA, r);
        double one = fmax(t->spent, 1e-3) * per_candidate;
        double fit = floor(job->budget_s / one);
        n0 = fit < 3 ? 3 : fit > MAX_CANDIDATES ? MAX_CANDIDATES : (int)fit;
    }
    if (melon_tune_log_set_plan(job->log, strategy, n0, err) != 0) return -1;
    return n0;
}

/* Sorts idx[0..n) by mean score over m seeds, best first (ties: the lower
 * candidate first, so the defaults win a tie). */
static void rank_candidates(tuner *t, int *idx, int n, int m) {
    for (int a = 1; a < n; a++) {
        int c = idx[a], b = a;
        double sc = mean_score(t, c, m);
        while (b > 0) {
            double sp = mean_score(t, idx[b - 1], m);
            if (sp > sc || (sp == sc && idx[b - 1] < c)) break;
            idx[b] = idx[b - 1];
            b--;
        }
        idx[b] = c;
    }
}

static int over_budget(const tuner *t) {
    return t->job->budget_s > 0 && t->spent >= t->job->budget_s;
}

int melon_tune_strategy(const melon_tune_job *job, melon_tune_choice *choice,
                        melon_err *err) {
    memset(choice, 0, sizeof *choice);
    tuner t;
    memset(&t, 0, sizeof t);
    t.job = job;
    t.best = -INFINITY;
    if ((t.metric = melon_tune_metric_check(job->metric, err)) < 0) return -1;
    if (job->n_seeds < 1) return melon_fail(err, "no seeds to tune on");
    for (int m = 1;; m = m * ETA < job->n_seeds ? m * ETA : job->n_seeds) {
        t.rung_seeds[t.n_rungs++] = m;
        if (m == job->n_seeds || t.n_rungs == MAX_RUNGS) break;
    }
    t.rung_seeds[t.n_rungs - 1] = job->n_seeds;
    /* candidate 0 (the defaults) exists before the plan: its first run may
     * size the plan */
    int rc = make_candidates(&t, 1, err);
    int n0 = rc == 0 ? first_rung_size(&t, err) : rc;
    if (n0 < 0 || n0 == MELON_NOT_APPLICABLE) {
        rc = n0;
        goto done;
    }
    double first = *score_at(&t, 0, 0);
    free(t.text);
    free(t.score);
    t.text = NULL;
    t.score = NULL;
    if ((rc = make_candidates(&t, n0, err)) != 0) goto done;
    if (!isnan(first)) *score_at(&t, 0, 0) = first;
    t.runs_done = t.runs_reused = t.runs_new = 0;
    t.spent = 0;
    t.best = -INFINITY;
    plan_runs(&t, t.n);
    int *active = malloc((size_t)t.n * sizeof *active);
    if (!active) {
        rc = melon_fail(err, "out of memory");
        goto done;
    }
    int n_active = t.n, rung = 0, m_done = 0, stopped = 0;
    for (int c = 0; c < t.n; c++) active[c] = c;
    for (rung = 0; rung < t.n_rungs && !stopped; rung++) {
        int m = t.rung_seeds[rung];
        int finished = 0; /* candidates with all m seeds */
        for (int k = 0; k < n_active && !stopped; k++) {
            for (int s = m_done; s < m && !stopped; s++) {
                int known = melon_tune_log_find(job->log, job->space->strategy,
                                                t.text[active[k]], job->seeds[s]) != NULL;
                if (!known && over_budget(&t)) {
                    stopped = 1;
                    break;
                }
                if ((rc = run_trial(&t, active[k], s, rung, err)) != 0) goto free_active;
            }
            if (!stopped) finished++;
        }
        if (stopped) {
            /* choose among those that finished this rung, if any did */
            if (finished > 0) {
                n_active = finished;
                m_done = m;
            }
            break;
        }
        m_done = m;
        rank_candidates(&t, active, n_active, m);
        if (rung + 1 < t.n_rungs) n_active = keep_count(t.n, rung + 1) < n_active
                                                 ? keep_count(t.n, rung + 1) : n_active;
    }
    rank_candidates(&t, active, n_active, m_done);
    int best = active[0];
    snprintf(choice->candidate, sizeof choice->candidate, "%s", t.text[best]);
    choice->n_seeds = m_done;
    double sum = 0, sq = 0;
    for (int s = 0; s < m_done; s++) {
        choice->scores[s] = *score_at(&t, best, s);
        sum += choice->scores[s];
    }
    choice->mean = sum / m_done;
    for (int s = 0; s < m_done; s++)
        sq += (choice->scores[s] - choice->mean) * (choice->scores[s] - choice->mean);
    choice->se = m_done > 1 ? sqrt(sq / (m_done - 1) / m_done) : 0;
    choice->default_score = *score_at(&t, 0, 0);
    choice->candidates = t.n;
    choice->runs = t.runs_done;
    choice->runs_reused = t.runs_reused;
    choice->seconds = t.spent;
    choice->budget_stop = stopped;
    rc = 0;
free_active:
    free(active);
done:
    free(t.text);
    free(t.score);
    return rc;
}
