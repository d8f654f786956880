/* User and item ids of a session: checked, interned in order of first
 * appearance, their texts kept at stable addresses; and the growth of every
 * part that has a row per user or item. */
#include "session_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int session_ids_init(session_ids *ids, melon_err *err) {
    memset(ids, 0, sizeof *ids);
    return melon_id_table_init(&ids->table, err);
}

void session_ids_free(session_ids *ids) {
    for (size_t k = 0; k < ids->table.count; k++) free(ids->name[k]);
    free(ids->name);
    melon_id_table_free(&ids->table);
    memset(ids, 0, sizeof *ids);
}

int session_check_id(const char *text, size_t len, const char *what,
                     size_t index, melon_err *err) {
    if (!text)
        return melon_fail(err, "%s id of event %zu is NULL", what, index);
    if (len == 0)
        return melon_fail(err, "%s id of event %zu is empty", what, index);
    if (len > MELON_ID_MAX)
        return melon_fail(err, "%s id of event %zu is %zu bytes long (at most "
                               "%d): '%.40s...'",
                          what, index, len, MELON_ID_MAX, text);
    if (memchr(text, 0, len))
        return melon_fail(err, "%s id of event %zu holds a NUL byte at "
                               "offset %zu",
                          what, index, (size_t)((const char *)memchr(text, 0, len) - text));
    return 0;
}

int session_intern(session_ids *ids, const char *text, size_t len,
                   int32_t *id, melon_err *err) {
    int32_t known = session_find(ids, text, len);
    if (known >= 0) {
        *id = known;
        return 0;
    }
    return session_intern_new(ids, text, len, id, err);
}

int session_intern_new(session_ids *ids, const char *text, size_t len,
                       int32_t *id, melon_err *err) {
    size_t before = ids->table.count;
    uint32_t got;
    if (before == ids->room) {
        size_t room = ids->room ? 2 * ids->room : 1024;
        char **name = realloc(ids->name, room * sizeof *name);
        if (!name) return melon_fail(err, "out of memory for %zu ids", room);
        ids->name = name;
        ids->room = room;
    }
    char *copy = malloc(len + 1);
    if (!copy) return melon_fail(err, "out of memory for an id");
    if (melon_id_table_intern(&ids->table, text, len, &got, err) != 0) {
        free(copy);
        return -1;
    }
    if (ids->table.count > before) {
        memcpy(copy, text, len);
        copy[len] = 0;
        ids->name[got] = copy;
    } else {
        free(copy);
    }
    *id = (int32_t)got;
    return 0;
}

void session_ids_truncate(session_ids *ids, size_t count) {
    for (size_t k = count; k < ids->table.count; k++) free(ids->name[k]);
    melon_id_table_truncate(&ids->table, count);
}

int32_t session_find(const session_ids *ids, const char *text, size_t len) {
    if (!text || len == 0 || len > MELON_ID_MAX) return -1;
    return (int32_t)melon_id_table_find(&ids->table, text, len);
}

size_t session_id_text(int64_t id, char *buf) {
    /* digits from the last (what sprintf's %lld writes, without its cost
     * on every event) */
    char digits[20];
    uint64_t v = id < 0 ? 0 - (uint64_t)id : (uint64_t)id;
    size_t n = 0, len = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (id < 0) buf[len++] = '-';
    while (n) buf[len++] = digits[--n];
    buf[len] = 0;
    return len;
}

/* The model, the strategy and the learner's structures, once a user and an
 * item exist. Sizes are those known now; everything grows after. */
static int create_learner(melon_session *s, melon_err *err) {
    int32_t n_users = (int32_t)s->users.table.count;
    int32_t n_items = (int32_t)s->items.table.count;
    const melon_config *cfg = &s->cfg;
    /* restoring: one drawn row, the rest left to the checkpoint's values */
    int32_t drawn_users = s->restoring ? 1 : n_users;
    int32_t drawn_items = s->restoring ? 1 : n_items;
    if (melon_model_create(&s->model, cfg->model.name, drawn_users, drawn_items,
                           &cfg->model, session_model_capacity(cfg), err) != 0)
        return -1;
    if (s->restoring &&
        melon_model_grow_undrawn(&s->model, n_users, n_items, err) != 0) {
        melon_model_free(&s->model);
        return -1;
    }
    int created = melon_config_create_strategy(&s->strategy, cfg->run.strategy,
                                               &s->model, cfg, err);
    if (created != 0) {
        melon_model_free(&s->model);
        return created;
    }
    /* sampled negatives need more items than a live session may know yet;
     * the evaluator's item count matters only when ranking against all (a
     * run, strict, refuses too few items at once) */
    int32_t eval_items = n_items;
    if (!s->strict_eval && cfg->run.negatives != MELON_NEGATIVES_ALL &&
        eval_items <= cfg->run.negatives)
        eval_items = cfg->run.negatives + 1;
    if (melon_evaluator_init(&s->evaluator, cfg->run.negatives,
                             (size_t)cfg->run.batch_size, n_users, eval_items,
                             err) != 0) {
        melon_strategy_free(&s->strategy);
        melon_model_free(&s->model);
        return -1;
    }
    s->has_model = 1;
    return 0;
}

/* The learner: created at the first user and item, grown after. */
static int grow_learner(melon_session *s, int32_t n_users, int32_t n_items,
                        melon_err *err) {
    if (!s->has_model)
        return n_users < 1 || n_items < 1 ? 0 : create_learner(s, err);
    if (n_users == s->model.n_users && n_items == s->model.n_items) return 0;
    if (!s->strategy.ops->grow)
        return melon_fail(err, "strategy '%s' cannot take users or items "
                               "first seen after it started (%d users, %d "
                               "items at the start; now %d and %d)",
                          s->cfg.run.strategy, (int)s->model.n_users,
                          (int)s->model.n_items, (int)n_users, (int)n_items);
    if (melon_model_grow(&s->model, n_users, n_items, err) != 0)
        return -1; /* the model is as it was */
    if (s->strategy.ops->grow(&s->strategy, &s->model, err) != 0 ||
        melon_evaluator_grow(&s->evaluator, n_users, n_items, err) != 0) {
        melon_err why = *err;
        session_set_failed(s, &why);
        return -1;
    }
    return 0;
}

int session_grow(melon_session *s, melon_err *err) {
    int32_t n_users = (int32_t)s->users.table.count;
    int32_t n_items = (int32_t)s->items.table.count;
    int32_t history_users = s->history.n_users, history_items = s->history.n_items;
    int32_t pair_users = s->pairs.n_users, pair_items = s->pairs.n_items;
    s->stream.user_name = s->users.name; /* where the texts are now */
    s->stream.item_name = s->items.name;
    if (melon_history_grow(&s->history, n_users, n_items, err) != 0 ||
        melon_pair_index_grow(&s->pairs, n_users, n_items, err) != 0 ||
        grow_learner(s, n_users, n_items, err) != 0) {
        /* the rows they added are empty: counting them out forgets them */
        s->history.n_users = history_users;
        s->history.n_items = history_items;
        s->pairs.n_users = pair_users;
        s->pairs.n_items = pair_items;
        return -1;
    }
    s->stream.n_users = n_users;
    s->stream.n_items = n_items;
    return 0;
}

int session_reserve_events(melon_session *s, size_t n, melon_err *err) {
    melon_stream *st = &s->stream;
    if (st->n + n >= UINT32_MAX)
        return melon_fail(err, "session: more than %u events", UINT32_MAX - 1);
    if (st->n + n > s->stream_room) {
        size_t room = s->stream_room ? s->stream_room : 4096;
        while (room < st->n + n) room *= 2;
        int32_t *u = realloc(st->user, room * sizeof *u);
        if (u) st->user = u;
        int32_t *i = realloc(st->item, room * sizeof *i);
        if (i) st->item = i;
        double *t = realloc(st->time, room * sizeof *t);
        if (t) st->time = t;
        int32_t *r = realloc(s->event_rank, room * sizeof *r);
        if (r) s->event_rank = r;
        int32_t *neg = realloc(s->event_negatives, room * sizeof *neg);
        if (neg) s->event_negatives = neg;
        if (!u || !i || !t || !r || !neg)
            return melon_fail(err, "session: out of memory for %zu events", room);
        s->stream_room = room;
    }
    return 0;
}

int session_append_events(melon_session *s, const int32_t *users,
                          const int32_t *items, const double *times, size_t n,
                          melon_err *err) {
    melon_stream *st = &s->stream;
    if (n == 0) return 0; /* nothing to copy (the arrays may not exist yet) */
    if (session_reserve_events(s, n, err) != 0) return -1;
    memcpy(st->user + st->n, users, n * sizeof *users);
    memcpy(st->item + st->n, items, n * sizeof *items);
    for (size_t k = 0; k < n; k++) st->time[st->n + k] = times ? times[k] : 0.0;
    memset(s->event_rank + st->n, 0, n * sizeof *s->event_rank);
    memset(s->event_negatives + st->n, 0, n * sizeof *s->event_negatives);
    st->n += n;
    return 0;
}
