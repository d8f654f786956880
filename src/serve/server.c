/* A server's life (serve.h): open the state directory, recover or create
 * the session, replay the log, start the threads, and stop them in the
 * order that acknowledges and applies everything before the last
 * checkpoint. */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

void serve_options_default(serve_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->listen = "127.0.0.1:8080";
    opt->max_delay_ms = 1000;
    opt->checkpoint_every = 1000;
    opt->max_body = 16u << 20;
    opt->max_events = 100000;
    opt->max_event_id = 128;
    opt->max_backlog = 1000000;
    opt->segment_bytes = 64u << 20;
    opt->threads = 4;
    opt->timeout_s = 30;
}

/* Every id of the log goes into the id set, so a retried event is known
 * across restarts. */
static int visit_ids(void *ctx, uint64_t record, const uint8_t *body,
                     uint32_t body_len, melon_err *err) {
    serve_server *srv = ctx;
    if (body_len == 0) return melon_fail(err, "record %" PRIu64 " is empty", record);
    if (body[0] == SERVE_RECORD_CUT) return 0;
    serve_event_iter it;
    uint32_t n;
    if (serve_event_iter_init(&it, body, body_len, &n) != 0)
        return melon_fail(err, "record %" PRIu64 " is not a valid events record",
                          record);
    serve_event ev;
    while (serve_event_iter_next(&it, &ev))
        if (ev.id_len > 0 &&
            serve_id_set_put(&srv->ids, ev.id, ev.id_len, SERVE_ID_DURABLE, err) != 0)
            return -1;
    return 0;
}

static int read_token(serve_server *srv, const char *path, melon_err *err) {
    FILE *f = fopen(path, "r");
    if (!f) return melon_fail(err, "%s: cannot open the token file: %s", path,
                              strerror(errno));
    size_t n = fread(srv->token, 1, sizeof srv->token - 1, f);
    int more = fgetc(f) != EOF;
    fclose(f);
    srv->token[n] = '\0';
    while (n > 0 && (srv->token[n - 1] == '\n' || srv->token[n - 1] == '\r' ||
                     srv->token[n - 1] == ' '))
        srv->token[--n] = '\0';
    if (more) return melon_fail(err, "%s: the token is longer than %zu bytes", path,
                                sizeof srv->token - 2);
    if (n < 16) return melon_fail(err, "%s: the token has %zu bytes; use at least 16",
                                  path, n);
    for (size_t k = 0; k < n; k++)
        if (srv->token[k] <= ' ' || srv->token[k] > '~')
            return melon_fail(err, "%s: the token holds a byte that is not a "
                              "printable ASCII character (at %zu)", path, k);
    return 0;
}

/* A setting given at start must match the recovered session's. */
static int check_settings(serve_server *srv, melon_err *err) {
    for (size_t k = 0; k < srv->opt.n_settings; k++) {
        const char *s = srv->opt.settings[k], *eq = strchr(s, '=');
        if (!eq) return melon_fail(err, "setting '%s' is not name=value", s);
        char name[128], actual[256];
        snprintf(name, sizeof name, "%.*s", (int)(eq - s), s);
        int same = serve_session_setting_is(srv->session, name, eq + 1, actual,
                                            sizeof actual);
        if (same == 0) {
            char *end1, *end2;
            double a = strtod(eq + 1, &end1), b = strtod(actual, &end2);
            if (*end1 == '\0' && *end2 == '\0' && end1 != eq + 1 &&
                fabs(a - b) <= 1e-6 * fabs(b))
                same = 1;
        }
        if (same < 0)
            return melon_fail(err, "unknown setting '%s'", name);
        if (same == 0)
            return melon_fail(err, "--%s %s: the state in %s was created with %s=%s "
                              "(start a new state directory to change it)", name,
                              eq + 1, srv->opt.state_dir, name, actual);
    }
    return 0;
}

/* A new state: the session from the options, and checkpoint 0 at once, so
 * the log never holds a record that no checkpoint precedes. */
static int create_state(serve_server *srv, FILE *notes, melon_err *err) {
    const serve_options *o = &srv->opt;
    if (o->checkpoint) {
        if (o->data || o->catalogue)
            return melon_fail(err, "--checkpoint starts from a saved session: "
                              "--data and --catalogue go with a new one");
        if (serve_session_open(&srv->session, o->checkpoint, err) != 0) return -1;
        if (check_settings(srv, err) != 0) return -1;
    } else {
        if (notes && o->data)
            fprintf(notes, "melon serve: pre-training on %s\n", o->data);
        if (serve_session_create(&srv->session, o->settings, o->n_settings,
                                 o->catalogue, o->data, err) != 0)
            return -1;
    }
    return serve_checkpoint_write(srv, err);
}

int serve_server_open(serve_server *srv, const serve_options *opt, FILE *notes,
                      melon_err *err) {
    memset(srv, 0, sizeof *srv);
    srv->opt = *opt;
    srv->lock_fd = -1;
    srv->started = melon_now();
    pthread_mutex_init(&srv->ingest_lock, NULL);
    pthread_cond_init(&srv->ingest_wake, NULL);
    pthread_cond_init(&srv->durable_wake, NULL);
    pthread_mutex_init(&srv->apply_lock, NULL);
    serve_quality_init(&srv->quality);
    srv->inited = 1;
    if (serve_http_check_listen(opt->listen, err) != 0) return -1;
    if (opt->token_file && read_token(srv, opt->token_file, err) != 0) return -1;
    if (mkdir(opt->state_dir, 0755) != 0 && errno != EEXIST)
        return melon_fail(err, "%s: cannot create the state directory: %s",
                          opt->state_dir, strerror(errno));
    char path[4200];
    snprintf(path, sizeof path, "%s/lock", opt->state_dir);
    srv->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (srv->lock_fd < 0)
        return melon_fail(err, "%s: cannot open: %s", path, strerror(errno));
    if (flock(srv->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return melon_fail(err, "%s: another melon serve uses this state directory",
                          opt->state_dir);
    if (serve_id_set_init(&srv->ids, 0x6d656c6f6eULL ^ (uint64_t)getpid(), err) != 0)
        return -1;
    srv->ids_inited = 1;
    snprintf(path, sizeof path, "%s/log", opt->state_dir);
    if (serve_log_open(&srv->log, path, opt->segment_bytes, visit_ids, srv, notes,
                       err) != 0)
        return -1;
    srv->log_open = 1;

    int found = serve_checkpoint_recover(srv, notes, err);
    if (found < 0) return -1;
    if (found == 1) {
        if (srv->log.n_records > 0)
            return melon_fail(err, "%s: the event log holds %" PRIu64 " records but "
                              "no checkpoint of %s/checkpoints loads", opt->state_dir,
                              srv->log.n_records, opt->state_dir);
        if (create_state(srv, notes, err) != 0) return -1;
    } else {
        if (notes && (opt->data || opt->checkpoint || opt->catalogue))
            fprintf(notes, "melon serve: recovering the state in %s: --data, "
                    "--checkpoint and --catalogue are not read\n", opt->state_dir);
        if (check_settings(srv, err) != 0) return -1;
    }
    srv->batch_size = serve_session_batch_size(srv->session);
    if (srv->batch_size < 1) return melon_fail(err, "the session has no batch size");

    uint64_t from = atomic_load(&srv->applied_records);
    double t0 = melon_now();
    if (serve_apply_until(srv, srv->log.n_records, err) != 0) return -1;
    if (notes && srv->log.n_records > from)
        fprintf(notes, "melon serve: replayed %" PRIu64 " records (%" PRIu64
                " events) of the log in %.2f s\n", srv->log.n_records - from,
                atomic_load(&srv->applied_events), melon_now() - t0);
    srv->durable_records = srv->log.n_records;
    srv->durable_events = atomic_load(&srv->applied_events);
    srv->durable_bytes = srv->log.total_bytes;
    srv->durable_segments = srv->log.n_segments;
    srv->open_events = srv->pending_events;
    srv->open_since = melon_now();
    srv->ready = 1;
    return 0;
}

int serve_server_start(serve_server *srv, melon_err *err) {
    if (serve_ingest_start(srv, err) != 0) return -1;
    srv->committer_started = 1;
    if (serve_apply_start(srv, err) != 0) return -1;
    srv->applier_started = 1;
    if (serve_http_start(srv, err) != 0) return -1;
    return 0;
}

int serve_server_stop(serve_server *srv, melon_err *err) {
    int rc = 0;
    if (srv->daemon) serve_http_quiesce(srv);
    if (srv->committer_started) serve_ingest_stop(srv);
    srv->committer_started = 0;
    if (srv->applier_started) rc = serve_apply_stop(srv, err);
    srv->applier_started = 0;
    if (srv->daemon) serve_http_stop(srv);
    return rc;
}

void serve_server_free(serve_server *srv) {
    if (!srv->inited) return;
    if (srv->reader_open) serve_log_reader_close(&srv->reader);
    if (srv->log_open) serve_log_close(&srv->log);
    if (srv->ids_inited) serve_id_set_free(&srv->ids);
    serve_session_free(srv->session);
    free(srv->ranks);
    free(srv->apply_events);
    if (srv->lock_fd >= 0) close(srv->lock_fd);
    pthread_mutex_destroy(&srv->ingest_lock);
    pthread_cond_destroy(&srv->ingest_wake);
    pthread_cond_destroy(&srv->durable_wake);
    pthread_mutex_destroy(&srv->apply_lock);
    srv->inited = 0;
}
