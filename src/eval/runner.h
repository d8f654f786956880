/* The prequential runner (protocol.md sections 2, 4, 5): pre-train on the
 * past, then for every online batch: meta step, evaluate, update, append to
 * the history. */
#ifndef MELON_RUNNER_H
#define MELON_RUNNER_H

#include "eval/config.h"
#include "melon/metrics.h"
#include "melon/stream.h"

#include <stdio.h>

typedef struct {
    /* dataset */
    int32_t n_users;
    int32_t n_items;
    size_t n_interactions;
    size_t n_batches;
    size_t n_test_batches;
    /* overall metrics; split by whether the user had interacted before
     * the batch (seen) or not (new: a cold-start user); and by whether the
     * user had interacted with the item before (a repeat pair) or not */
    melon_metric_sums total;
    melon_metric_sums seen_users;
    melon_metric_sums new_users;
    melon_metric_sums repeat_pairs;
    melon_metric_sums new_pairs;
    /* per online batch */
    melon_metric_sums *per_batch;       /* [n_test_batches] */
    double *update_seconds;             /* [n_test_batches] */
    double *train_loss;                 /* [n_test_batches] mean BPR loss */
    double *pretrain_loss;              /* [epochs] mean BPR loss */
    int epochs;
    /* timing */
    double update_mean_s;
    double update_median_s;
    double update_p90_s;
    double pretrain_s;
    double evaluate_s;                  /* ranking the online batches */
    double load_s;
    double total_s;
    double peak_rss_mb;
    /* 1 when every thread of the run flushed subnormal floats to zero
     * (float_mode.h), read at the end of the online stream */
    int subnormals_flushed;
    /* "" or why the losses say the updates diverged (the results are
     * still returned: those of the model the run ended with) */
    char warning[256];
} melon_run_result;

/* 1 (with the reason in why) when a run's losses say its updates diverged:
 * a loss that is not a number or infinite; a pre-training epoch whose mean
 * loss is more than twice the lowest epoch before it and above 2 ln 2 (a
 * model giving every item the same score has ln 2); or online batches whose
 * mean loss is more than twice that of the last epoch (at least ln 2).
 * Else 0. Only for models that learn (popularity has no loss to descend). */
int melon_losses_diverged(const double *pretrain, int epochs,
                          const double *online, size_t n, const char *strategy,
                          char *why, size_t why_size);

/* Runs the whole protocol on an already loaded stream. With
 * cfg->checkpoint set, the run's complete state is written there after
 * pre-training and every cfg->checkpoint_every online batches (0: only
 * after pre-training). */
int melon_run_stream(const melon_config *cfg, const melon_stream *stream,
                     melon_run_result *res, melon_err *err);
/* Loads cfg's data files, then runs. */
int melon_run(const melon_config *cfg, melon_run_result *res, melon_err *err);
/* Continues a run from one of its checkpoints. The run's settings come
 * from the checkpoint, except the output files, checkpointing, threads and
 * display, which come from `invocation`; all of them go to *ran (always
 * set: free it with melon_config_free; its output paths point into
 * `invocation`'s). The per-batch metrics are those of the uninterrupted
 * run. */
int melon_run_resume(const char *path, const melon_config *invocation,
                     melon_config *ran, melon_run_result *res, melon_err *err);
void melon_run_result_free(melon_run_result *res);

/* Mean, median and 90th percentile (nearest rank) of res's update times
 * (for runners other than melon_run_stream: the distributed one). */
void melon_run_result_summarise_times(melon_run_result *res, melon_err *err);

/* Result files: the JSON of protocol.md section 7 and a per-batch CSV, each
 * written to a temporary file in the same directory and renamed. */
int melon_write_result_json(const char *path, const melon_config *cfg,
                            const melon_run_result *res, melon_err *err);
int melon_write_per_batch_csv(const char *path, const melon_run_result *res,
                              melon_err *err);
/* The settings a run's result file records, before the run: an object
 * {"dataset": {name, files, min_user, min_item}, "settings": {...}} whose
 * keys and values are those of the result file. */
void melon_write_run_settings(FILE *f, const melon_config *cfg);
/* The readable table printed at the end of a run. */
void melon_print_result_table(FILE *out, const melon_config *cfg,
                              const melon_run_result *res);

#endif
