/* The distributed replay (dist.h): setup, pre-training, the online stream,
 * and the result on rank 0. The protocol is the single process's
 * (src/eval/runner.c): the same triples, batch order, negatives and
 * arithmetic per row, so the same metrics for the same seed. */
#include "dist.h"
#include "dist_internal.h"

#include "core/atomic_file.h"
#include "melon/metrics.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USER_SALT 0x75736572ULL  /* "user" */
#define ITEM_SALT 0x6974656dULL  /* "item" */

static void dist_state_free(dist_state *ds) {
    melon_grads_free(&ds->slots);
    melon_sparse_grad_free(&ds->grad);
    melon_optimizer_free(&ds->opt);
    melon_model_free(&ds->shard);
    melon_shard_map_free(&ds->users);
    melon_shard_map_free(&ds->items);
    melon_evaluator_free(&ds->evaluator);
    melon_history_free(&ds->history);
    melon_pair_index_free(&ds->pairs);
    free(ds->triples);
    free(ds->send_counts);
    free(ds->mine);
    free(ds->local_triples);
    free(ds->rows);
    free(ds->rows_sorted);
    free(ds->dest);
    free(ds->user_stamp);
    free(ds->item_stamp);
    free(ds->user_at);
    free(ds->item_at);
    free(ds->send_f);
    free(ds->recv_f);
    free(ds->send_i);
    free(ds->recv_i);
    for (int k = 0; k < MELON_MAX_TENSORS; k++) free(ds->view_value[k]);
    free(ds->score_users);
    free(ds->score_items);
    free(ds->scores);
    free(ds->losses);
}

static int table_width(const melon_model *m, melon_tensor_kind kind) {
    int width = 0;
    for (int k = 0; k < m->n_tensors; k++)
        if (m->tensor[k].kind == kind) width += m->tensor[k].cols;
    return width;
}

static int alloc_scratch(dist_state *ds, melon_err *err) {
    size_t bs = (size_t)ds->cfg->run.batch_size, R = (size_t)ds->n_ranks;
    size_t cands = bs * (size_t)(ds->cfg->run.negatives + 1);
    size_t widest = (size_t)(ds->user_width > ds->item_width ? ds->user_width
                                                             : ds->item_width);
    size_t floats = 2 * bs * widest > cands ? 2 * bs * widest : cands;
    ds->send_counts = melon_alloc(10 * R * sizeof(int), err);
    if (!ds->send_counts) return -1;
    int *c = ds->send_counts;
    ds->send_displs = c + R;
    ds->recv_counts = c + 2 * R;
    ds->recv_displs = c + 3 * R;
    ds->pair_counts = c + 4 * R;
    ds->pair_displs = c + 5 * R;
    ds->in_pair_counts = c + 6 * R;
    ds->in_pair_displs = c + 7 * R;
    ds->cursor = c + 8 * R;
    ds->triples = melon_alloc(bs * sizeof *ds->triples, err);
    ds->mine = melon_alloc(bs * sizeof *ds->mine, err);
    ds->local_triples = melon_alloc(bs * sizeof *ds->local_triples, err);
    ds->rows = melon_alloc(cands * sizeof *ds->rows, err);
    ds->rows_sorted = melon_alloc(cands * sizeof *ds->rows_sorted, err);
    ds->dest = melon_alloc(cands * sizeof *ds->dest, err);
    ds->user_stamp = melon_calloc((size_t)ds->stream->n_users, sizeof(uint64_t), err);
    ds->item_stamp = melon_calloc((size_t)ds->stream->n_items, sizeof(uint64_t), err);
    ds->user_at = melon_alloc((size_t)ds->stream->n_users * sizeof(int32_t), err);
    ds->item_at = melon_alloc((size_t)ds->stream->n_items * sizeof(int32_t), err);
    ds->send_f = melon_alloc(floats * sizeof(float), err);
    ds->recv_f = melon_alloc(floats * sizeof(float), err);
    ds->send_i = melon_alloc(2 * cands * sizeof(int32_t), err);
    ds->recv_i = melon_alloc(2 * cands * sizeof(int32_t), err);
    ds->score_users = melon_alloc(cands * sizeof(int32_t), err);
    ds->score_items = melon_alloc(cands * sizeof(int32_t), err);
    ds->scores = melon_alloc(cands * sizeof(float), err);
    ds->losses = melon_alloc(bs * sizeof(float), err);
    if (!ds->triples || !ds->mine || !ds->local_triples || !ds->rows ||
        !ds->rows_sorted || !ds->dest || !ds->user_stamp || !ds->item_stamp ||
        !ds->user_at || !ds->item_at || !ds->send_f || !ds->recv_f ||
        !ds->send_i || !ds->recv_i || !ds->score_users || !ds->score_items ||
        !ds->scores || !ds->losses)
        return -1;
    for (int k = 0; k < ds->shard.n_tensors; k++) {
        ds->view_value[k] =
            melon_alloc(2 * bs * (size_t)ds->shard.tensor[k].cols * sizeof(float), err);
        if (!ds->view_value[k]) return -1;
    }
    return 0;
}

/* The settings the distributed replay covers; the rest say so up front. */
static int check_settings(const melon_config *cfg, melon_err *err) {
    if (strcmp(cfg->run.strategy, "default") != 0)
        return melon_fail(err, "--distributed replays the default strategy "
                               "only (got '%s')", cfg->run.strategy);
    if (cfg->run.validation > 0.0)
        return melon_fail(err, "--distributed replays the test stream; "
                               "--validation runs on one process");
    if (cfg->run.save_model)
        return melon_fail(err, "--distributed keeps the model sharded; "
                               "--save-model runs on one process");
    if (cfg->run.negatives == MELON_NEGATIVES_ALL)
        return melon_fail(err, "--distributed ranks against sampled "
                               "negatives; --negatives all runs on one "
                               "process");
    return 0;
}

static int setup(dist_state *ds, melon_err *err) {
    const melon_config *cfg = ds->cfg;
    const melon_stream *s = ds->stream;
    if (melon_split_make(&ds->split, s->n, cfg->run.batch_size, cfg->run.train_ratio,
                         err) != 0 ||
        melon_pair_index_build(&ds->pairs, s, err) != 0 ||
        (ds->rank == 0 &&
         (melon_history_init(&ds->history, s->n_users, s->n_items, err) != 0 ||
          melon_evaluator_init(&ds->evaluator, cfg->run.negatives,
                               (size_t)cfg->run.batch_size, s->n_users,
                               s->n_items, err) != 0)) ||
        melon_shard_map_init(&ds->users, s->n_users, ds->n_ranks, USER_SALT,
                             err) != 0 ||
        melon_shard_map_init(&ds->items, s->n_items, ds->n_ranks, ITEM_SALT,
                             err) != 0 ||
        melon_shard_model_create(&ds->shard, cfg, &ds->users, &ds->items,
                                 ds->rank, err) != 0 ||
        melon_optimizer_init(&ds->opt, &ds->shard, &cfg->optim, err) != 0 ||
        melon_sparse_grad_init(&ds->grad, &ds->shard, cfg->run.batch_size,
                               err) != 0 ||
        melon_grads_init(&ds->slots, &ds->shard, cfg->run.batch_size, err) != 0)
        return -1;
    ds->evaluator.before = cfg->run.eval_negatives == MELON_EVAL_BEFORE;
    ds->user_width = table_width(&ds->shard, MELON_USER_TABLE);
    ds->item_width = table_width(&ds->shard, MELON_ITEM_TABLE);
    melon_rng_seed_stream(&ds->train_rng, cfg->run.seed, 1);
    return alloc_scratch(ds, err);
}

/* The batch's triples, drawn alike by every process from the replicated
 * generator and pair index. */
static int make_triples(dist_state *ds, size_t begin, size_t end,
                        melon_err *err) {
    const melon_stream *s = ds->stream;
    for (size_t p = begin; p < end; p++) {
        int32_t neg = melon_sample_train_negative(&ds->pairs, &ds->train_rng,
                                                  s->user[p], end);
        if (neg < 0)
            return melon_fail(err, "user '%s' has interacted with every item, "
                                   "so no training negative exists",
                              s->user_name[s->user[p]]);
        ds->triples[p - begin] = (melon_triple){s->user[p], s->item[p], neg};
    }
    return 0;
}

/* The result's sizes and per-batch arrays. */
static int alloc_result(melon_run_result *res, const dist_state *ds,
                        melon_err *err) {
    res->n_users = ds->stream->n_users;
    res->n_items = ds->stream->n_items;
    res->n_interactions = ds->stream->n;
    res->n_batches = ds->split.n_batches;
    res->n_test_batches = ds->split.n_batches - ds->split.n_past;
    res->epochs = ds->cfg->run.epochs;
    size_t n = res->n_test_batches ? res->n_test_batches : 1;
    res->per_batch = melon_calloc(n, sizeof *res->per_batch, err);
    res->update_seconds = melon_calloc(n, sizeof(double), err);
    res->train_loss = melon_calloc(n, sizeof(double), err);
    res->pretrain_loss = melon_calloc((size_t)res->epochs + 1, sizeof(double),
                                      err);
    return res->per_batch && res->update_seconds && res->train_loss &&
                   res->pretrain_loss
               ? 0
               : -1;
}

static int pretrain(dist_state *ds, melon_run_result *res, melon_err *err) {
    size_t n_past = ds->split.n_past;
    int32_t *order = melon_alloc(n_past * sizeof *order, err);
    if (!order) return -1;
    for (size_t b = 0; b < n_past; b++) order[b] = (int32_t)b;
    melon_rng order_rng;
    melon_rng_seed_stream(&order_rng, ds->cfg->run.seed, 2);
    for (int epoch = 0; epoch < ds->cfg->run.epochs; epoch++) {
        melon_rng_shuffle_i32(&order_rng, order, n_past);
        double loss_sum = 0.0;
        for (size_t k = 0; k < n_past; k++) {
            size_t begin = melon_batch_begin(&ds->split, (size_t)order[k]);
            size_t end = melon_batch_end(&ds->split, ds->stream->n,
                                         (size_t)order[k]);
            double loss = 0.0;
            if (make_triples(ds, begin, end, err) != 0) {
                free(order);
                return -1;
            }
            melon_dist_train_step(ds, (int)(end - begin), &loss);
            loss_sum += loss;
        }
        res->pretrain_loss[epoch] = loss_sum / (double)n_past;
    }
    free(order);
    return 0;
}

static int online(dist_state *ds, melon_run_result *res, FILE *ranks_csv,
                  melon_err *err) {
    size_t first = ds->split.n_past;
    size_t n_test = ds->split.n_batches - first;
    melon_metric_sums_clear(&res->total);
    melon_metric_sums_clear(&res->seen_users);
    melon_metric_sums_clear(&res->new_users);
    melon_metric_sums_clear(&res->repeat_pairs);
    melon_metric_sums_clear(&res->new_pairs);
    for (size_t t = 0; t < n_test; t++) {
        size_t begin = melon_batch_begin(&ds->split, first + t);
        size_t end = melon_batch_end(&ds->split, ds->stream->n, first + t);
        if (make_triples(ds, begin, end, err) != 0) return -1;
        double t_eval = melon_now();
        if (melon_dist_evaluate(ds, first + t, begin, end, err) != 0)
            return -1; /* on every process */
        res->evaluate_s += melon_now() - t_eval;
        double t1 = melon_now();
        double loss = 0.0;
        melon_dist_train_step(ds, (int)(end - begin), &loss);
        if (ds->rank != 0) continue;
        res->update_seconds[t] = melon_now() - t1;
        res->train_loss[t] = loss;
        /* the runner's evaluate_batch, on rank 0's evaluator */
        melon_metric_sums_clear(&res->per_batch[t]);
        const melon_metric_targets to = {&res->per_batch[t], &res->seen_users,
                                         &res->new_users, &res->repeat_pairs,
                                         &res->new_pairs};
        melon_evaluation_add(&ds->evaluator, &to);
        if (ranks_csv)
            melon_evaluation_write_ranks(&ds->evaluator, ranks_csv,
                                         ds->stream, first + t, begin);
        melon_metric_sums_merge(&res->total, &res->per_batch[t]);
        if (melon_history_append(&ds->history, ds->stream, begin, end,
                                 err) != 0) {
            fprintf(stderr, "melon run: error: %s\n", err->msg);
            MPI_Abort(ds->comm, 1);
        }
    }
    return 0;
}

/* 0 when every process's status is 0, else -1 on every process. */
static int agree(const dist_state *ds, int rc) {
    int mine = rc != 0, any = 0;
    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, ds->comm);
    return any ? -1 : 0;
}

static int replay(dist_state *ds, melon_run_result *res, melon_err *err) {
    const melon_config *cfg = ds->cfg;
    melon_stream stream;
    melon_load_options load = cfg->data.load;
    if (ds->rank != 0) load.notes = NULL;  /* rank 0 reports skipped records */
    if (check_settings(cfg, err) != 0) return -1;  /* alike everywhere */
    double t0 = melon_now();
    char buf[16384];
    const char *paths[MELON_MAX_FILES];
    int n_paths = melon_data_split_files(cfg->data.files, buf, sizeof buf,
                                         paths, err);
    int rc = n_paths < 0 ? -1
                         : melon_stream_load(&stream, paths, n_paths, &load, err);
    if (agree(ds, rc) != 0) {
        if (rc == 0) melon_stream_free(&stream);
        if (rc == 0) melon_fail(err, "another process could not load the data");
        return -1;
    }
    res->load_s = melon_now() - t0;
    ds->stream = &stream;
    melon_atomic_file ranks = {0};
    rc = setup(ds, err);
    if (rc == 0)
        rc = alloc_result(res, ds, err);
    if (rc == 0 && ds->rank == 0 && cfg->run.ranks_csv) {
        rc = melon_atomic_open(&ranks, cfg->run.ranks_csv, err);
        if (rc == 0)
            fputs("batch,user,item,rank,user_interactions_before,repeat,"
                  "negatives\n", ranks.f);
    }
    if (agree(ds, rc) != 0) {
        if (rc == 0) melon_fail(err, "another process failed to set up");
        goto done;
    }
    rc = -1;
    size_t past_end = melon_batch_begin(&ds->split, ds->split.n_past);
    if (ds->rank == 0 &&
        melon_history_append(&ds->history, &stream, 0, past_end, err) != 0)
        MPI_Abort(ds->comm, 1);
    t0 = melon_now();
    /* make_triples fails alike on every process (replicated draws) */
    if (pretrain(ds, res, err) != 0) goto done;
    res->pretrain_s = melon_now() - t0;
    if (online(ds, res, ranks.f, err) != 0) goto done;
    if (ds->rank == 0) {
        melon_run_result_summarise_times(res, err);
        melon_losses_diverged(res->pretrain_loss, res->epochs, res->train_loss,
                              res->n_test_batches, cfg->run.strategy, res->warning,
                              sizeof res->warning);
        if (ranks.f && melon_atomic_commit(&ranks, err) != 0) goto done;
    }
    rc = 0;
done:
    melon_atomic_abort(&ranks);
    dist_state_free(ds);
    ds->stream = NULL;
    melon_stream_free(&stream);
    return rc;
}

/* One line on stderr (rank 0) about what the exchanges cost. */
static void report_exchanges(const dist_state *ds, int print, double total_s) {
    double slowest = 0.0, bytes = (double)ds->bytes_sent, all_bytes = 0.0;
    MPI_Reduce(&ds->exchange_s, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, ds->comm);
    MPI_Reduce(&bytes, &all_bytes, 1, MPI_DOUBLE, MPI_SUM, 0, ds->comm);
    if (ds->rank != 0 || !print) return;
    fprintf(stderr,
            "melon run: %d process%s, %zu exchanges each; the slowest spent "
            "%.2f s in them (%.0f%% of %.2f s); %.2f MB sent per process\n",
            ds->n_ranks, ds->n_ranks == 1 ? "" : "es", ds->n_exchanges, slowest,
            total_s > 0 ? 100.0 * slowest / total_s : 0.0, total_s,
            all_bytes / ds->n_ranks / 1e6);
}

int melon_dist_run(const melon_config *cfg, melon_run_result *res,
                   int *is_root, melon_err *err) {
    double start = melon_now();
    memset(res, 0, sizeof *res);
    int provided;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    dist_state ds;
    memset(&ds, 0, sizeof ds);
    ds.comm = MPI_COMM_WORLD;
    ds.cfg = cfg;
    MPI_Comm_rank(ds.comm, &ds.rank);
    MPI_Comm_size(ds.comm, &ds.n_ranks);
    *is_root = ds.rank == 0;
    int threads = cfg->run.threads > 0 ? cfg->run.threads : omp_get_num_procs();
    omp_set_num_threads(threads);
    int rc = replay(&ds, res, err);
    /* rank 0 prints its own error; another process prints its error only
     * when rank 0 had none (most failures happen alike everywhere) */
    int root_failed = rc != 0;
    MPI_Bcast(&root_failed, 1, MPI_INT, 0, ds.comm);
    if (rc != 0 && ds.rank != 0 && !root_failed && err->msg[0])
        fprintf(stderr, "melon run: error on process %d: %s\n", ds.rank,
                err->msg);
    rc = agree(&ds, rc);
    double rss = melon_peak_rss_mb(), peak = rss;
    MPI_Reduce(&rss, &peak, 1, MPI_DOUBLE, MPI_MAX, 0, ds.comm);
    res->peak_rss_mb = peak;
    res->total_s = melon_now() - start;
    report_exchanges(&ds, rc == 0 && !cfg->run.quiet, res->total_s);
    MPI_Finalize();
    return rc;
}
