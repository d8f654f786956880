/* The protocol's steps on a session (protocol.md sections 2 to 5):
 * pre-training on the past, and for each online batch the meta step,
 * evaluation before the update, the update, and the history. */
#include "session_internal.h"

#include "core/blas_kernels.h"
#include "core/float_mode.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* The session's threads, and OpenBLAS's kernels for the CPU
 * (blas_kernels.h). */
static void set_threads(int threads) {
    if (threads <= 0) threads = omp_get_num_procs();
    melon_blas_choose_kernels();
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
}

static size_t batch_begin(size_t first, size_t batch_size, size_t b) {
    return first + b * batch_size;
}

/* The batch's positives, each with one causal training negative
 * (protocol.md section 3): an item the user has not interacted with up to
 * and including this batch. */
static int make_triples(melon_session *s, size_t begin, size_t end,
                        melon_err *err) {
    const melon_stream *st = &s->stream;
    for (size_t p = begin; p < end; p++) {
        int32_t neg = melon_sample_train_negative(&s->pairs, &s->train_rng,
                                                  st->user[p], end);
        if (neg < 0)
            return melon_fail(err, "user '%s' has interacted with every item, "
                                   "so no training negative exists",
                              st->user_name[st->user[p]]);
        s->triples[p - begin] = (melon_triple){st->user[p], st->item[p], neg};
    }
    return 0;
}

static void context_for(melon_session *s, melon_context *ctx,
                        melon_phase phase, size_t batch, size_t begin,
                        size_t end) {
    ctx->model = &s->model;
    ctx->stream = &s->stream;
    ctx->history = &s->history;
    ctx->pairs = &s->pairs;
    ctx->rng = &s->train_rng;
    ctx->phase = phase;
    ctx->batch = batch;
    ctx->begin = begin;
    ctx->end = end;
}

/* Adds positions [begin, end) to the pair index (a no-op for pairs the
 * index already holds, as in run mode). */
static int index_pairs(melon_session *s, size_t begin, size_t end,
                       melon_err *err) {
    for (size_t p = begin; p < end; p++)
        if (melon_pair_index_add(&s->pairs, s->stream.user[p],
                                 s->stream.item[p], (uint32_t)p, err) != 0)
            return -1;
    return 0;
}

int session_pretrain_until(melon_session *s, size_t end, melon_err *err) {
    size_t bs = (size_t)s->cfg.run.batch_size;
    size_t n_past = (end + bs - 1) / bs;
    set_threads(s->cfg.run.threads);
    if (session_grow(s, err) != 0) return -1;
    if (end > 0 && !s->has_model)
        return melon_fail(err, "pre-training needs at least one user and one "
                               "item");
    if (index_pairs(s, 0, end, err) != 0 ||
        melon_history_append(&s->history, &s->stream, 0, end, err) != 0)
        return -1;
    int32_t *order = melon_alloc((n_past ? n_past : 1) * sizeof *order, err);
    if (!order) return -1;
    for (size_t b = 0; b < n_past; b++) order[b] = (int32_t)b;
    melon_rng order_rng;
    melon_rng_seed_stream(&order_rng, s->cfg.run.seed, 2);
    for (int epoch = 0; epoch < s->cfg.run.epochs && n_past > 0; epoch++) {
        melon_rng_shuffle_i32(&order_rng, order, n_past);
        double loss_sum = 0.0;
        for (size_t k = 0; k < n_past; k++) {
            size_t b = (size_t)order[k];
            size_t begin = batch_begin(0, bs, b);
            size_t stop = begin + bs < end ? begin + bs : end;
            melon_context ctx;
            context_for(s, &ctx, MELON_PHASE_PRETRAIN, b, begin, stop);
            int n = (int)(stop - begin);
            melon_strategy *st = &s->strategy;
            if (make_triples(s, begin, stop, err) != 0 ||
                (st->ops->meta_step &&
                 st->ops->meta_step(st, &ctx, s->triples, n, err) != 0) ||
                st->ops->update(st, &ctx, s->triples, n, err) != 0) {
                free(order);
                return -1;
            }
            loss_sum += st->batch_loss;
            if (s->progress) s->progress(s->progress_ctx, epoch, k + 1, n_past);
        }
        s->pretrain_loss[epoch] = loss_sum / (double)n_past;
    }
    free(order);
    if (s->has_model && s->model.ops->observe)
        s->model.ops->observe(&s->model, &s->stream, 0, end);
    s->past_end = s->done = end;
    s->past_batches = n_past;
    s->pretrained = 1;
    return 0;
}

/* Ranks each event of the batch with the model before the update
 * (protocol.md section 4, src/eval/evaluate.c) into the evaluator; 1 when
 * it ranked, 0 when not. A live session ranks a batch only when every user
 * in it has enough items left to draw negatives from (else the batch's
 * ranks are MELON_RANK_NONE); a run (strict_eval) fails then, as the
 * protocol says. It only reads what readers read, so it runs without the
 * session's lock (but with the scoring lock readers of models whose score
 * is not reentrant take). */
static int evaluate_batch(melon_session *s, size_t batch, size_t begin,
                          size_t end, melon_err *err) {
    const melon_stream *st = &s->stream;
    if (!s->evaluate) return 0;
    melon_evaluator *ev = &s->evaluator;
    /* a live session cannot know what its users do later */
    ev->before = !s->preloaded_end || s->cfg.run.eval_negatives == MELON_EVAL_BEFORE;
    int negatives = s->cfg.run.negatives;
    if (negatives != MELON_NEGATIVES_ALL && !s->strict_eval)
        for (size_t r = begin; r < end; r++) {
            int32_t user = st->user[r];
            int32_t had = melon_pair_count_before(&s->pairs, user,
                                                  ev->before ? end : SIZE_MAX);
            if ((int64_t)s->pairs.n_items - had < negatives) return 0;
        }
    pthread_mutex_lock(&s->score_lock);
    int rc = melon_evaluate_batch(ev, &s->model, st, &s->pairs, &s->history,
                                  s->cfg.run.seed, batch, begin, end, err);
    pthread_mutex_unlock(&s->score_lock);
    return rc == 0 ? 1 : -1;
}

/* Adds the evaluator's ranks to the session's sums (ranked: what
 * evaluate_batch returned). */
static void record_evaluation(melon_session *s, int ranked, size_t begin,
                              size_t end, melon_metric_sums *sums) {
    size_t n = end - begin;
    melon_metric_sums_clear(sums);
    for (size_t r = 0; r < n; r++) s->batch_ranks[r] = MELON_RANK_NONE;
    if (!ranked) return;
    melon_evaluator *ev = &s->evaluator;
    const melon_metric_targets to = {sums, &s->seen_users, &s->new_users,
                                     &s->repeat_pairs, &s->new_pairs};
    melon_evaluation_add(ev, &to);
    for (size_t r = 0; r < n; r++) {
        s->batch_ranks[r] = ev->rank[r];
        s->event_negatives[begin + r] = ev->n_negatives[r];
    }
}

static int push_record(melon_session *s, const session_batch_record *rec,
                       melon_err *err) {
    if (s->n_records == s->records_room) {
        size_t room = s->records_room ? 2 * s->records_room : 64;
        session_batch_record *r = realloc(s->records, room * sizeof *r);
        if (!r) return melon_fail(err, "session: out of memory for batch records");
        s->records = r;
        s->records_room = room;
    }
    s->records[s->n_records++] = *rec;
    return 0;
}

int session_run_batch(melon_session *s, size_t end, int32_t *ranks,
                      melon_err *err) {
    size_t begin = s->done;
    int n = (int)(end - begin);
    if (n <= 0) return 0;
    /* Readers (recommend, history, stats, save) share the lock. The writer
     * holds it exclusively while the pair index grows, and then from the
     * meta step to the end of the batch; the evaluation in between only
     * reads, and changes nothing a checkpoint holds, so readers go on
     * meanwhile. The meta step changes no score (it learns how to update;
     * SML puts back the rows it tries), so ranking before it ranks with
     * the model the protocol names: the one before the update. */
    pthread_rwlock_wrlock(&s->lock);
    int rc = session_grow(s, err);
    if (rc == 0) rc = index_pairs(s, begin, end, err);
    pthread_rwlock_unlock(&s->lock);
    if (rc != 0) return -1;
    size_t batch = s->past_batches + s->n_records;
    /* 1. evaluate before the update */
    double t_eval = melon_now();
    int ranked = evaluate_batch(s, batch, begin, end, err);
    if (ranked < 0) return -1;
    t_eval = melon_now() - t_eval;
    pthread_rwlock_wrlock(&s->lock);
    melon_rng rng_before = s->train_rng;
    if (make_triples(s, begin, end, err) != 0) {
        s->train_rng = rng_before;
        pthread_rwlock_unlock(&s->lock);
        return -1;
    }
    melon_context ctx;
    context_for(s, &ctx, MELON_PHASE_ONLINE, batch, begin, end);
    melon_strategy *st = &s->strategy;
    session_batch_record rec;
    /* 2. meta step */
    double t0 = melon_now();
    rc = st->ops->meta_step ? st->ops->meta_step(st, &ctx, s->triples, n, err) : 0;
    double meta_s = melon_now() - t0;
    /* 3. update */
    double t1 = melon_now();
    if (rc == 0) rc = st->ops->update(st, &ctx, s->triples, n, err);
    rec.seconds = meta_s + (melon_now() - t1);
    rec.loss = st->batch_loss;
    /* 4. the ranks, and the events join the history */
    if (rc == 0) {
        record_evaluation(s, ranked, begin, end, &rec.sums);
        if (ranked) s->evaluate_seconds += t_eval;
        rc = melon_history_append(&s->history, &s->stream, begin, end, err);
    }
    if (rc == 0 && s->model.ops->observe)
        s->model.ops->observe(&s->model, &s->stream, begin, end);
    if (rc == 0) rc = push_record(s, &rec, err);
    if (rc == 0) {
        melon_metric_sums_merge(&s->total, &rec.sums);
        s->last_loss = rec.loss;
        s->done = end;
        memcpy(s->event_rank + begin, s->batch_ranks, (size_t)n * sizeof(int32_t));
    }
    pthread_rwlock_unlock(&s->lock);
    if (rc != 0) return -1;
    if (ranks) memcpy(ranks, s->batch_ranks, (size_t)n * sizeof *ranks);
    if (s->on_rank)
        for (int r = 0; r < n; r++)
            s->on_rank(s->on_rank_ctx, (uint64_t)(begin + (size_t)r - s->past_end),
                       s->batch_ranks[r]);
    return 0;
}

/* The writer trains and ranks as `melon run` does: with subnormal floats
 * flushed to zero in every thread that computes, unless the setting
 * ieee-subnormals is on (float_mode.h); the caller gets its mode back. */
static void compute_enter(const melon_session *s, melon_float_mode *mode) {
    int threads = s->cfg.run.threads > 0 ? s->cfg.run.threads : omp_get_num_procs();
    if (!s->cfg.run.ieee_subnormals) melon_float_mode_enter(mode, threads);
}

static void compute_leave(const melon_session *s, const melon_float_mode *mode) {
    if (!s->cfg.run.ieee_subnormals) melon_float_mode_leave(mode);
}

/* Marks the session failed after a writer's error (takes the lock). */
static void fail_writer(melon_session *s, const melon_err *why) {
    melon_err copy = *why;
    pthread_rwlock_wrlock(&s->lock);
    session_set_failed(s, &copy);
    pthread_rwlock_unlock(&s->lock);
}

/* Runs every full batch among the pending events; ranks[k] receives the
 * rank of event `first + k` (first: the call's first position). */
static int run_full_batches(melon_session *s, size_t first, size_t n_call,
                            int32_t *ranks, melon_err *err) {
    size_t bs = (size_t)s->cfg.run.batch_size;
    if (s->stream.n - s->done < bs) return 0;
    melon_float_mode mode;
    compute_enter(s, &mode);
    int rc = 0;
    while (rc == 0 && s->stream.n - s->done >= bs) {
        size_t begin = s->done, end = begin + bs;
        if (session_run_batch(s, end, NULL, err) != 0) {
            fail_writer(s, err);
            rc = -1;
            break;
        }
        if (ranks)
            for (size_t p = begin; p < end; p++)
                if (p >= first && p < first + n_call)
                    ranks[p - first] = s->batch_ranks[p - begin];
    }
    compute_leave(s, &mode);
    return rc;
}

static int finite_times(const double *times, size_t n, melon_err *err) {
    for (size_t k = 0; times && k < n; k++)
        if (!isfinite(times[k]))
            return melon_fail(err, "time of event %zu is %g: expected a finite "
                                   "number of seconds", k, times[k]);
    return 0;
}

/* One call's events as texts (int64 ids are passed as their decimal text):
 * checked first, then all interned, the session grown once and the events
 * appended; when any step fails the call's new ids are forgotten and the
 * session is as it was (unless its strategy could not follow a grown
 * model: session_grow fails the session then). */
typedef struct {
    const char *const *users;
    const size_t *user_lens;
    const int64_t *user_ids;
    const char *const *items;
    const size_t *item_lens;
    const int64_t *item_ids;
} event_ids;

static const char *event_text(const char *const *texts, const size_t *lens,
                              const int64_t *ids, size_t k, char *buf,
                              size_t *len) {
    if (ids) {
        *len = session_id_text(ids[k], buf);
        return buf;
    }
    const char *t = texts[k];
    *len = lens ? lens[k] : (t ? strlen(t) : 0);
    return t;
}

static int take_events(melon_session *s, const event_ids *ev,
                       const double *times, size_t n, melon_err *err) {
    if (n > 0 && ((!ev->users && !ev->user_ids) || (!ev->items && !ev->item_ids)))
        return melon_fail(err, "%zu events but no user or item array", n);
    if (finite_times(times, n, err) != 0) return -1;
    char buf[32];
    for (size_t k = 0; k < n; k++) {
        size_t len;
        const char *t = event_text(ev->users, ev->user_lens, ev->user_ids, k, buf, &len);
        if (session_check_id(t, len, "user", k, err) != 0) return -1;
        t = event_text(ev->items, ev->item_lens, ev->item_ids, k, buf, &len);
        if (session_check_id(t, len, "item", k, err) != 0) return -1;
    }
    /* every id first, then the tables grow once: the model is created
     * with all the users and items of the call (a strategy that cannot
     * grow takes the pre-training events whatever their order) */
    if (n == 0) return 0;
    size_t users_before = s->users.table.count;
    size_t items_before = s->items.table.count;
    int32_t *users = melon_alloc(n * sizeof *users, err);
    int32_t *items = melon_alloc(n * sizeof *items, err);
    int rc = users && items ? session_reserve_events(s, n, err) : -1;
    for (size_t k = 0; k < n && rc == 0; k++) {
        size_t len;
        const char *t = event_text(ev->users, ev->user_lens, ev->user_ids, k,
                                   buf, &len);
        rc = session_intern(&s->users, t, len, &users[k], err);
        if (rc != 0) break;
        t = event_text(ev->items, ev->item_lens, ev->item_ids, k, buf, &len);
        rc = session_intern(&s->items, t, len, &items[k], err);
    }
    if (rc == 0) rc = session_grow(s, err);
    if (rc == 0) {
        rc = session_append_events(s, users, items, times, n, err);
    } else {
        session_ids_truncate(&s->users, users_before);
        session_ids_truncate(&s->items, items_before);
    }
    free(users);
    free(items);
    return rc;
}

/* Checks a writer call and takes the lock exclusively (the batches the
 * call runs take it themselves, in pieces: session_run_batch). */
static int writer_enter(melon_session *s, melon_err *err) {
    if (session_usable(s, err) != 0) return -1;
    if (s->preloaded_end)
        return melon_fail(err, "this session replays a whole stream (melon "
                               "run); it takes no events");
    pthread_rwlock_wrlock(&s->lock);
    set_threads(s->cfg.run.threads);
    return 0;
}

static int observe(melon_session *s, const event_ids *ev, const double *times,
                   size_t n, int32_t *ranks, melon_err *err) {
    melon_err scratch;
    if (!err) err = &scratch;
    if (writer_enter(s, err) != 0) return -1;
    for (size_t k = 0; ranks && k < n; k++) ranks[k] = MELON_RANK_PENDING;
    size_t first = s->stream.n;
    int rc = take_events(s, ev, times, n, err);
    pthread_rwlock_unlock(&s->lock);
    if (rc == 0) rc = run_full_batches(s, first, n, ranks, err);
    return rc;
}

int melon_observe(melon_session *s, const char *user, const char *item,
                  double time, int32_t *rank, melon_err *err) {
    event_ids ev = {&user, NULL, NULL, &item, NULL, NULL};
    return observe(s, &ev, &time, 1, rank, err);
}

int melon_observe_ids(melon_session *s, const int64_t *users,
                      const int64_t *items, const double *times, size_t n,
                      int32_t *ranks, melon_err *err) {
    event_ids ev = {NULL, NULL, users, NULL, NULL, items};
    return observe(s, &ev, times, n, ranks, err);
}

int melon_observe_names(melon_session *s, const char *const *users,
                        const size_t *user_lens, const char *const *items,
                        const size_t *item_lens, const double *times,
                        size_t n, int32_t *ranks, melon_err *err) {
    event_ids ev = {users, user_lens, NULL, items, item_lens, NULL};
    return observe(s, &ev, times, n, ranks, err);
}

int melon_flush(melon_session *s, int32_t *ranks, melon_err *err) {
    melon_err scratch;
    if (!err) err = &scratch;
    if (writer_enter(s, err) != 0) return -1;
    pthread_rwlock_unlock(&s->lock);
    int rc = 0;
    if (s->stream.n > s->done) {
        melon_float_mode mode;
        compute_enter(s, &mode);
        rc = session_run_batch(s, s->stream.n, ranks, err);
        compute_leave(s, &mode);
        if (rc != 0) fail_writer(s, err);
    }
    return rc;
}

static int pretrain(melon_session *s, const event_ids *ev, const double *times,
                    size_t n, melon_err *err) {
    melon_err scratch;
    if (!err) err = &scratch;
    if (writer_enter(s, err) != 0) return -1;
    int rc = -1;
    if (s->pretrained || s->stream.n > 0) {
        melon_fail(err, "pre-training comes once, before the first observed "
                        "event");
    } else if (take_events(s, ev, times, n, err) == 0) {
        melon_float_mode mode;
        compute_enter(s, &mode);
        rc = session_pretrain_until(s, s->stream.n, err);
        compute_leave(s, &mode);
        if (rc != 0) {
            melon_err why = *err;
            session_set_failed(s, &why);
        }
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int melon_pretrain_ids(melon_session *s, const int64_t *users,
                       const int64_t *items, const double *times, size_t n,
                       melon_err *err) {
    event_ids ev = {NULL, NULL, users, NULL, NULL, items};
    return pretrain(s, &ev, times, n, err);
}

int melon_pretrain_names(melon_session *s, const char *const *users,
                         const size_t *user_lens, const char *const *items,
                         const size_t *item_lens, const double *times,
                         size_t n, melon_err *err) {
    event_ids ev = {users, user_lens, NULL, items, item_lens, NULL};
    return pretrain(s, &ev, times, n, err);
}

int melon_pretrain_file(melon_session *s, const char *path, melon_err *err) {
    melon_err scratch;
    if (!err) err = &scratch;
    if (session_usable(s, err) != 0) return -1;
    if (!path) return melon_fail(err, "melon_pretrain_file: path is NULL");
    melon_load_options opt;
    melon_load_options_default(&opt);
    opt.notes = NULL;
    melon_stream file;
    if (melon_stream_load(&file, &path, 1, &opt, err) != 0) return -1;
    const char **users = melon_alloc((file.n ? file.n : 1) * sizeof *users, err);
    const char **items = melon_alloc((file.n ? file.n : 1) * sizeof *items, err);
    int rc = -1;
    if (users && items) {
        for (size_t p = 0; p < file.n; p++) {
            users[p] = file.user_name[file.user[p]];
            items[p] = file.item_name[file.item[p]];
        }
        rc = melon_pretrain_names(s, users, NULL, items, NULL, file.time,
                                  file.n, err);
    }
    free(users);
    free(items);
    melon_stream_free(&file);
    return rc;
}

int melon_declare_items(melon_session *s, const char *const *names,
                        const size_t *lens, size_t n, melon_err *err) {
    melon_err scratch;
    if (!err) err = &scratch;
    if (writer_enter(s, err) != 0) return -1;
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        const char *t = names ? names[k] : NULL;
        size_t len = lens ? lens[k] : (t ? strlen(t) : 0);
        rc = session_check_id(t, len, "declared item", k, err);
    }
    int32_t id;
    size_t before = s->items.table.count;
    for (size_t k = 0; k < n && rc == 0; k++)
        rc = session_intern(&s->items, names[k],
                            lens ? lens[k] : strlen(names[k]), &id, err);
    if (rc == 0) rc = session_grow(s, err);
    if (rc != 0) session_ids_truncate(&s->items, before);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int melon_declare_item_ids(melon_session *s, const int64_t *ids, size_t n,
                           melon_err *err) {
    melon_err scratch;
    if (!err) err = &scratch;
    if (writer_enter(s, err) != 0) return -1;
    int rc = (n && !ids) ? melon_fail(err, "%zu ids but no array", n) : 0;
    char buf[32];
    int32_t id;
    size_t before = s->items.table.count;
    for (size_t k = 0; k < n && rc == 0; k++) {
        size_t len = session_id_text(ids[k], buf);
        rc = session_intern(&s->items, buf, len, &id, err);
    }
    if (rc == 0) rc = session_grow(s, err);
    if (rc != 0) session_ids_truncate(&s->items, before);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int session_preload(melon_session *s, const melon_stream *stream,
                    melon_err *err) {
    int32_t id;
    s->strict_eval = 1;
    for (int32_t u = 0; u < stream->n_users; u++)
        if (session_intern(&s->users, stream->user_name[u],
                           strlen(stream->user_name[u]), &id, err) != 0)
            return -1;
    for (int32_t i = 0; i < stream->n_items; i++)
        if (session_intern(&s->items, stream->item_name[i],
                           strlen(stream->item_name[i]), &id, err) != 0)
            return -1;
    if (session_grow(s, err) != 0 ||
        session_append_events(s, stream->user, stream->item, stream->time,
                              stream->n, err) != 0 ||
        index_pairs(s, 0, stream->n, err) != 0)
        return -1;
    s->preloaded_end = stream->n;
    return 0;
}
