/* Every setting of a run, each room's in its own part: the runner's here,
 * the data's (melon/stream.h), the recommender's (melon/model.h), its
 * optimiser's (model/optim.h) and each strategy family's (in its folder
 * under src/update/). Each part has a settings table; melon_config_set sets
 * any setting by its name. */
#ifndef MELON_EVAL_CONFIG_H
#define MELON_EVAL_CONFIG_H

#include "melon/model.h"
#include "model/optim.h"
#include "melon/settings.h"
#include "melon/stream.h"
#include "update/strategy.h"
#include "update/strategy_config.h"

#include <stdint.h>

/* The runner's settings (protocol.md section 2). */
typedef struct {
    const char *strategy;         /* update strategy */
    const char *label;            /* name of this configuration in results
                                     (NULL: the strategy's name) */
    int batch_size;
    double train_ratio;
    double validation;            /* 0: evaluate on the online test stream;
                                     v > 0: hold out the last v of the past
                                     batches as the stream and never touch
                                     the test stream (model selection) */
    int epochs;
    int eval_negatives;           /* MELON_EVAL_NEVER: sampled from the items
                                     the user never interacts with anywhere
                                     (protocol.md 3); MELON_EVAL_BEFORE: from
                                     those not interacted with up to the end
                                     of the batch (a live system's view) */
    int negatives;                /* evaluation negatives per interaction,
                                     or 0 (MELON_NEGATIVES_ALL): every item
                                     the user has not interacted with
                                     (protocol.md 4.1) */
    uint64_t seed;
    int threads;                  /* 0 = all cores */
    int ieee_subnormals;          /* 0: subnormal floats are flushed to zero
                                     in every thread (float_mode.h); 1: IEEE
                                     arithmetic, slow on x86 (benchmarks) */
    const char *out_json;         /* NULL: no result file */
    const char *per_batch_csv;    /* NULL: none */
    const char *ranks_csv;        /* NULL: none; else one row per evaluated
                                     interaction: batch, user, item, rank,
                                     the user's interactions before it */
    const char *save_model;       /* NULL: none */
    const char *checkpoint;       /* NULL: none; else the run's state is
                                     saved here (melon.h checkpoints) */
    int checkpoint_every;         /* online batches between checkpoints
                                     (0: only after pre-training) */
    int progress;                 /* -1 auto (only on a terminal), 0, 1 */
    int quiet;                    /* no table on stdout */
} melon_run_config;

enum { MELON_EVAL_NEVER = 0, MELON_EVAL_BEFORE = 1 };

extern const melon_settings_table melon_run_settings;

typedef struct melon_config_text melon_config_text;

struct melon_config {
    melon_run_config run;
    melon_data_config data;
    melon_model_config model;
    melon_optimizer_config optim;
    melon_strategy_config strategy;
    melon_config_text *texts;     /* copies of the strings set by name */
};

/* Every room's settings to their defaults (the protocol's); free with
 * melon_config_free. */
void melon_config_default(melon_config *cfg);
void melon_config_free(melon_config *cfg);
/* dst = src with copies of its strings, owned by dst (free both). */
int melon_config_copy(melon_config *dst, const melon_config *src,
                      melon_err *err);

/* One room's table and its part of a melon_config. */
typedef struct {
    const melon_settings_table *table;
    size_t offset;
} melon_config_room;

#define MELON_MAX_ROOMS 16

/* The rooms in order (run, data, model, optimizer, then each strategy
 * family) into rooms[cap]; returns the count. */
int melon_config_rooms(melon_config_room *rooms, int cap);
/* The setting called name, and where its room's struct lives in cfg. */
const melon_setting *melon_config_find(const melon_config *cfg,
                                       const char *name, void **room);
/* The rooms a run's result file records: run, data, model, then the
 * optimiser if the strategy steps with it, then the strategy's own. */
int melon_config_run_rooms(const melon_config *cfg, melon_config_room *rooms,
                           int cap);

/* The run's shape: batch size, seed, threads. */
melon_run_shape melon_config_shape(const melon_config *cfg);
/* Strategy `name` for model, from cfg's settings: its own, the optimiser's
 * and the run's shape. */
int melon_config_create_strategy(melon_strategy *s, const char *name,
                                 melon_model *model, const melon_config *cfg,
                                 melon_err *err);

#endif
