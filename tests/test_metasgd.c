/* MetaSGD (update-strategies.md B.4): finite-difference checks of the
 * exact meta-gradient -grad L_S (.) G for alpha of every tensor (table
 * rows and dense weights) on tiny BPR-MF and NCF models, against a
 * meta-loss recomputed in double (the one checker, grad_check.h, which
 * also rejects deliberately wrong gradients); the learning-rate matrix
 * being constant along each column (alpha_m / n for every interaction
 * touching theta_m) and not along rows; lazy versus dense Adam on alpha;
 * runs through the runner. */
#include "meta_reference.h"

#include "update/metasgd/metasgd.h"

typedef struct {
    melon_model m;
    melon_strategy s;
    metasgd_state *st;
    double *alpha[MELON_MAX_TENSORS];     /* double copies */
    double *mean_grad[MELON_MAX_TENSORS]; /* grad L_S(Theta), from slots */
    double *numeric[MELON_MAX_TENSORS];
    ref_params theta, trial;
    double analytic_loss;
} sgd_case;

/* L(alpha) = L_Q(Theta - alpha (.) grad L_S(Theta)) in double. */
static double sgd_ref_loss(void *ctx) {
    sgd_case *c = ctx;
    for (int k = 0; k < c->m.n_tensors; k++)
        for (size_t a = 0; a < ref_tensor_size(&c->m.tensor[k]); a++)
            c->trial.p[k][a] = c->theta.p[k][a] -
                               c->alpha[k][a] * c->mean_grad[k][a];
    return ref_mean_loss(&c->trial, meta_query, N_Q);
}

static void sgd_case_open(sgd_case *c, const char *model, float init_std,
                          float alpha_high, uint64_t seed) {
    memset(c, 0, sizeof *c);
    tiny_model(&c->m, model, init_std, seed, 2 * N_S);
    melon_config cfg;
    melon_config_default(&cfg);
    cfg.run.batch_size = N_S;
    cfg.run.seed = seed;
    cfg.strategy.metasgd.alpha_low = 0.2f * alpha_high;
    cfg.strategy.metasgd.alpha_high = alpha_high;
    melon_err err = {{0}};
    if (melon_config_create_strategy(&c->s, "metasgd", &c->m, &cfg, &err) != 0)
        fail_msg("%s", err.msg);
    c->st = c->s.impl;
    assert_int_equal(c->st->alpha.n_blocks, c->m.n_tensors);

    ref_params_init(&c->theta, &c->m);
    ref_params_init(&c->trial, &c->m);
    melon_meta_trial_support_given(&c->st->trial, &c->m, meta_support, N_S);
    melon_context ctx = {.model = &c->m};
    c->analytic_loss = metasgd_meta_gradient(c->st, &ctx, meta_query, N_Q);
    for (int k = 0; k < c->m.n_tensors; k++)   /* trial discarded */
        for (size_t a = 0; a < ref_tensor_size(&c->m.tensor[k]); a++)
            assert_true(c->m.tensor[k].value[a] == (float)c->theta.p[k][a]);

    ref_triple_grads tg;
    ref_triple_grads_init(&tg, &c->m, &c->st->trial.support_slots,
                          meta_support);
    for (int k = 0; k < c->m.n_tensors; k++) {
        size_t size = ref_tensor_size(&c->m.tensor[k]);
        c->alpha[k] = malloc(size * sizeof(double));
        c->mean_grad[k] = calloc(size, sizeof(double));
        c->numeric[k] = malloc(size * sizeof(double));
        for (size_t a = 0; a < size; a++)
            c->alpha[k][a] = c->st->alpha.block[k].value[a];
        for (int x = 0; x < N_S; x++)
            for (size_t a = 0; a < size; a++)
                c->mean_grad[k][a] +=
                    tg.grad[(size_t)x * c->m.n_tensors + k][a] / N_S;
    }
    ref_triple_grads_free(&tg);

    ref_min_preact = INFINITY;
    double at_alpha = sgd_ref_loss(c);
    for (int k = 0; k < c->m.n_tensors; k++)
        for (size_t a = 0; a < ref_tensor_size(&c->m.tensor[k]); a++)
            c->numeric[k][a] = grad_central(sgd_ref_loss, c, &c->alpha[k][a]);
    print_message("%s: meta-loss %.6f (double %.6f), min |tower pre-act| "
                  "%.2e\n", model, c->analytic_loss, at_alpha, ref_min_preact);
    assert_true(fabs(c->analytic_loss - at_alpha) < 1e-5 * fabs(at_alpha));
    assert_true(ref_min_preact > 1e3 * GRAD_FD_STEP);
}

static void sgd_case_close(sgd_case *c) {
    for (int k = 0; k < MELON_MAX_TENSORS; k++) {
        free(c->alpha[k]);
        free(c->mean_grad[k]);
        free(c->numeric[k]);
    }
    ref_params_free(&c->theta);
    ref_params_free(&c->trial);
    melon_strategy_free(&c->s);
    melon_model_free(&c->m);
}

/* BPR-MF's user bias cancels in every triple: its alpha has no gradient. */
static unsigned vanishing_blocks(const melon_model *m) {
    unsigned mask = 0;
    for (int k = 0; k < m->n_tensors; k++)
        if (strcmp(m->tensor[k].name, "user_bias") == 0) mask |= 1u << k;
    return mask;
}

/* The cases of the check: model, init std, largest initial alpha, seed. */
static const struct {
    const char *model;
    float init_std, alpha_high;
    uint64_t seed;
} cases[] = {
    {"bpr", 0.5f, 2.0f, 1}, {"bpr", 0.8f, 1.0f, 4}, {"bpr", 0.5f, 4.0f, 1},
    {"ncf", 0.5f, 4.0f, 1}, {"ncf", 0.6f, 8.0f, 3},
};

static void meta_gradients(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        sgd_case c;
        sgd_case_open(&c, cases[k].model, cases[k].init_std,
                      cases[k].alpha_high, cases[k].seed);
        assert_meta_blocks_correct(&c.st->alpha, c.m.n_tensors, c.numeric,
                                   vanishing_blocks(&c.m));
        sgd_case_close(&c);
    }
}

/* Effective rates: the update on interaction x alone moves theta_m by
 * -alpha_m g_xm = -W_xm n g_xm, so W_xm = alpha_m / n for every x
 * touching theta_m (column-constant), while a row holds many different
 * alphas; the batch update is the sum over x (Eq. 4). */
static void rates_are_constant_along_columns(const char *model) {
    const int n = N_S;
    melon_model m;
    tiny_model(&m, model, 0.5f, 2, 2 * n);
    melon_config cfg;
    melon_config_default(&cfg);
    cfg.run.batch_size = n;
    melon_strategy s;
    melon_err err = {{0}};
    assert_int_equal(melon_config_create_strategy(&s, "metasgd", &m, &cfg, &err), 0);
    metasgd_state *st = s.impl;
    single_moves sm;
    single_moves_take(&sm, &s, &m, meta_support, n);
    double *col_rate[MELON_MAX_TENSORS];
    for (int k = 0; k < m.n_tensors; k++) {
        size_t size = ref_tensor_size(&m.tensor[k]);
        col_rate[k] = malloc(size * sizeof(double));
        for (size_t a = 0; a < size; a++) col_rate[k][a] = NAN;
    }
    int shared_columns = 0;
    double widest_row_spread = 0.0;
    for (int x = 0; x < n; x++) {
        double lo = INFINITY, hi = 0.0;
        for (int k = 0; k < m.n_tensors; k++) {
            const double *move = single_move(&sm, x, k), *grad = single_grad(&sm, x, k);
            for (size_t a = 0; a < ref_tensor_size(&m.tensor[k]); a++) {
                if (fabs(grad[a]) < 1e-2 * sm.gmax[x]) continue;
                double rate = -move[a] / (n * grad[a]);        /* W_xm */
                double alpha = st->alpha.block[k].value[a];
                assert_true(fabs(rate - alpha / n) <= 1e-3 * alpha / n);
                if (!isnan(col_rate[k][a])) {
                    /* each within 1e-3 of alpha / n, so within 2e-3 of
                     * each other */
                    shared_columns++;
                    assert_true(fabs(rate - col_rate[k][a]) <=
                                2e-3 * col_rate[k][a]);
                }
                col_rate[k][a] = rate;
                lo = fmin(lo, rate);
                hi = fmax(hi, rate);
            }
        }
        widest_row_spread = fmax(widest_row_spread, hi / lo);
    }
    print_message("  %s: %d columns shared by several interactions, each "
                  "with one rate; rates within a row span up to %.1fx\n",
                  model, shared_columns, widest_row_spread);
    assert_true(shared_columns > 20);
    assert_true(widest_row_spread > 2.0);
    for (int k = 0; k < m.n_tensors; k++) free(col_rate[k]);
    single_moves_free(&sm);
    melon_strategy_free(&s);
    melon_model_free(&m);
}

static void rates_columns_bpr(void **state) {
    (void)state;
    rates_are_constant_along_columns("bpr");
}

static void rates_columns_ncf(void **state) {
    (void)state;
    rates_are_constant_along_columns("ncf");
}

/* Two meta steps on disjoint rows: lazy Adam leaves the alphas of the
 * first step's rows alone in the second, dense Adam moves them on their
 * momentum; alphas never touched stay at their init in both. */
static void lazy_and_dense_adam(void **state) {
    (void)state;
    static const melon_triple s1[] = {{0, 1, 2}, {1, 2, 1}};
    static const melon_triple q1[] = {{0, 2, 1}, {1, 1, 2}};
    static const melon_triple s2[] = {{3, 4, 5}, {4, 5, 4}};
    static const melon_triple q2[] = {{3, 5, 4}, {4, 4, 5}};
    for (int dense = 0; dense < 2; dense++) {
        melon_model m;
        tiny_model(&m, "bpr", 0.5f, 1, 4);
        melon_config cfg;
        melon_config_default(&cfg);
        cfg.run.batch_size = 2;
        cfg.strategy.metasgd.dense_adam = dense;
        melon_strategy s;
        melon_err err = {{0}};
        assert_int_equal(melon_config_create_strategy(&s, "metasgd", &m, &cfg, &err), 0);
        metasgd_state *st = s.impl;
        const float *alpha_user = st->alpha.block[0].value;  /* user_emb */
        int d = m.cfg.dim;
        float init_u0 = alpha_user[0], init_u2 = alpha_user[2 * d];
        melon_context ctx = {.model = &m};
        melon_meta_trial_support_given(&st->trial, &m, s1, 2);
        metasgd_meta_gradient(st, &ctx, q1, 2);
        metasgd_meta_update(st, &m);
        float after1 = alpha_user[0];
        assert_true(after1 != init_u0);
        melon_meta_trial_support_given(&st->trial, &m, s2, 2);
        metasgd_meta_gradient(st, &ctx, q2, 2);
        assert_true(st->alpha.block[0].grad[0] == 0.0f);
        metasgd_meta_update(st, &m);
        print_message("  %s Adam: alpha[user 0] %.6f -> %.6f -> %.6f\n",
                      dense ? "dense" : "lazy", init_u0, after1, alpha_user[0]);
        if (dense) assert_true(alpha_user[0] != after1);
        else assert_true(alpha_user[0] == after1);
        assert_true(alpha_user[2 * d] == init_u2);   /* user 2: never */
        melon_strategy_free(&s);
        melon_model_free(&m);
    }
}

static void runs_through_the_runner(void **state) {
    (void)state;
    assert_runs_reproduce("metasgd", "metasgd-meta-data");
}

/* The popularity model has nothing to meta-learn a rate for. */
static void pop_is_refused(void **state) {
    (void)state;
    melon_model m;
    tiny_model(&m, "pop", 0.01f, 1, 4);
    melon_config cfg;
    melon_config_default(&cfg);
    melon_strategy s;
    melon_err err = {{0}};
    assert_int_equal(melon_config_create_strategy(&s, "metasgd", &m, &cfg, &err),
                     MELON_NOT_APPLICABLE);
    assert_non_null(strstr(err.msg, "pop"));
    melon_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(meta_gradients),
        cmocka_unit_test(rates_columns_bpr),
        cmocka_unit_test(rates_columns_ncf),
        cmocka_unit_test(lazy_and_dense_adam),
        cmocka_unit_test(runs_through_the_runner),
        cmocka_unit_test(pop_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
