/* The applier (serve.h): the session's one writer. It reads the durable
 * log in order and feeds it to the session, closing a batch every
 * batch-size events and at each cut record, so that the log alone decides
 * every batch. */
#include "serve.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static void collect_rank(void *ctx, int32_t rank) {
    serve_server *srv = ctx;
    if (srv->n_ranks == srv->cap_ranks) {
        size_t cap = srv->cap_ranks ? 2 * srv->cap_ranks : 1024;
        int32_t *grown = realloc(srv->ranks, cap * sizeof *grown);
        if (!grown) return; /* counted as unranked below */
        srv->ranks = grown;
        srv->cap_ranks = cap;
    }
    srv->ranks[srv->n_ranks++] = rank;
}

/* Adds the ranks of the call that just ran; closes a batch of `events`
 * when one ended. */
static void publish(serve_server *srv, uint32_t batch_events, double seconds) {
    pthread_mutex_lock(&srv->apply_lock);
    for (size_t k = 0; k < srv->n_ranks; k++)
        serve_quality_add_rank(&srv->quality, srv->ranks[k]);
    srv->n_ranks = 0;
    if (batch_events > 0) {
        serve_quality_end_batch(&srv->quality, batch_events, seconds);
        srv->batches_since_checkpoint++;
    }
    pthread_mutex_unlock(&srv->apply_lock);
    if (batch_events > 0) serve_histogram_observe(&srv->update_seconds, seconds);
}

static int apply_events(serve_server *srv, const uint8_t *body, uint32_t len,
                        melon_err *err) {
    serve_event_iter it;
    uint32_t n;
    if (serve_event_iter_init(&it, body, len, &n) != 0)
        return melon_fail(err, "record %" PRIu64 " is not a valid events record",
                          atomic_load(&srv->applied_records));
    if (n > srv->cap_apply_events) {
        serve_event *grown = realloc(srv->apply_events, n * sizeof *grown);
        if (!grown) return melon_fail(err, "out of memory applying %u events", n);
        srv->apply_events = grown;
        srv->cap_apply_events = n;
    }
    for (uint32_t k = 0; k < n; k++) serve_event_iter_next(&it, &srv->apply_events[k]);
    uint64_t batch = (uint64_t)srv->batch_size;
    for (uint32_t at = 0; at < n;) {
        uint64_t room = batch - srv->pending_events;
        uint32_t m = n - at < room ? n - at : (uint32_t)room;
        double t0 = melon_now();
        if (serve_session_observe(srv->session, srv->apply_events + at, m, err) != 0)
            return -1;
        double seconds = melon_now() - t0;
        srv->pending_events += m;
        uint32_t closed = 0;
        if (srv->pending_events == batch) {
            closed = (uint32_t)batch;
            srv->pending_events = 0;
        }
        publish(srv, closed, seconds);
        at += m;
    }
    atomic_fetch_add(&srv->applied_events, n);
    return 0;
}

static int apply_record(serve_server *srv, const uint8_t *body, uint32_t len,
                        melon_err *err) {
    if (body[0] == SERVE_RECORD_CUT) {
        if (srv->pending_events > 0) {
            uint32_t events = (uint32_t)srv->pending_events;
            double t0 = melon_now();
            if (serve_session_flush(srv->session, err) != 0) return -1;
            srv->pending_events = 0;
            publish(srv, events, melon_now() - t0);
        }
    } else if (apply_events(srv, body, len, err) != 0) {
        return -1;
    }
    atomic_fetch_add(&srv->applied_records, 1);
    return 0;
}

int serve_apply_until(serve_server *srv, uint64_t limit, melon_err *err) {
    if (!srv->reader_open) {
        if (serve_log_reader_open(&srv->reader, &srv->log,
                                  atomic_load(&srv->applied_records), err) != 0)
            return -1;
        srv->reader_open = 1;
        serve_session_on_rank(srv->session, collect_rank, srv);
    }
    const uint8_t *body;
    uint32_t len;
    int got;
    while ((got = serve_log_reader_next(&srv->reader, limit, &body, &len, err)) == 1) {
        if (apply_record(srv, body, len, err) != 0) return -1;
        if (srv->opt.checkpoint_every > 0 &&
            srv->batches_since_checkpoint >= (uint64_t)srv->opt.checkpoint_every &&
            srv->ready) {
            melon_err cerr;
            if (serve_checkpoint_write(srv, &cerr) != 0)
                fprintf(stderr, "melon serve: %s\n", cerr.msg); /* goes on */
        }
    }
    return got < 0 ? -1 : 0;
}

static void fail_applier(serve_server *srv, const char *why) {
    pthread_mutex_lock(&srv->apply_lock);
    srv->apply_failed = 1;
    snprintf(srv->apply_error, sizeof srv->apply_error, "%s", why);
    pthread_mutex_unlock(&srv->apply_lock);
    fprintf(stderr, "melon serve: applying the event log stopped: %s\n", why);
}

static void *applier_main(void *arg) {
    serve_server *srv = arg;
    /* the model's updates yield the cores to requests (the OpenMP threads
     * this thread starts inherit it); acknowledgements do not wait for them */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
    for (;;) {
        pthread_mutex_lock(&srv->ingest_lock);
        while (srv->durable_records == atomic_load(&srv->applied_records) &&
               !srv->committer_done && !srv->checkpoint_requested)
            pthread_cond_wait(&srv->durable_wake, &srv->ingest_lock);
        uint64_t limit = srv->durable_records;
        int finish = srv->committer_done;
        int checkpoint = srv->checkpoint_requested;
        pthread_mutex_unlock(&srv->ingest_lock);

        melon_err err;
        if (!srv->apply_failed && serve_apply_until(srv, limit, &err) != 0)
            fail_applier(srv, err.msg);
        if (checkpoint || (finish && limit == srv->durable_records)) {
            int ok = srv->apply_failed ? -1 : serve_checkpoint_write(srv, &err);
            pthread_mutex_lock(&srv->ingest_lock);
            srv->checkpoint_requested = 0;
            srv->checkpoint_generation++;
            snprintf(srv->checkpoint_error, sizeof srv->checkpoint_error, "%s",
                     ok == 0 ? "" : srv->apply_failed ? srv->apply_error : err.msg);
            pthread_cond_broadcast(&srv->durable_wake);
            pthread_mutex_unlock(&srv->ingest_lock);
            if (ok != 0 && finish)
                fprintf(stderr, "melon serve: the last checkpoint failed: %s\n",
                        srv->checkpoint_error);
        }
        if (finish && limit == srv->durable_records) break;
    }
    pthread_mutex_lock(&srv->ingest_lock);
    srv->applier_done = 1;
    pthread_cond_broadcast(&srv->durable_wake);
    pthread_mutex_unlock(&srv->ingest_lock);
    return NULL;
}

int serve_apply_start(serve_server *srv, melon_err *err) {
    if (pthread_create(&srv->applier, NULL, applier_main, srv) != 0)
        return melon_fail(err, "cannot start the applier thread");
    return 0;
}

int serve_apply_checkpoint(serve_server *srv, char *why, size_t why_cap) {
    pthread_mutex_lock(&srv->ingest_lock);
    if (srv->applier_done) {
        pthread_mutex_unlock(&srv->ingest_lock);
        snprintf(why, why_cap, "the server is shutting down");
        return -1;
    }
    uint64_t generation = srv->checkpoint_generation;
    srv->checkpoint_requested = 1;
    pthread_cond_broadcast(&srv->durable_wake);
    while (srv->checkpoint_generation == generation && !srv->applier_done)
        pthread_cond_wait(&srv->durable_wake, &srv->ingest_lock);
    int rc = srv->checkpoint_error[0] ? -1 : 0;
    snprintf(why, why_cap, "%s", srv->checkpoint_error);
    pthread_mutex_unlock(&srv->ingest_lock);
    return rc;
}

int serve_apply_stop(serve_server *srv, melon_err *err) {
    pthread_join(srv->applier, NULL);
    if (srv->reader_open) serve_log_reader_close(&srv->reader);
    srv->reader_open = 0;
    if (srv->checkpoint_error[0])
        return melon_fail(err, "%s", srv->checkpoint_error);
    return 0;
}
