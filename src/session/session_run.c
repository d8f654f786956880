/* The prequential runner (protocol.md sections 2, 4 and 5) as a loop over a
 * session: the whole stream is given to the session up front (so the
 * evaluation negatives are the protocol's), the past pre-trains it, and
 * every online batch is one session step. Checkpoints taken along the way
 * resume the run exactly. */
#include "eval/runner.h"
#include "melon/stats.h"

#include "session_internal.h"
#include "../eval/progress.h"
#include "core/atomic_file.h"
#include "core/float_mode.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Validation mode (protocol.md section 2: model selection only on a tail of
 * the past): the stream becomes the past alone, and its last batches play
 * the online stream. Batch boundaries are unchanged. Users and items that
 * first appear in the test stream are left out too (ids are given by first
 * appearance, so the past's are the lowest): the model's size, its random
 * initialisation and the evaluation negatives depend on the past only. */
static int use_validation_tail(const melon_config *cfg, melon_split *split,
                               melon_stream *view, melon_err *err) {
    size_t n_past = split->n_past;
    size_t n_val = (size_t)ceil(cfg->run.validation * (double)n_past);
    if (n_val < 1 || n_val >= n_past)
        return melon_fail(err, "validation share %g of %zu past batches leaves "
                               "no batch to pre-train on or to validate",
                          cfg->run.validation, n_past);
    view->n = melon_batch_begin(split, n_past);
    int32_t n_users = 0, n_items = 0;
    for (size_t p = 0; p < view->n; p++) {
        if (view->user[p] >= n_users) n_users = view->user[p] + 1;
        if (view->item[p] >= n_items) n_items = view->item[p] + 1;
    }
    view->n_users = n_users;
    view->n_items = n_items;
    split->n_batches = n_past;
    split->n_past = n_past - n_val;
    return 0;
}

static void tick(void *ctx, int epoch, size_t done, size_t total) {
    melon_progress_tick(ctx, epoch, done, total);
}

void melon_run_result_summarise_times(melon_run_result *res,
                                      melon_err *err) {
    size_t n = res->n_test_batches;
    double *sorted = melon_alloc((n ? n : 1) * sizeof *sorted, err);
    if (!sorted || n == 0) {
        free(sorted);
        return;
    }
    double sum = 0.0;
    for (size_t k = 0; k < n; k++) sum += res->update_seconds[k];
    memcpy(sorted, res->update_seconds, n * sizeof *sorted);
    res->update_mean_s = sum / (double)n;
    res->update_median_s = melon_median(sorted, n); /* sorts */
    size_t p90 = (size_t)ceil(0.9 * (double)n);
    res->update_p90_s = sorted[(p90 ? p90 : 1) - 1];
    free(sorted);
}

static size_t n_online_batches(const melon_session *s) {
    size_t bs = (size_t)s->cfg.run.batch_size;
    return (s->preloaded_end - s->past_end + bs - 1) / bs;
}

static int allocate_result(melon_run_result *res, const melon_session *s,
                           melon_err *err) {
    res->n_users = s->stream.n_users;
    res->n_items = s->stream.n_items;
    res->n_interactions = s->preloaded_end;
    res->n_test_batches = n_online_batches(s);
    res->n_batches = s->past_batches + res->n_test_batches;
    res->epochs = s->cfg.run.epochs;
    size_t n = res->n_test_batches;
    res->per_batch = melon_calloc(n ? n : 1, sizeof *res->per_batch, err);
    res->update_seconds = melon_calloc(n ? n : 1, sizeof(double), err);
    res->train_loss = melon_calloc(n ? n : 1, sizeof(double), err);
    res->pretrain_loss = melon_calloc((size_t)res->epochs + 1, sizeof(double), err);
    if (!res->per_batch || !res->update_seconds || !res->train_loss ||
        !res->pretrain_loss)
        return -1;
    return 0;
}

/* --ranks: one row per evaluated interaction, from the ranks the session
 * kept: batch, user, item, rank, the user's interactions before the batch. */
static int write_ranks(const melon_session *s, const char *path,
                       melon_err *err) {
    melon_atomic_file af;
    if (melon_atomic_open(&af, path, err) != 0) return -1;
    fputs("batch,user,item,rank,user_interactions_before,repeat,negatives\n",
          af.f);
    size_t bs = (size_t)s->cfg.run.batch_size;
    const melon_stream *st = &s->stream;
    for (size_t p = s->past_end; p < s->done; p++) {
        size_t t = (p - s->past_end) / bs;
        size_t begin = s->past_end + t * bs;
        int32_t user = st->user[p];
        uint32_t before = melon_history_count_before(&s->history.user_items[user],
                                                     begin);
        int repeat = melon_pair_first(&s->pairs, user, st->item[p]) < p;
        if (s->event_rank[p] > 0)
            fprintf(af.f, "%zu,%s,%s,%d,%u,%d,%d\n", s->past_batches + t,
                    st->user_name[user], st->item_name[st->item[p]],
                    s->event_rank[p], before, repeat, s->event_negatives[p]);
    }
    return melon_atomic_commit(&af, err);
}

/* Run-mode checkpoints go through the public writer. */
static int checkpoint(melon_session *s, const melon_run_config *out,
                      melon_err *err) {
    if (!out->checkpoint) return 0;
    return melon_save(s, out->checkpoint, err);
}

/* The online batches from where the session stands, then the results.
 * out gives the output files and checkpoint settings of this invocation. */
static int run_online(melon_session *s, const melon_run_config *out,
                      melon_run_result *res, melon_progress *pg,
                      melon_err *err) {
    size_t bs = (size_t)s->cfg.run.batch_size;
    size_t n_test = n_online_batches(s);
    while (s->n_records < n_test) {
        size_t end = s->done + bs < s->preloaded_end ? s->done + bs
                                                     : s->preloaded_end;
        if (session_run_batch(s, end, NULL, err) != 0) return -1;
        melon_progress_tick(pg, -1, s->n_records, n_test);
        if (out->checkpoint_every > 0 &&
            s->n_records % (size_t)out->checkpoint_every == 0 &&
            s->n_records < n_test && checkpoint(s, out, err) != 0)
            return -1;
    }
    melon_progress_finish(pg);
    if (allocate_result(res, s, err) != 0) return -1;
    memcpy(res->pretrain_loss, s->pretrain_loss,
           (size_t)s->cfg.run.epochs * sizeof(double));
    for (size_t t = 0; t < n_test; t++) {
        res->per_batch[t] = s->records[t].sums;
        res->update_seconds[t] = s->records[t].seconds;
        res->train_loss[t] = s->records[t].loss;
    }
    res->total = s->total;
    res->seen_users = s->seen_users;
    res->new_users = s->new_users;
    res->repeat_pairs = s->repeat_pairs;
    res->new_pairs = s->new_pairs;
    res->evaluate_s = s->evaluate_seconds;
    res->pretrain_s = s->pretrain_seconds;
    melon_run_result_summarise_times(res, err);
    /* a model without parameters (popularity) has no loss to descend */
    if (melon_model_has_parameters(&s->model))
        melon_losses_diverged(res->pretrain_loss, res->epochs, res->train_loss,
                              res->n_test_batches, s->cfg.run.strategy,
                              res->warning, sizeof res->warning);
    if (out->ranks_csv && write_ranks(s, out->ranks_csv, err) != 0) return -1;
    /* the final session, as a checkpoint (`melon recommend`, melon_open) */
    if (out->save_model && melon_save(s, out->save_model, err) != 0) return -1;
    return 0;
}

int melon_run_stream(const melon_config *cfg, const melon_stream *stream,
                     melon_run_result *res, melon_err *err) {
    double start = melon_now();
    double load_s = res->load_s;
    memset(res, 0, sizeof *res);
    res->load_s = load_s;
    melon_split split;
    melon_stream view = *stream;
    melon_session *s = NULL;
    melon_float_mode float_mode;
    int flushing = 0, rc = -1;
    const melon_run_config *run = &cfg->run;
    const melon_melon_config *mc = &cfg->strategy.melon;
    if (melon_split_make(&split, stream->n, run->batch_size, run->train_ratio,
                         err) != 0)
        goto done;
    if (run->validation > 0.0 && use_validation_tail(cfg, &split, &view, err) != 0)
        goto done;
    size_t n_online = split.n_batches - split.n_past;
    if (mc->dump_lr_matrix && strncmp(run->strategy, "melon", 5) == 0 &&
        (size_t)mc->dump_batch >= n_online) {
        melon_fail(err, "--dump-batch %d: the stream has %zu online batches "
                        "(0 to %zu)", mc->dump_batch, n_online,
                   n_online - 1);
        goto done;
    }
    rc = session_create_config(&s, cfg, 1, err);
    if (rc != 0) goto done; /* -1, or MELON_NOT_APPLICABLE */
    rc = -1;
    /* subnormal floats flushed to zero in every thread that computes,
     * unless the run asks for IEEE arithmetic (float_mode.h) */
    int threads = run->threads > 0 ? run->threads : omp_get_num_procs();
    if (!run->ieee_subnormals) melon_float_mode_enter(&float_mode, threads);
    flushing = !run->ieee_subnormals;
    melon_progress pg;
    melon_progress_init(&pg, run->progress, run->epochs);
    s->progress = tick;
    s->progress_ctx = &pg;
    if (session_preload(s, &view, err) != 0) goto done;
    double t0 = melon_now();
    if (session_pretrain_until(s, melon_batch_begin(&split, split.n_past), err) != 0)
        goto done;
    s->pretrain_seconds = melon_now() - t0;
    if (checkpoint(s, run, err) != 0) goto done;
    if (run_online(s, run, res, &pg, err) != 0) goto done;
    res->subnormals_flushed = melon_float_mode_all_flush(threads);
    rc = 0;
done:
    melon_free(s);
    if (flushing) melon_float_mode_leave(&float_mode);
    res->total_s = res->load_s + (melon_now() - start);
    res->peak_rss_mb = melon_peak_rss_mb();
    return rc;
}

int melon_run_resume(const char *path, const melon_config *invocation,
                     melon_config *ran, melon_run_result *res, melon_err *err) {
    double start = melon_now();
    memset(res, 0, sizeof *res);
    melon_config_default(ran);
    melon_session *s;
    if (melon_open(&s, path, err) != 0) return -1;
    if (!s->preloaded_end) {
        melon_free(s);
        return melon_fail(err, "%s: a checkpoint of a live session, not of "
                               "`melon run` (nothing left to replay)", path);
    }
    if (melon_config_copy(ran, &s->cfg, err) != 0) {
        melon_config_default(ran);
        melon_free(s);
        return -1;
    }
    /* this invocation's output files, checkpointing and display */
    const melon_run_config *out = &invocation->run;
    melon_run_config *run = &ran->run;
    run->out_json = out->out_json;
    run->per_batch_csv = out->per_batch_csv;
    run->ranks_csv = out->ranks_csv;
    run->save_model = out->save_model;
    run->checkpoint = out->checkpoint;
    run->checkpoint_every = out->checkpoint_every;
    run->progress = out->progress;
    run->quiet = out->quiet;
    run->threads = out->threads ? out->threads : s->cfg.run.threads;
    s->cfg.run.threads = run->threads;
    melon_progress pg;
    melon_progress_init(&pg, run->progress, run->epochs);
    s->progress = tick;
    s->progress_ctx = &pg;
    int threads = run->threads > 0 ? run->threads : omp_get_num_procs();
    melon_float_mode float_mode;
    if (!run->ieee_subnormals) melon_float_mode_enter(&float_mode, threads);
    int rc = run_online(s, run, res, &pg, err);
    if (rc == 0) res->subnormals_flushed = melon_float_mode_all_flush(threads);
    if (!run->ieee_subnormals) melon_float_mode_leave(&float_mode);
    melon_free(s);
    res->total_s = melon_now() - start;
    res->peak_rss_mb = melon_peak_rss_mb();
    return rc;
}

int melon_run(const melon_config *cfg, melon_run_result *res, melon_err *err) {
    melon_stream stream;
    double t0 = melon_now();
    memset(res, 0, sizeof *res);
    char buf[16384];
    const char *paths[MELON_MAX_FILES];
    int n_paths = melon_data_split_files(cfg->data.files, buf, sizeof buf,
                                         paths, err);
    if (n_paths < 0 ||
        melon_stream_load(&stream, paths, n_paths, &cfg->data.load, err) != 0)
        return -1;
    res->load_s = melon_now() - t0;
    int rc = melon_run_stream(cfg, &stream, res, err);
    melon_stream_free(&stream);
    return rc;
}

void melon_run_result_free(melon_run_result *res) {
    free(res->per_batch);
    free(res->update_seconds);
    free(res->train_loss);
    free(res->pretrain_loss);
    res->per_batch = NULL;
    res->update_seconds = res->train_loss = res->pretrain_loss = NULL;
}
