/* S2Meta (update-strategies.md B.5): the meta-gradient of every MetaLSTM
 * block against central differences of a double re-implementation of the
 * trial (one inner step, state reset: the online default), on BPR-MF and
 * NCF and for both scopes (the one checker, grad_check.h, which also
 * rejects wrong gradients); the learning-rate matrix has one rate per
 * parameter (constant along each column, spec C); short runs on both
 * models with every option; the state file. The inner-step chain and the carried state are checked
 * in test_s2meta_bptt.c. */
#include "test_s2meta_ref.h"

#include "update/meta_trial.h"

#define BATCH 8

typedef struct {
    melon_model model;
    melon_config cfg;
    melon_strategy s;
    s2meta_state *st;
    s2_ref ref;
    double query_loss;     /* the strategy's, at the trial values */
} s2_case;

/* Builds the strategy on a tiny model, runs its meta-gradient on the
 * fixed support and query sets, and the double reference beside it. */
static void s2_case_open(s2_case *c, const char *model, int steps,
                         melon_scope scope, int hidden, float init_std,
                         int replay) {
    memset(c, 0, sizeof *c);
    tiny_model(&c->model, model, init_std, 3, 2 * BATCH);
    melon_config_default(&c->cfg);
    c->cfg.run.batch_size = BATCH;
    c->cfg.strategy.s2meta.steps = steps;
    c->cfg.strategy.s2meta.scope = scope;
    c->cfg.strategy.s2meta.hidden = hidden;
    melon_err err = {{0}};
    if (melon_config_create_strategy(&c->s, "s2meta", &c->model, &c->cfg, &err) != 0)
        fail_msg("%s", err.msg);
    c->st = c->s.impl;
    if (replay) c->st->n_kept = 0; /* no kept activations: replay them all */
    s2_ref_open(&c->ref, c->st, &c->model, support_set, N_SUPPORT, query_set,
                N_QUERY);
    melon_meta_trial_support_given(&c->st->trial, &c->model, support_set,
                                   N_SUPPORT);
    melon_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.model = &c->model;
    c->query_loss = s2meta_meta_gradient(c->st, &ctx, query_set, N_QUERY);
}

static void s2_case_close(s2_case *c) {
    s2_ref_close(&c->ref);
    melon_strategy_free(&c->s);
    melon_model_free(&c->model);
}

static void assert_meta_gradient_correct(const char *model, melon_scope scope,
                                         int hidden, int replay) {
    s2_case c;
    s2_case_open(&c, model, 1, scope, hidden, 0.6f, replay);
    /* the forward agrees with the reference before any gradient is compared */
    double want = s2_ref_surrogate(&c.ref);
    assert_close(c.query_loss, want, 1e-5 * fabs(want));
    s2_check_blocks(&c.ref, c.st, &c.model);
    s2_case_close(&c);
}

static void meta_gradient_bpr_touched(void **state) {
    (void)state;
    assert_meta_gradient_correct("bpr", MELON_SCOPE_TOUCHED, 8, 0);
}

/* The same with the trial's activations replayed in the backward, as for
 * chunks beyond the memory kept for them. */
static void meta_gradient_bpr_replayed(void **state) {
    (void)state;
    assert_meta_gradient_correct("bpr", MELON_SCOPE_TOUCHED, 4, 1);
}

static void meta_gradient_bpr_full(void **state) {
    (void)state;
    assert_meta_gradient_correct("bpr", MELON_SCOPE_FULL, 4, 0);
}

static void meta_gradient_ncf(void **state) {
    (void)state;
    assert_meta_gradient_correct("ncf", MELON_SCOPE_TOUCHED, 4, 0);
}

/* Spec C, parameter-wise: with K = 1 the rate of coordinate m is computed
 * from the batch-mean gradient, theta_m and the batch loss, so the update
 * theta'_m = fg_m theta_m - lr_m clamp(mean_x g_xm) is the learning-rate
 * matrix W[x, m] = lr_m / n for every interaction x touching m: constant
 * along each column. Checked by reproducing every updated coordinate from
 * the batch-level quantities alone (double reference of the cell), and the
 * rates differ between coordinates (it is not one scalar rate). */
static void rates_are_constant_along_columns(void **state) {
    (void)state;
    melon_model m;
    tiny_model(&m, "bpr", 0.6f, 5, 2 * BATCH);
    melon_config cfg;
    melon_config_default(&cfg);
    cfg.run.batch_size = BATCH;
    melon_strategy s;
    melon_err err = {{0}};
    assert_int_equal(melon_config_create_strategy(&s, "s2meta", &m, &cfg, &err), 0);
    s2meta_state *st = s.impl;
    /* interactions repeating users and items: columns with several rows */
    const melon_triple batch[] = {{0, 1, 4}, {0, 2, 4}, {1, 1, 5}, {2, 1, 6},
                                  {3, 2, 4}, {1, 3, 0}};
    int n = (int)(sizeof batch / sizeof batch[0]);
    ref_params before;
    ref_params_init(&before, &m);
    melon_grads slots;
    assert_int_equal(melon_grads_init(&slots, &m, n, &err), 0);
    m.ops->forward_backward(&m, batch, n, &slots);
    ref_triple_grads tg;
    ref_triple_grads_init(&tg, &m, &slots, batch);
    double loss = 0.0;
    for (int x = 0; x < n; x++) loss += slots.loss[x] / n;
    s2meta_apply_update(st, &m, batch, n);
    double lr_min = 1.0, lr_max = 0.0;
    int checked = 0;
    for (int k = 0; k < m.n_tensors; k++) {
        const melon_tensor *t = &m.tensor[k];
        const double *phi = NULL;
        double phi_k[4096];
        const melon_meta_block *blk = &st->params.block[k];
        for (size_t a = 0; a < blk->size; a++) phi_k[a] = blk->value[a];
        phi = phi_k;
        for (size_t a = 0; a < ref_tensor_size(t); a++) {
            int32_t row = (int32_t)(a / t->cols);
            if (!s2_rows_have(t, batch, n, row)) {
                /* untouched coordinates do not move (scope touched) */
                assert_true(t->value[a] == (float)before.p[k][a]);
                continue;
            }
            double mean_g = 0.0;
            for (int x = 0; x < n; x++) mean_g += tg.grad[(size_t)x * m.n_tensors + k][a] / n;
            double g = s2_clip(mean_g), x[S2META_INPUTS], lr, fg;
            double h[S2_MAX_H], c[S2_MAX_H];
            s2_inputs(g, before.p[k][a], loss, x);
            double want = s2_ref_step(&st->layout, phi, x, phi + st->layout.h0,
                                      phi + st->layout.c0, before.p[k][a], g,
                                      h, c, &lr, &fg);
            assert_close(t->value[a], want, 1e-5);
            lr_min = fmin(lr_min, lr);
            lr_max = fmax(lr_max, lr);
            checked++;
        }
    }
    assert_true(checked > 20);
    print_message("  rates over %d coordinates: %.4f .. %.4f\n", checked,
                  lr_min, lr_max);
    assert_true(lr_max - lr_min > 1e-3);
    ref_triple_grads_free(&tg);
    melon_grads_free(&slots);
    ref_params_free(&before);
    melon_strategy_free(&s);
    melon_model_free(&m);
}

/* A short run through the runner (1,000 interactions, batch 64, d 4,
 * one epoch, `threads` threads); returns NDCG@10 after checking every
 * online loss is finite. */
static double short_run(const char *path, const char *model, melon_config *cfg,
                        int threads) {
    cfg->data.files = path;
    cfg->data.name = "test";
    cfg->run.batch_size = 64;
    cfg->run.epochs = 1;
    cfg->run.threads = threads;
    cfg->run.progress = 0;
    cfg->model.name = model;
    cfg->model.dim = 4;
    cfg->model.layers.n = 2;
    cfg->model.layers.w[0] = 8;
    cfg->model.layers.w[1] = 4;
    cfg->run.strategy = "s2meta";
    return run_checked(cfg);
}

/* Runs on both models, the same again for the same seed (two threads, so
 * the chunks really are shared out); and every option (several steps, full
 * tables, carried state, next-batch meta-data) runs on BPR-MF, the carried
 * state (every dense coordinate's) on NCF too. */
static void runs_on_both_models_and_options(void **state) {
    (void)state;
    const char *path = write_run_stream("s2meta_run.tsv");
    const char *models[2] = {"bpr", "ncf"};
    for (int a = 0; a < 2; a++) {
        melon_config cfg;
        melon_config_default(&cfg);
        double first = short_run(path, models[a], &cfg, 2);
        melon_config_default(&cfg);
        assert_true(short_run(path, models[a], &cfg, 2) == first);
        for (int variant = a ? 2 : 0; variant < (a ? 3 : 4); variant++) {
            melon_config_default(&cfg);
            if (variant == 0) cfg.strategy.s2meta.steps = 3;
            if (variant == 1) cfg.strategy.s2meta.scope = MELON_SCOPE_FULL;
            if (variant == 2) cfg.strategy.s2meta.carry_state = 1;
            if (variant == 3) cfg.strategy.s2meta.meta_data = MELON_META_NEXT_BATCH;
            short_run(path, models[a], &cfg, 1);
        }
    }
}

/* The state file holds the MetaLSTMs: a strategy loaded from it updates a
 * model exactly as the saved one does. */
/* flexible != 0 adds the stop controller (its weights and its draws). */
static void round_trip(int flexible) {
    melon_model m1, m2;
    tiny_model(&m1, "bpr", 0.6f, 9, 2 * BATCH);
    tiny_model(&m2, "bpr", 0.6f, 9, 2 * BATCH);
    melon_config cfg;
    melon_config_default(&cfg);
    cfg.run.batch_size = BATCH;
    cfg.strategy.s2meta.carry_state = 1;
    if (flexible) {
        cfg.strategy.s2meta.flexible = 1;
        cfg.strategy.s2meta.steps = 4;
        cfg.strategy.s2meta.min_steps = 1;
    }
    melon_strategy a, b;
    melon_err err = {{0}};
    assert_int_equal(melon_config_create_strategy(&a, "s2meta", &m1, &cfg, &err), 0);
    cfg.run.seed = 99; /* another init, overwritten by the load */
    assert_int_equal(melon_config_create_strategy(&b, "s2meta", &m2, &cfg, &err), 0);
    /* change a's MetaLSTMs, controller and carried states */
    s2meta_state *sa = a.impl;
    melon_meta_trial_support_given(&sa->trial, &m1, support_set, N_SUPPORT);
    melon_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.model = &m1;
    s2meta_meta_gradient(sa, &ctx, query_set, N_QUERY);
    melon_meta_params_step(&sa->params);
    if (flexible) melon_meta_params_step(&sa->stop_params);
    s2meta_apply_update(sa, &m1, query_set, N_QUERY);
    melon_model_copy_values(&m2, &m1);
    const char *path = test_tmp_path("s2meta.state");
    assert_int_equal(melon_strategy_save(&a, path, &err), 0);
    assert_int_equal(melon_strategy_load(&b, path, &err), 0);
    for (int round = 0; round < 3; round++) { /* the same stops, the same steps */
        s2meta_apply_update(a.impl, &m1, support_set, N_SUPPORT);
        s2meta_apply_update(b.impl, &m2, support_set, N_SUPPORT);
        assert_int_equal(((s2meta_state *)a.impl)->update_steps,
                         ((s2meta_state *)b.impl)->update_steps);
    }
    for (int k = 0; k < m1.n_tensors; k++)
        assert_memory_equal(m1.tensor[k].value, m2.tensor[k].value,
                            ref_tensor_size(&m1.tensor[k]) * sizeof(float));
    melon_strategy_free(&a);
    melon_strategy_free(&b);
    melon_model_free(&m1);
    melon_model_free(&m2);
}

static void save_and_load_round_trip(void **state) {
    (void)state;
    round_trip(0);
    round_trip(1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(meta_gradient_bpr_touched),
        cmocka_unit_test(meta_gradient_bpr_replayed),
        cmocka_unit_test(meta_gradient_bpr_full),
        cmocka_unit_test(meta_gradient_ncf),
        cmocka_unit_test(rates_are_constant_along_columns),
        cmocka_unit_test(runs_on_both_models_and_options),
        cmocka_unit_test(save_and_load_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
