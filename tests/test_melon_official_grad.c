/* Finite-difference checks of the official MeLON's meta-gradient
 * (update-strategies.md A.5) for every meta-parameter block — the GAT's
 * attention, self, neighbour and output projections of both sides, L1,
 * BatchNorm 1, L2, BatchNorm 2, the role map A, a, the gate weights w_F,
 * w_I and biases b_F, b_I — on a tiny BPR-MF and a tiny NCF with large
 * values, and for the ablations melon-i and melon-p.
 *
 * The analytic gradient is the strategy's own (fused float loops); the
 * numeric one is the central difference of an independent double
 * re-implementation of the meta-loss (test_melon_official_fixture.h),
 * which first has to agree with the strategy's own meta-loss. Every block
 * passes the one checker (grad_check.h) at 2e-3, which also rejects it
 * with one entry off, its sign flipped or scaled by 1.01. */
#include "test_melon_official_fixture.h"

#include "grad_check.h"

#define OFFICIAL_TOL 2e-3   /* the one checker's tolerance (grad_check.h) */

static double meta_loss(void *ctx) { return ref_meta_loss(ctx); }

static const char *block_name(const official_params *p, int b) {
    for (int k = 0; k < p->mp.n_blocks; k++)
        if (p->mp.block[k].value == p->value[b]) return p->mp.block[k].name;
    return "?";
}

/* L1 and L2 biases feed a BatchNorm, which subtracts them again: their
 * gradient is exactly zero. */
static int zero_by_construction(int b) { return b == OB_L1_B || b == OB_L2_B; }

static void check_meta_gradient(const char *model, melon_ablation ablation,
                                uint64_t seed) {
    fixture f;
    fx_init(&f, model, ablation, 0, seed);
    official_params *p = official_strategy_params(&f.strategy);
    fx_scale_meta_params(p, seed + 1);
    ref_problem P;
    ref_init(&P, &f);
    melon_err err = {{0}};
    if (official_strategy_meta_gradient(&f.strategy, &f.ctx, f.batch, f.n,
                                        &err) != 0)
        fail_msg("meta gradient: %s", err.msg);
    ref_take_support(&P, &f);

    /* the two meta-losses agree (the fused forward is the spec's) */
    double ref_loss = ref_meta_loss(&P);
    double own_loss = official_strategy_meta_trial(&f.strategy)->query_loss;
    print_message("%s ablation %d: meta-loss %.9f (reference %.9f)\n", model,
                  (int)ablation, own_loss, ref_loss);
    assert_close(own_loss, ref_loss, 2e-5 * fabs(ref_loss));

    double *numeric[OB_COUNT] = {0};
    double global = 0.0;
    for (int b = 0; b < OB_COUNT; b++) {
        if (!P.phi[b]) continue;
        numeric[b] = malloc(P.phi_size[b] * sizeof(double));
        assert_non_null(numeric[b]);
        for (size_t a = 0; a < P.phi_size[b]; a++)
            numeric[b][a] = grad_central(meta_loss, &P, &P.phi[b][a]);
        global = fmax(global, grad_scale(numeric[b], P.phi_size[b]));
    }
    int checked = 0;
    for (int b = 0; b < OB_COUNT; b++) {
        if (!P.phi[b]) {
            assert_null(p->grad[b]);
            continue;
        }
        size_t n = P.phi_size[b];
        const char *name = block_name(p, b);
        double scale = grad_scale(numeric[b], n);
        if (zero_by_construction(b)) {
            double own = 0.0;
            for (size_t a = 0; a < n; a++) own = fmax(own, fabs(p->grad[b][a]));
            print_message("  %-15s zero by construction: |grad| %.1e, "
                          "|numeric| %.1e\n", name, own, scale);
            assert_true(own <= 1e-5 * global);
            assert_true(scale <= 1e-6 * global);
            continue;
        }
        /* the block is exercised, matches, and wrong ones are rejected */
        grad_check_block(name, p->grad[b], numeric[b], n, OFFICIAL_TOL,
                         1e-6 * global);
        checked++;
    }
    assert_true(checked >= 4);
    for (int b = 0; b < OB_COUNT; b++) free(numeric[b]);
    ref_free(&P);
    fx_free(&f);
}

/* The cases: model, ablation, seed. */
static const struct {
    const char *model;
    melon_ablation ablation;
    uint64_t seed;
} cases[] = {
    {"bpr", MELON_ABLATION_NONE, 3},        {"bpr", MELON_ABLATION_NONE, 11},
    {"ncf", MELON_ABLATION_NONE, 5},        {"bpr", MELON_ABLATION_INTERACTION, 7},
    {"bpr", MELON_ABLATION_PARAMETER, 7},   {"ncf", MELON_ABLATION_INTERACTION, 9},
};

static void meta_gradients(void **state) {
    (void)state;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        check_meta_gradient(cases[k].model, cases[k].ablation, cases[k].seed);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(meta_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
