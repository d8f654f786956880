/* Every setting of a run, with the protocol's defaults. The command line
 * fills it; the runner, models and strategies read what they need. */
#ifndef MELON_CONFIG_H
#define MELON_CONFIG_H

#include "melon/model.h"
#include "melon/optim.h"
#include "melon/strategies/baselines_config.h"
#include "melon/strategies/melon_config.h"
#include "melon/strategies/s2meta_sml_config.h"
#include "melon/stream.h"

#include <stdint.h>

#define MELON_MAX_FILES 64

typedef struct {
    /* data */
    const char *data_files[MELON_MAX_FILES];
    int n_data_files;
    const char *dataset_name;     /* for the result file */
    melon_load_options load;

    /* protocol (protocol.md section 2) */
    int batch_size;               /* 256 */
    double train_ratio;           /* 0.8 */
    double validation;            /* 0: evaluate on the online test stream;
                                     v > 0: hold out the last v of the past
                                     batches as the stream and never touch
                                     the test stream (model selection) */
    int epochs;                   /* 5 */
    int negatives;                /* evaluation negatives per interaction
                                     (99), or 0 (MELON_NEGATIVES_ALL):
                                     every item the user has not
                                     interacted with (protocol.md 4.1) */
    uint64_t seed;                /* 1 */
    int threads;                  /* 0 = all cores */
    int ieee_subnormals;          /* 0: subnormal floats are flushed to zero
                                     in every thread (float_mode.h); 1: IEEE
                                     arithmetic, slow on x86 (benchmarks) */

    /* recommender */
    const char *model;            /* "bpr", "ncf", "pop" */
    melon_model_config model_cfg;

    /* update strategy */
    const char *strategy;         /* "default" */
    const char *label;            /* name of this configuration in results
                                     (NULL: the strategy's name) */
    melon_optimizer_config optim;
    melon_melon_config melon;
    melon_eals_config eals;
    melon_mwnet_config mwnet;
    melon_metasgd_config metasgd;
    melon_s2meta_config s2meta;
    melon_sml_config sml;

    /* output */
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
} melon_config;

void melon_config_default(melon_config *cfg);

#endif
