/* The prequential runner (protocol.md sections 2, 4 and 5). */
#include "eval/runner.h"
#include "melon/stats.h"

#include "melon/evaluate.h"
#include "melon/history.h"
#include "melon/model.h"
#include "melon/negatives.h"
#include "update/strategy.h"
#include "melon/atomic_file.h"
#include "progress.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Everything one run owns, allocated once up front. */
typedef struct {
    const melon_config *cfg;
    const melon_stream *stream;  /* the whole stream, or its past in
                                    validation mode (points to past_view) */
    melon_stream past_view;
    melon_split split;
    melon_pair_index pairs;
    melon_history history;
    melon_model model;
    melon_strategy strategy;
    melon_rng train_rng;
    melon_triple *triples;       /* [batch_size] */
    melon_evaluator evaluator;
    melon_atomic_file ranks;     /* --ranks, open while running */
} run_state;

static void run_state_free(run_state *rs) {
    melon_atomic_abort(&rs->ranks); /* no-op once committed */
    melon_strategy_free(&rs->strategy);
    melon_model_free(&rs->model);
    melon_history_free(&rs->history);
    melon_pair_index_free(&rs->pairs);
    free(rs->triples);
    melon_evaluator_free(&rs->evaluator);
}

/* Validation mode (protocol.md section 2: model selection only on a tail of
 * the past): the stream becomes the past alone, and its last batches play
 * the online stream. Batch boundaries are unchanged. */
static int use_validation_tail(run_state *rs, melon_err *err) {
    size_t n_past = rs->split.n_past;
    size_t n_val = (size_t)ceil(rs->cfg->run.validation * (double)n_past);
    if (n_val < 1 || n_val >= n_past)
        return melon_fail(err, "validation share %g of %zu past batches leaves "
                               "no batch to pre-train on or to validate",
                          rs->cfg->run.validation, n_past);
    rs->past_view = *rs->stream;
    rs->past_view.n = melon_batch_begin(&rs->split, n_past);
    rs->stream = &rs->past_view;
    rs->split.n_batches = n_past;
    rs->split.n_past = n_past - n_val;
    return 0;
}

static int run_state_init(run_state *rs, const melon_config *cfg,
                          const melon_stream *stream, melon_err *err) {
    memset(rs, 0, sizeof *rs);
    rs->cfg = cfg;
    rs->stream = stream;
    size_t bs = (size_t)cfg->run.batch_size;
    if (melon_split_make(&rs->split, stream->n, cfg->run.batch_size,
                         cfg->run.train_ratio, err) != 0)
        return -1;
    if (cfg->run.validation > 0.0 && use_validation_tail(rs, err) != 0) return -1;
    stream = rs->stream;
    if (melon_pair_index_build(&rs->pairs, stream, err) != 0) return -1;
    if (melon_history_init(&rs->history, stream->n_users, stream->n_items,
                           err) != 0)
        return -1;
    /* sized for the triples the strategy scores per batch (meta-learned
     * strategies score support sets too) */
    const melon_strategy_entry *entry = melon_strategy_find(cfg->run.strategy);
    if (!entry)
        return melon_fail(err, "unknown strategy '%s'", cfg->run.strategy);
    melon_model_config model_cfg = cfg->model;
    model_cfg.seed = cfg->run.seed; /* the model's init follows the run's seed */
    if (melon_model_create(&rs->model, cfg->model.name, stream->n_users,
                           stream->n_items, &model_cfg,
                           entry->support_factor * cfg->run.batch_size, err) != 0)
        return -1;
    int created = melon_config_create_strategy(&rs->strategy, cfg->run.strategy,
                                               &rs->model, cfg, err);
    if (created != 0) return created; /* -1, or MELON_NOT_APPLICABLE */
    melon_rng_seed_stream(&rs->train_rng, cfg->run.seed, 1);
    rs->triples = melon_alloc(bs * sizeof *rs->triples, err);
    if (!rs->triples) return -1;
    return melon_evaluator_init(&rs->evaluator, cfg->run.negatives, bs,
                                stream->n_users, stream->n_items, err);
}

/* The batch's positives, each with one causal training negative
 * (protocol.md section 3): an item the user has not interacted with up to
 * and including this batch. */
static int make_triples(run_state *rs, size_t begin, size_t end,
                        melon_err *err) {
    const melon_stream *s = rs->stream;
    for (size_t p = begin; p < end; p++) {
        int32_t neg = melon_sample_train_negative(&rs->pairs, &rs->train_rng,
                                                  s->user[p], end);
        if (neg < 0)
            return melon_fail(err, "user '%s' has interacted with every item, "
                                   "so no training negative exists",
                              s->user_name[s->user[p]]);
        rs->triples[p - begin] = (melon_triple){s->user[p], s->item[p], neg};
    }
    return 0;
}

static void context_for(run_state *rs, melon_context *ctx, melon_phase phase,
                        size_t batch) {
    ctx->model = &rs->model;
    ctx->stream = rs->stream;
    ctx->history = &rs->history;
    ctx->pairs = &rs->pairs;
    ctx->rng = &rs->train_rng;
    ctx->phase = phase;
    ctx->batch = batch;
    ctx->begin = melon_batch_begin(&rs->split, batch);
    ctx->end = melon_batch_end(&rs->split, rs->stream->n, batch);
}

static int pretrain(run_state *rs, melon_run_result *res, melon_progress *pg,
                    melon_err *err) {
    size_t n_past = rs->split.n_past;
    int32_t *order = melon_alloc(n_past * sizeof *order, err);
    if (!order) return -1;
    for (size_t b = 0; b < n_past; b++) order[b] = (int32_t)b;
    melon_rng order_rng;
    melon_rng_seed_stream(&order_rng, rs->cfg->run.seed, 2);
    for (int epoch = 0; epoch < rs->cfg->run.epochs; epoch++) {
        melon_rng_shuffle_i32(&order_rng, order, n_past);
        double loss_sum = 0.0;
        for (size_t k = 0; k < n_past; k++) {
            melon_context ctx;
            context_for(rs, &ctx, MELON_PHASE_PRETRAIN, (size_t)order[k]);
            int n = (int)(ctx.end - ctx.begin);
            if (make_triples(rs, ctx.begin, ctx.end, err) != 0) goto fail;
            melon_strategy *s = &rs->strategy;
            if (s->ops->meta_step &&
                s->ops->meta_step(s, &ctx, rs->triples, n, err) != 0)
                goto fail;
            if (s->ops->update(s, &ctx, rs->triples, n, err) != 0) goto fail;
            loss_sum += s->batch_loss;
            melon_progress_tick(pg, epoch, k + 1, n_past);
        }
        res->pretrain_loss[epoch] = loss_sum / (double)n_past;
    }
    free(order);
    return 0;
fail:
    free(order);
    return -1;
}

/* Ranks every interaction of the batch with the model as it stands before
 * the update (protocol.md section 4) and adds the ranks to the batch's and
 * the run's sums. */
static int evaluate_batch(run_state *rs, size_t batch, size_t begin,
                          size_t end, melon_metric_sums *sums,
                          melon_run_result *res, melon_err *err) {
    melon_evaluator *ev = &rs->evaluator;
    if (melon_evaluate_batch(ev, &rs->model, rs->stream, &rs->pairs,
                             &rs->history, rs->cfg->run.seed, batch, begin, end,
                             err) != 0)
        return -1;
    melon_metric_sums_clear(sums);
    const melon_metric_targets to = {sums, &res->seen_users, &res->new_users,
                                     &res->repeat_pairs, &res->new_pairs};
    melon_evaluation_add(ev, &to);
    if (rs->ranks.f)
        melon_evaluation_write_ranks(ev, rs->ranks.f, rs->stream, batch, begin);
    return 0;
}

static int online(run_state *rs, melon_run_result *res, melon_progress *pg,
                  melon_err *err) {
    size_t first = rs->split.n_past;
    size_t n_test = rs->split.n_batches - first;
    melon_strategy *s = &rs->strategy;
    melon_metric_sums_clear(&res->total);
    melon_metric_sums_clear(&res->seen_users);
    melon_metric_sums_clear(&res->new_users);
    melon_metric_sums_clear(&res->repeat_pairs);
    melon_metric_sums_clear(&res->new_pairs);
    for (size_t t = 0; t < n_test; t++) {
        melon_context ctx;
        context_for(rs, &ctx, MELON_PHASE_ONLINE, first + t);
        int n = (int)(ctx.end - ctx.begin);
        if (make_triples(rs, ctx.begin, ctx.end, err) != 0) return -1;
        /* 1. meta step */
        double t0 = melon_now();
        if (s->ops->meta_step &&
            s->ops->meta_step(s, &ctx, rs->triples, n, err) != 0)
            return -1;
        double meta_s = melon_now() - t0;
        /* 2. evaluate before the update */
        double t_eval = melon_now();
        if (evaluate_batch(rs, first + t, ctx.begin, ctx.end,
                           &res->per_batch[t], res, err) != 0)
            return -1;
        res->evaluate_s += melon_now() - t_eval;
        melon_metric_sums_merge(&res->total, &res->per_batch[t]);
        /* 3. update */
        double t1 = melon_now();
        if (s->ops->update(s, &ctx, rs->triples, n, err) != 0) return -1;
        res->update_seconds[t] = meta_s + (melon_now() - t1);
        res->train_loss[t] = s->batch_loss;
        /* 4. append to the history */
        if (melon_history_append(&rs->history, rs->stream, ctx.begin, ctx.end,
                                 err) != 0)
            return -1;
        if (rs->model.ops->observe)
            rs->model.ops->observe(&rs->model, rs->stream, ctx.begin, ctx.end);
        melon_progress_tick(pg, -1, t + 1, n_test);
    }
    return 0;
}

/* Mean, median and 90th percentile (nearest rank) of the update times. */
static void summarise_times(melon_run_result *res, melon_err *err) {
    size_t n = res->n_test_batches;
    double *sorted = melon_alloc(n * sizeof *sorted, err);
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

static int allocate_result(melon_run_result *res, const run_state *rs,
                           melon_err *err) {
    res->n_users = rs->stream->n_users;
    res->n_items = rs->stream->n_items;
    res->n_interactions = rs->stream->n;
    res->n_batches = rs->split.n_batches;
    res->n_test_batches = rs->split.n_batches - rs->split.n_past;
    res->epochs = rs->cfg->run.epochs;
    size_t n = res->n_test_batches;
    res->per_batch = melon_calloc(n, sizeof *res->per_batch, err);
    res->update_seconds = melon_calloc(n, sizeof(double), err);
    res->train_loss = melon_calloc(n, sizeof(double), err);
    res->pretrain_loss = melon_calloc((size_t)res->epochs + 1, sizeof(double), err);
    if (!res->per_batch || !res->update_seconds || !res->train_loss ||
        !res->pretrain_loss)
        return -1;
    return 0;
}

static void set_threads(int threads) {
    if (threads <= 0) threads = omp_get_num_procs();
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
}

int melon_run_stream(const melon_config *cfg, const melon_stream *stream,
                     melon_run_result *res, melon_err *err) {
    double start = melon_now();
    double load_s = res->load_s;
    memset(res, 0, sizeof *res);
    res->load_s = load_s;
    set_threads(cfg->run.threads);
    run_state rs;
    int rc = -1;
    melon_progress pg;
    int init = run_state_init(&rs, cfg, stream, err);
    if (init != 0) {
        rc = init;
        goto done;
    }
    if (allocate_result(res, &rs, err) != 0) goto done;
    melon_progress_init(&pg, cfg->run.progress, cfg->run.epochs);
    if (cfg->run.ranks_csv) {
        if (melon_atomic_open(&rs.ranks, cfg->run.ranks_csv, err) != 0) goto done;
        fputs("batch,user,item,rank,user_interactions_before,repeat,"
              "negatives\n", rs.ranks.f);
    }
    /* The past is in the history from the start; strategies query it with
     * the current batch's begin as the bound, so it stays causal. */
    stream = rs.stream; /* the past alone in validation mode */
    size_t past_end = melon_batch_begin(&rs.split, rs.split.n_past);
    if (melon_history_append(&rs.history, stream, 0, past_end, err) != 0)
        goto done;
    double t0 = melon_now();
    if (pretrain(&rs, res, &pg, err) != 0) goto done;
    res->pretrain_s = melon_now() - t0;
    if (rs.model.ops->observe)
        rs.model.ops->observe(&rs.model, stream, 0, past_end);
    if (online(&rs, res, &pg, err) != 0) goto done;
    melon_progress_finish(&pg);
    summarise_times(res, err);
    /* a model without parameters (popularity) has no loss to descend */
    if (melon_model_has_parameters(&rs.model))
        melon_losses_diverged(res->pretrain_loss, res->epochs, res->train_loss,
                              res->n_test_batches, cfg->run.strategy, res->warning,
                              sizeof res->warning);
    if (rs.ranks.f && melon_atomic_commit(&rs.ranks, err) != 0) goto done;
    if (cfg->run.save_model && melon_model_has_parameters(&rs.model) &&
        melon_model_save(&rs.model, cfg->run.save_model, err) != 0)
        goto done;
    rc = 0;
done:
    run_state_free(&rs);
    res->total_s = res->load_s + (melon_now() - start);
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
