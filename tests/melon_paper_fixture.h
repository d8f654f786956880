/* A tiny world for MeLON paper-form tests: a 20-interaction stream (16 past,
 * one batch of 4 with a new user and a new item), its history and negative
 * index, a tiny recommender with large initial values, the strategy, and
 * the context of the batch. */
#ifndef MELON_TEST_MELON_PAPER_FIXTURE_H
#define MELON_TEST_MELON_PAPER_FIXTURE_H

#include "test_support.h"

#include "update/melon_paper/melon_paper.h"
#include "eval/config.h"
#include "melon/history.h"
#include "melon/negatives.h"

#include <stdlib.h>
#include <string.h>

#define FIX_USERS 5
#define FIX_ITEMS 8
#define FIX_PAST 16
#define FIX_BATCH 4

static const int32_t fix_user[FIX_PAST + FIX_BATCH] = {
    0, 1, 2, 0, 2, 3, 1, 0, 2, 3, 2, 0, 1, 2, 0, 3, /* past */
    0, 1, 4, 3};                                    /* batch */
static const int32_t fix_item[FIX_PAST + FIX_BATCH] = {
    0, 1, 0, 1, 4, 2, 3, 2, 5, 6, 1, 0, 1, 4, 3, 2, /* past (repeats) */
    4, 0, 2, 7};                                    /* 7 is new */

typedef struct {
    melon_stream stream;
    char *user_name[FIX_USERS], *item_name[FIX_ITEMS];
    int32_t users[FIX_PAST + FIX_BATCH], items[FIX_PAST + FIX_BATCH];
    double times[FIX_PAST + FIX_BATCH];
    melon_history history;
    melon_pair_index pairs;
    melon_model model;
    melon_config cfg;
    melon_strategy strategy;
    melon_rng rng;
    melon_context ctx;
    melon_triple batch[FIX_BATCH];
    int n;
} paper_fixture;

typedef struct {
    const char *model;        /* "bpr" or "ncf" */
    const char *strategy;     /* "melon", "melon-i", "melon-p" */
    int role_width, role_layers, h_width, ext_width;
    melon_aggregation aggregation;
    float init_lr_bias;
    float model_std;          /* the recommender's init std */
    int leaky_trial;
    int preprocess_theta;
    melon_empty_history empty_history;
    melon_p_inputs p_inputs;
    float rate_scale;         /* 0: the default (1) */
} fixture_options;

static inline void fixture_init(paper_fixture *f, const fixture_options *o) {
    memset(f, 0, sizeof *f);
    melon_err err = {{0}};
    static char names[FIX_USERS + FIX_ITEMS][8];
    for (int u = 0; u < FIX_USERS; u++) {
        snprintf(names[u], sizeof names[u], "u%d", u);
        f->user_name[u] = names[u];
    }
    for (int i = 0; i < FIX_ITEMS; i++) {
        snprintf(names[FIX_USERS + i], sizeof names[0], "i%d", i);
        f->item_name[i] = names[FIX_USERS + i];
    }
    for (int p = 0; p < FIX_PAST + FIX_BATCH; p++) {
        f->users[p] = fix_user[p];
        f->items[p] = fix_item[p];
        f->times[p] = p;
    }
    melon_stream *s = &f->stream;
    s->n = FIX_PAST + FIX_BATCH;
    s->n_users = FIX_USERS;
    s->n_items = FIX_ITEMS;
    s->user = f->users;
    s->item = f->items;
    s->time = f->times;
    s->user_name = f->user_name;
    s->item_name = f->item_name;
    s->n_read = s->n;
    assert_int_equal(melon_history_init(&f->history, FIX_USERS, FIX_ITEMS, &err), 0);
    assert_int_equal(melon_history_append(&f->history, s, 0, FIX_PAST, &err), 0);
    assert_int_equal(melon_pair_index_build(&f->pairs, s, &err), 0);

    melon_config_default(&f->cfg);
    f->cfg.run.batch_size = FIX_BATCH;
    f->cfg.run.seed = 11;
    melon_melon_config *mc = &f->cfg.strategy.melon;
    mc->role_width = o->role_width;
    mc->role_layers = o->role_layers;
    mc->interaction_width = o->h_width;
    mc->extended_width = o->ext_width;
    mc->max_edge = 50; /* every neighbour: no sampling noise */
    mc->aggregation = o->aggregation;
    mc->init_lr_bias = o->init_lr_bias;
    if (o->rate_scale > 0.0f) mc->rate_scale = o->rate_scale;
    mc->leaky_trial = o->leaky_trial;
    mc->preprocess_theta = o->preprocess_theta;
    mc->empty_history = o->empty_history;
    mc->p_inputs = o->p_inputs;

    melon_model_config mcfg;
    melon_model_config_default(&mcfg);
    mcfg.dim = 3;
    mcfg.layers.n = 2;
    mcfg.layers.w[0] = 4;
    mcfg.layers.w[1] = 3;
    mcfg.init_std = o->model_std;
    mcfg.seed = 5;
    f->cfg.model = mcfg;
    if (melon_model_create(&f->model, o->model, FIX_USERS, FIX_ITEMS, &mcfg,
                           2 * FIX_BATCH, &err) != 0)
        fail_msg("%s", err.msg);
    if (melon_config_create_strategy(&f->strategy, o->strategy, &f->model, &f->cfg,
                              &err) != 0)
        fail_msg("%s", err.msg);
    melon_rng_seed(&f->rng, 3);
    melon_context *ctx = &f->ctx;
    ctx->model = &f->model;
    ctx->stream = s;
    ctx->history = &f->history;
    ctx->pairs = &f->pairs;
    ctx->rng = &f->rng;
    ctx->phase = MELON_PHASE_ONLINE;
    ctx->batch = 4;
    ctx->begin = FIX_PAST;
    ctx->end = FIX_PAST + FIX_BATCH;
    f->n = FIX_BATCH;
    for (int r = 0; r < FIX_BATCH; r++) {
        int32_t u = fix_user[FIX_PAST + r];
        f->batch[r] = (melon_triple){
            u, fix_item[FIX_PAST + r],
            melon_sample_train_negative(&f->pairs, &f->rng, u, ctx->end)};
        assert_true(f->batch[r].negative >= 0);
    }
}

static inline void fixture_free(paper_fixture *f) {
    melon_strategy_free(&f->strategy);
    melon_model_free(&f->model);
    melon_pair_index_free(&f->pairs);
    melon_history_free(&f->history);
}

static inline paper_state *fixture_state(paper_fixture *f) {
    return (paper_state *)f->strategy.impl;
}

/* Sets every meta-parameter to N(0, std^2) and b_lr to lr_bias. */
static inline void fixture_randomise_meta(paper_fixture *f, float std, float lr_bias,
                                   uint64_t seed) {
    paper_params *p = &fixture_state(f)->params;
    melon_rng rng;
    melon_rng_seed(&rng, seed);
    for (int k = 0; k < p->mp.n_blocks; k++)
        for (size_t a = 0; a < p->mp.block[k].size; a++)
            p->mp.block[k].value[a] = (float)(std * melon_rng_normal(&rng));
    p->b_lr->value[0] = lr_bias;
}

#endif
