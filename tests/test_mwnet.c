/* MWNet (update-strategies.md B.3): finite-difference checks of the exact
 * one-step hypergradient for every block of the weight net (w1, b1, w2,
 * b2) on tiny BPR-MF and NCF models, against a meta-loss recomputed in
 * double; the check failing on deliberately corrupted gradients; the
 * learning-rate matrix being constant along each row (eta V(l_x) / n for
 * every parameter interaction x touches) and not along columns; runs
 * through the runner. */
#include "meta_reference.h"

#include "update/mwnet/mwnet.h"

static const melon_triple support_set[] = {
    {0, 1, 2}, {1, 3, 0}, {2, 3, 4}, {3, 5, 6}, {4, 1, 0},
    {0, 4, 6}, {2, 0, 5}, {1, 2, 6},
};
static const melon_triple query_set[] = {
    {0, 3, 2}, {1, 1, 4}, {2, 5, 0}, {3, 3, 6}, {4, 0, 2}, {1, 4, 5},
};
#define N_S (int)(sizeof support_set / sizeof support_set[0])
#define N_Q (int)(sizeof query_set / sizeof query_set[0])

/* The meta-loss L(phi) = L_Q(Theta - eta / n_S sum_x V(l_x; phi) g_x) in
 * double, phi = (w1, b1, w2, b2). */
typedef struct {
    const melon_model *m;
    int hidden;
    double *block[4];          /* w1, b1, w2, b2 */
    size_t size[4];
    double eta;
    const float *loss;         /* support losses at Theta (constants) */
    ref_triple_grads tg;
    ref_params theta, trial;
    double min_vnet_preact;
} mw_ref;

static double mw_ref_v(mw_ref *r, double l) {
    double o = r->block[3][0];
    for (int j = 0; j < r->hidden; j++) {
        double pre = r->block[0][j] * l + r->block[1][j];
        r->min_vnet_preact = fmin(r->min_vnet_preact, fabs(pre));
        o += r->block[2][j] * (pre > 0 ? pre : 0.0);
    }
    return 1.0 / (1.0 + exp(-o));
}

static double mw_ref_loss(mw_ref *r) {
    ref_params_copy(&r->trial, &r->theta);
    for (int x = 0; x < N_S; x++) {
        double step = r->eta * mw_ref_v(r, r->loss[x]) / N_S;
        for (int k = 0; k < r->m->n_tensors; k++) {
            const double *g = r->tg.grad[(size_t)x * r->m->n_tensors + k];
            size_t size = ref_tensor_size(&r->m->tensor[k]);
            for (size_t a = 0; a < size; a++) r->trial.p[k][a] -= step * g[a];
        }
    }
    return ref_mean_loss(&r->trial, query_set, N_Q);
}

typedef struct {
    melon_model m;
    melon_strategy s;
    mwnet_state *st;
    mw_ref ref;
    double *numeric[4];
    double analytic_loss;
} mw_case;

static void mw_case_open(mw_case *c, const char *model, float init_std,
                         float eta, uint64_t seed) {
    memset(c, 0, sizeof *c);
    tiny_model(&c->m, model, init_std, seed, 2 * N_S);
    melon_config cfg;
    melon_config_default(&cfg);
    cfg.run.batch_size = N_S;
    cfg.run.seed = seed;
    cfg.strategy.mwnet.hidden = 6;
    cfg.strategy.mwnet.trial_lr = eta;
    melon_err err = {{0}};
    if (melon_config_create_strategy(&c->s, "mwnet", &c->m, &cfg, &err) != 0)
        fail_msg("%s", err.msg);
    c->st = c->s.impl;
    assert_int_equal(c->st->net.params.n_blocks, 4);

    ref_params before;
    ref_params_init(&before, &c->m);
    melon_meta_trial_support_given(&c->st->trial, &c->m, support_set, N_S);
    melon_context ctx = {.model = &c->m};
    c->analytic_loss = mwnet_meta_gradient(c->st, &ctx, query_set, N_Q);
    /* the trial is discarded: the model is back at Theta exactly */
    for (int k = 0; k < c->m.n_tensors; k++)
        for (size_t a = 0; a < ref_tensor_size(&c->m.tensor[k]); a++)
            assert_true(c->m.tensor[k].value[a] == (float)before.p[k][a]);
    ref_params_free(&before);

    mw_ref *r = &c->ref;
    r->m = &c->m;
    r->hidden = 6;
    r->eta = eta;
    r->loss = c->st->trial.support_slots.loss;
    r->min_vnet_preact = INFINITY;
    for (int b = 0; b < 4; b++) {
        const melon_meta_block *blk = &c->st->net.params.block[b];
        r->size[b] = blk->size;
        r->block[b] = malloc(blk->size * sizeof(double));
        c->numeric[b] = malloc(blk->size * sizeof(double));
        for (size_t a = 0; a < blk->size; a++) r->block[b][a] = blk->value[a];
    }
    ref_triple_grads_init(&r->tg, &c->m, &c->st->trial.support_slots,
                          support_set);
    ref_params_init(&r->theta, &c->m);
    ref_params_init(&r->trial, &c->m);

    /* numeric meta-gradient, central differences in double */
    ref_min_preact = INFINITY;
    double at_phi = mw_ref_loss(r);
    for (int b = 0; b < 4; b++)
        for (size_t a = 0; a < r->size[b]; a++) {
            double *x = &r->block[b][a], saved = *x;
            *x = saved + META_FD_STEP;
            double up = mw_ref_loss(r);
            *x = saved - META_FD_STEP;
            double down = mw_ref_loss(r);
            *x = saved;
            c->numeric[b][a] = (up - down) / (2 * META_FD_STEP);
        }
    print_message("%s: meta-loss %.6f (double %.6f), min |V pre-act| %.2e, "
                  "min |tower pre-act| %.2e\n", model, c->analytic_loss,
                  at_phi, r->min_vnet_preact, ref_min_preact);
    assert_true(fabs(c->analytic_loss - at_phi) < 1e-5 * fabs(at_phi));
    /* the differences do not straddle a ReLU kink */
    assert_true(r->min_vnet_preact > 1e3 * META_FD_STEP);
    assert_true(ref_min_preact > 1e3 * META_FD_STEP);
}

static void mw_case_close(mw_case *c) {
    for (int b = 0; b < 4; b++) {
        free(c->ref.block[b]);
        free(c->numeric[b]);
    }
    ref_triple_grads_free(&c->ref.tg);
    ref_params_free(&c->ref.theta);
    ref_params_free(&c->ref.trial);
    melon_strategy_free(&c->s);
    melon_model_free(&c->m);
}

static void assert_meta_gradient_correct(mw_case *c) {
    assert_meta_blocks_correct(&c->st->net.params, 4, c->numeric, 0);
}

static void check_model(const char *model, float init_std, float eta,
                        uint64_t seed) {
    mw_case c;
    mw_case_open(&c, model, init_std, eta, seed);
    assert_meta_gradient_correct(&c);
    mw_case_close(&c);
}

static void meta_gradient_bpr(void **state) {
    (void)state;
    check_model("bpr", 0.5f, 4.0f, 1);
    check_model("bpr", 0.8f, 2.0f, 5);
}

static void meta_gradient_ncf(void **state) {
    (void)state;
    check_model("ncf", 0.5f, 4.0f, 1);
    check_model("ncf", 0.6f, 8.0f, 3);
}

/* Deliberately wrong gradients fail, block by block: the largest entry off
 * by 2% of the block's scale, the block's sign flipped, the block scaled
 * by 1.01; then the same check passes again. */
static void corrupted_gradients_fail(const char *model) {
    mw_case c;
    mw_case_open(&c, model, 0.5f, 4.0f, 1);
    assert_meta_blocks_corruptions_fail(&c.st->net.params, 4, c.numeric, 0, model);
    mw_case_close(&c);
}

static void corrupted_bpr(void **state) {
    (void)state;
    corrupted_gradients_fail("bpr");
}

static void corrupted_ncf(void **state) {
    (void)state;
    corrupted_gradients_fail("ncf");
}

/* The effective learning rates of one update: with plain SGD (no L2), the
 * update on the batch alone of interaction x moves theta_m by
 * -W_xm n g_xm; W_xm = eta V(l_x) / n for every m x touches. The batch
 * update is the sum of these (linearity of Eq. 3). */
static void rates_are_constant_along_rows(const char *model) {
    const int n = N_S;
    melon_model m;
    tiny_model(&m, model, 0.5f, 2, 2 * n);
    melon_config cfg;
    melon_config_default(&cfg);
    cfg.run.batch_size = n;
    cfg.optim.kind = MELON_OPT_SGD;
    cfg.optim.lr = 0.5f;
    cfg.optim.l2 = 0.0f;
    cfg.strategy.mwnet.hidden = 6;
    melon_strategy s;
    melon_err err = {{0}};
    assert_int_equal(melon_config_create_strategy(&s, "mwnet", &m, &cfg, &err), 0);
    mwnet_state *st = s.impl;
    /* a steeper V, so that the rows' rates differ clearly */
    for (int j = 0; j < 6; j++) st->net.w2[j] *= 8.0f;

    single_moves sm;
    single_moves_take(&sm, &s, &m, support_set, n);
    double row_rate[N_S];
    for (int x = 0; x < n; x++) {
        float v;
        mwnet_vnet_forward(&st->net, &sm.loss[x], 1, NULL, &v);
        double lo = INFINITY, hi = -INFINITY;
        for (int k = 0; k < m.n_tensors; k++) {
            const double *move = single_move(&sm, x, k), *grad = single_grad(&sm, x, k);
            for (size_t a = 0; a < ref_tensor_size(&m.tensor[k]); a++) {
                if (fabs(grad[a]) < 1e-2 * sm.gmax[x]) {
                    assert_true(fabs(move[a]) <= 1e-6 * sm.gmax[x] + 1e-7 ||
                                grad[a] != 0.0);
                    continue;
                }
                double rate = -move[a] / (n * grad[a]);   /* W_xm */
                lo = fmin(lo, rate);
                hi = fmax(hi, rate);
            }
        }
        double expected = cfg.optim.lr * v / n;
        print_message("  %s x=%d: W_x. in [%.6g, %.6g], eta V(l_x)/n = %.6g\n",
                      model, x, lo, hi, expected);
        assert_true(hi - lo <= 2e-3 * expected);
        assert_true(fabs(lo - expected) <= 2e-3 * expected);
        row_rate[x] = expected;
    }
    /* the rates differ between rows */
    double lo = INFINITY, hi = 0.0;
    for (int x = 0; x < n; x++) {
        lo = fmin(lo, row_rate[x]);
        hi = fmax(hi, row_rate[x]);
    }
    print_message("  %s: row rates from %.4g to %.4g\n", model, lo, hi);
    assert_true(hi > 1.1 * lo);
    single_moves_free(&sm);
    melon_strategy_free(&s);
    melon_model_free(&m);
}

static void rates_rows_bpr(void **state) {
    (void)state;
    rates_are_constant_along_rows("bpr");
}

static void rates_rows_ncf(void **state) {
    (void)state;
    rates_are_constant_along_rows("ncf");
}

/* Both models, both meta-data protocols, through the runner; the same
 * seed reproduces a run. */
static void runs_through_the_runner(void **state) {
    (void)state;
    const char *path = write_run_stream("mwnet.tsv");
    const char *models[] = {"bpr", "ncf"};
    for (int k = 0; k < 2; k++)
        for (int data = 0; data < 2; data++) {
            double ndcg[2];
            for (int rep = 0; rep < 2; rep++) {
                melon_config cfg;
                melon_config_default(&cfg);
                cfg.strategy.mwnet.meta_data = data ? MELON_META_NEXT_BATCH
                                           : MELON_META_LAST_BATCH;
                ndcg[rep] = run_strategy(path, models[k], "mwnet", &cfg);
            }
            print_message("  %s %s: NDCG@10 %.4f\n", models[k],
                          data ? "next-batch" : "last-batch", ndcg[0]);
            assert_true(ndcg[0] == ndcg[1]);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(meta_gradient_bpr),
        cmocka_unit_test(meta_gradient_ncf),
        cmocka_unit_test(corrupted_bpr),
        cmocka_unit_test(corrupted_ncf),
        cmocka_unit_test(rates_rows_bpr),
        cmocka_unit_test(rates_rows_ncf),
        cmocka_unit_test(runs_through_the_runner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
