/* `melon loadgen`: replays an interaction file against a running `melon
 * serve` on this machine (loopback only), bounded in events and time, and
 * prints the throughput of acknowledged events and the latencies. */
#include "cli.h"

#include "fetch/fetch.h"
#include "melon/stream.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    double *v;
    size_t n, cap;
} samples;

typedef struct {
    struct sockaddr_in addr;
    const melon_stream *stream;
    size_t from, end;          /* events [from, end) */
    size_t batch;
    double rate;               /* events/s; 0: as fast as acknowledged */
    double recommend_share;
    double deadline;
    char auth[300];            /* "Authorization: ...\r\n" or "" */
    FILE *ack_log;
    pthread_mutex_t log_lock;
    _Atomic size_t next_chunk;
    _Atomic uint64_t acked, rejected, errors, recommends;
    pthread_mutex_t err_lock;
    char first_error[256];
    double t0;
} loadgen;

typedef struct {
    loadgen *lg;
    unsigned seed;
    int fd;
    samples ack, rec;
    char *req;
    size_t req_cap;
    char resp[65536];
} worker;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void note_error(loadgen *lg, const char *fmt, const char *detail) {
    atomic_fetch_add(&lg->errors, 1);
    pthread_mutex_lock(&lg->err_lock);
    if (!lg->first_error[0]) snprintf(lg->first_error, sizeof lg->first_error, fmt, detail);
    pthread_mutex_unlock(&lg->err_lock);
}

static void add_sample(samples *s, double v) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4096;
        double *grown = realloc(s->v, cap * sizeof *grown);
        if (!grown) return;
        s->v = grown;
        s->cap = cap;
    }
    s->v[s->n++] = v;
}

static int connect_server(worker *w) {
    if (w->fd >= 0) return 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&w->lg->addr, sizeof w->lg->addr) != 0) {
        close(fd);
        return -1;
    }
    w->fd = fd;
    return 0;
}

static void drop_connection(worker *w) {
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
}

/* Sends len bytes of w->req and reads one response: its status, or -1. */
static int exchange(worker *w, size_t len) {
    if (connect_server(w) != 0) return -1;
    for (size_t done = 0; done < len;) {
        ssize_t n = send(w->fd, w->req + done, len - done, MSG_NOSIGNAL);
        if (n <= 0) return drop_connection(w), -1;
        done += (size_t)n;
    }
    size_t got = 0;
    char *body = NULL;
    long content_length = -1;
    for (;;) {
        if (got + 1 >= sizeof w->resp) return drop_connection(w), -1;
        ssize_t n = recv(w->fd, w->resp + got, sizeof w->resp - 1 - got, 0);
        if (n <= 0) return drop_connection(w), -1;
        got += (size_t)n;
        w->resp[got] = '\0';
        if (!body) {
            char *end = strstr(w->resp, "\r\n\r\n");
            if (!end) continue;
            body = end + 4;
            const char *cl = strcasestr(w->resp, "\r\ncontent-length:");
            content_length = cl ? strtol(cl + 17, NULL, 10) : 0;
        }
        if ((long)(got - (size_t)(body - w->resp)) >= content_length) break;
    }
    int status = 0;
    if (sscanf(w->resp, "HTTP/1.%*d %d", &status) != 1) return drop_connection(w), -1;
    if (strcasestr(w->resp, "\r\nconnection: close")) drop_connection(w);
    return status;
}

static void reserve(worker *w, size_t need) {
    if (need <= w->req_cap) return;
    char *grown = realloc(w->req, need);
    if (!grown) abort();
    w->req = grown;
    w->req_cap = need;
}

static void json_id(char *out, size_t cap, const char *s) {
    size_t k = 0;
    out[k++] = '"';
    for (; *s && k + 3 < cap; s++) {
        if (*s == '"' || *s == '\\') out[k++] = '\\';
        out[k++] = *s;
    }
    out[k++] = '"';
    out[k] = '\0';
}

static void post_chunk(worker *w, size_t first, size_t n) {
    loadgen *lg = w->lg;
    const melon_stream *st = lg->stream;
    size_t body_cap = 64 + n * (2 * 520 + 96), head = 512;
    reserve(w, head + body_cap);
    char *body = w->req + head, *p = body;
    *p++ = '[';
    for (size_t k = first; k < first + n; k++) {
        char u[520], it[520];
        json_id(u, sizeof u, st->user_name[st->user[k]]);
        json_id(it, sizeof it, st->item_name[st->item[k]]);
        p += sprintf(p, "%s{\"id\": \"e%zu\", \"user\": %s, \"item\": %s, \"time\": %.17g}",
                     k > first ? "," : "", k, u, it, st->time[k]);
    }
    *p++ = ']';
    size_t body_len = (size_t)(p - body);
    char header[512];
    int hl = snprintf(header, sizeof header,
                      "POST /v1/events HTTP/1.1\r\nHost: localhost\r\n%s"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                      lg->auth, body_len);
    char *start = body - hl;
    memcpy(start, header, (size_t)hl);
    double t0 = now();
    /* the request goes from start: move it to the buffer's front */
    memmove(w->req, start, (size_t)hl + body_len);
    int status = exchange(w, (size_t)hl + body_len);
    double dt = now() - t0;
    if (status == 200) {
        add_sample(&w->ack, dt);
        atomic_fetch_add(&lg->acked, n);
        if (lg->ack_log) {
            pthread_mutex_lock(&lg->log_lock);
            fprintf(lg->ack_log, "%zu %zu\n", first, n);
            fflush(lg->ack_log);
            pthread_mutex_unlock(&lg->log_lock);
        }
    } else if (status > 0) {
        atomic_fetch_add(&lg->rejected, n);
        char code[16];
        snprintf(code, sizeof code, "%d", status);
        note_error(lg, "POST /v1/events answered %s", code);
    } else {
        note_error(lg, "POST /v1/events: %s", "no answer (connection failed)");
    }
}

static void recommend(worker *w, size_t k) {
    loadgen *lg = w->lg;
    const char *user = lg->stream->user_name[lg->stream->user[k]];
    reserve(w, 1024 + 3 * strlen(user));
    char *p = w->req;
    p += sprintf(p, "GET /v1/recommend?k=10&user=");
    for (const unsigned char *s = (const unsigned char *)user; *s; s++)
        p += isalnum(*s) ? sprintf(p, "%c", *s) : sprintf(p, "%%%02X", *s);
    p += sprintf(p, " HTTP/1.1\r\nHost: localhost\r\n%s\r\n", lg->auth);
    double t0 = now();
    int status = exchange(w, (size_t)(p - w->req));
    if (status == 200) {
        add_sample(&w->rec, now() - t0);
        atomic_fetch_add(&lg->recommends, 1);
    } else {
        note_error(lg, "GET /v1/recommend: %s", status > 0 ? "an error status"
                                                           : "no answer");
    }
}

static void *worker_main(void *arg) {
    worker *w = arg;
    loadgen *lg = w->lg;
    size_t n_chunks = (lg->end - lg->from + lg->batch - 1) / lg->batch;
    for (;;) {
        if (now() > lg->deadline) break;
        size_t c = atomic_fetch_add(&lg->next_chunk, 1);
        if (c >= n_chunks) break;
        size_t first = lg->from + c * lg->batch;
        size_t n = lg->end - first < lg->batch ? lg->end - first : lg->batch;
        if (lg->rate > 0) { /* chunk c is due at t0 + its first event / rate */
            double due = lg->t0 + (double)(first - lg->from) / lg->rate;
            double wait = due - now();
            if (wait > 0) {
                struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
                nanosleep(&ts, NULL);
            }
        }
        if (lg->recommend_share > 0 &&
            rand_r(&w->seed) / ((double)RAND_MAX + 1) < lg->recommend_share)
            recommend(w, first);
        post_chunk(w, first, n);
    }
    drop_connection(w);
    return NULL;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double quantile(const samples *s, double q) {
    if (s->n == 0) return NAN;
    size_t k = (size_t)ceil(q * (double)s->n);
    return s->v[k == 0 ? 0 : k - 1];
}

static void print_usage(FILE *out) {
    fputs("usage: melon loadgen --url http://127.0.0.1:PORT --data FILE [options]\n\n"
          "Posts the file's events (sorted by time; ids e0, e1, ... by position)\n"
          "to a melon serve on this machine and prints acknowledged events/s,\n"
          "acknowledgement and recommendation latencies and errors.\n\n"
          "  --url URL              the server (loopback addresses only)\n"
          "  --data FILE            interactions, as melon run --data reads them\n"
          "  --from N               start at the N-th event (default 0)\n"
          "  --count N              post at most N events (default all)\n"
          "  --batch N              events per request (default 100)\n"
          "  --concurrency C        connections (default 4; 1 keeps the order)\n"
          "  --rate N|max           events/s over all connections (default max)\n"
          "  --recommend-share S    before this share of the posts, a\n"
          "                         GET /v1/recommend (default 0)\n"
          "  --duration S           stop after S seconds (default 60, at most 3600)\n"
          "  --token-file FILE      send its token as a bearer token\n"
          "  --ack-log FILE         write 'first count' per acknowledged request\n",
          out);
}

static int parse_url(const char *url, struct sockaddr_in *addr) {
    const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
    if (!p) return -1;
    char host[64];
    const char *colon = strchr(p, ':');
    if (!colon || (size_t)(colon - p) >= sizeof host) return -1;
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = '\0';
    if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || (*end && *end != '/') || port < 1 || port > 65535) return -1;
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr->sin_addr) != 1) return -1;
    return (ntohl(addr->sin_addr.s_addr) >> 24) == 127 ? 0 : -2;
}

int melon_cmd_loadgen(int argc, char **argv) {
    const char *url = NULL, *data = NULL, *token_file = NULL, *ack_log = NULL;
    double rate = 0, share = 0, duration = 60;
    long long from = 0, count = -1, batch = 100, concurrency = 4;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_usage(stdout);
            return 0;
        }
        if (k + 1 >= argc) {
            fprintf(stderr, "melon loadgen: '%s' needs a value (see melon loadgen "
                            "--help)\n", a);
            return 2;
        }
        const char *v = argv[++k];
        char *end = NULL;
        errno = 0;
        if (strcmp(a, "--url") == 0) url = v;
        else if (strcmp(a, "--data") == 0) data = v;
        else if (strcmp(a, "--token-file") == 0) token_file = v;
        else if (strcmp(a, "--ack-log") == 0) ack_log = v;
        else if (strcmp(a, "--rate") == 0)
            rate = strcmp(v, "max") == 0 ? 0 : ((end = NULL), strtod(v, &end));
        else if (strcmp(a, "--recommend-share") == 0) share = strtod(v, &end);
        else if (strcmp(a, "--duration") == 0) duration = strtod(v, &end);
        else if (strcmp(a, "--from") == 0) from = strtoll(v, &end, 10);
        else if (strcmp(a, "--count") == 0) count = strtoll(v, &end, 10);
        else if (strcmp(a, "--batch") == 0) batch = strtoll(v, &end, 10);
        else if (strcmp(a, "--concurrency") == 0) concurrency = strtoll(v, &end, 10);
        else {
            fprintf(stderr, "melon loadgen: unknown option '%s' (see melon loadgen "
                            "--help)\n", a);
            return 2;
        }
        if (end && (*end || end == v || errno)) {
            fprintf(stderr, "melon loadgen: %s '%s': not a number\n", a, v);
            return 2;
        }
    }
    if (!url || !data) {
        fprintf(stderr, "melon loadgen: --url and --data are required (see melon "
                        "loadgen --help)\n");
        return 2;
    }
    const char *bad = rate < 0 || !isfinite(rate) ? "--rate must be max or above 0"
                      : !(share >= 0 && share <= 1) ? "--recommend-share must be 0 to 1"
                      : !(duration > 0 && duration <= 3600)
                          ? "--duration must be above 0 and at most 3600"
                      : from < 0 ? "--from must be 0 or more"
                      : batch < 1 || batch > 100000 ? "--batch must be 1 to 100000"
                      : concurrency < 1 || concurrency > 256
                          ? "--concurrency must be 1 to 256"
                          : NULL;
    if (bad) {
        fprintf(stderr, "melon loadgen: %s\n", bad);
        return 2;
    }
    loadgen *lg = calloc(1, sizeof *lg);
    if (!lg) return 1;
    int pu = parse_url(url, &lg->addr);
    if (pu != 0) {
        fprintf(stderr, "melon loadgen: --url '%s': %s\n", url,
                pu == -2 ? "only servers on this machine (127.0.0.0/8) are loaded"
                         : "expected http://IPV4:PORT");
        free(lg);
        return 2;
    }
    if (token_file) {
        char token[260] = "";
        FILE *f = fopen(token_file, "r");
        if (!f || !fgets(token, sizeof token, f)) {
            fprintf(stderr, "melon loadgen: %s: cannot read the token\n", token_file);
            if (f) fclose(f);
            free(lg);
            return 2;
        }
        fclose(f);
        token[strcspn(token, "\r\n ")] = '\0';
        snprintf(lg->auth, sizeof lg->auth, "Authorization: Bearer %s\r\n", token);
    }
    char data_path[4096];
    melon_err derr = {{0}};
    int known = melon_dataset_resolve(data, NULL, data_path, sizeof data_path, &derr);
    if (known < 0) {
        fprintf(stderr, "melon loadgen: %s\n", derr.msg);
        free(lg);
        return 2;
    }
    if (known == 1) data = data_path;
    melon_stream stream;
    melon_load_options lo;
    melon_load_options_default(&lo);
    melon_err err;
    if (melon_stream_load(&stream, &data, 1, &lo, &err) != 0) {
        fprintf(stderr, "melon loadgen: %s\n", err.msg);
        free(lg);
        return 1;
    }
    lg->stream = &stream;
    lg->from = (size_t)from < stream.n ? (size_t)from : stream.n;
    lg->end = count < 0 || lg->from + (size_t)count > stream.n ? stream.n
                                                              : lg->from + (size_t)count;
    lg->batch = (size_t)batch;
    lg->rate = rate;
    lg->recommend_share = share;
    pthread_mutex_init(&lg->log_lock, NULL);
    pthread_mutex_init(&lg->err_lock, NULL);
    int rc = 0;
    if (ack_log && !(lg->ack_log = fopen(ack_log, "w"))) {
        fprintf(stderr, "melon loadgen: %s: cannot create: %s\n", ack_log, strerror(errno));
        rc = 1;
    }
    worker *ws = calloc((size_t)concurrency, sizeof *ws);
    pthread_t *th = calloc((size_t)concurrency, sizeof *th);
    if (rc == 0 && (!ws || !th)) rc = 1;
    if (rc == 0) {
        lg->t0 = now();
        lg->deadline = lg->t0 + duration;
        for (long long k = 0; k < concurrency; k++) {
            ws[k].lg = lg;
            ws[k].fd = -1;
            ws[k].seed = (unsigned)(k + 1);
            pthread_create(&th[k], NULL, worker_main, &ws[k]);
        }
        samples ack = {0}, rec = {0};
        for (long long k = 0; k < concurrency; k++) {
            pthread_join(th[k], NULL);
            for (size_t j = 0; j < ws[k].ack.n; j++) add_sample(&ack, ws[k].ack.v[j]);
            for (size_t j = 0; j < ws[k].rec.n; j++) add_sample(&rec, ws[k].rec.v[j]);
            free(ws[k].ack.v);
            free(ws[k].rec.v);
            free(ws[k].req);
        }
        double seconds = now() - lg->t0;
        if (ack.n) qsort(ack.v, ack.n, sizeof *ack.v, compare_double);
        if (rec.n) qsort(rec.v, rec.n, sizeof *rec.v, compare_double);
        uint64_t acked = atomic_load(&lg->acked);
        printf("events acknowledged %llu of %zu in %.3f s: %.0f events/s (%lld per "
               "request, %lld connections)\n", (unsigned long long)acked,
               lg->end - lg->from, seconds, acked / seconds, batch, concurrency);
        printf("ack latency ms: p50 %.3f p99 %.3f p99.9 %.3f (%zu requests)\n",
               1e3 * quantile(&ack, 0.5), 1e3 * quantile(&ack, 0.99),
               1e3 * quantile(&ack, 0.999), ack.n);
        printf("recommend latency ms: p50 %.3f p99 %.3f p99.9 %.3f (%zu requests)\n",
               1e3 * quantile(&rec, 0.5), 1e3 * quantile(&rec, 0.99),
               1e3 * quantile(&rec, 0.999), rec.n);
        printf("errors %llu, events refused %llu%s%s\n",
               (unsigned long long)atomic_load(&lg->errors),
               (unsigned long long)atomic_load(&lg->rejected),
               lg->first_error[0] ? "; first: " : "", lg->first_error);
        free(ack.v);
        free(rec.v);
        if (atomic_load(&lg->errors) > 0) rc = 3;
    }
    if (lg->ack_log) fclose(lg->ack_log);
    free(ws);
    free(th);
    melon_stream_free(&stream);
    free(lg);
    return rc;
}
