/* The branch-free float functions of S2Meta's MetaLSTM and SML's transfer
 * (src/update/s2meta_sml_math.h) against libm in double: exp, log, the
 * Newton reciprocal, sigmoid, tanh, GELU and its derivative, and the rho
 * preprocessing against nn.h's reference. */
#include "support/test_support.h"

#include "update/s2meta_sml_math.h"
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>

static double rel(double got, double want) {
    return fabs(got - want) / fmax(fabs(want), 1e-30);
}

static void exp_log_recip_match_libm(void **state) {
    (void)state;
    double worst_exp = 0, worst_log = 0, worst_recip = 0;
    for (int k = 0; k <= 200000; k++) {
        float x = -87.0f + 175.0f * (float)k / 200000.0f;
        worst_exp = fmax(worst_exp, rel(fm_expf(x), exp((double)x)));
        float y = ldexpf(1.0f + (float)(k % 1000) / 1000.0f, k % 250 - 125);
        worst_log = fmax(worst_log, fabs(fm_logf(y) - log((double)y)) /
                                        fmax(1.0, fabs(log((double)y))));
        /* the reciprocal's range: 1 <= x < 2^127, across every binade */
        float z = ldexpf(1.0f + (float)(k % 997) / 997.0f, k % 127);
        worst_recip = fmax(worst_recip, rel(fm_recip(z), 1.0 / (double)z));
    }
    print_message("exp %.2e, log %.2e, 1/x %.2e (relative)\n", worst_exp,
                  worst_log, worst_recip);
    assert_true(worst_exp < 3e-7);
    assert_true(worst_log < 3e-7);
    assert_true(worst_recip < 2e-7);
    /* e^x at the clamp and 1/x at the top of its range stay finite */
    assert_true(isfinite(fm_expf(100.0f)) && fm_expf(-100.0f) > 0.0f);
    assert_true(fm_recip(1.0f + fm_expf(88.0f)) >= 0.0f);
    assert_true(fm_recip(1.0f + fm_expf(88.0f)) < 1.3e-38f);
    assert_true(fm_recip(INFINITY) >= 0.0f && fm_recip(INFINITY) < 1.3e-38f);
}

static void activations_match_libm(void **state) {
    (void)state;
    double worst_sig = 0, worst_tanh = 0, worst_gelu = 0, worst_grad = 0;
    for (int k = 0; k <= 200000; k++) {
        float x = -30.0f + 60.0f * (float)k / 200000.0f;
        double xd = x, s = 1.0 / (1.0 + exp(-xd));
        worst_sig = fmax(worst_sig, rel(fm_sigmoid(x), s));
        worst_tanh = fmax(worst_tanh, fabs(fm_tanh(x) - tanh(xd)));
        double sg = 1.0 / (1.0 + exp(-1.702 * xd));
        double gelu = xd * sg, grad = sg + 1.702 * xd * sg * (1.0 - sg);
        worst_gelu = fmax(worst_gelu, fabs(fm_gelu(x) - gelu) / fmax(1.0, fabs(gelu)));
        /* 1 - sigmoid rounds to a multiple of 6e-8 near 1, times 1.702 x */
        worst_grad = fmax(worst_grad, fabs(fm_gelu_grad(x) - grad) / fmax(1.0, fabs(xd)));
    }
    print_message("sigmoid %.2e (relative), tanh %.2e, gelu %.2e, gelu' %.2e\n",
                  worst_sig, worst_tanh, worst_gelu, worst_grad);
    assert_true(worst_sig < 5e-7);
    assert_true(worst_tanh < 5e-7);
    assert_true(worst_gelu < 5e-7);
    assert_true(worst_grad < 5e-7);
    /* saturation: within float rounding of 0 and 1, never NaN */
    assert_true(fm_sigmoid(-200.0f) >= 0.0f && fm_sigmoid(-200.0f) < 1e-37f);
    assert_true(fabsf(fm_sigmoid(200.0f) - 1.0f) < 2e-7f);
    assert_true(fabsf(fm_tanh(-200.0f) + 1.0f) < 2e-7f);
    assert_true(fabsf(fm_tanh(200.0f) - 1.0f) < 2e-7f);
}

static void preprocess_matches_reference(void **state) {
    (void)state;
    const float xs[] = {0.0f, 1e-7f, -3e-5f, 4.5e-5f, 4.6e-5f, -0.02f,
                        0.7f, 3.0f, -250.0f, 1e20f};
    for (size_t k = 0; k < sizeof xs / sizeof xs[0]; k++) {
        float r1, r2, w1, w2;
        fm_preprocess(xs[k], 1e-20f, &r1, &r2);
        melon_preprocess(xs[k], 1e-20f, &w1, &w2);
        assert_close(r1, w1, 1e-6);
        assert_close(r2, w2, 1e-6 * fmax(1.0, fabs(w2)));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exp_log_recip_match_libm),
        cmocka_unit_test(activations_match_libm),
        cmocka_unit_test(preprocess_matches_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
