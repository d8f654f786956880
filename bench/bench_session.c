/* Figures of a library session (include/melon/melon.h), each the median of
 * several runs:
 *
 * 1. recommend: the top 10 of one user over 100,000 items (BPR-MF, d = 64;
 *    the median over many users), and of 1,000 users in one
 *    melon_recommend_batch_ids call;
 * 2. checkpoints: melon_save and melon_open of a session with 1,000,000
 *    users, 100,000 items, d = 64 and Adam's moments, in $TMPDIR (else
 *    /tmp). The session is built through the public calls: the items
 *    declared, one pre-training event per user (user u takes item
 *    u * 7919 mod 100,000) with no training epoch, then 16 online batches
 *    of 1,024 events (evaluation off) so that the moments and step counts
 *    are those of real updates;
 * 3. observe: the online stream of a data file (ml-100k by default, the
 *    protocol's split and batches, one pre-training epoch) fed to
 *    melon_observe_ids one batch at a time, for Default and MeLON on
 *    BPR-MF: events per second, and the ratio of observe's time per batch
 *    to that of `melon run`'s runner (melon_run_stream: its online part's
 *    wall time per batch) on the same stream, settings and arithmetic in
 *    this process. The stream keeps the events of users first seen in the
 *    past: MeLON takes no user first seen online.
 *
 * usage: bench_session [DATA]  (or $MELON_BENCH_DATA; see bench_stream.h) */
#include "bench_stream.h"

#include "melon/melon.h"
#include "eval/runner.h"
#include "melon/stats.h"
#include "session/session_internal.h"

#include <cblas.h>
#include <fcntl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BIG_USERS 1000000
#define BIG_ITEMS 100000
#define BATCH_USERS 1000
#define ROUNDS 5

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int fail(const char *what, const melon_err *err) {
    fprintf(stderr, "bench_session: %s: %s\n", what, err->msg);
    return 1;
}

/* ---- 1 and 2: the large session ---- */

static int build_large(melon_session **out, melon_err *err) {
    const char *settings[] = {"model=bpr", "strategy=default", "dim=64",
                              "seed=1", "epochs=0", "batch-size=1024",
                              "evaluate=0"};
    melon_session *s;
    if (melon_create(&s, settings, sizeof settings / sizeof *settings, err) != 0)
        return -1;
    int64_t *ids = malloc(sizeof(int64_t) * BIG_USERS);
    int64_t *items = malloc(sizeof(int64_t) * BIG_USERS);
    int rc = ids && items ? 0 : melon_fail(err, "out of memory");
    for (int64_t k = 0; rc == 0 && k < BIG_ITEMS; k++) ids[k] = k;
    if (rc == 0) rc = melon_declare_item_ids(s, ids, BIG_ITEMS, err);
    for (int64_t u = 0; rc == 0 && u < BIG_USERS; u++) {
        ids[u] = u;
        items[u] = (u * 7919) % BIG_ITEMS;
    }
    if (rc == 0) rc = melon_pretrain_ids(s, ids, items, NULL, BIG_USERS, err);
    /* 16 batches of 1,024 events: users spread over the table */
    for (int b = 0; rc == 0 && b < 16; b++) {
        for (int k = 0; k < 1024; k++) {
            int64_t e = (int64_t)b * 1024 + k;
            ids[k] = (e * 977) % BIG_USERS;
            items[k] = (e * 131) % BIG_ITEMS;
        }
        rc = melon_observe_ids(s, ids, items, NULL, 1024, NULL, err);
    }
    free(ids);
    free(items);
    if (rc != 0) {
        melon_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

static int bench_recommend(melon_session *s) {
    melon_err err;
    enum { ONE_ROUNDS = 101 };
    double t[ONE_ROUNDS];
    int64_t items[10 * BATCH_USERS];
    float scores[10 * BATCH_USERS];
    int n, popular;
    /* the floor: the product of one user row with the item table alone */
    double floor_t[ONE_ROUNDS];
    const melon_model *m = &s->model;
    float *product = malloc((size_t)m->n_items * sizeof *product);
    if (!product) return 1;
    for (int r = 0; r < ONE_ROUNDS; r++) {
        int64_t user = ((int64_t)r * 104729) % BIG_USERS;
        double t0 = now();
        if (melon_recommend_id(s, user, 10, 0, items, scores, &n, &popular,
                               &err) != 0) {
            free(product);
            return fail("recommend", &err);
        }
        t[r] = now() - t0;
        if (n != 10 || popular) {
            fprintf(stderr, "bench_session: user %lld got %d items%s\n",
                    (long long)user, n, popular ? " (popular)" : "");
            free(product);
            return 1;
        }
        t0 = now();
        cblas_sgemv(CblasRowMajor, CblasNoTrans, m->n_items, m->cfg.dim, 1.0f,
                    m->tensor[1].value, m->cfg.dim,
                    m->tensor[0].value + (size_t)r * (size_t)m->cfg.dim, 1,
                    0.0f, product, 1);
        floor_t[r] = now() - t0;
    }
    free(product);
    double one = melon_median(t, ONE_ROUNDS), bare = melon_median(floor_t, ONE_ROUNDS);
    printf("recommend, one user: top 10 over %d items (d = 64): %.3f ms "
           "(median of %d users); the bare product of a user row with the "
           "item table %.3f ms: %.2fx\n", BIG_ITEMS, 1e3 * one, ONE_ROUNDS,
           1e3 * bare, one / bare);

    int64_t users[BATCH_USERS];
    int32_t counts[BATCH_USERS];
    uint8_t flags[BATCH_USERS];
    double tb[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        for (int k = 0; k < BATCH_USERS; k++)
            users[k] = ((int64_t)(r * BATCH_USERS + k) * 7907) % BIG_USERS;
        double t0 = now();
        if (melon_recommend_batch_ids(s, users, BATCH_USERS, 10, 0, items,
                                      scores, counts, flags, &err) != 0)
            return fail("recommend batch", &err);
        tb[r] = now() - t0;
    }
    double batch = melon_median(tb, ROUNDS);
    printf("recommend, %d users in one batch call: %.1f ms (%.3f ms a user; "
           "median of %d calls)\n", BATCH_USERS, 1e3 * batch,
           1e3 * batch / BATCH_USERS, ROUNDS);
    return 0;
}

/* The I/O floor: size bytes written to path and synced, then read back. */
static int plain_io(const char *path, size_t size, double *write_s,
                    double *read_s) {
    enum { CHUNK = 1 << 22 };
    char *buf = malloc(CHUNK);
    if (!buf) return -1;
    for (size_t k = 0; k < CHUNK; k++) buf[k] = (char)(k * 2654435761u >> 24);
    double t0 = now();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int ok = fd >= 0;
    for (size_t at = 0; ok && at < size; at += CHUNK) {
        size_t len = size - at < CHUNK ? size - at : CHUNK;
        ok = write(fd, buf, len) == (ssize_t)len;
    }
    ok = ok && fsync(fd) == 0;
    if (fd >= 0) close(fd);
    *write_s = now() - t0;
    t0 = now();
    fd = ok ? open(path, O_RDONLY) : -1;
    ok = fd >= 0;
    for (ssize_t got = 1; ok && got > 0;) {
        got = read(fd, buf, CHUNK);
        ok = got >= 0;
    }
    if (fd >= 0) close(fd);
    *read_s = now() - t0;
    unlink(path);
    free(buf);
    return ok ? 0 : -1;
}

static int bench_checkpoint(melon_session *s) {
    melon_err err;
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/bench-session-%d.ckpt",
             dir && dir[0] ? dir : "/tmp", (int)getpid());
    enum { CK_ROUNDS = 3 };
    double ts[CK_ROUNDS], tl[CK_ROUNDS], tw[CK_ROUNDS], tr[CK_ROUNDS];
    char plain[4200];
    snprintf(plain, sizeof plain, "%s.plain", path);
    size_t size = 0;
    int rc = 0;
    for (int r = 0; r < CK_ROUNDS && rc == 0; r++) {
        double t0 = now();
        if (melon_save(s, path, &err) != 0) {
            rc = fail(path, &err);
            break;
        }
        ts[r] = now() - t0;
        melon_session *loaded;
        t0 = now();
        if (melon_open(&loaded, path, &err) != 0) {
            rc = fail(path, &err);
            break;
        }
        tl[r] = now() - t0;
        melon_free(loaded);
        struct stat st;
        if (stat(path, &st) != 0 || plain_io(plain, (size_t)st.st_size,
                                             &tw[r], &tr[r]) != 0) {
            fprintf(stderr, "bench_session: %s: plain I/O failed\n", plain);
            rc = 1;
        }
        size = (size_t)st.st_size;
    }
    unlink(path);
    if (rc != 0) return rc;
    double save = melon_median(ts, CK_ROUNDS), load = melon_median(tl, CK_ROUNDS);
    double w = melon_median(tw, CK_ROUNDS), rd = melon_median(tr, CK_ROUNDS);
    double mb = (double)size / 1e6;
    printf("checkpoint of %d users, %d items, d = 64, Adam moments: %.0f MB "
           "in %s; median of %d\n", BIG_USERS, BIG_ITEMS, mb,
           dir && dir[0] ? dir : "/tmp", CK_ROUNDS);
    printf("  melon_save %.2f s (%.0f MB/s, synced); writing as many bytes and "
           "syncing %.2f s: %.2fx\n", save, mb / save, w, save / w);
    printf("  melon_open %.2f s (%.0f MB/s); reading the file back %.2f s: "
           "%.2fx\n", load, mb / load, rd, load / rd);
    return 0;
}

/* ---- 3: observe against the runner ---- */

/* The data file's events whose users are in the past of its split: the
 * strategies other than Default take no user first seen online. Users whose
 * first event falls in the online part are dropped until none is left
 * (dropping events moves the split). The result is written as a CSV. */
static int write_known_users_stream(const melon_stream *st, int bs,
                                    double train_ratio, const char *path,
                                    melon_err *err) {
    uint8_t *drop = calloc((size_t)st->n_users, 1);
    size_t *first = malloc((size_t)st->n_users * sizeof *first);
    if (!drop || !first) {
        free(drop);
        free(first);
        return melon_fail(err, "out of memory");
    }
    for (int changed = 1; changed;) {
        changed = 0;
        size_t kept = 0;
        for (int32_t u = 0; u < st->n_users; u++) first[u] = SIZE_MAX;
        for (size_t p = 0; p < st->n; p++)
            if (!drop[st->user[p]]) {
                if (first[st->user[p]] == SIZE_MAX) first[st->user[p]] = kept;
                kept++;
            }
        melon_split split;
        if (melon_split_make(&split, kept, bs, train_ratio, err) != 0) {
            free(drop);
            free(first);
            return -1;
        }
        size_t past = melon_batch_begin(&split, split.n_past);
        for (int32_t u = 0; u < st->n_users; u++)
            if (!drop[u] && first[u] != SIZE_MAX && first[u] >= past) {
                drop[u] = 1;
                changed = 1;
            }
    }
    FILE *f = fopen(path, "w");
    int rc = f ? 0 : melon_fail(err, "%s: cannot create", path);
    if (f) {
        fprintf(f, "user_id,item_id,timestamp\n");
        for (size_t p = 0; p < st->n; p++)
            if (!drop[st->user[p]])
                fprintf(f, "%s,%s,%.17g\n", st->user_name[st->user[p]],
                        st->item_name[st->item[p]], st->time[p]);
        if (fclose(f) != 0) rc = melon_fail(err, "%s: cannot write", path);
    }
    free(drop);
    free(first);
    return rc;
}

typedef struct {
    double batch;      /* mean seconds a batch */
    double events_s;
} observe_figure;

/* A session with the run's settings, the catalogue declared, pre-trained
 * on the past and fed the online stream one batch per observe call. */
static int observe_once(const char *strategy, int evaluate,
                        const melon_stream *st, size_t past, int bs,
                        observe_figure *out, melon_err *err) {
    char strategy_setting[64], eval_setting[32], bs_setting[32];
    snprintf(strategy_setting, sizeof strategy_setting, "strategy=%s", strategy);
    snprintf(eval_setting, sizeof eval_setting, "evaluate=%d", evaluate);
    snprintf(bs_setting, sizeof bs_setting, "batch-size=%d", bs);
    const char *settings[] = {"model=bpr", strategy_setting, "seed=1",
                              "epochs=1", eval_setting, bs_setting};
    melon_session *s;
    if (melon_create(&s, settings, sizeof settings / sizeof *settings, err) != 0)
        return -1;
    size_t n = st->n;
    int64_t *users = malloc(n * sizeof *users), *items = malloc(n * sizeof *items);
    int32_t *ranks = malloc((size_t)bs * sizeof *ranks);
    int rc = users && items && ranks ? 0 : melon_fail(err, "out of memory");
    for (size_t k = 0; rc == 0 && k < n; k++) {
        users[k] = st->user[k];
        items[k] = st->item[k];
    }
    /* the items in the stream's order, which are its integer ids */
    int64_t *catalogue = rc == 0 ? malloc((size_t)st->n_items * sizeof *catalogue) : NULL;
    if (rc == 0 && !catalogue) rc = melon_fail(err, "out of memory");
    for (int32_t i = 0; rc == 0 && i < st->n_items; i++) catalogue[i] = i;
    if (rc == 0) rc = melon_declare_item_ids(s, catalogue, (size_t)st->n_items, err);
    free(catalogue);
    if (rc == 0) rc = melon_pretrain_ids(s, users, items, st->time, past, err);
    size_t n_batches = (n - past) / (size_t)bs;
    double t0 = now();
    for (size_t b = 0; rc == 0 && b < n_batches; b++) {
        size_t at = past + b * (size_t)bs;
        rc = melon_observe_ids(s, users + at, items + at, st->time + at,
                               (size_t)bs, ranks, err);
    }
    double total = now() - t0;
    if (rc == 0) {
        out->batch = total / (double)n_batches;
        out->events_s = (double)(n_batches * (size_t)bs) / total;
    }
    free(ranks);
    free(users);
    free(items);
    melon_free(s);
    return rc;
}

/* `melon run`'s runner on the same stream: the wall time of
 * its online part (everything after pre-training: each batch's meta step,
 * ranking, update and bookkeeping) per batch, and of its updates alone. */
static int run_once(const char *strategy, const melon_stream *st, int bs,
                    double *batch, double *update, melon_err *err) {
    melon_config cfg;
    melon_config_default(&cfg);
    char bs_text[32];
    snprintf(bs_text, sizeof bs_text, "%d", bs);
    const char *settings[][2] = {{"model", "bpr"}, {"strategy", strategy},
                                 {"seed", "1"}, {"epochs", "1"},
                                 {"batch-size", bs_text}};
    for (size_t k = 0; k < sizeof settings / sizeof *settings; k++)
        if (melon_config_set(&cfg, settings[k][0], settings[k][1], err) != 0) {
            melon_config_free(&cfg);
            return -1;
        }
    cfg.run.progress = 0;
    cfg.run.quiet = 1;
    melon_run_result res;
    memset(&res, 0, sizeof res);
    int rc = melon_run_stream(&cfg, st, &res, err);
    melon_config_free(&cfg);
    if (rc != 0) {
        melon_run_result_free(&res);
        return -1;
    }
    double sum = 0.0;
    for (size_t b = 0; b < res.n_test_batches; b++) sum += res.update_seconds[b];
    *batch = (res.total_s - res.load_s - res.pretrain_s) / (double)res.n_test_batches;
    *update = sum / (double)res.n_test_batches;
    melon_run_result_free(&res);
    return 0;
}

static int bench_observe(const char *data) {
    melon_config cfg;
    melon_stream full, st;
    if (bench_open_stream(&cfg, data, 1, 0, &full, "bench_session") != 0) return 1;
    melon_err err;
    int bs = cfg.run.batch_size;
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/bench-session-%d.csv",
             dir && dir[0] ? dir : "/tmp", (int)getpid());
    int rc = write_known_users_stream(&full, bs, cfg.run.train_ratio, path, &err);
    size_t n_full = full.n;
    melon_stream_free(&full);
    if (rc != 0) return fail(path, &err);
    rc = bench_open_stream(&cfg, path, 1, 0, &st, "bench_session");
    unlink(path);
    if (rc != 0) return 1;
    melon_split split;
    if (melon_split_make(&split, st.n, bs, cfg.run.train_ratio, &err) != 0)
        return fail(data, &err);
    size_t past = melon_batch_begin(&split, split.n_past);
    enum { RUNS = 3 };
    printf("observe: %s, the %zu of %zu events whose users are in the past "
           "(%zu past, pre-trained 1 epoch; %zu online), batches of %d, BPR-MF "
           "d = %d, %d threads; median of %d runs\n", data, st.n, n_full, past,
           st.n - past, bs, cfg.model.dim, omp_get_max_threads(), RUNS);
    static const char *const strategies[] = {"default", "melon"};
    for (int k = 0; k < 2; k++) {
        double eps[RUNS], eps_plain[RUNS], batch[RUNS], run_batch[RUNS];
        double ratio[RUNS], update[RUNS];
        for (int r = 0; r < RUNS; r++) {
            observe_figure with, without;
            if (observe_once(strategies[k], 1, &st, past, bs, &with, &err) != 0 ||
                observe_once(strategies[k], 0, &st, past, bs, &without, &err) != 0 ||
                run_once(strategies[k], &st, bs, &run_batch[r], &update[r], &err) != 0) {
                melon_stream_free(&st);
                return fail(strategies[k], &err);
            }
            eps[r] = with.events_s;
            eps_plain[r] = without.events_s;
            batch[r] = with.batch;
            ratio[r] = with.batch / run_batch[r];
        }
        printf("  %-8s observe %.0f events/s, %.2f ms a batch with each event "
               "ranked; melon run %.2f ms a batch (%.2f ms of it the update): "
               "observe %.3fx; without ranking observe takes %.0f events/s\n",
               strategies[k], melon_median(eps, RUNS), 1e3 * melon_median(batch, RUNS),
               1e3 * melon_median(run_batch, RUNS), 1e3 * melon_median(update, RUNS),
               melon_median(ratio, RUNS), melon_median(eps_plain, RUNS));
    }
    melon_stream_free(&st);
    return 0;
}

int main(int argc, char **argv) {
    /* MELON_BENCH_PARTS: any of "recommend checkpoint observe" (all by
     * default), to time or profile one part */
    const char *parts = getenv("MELON_BENCH_PARTS");
    if (!parts || !parts[0]) parts = "recommend checkpoint observe";
    const char *data = bench_data_path(argc > 1 ? argv[1] : NULL);
    int rc = 0;
    if (strstr(parts, "recommend") || strstr(parts, "checkpoint")) {
        melon_err err;
        melon_session *s;
        double t0 = now();
        if (build_large(&s, &err) != 0)
            return fail("building the large session", &err);
        printf("large session: %d users, %d items, d = 64, built in %.1f s\n",
               BIG_USERS, BIG_ITEMS, now() - t0);
        if (strstr(parts, "recommend")) rc = bench_recommend(s);
        if (rc == 0 && strstr(parts, "checkpoint")) rc = bench_checkpoint(s);
        melon_free(s);
    }
    if (rc == 0 && strstr(parts, "observe")) rc = bench_observe(data);
    return rc;
}
