/* What the server tells about itself: GET /metrics (Prometheus text) and
 * GET /v1/stats (JSON for the live page). */
#include "serve.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>

/* A consistent copy of what the applier and the committer count. */
typedef struct {
    uint64_t applied_events, applied_records, durable_events, durable_records;
    uint64_t log_bytes, log_segments, batches, evaluated, unranked;
    uint64_t checkpoints;
    double hr10, ndcg10, win_hr10, win_ndcg10, checkpoint_age;
    serve_session_stats session;
} snapshot;

static void take(serve_server *srv, snapshot *s) {
    pthread_mutex_lock(&srv->ingest_lock);
    s->durable_events = srv->durable_events;
    s->durable_records = srv->durable_records;
    s->log_bytes = srv->durable_bytes;
    s->log_segments = srv->durable_segments;
    pthread_mutex_unlock(&srv->ingest_lock);
    pthread_mutex_lock(&srv->apply_lock);
    const serve_quality *q = &srv->quality;
    s->batches = q->n_batches;
    s->evaluated = 0;
    for (int r = 1; r <= SERVE_MAX_RANK; r++) s->evaluated += q->rank_counts[r];
    s->unranked = q->unranked;
    s->hr10 = serve_counts_hr10(q->rank_counts);
    s->ndcg10 = serve_counts_ndcg10(q->rank_counts);
    serve_quality_window(q, &s->win_hr10, &s->win_ndcg10);
    s->checkpoints = srv->checkpoints_written;
    s->checkpoint_age = melon_now() - srv->last_checkpoint_time;
    pthread_mutex_unlock(&srv->apply_lock);
    s->applied_events = atomic_load(&srv->applied_events);
    s->applied_records = atomic_load(&srv->applied_records);
    if (serve_session_stats_get(srv->session, &s->session) != 0)
        s->session = (serve_session_stats){0, 0, 0};
}

static void metric(serve_buf *b, const char *name, const char *type,
                   const char *help, double v) {
    serve_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s ", name, help, name, type,
                     name);
    if (isnan(v)) serve_buf_str(b, "NaN\n");
    else serve_buf_printf(b, "%.17g\n", v);
}

static void histogram(serve_buf *b, const char *name, const char *help,
                      const serve_histogram *h) {
    serve_buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int k = 0; k <= SERVE_HIST_BUCKETS; k++) {
        cum += atomic_load(&h->counts[k]);
        if (k < SERVE_HIST_BUCKETS)
            serve_buf_printf(b, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
                             serve_hist_bounds[k], cum);
        else
            serve_buf_printf(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
    }
    serve_buf_printf(b, "%s_sum %.9f\n%s_count %" PRIu64 "\n", name,
                     atomic_load(&h->sum_ns) * 1e-9, name, cum);
}

void serve_metrics_text(serve_server *srv, serve_buf *b) {
    snapshot s;
    take(srv, &s);
    metric(b, "melon_events_accepted_total", "counter",
           "New events made durable and acknowledged by this process",
           (double)atomic_load(&srv->events_accepted));
    metric(b, "melon_events_duplicate_total", "counter",
           "Events acknowledged without being stored again (their id was known)",
           (double)atomic_load(&srv->events_duplicate));
    metric(b, "melon_events_durable", "gauge", "Events in the event log",
           (double)s.durable_events);
    metric(b, "melon_events_applied", "gauge",
           "Events of the log given to the model", (double)s.applied_events);
    metric(b, "melon_events_pending", "gauge",
           "Applied events waiting for their batch to fill", (double)s.session.pending);
    metric(b, "melon_events_evaluated_total", "counter",
           "Events ranked before the update that learnt from them",
           (double)s.evaluated);
    metric(b, "melon_batches_total", "counter", "Online batches run",
           (double)s.batches);
    metric(b, "melon_users", "gauge", "Users with a row", (double)s.session.users);
    metric(b, "melon_items", "gauge", "Items with a row", (double)s.session.items);
    metric(b, "melon_hr10", "gauge", "HR@10 over every evaluated event", s.hr10);
    metric(b, "melon_ndcg10", "gauge", "NDCG@10 over every evaluated event", s.ndcg10);
    metric(b, "melon_hr10_last10000", "gauge",
           "HR@10 over the last 10000 evaluated events", s.win_hr10);
    metric(b, "melon_ndcg10_last10000", "gauge",
           "NDCG@10 over the last 10000 evaluated events", s.win_ndcg10);
    metric(b, "melon_log_bytes", "gauge", "Bytes of the event log", (double)s.log_bytes);
    metric(b, "melon_log_records", "gauge", "Records of the event log",
           (double)s.durable_records);
    metric(b, "melon_log_segments", "gauge", "Segment files of the event log",
           (double)s.log_segments);
    metric(b, "melon_checkpoints_total", "counter",
           "Checkpoints written by this process", (double)s.checkpoints);
    metric(b, "melon_checkpoint_age_seconds", "gauge",
           "Seconds since the last checkpoint", s.checkpoint_age);
    metric(b, "melon_requests_rejected_total", "counter",
           "Requests answered with a 4xx or 5xx status",
           (double)atomic_load(&srv->requests_rejected));
    metric(b, "melon_uptime_seconds", "gauge", "Seconds since the server started",
           melon_now() - srv->started);
    histogram(b, "melon_update_seconds",
              "Time of an online batch's step (meta step, ranking, update)",
              &srv->update_seconds);
    histogram(b, "melon_recommend_seconds", "Time to answer GET /v1/recommend",
              &srv->recommend_seconds);
    histogram(b, "melon_ack_seconds",
              "Time from a POST /v1/events body to its durable acknowledgement",
              &srv->ack_seconds);
}

void serve_stats_json(serve_server *srv, serve_buf *b) {
    snapshot s;
    take(srv, &s);
    serve_buf_printf(b, "{\"uptime\": %.3f, \"events_accepted\": %" PRIu64
                     ", \"events_durable\": %" PRIu64 ", \"events_applied\": %" PRIu64
                     ", \"batches\": %" PRIu64 ", \"users\": %" PRId64
                     ", \"items\": %" PRId64 ", \"hr10\": ",
                     melon_now() - srv->started,
                     (uint64_t)atomic_load(&srv->events_accepted), s.durable_events,
                     s.applied_events, s.batches, s.session.users, s.session.items);
    serve_buf_json_number(b, s.hr10);
    serve_buf_str(b, ", \"ndcg10\": ");
    serve_buf_json_number(b, s.ndcg10);
    serve_buf_str(b, ", \"hr10_last10000\": ");
    serve_buf_json_number(b, s.win_hr10);
    serve_buf_str(b, ", \"ndcg10_last10000\": ");
    serve_buf_json_number(b, s.win_ndcg10);
    const serve_histogram *hs[2] = {&srv->ack_seconds, &srv->recommend_seconds};
    const char *names[2] = {"ack", "recommend"};
    for (int k = 0; k < 2; k++) {
        serve_buf_printf(b, ", \"%s_ms\": {\"p50\": ", names[k]);
        serve_buf_json_number(b, 1e3 * serve_histogram_quantile(hs[k], 0.5));
        serve_buf_str(b, ", \"p99\": ");
        serve_buf_json_number(b, 1e3 * serve_histogram_quantile(hs[k], 0.99));
        serve_buf_str(b, "}");
    }
    /* the last 200 batches' quality, oldest first */
    serve_buf_str(b, ", \"recent_batches\": [");
    pthread_mutex_lock(&srv->apply_lock);
    uint64_t n = srv->quality.n_batches, from = n > 200 ? n - 200 : 0;
    for (uint64_t i = from; i < n; i++) {
        const serve_batch_stat *bs = serve_quality_batch(&srv->quality, i);
        if (!bs) continue;
        serve_buf_printf(b, "%s{\"batch\": %" PRIu64 ", \"events\": %u, \"hr10\": ",
                         i > from ? ", " : "", bs->index, bs->events);
        serve_buf_json_number(b, bs->hr10);
        serve_buf_str(b, ", \"ndcg10\": ");
        serve_buf_json_number(b, bs->ndcg10);
        serve_buf_str(b, "}");
    }
    pthread_mutex_unlock(&srv->apply_lock);
    serve_buf_str(b, "], \"popular\": ");
    melon_err err;
    serve_buf pop;
    serve_buf_init(&pop);
    if (serve_session_popular_json(srv->session, 10, &pop, &err) == 0 && !pop.oom)
        serve_buf_add(b, pop.data, pop.len);
    else
        serve_buf_str(b, "[]");
    serve_buf_free(&pop);
    serve_buf_str(b, "}\n");
}
