/* A small session for fuzzing checkpoint loading: 6 users, 8 items, d = 4,
 * pre-trained on 24 events and fed 10 of them again (8 in two batches, 2
 * pending; pairs seen before, which every strategy takes), shared by the
 * seed writer (checkpoint_seeds.c) and the target (fuzz_checkpoint.c). */
#ifndef MELON_FUZZ_CHECKPOINT_SESSION_H
#define MELON_FUZZ_CHECKPOINT_SESSION_H

#include "melon/melon.h"

#include <stdio.h>

static int small_session(melon_session **out, const char *model,
                         const char *strategy, melon_err *err) {
    char model_setting[64], strategy_setting[64];
    snprintf(model_setting, sizeof model_setting, "model=%s", model);
    snprintf(strategy_setting, sizeof strategy_setting, "strategy=%s", strategy);
    const char *settings[] = {model_setting, strategy_setting, "seed=3",
                              "dim=4", "layers=8,4", "batch-size=4",
                              "epochs=1", "negatives=3", "threads=1"};
    int64_t users[24], items[24];
    for (int k = 0; k < 24; k++) {
        users[k] = k % 6;
        items[k] = (k * 5 + k / 6) % 8;
    }
    melon_session *s;
    if (melon_create(&s, settings, sizeof settings / sizeof *settings, err) != 0)
        return -1;
    int32_t ranks[10];
    if (melon_pretrain_ids(s, users, items, NULL, 24, err) != 0 ||
        melon_observe_ids(s, users, items, NULL, 10, ranks, err) != 0) {
        melon_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

#endif
