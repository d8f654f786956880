/* MWNet (update-strategies.md B.3): finite-difference checks of the exact
 * one-step hypergradient for every block of the weight net (w1, b1, w2,
 * b2) on tiny BPR-MF and NCF models, against a meta-loss recomputed in
 * double (the one checker, grad_check.h, which also rejects wrong
 * gradients); the
 * learning-rate matrix being constant along each row (eta V(l_x) / n for
 * every parameter interaction x touches) and not along columns; runs
 * through the runner. */
#include "meta_reference.h"

#include "update/mwnet/mwnet.h"

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

static double mw_ref_loss(void *ctx) {
    mw_ref *r = ctx;
    ref_params_copy(&r->trial, &r->theta);
    for (int x = 0; x < N_S; x++) {
        double step = r->eta * mw_ref_v(r, r->loss[x]) / N_S;
        for (int k = 0; k < r->m->n_tensors; k++) {
            const double *g = r->tg.grad[(size_t)x * r->m->n_tensors + k];
            size_t size = ref_tensor_size(&r->m->tensor[k]);
            for (size_t a = 0; a < size; a++) r->trial.p[k][a] -= step * g[a];
        }
    }
    return ref_mean_loss(&r->trial, meta_query, N_Q);
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
    melon_meta_trial_support_given(&c->st->trial, &c->m, meta_support, N_S);
    melon_context ctx = {.model = &c->m};
    c->analytic_loss = mwnet_meta_gradient(c->st, &ctx, meta_query, N_Q);
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
                          meta_support);
    ref_params_init(&r->theta, &c->m);
    ref_params_init(&r->trial, &c->m);

    /* numeric meta-gradient, central differences in double */
    ref_min_preact = INFINITY;
    double at_phi = mw_ref_loss(r);
    for (int b = 0; b < 4; b++)
        for (size_t a = 0; a < r->size[b]; a++)
            c->numeric[b][a] = grad_central(mw_ref_loss, r, &r->block[b][a]);
    print_message("%s: meta-loss %.6f (double %.6f), min |V pre-act| %.2e, "
                  "min |tower pre-act| %.2e\n", model, c->analytic_loss,
                  at_phi, r->min_vnet_preact, ref_min_preact);
    assert_true(fabs(c->analytic_loss - at_phi) < 1e-5 * fabs(at_phi));
    /* the differences do not straddle a ReLU kink */
    assert_true(r->min_vnet_preact > 1e3 * GRAD_FD_STEP);
    assert_true(ref_min_preact > 1e3 * GRAD_FD_STEP);
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

/* The cases of the check: model, init std, trial learning rate, seed. */
static const struct {
    const char *model;
    float init_std, eta;
    uint64_t seed;
} cases[] = {
    {"bpr", 0.5f, 4.0f, 1}, {"bpr", 0.8f, 2.0f, 5},
    {"ncf", 0.5f, 4.0f, 1}, {"ncf", 0.6f, 8.0f, 3},
};

static void meta_gradients(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mw_case c;
        mw_case_open(&c, cases[k].model, cases[k].init_std, cases[k].eta,
                     cases[k].seed);
        assert_meta_blocks_correct(&c.st->net.params, 4, c.numeric, 0);
        mw_case_close(&c);
    }
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
    single_moves_take(&sm, &s, &m, meta_support, n);
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
    assert_runs_reproduce("mwnet", "mwnet-meta-data");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(meta_gradients),
        cmocka_unit_test(rates_rows_bpr),
        cmocka_unit_test(rates_rows_ncf),
        cmocka_unit_test(runs_through_the_runner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
