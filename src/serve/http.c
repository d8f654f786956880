/* The HTTP side of `melon serve` (serve.h) on libmicrohttpd: routes,
 * limits, the bearer token, and the wait of POST /v1/events for its group
 * commit (the connection is suspended until the committer resumes it). */
#include "serve.h"

#include "page.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum route { R_EVENTS, R_CHECKPOINT, R_OTHER_POST, R_GET };

typedef struct {
    enum route route;
    serve_buf body;
    int too_big;
    int waiting;            /* suspended for its commit */
    serve_commit *commit;
    int status;             /* the answer when the submit failed */
    char why[MELON_ERR_MSG];
    size_t n_events;
    double t0;
} request;

/* ---- answers ----------------------------------------------------------- */

static enum MHD_Result answer(serve_server *srv, struct MHD_Connection *conn,
                              unsigned status, const char *type,
                              const char *text, size_t len) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    unsigned cls = status / 100;
    if (cls < 6) atomic_fetch_add(&srv->responses[cls], 1);
    if (status >= 400) atomic_fetch_add(&srv->requests_rejected, 1);
    return rc;
}

static enum MHD_Result answer_buf(serve_server *srv, struct MHD_Connection *conn,
                                  unsigned status, const char *type, serve_buf *b) {
    if (b->oom) {
        static const char oom[] = "{\"error\": \"out of memory\"}\n";
        return answer(srv, conn, 503, "application/json", oom, sizeof oom - 1);
    }
    return answer(srv, conn, status, type, b->data ? b->data : "", b->len);
}

/* {"error": why, "record": null, "field": field or null} */
static enum MHD_Result answer_error(serve_server *srv, struct MHD_Connection *conn,
                                    unsigned status, const char *why,
                                    const char *field) {
    serve_buf b;
    serve_buf_init(&b);
    serve_buf_str(&b, "{\"error\": ");
    serve_buf_json_string(&b, why, strlen(why));
    serve_buf_str(&b, ", \"record\": null, \"field\": ");
    if (field) serve_buf_json_string(&b, field, strlen(field));
    else serve_buf_str(&b, "null");
    serve_buf_str(&b, "}\n");
    enum MHD_Result rc = answer_buf(srv, conn, status, "application/json", &b);
    serve_buf_free(&b);
    return rc;
}

/* ---- the bearer token -------------------------------------------------- */

static int token_ok(serve_server *srv, struct MHD_Connection *conn) {
    if (!srv->token[0]) return 1;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncmp(h, "Bearer ", 7) != 0) return 0;
    h += 7;
    size_t n = strlen(h), m = strlen(srv->token);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t k = 0; k < m; k++) /* the same time for any wrong token */
        diff |= (unsigned)(unsigned char)(k < n ? h[k] : 0) ^
                (unsigned char)srv->token[k];
    return diff == 0;
}

/* ---- reads ------------------------------------------------------------- */

static int parse_int_arg(struct MHD_Connection *conn, const char *name, long lo,
                         long hi, long fallback, long *out) {
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    if (!v) {
        *out = fallback;
        return 0;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

static enum MHD_Result get_recommend(serve_server *srv, struct MHD_Connection *conn) {
    const char *user = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "user");
    long k, seen;
    char why[128];
    if (!user || !user[0] || strlen(user) > SERVE_NAME_MAX) {
        snprintf(why, sizeof why, "give a user id of 1 to %d bytes: ?user=U",
                 SERVE_NAME_MAX);
        return answer_error(srv, conn, 400, why, "user");
    }
    if (parse_int_arg(conn, "k", 1, 1000, 10, &k) != 0)
        return answer_error(srv, conn, 400, "k must be an integer from 1 to 1000", "k");
    if (parse_int_arg(conn, "include_seen", 0, 1, 0, &seen) != 0)
        return answer_error(srv, conn, 400, "include_seen must be 0 or 1",
                            "include_seen");
    /* One request scores on one core: the requests are the parallelism.
     * A team of OpenMP threads (OpenBLAS's GEMV) started from this thread
     * waits whenever a member is descheduled behind the applier, which
     * made the p99 of a top 10 over 20,000 items 5 ms instead of 1.2 ms
     * (docs/serve.md, Figures). The setting is this thread's own. */
    omp_set_num_threads(1);
    double t0 = melon_now();
    serve_buf b;
    serve_buf_init(&b);
    melon_err err;
    enum MHD_Result rc;
    if (serve_session_recommend_json(srv->session, user, (int)k, (int)seen, &b,
                                     &err) != 0) {
        rc = answer_error(srv, conn, 503, err.msg, NULL);
    } else {
        serve_buf_str(&b, "\n");
        rc = answer_buf(srv, conn, 200, "application/json", &b);
        serve_histogram_observe(&srv->recommend_seconds, melon_now() - t0);
    }
    serve_buf_free(&b);
    return rc;
}

static enum MHD_Result get_history(serve_server *srv, struct MHD_Connection *conn,
                                   const char *user) {
    long limit;
    if (!user[0] || strlen(user) > SERVE_NAME_MAX)
        return answer_error(srv, conn, 400, "the user id must have 1 to 256 bytes",
                            "user");
    if (parse_int_arg(conn, "limit", 0, 100000, 1000, &limit) != 0)
        return answer_error(srv, conn, 400, "limit must be an integer from 0 to 100000",
                            "limit");
    serve_buf b;
    serve_buf_init(&b);
    melon_err err;
    enum MHD_Result rc;
    if (serve_session_history_json(srv->session, user, (size_t)limit, &b, &err) != 0) {
        rc = answer_error(srv, conn, 503, err.msg, NULL);
    } else {
        serve_buf_str(&b, "\n");
        rc = answer_buf(srv, conn, 200, "application/json", &b);
    }
    serve_buf_free(&b);
    return rc;
}

/* Why the server cannot take events now, or NULL. */
static const char *not_ready(serve_server *srv, char *buf, size_t cap) {
    const char *why = NULL;
    pthread_mutex_lock(&srv->ingest_lock);
    if (srv->stopping) why = "the server is shutting down";
    else if (srv->log.broken)
        why = (snprintf(buf, cap, "the event log cannot be written: %s",
                        srv->log.broken_why), buf);
    else if (srv->log_error[0])
        why = (snprintf(buf, cap, "the last write of the event log failed: %s",
                        srv->log_error), buf);
    pthread_mutex_unlock(&srv->ingest_lock);
    pthread_mutex_lock(&srv->apply_lock);
    if (!why && srv->apply_failed)
        why = (snprintf(buf, cap, "applying the log stopped: %s", srv->apply_error), buf);
    pthread_mutex_unlock(&srv->apply_lock);
    return why;
}

static enum MHD_Result route_get(serve_server *srv, struct MHD_Connection *conn,
                                 const char *url) {
    if (strcmp(url, "/healthz") == 0)
        return answer(srv, conn, 200, "text/plain", "ok\n", 3);
    if (strcmp(url, "/readyz") == 0) {
        char buf[MELON_ERR_MSG + 64];
        const char *why = not_ready(srv, buf, sizeof buf);
        if (why) return answer_error(srv, conn, 503, why, NULL);
        return answer(srv, conn, 200, "text/plain", "ready\n", 6);
    }
    if (srv->opt.private_reads && !token_ok(srv, conn))
        return answer_error(srv, conn, 401, "a bearer token is needed "
                            "(Authorization: Bearer ...)", NULL);
    if (strcmp(url, "/v1/recommend") == 0) return get_recommend(srv, conn);
    static const char users[] = "/v1/users/", hist[] = "/history";
    size_t n = strlen(url);
    if (strncmp(url, users, sizeof users - 1) == 0 && n > sizeof users - 1 + sizeof hist - 1 &&
        strcmp(url + n - (sizeof hist - 1), hist) == 0) {
        char user[SERVE_NAME_MAX + 2];
        size_t len = n - (sizeof users - 1) - (sizeof hist - 1);
        if (len > SERVE_NAME_MAX)
            return answer_error(srv, conn, 400, "the user id must have 1 to 256 bytes",
                                "user");
        memcpy(user, url + sizeof users - 1, len);
        user[len] = '\0';
        return get_history(srv, conn, user);
    }
    serve_buf b;
    serve_buf_init(&b);
    enum MHD_Result rc;
    if (strcmp(url, "/metrics") == 0) {
        serve_metrics_text(srv, &b);
        rc = answer_buf(srv, conn, 200, "text/plain; version=0.0.4", &b);
    } else if (strcmp(url, "/v1/stats") == 0) {
        serve_stats_json(srv, &b);
        rc = answer_buf(srv, conn, 200, "application/json", &b);
    } else if (strcmp(url, "/") == 0) {
        rc = answer(srv, conn, 200, "text/html; charset=utf-8", serve_page_html,
                    strlen(serve_page_html));
    } else {
        rc = answer_error(srv, conn, 404, "no such resource (see docs/serve.md)", NULL);
    }
    serve_buf_free(&b);
    return rc;
}

/* ---- POST /v1/events ---------------------------------------------------- */

static enum MHD_Result events_answer(serve_server *srv, struct MHD_Connection *conn,
                                     request *rq) {
    serve_commit *c = rq->commit;
    if (!c)
        return answer_error(srv, conn, (unsigned)rq->status, rq->why, NULL);
    if (c->done != 1) {
        char why[MELON_ERR_MSG + 64];
        snprintf(why, sizeof why, "the events were not stored: %s", c->error);
        return answer_error(srv, conn, 503, why, NULL);
    }
    serve_histogram_observe(&srv->ack_seconds, melon_now() - rq->t0);
    char text[160];
    int len = snprintf(text, sizeof text, "{\"accepted\": %zu, \"new\": %u, "
                       "\"duplicate\": %zu}\n", rq->n_events, c->n_events,
                       rq->n_events - c->n_events);
    return answer(srv, conn, 200, "application/json", text, (size_t)len);
}

static enum MHD_Result events_submit(serve_server *srv, struct MHD_Connection *conn,
                                     request *rq) {
    serve_limits limits = {srv->opt.max_events, SERVE_NAME_MAX, srv->opt.max_event_id};
    serve_event_list list;
    serve_parse_error perr;
    serve_event_list_init(&list);
    if (serve_parse_events(&list, rq->body.data ? rq->body.data : "", rq->body.len,
                           &limits, &perr) != 0) {
        serve_buf b;
        serve_buf_init(&b);
        serve_parse_error_json(&perr, &b);
        serve_buf_str(&b, "\n");
        enum MHD_Result rc = answer_buf(srv, conn, (unsigned)perr.status,
                                        "application/json", &b);
        serve_buf_free(&b);
        serve_event_list_free(&list);
        return rc;
    }
    rq->n_events = list.n;
    rq->waiting = 1;
    MHD_suspend_connection(conn); /* takes effect when this call returns */
    rq->commit = serve_ingest_submit(srv, &list, conn, &rq->status, rq->why,
                                     sizeof rq->why);
    serve_event_list_free(&list);
    if (!rq->commit) MHD_resume_connection(conn); /* answer at once */
    return MHD_YES;
}

/* ---- the handler --------------------------------------------------------- */

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **con_cls) {
    serve_server *srv = cls;
    request *rq = *con_cls;
    int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    if (!rq) {
        if (!post && strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
            strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
            return answer_error(srv, conn, 405, "only GET and POST", NULL);
        if (!post) return route_get(srv, conn, url);
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        serve_buf_init(&rq->body);
        rq->t0 = melon_now();
        rq->route = strcmp(url, "/v1/events") == 0       ? R_EVENTS
                    : strcmp(url, "/v1/checkpoint") == 0 ? R_CHECKPOINT
                                                         : R_OTHER_POST;
        *con_cls = rq;
        if (rq->route == R_EVENTS) atomic_fetch_add(&srv->in_flight, 1);
        const char *length = MHD_lookup_connection_value(
            conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length && strtoull(length, NULL, 10) > srv->opt.max_body) {
            rq->too_big = 1; /* answered before the body is read */
            char why[128];
            snprintf(why, sizeof why, "the body is larger than %zu bytes "
                     "(--max-body)", srv->opt.max_body);
            return answer_error(srv, conn, 413, why, NULL);
        }
        return MHD_YES;
    }
    if (*upload_size > 0) { /* a piece of the body */
        if (!rq->too_big && rq->route == R_EVENTS) {
            if (rq->body.len + *upload_size > srv->opt.max_body) {
                rq->too_big = 1;
                serve_buf_free(&rq->body);
                serve_buf_init(&rq->body);
            } else {
                serve_buf_add(&rq->body, upload, *upload_size);
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->waiting) return events_answer(srv, conn, rq);
    if (rq->route == R_OTHER_POST)
        return answer_error(srv, conn, 404, "no such resource (see docs/serve.md)", NULL);
    if (!token_ok(srv, conn))
        return answer_error(srv, conn, 401, "a bearer token is needed "
                            "(Authorization: Bearer ...)", NULL);
    if (rq->route == R_CHECKPOINT) {
        char why[MELON_ERR_MSG];
        if (serve_apply_checkpoint(srv, why, sizeof why) != 0)
            return answer_error(srv, conn, 503, why, NULL);
        char text[96];
        int len = snprintf(text, sizeof text, "{\"checkpoint\": %llu}\n",
                           (unsigned long long)atomic_load(&srv->applied_records));
        return answer(srv, conn, 200, "application/json", text, (size_t)len);
    }
    if (rq->too_big) {
        char why[128];
        snprintf(why, sizeof why, "the body is larger than %zu bytes (--max-body)",
                 srv->opt.max_body);
        return answer_error(srv, conn, 413, why, NULL);
    }
    if (rq->body.oom) return answer_error(srv, conn, 503, "out of memory", NULL);
    return events_submit(srv, conn, rq);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode code) {
    serve_server *srv = cls;
    request *rq = *con_cls;
    if (!rq) return;
    if (rq->route == R_EVENTS) atomic_fetch_sub(&srv->in_flight, 1);
    serve_commit_free(rq->commit);
    serve_buf_free(&rq->body);
    free(rq);
    *con_cls = NULL;
}

static int parse_listen(const char *listen, struct sockaddr_in *addr, melon_err *err) {
    const char *colon = strrchr(listen, ':');
    if (!colon) return melon_fail(err, "--listen '%s': give HOST:PORT", listen);
    char host[64];
    size_t hl = (size_t)(colon - listen);
    if (hl == 0 || hl >= sizeof host)
        return melon_fail(err, "--listen '%s': give HOST:PORT", listen);
    memcpy(host, listen, hl);
    host[hl] = '\0';
    if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || errno || port < 0 || port > 65535)
        return melon_fail(err, "--listen '%s': the port must be 0 to 65535", listen);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return melon_fail(err, "--listen '%s': '%s' is not an IPv4 address", listen,
                          host);
    return 0;
}

int serve_http_check_listen(const char *listen, melon_err *err) {
    struct sockaddr_in addr;
    return parse_listen(listen, &addr, err);
}

int serve_http_start(serve_server *srv, melon_err *err) {
    struct sockaddr_in addr;
    if (parse_listen(srv->opt.listen, &addr, err) != 0) return -1;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)srv->opt.threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->opt.timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
        MHD_OPTION_NOTIFY_COMPLETED, completed, srv,
        MHD_OPTION_END);
    if (!d)
        return melon_fail(err, "--listen %s: cannot listen there (in use, or not "
                          "an address of this machine)", srv->opt.listen);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : ntohs(addr.sin_port);
    srv->daemon = d;
    return 0;
}

void serve_http_quiesce(serve_server *srv) {
    /* the listening socket stays open (so a client gets 503, not a refused
     * connection): the handler refuses events once stopping is set */
    pthread_mutex_lock(&srv->ingest_lock);
    srv->stopping = 1;
    pthread_mutex_unlock(&srv->ingest_lock);
}

void serve_http_stop(serve_server *srv) {
    /* every commit has been resumed by now; let the answers go out */
    for (int k = 0; k < 500 && atomic_load(&srv->in_flight) > 0; k++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
}
