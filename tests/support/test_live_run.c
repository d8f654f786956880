/* A live session against `melon run` on the same events: the session
 * meets its users as they come (growing its model and its strategy's
 * state), the run knows every id up front. */
#include "test_support.h"

#include "eval/runner.h"
#include "melon/melon.h"

#include <stdio.h>
#include <stdlib.h>

#define LIVE_ITEMS 300
#define LIVE_EVENTS 2000
#define LIVE_BATCH 64

/* The session stream, a third of whose later events come from users never
 * seen before (each new user has a few events). */
static void live_stream(int64_t *users, int64_t *items) {
    test_session_stream(users, items, LIVE_EVENTS, LIVE_ITEMS);
    for (int t = 1400; t < LIVE_EVENTS; t++)
        if (t % 3 == 0) users[t] += 100 + (t - 1400) / 50;
}

static melon_session *create_live(const char *model, const char *strategy,
                                  const char *const extra[2]) {
    char m[64], s[64];
    snprintf(m, sizeof m, "model=%s", model);
    snprintf(s, sizeof s, "strategy=%s", strategy);
    const char *settings[9] = {m, s, "batch-size=64", "epochs=1", "dim=8",
                               "threads=2", "seed=1"};
    size_t n = 7;
    for (int k = 0; k < 2; k++)
        if (extra[k]) settings[n++] = extra[k];
    melon_session *session = NULL;
    melon_err err = {{0}};
    if (melon_create(&session, settings, n, &err) != 0)
        fail_msg("melon_create %s %s: %s", model, strategy, err.msg);
    return session;
}

void test_live_matches_run_of(const char *model, const char *strategy,
                              const char *const extra[2]) {
    int64_t *users = malloc(LIVE_EVENTS * sizeof *users);
    int64_t *items = malloc(LIVE_EVENTS * sizeof *items);
    live_stream(users, items);
    const char *path = test_tmp_path("live_stream.tsv");
    FILE *f = fopen(path, "w");
    for (int t = 0; t < LIVE_EVENTS; t++)
        fprintf(f, "%lld\t%lld\t%d\n", (long long)users[t], (long long)items[t], t);
    fclose(f);

    melon_config cfg;
    melon_config_default(&cfg);
    melon_err err;
    cfg.data.files = path;
    cfg.run.batch_size = LIVE_BATCH;
    cfg.run.epochs = 1;
    cfg.run.progress = 0;
    cfg.run.threads = 2;
    cfg.run.strategy = strategy;
    cfg.model.name = model;
    cfg.model.dim = 8;
    for (int k = 0; k < 2; k++)
        if (extra[k] && melon_config_assign(&cfg, extra[k], &err) != 0)
            fail_msg("%s: %s", extra[k], err.msg);
    char label[160];
    snprintf(label, sizeof label, "%s %s %s %s", model, strategy,
             extra[0] ? extra[0] : "", extra[1] ? extra[1] : "");
    melon_run_result res;
    int rc = melon_run(&cfg, &res, &err);
    melon_config_free(&cfg);
    if (rc == MELON_NOT_APPLICABLE) { /* e.g. sml on NCF */
        free(users);
        free(items);
        return;
    }
    if (rc != 0) fail_msg("melon run %s: %s", label, err.msg);

    melon_session *s = create_live(model, strategy, extra);
    /* the catalogue in the file's order of first appearance, so that the
     * training negatives are drawn from the items the run has */
    int64_t order[LIVE_ITEMS];
    int seen[LIVE_ITEMS] = {0}, n_order = 0;
    for (int t = 0; t < LIVE_EVENTS; t++)
        if (!seen[items[t]]++) order[n_order++] = items[t];
    if (melon_declare_item_ids(s, order, (size_t)n_order, &err) != 0)
        fail_msg("%s: %s", label, err.msg);
    size_t past = (size_t)(res.n_batches - res.n_test_batches) * LIVE_BATCH;
    if (melon_pretrain_ids(s, users, items, NULL, past, &err) != 0)
        fail_msg("%s: pre-training: %s", label, err.msg);
    melon_stats st;
    melon_get_stats(s, &st, &err);
    int64_t users_before = st.users;
    for (size_t t = 0; t < res.n_test_batches; t++) {
        size_t begin = past + t * LIVE_BATCH;
        size_t n = LIVE_EVENTS - begin < LIVE_BATCH ? LIVE_EVENTS - begin
                                                    : LIVE_BATCH;
        if (melon_observe_ids(s, users + begin, items + begin, NULL, n, NULL,
                              &err) != 0 ||
            (n < LIVE_BATCH && melon_flush(s, NULL, &err) != 0))
            fail_msg("%s batch %zu: %s", label, t, err.msg);
        melon_get_stats(s, &st, &err);
        if (st.batches != (int64_t)t + 1)
            fail_msg("%s: %lld batches after %zu", label,
                     (long long)st.batches, t + 1);
        if (st.last_loss != res.train_loss[t])
            fail_msg("%s batch %zu: session loss %.9g, run loss %.9g", label,
                     t, st.last_loss, res.train_loss[t]);
    }
    /* the online stream brought users the past did not have */
    if (st.users <= users_before)
        fail_msg("%s: no user joined online (%lld users)", label,
                 (long long)st.users);
    melon_run_result_free(&res);
    melon_free(s);
    free(users);
    free(items);
}
