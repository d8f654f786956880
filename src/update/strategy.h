/* Update strategies behind one interface (design.md; update-strategies.md).
 *
 * The runner calls, for every batch (pre-training and online alike,
 * protocol.md section 5): meta_step (learn how to update; may be NULL),
 * then, online, evaluation, then update (change the recommender). The
 * triples are the batch's positives with one causal training negative each;
 * the context gives what a strategy may look at: the model, the stream up to
 * the batch, the interaction history and the negative sampler. */
#ifndef MELON_STRATEGY_H
#define MELON_STRATEGY_H

#include "melon/common.h"
#include "melon/history.h"
#include "melon/model.h"
#include "melon/negatives.h"
#include "model/optim.h"
#include "melon/stream.h"
#include "update/strategy_config.h"

#include <stdio.h>

typedef enum { MELON_PHASE_PRETRAIN, MELON_PHASE_ONLINE } melon_phase;

typedef struct {
    melon_model *model;
    const melon_stream *stream;
    const melon_history *history;     /* holds every position < the batch's
                                         begin (and, in pre-training, the
                                         whole past: query with a bound) */
    const melon_pair_index *pairs;
    melon_rng *rng;                   /* the run's training generator */
    melon_phase phase;
    size_t batch;                     /* batch index in the split */
    size_t begin;                     /* stream positions of the batch */
    size_t end;
} melon_context;

typedef struct melon_strategy melon_strategy;

typedef struct {
    const char *name;
    int (*meta_step)(melon_strategy *s, melon_context *ctx,
                     const melon_triple *batch, int n, melon_err *err);
    int (*update)(melon_strategy *s, melon_context *ctx,
                  const melon_triple *batch, int n, melon_err *err);
    int (*save)(const melon_strategy *s, FILE *f, melon_err *err);
    int (*load)(melon_strategy *s, FILE *f, melon_err *err);
    void (*free_impl)(melon_strategy *s);
    /* The model's tables have grown (melon_model_grow): extend every state
     * that has a row per user or item (new rows start as a fresh
     * strategy's would). NULL: the strategy needs its sizes up front. */
    int (*grow)(melon_strategy *s, melon_model *model, melon_err *err);
} melon_strategy_ops;

struct melon_strategy {
    const melon_strategy_ops *ops;
    void *impl;
    double batch_loss;   /* mean BPR loss of the last update's batch, before
                            the update (NaN before the first update) */
};

/* Returned (instead of -1) by a strategy's constructor, and so by
 * melon_strategy_create and melon_run, when the strategy does not apply to
 * the model (e.g. SML on NCF); the message says why. `melon run` exits
 * with status 3 then. */
#define MELON_NOT_APPLICABLE (-2)

/* What a strategy learns about the run it serves: the most triples a batch
 * hands it, the run's seed and its threads. */
typedef struct {
    int max_batch;
    uint64_t seed;
    int threads;
} melon_run_shape;

/* A strategy's constructor: the model, the strategy's own settings (its
 * family's struct, NULL for none), the recommender's optimiser (for those
 * that step with it) and the run's shape. */
typedef int (*melon_strategy_constructor)(melon_strategy *s, melon_model *m,
                                          const void *own,
                                          const melon_optimizer_config *optim,
                                          const melon_run_shape *shape,
                                          melon_err *err);

/* A strategy family: its settings table and where its settings live in
 * melon_strategy_config. */
typedef struct {
    const melon_settings_table *table;
    size_t offset;
} melon_strategy_family;

typedef struct {
    const char *name;                 /* "melon-i" */
    const melon_strategy_family *family; /* NULL: no settings of its own */
    int uses_optimizer;               /* steps with the optimiser's settings */
    int support_factor;               /* triples it scores per batch triple
                                         (meta steps score support sets):
                                         the runner sizes the model for
                                         support_factor * max_batch */
    melon_strategy_constructor create;
} melon_strategy_entry;

/* Names the strategy registry knows, for --help and error messages. */
extern const char *const melon_strategy_names[];
/* Every family, up to a NULL table. */
extern const melon_strategy_family melon_strategy_families[];

/* The registry entry of a strategy, or NULL. */
const melon_strategy_entry *melon_strategy_find(const char *name);

int melon_strategy_create(melon_strategy *s, const char *name,
                          melon_model *model, const melon_strategy_config *settings,
                          const melon_optimizer_config *optim,
                          const melon_run_shape *shape, melon_err *err);
void melon_strategy_free(melon_strategy *s);

/* Strategy state files (magic + name + the strategy's own blob). */
int melon_strategy_save(const melon_strategy *s, const char *path,
                        melon_err *err);
int melon_strategy_load(melon_strategy *s, const char *path, melon_err *err);

#endif
