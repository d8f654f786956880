/* The library's sessions (include/melon/melon.h): settings, bad input,
 * the stream with its ranks, recommendations, growing tables, and
 * checkpoints that resume exactly and refuse damaged files. */
#include "test_support.h"

#include "core/float_mode.h"
#include "melon/melon.h"
#include "melon/model.h"
#include "eval/runner.h"
#include "update/strategy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_ITEMS 300
#define N_EVENTS 2000

static melon_session *create(const char *model, const char *strategy) {
    char m[64], s[64];
    snprintf(m, sizeof m, "model=%s", model);
    snprintf(s, sizeof s, "strategy=%s", strategy);
    const char *settings[] = {m, s, "batch-size=64", "epochs=2", "dim=8",
                              "threads=2", "seed=1"};
    melon_session *session = NULL;
    melon_err err = {{0}};
    int rc = melon_create(&session, settings, 7, &err);
    if (rc != 0) fail_msg("melon_create: %s", err.msg);
    return session;
}

static void declare_catalogue(melon_session *s) {
    int64_t ids[N_ITEMS];
    for (int i = 0; i < N_ITEMS; i++) ids[i] = i;
    melon_err err;
    assert_int_equal(melon_declare_item_ids(s, ids, N_ITEMS, &err), 0);
}

static void test_settings(void **state) {
    (void)state;
    melon_session *s = NULL;
    melon_err err;
    const char *unknown[] = {"model=bpr", "colour=blue"};
    assert_int_equal(melon_create(&s, unknown, 2, &err), -1);
    assert_null(s);
    assert_non_null(strstr(err.msg, "colour"));
    const char *bad[] = {"batch-size=zero"};
    assert_int_equal(melon_create(&s, bad, 1, &err), -1);
    assert_non_null(strstr(err.msg, "batch-size"));
    assert_non_null(strstr(err.msg, "zero"));
    const char *no_eq[] = {"model"};
    assert_int_equal(melon_create(&s, no_eq, 1, &err), -1);
    assert_non_null(strstr(err.msg, "name=value"));
    const char *sml_ncf[] = {"model=ncf", "strategy=sml"};
    assert_int_equal(melon_create(&s, sml_ncf, 2, &err), MELON_NOT_APPLICABLE);
    s = create("bpr", "default");
    char value[64];
    assert_int_equal(melon_get_setting(s, "batch-size", value, sizeof value, &err), 0);
    assert_string_equal(value, "64");
    assert_int_equal(melon_get_setting(s, "strategy", value, sizeof value, &err), 0);
    assert_string_equal(value, "default");
    assert_int_equal(melon_get_setting(s, "nope", value, sizeof value, &err), -1);
    melon_free(s);
    /* strategy options by name, checked against their ranges; where a run
     * writes is not a setting of a session */
    const char *melon_opts[] = {"model=bpr", "strategy=melon", "melon-variant=official",
                                "melon-meta-lr=0.0005", "max-edge=7"};
    assert_int_equal(melon_create(&s, melon_opts, 5, &err), 0);
    assert_int_equal(melon_get_setting(s, "melon-meta-lr", value, sizeof value, &err), 0);
    assert_string_equal(value, "0.0005");
    assert_int_equal(melon_get_setting(s, "max-edge", value, sizeof value, &err), 0);
    assert_string_equal(value, "7");
    /* a checkpoint keeps them */
    const char *path = test_tmp_path("settings.ckpt");
    assert_int_equal(melon_save(s, path, &err), 0);
    melon_free(s);
    assert_int_equal(melon_open(&s, path, &err), 0);
    assert_int_equal(melon_get_setting(s, "melon-variant", value, sizeof value, &err), 0);
    assert_string_equal(value, "official");
    assert_int_equal(melon_get_setting(s, "melon-meta-lr", value, sizeof value, &err), 0);
    assert_string_equal(value, "0.0005");
    melon_free(s);
    const char *out_of_range[] = {"strategy=melon", "melon-meta-lr=-1"};
    assert_int_equal(melon_create(&s, out_of_range, 2, &err), -1);
    assert_non_null(strstr(err.msg, "melon-meta-lr"));
    const char *output[] = {"out=r.json"};
    assert_int_equal(melon_create(&s, output, 1, &err), -1);
    assert_non_null(strstr(err.msg, "'out'"));
}

static void assert_stats_equal(const melon_stats *a, const melon_stats *b) {
    assert_int_equal(a->users, b->users);
    assert_int_equal(a->items, b->items);
    assert_int_equal(a->observed, b->observed);
    assert_int_equal(a->pending, b->pending);
    assert_int_equal(a->batches, b->batches);
}

/* Each bad event is refused with a message naming it, and the session
 * holds exactly what it held before. */
static void test_bad_input(void **state) {
    (void)state;
    melon_err err;
    melon_stats before, after;
    assert_int_equal(melon_observe(NULL, "u", "i", 0, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "NULL"));
    assert_int_equal(melon_recommend(NULL, "u", 3, 0, NULL, NULL, NULL, NULL, &err), -1);

    melon_session *s = create("bpr", "default");
    assert_int_equal(melon_observe(s, "u1", "i1", 0, NULL, &err), 0);
    assert_int_equal(melon_get_stats(s, &before, &err), 0);

    assert_int_equal(melon_observe(s, "", "i1", 0, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "user id of event 0 is empty"));
    const char *users[] = {"u2", "u\0x"};
    const char *items[] = {"i2", "i3"};
    size_t lens[] = {2, 3};
    assert_int_equal(melon_observe_names(s, users, lens, items, NULL, NULL, 2,
                                         NULL, &err), -1);
    assert_non_null(strstr(err.msg, "event 1 holds a NUL byte at offset 1"));
    char long_id[MELON_ID_MAX + 2];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    assert_int_equal(melon_observe(s, "u2", long_id, 0, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "257 bytes long"));
    assert_int_equal(melon_observe(s, "u2", "i2", NAN, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "time of event 0"));
    int64_t uid[2] = {5, 6}, iid[2] = {7, 8};
    double times[2] = {1.0, INFINITY};
    assert_int_equal(melon_observe_ids(s, uid, iid, times, 2, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "time of event 1"));
    assert_int_equal(melon_get_stats(s, &after, &err), 0);
    assert_stats_equal(&before, &after);
    /* pre-training after the stream has started */
    assert_int_equal(melon_pretrain_ids(s, uid, iid, NULL, 2, &err), -1);
    assert_non_null(strstr(err.msg, "once"));
    melon_free(s);
}

/* The stream: ranks come when a batch is full, flush runs a short batch,
 * the callback sees every rank once, in order. */
typedef struct {
    uint64_t next;
    int calls;
} rank_log;

static void on_rank(void *ctx, uint64_t seq, int32_t rank) {
    rank_log *log = ctx;
    assert_int_equal(seq, log->next);
    assert_true(rank >= 1 && rank <= 100);
    log->next++;
    log->calls++;
}

static void test_stream_and_recommend(void **state) {
    (void)state;
    int64_t *users = malloc(N_EVENTS * sizeof *users);
    int64_t *items = malloc(N_EVENTS * sizeof *items);
    test_session_stream(users, items, N_EVENTS, N_ITEMS);
    melon_session *s = create("bpr", "default");
    declare_catalogue(s);
    melon_err err;
    assert_int_equal(melon_pretrain_ids(s, users, items, NULL, 1280, &err), 0);
    rank_log log = {0, 0};
    melon_on_rank(s, on_rank, &log);
    int32_t ranks[100];
    /* 100 events: one full batch of 64 runs, 36 wait */
    assert_int_equal(melon_observe_ids(s, users + 1280, items + 1280, NULL, 100,
                                       ranks, &err), 0);
    for (int k = 0; k < 64; k++) assert_true(ranks[k] >= 1 && ranks[k] <= 100);
    for (int k = 64; k < 100; k++) assert_int_equal(ranks[k], MELON_RANK_PENDING);
    melon_stats st;
    assert_int_equal(melon_get_stats(s, &st, &err), 0);
    assert_int_equal(st.observed, 100);
    assert_int_equal(st.pending, 36);
    assert_int_equal(st.batches, 1);
    assert_int_equal(st.items, N_ITEMS);
    assert_int_equal(log.calls, 64);
    int32_t flushed[36];
    assert_int_equal(melon_flush(s, flushed, &err), 0);
    for (int k = 0; k < 36; k++) assert_true(flushed[k] >= 1);
    assert_int_equal(log.calls, 100);
    assert_int_equal(melon_get_stats(s, &st, &err), 0);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.evaluated, 100);
    assert_true(st.hr10 >= 0 && st.hr10 <= 1);

    /* a known user: model scores, the user's items left out */
    int64_t top[10];
    float scores[10];
    int n, popular;
    assert_int_equal(melon_recommend_id(s, users[0], 10, 0, top, scores, &n,
                                        &popular, &err), 0);
    assert_int_equal(n, 10);
    assert_int_equal(popular, 0);
    size_t total;
    int64_t history[2000];
    assert_int_equal(melon_user_items_id(s, users[0], history, 2000, &total, &err), 0);
    assert_true(total > 0);
    for (int k = 0; k < n; k++) {
        if (k) assert_true(scores[k - 1] >= scores[k]);
        for (size_t h = 0; h < total; h++) assert_true(top[k] != history[h]);
    }
    /* with MELON_INCLUDE_SEEN the best item may be a seen one; the scores
     * never drop below the unseen best */
    int64_t all_top[10];
    float all_scores[10];
    assert_int_equal(melon_recommend_id(s, users[0], 10, MELON_INCLUDE_SEEN,
                                        all_top, all_scores, &n, &popular, &err), 0);
    assert_true(all_scores[0] >= scores[0]);
    /* an unknown user: popularity, flagged */
    assert_int_equal(melon_recommend(s, "stranger", 5, 0, NULL, scores, &n,
                                     &popular, &err), -1);
    const char *names[5];
    assert_int_equal(melon_recommend(s, "stranger", 5, 0, names, scores, &n,
                                     &popular, &err), 0);
    assert_int_equal(popular, 1);
    assert_int_equal(n, 5);
    for (int k = 1; k < n; k++) assert_true(scores[k - 1] >= scores[k]);
    /* the batch form gives what the single calls give */
    int64_t batch_users[3] = {users[0], 123456, users[5]};
    int64_t batch_items[3 * 10];
    float batch_scores[3 * 10];
    int32_t counts[3];
    uint8_t pops[3];
    assert_int_equal(melon_recommend_batch_ids(s, batch_users, 3, 10, 0,
                                               batch_items, batch_scores, counts,
                                               pops, &err), 0);
    assert_int_equal(pops[0], 0);
    assert_int_equal(pops[1], 1);
    for (int r = 0; r < 3; r++) {
        assert_int_equal(melon_recommend_id(s, batch_users[r], 10, 0, top,
                                            scores, &n, &popular, &err), 0);
        assert_int_equal(counts[r], n);
        assert_memory_equal(batch_items + r * 10, top, (size_t)n * sizeof *top);
        for (int k = 0; k < n; k++) assert_close(batch_scores[r * 10 + k], scores[k], 1e-5);
    }
    melon_free(s);
    free(users);
    free(items);
}

/* A table grown in steps holds what one created at the full size holds. */
static void test_model_growth(void **state) {
    (void)state;
    const char *names[] = {"bpr", "ncf"};
    for (int k = 0; k < 2; k++) {
        melon_model grown, full;
        melon_err err;
        assert_int_equal(melon_model_create(&grown, names[k], 3, 2, NULL, 8, &err), 0);
        assert_int_equal(melon_model_grow(&grown, 10, 2, &err), 0);
        assert_int_equal(melon_model_grow(&grown, 40, 77, &err), 0);
        assert_int_equal(melon_model_create(&full, names[k], 40, 77, NULL, 8, &err), 0);
        for (int t = 0; t < full.n_tensors; t++) {
            assert_int_equal(grown.tensor[t].rows, full.tensor[t].rows);
            assert_memory_equal(grown.tensor[t].value, full.tensor[t].value,
                                (size_t)full.tensor[t].rows * full.tensor[t].cols *
                                    sizeof(float));
        }
        melon_model_free(&grown);
        melon_model_free(&full);
    }
}

typedef struct {
    int32_t *rank;
    size_t n;
} rank_record;

static void record_rank(void *ctx, uint64_t seq, int32_t rank) {
    rank_record *log = ctx;
    if (seq < log->n) log->rank[seq] = rank;
}

/* A session fed `melon run`'s stream learns what the run learns, and with
 * evaluation negatives drawn as a live system can (eval-negatives=before)
 * ranks every event as the run does, however the stream is cut into
 * calls (the catalogue declared up front). */
static void test_live_ranks_match_run(void **state) {
    (void)state;
    int64_t *users = malloc(N_EVENTS * sizeof *users);
    int64_t *items = malloc(N_EVENTS * sizeof *items);
    test_session_stream(users, items, N_EVENTS, N_ITEMS);
    const char *path = test_tmp_path("session_stream.tsv");
    FILE *f = fopen(path, "w");
    for (int t = 0; t < N_EVENTS; t++)
        fprintf(f, "%lld\t%lld\t%d\n", (long long)users[t], (long long)items[t], t);
    fclose(f);
    const char *models[] = {"bpr", "ncf"};
    for (int mk = 0; mk < 2; mk++) {
        melon_config cfg;
        melon_config_default(&cfg);
        cfg.data.files = path;
        cfg.run.batch_size = 64;
        cfg.run.epochs = 2;
        cfg.run.progress = 0;
        cfg.run.threads = 2;
        cfg.model.name = models[mk];
        cfg.model.dim = 8;
        /* negatives as a live system can draw them */
        cfg.run.eval_negatives = MELON_EVAL_BEFORE;
        melon_run_result res;
        melon_err err;
        assert_int_equal(melon_run(&cfg, &res, &err), 0);

        melon_session *s = create(models[mk], "default");
        /* the catalogue in the file's order of first appearance */
        int64_t order[N_ITEMS];
        int seen[N_ITEMS] = {0}, n_order = 0;
        for (int t = 0; t < N_EVENTS; t++)
            if (!seen[items[t]]++) order[n_order++] = items[t];
        assert_int_equal(melon_declare_item_ids(s, order, (size_t)n_order, &err), 0);
        size_t past = (size_t)(res.n_batches - res.n_test_batches) * 64;
        assert_int_equal(melon_pretrain_ids(s, users, items, NULL, past, &err), 0);
        for (size_t t = 0; t < res.n_test_batches; t++) {
            size_t begin = past + t * 64;
            size_t n = N_EVENTS - begin < 64 ? N_EVENTS - begin : 64;
            assert_int_equal(melon_observe_ids(s, users + begin, items + begin,
                                               NULL, n, NULL, &err), 0);
            if (n < 64) assert_int_equal(melon_flush(s, NULL, &err), 0);
            melon_stats st;
            assert_int_equal(melon_get_stats(s, &st, &err), 0);
            assert_int_equal(st.batches, (int64_t)t + 1);
            if (st.last_loss != res.train_loss[t])
                fail_msg("%s batch %zu: session loss %.9g, run loss %.9g",
                         models[mk], t, st.last_loss, res.train_loss[t]);
        }
        melon_free(s);
        /* the same stream in calls of 300 events, across batch ends: every
         * batch's ranks give the run's per-batch metrics */
        s = create(models[mk], "default");
        assert_int_equal(melon_declare_item_ids(s, order, (size_t)n_order, &err), 0);
        assert_int_equal(melon_pretrain_ids(s, users, items, NULL, past, &err), 0);
        size_t n_online = N_EVENTS - past;
        rank_record log = {calloc(n_online, sizeof(int32_t)), n_online};
        melon_on_rank(s, record_rank, &log);
        for (size_t at = past; at < N_EVENTS; at += 300) {
            size_t n = N_EVENTS - at < 300 ? N_EVENTS - at : 300;
            assert_int_equal(melon_observe_ids(s, users + at, items + at, NULL, n,
                                               NULL, &err), 0);
        }
        assert_int_equal(melon_flush(s, NULL, &err), 0);
        for (size_t t = 0; t < res.n_test_batches; t++) {
            melon_metric_sums sums;
            melon_metric_sums_clear(&sums);
            for (size_t k = t * 64; k < n_online && k < (t + 1) * 64; k++)
                if (log.rank[k] > 0) melon_metric_sums_add_rank(&sums, log.rank[k]);
            const melon_metric_sums *want = &res.per_batch[t];
            if (sums.count != want->count ||
                memcmp(sums.hr, want->hr, sizeof sums.hr) != 0 ||
                memcmp(sums.ndcg, want->ndcg, sizeof sums.ndcg) != 0 ||
                memcmp(sums.mrr, want->mrr, sizeof sums.mrr) != 0)
                fail_msg("%s batch %zu: live HR@10 %g of %zu, run %g of %zu",
                         models[mk], t, sums.hr[1], sums.count, want->hr[1],
                         want->count);
        }
        free(log.rank);
        melon_run_result_free(&res);
        melon_free(s);
    }
    free(users);
    free(items);
}

/* The strategy's state file of a strategy on a model, as bytes. */
static char *strategy_state(const melon_strategy *s, size_t *size) {
    const char *path = test_tmp_path("grown.state");
    melon_err err;
    if (melon_strategy_save(s, path, &err) != 0) fail_msg("%s", err.msg);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fclose(f);
    return test_read_file(path);
}

/* A strategy whose model grew in steps holds what one created at the full
 * size holds (learning rates, moments, every per-row state its file
 * keeps), for every strategy and form on both models. */
static void test_strategy_growth(void **state) {
    (void)state;
    const char *models[] = {"bpr", "ncf"};
    for (int mk = 0; mk < 2; mk++)
        for (int form = 0; melon_strategy_names[form / 2]; form++) {
            const char *name = melon_strategy_names[form / 2];
            int official = form % 2;
            if (official && strncmp(name, "melon", 5) != 0) continue;
            melon_strategy_config sc;
            melon_strategy_config_default(&sc);
            if (official) sc.melon.variant = MELON_VARIANT_OFFICIAL;
            melon_optimizer_config oc;
            melon_optimizer_config_default(&oc);
            melon_run_shape shape = {8, 1, 1};
            melon_model grown, full;
            melon_strategy sg, sf;
            melon_err err;
            assert_int_equal(melon_model_create(&grown, models[mk], 3, 2, NULL, 16, &err), 0);
            assert_int_equal(melon_model_create(&full, models[mk], 40, 77, NULL, 16, &err), 0);
            int rc = melon_strategy_create(&sf, name, &full, &sc, &oc, &shape, &err);
            if (rc == MELON_NOT_APPLICABLE) {
                melon_model_free(&grown);
                melon_model_free(&full);
                continue;
            }
            if (rc != 0) fail_msg("%s on %s: %s", name, models[mk], err.msg);
            assert_int_equal(melon_strategy_create(&sg, name, &grown, &sc, &oc, &shape, &err), 0);
            if (!sg.ops->grow) fail_msg("%s cannot grow", name);
            const int32_t steps[2][2] = {{10, 2}, {40, 77}};
            for (int k = 0; k < 2; k++)
                if (melon_model_grow(&grown, steps[k][0], steps[k][1], &err) != 0 ||
                    sg.ops->grow(&sg, &grown, &err) != 0)
                    fail_msg("%s on %s: %s", name, models[mk], err.msg);
            size_t n_grown, n_full;
            char *a = strategy_state(&sg, &n_grown), *b = strategy_state(&sf, &n_full);
            if (n_grown != n_full || memcmp(a, b, n_full) != 0)
                fail_msg("%s%s on %s: grown state (%zu bytes) differs from the "
                         "full-size one (%zu bytes)", name,
                         official ? " official" : "", models[mk], n_grown, n_full);
            free(a);
            free(b);
            melon_strategy_free(&sg);
            melon_strategy_free(&sf);
            melon_model_free(&grown);
            melon_model_free(&full);
        }
}

/* A call that brings more new users than memory allows fails as a whole:
 * none of its events is taken, none of its ids is known, and the session
 * goes on as if the call had not been made. Run in a child process whose
 * address space is capped (not under AddressSanitizer, which reserves
 * terabytes of it). */
static void failed_call_child(void) {
    const char *settings[] = {"model=bpr", "strategy=default", "batch-size=64",
                              "dim=64", "threads=1", "seed=1"};
    melon_session *s = NULL;
    melon_err err;
    if (melon_create(&s, settings, 6, &err) != 0) _exit(10);
    int64_t users[100], items[100];
    for (int k = 0; k < 100; k++) {
        users[k] = k % 10;
        items[k] = k % 30;
    }
    if (melon_pretrain_ids(s, users, items, NULL, 100, &err) != 0) _exit(11);
    melon_stats before, after;
    melon_get_stats(s, &before, &err);
    /* 400,000 new users: tables and moments of about 400 MB */
    size_t n = 400000;
    int64_t *many_users = malloc(n * sizeof *many_users);
    int64_t *many_items = malloc(n * sizeof *many_items);
    if (!many_users || !many_items) _exit(12);
    for (size_t k = 0; k < n; k++) {
        many_users[k] = 1000 + (int64_t)k;
        many_items[k] = (int64_t)(k % 30);
    }
    struct rlimit cap = {(rlim_t)256 << 20, (rlim_t)256 << 20};
    struct rlimit was;
    getrlimit(RLIMIT_AS, &was);
    FILE *maps = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!maps || fscanf(maps, "%lu", &pages) != 1) _exit(13);
    fclose(maps);
    cap.rlim_cur = cap.rlim_max = (rlim_t)pages * 4096 + ((rlim_t)128 << 20);
    if (setrlimit(RLIMIT_AS, &cap) != 0) _exit(14);
    if (melon_observe_ids(s, many_users, many_items, NULL, n, NULL, &err) != -1)
        _exit(15);
    if (!strstr(err.msg, "out of memory")) {
        fprintf(stderr, "message: %s\n", err.msg);
        _exit(16);
    }
    melon_get_stats(s, &after, &err);
    if (after.users != before.users || after.items != before.items ||
        after.observed != before.observed || after.pending != before.pending)
        _exit(17);
    int64_t top[5];
    float scores[5];
    int count, popular;
    /* an id of the failed call is unknown: popularity */
    if (melon_recommend_id(s, 1000, 5, 0, top, scores, &count, &popular, &err) != 0 ||
        !popular)
        _exit(18);
    /* the session goes on: a new user, a full batch */
    int64_t u[64], i[64];
    for (int k = 0; k < 64; k++) {
        u[k] = k % 11;
        i[k] = k % 30;
    }
    int32_t ranks[64];
    if (melon_observe_ids(s, u, i, NULL, 64, ranks, &err) != 0) {
        fprintf(stderr, "after: %s\n", err.msg);
        _exit(19);
    }
    melon_get_stats(s, &after, &err);
    if (after.users != before.users + 1 || after.batches != 1) _exit(20);
    melon_free(s);
    _exit(0);
}

static void test_failed_call_changes_nothing(void **state) {
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip();
#endif
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) failed_call_child();
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("child: %s %d", WIFEXITED(status) ? "exit" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

/* Sessions that meet users as they come learn what `melon run` learns
 * (every strategy: tests/test_slow_session_growth.c). */
static void test_live_matches_run(void **state) {
    (void)state;
    const char *none[2] = {NULL, NULL};
    const char *official[2] = {"melon-variant=official", NULL};
    test_live_matches_run_of("bpr", "default", none);
    test_live_matches_run_of("ncf", "default", none);
    test_live_matches_run_of("bpr", "metasgd", none);
    test_live_matches_run_of("bpr", "melon", official);
}

/* Two sessions, one saved and reopened halfway: the same ranks and the same
 * recommendations after. */
static void resume_matches(const char *model, const char *strategy) {
    int64_t *users = malloc(N_EVENTS * sizeof *users);
    int64_t *items = malloc(N_EVENTS * sizeof *items);
    test_session_stream(users, items, N_EVENTS, N_ITEMS);
    melon_session *a = create(model, strategy), *b = create(model, strategy);
    declare_catalogue(a);
    declare_catalogue(b);
    melon_err err;
    assert_int_equal(melon_pretrain_ids(a, users, items, NULL, 1000, &err), 0);
    assert_int_equal(melon_pretrain_ids(b, users, items, NULL, 1000, &err), 0);
    assert_int_equal(melon_observe_ids(a, users + 1000, items + 1000, NULL, 300, NULL, &err), 0);
    assert_int_equal(melon_observe_ids(b, users + 1000, items + 1000, NULL, 300, NULL, &err), 0);
    const char *path = test_tmp_path("resume.ckpt");
    assert_int_equal(melon_save(b, path, &err), 0);
    melon_free(b);
    assert_int_equal(melon_open(&b, path, &err), 0);
    int32_t ra[700], rb[700];
    assert_int_equal(melon_observe_ids(a, users + 1300, items + 1300, NULL, 700, ra, &err), 0);
    assert_int_equal(melon_observe_ids(b, users + 1300, items + 1300, NULL, 700, rb, &err), 0);
    assert_memory_equal(ra, rb, sizeof ra);
    assert_int_equal(melon_flush(a, NULL, &err), 0);
    assert_int_equal(melon_flush(b, NULL, &err), 0);
    int64_t ta[10], tb[10];
    float sa[10], sb[10];
    int na, nb, pa, pb;
    assert_int_equal(melon_recommend_id(a, 7, 10, 0, ta, sa, &na, &pa, &err), 0);
    assert_int_equal(melon_recommend_id(b, 7, 10, 0, tb, sb, &nb, &pb, &err), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(ta, tb, sizeof ta);
    assert_memory_equal(sa, sb, sizeof sa);
    melon_stats st_a, st_b;
    melon_get_stats(a, &st_a, &err);
    melon_get_stats(b, &st_b, &err);
    assert_true(st_a.last_loss == st_b.last_loss);
    assert_true(st_a.hr10 == st_b.hr10);
    melon_free(a);
    melon_free(b);
    free(users);
    free(items);
}

static void test_checkpoint_resume(void **state) {
    (void)state;
    resume_matches("bpr", "default");
    resume_matches("ncf", "default");
    resume_matches("pop", "default");
}

static void write_bytes(const char *path, const char *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* Damaged checkpoints fail with a message and change nothing. */
static void test_checkpoint_damage(void **state) {
    (void)state;
    int64_t users[200], items[200];
    for (int k = 0; k < 200; k++) {
        users[k] = k % 17;
        items[k] = (k * 7) % 150;
    }
    melon_session *s = create("bpr", "default");
    melon_err err;
    assert_int_equal(melon_pretrain_ids(s, users, items, NULL, 200, &err), 0);
    const char *path = test_tmp_path("good.ckpt");
    assert_int_equal(melon_save(s, path, &err), 0);
    char *data = test_read_file(path);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    size_t size = (size_t)ftell(f);
    fclose(f);
    melon_stats before, after;
    assert_int_equal(melon_get_stats(s, &before, &err), 0);
    const char *bad = test_tmp_path("bad.ckpt");
    struct {
        const char *what, *expect;
    } cases[] = {{"truncated", "truncated"}, {"flipped", "CRC"},
                 {"version", "version"}, {"endian", "byte order"},
                 {"empty", "not a melon checkpoint"}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char *copy = malloc(size);
        memcpy(copy, data, size);
        size_t n = size;
        if (c == 0) n = size / 2;
        if (c == 1) copy[size / 2] ^= 0x10;
        if (c == 2) copy[8] = 9;
        if (c == 3) {
            char t = copy[12];
            copy[12] = copy[15];
            copy[15] = t;
        }
        if (c == 4) n = 0;
        write_bytes(bad, copy, n);
        free(copy);
        melon_session *opened = (melon_session *)1;
        assert_int_equal(melon_open(&opened, bad, &err), -1);
        assert_null(opened);
        if (!strstr(err.msg, cases[c].expect))
            fail_msg("%s: message '%s' lacks '%s'", cases[c].what, err.msg,
                     cases[c].expect);
        assert_int_equal(melon_load(s, bad, &err), -1);
        assert_int_equal(melon_get_stats(s, &after, &err), 0);
        assert_stats_equal(&before, &after);
    }
    /* another strategy's checkpoint */
    melon_session *other = create("bpr", "eals");
    assert_int_equal(melon_load(other, path, &err), -1);
    assert_non_null(strstr(err.msg, "strategy 'default'"));
    melon_free(other);
    /* a session whose opening failed is NULL, and calls on it say so */
    melon_session *none = NULL;
    assert_int_equal(melon_open(&none, bad, &err), -1);
    assert_int_equal(melon_observe(none, "u", "i", 0, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "NULL"));
    assert_int_equal(melon_load(s, path, &err), 0);
    free(data);
    melon_free(s);
}

/* The writer computes with subnormals flushed to zero, as melon run does,
 * unless ieee-subnormals is on; the caller's mode is left as it was. */
static void note_mode(void *ctx, uint64_t seq, int32_t rank) {
    (void)seq;
    (void)rank;
    int *seen = ctx;
    seen[melon_float_mode_flushes()]++;
}

static void test_float_mode(void **state) {
    (void)state;
    for (int ieee = 0; ieee < 2; ieee++) {
        char setting[32];
        snprintf(setting, sizeof setting, "ieee-subnormals=%s", ieee ? "on" : "off");
        const char *settings[] = {"model=bpr", "strategy=default",
                                  "batch-size=4", "dim=4", setting};
        melon_session *s;
        melon_err err;
        assert_int_equal(melon_create(&s, settings, 5, &err), 0);
        int seen[2] = {0, 0};
        melon_on_rank(s, note_mode, seen);
        const int64_t users[] = {1, 2, 1, 3, 2, 3, 1, 2};
        const int64_t items[] = {10, 11, 12, 10, 13, 11, 13, 12};
        assert_int_equal(melon_pretrain_ids(s, users, items, NULL, 4, &err), 0);
        assert_int_equal(melon_observe_ids(s, users + 4, items + 4, NULL, 4,
                                           NULL, &err), 0);
        assert_int_equal(seen[ieee ? 0 : 1], 4);
        assert_int_equal(seen[ieee ? 1 : 0], 0);
        assert_int_equal(melon_float_mode_flushes(), 0);
        melon_free(s);
    }
}

/* An integer id is its decimal text, at both ends of the range too. */
static void test_integer_ids(void **state) {
    (void)state;
    melon_session *s = create("bpr", "default");
    const int64_t users[] = {INT64_MIN, -1, 0, 7, 42, 1000000007, INT64_MAX};
    const int64_t items[] = {5, 5, 6, 6, 7, 7, 8};
    size_t n = sizeof users / sizeof *users;
    melon_err err;
    assert_int_equal(melon_observe_ids(s, users, items, NULL, n, NULL, &err), 0);
    melon_stats st;
    assert_int_equal(melon_get_stats(s, &st, &err), 0);
    assert_int_equal(st.users, (int64_t)n);
    for (size_t k = 0; k < n; k++) {
        char text[32];
        snprintf(text, sizeof text, "%lld", (long long)users[k]);
        const char *got[1];
        size_t total = 0;
        assert_int_equal(melon_user_items(s, text, got, 1, &total, &err), 0);
        assert_int_equal(total, 1);
        char item[32];
        snprintf(item, sizeof item, "%lld", (long long)items[k]);
        assert_string_equal(got[0], item);
    }
    melon_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_stream_and_recommend),
        cmocka_unit_test(test_model_growth),
        cmocka_unit_test(test_strategy_growth),
        cmocka_unit_test(test_failed_call_changes_nothing),
        cmocka_unit_test(test_live_matches_run),
        cmocka_unit_test(test_live_ranks_match_run),
        cmocka_unit_test(test_checkpoint_resume),
        cmocka_unit_test(test_checkpoint_damage),
        cmocka_unit_test(test_integer_ids),
        cmocka_unit_test(test_float_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
