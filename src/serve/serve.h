/* `melon serve`: the parts of a running server and how they share it.
 *
 *   request threads (http.c)  parse, check, encode a request's events as
 *                             one log record and queue it (ingest.c);
 *                             answer reads from the session
 *   the committer (ingest.c)  writes every queued record, syncs once for
 *                             the group, then acknowledges them; writes a
 *                             cut record when a short batch has waited
 *                             --max-delay-ms
 *   the applier (apply.c)     reads the durable log in order and feeds it
 *                             to the session (the one writer), ranks,
 *                             checkpoints (checkpoint.c)
 *
 * The log decides everything the session does: replaying it from a
 * checkpoint gives the same session and the same live metrics. */
#ifndef MELON_SERVE_SERVE_H
#define MELON_SERVE_SERVE_H

#include "event_log.h"
#include "id_set.h"
#include "metrics.h"
#include "request_parse.h"
#include "serve_session.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct {
    const char *state_dir;
    const char *data;           /* pre-train on this file (a new state) */
    const char *checkpoint;     /* or start from this session checkpoint */
    const char *catalogue;      /* items to declare first, one per line */
    const char *listen;         /* host:port */
    const char *token_file;
    int private_reads;          /* reads need the token too */
    const char *port_file;      /* write the bound port here when ready */
    const char **settings;      /* name=value for the session */
    size_t n_settings;
    int max_delay_ms;
    int checkpoint_every;       /* batches */
    size_t max_body;
    size_t max_events;          /* events in one request */
    size_t max_event_id;        /* bytes of an event id */
    size_t max_backlog;         /* durable events not yet applied */
    uint64_t segment_bytes;
    int threads;                /* HTTP threads */
    int timeout_s;              /* an idle or slow connection is closed */
} serve_options;

void serve_options_default(serve_options *opt);

/* A queued request waiting for its group commit. */
typedef struct serve_commit {
    uint8_t *record;            /* one EVENTS record, or NULL */
    size_t bytes;
    uint32_t n_events;
    const char **ids;           /* the new ids it brings (PENDING) */
    uint16_t *id_lens;
    size_t n_ids;
    int done;                   /* 1 acknowledged, -1 failed */
    char error[MELON_ERR_MSG];
    void *connection;           /* resumed when done */
    struct serve_commit *next;
} serve_commit;

typedef struct serve_server {
    serve_options opt;
    serve_session *session;
    int batch_size;
    char token[256];

    /* the log and everything the committer shares with requests */
    serve_log log;
    pthread_mutex_t ingest_lock;
    pthread_cond_t ingest_wake;     /* work for the committer */
    pthread_cond_t durable_wake;    /* the durable end moved (applier) */
    serve_id_set ids;
    serve_commit *queue_head, *queue_tail;
    uint64_t durable_records;       /* records synced */
    uint64_t durable_events;
    uint64_t open_events;           /* durable events of the open batch */
    double open_since;              /* when the open batch got its first */
    int stopping;                   /* no more requests are taken */
    int committer_done;
    char log_error[MELON_ERR_MSG];  /* the last write failure */

    /* the applier */
    pthread_mutex_t apply_lock;     /* quality, counters below */
    pthread_cond_t apply_wake;
    _Atomic uint64_t applied_records;
    _Atomic uint64_t applied_events;
    uint64_t pending_events;        /* observed, waiting for a full batch */
    int32_t *ranks;                 /* ranks of the running call */
    size_t n_ranks, cap_ranks;
    serve_event *apply_events;      /* one record's events */
    size_t cap_apply_events;
    serve_log_reader reader;
    int reader_open;
    serve_quality quality;
    uint64_t batches_since_checkpoint;
    double last_checkpoint_time;
    uint64_t checkpoints_written;
    /* under ingest_lock: */
    int checkpoint_requested;       /* POST /v1/checkpoint */
    uint64_t checkpoint_generation; /* counts finished checkpoint tries */
    char checkpoint_error[MELON_ERR_MSG];
    int applier_done;
    int apply_failed;
    char apply_error[MELON_ERR_MSG];
    int ready;

    /* request counters and latencies */
    _Atomic uint64_t events_accepted;
    _Atomic uint64_t events_duplicate;
    _Atomic uint64_t requests_rejected;
    _Atomic uint64_t responses[6];  /* by class: [2]=2xx ... [5]=5xx */
    serve_histogram ack_seconds;
    serve_histogram recommend_seconds;
    serve_histogram update_seconds;

    pthread_t committer, applier;
    void *daemon;                   /* struct MHD_Daemon */
    int port;
    double started;
    _Atomic int in_flight;          /* event requests not yet answered */

    /* what serve_server_free must undo */
    int lock_fd;
    int inited, ids_inited, log_open, committer_started, applier_started;
    /* the log's size after the last sync (under ingest_lock) */
    uint64_t durable_bytes, durable_segments;
} serve_server;

/* server.c */
/* Opens the state directory (locked against a second server), loads the
 * newest checkpoint or creates the session (pre-training on --data), and
 * replays the log after the checkpoint; notes get progress messages. */
int serve_server_open(serve_server *srv, const serve_options *opt, FILE *notes,
                      melon_err *err);
/* Starts the committer, the applier and the HTTP daemon. */
int serve_server_start(serve_server *srv, melon_err *err);
/* Refuses new requests, acknowledges what was queued, applies the whole
 * log and writes the last checkpoint; its failure is returned. */
int serve_server_stop(serve_server *srv, melon_err *err);
void serve_server_free(serve_server *srv);

/* ingest.c */
int serve_ingest_start(serve_server *srv, melon_err *err);
/* Queues a request's events (already checked); returns the commit to wait
 * for, or NULL with an HTTP status and a message in *status / why. */
serve_commit *serve_ingest_submit(serve_server *srv,
                                  const serve_event_list *events,
                                  void *connection, int *status, char *why,
                                  size_t why_cap);
void serve_commit_free(serve_commit *c);
/* Stops taking requests, commits what is queued, stops the committer. */
void serve_ingest_stop(serve_server *srv);

/* apply.c */
int serve_apply_start(serve_server *srv, melon_err *err);
/* Applies records [applied, limit) in this thread (recovery). */
int serve_apply_until(serve_server *srv, uint64_t limit, melon_err *err);
/* Asks the applier for a checkpoint and waits for it: 0 or -1 with why. */
int serve_apply_checkpoint(serve_server *srv, char *why, size_t why_cap);
/* Applies every durable record, checkpoints, stops the applier. */
int serve_apply_stop(serve_server *srv, melon_err *err);

/* checkpoint.c */
/* Writes the session and the server's state for the records applied. */
int serve_checkpoint_write(serve_server *srv, melon_err *err);
/* Loads the newest checkpoint that loads whole; 1 when there is none. */
int serve_checkpoint_recover(serve_server *srv, FILE *notes, melon_err *err);

/* http.c */
/* 0 when listen is HOST:PORT with an IPv4 address (or localhost). */
int serve_http_check_listen(const char *listen, melon_err *err);
int serve_http_start(serve_server *srv, melon_err *err);
/* Stops accepting connections; requests in progress go on. */
void serve_http_quiesce(serve_server *srv);
/* Waits (a few seconds at most) for the answers in progress, then stops. */
void serve_http_stop(serve_server *srv);

/* expose.c */
/* The Prometheus text of GET /metrics. */
void serve_metrics_text(serve_server *srv, serve_buf *out);
/* The JSON of GET /v1/stats (the live page reads it). */
void serve_stats_json(serve_server *srv, serve_buf *out);

#endif
