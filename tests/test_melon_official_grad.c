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
 * which first has to agree with the strategy's own meta-loss. A block
 * passes when max |analytic - numeric| / (|numeric| + 1e-3 max|numeric|)
 * stays under 2e-3; the same checker must reject a gradient with one
 * entry off by 5% of the block's scale, or with its sign flipped. */
#include "test_melon_official_fixture.h"

#define FD_STEP 1e-6
#define GRAD_TOL 2e-3

static double block_error(const float *analytic, const double *numeric,
                          size_t n) {
    double scale = 0.0;
    for (size_t a = 0; a < n; a++) scale = fmax(scale, fabs(numeric[a]));
    double floor = 1e-3 * scale + 1e-12;
    double worst = 0.0;
    for (size_t a = 0; a < n; a++)
        worst = fmax(worst, fabs(analytic[a] - numeric[a]) /
                                (fabs(numeric[a]) + floor));
    return worst;
}

static double max_abs(const double *x, size_t n) {
    double m = 0.0;
    for (size_t a = 0; a < n; a++) m = fmax(m, fabs(x[a]));
    return m;
}

static const char *block_name(const official_params *p, int b) {
    for (int k = 0; k < p->mp.n_blocks; k++)
        if (p->mp.block[k].value == p->value[b]) return p->mp.block[k].name;
    return "?";
}

/* L1 and L2 biases feed a BatchNorm, which subtracts them again: their
 * gradient is exactly zero. */
static int zero_by_construction(int b) { return b == OB_L1_B || b == OB_L2_B; }

/* The checker rejects wrong gradients: one entry off by 5% of the block's
 * scale, or the whole block with its sign flipped. */
static void assert_checker_rejects(const float *analytic,
                                   const double *numeric, size_t n,
                                   const char *name) {
    float *bad = malloc(n * sizeof(float));
    assert_non_null(bad);
    size_t top = 0;
    for (size_t a = 0; a < n; a++)
        if (fabs(numeric[a]) > fabs(numeric[top])) top = a;
    double scale = max_abs(numeric, n);
    memcpy(bad, analytic, n * sizeof(float));
    bad[top] += (float)(0.05 * scale);
    double off = block_error(bad, numeric, n);
    for (size_t a = 0; a < n; a++) bad[a] = -analytic[a];
    double flipped = block_error(bad, numeric, n);
    print_message("  %-15s corrupted: one entry %.2e, sign %.2e\n", name, off,
                  flipped);
    assert_true(off > GRAD_TOL);
    assert_true(flipped > GRAD_TOL);
    free(bad);
}

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
        for (size_t a = 0; a < P.phi_size[b]; a++) {
            double keep = P.phi[b][a];
            P.phi[b][a] = keep + FD_STEP;
            double up = ref_meta_loss(&P);
            P.phi[b][a] = keep - FD_STEP;
            double down = ref_meta_loss(&P);
            P.phi[b][a] = keep;
            numeric[b][a] = (up - down) / (2.0 * FD_STEP);
        }
        global = fmax(global, max_abs(numeric[b], P.phi_size[b]));
    }
    int checked = 0;
    for (int b = 0; b < OB_COUNT; b++) {
        if (!P.phi[b]) {
            assert_null(p->grad[b]);
            continue;
        }
        size_t n = P.phi_size[b];
        const char *name = block_name(p, b);
        double scale = max_abs(numeric[b], n);
        if (zero_by_construction(b)) {
            double own = 0.0;
            for (size_t a = 0; a < n; a++) own = fmax(own, fabs(p->grad[b][a]));
            print_message("  %-15s zero by construction: |grad| %.1e, "
                          "|numeric| %.1e\n", name, own, scale);
            assert_true(own <= 1e-5 * global);
            assert_true(scale <= 1e-6 * global);
            continue;
        }
        double e = block_error(p->grad[b], numeric[b], n);
        print_message("  %-15s error %.2e  (|grad| up to %.2e)\n", name, e,
                      scale);
        assert_true(scale > 1e-6 * global); /* the block is exercised */
        if (e >= GRAD_TOL) fail_msg("block %s: error %.3e", name, e);
        assert_checker_rejects(p->grad[b], numeric[b], n, name);
        checked++;
    }
    assert_true(checked >= 4);
    for (int b = 0; b < OB_COUNT; b++) free(numeric[b]);
    ref_free(&P);
    fx_free(&f);
}

static void bpr_meta_gradient(void **state) {
    (void)state;
    check_meta_gradient("bpr", MELON_ABLATION_NONE, 3);
    check_meta_gradient("bpr", MELON_ABLATION_NONE, 11);
}

static void ncf_meta_gradient(void **state) {
    (void)state;
    check_meta_gradient("ncf", MELON_ABLATION_NONE, 5);
}

static void ablation_meta_gradients(void **state) {
    (void)state;
    check_meta_gradient("bpr", MELON_ABLATION_INTERACTION, 7);
    check_meta_gradient("bpr", MELON_ABLATION_PARAMETER, 7);
    check_meta_gradient("ncf", MELON_ABLATION_INTERACTION, 9);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bpr_meta_gradient),
        cmocka_unit_test(ncf_meta_gradient),
        cmocka_unit_test(ablation_meta_gradients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
