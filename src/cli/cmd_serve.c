/* `melon serve`: the online recommender over HTTP (src/serve/serve.h,
 * docs/serve.md). */
#include "cli.h"

#include "fetch/fetch.h"
#include "serve/serve.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_usage(FILE *out) {
    fputs("usage: melon serve --state-dir DIR [--data PAST | --checkpoint FILE]\n"
          "                   [model and strategy options] [server options]\n\n"
          "Takes events over HTTP, acknowledges them once they are in the\n"
          "event log on disk, updates the model batch by batch, ranks each\n"
          "event before the update that learns from it (live HR@10 and\n"
          "NDCG@10), and answers recommendations from the freshest model.\n"
          "With a state directory that already holds a state, it recovers it:\n"
          "the newest checkpoint, then the log after it.\n\n"
          "Start:\n"
          "  --state-dir DIR       event log, checkpoints (required)\n"
          "  --data FILE           pre-train on this file first (a new state)\n"
          "  --checkpoint FILE     start from a session checkpoint instead\n"
          "  --catalogue FILE      declare these items first, one id per line\n"
          "  --model, --strategy, --seed, --batch-size, --epochs, --dim,\n"
          "  --layers, --init-std, --optimizer, --lr, --l2, --dense-adam,\n"
          "  --threads, --negatives: the session's settings\n"
          "                        (as in melon run --help)\n\n"
          "Server:\n"
          "  --listen HOST:PORT    address (default 127.0.0.1:8080; port 0: any)\n"
          "  --port-file FILE      write the bound port here once ready\n"
          "  --max-delay-ms N      run a short batch when its first event has\n"
          "                        waited N ms (default 1000)\n"
          "  --checkpoint-every N  checkpoint every N batches (default 1000;\n"
          "                        0: only on POST /v1/checkpoint and at exit)\n"
          "  --token-file FILE     writes need 'Authorization: Bearer TOKEN'\n"
          "  --private             reads need the token too\n"
          "  --max-body BYTES      larger bodies get 413 (default 16777216)\n"
          "  --max-events N        events in one request (default 100000)\n"
          "  --max-event-id BYTES  longest event id (default 128)\n"
          "  --max-backlog N       acknowledged events not yet applied before\n"
          "                        new ones get 503 (default 1000000)\n"
          "  --segment-bytes N     start a new log segment past N bytes\n"
          "                        (default 67108864)\n"
          "  --http-threads N      request threads (default 4)\n"
          "  --timeout S           close a connection idle or slow for S s\n"
          "                        (default 30)\n\n"
          "SIGTERM or SIGINT: stop taking events, apply the log, checkpoint, exit.\n"
          "Routes: POST /v1/events, GET /v1/recommend?user=U&k=10,\n"
          "GET /v1/users/U/history, POST /v1/checkpoint, GET /metrics, /healthz,\n"
          "/readyz, /v1/stats, and the live page at / (docs/serve.md).\n",
          out);
}

static int parse_count(const char *opt, const char *v, long long lo, long long hi,
                       long long *out) {
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "melon serve: --%s '%s': expected an integer from %lld to "
                        "%lld\n", opt, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

static int write_port_file(const char *path, int port) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Server options: 1 taken (value used), 0 not a server option, -1 bad. */
static int server_option(serve_options *o, const char *key, const char *v) {
    long long x;
    if (strcmp(key, "state-dir") == 0) o->state_dir = v;
    else if (strcmp(key, "data") == 0) o->data = v;
    else if (strcmp(key, "checkpoint") == 0) o->checkpoint = v;
    else if (strcmp(key, "catalogue") == 0) o->catalogue = v;
    else if (strcmp(key, "listen") == 0) o->listen = v;
    else if (strcmp(key, "port-file") == 0) o->port_file = v;
    else if (strcmp(key, "token-file") == 0) o->token_file = v;
    else if (strcmp(key, "max-delay-ms") == 0) {
        if (parse_count(key, v, 1, 3600000, &x) != 0) return -1;
        o->max_delay_ms = (int)x;
    } else if (strcmp(key, "checkpoint-every") == 0) {
        if (parse_count(key, v, 0, INT_MAX, &x) != 0) return -1;
        o->checkpoint_every = (int)x;
    } else if (strcmp(key, "max-body") == 0) {
        if (parse_count(key, v, 64, 1LL << 30, &x) != 0) return -1;
        o->max_body = (size_t)x;
    } else if (strcmp(key, "max-events") == 0) {
        if (parse_count(key, v, 1, 10000000, &x) != 0) return -1;
        o->max_events = (size_t)x;
    } else if (strcmp(key, "max-event-id") == 0) {
        if (parse_count(key, v, 1, 1024, &x) != 0) return -1;
        o->max_event_id = (size_t)x;
    } else if (strcmp(key, "max-backlog") == 0) {
        if (parse_count(key, v, 1, 1LL << 40, &x) != 0) return -1;
        o->max_backlog = (size_t)x;
    } else if (strcmp(key, "segment-bytes") == 0) {
        if (parse_count(key, v, 4096, 1LL << 40, &x) != 0) return -1;
        o->segment_bytes = (uint64_t)x;
    } else if (strcmp(key, "http-threads") == 0) {
        if (parse_count(key, v, 1, 256, &x) != 0) return -1;
        o->threads = (int)x;
    } else if (strcmp(key, "timeout") == 0) {
        if (parse_count(key, v, 1, 86400, &x) != 0) return -1;
        o->timeout_s = (int)x;
    } else return 0;
    return 1;
}

int melon_cmd_serve(int argc, char **argv) {
    serve_options opt;
    serve_options_default(&opt);
    char **settings = calloc((size_t)argc + 1, sizeof *settings);
    size_t n_settings = 0;
    int rc = 2;
    if (!settings) return 1;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_usage(stdout);
            rc = 0;
            goto out;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "melon serve: unexpected argument '%s' (see melon "
                            "serve --help)\n", a);
            goto out;
        }
        char key[128];
        const char *eq = strchr(a + 2, '='), *value = NULL;
        snprintf(key, sizeof key, "%.*s", (int)(eq ? (size_t)(eq - a - 2) : strlen(a + 2)),
                 a + 2);
        if (strcmp(key, "private") == 0) {
            opt.private_reads = 1;
            continue;
        }
        int arity = melon_run_option_arity(key);
        int own = strcmp(key, "state-dir") == 0 || strcmp(key, "data") == 0 ||
                  strcmp(key, "checkpoint") == 0 || strcmp(key, "catalogue") == 0 ||
                  strcmp(key, "listen") == 0 || strcmp(key, "port-file") == 0 ||
                  strcmp(key, "token-file") == 0 || strcmp(key, "max-delay-ms") == 0 ||
                  strcmp(key, "checkpoint-every") == 0 || strcmp(key, "max-body") == 0 ||
                  strcmp(key, "max-events") == 0 || strcmp(key, "max-event-id") == 0 ||
                  strcmp(key, "max-backlog") == 0 || strcmp(key, "segment-bytes") == 0 ||
                  strcmp(key, "http-threads") == 0 || strcmp(key, "timeout") == 0;
        if (own) arity = 1;
        if (arity < 0) {
            fprintf(stderr, "melon serve: unknown option '--%s' (see melon serve "
                            "--help)\n", key);
            goto out;
        }
        if (arity == 1) {
            if (eq) value = eq + 1;
            else if (k + 1 < argc) value = argv[++k];
            else {
                fprintf(stderr, "melon serve: option '--%s' needs a value\n", key);
                goto out;
            }
        } else if (eq) {
            value = eq + 1;
        }
        if (own) {
            if (server_option(&opt, key, value) < 0) goto out;
            continue;
        }
        size_t len = strlen(key) + 2 + (value ? strlen(value) : 1);
        settings[n_settings] = malloc(len);
        if (!settings[n_settings]) goto out;
        snprintf(settings[n_settings++], len, "%s=%s", key, value ? value : "1");
    }
    if (!opt.state_dir) {
        fprintf(stderr, "melon serve: --state-dir DIR is required (see melon serve "
                        "--help)\n");
        goto out;
    }
    if (opt.data && opt.checkpoint) {
        fprintf(stderr, "melon serve: give --data or --checkpoint, not both\n");
        goto out;
    }
    if (opt.private_reads && !opt.token_file) {
        fprintf(stderr, "melon serve: --private needs --token-file\n");
        goto out;
    }
    char data_path[4096];
    if (opt.data) { /* a dataset name of `melon data list`, fetched, or a file */
        melon_err derr = {{0}};
        int known = melon_dataset_resolve(opt.data, NULL, data_path, sizeof data_path,
                                          &derr);
        if (known < 0) {
            fprintf(stderr, "melon serve: %s\n", derr.msg);
            goto out;
        }
        if (known == 1) opt.data = data_path;
    }
    opt.settings = (const char **)settings;
    opt.n_settings = n_settings;

    /* every thread inherits the mask: the signals reach sigwait below */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    serve_server *srv = calloc(1, sizeof *srv);
    melon_err err;
    rc = 1;
    if (!srv) goto out;
    if (serve_server_open(srv, &opt, stderr, &err) != 0 ||
        serve_server_start(srv, &err) != 0) {
        fprintf(stderr, "melon serve: %s\n", err.msg);
        melon_err stop_err;
        serve_server_stop(srv, &stop_err);
        serve_server_free(srv);
        free(srv);
        goto out;
    }
    fprintf(stderr, "melon serve: listening on http://%.*s:%d (%llu events in the "
            "log, batch size %d)\n", (int)(strrchr(opt.listen, ':') - opt.listen),
            opt.listen, srv->port, (unsigned long long)srv->durable_events,
            srv->batch_size);
    if (opt.port_file && write_port_file(opt.port_file, srv->port) != 0)
        fprintf(stderr, "melon serve: %s: cannot write the port: %s\n", opt.port_file,
                strerror(errno));
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "melon serve: %s: stopping (acknowledging, applying and "
            "checkpointing the log)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;
    if (serve_server_stop(srv, &err) != 0) {
        fprintf(stderr, "melon serve: %s\n", err.msg);
        rc = 1;
    } else {
        fprintf(stderr, "melon serve: stopped; %llu events applied, checkpoint "
                "written\n", (unsigned long long)atomic_load(&srv->applied_events));
    }
    serve_server_free(srv);
    free(srv);
out:
    for (size_t k = 0; k < n_settings; k++) free(settings[k]);
    free(settings);
    return rc;
}
