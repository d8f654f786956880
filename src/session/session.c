/* A session's life: creation from settings, the checks every call makes,
 * introspection and freeing. */
#include "session_internal.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

int session_usable(const melon_session *s, melon_err *err) {
    if (!s)
        return melon_fail(err, "no session (NULL: its creation or opening "
                               "failed)");
    if (s->failed)
        return melon_fail(err, "the session is unusable after an earlier "
                               "error (%s); load a checkpoint into it",
                          s->failure);
    return 0;
}

void session_set_failed(melon_session *s, const melon_err *why) {
    s->failed = 1;
    snprintf(s->failure, sizeof s->failure, "%s", why ? why->msg : "?");
}

static int alloc_buffers(melon_session *s, melon_err *err) {
    size_t bs = (size_t)s->cfg.run.batch_size;
    s->triples = melon_alloc(bs * sizeof *s->triples, err);
    s->batch_ranks = melon_alloc(bs * sizeof(int32_t), err);
    s->pretrain_loss = melon_calloc((size_t)s->cfg.run.epochs + 1, sizeof(double), err);
    if (!s->triples || !s->batch_ranks || !s->pretrain_loss) return -1;
    return 0;
}

void session_free_state(melon_session *s) {
    if (s->has_model) {
        melon_strategy_free(&s->strategy);
        melon_model_free(&s->model);
        melon_evaluator_free(&s->evaluator);
    }
    s->has_model = 0;
    melon_history_free(&s->history);
    melon_pair_index_free(&s->pairs);
    session_ids_free(&s->users);
    session_ids_free(&s->items);
    free(s->stream.user);
    free(s->stream.item);
    free(s->stream.time);
    free(s->event_rank);
    free(s->event_negatives);
    s->event_rank = s->event_negatives = NULL;
    memset(&s->stream, 0, sizeof s->stream);
    free(s->triples);
    free(s->batch_ranks);
    free(s->pretrain_loss);
    free(s->records);
    s->triples = NULL;
    s->batch_ranks = NULL;
    s->pretrain_loss = NULL;
    s->records = NULL;
}

int session_model_capacity(const melon_config *cfg) {
    const melon_strategy_entry *e = melon_strategy_find(cfg->run.strategy);
    return (e ? e->support_factor : 2) * cfg->run.batch_size;
}

int session_create_config(melon_session **out, const melon_config *cfg,
                          int evaluate, melon_err *err) {
    *out = NULL;
    melon_session *s = melon_calloc(1, sizeof *s, err);
    if (!s) return -1;
    if (melon_config_copy(&s->cfg, cfg, err) != 0) {
        free(s);
        return -1;
    }
    s->cfg.model.seed = cfg->run.seed; /* the model's init follows the seed */
    s->evaluate = evaluate;
    s->last_loss = NAN;
    pthread_rwlock_init(&s->lock, NULL);
    pthread_mutex_init(&s->score_lock, NULL);
    melon_rng_seed_stream(&s->train_rng, cfg->run.seed, 1);
    melon_metric_sums_clear(&s->total);
    melon_metric_sums_clear(&s->seen_users);
    melon_metric_sums_clear(&s->new_users);
    melon_metric_sums_clear(&s->repeat_pairs);
    melon_metric_sums_clear(&s->new_pairs);
    if (session_ids_init(&s->users, err) != 0 ||
        session_ids_init(&s->items, err) != 0 ||
        melon_history_init(&s->history, 0, 0, err) != 0 ||
        melon_pair_index_init(&s->pairs, 0, 0, err) != 0 ||
        alloc_buffers(s, err) != 0) {
        melon_free(s);
        return -1;
    }
    s->pairs.stream = &s->stream;
    /* A strategy that cannot run this model says so now, not at the first
     * batch: try it on a one-row model. */
    melon_model probe;
    if (melon_model_create(&probe, cfg->model.name, 1, 1, &s->cfg.model,
                           session_model_capacity(&s->cfg), err) != 0) {
        melon_free(s);
        return -1;
    }
    melon_strategy probe_strategy;
    int created = melon_config_create_strategy(&probe_strategy,
                                               cfg->run.strategy, &probe,
                                               &s->cfg, err);
    if (created == 0) melon_strategy_free(&probe_strategy);
    melon_model_free(&probe);
    if (created != 0) {
        melon_free(s);
        return created;
    }
    *out = s;
    return 0;
}

int melon_create(melon_session **out, const char *const *settings,
                 size_t n_settings, melon_err *err) {
    melon_err scratch;
    if (!err) err = &scratch;
    if (!out) return melon_fail(err, "melon_create: out is NULL");
    *out = NULL;
    melon_config cfg;
    melon_config_default(&cfg);
    int evaluate = 1;
    if (n_settings && !settings)
        return melon_fail(err, "melon_create: %zu settings but no array",
                          n_settings);
    for (size_t k = 0; k < n_settings; k++)
        if (session_apply_setting(&cfg, &evaluate, settings[k], err) != 0) {
            melon_config_free(&cfg);
            return -1;
        }
    int rc = cfg.optim.dense && cfg.optim.kind != MELON_OPT_ADAM
                 ? melon_fail(err, "setting dense-adam=1 needs optimizer=adam")
                 : session_create_config(out, &cfg, evaluate, err);
    melon_config_free(&cfg);
    return rc;
}

void melon_free(melon_session *s) {
    if (!s) return;
    session_free_state(s);
    melon_config_free(&s->cfg);
    pthread_rwlock_destroy(&s->lock);
    pthread_mutex_destroy(&s->score_lock);
    free(s);
}

int melon_get_setting(const melon_session *s, const char *name, char *value,
                      size_t value_size, melon_err *err) {
    melon_err scratch;
    if (!err) err = &scratch;
    if (!s) return session_usable(s, err);
    if (!value || value_size == 0)
        return melon_fail(err, "melon_get_setting: no room for the value");
    return session_format_setting(&s->cfg, s->evaluate, name, value,
                                  value_size, err);
}

int melon_get_stats(const melon_session *s, melon_stats *out, melon_err *err) {
    melon_err scratch;
    if (!err) err = &scratch;
    if (!s) return session_usable(s, err);
    if (!out) return melon_fail(err, "melon_get_stats: out is NULL");
    melon_session *w = (melon_session *)s; /* the lock only */
    pthread_rwlock_rdlock(&w->lock);
    memset(out, 0, sizeof *out);
    out->users = (int64_t)s->users.table.count;
    out->items = (int64_t)s->items.table.count;
    out->pretrain_events = (int64_t)s->past_end;
    size_t observed_end = s->preloaded_end ? s->done : s->stream.n;
    out->observed = (int64_t)(observed_end - s->past_end);
    out->pending = (int64_t)(observed_end - s->done);
    out->batches = (int64_t)s->n_records;
    out->evaluated = (int64_t)s->total.count;
    out->hr10 = s->total.count ? melon_metric_hr(&s->total, 1) : NAN;
    out->ndcg10 = s->total.count ? melon_metric_ndcg(&s->total, 1) : NAN;
    out->last_loss = s->last_loss;
    out->pretrained = s->pretrained;
    out->model_is_popularity = strcmp(s->cfg.model.name, "pop") == 0;
    pthread_rwlock_unlock(&w->lock);
    return 0;
}

void melon_on_rank(melon_session *s, melon_rank_fn fn, void *ctx) {
    if (!s) return;
    pthread_rwlock_wrlock(&s->lock);
    s->on_rank = fn;
    s->on_rank_ctx = ctx;
    pthread_rwlock_unlock(&s->lock);
}

void session_swap_state(melon_session *dst, melon_session *src) {
    /* Everything but the locks (each stays where it was initialised) and
     * dst's rank callback moves. */
    melon_session old_dst = *dst;
    pthread_rwlock_t src_lock = src->lock;
    pthread_mutex_t src_score_lock = src->score_lock;
    *dst = *src;
    dst->lock = old_dst.lock;
    dst->score_lock = old_dst.score_lock;
    dst->on_rank = old_dst.on_rank;
    dst->on_rank_ctx = old_dst.on_rank_ctx;
    dst->pairs.stream = &dst->stream;
    *src = old_dst;
    src->lock = src_lock;
    src->score_lock = src_score_lock;
    src->pairs.stream = &src->stream;
}
