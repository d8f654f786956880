/* Durable ingest (serve.h): request threads queue records, one committer
 * writes each group with one sync and then acknowledges it. */
#include "serve.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void serve_commit_free(serve_commit *c) {
    if (!c) return;
    free(c->record);
    free(c->ids);
    free(c->id_lens);
    free(c);
}

/* The events of list that bring a new id or none; marks the new ids
 * PENDING. Caller holds ingest_lock. */
static int keep_new_events(serve_server *srv, const serve_event_list *list,
                           serve_event *kept, size_t *n_kept,
                           serve_commit *c, melon_err *err) {
    *n_kept = 0;
    for (size_t k = 0; k < list->n; k++) {
        const serve_event *ev = &list->events[k];
        if (ev->id_len > 0) {
            if (serve_id_set_get(&srv->ids, ev->id, ev->id_len) != SERVE_ID_ABSENT)
                continue; /* taken before, or earlier in this request */
            if (serve_id_set_put(&srv->ids, ev->id, ev->id_len,
                                 SERVE_ID_PENDING, err) != 0)
                return -1;
            c->ids[c->n_ids] = ev->id;
            c->id_lens[c->n_ids++] = ev->id_len;
        }
        kept[(*n_kept)++] = *ev;
    }
    return 0;
}

static void drop_pending_ids(serve_server *srv, serve_commit *c) {
    for (size_t k = 0; k < c->n_ids; k++)
        serve_id_set_remove(&srv->ids, c->ids[k], c->id_lens[k]);
    c->n_ids = 0;
}

serve_commit *serve_ingest_submit(serve_server *srv,
                                  const serve_event_list *list,
                                  void *connection, int *status, char *why,
                                  size_t why_cap) {
    melon_err err;
    serve_commit *c = calloc(1, sizeof *c);
    serve_event *kept = malloc((list->n ? list->n : 1) * sizeof *kept);
    if (c) {
        c->ids = malloc((list->n ? list->n : 1) * sizeof *c->ids);
        c->id_lens = malloc((list->n ? list->n : 1) * sizeof *c->id_lens);
    }
    if (!c || !kept || !c->ids || !c->id_lens) {
        free(kept);
        serve_commit_free(c);
        *status = 503;
        snprintf(why, why_cap, "out of memory");
        return NULL;
    }
    c->connection = connection;
    pthread_mutex_lock(&srv->ingest_lock);
    *status = 0;
    if (srv->stopping) {
        *status = 503;
        snprintf(why, why_cap, "the server is shutting down");
    } else if (srv->log.broken) {
        *status = 503;
        snprintf(why, why_cap, "the event log cannot be written: %s",
                 srv->log.broken_why);
    } else if (srv->durable_events - atomic_load(&srv->applied_events) >
               srv->opt.max_backlog) {
        *status = 503;
        snprintf(why, why_cap, "%llu acknowledged events are waiting to be "
                 "applied (more than --max-backlog %zu): retry later",
                 (unsigned long long)(srv->durable_events -
                                      atomic_load(&srv->applied_events)),
                 srv->opt.max_backlog);
    }
    size_t n_kept = 0;
    if (*status == 0 &&
        keep_new_events(srv, list, kept, &n_kept, c, &err) != 0) {
        drop_pending_ids(srv, c);
        *status = 503;
        snprintf(why, why_cap, "%s", err.msg);
    }
    if (*status == 0 && n_kept > 0) {
        c->bytes = serve_events_record_size(kept, n_kept);
        c->record = malloc(c->bytes);
        if (!c->record) {
            drop_pending_ids(srv, c);
            *status = 503;
            snprintf(why, why_cap, "out of memory");
        } else {
            serve_events_record_write(c->record, kept, n_kept);
            c->n_events = (uint32_t)n_kept;
            /* the request's strings go when it returns: the ids to mark
             * DURABLE later are read from the record's own bytes */
            serve_event_iter it;
            serve_event ev;
            uint32_t n;
            size_t j = 0;
            serve_event_iter_init(&it, c->record + SERVE_RECORD_HEADER,
                                  (uint32_t)(c->bytes - SERVE_RECORD_HEADER), &n);
            while (serve_event_iter_next(&it, &ev))
                if (ev.id_len > 0) c->ids[j++] = ev.id;
        }
    }
    if (*status != 0) {
        pthread_mutex_unlock(&srv->ingest_lock);
        free(kept);
        serve_commit_free(c);
        return NULL;
    }
    atomic_fetch_add(&srv->events_duplicate, list->n - n_kept);
    /* even a request with nothing new waits for the next sync: the ids it
     * repeats may still be on their way to the disk */
    if (srv->queue_tail) srv->queue_tail->next = c;
    else srv->queue_head = c;
    srv->queue_tail = c;
    pthread_cond_signal(&srv->ingest_wake);
    pthread_mutex_unlock(&srv->ingest_lock);
    free(kept);
    return c;
}

static void resume(serve_commit *c) {
    if (c->connection) MHD_resume_connection(c->connection);
}

/* Writes one group: the records of the queued commits and maybe a cut. */
static void commit_group(serve_server *srv, serve_commit *group, int cut) {
    size_t bytes = 0;
    uint64_t records = 0, events = 0;
    for (serve_commit *c = group; c; c = c->next) {
        bytes += c->bytes;
        records += c->record != NULL;
        events += c->n_events;
    }
    uint8_t cut_record[SERVE_RECORD_HEADER + 1];
    uint8_t *buf = malloc(bytes + sizeof cut_record);
    melon_err err;
    int ok = buf != NULL;
    if (!ok) snprintf(err.msg, sizeof err.msg, "out of memory");
    size_t at = 0;
    for (serve_commit *c = group; ok && c; c = c->next)
        if (c->record) {
            memcpy(buf + at, c->record, c->bytes);
            at += c->bytes;
        }
    if (ok && cut) {
        at += serve_cut_record_write(buf + at);
        records++;
    }
    /* the log is touched by this thread only */
    if (ok && at > 0)
        ok = serve_log_append(&srv->log, buf, at, records, &err) == 0;
    if (ok) ok = serve_log_sync(&srv->log, &err) == 0;
    free(buf);

    pthread_mutex_lock(&srv->ingest_lock);
    if (ok) {
        srv->log_error[0] = '\0';
        srv->durable_records = srv->log.n_records;
        srv->durable_bytes = srv->log.total_bytes;
        srv->durable_segments = srv->log.n_segments;
        srv->durable_events += events;
        if (cut) srv->open_events = 0;
        uint64_t before = srv->open_events;
        srv->open_events = (srv->open_events + events) % (uint64_t)srv->batch_size;
        if (before == 0 && srv->open_events > 0) srv->open_since = melon_now();
        for (serve_commit *c = group; c; c = c->next) {
            for (size_t k = 0; k < c->n_ids; k++)
                serve_id_set_put(&srv->ids, c->ids[k], c->id_lens[k],
                                 SERVE_ID_DURABLE, &err);
            c->done = 1;
        }
        atomic_fetch_add(&srv->events_accepted, events);
        pthread_cond_broadcast(&srv->durable_wake);
    } else {
        if (!srv->log_error[0]) /* the first failure of a run of them */
            fprintf(stderr, "melon serve: events refused: %s\n", err.msg);
        snprintf(srv->log_error, sizeof srv->log_error, "%s", err.msg);
        /* what was queued behind the group may count on its ids: fail it
         * too, so that nothing is acknowledged on the strength of an id
         * that never reached the disk */
        for (serve_commit *c = srv->queue_head; c; c = c->next) {
            c->done = -1;
            snprintf(c->error, sizeof c->error, "%s", err.msg);
            drop_pending_ids(srv, c);
        }
        for (serve_commit *c = group; c; c = c->next) {
            c->done = -1;
            snprintf(c->error, sizeof c->error, "%s", err.msg);
            drop_pending_ids(srv, c);
        }
        serve_commit *failed_queue = srv->queue_head;
        srv->queue_head = srv->queue_tail = NULL;
        pthread_mutex_unlock(&srv->ingest_lock);
        for (serve_commit *c = failed_queue, *next; c; c = next) {
            next = c->next;
            resume(c);
        }
        for (serve_commit *c = group, *next; c; c = next) {
            next = c->next;
            resume(c);
        }
        return;
    }
    pthread_mutex_unlock(&srv->ingest_lock);
    for (serve_commit *c = group, *next; c; c = next) {
        next = c->next; /* the request thread frees c once resumed */
        resume(c);
    }
}

static struct timespec deadline_after(double seconds) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double whole = (double)ts.tv_sec + ts.tv_nsec * 1e-9 + seconds;
    ts.tv_sec = (time_t)whole;
    ts.tv_nsec = (long)((whole - (double)ts.tv_sec) * 1e9);
    return ts;
}

static void *committer_main(void *arg) {
    serve_server *srv = arg;
    double max_delay = srv->opt.max_delay_ms / 1000.0;
    pthread_mutex_lock(&srv->ingest_lock);
    for (;;) {
        int cut_due = srv->open_events > 0 &&
                      melon_now() - srv->open_since >= max_delay;
        if (!srv->queue_head && !cut_due) {
            if (srv->stopping) break;
            if (srv->open_events > 0) {
                double left = srv->open_since + max_delay - melon_now();
                struct timespec ts = deadline_after(left > 0 ? left : 0);
                pthread_cond_timedwait(&srv->ingest_wake, &srv->ingest_lock, &ts);
            } else {
                pthread_cond_wait(&srv->ingest_wake, &srv->ingest_lock);
            }
            continue;
        }
        serve_commit *group = srv->queue_head;
        srv->queue_head = srv->queue_tail = NULL;
        pthread_mutex_unlock(&srv->ingest_lock);
        commit_group(srv, group, cut_due);
        pthread_mutex_lock(&srv->ingest_lock);
    }
    srv->committer_done = 1;
    pthread_cond_broadcast(&srv->durable_wake);
    pthread_mutex_unlock(&srv->ingest_lock);
    return NULL;
}

int serve_ingest_start(serve_server *srv, melon_err *err) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_destroy(&srv->ingest_wake);
    pthread_cond_init(&srv->ingest_wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&srv->committer, NULL, committer_main, srv) != 0)
        return melon_fail(err, "cannot start the committer thread");
    return 0;
}

void serve_ingest_stop(serve_server *srv) {
    pthread_mutex_lock(&srv->ingest_lock);
    srv->stopping = 1;
    pthread_cond_signal(&srv->ingest_wake);
    pthread_mutex_unlock(&srv->ingest_lock);
    pthread_join(srv->committer, NULL);
}
