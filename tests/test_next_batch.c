/* The next-batch meta-data protocol (update-strategies.md section 2):
 * melon_meta_trial_remember keeps B_{t-1} and the values Theta_{t-1} of
 * the rows it touches and of the dense tensors; the next meta step runs
 * the support set B_{t-1} on those values (Theta_t elsewhere), scores
 * Q = B_t at the trial values and restores Theta_t exactly; with nothing
 * remembered it falls back to the last-batch support set. */
#include "meta_reference.h"

#include "update/metasgd/metasgd.h"
#include "update/mwnet/mwnet.h"
#include "update/meta_trial.h"
#include "update/support.h"

#define N_EVENTS 80
#define BATCH 8

typedef struct {
    test_world w;
    melon_model m;
    melon_meta_trial trial;
    melon_meta_memory mem;
    melon_triple prev[BATCH], cur[BATCH];
} nb_case;

static void nb_open(nb_case *c, const char *model) {
    memset(c, 0, sizeof *c);
    world_open(&c->w, write_tiny_stream("next.tsv", N_EVENTS, 5), 56);
    tiny_model(&c->m, model, 0.5f, 3, 4 * BATCH);
    melon_err err = {{0}};
    if (melon_meta_trial_init(&c->trial, &c->m, 2 * BATCH, &err) != 0 ||
        melon_meta_memory_init(&c->mem, &c->m, 2 * BATCH, &err) != 0)
        fail_msg("%s", err.msg);
    world_triples(&c->w, 48, 56, c->prev);
    world_triples(&c->w, 56, 64, c->cur);
}

static void nb_close(nb_case *c) {
    melon_meta_memory_free(&c->mem);
    melon_meta_trial_free(&c->trial);
    melon_model_free(&c->m);
    world_close(&c->w);
}

/* Every value of the model moves: what a real update (and L2 / dense Adam
 * drift) could do between two meta steps. */
static void perturb_model(melon_model *m) {
    for (int k = 0; k < m->n_tensors; k++)
        for (size_t a = 0; a < ref_tensor_size(&m->tensor[k]); a++)
            m->tensor[k].value[a] += 0.01f * (float)((a % 7) + 1);
}

static int row_touched(const melon_tensor *t, const melon_triple *b, int n,
                       int32_t row) {
    for (int p = 0; p < 2 * n; p++)
        if (melon_slot_row(t, &b[p / 2], p % 2) == row) return 1;
    return 0;
}

static void falls_back_to_last_batch(void **state) {
    (void)state;
    nb_case c;
    nb_open(&c, "bpr");
    melon_context ctx = world_context(&c.w, &c.m, MELON_PHASE_ONLINE, 56, 64);
    melon_rng saved = c.w.rng;
    melon_err err = {{0}};
    assert_int_equal(melon_meta_trial_support_for(&c.trial, &c.mem,
                                                  MELON_META_NEXT_BATCH, &ctx,
                                                  c.cur, BATCH, &err), 0);
    assert_int_equal(c.trial.n_support, 2 * BATCH);
    melon_triple expected[2 * BATCH];
    c.w.rng = saved;
    assert_int_equal(melon_support_last_batch(&ctx, c.cur, BATCH, expected,
                                              &err), 0);
    assert_memory_equal(c.trial.support, expected, sizeof expected);
    melon_meta_trial_query(&c.trial, &ctx, c.cur, BATCH);
    /* without a memory, next-batch is refused with a message */
    assert_int_equal(melon_meta_trial_support_for(&c.trial, NULL,
                                                  MELON_META_NEXT_BATCH, &ctx,
                                                  c.cur, BATCH, &err), -1);
    nb_close(&c);
}

static void support_runs_on_remembered_values(const char *model) {
    nb_case c;
    nb_open(&c, model);
    ref_params before;                 /* Theta_{t-1} */
    ref_params_init(&before, &c.m);
    melon_meta_trial_remember(&c.mem, &c.m, c.prev, BATCH);
    for (int k = 0; k < c.m.n_tensors; k++)   /* remember does not write */
        for (size_t a = 0; a < ref_tensor_size(&c.m.tensor[k]); a++)
            assert_true(c.m.tensor[k].value[a] == (float)before.p[k][a]);
    perturb_model(&c.m);
    ref_params now;                    /* Theta_t */
    ref_params_init(&now, &c.m);

    melon_context ctx = world_context(&c.w, &c.m, MELON_PHASE_ONLINE, 56, 64);
    melon_err err = {{0}};
    assert_int_equal(melon_meta_trial_support_for(&c.trial, &c.mem,
                                                  MELON_META_NEXT_BATCH, &ctx,
                                                  c.cur, BATCH, &err), 0);
    assert_int_equal(c.trial.n_support, BATCH);
    assert_memory_equal(c.trial.support, c.prev, sizeof c.prev);
    /* the model: Theta_{t-1} on B_{t-1}'s rows and dense, Theta_t elsewhere */
    ref_params mixed;
    ref_params_init(&mixed, &c.m);
    for (int k = 0; k < c.m.n_tensors; k++) {
        const melon_tensor *t = &c.m.tensor[k];
        for (int32_t row = 0; row < t->rows; row++) {
            int old = t->kind == MELON_DENSE || row_touched(t, c.prev, BATCH, row);
            for (int b = 0; b < t->cols; b++) {
                size_t a = (size_t)row * t->cols + b;
                double want = old ? before.p[k][a] : now.p[k][a];
                assert_true(t->value[a] == (float)want);
            }
        }
    }
    /* the support losses are those of B_{t-1} there */
    for (int r = 0; r < BATCH; r++) {
        double l = ref_mean_loss(&mixed, &c.prev[r], 1);
        assert_true(fabs(c.trial.support_slots.loss[r] - l) < 1e-5 * (1 + l));
    }
    /* a trial write, the query, and Theta_t back bit for bit */
    for (int k = 0; k < c.m.n_tensors; k++)
        for (int32_t at = 0; at < c.trial.support_grad.n_rows[k]; at++) {
            const melon_tensor *t = &c.m.tensor[k];
            float *v = t->value + (size_t)c.trial.support_grad.rows[k][at] * t->cols;
            for (int b = 0; b < t->cols; b++) v[b] *= 1.5f;
        }
    melon_meta_trial_query(&c.trial, &ctx, c.cur, BATCH);
    for (int k = 0; k < c.m.n_tensors; k++)
        for (size_t a = 0; a < ref_tensor_size(&c.m.tensor[k]); a++)
            assert_true(c.m.tensor[k].value[a] == (float)now.p[k][a]);
    ref_params_free(&mixed);
    ref_params_free(&now);
    ref_params_free(&before);
    nb_close(&c);
}

static void remembered_values_bpr(void **state) {
    (void)state;
    support_runs_on_remembered_values("bpr");
}

static void remembered_values_ncf(void **state) {
    (void)state;
    support_runs_on_remembered_values("ncf");
}

/* MWNet and MetaSGD under next-batch: the meta-loss they differentiate is
 * L_{B_t} at Theta_t with B_{t-1}'s rows and the dense tensors replaced by
 * the trial step from Theta_{t-1} on B_{t-1}; recomputed in double. */
static void strategies_score_the_right_trial(const char *model) {
    for (int which = 0; which < 2; which++) {
        nb_case c;
        nb_open(&c, model);
        melon_config cfg;
        melon_config_default(&cfg);
        cfg.run.batch_size = BATCH;
        cfg.strategy.mwnet.meta_data = MELON_META_NEXT_BATCH;
        cfg.strategy.mwnet.trial_lr = 2.0f;
        cfg.strategy.metasgd.meta_data = MELON_META_NEXT_BATCH;
        melon_strategy s;
        melon_err err = {{0}};
        assert_int_equal(melon_config_create_strategy(&s, which ? "metasgd" : "mwnet",
                                               &c.m, &cfg, &err), 0);
        melon_context prev_ctx =
            world_context(&c.w, &c.m, MELON_PHASE_ONLINE, 48, 56);
        ref_params before;
        ref_params_init(&before, &c.m);
        assert_int_equal(s.ops->update(&s, &prev_ctx, c.prev, BATCH, &err), 0);
        ref_params now;
        ref_params_init(&now, &c.m);

        /* expected trial: Theta_{t-1} minus each strategy's step */
        melon_grads g;
        assert_int_equal(melon_grads_init(&g, &c.m, BATCH, &err), 0);
        for (int k = 0; k < c.m.n_tensors; k++)
            for (size_t a = 0; a < ref_tensor_size(&c.m.tensor[k]); a++)
                c.m.tensor[k].value[a] = (float)before.p[k][a];
        c.m.ops->forward_backward(&c.m, c.prev, BATCH, &g);
        ref_triple_grads tg;
        ref_triple_grads_init(&tg, &c.m, &g, c.prev);
        float weight[BATCH];
        if (!which)
            mwnet_vnet_forward(&((mwnet_state *)s.impl)->net, g.loss, BATCH,
                               NULL, weight);
        ref_params trial;
        ref_params_init(&trial, &c.m);
        ref_params_copy(&trial, &now);
        for (int k = 0; k < c.m.n_tensors; k++) {
            const melon_tensor *t = &c.m.tensor[k];
            const float *alpha =
                which ? ((metasgd_state *)s.impl)->alpha.block[k].value : NULL;
            for (int32_t row = 0; row < t->rows; row++) {
                if (t->kind != MELON_DENSE && !row_touched(t, c.prev, BATCH, row))
                    continue;
                for (int b = 0; b < t->cols; b++) {
                    size_t a = (size_t)row * t->cols + b;
                    double step = 0.0;
                    for (int x = 0; x < BATCH; x++) {
                        double gx = tg.grad[(size_t)x * c.m.n_tensors + k][a];
                        step += (which ? alpha[a] : 2.0 * weight[x]) * gx / BATCH;
                    }
                    trial.p[k][a] = before.p[k][a] - step;
                }
            }
        }
        double expected = ref_mean_loss(&trial, c.cur, BATCH);
        for (int k = 0; k < c.m.n_tensors; k++)   /* back to Theta_t */
            for (size_t a = 0; a < ref_tensor_size(&c.m.tensor[k]); a++)
                c.m.tensor[k].value[a] = (float)now.p[k][a];

        melon_context ctx = world_context(&c.w, &c.m, MELON_PHASE_ONLINE, 56, 64);
        assert_int_equal(s.ops->meta_step(&s, &ctx, c.cur, BATCH, &err), 0);
        double got = which ? ((metasgd_state *)s.impl)->meta_loss
                           : ((mwnet_state *)s.impl)->meta_loss;
        print_message("  %s %s: meta-loss %.6f, double %.6f\n", model,
                      which ? "metasgd" : "mwnet", got, expected);
        assert_true(fabs(got - expected) < 1e-5 * (1 + expected));
        for (int k = 0; k < c.m.n_tensors; k++)   /* the meta step restored */
            for (size_t a = 0; a < ref_tensor_size(&c.m.tensor[k]); a++)
                assert_true(c.m.tensor[k].value[a] == (float)now.p[k][a]);
        ref_params_free(&trial);
        ref_triple_grads_free(&tg);
        melon_grads_free(&g);
        ref_params_free(&now);
        ref_params_free(&before);
        melon_strategy_free(&s);
        nb_close(&c);
    }
}

static void strategies_bpr(void **state) {
    (void)state;
    strategies_score_the_right_trial("bpr");
}

static void strategies_ncf(void **state) {
    (void)state;
    strategies_score_the_right_trial("ncf");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(falls_back_to_last_batch),
        cmocka_unit_test(remembered_values_bpr),
        cmocka_unit_test(remembered_values_ncf),
        cmocka_unit_test(strategies_bpr),
        cmocka_unit_test(strategies_ncf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
