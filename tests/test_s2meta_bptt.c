/* S2Meta with several inner steps and with carried states (update-
 * strategies.md B.5, "Meta-gradient in the original"): the meta-gradient of
 * every MetaLSTM block, back through the steps (the chain through fg theta
 * and the LSTM state), against central differences of the double
 * first-order surrogate of test_s2meta_ref.h (the one checker, which also
 * rejects wrong gradients); and a meta step leaves the model exactly as it
 * found it, for every scope, step count, state mode and meta-data
 * protocol. */
#include "test_s2meta_ref.h"

#include "update/meta_trial.h"

#define BATCH 8

/* an earlier batch: gives some rows a carried state and moves them */
static const melon_triple earlier[] = {{0, 1, 2}, {2, 2, 5}, {4, 3, 0}};
#define N_EARLIER ((int)(sizeof earlier / sizeof earlier[0]))

typedef struct {
    int steps;
    melon_scope scope;
    int carry;
    const char *model;
    int flexible;        /* the stop controller ends the trial (2: with its
                            output bias at 4, so it stops early) */
} variant;

/* Checks every block of every MetaLSTM. */
static void check_variant(variant v) {
    melon_model m;
    tiny_model(&m, v.model, 0.6f, 4, 2 * BATCH);
    melon_config cfg;
    melon_config_default(&cfg);
    cfg.run.batch_size = BATCH;
    cfg.strategy.s2meta.steps = v.steps;
    cfg.strategy.s2meta.scope = v.scope;
    cfg.strategy.s2meta.carry_state = v.carry;
    cfg.strategy.s2meta.hidden = 4;
    cfg.strategy.s2meta.flexible = v.flexible;
    cfg.strategy.s2meta.min_steps = 1;
    melon_strategy s;
    melon_err err = {{0}};
    if (melon_config_create_strategy(&s, "s2meta", &m, &cfg, &err) != 0) fail_msg("%s", err.msg);
    s2meta_state *st = s.impl;
    if (v.flexible == 2) st->stop_params.block[0].value[st->stop_layout.b_out] = 4.0f;
    if (v.carry) s2meta_apply_update(st, &m, earlier, N_EARLIER);
    s2_ref ref;
    s2_ref_open(&ref, st, &m, support_set, N_SUPPORT, query_set, N_QUERY);
    melon_meta_trial_support_given(&st->trial, &m, support_set, N_SUPPORT);
    melon_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.model = &m;
    double loss = s2meta_meta_gradient(st, &ctx, query_set, N_QUERY);
    if (v.flexible) { /* the reference takes the steps the trial took */
        assert_true(st->trial_steps >= 1 && st->trial_steps <= v.steps);
        print_message("%s: the controller stopped the trial after %d of %d steps\n",
                      v.model, st->trial_steps, v.steps);
        ref.K = st->trial_steps;
        /* the reward's first loss is the query loss before the trial, and
         * the controller got a gradient from its REINFORCE term */
        assert_close(st->step_query_loss[0],
                     ref_mean_loss(&ref.base, query_set, N_QUERY), 1e-5);
        const melon_meta_block *b = &st->stop_params.block[0];
        double largest = 0.0;
        for (size_t a = 0; a < b->size; a++) largest = fmax(largest, fabs(b->grad[a]));
        assert_true(largest > 0.0);
    } else {
        assert_int_equal(st->trial_steps, v.steps);
    }
    double want = s2_ref_surrogate(&ref);
    assert_close(loss, want, 2e-5 * fabs(want));
    s2_check_blocks(&ref, st, &m);
    s2_ref_close(&ref);
    melon_strategy_free(&s);
    melon_model_free(&m);
}

static void steps_touched_bpr(void **state) {
    (void)state;
    check_variant((variant){3, MELON_SCOPE_TOUCHED, 0, "bpr", 0});
}

static void steps_full_bpr(void **state) {
    (void)state;
    check_variant((variant){2, MELON_SCOPE_FULL, 0, "bpr", 0});
}

/* The stop controller picks the trial's length (at its initialisation it
 * lets these trials run all 4 steps; with a large output bias it stops
 * them early); the MetaLSTMs' meta-gradient follows the steps taken. */
static void flexible_steps(void **state) {
    (void)state;
    check_variant((variant){4, MELON_SCOPE_TOUCHED, 0, "bpr", 1});
    check_variant((variant){4, MELON_SCOPE_TOUCHED, 0, "bpr", 2});
    check_variant((variant){4, MELON_SCOPE_TOUCHED, 0, "ncf", 2});
}

static void steps_ncf(void **state) {
    (void)state;
    check_variant((variant){2, MELON_SCOPE_TOUCHED, 0, "ncf", 0});
}

/* Carried states: rows the earlier batch updated start from their own
 * (constant) state, the others from the learned (h0, c0). */
static void carried_state_bpr(void **state) {
    (void)state;
    check_variant((variant){1, MELON_SCOPE_TOUCHED, 1, "bpr", 0});
    check_variant((variant){2, MELON_SCOPE_TOUCHED, 1, "bpr", 0});
}

/* The trial is discarded: after a meta step every tensor holds exactly
 * what it held before, whatever the options (the support set's rows, the
 * extra rows of scope full, dense tensors with next-batch meta-data). */
static void meta_step_leaves_the_model_unchanged(void **state) {
    (void)state;
    const char *path = write_tiny_stream("s2meta_world.tsv", 60, 5);
    for (int a = 0; a < 2; a++)
        for (int option = 0; option < 6; option++) {
            test_world w;
            world_open(&w, path, 40);
            melon_model m;
            tiny_model(&m, a ? "ncf" : "bpr", 0.3f, 6, 2 * BATCH);
            melon_config cfg;
            melon_config_default(&cfg);
            cfg.run.batch_size = BATCH;
            if (option == 1) cfg.strategy.s2meta.scope = MELON_SCOPE_FULL;
            if (option == 2) cfg.strategy.s2meta.steps = 3;
            if (option == 3) cfg.strategy.s2meta.carry_state = 1;
            if (option == 4) cfg.strategy.s2meta.meta_data = MELON_META_NEXT_BATCH;
            if (option == 5) {
                cfg.strategy.s2meta.steps = 4;
                cfg.strategy.s2meta.flexible = 1;
                cfg.strategy.s2meta.min_steps = 1;
            }
            melon_strategy s;
            melon_err err = {{0}};
            if (melon_config_create_strategy(&s, "s2meta", &m, &cfg, &err) != 0)
                fail_msg("%s", err.msg);
            melon_triple batch[BATCH];
            for (size_t begin = 40; begin + BATCH <= 56; begin += BATCH) {
                melon_context ctx = world_context(&w, &m, MELON_PHASE_ONLINE,
                                                  begin, begin + BATCH);
                int n = world_triples(&w, begin, begin + BATCH, batch);
                ref_params before;
                ref_params_init(&before, &m);
                assert_int_equal(s.ops->meta_step(&s, &ctx, batch, n, &err), 0);
                for (int k = 0; k < m.n_tensors; k++)
                    for (size_t e = 0; e < ref_tensor_size(&m.tensor[k]); e++)
                        if (m.tensor[k].value[e] != (float)before.p[k][e])
                            fail_msg("option %d: %s[%zu] changed by the meta step",
                                     option, m.tensor[k].name, e);
                ref_params_free(&before);
                assert_int_equal(s.ops->update(&s, &ctx, batch, n, &err), 0);
                assert_int_equal(melon_history_append(&w.history, &w.stream, begin,
                                                      begin + BATCH, &err), 0);
            }
            melon_strategy_free(&s);
            melon_model_free(&m);
            world_close(&w);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(steps_touched_bpr),
        cmocka_unit_test(steps_full_bpr),
        cmocka_unit_test(steps_ncf),
        cmocka_unit_test(flexible_steps),
        cmocka_unit_test(carried_state_bpr),
        cmocka_unit_test(meta_step_leaves_the_model_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
