/* melon run resumed from a checkpoint taken mid-stream, for every
 * strategy on BPR-MF and NCF (slow: left out of the sanitizer pass). */
#include "test_support.h"

#include "eval/runner.h"
#include "update/strategy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_ITEMS 300
#define N_EVENTS 2000

/* melon run with checkpoints, resumed from its last one (mid-stream):
 * every strategy on both models gives the uninterrupted run's per-batch
 * metrics and losses. */
static void test_run_resume_every_strategy(void **state) {
    (void)state;
    int64_t *users = malloc(N_EVENTS * sizeof *users);
    int64_t *items = malloc(N_EVENTS * sizeof *items);
    test_session_stream(users, items, N_EVENTS, N_ITEMS);
    const char *path = test_tmp_path("resume_stream.tsv");
    FILE *f = fopen(path, "w");
    for (int t = 0; t < N_EVENTS; t++)
        fprintf(f, "u%lld\ti%lld\t%d\n", (long long)users[t], (long long)items[t], t);
    fclose(f);
    const char *models[] = {"bpr", "ncf"};
    const char *ckpt = test_tmp_path("run.ckpt");
    int failures = 0;
    for (int mk = 0; mk < 2; mk++)
        for (const char *const *name = melon_strategy_names; *name; name++) {
            melon_config cfg;
            melon_config_default(&cfg);
            cfg.data.files = path;
            cfg.run.batch_size = 64;
            cfg.run.epochs = 1;
            cfg.run.progress = 0;
            cfg.run.threads = 2;
            cfg.model.name = models[mk];
            cfg.model.dim = 8;
            cfg.run.strategy = *name;
            melon_run_result full, resumed;
            melon_err err;
            int rc = melon_run(&cfg, &full, &err);
            if (rc == MELON_NOT_APPLICABLE) {
                melon_run_result_free(&full);
                continue;
            }
            if (rc != 0) fail_msg("%s/%s: %s", models[mk], *name, err.msg);
            /* 7 online batches: the last checkpoint is after the 5th */
            cfg.run.checkpoint = ckpt;
            cfg.run.checkpoint_every = 5;
            melon_run_result with_ckpt;
            assert_int_equal(melon_run(&cfg, &with_ckpt, &err), 0);
            melon_run_result_free(&with_ckpt);
            melon_config again;
            melon_config_default(&again);
            again.run.threads = 2;
            again.run.progress = 0;
            melon_config ran;
            rc = melon_run_resume(ckpt, &again, &ran, &resumed, &err);
            melon_config_free(&ran);
            if (rc != 0) {
                print_error("%s/%s: resume: %s\n", models[mk], *name, err.msg);
                failures++;
                melon_run_result_free(&full);
                melon_run_result_free(&resumed);
                continue;
            }
            assert_int_equal(resumed.n_test_batches, full.n_test_batches);
            for (size_t t = 0; t < full.n_test_batches; t++) {
                if (memcmp(&resumed.per_batch[t], &full.per_batch[t],
                           sizeof full.per_batch[t]) != 0 ||
                    resumed.train_loss[t] != full.train_loss[t])
                {
                    print_error("%s/%s: batch %zu differs after resuming (loss "
                                "%.9g vs %.9g)\n", models[mk], *name, t,
                                resumed.train_loss[t], full.train_loss[t]);
                    failures++;
                    break;
                }
            }
            melon_run_result_free(&full);
            melon_run_result_free(&resumed);
        }
    free(users);
    free(items);
    assert_int_equal(failures, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_resume_every_strategy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
