/* The vector-math layer (src/nn/vmath.h) against libm in double, over the
 * ranges the strategies use: exp on [-87, 88], log on every binade of the
 * positive normal floats, sigmoid (single and paired), tanh, GELU and its
 * derivative, and the rho preprocessing against nn.h's reference with both
 * epsilons in use (MeLON's 1e-8, S2Meta's 1e-20). */
#include "support/test_support.h"

#include "nn/vmath.h"

#include <float.h>
#include <math.h>

#define SAMPLES 400000

static double rel(double got, double want) {
    return fabs(got - want) / fmax(fabs(want), 1e-30);
}

static void exp_and_log_match_libm(void **state) {
    (void)state;
    double worst_exp = 0, worst_log = 0;
    for (int k = 0; k <= SAMPLES; k++) {
        float x = -87.0f + 175.0f * (float)k / SAMPLES;
        worst_exp = fmax(worst_exp, rel(vm_exp(x), exp((double)x)));
        /* every binade of the normal floats, 1600 mantissas each */
        float y = ldexpf(1.0f + (float)(k % 1601) / 1601.0f, k % 253 - 126);
        worst_log = fmax(worst_log, fabs(vm_log(y) - log((double)y)) /
                                        fmax(1.0, fabs(log((double)y))));
    }
    print_message("exp %.2e (relative), log %.2e\n", worst_exp, worst_log);
    assert_true(worst_exp < 1.5e-7);
    assert_true(worst_log < 2e-7);
    /* the clamp keeps e^x a finite normal float */
    assert_true(vm_exp(100.0f) == vm_exp(88.0f) && isfinite(vm_exp(100.0f)));
    assert_true(vm_exp(-100.0f) == vm_exp(-87.0f) && vm_exp(-100.0f) >= FLT_MIN);
    assert_true(vm_exp(0.0f) == 1.0f && vm_log(1.0f) == 0.0f);
    /* a NaN stays a NaN */
    assert_true(isnan(vm_exp(NAN)) && isnan(vm_exp_in_range(NAN)));
    assert_true(isnan(vm_sigmoid(NAN)) && isnan(vm_tanh(NAN)));
}

static void activations_match_libm(void **state) {
    (void)state;
    double worst_sig = 0, worst_pair = 0, worst_tanh = 0, worst_gelu = 0,
           worst_grad = 0;
    for (int k = 0; k <= SAMPLES; k++) {
        float x = -40.0f + 80.0f * (float)k / SAMPLES;
        double xd = x, s = 1.0 / (1.0 + exp(-xd));
        worst_sig = fmax(worst_sig, rel(vm_sigmoid(x), s));
        float other = 17.0f - 0.7f * x, pf, pi;
        vm_sigmoid_pair(x, other, &pf, &pi);
        worst_pair = fmax(worst_pair, rel(pf, s));
        worst_pair = fmax(worst_pair, rel(pi, 1.0 / (1.0 + exp(-(double)other))));
        worst_tanh = fmax(worst_tanh, fabs(vm_tanh(x) - tanh(xd)));
        double sg = 1.0 / (1.0 + exp(-1.702 * xd));
        double gelu = xd * sg, grad = sg + 1.702 * xd * sg * (1.0 - sg);
        worst_gelu = fmax(worst_gelu, fabs(vm_gelu(x) - gelu) / fmax(1.0, fabs(gelu)));
        /* 1 - sigmoid rounds to a multiple of 6e-8 near 1, times 1.702 x */
        worst_grad = fmax(worst_grad, fabs(vm_gelu_grad(x) - grad) / fmax(1.0, fabs(xd)));
    }
    print_message("sigmoid %.2e, pair %.2e (relative), tanh %.2e, gelu %.2e, "
                  "gelu' %.2e\n", worst_sig, worst_pair, worst_tanh,
                  worst_gelu, worst_grad);
    assert_true(worst_sig < 3e-7);
    assert_true(worst_pair < 3e-7);
    assert_true(worst_tanh < 3e-7);
    assert_true(worst_gelu < 3e-7);
    assert_true(worst_grad < 3e-7);
    /* saturation: within float rounding of 0 and 1, never NaN */
    for (float far = 40.0f; far < 1e30f; far *= 3.0f) {
        assert_true(vm_sigmoid(-far) >= 0.0f && vm_sigmoid(-far) < 5e-18f);
        assert_true(vm_sigmoid(far) == 1.0f);
        float pf, pi;
        vm_sigmoid_pair(-far, far, &pf, &pi);
        assert_true(pf >= 0.0f && pf < 5e-18f && pi == 1.0f);
        assert_true(fabsf(vm_tanh(-far) + 1.0f) < 2e-7f);
        assert_true(vm_tanh(far) == 1.0f);
    }
}

static void preprocess_matches_reference(void **state) {
    (void)state;
    /* both branches (the threshold e^-10 = 4.54e-5), both signs, zero */
    const float xs[] = {0.0f,   1e-7f, -3e-5f, 4.5e-5f, 4.6e-5f, -0.02f,
                        0.7f,   3.0f,  -250.0f, 1e20f,  -1e30f};
    const float eps[] = {MELON_PREPROCESS_EPS, 1e-20f};
    for (size_t e = 0; e < 2; e++)
        for (size_t k = 0; k < sizeof xs / sizeof xs[0]; k++) {
            float r1, r2, w1, w2;
            vm_preprocess(xs[k], eps[e], &r1, &r2);
            melon_preprocess(xs[k], eps[e], &w1, &w2);
            assert_close(r1, w1, 1e-6);
            assert_close(r2, w2, 1e-6 * fmax(1.0, fabs(w2)));
            /* from a known log (the official form's dense coordinates) */
            vm_preprocess_of_log(xs[k], logf(fabsf(xs[k]) + eps[e]), &r1, &r2);
            assert_close(r1, w1, 1e-6);
            assert_close(r2, w2, 1e-6 * fmax(1.0, fabs(w2)));
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exp_and_log_match_libm),
        cmocka_unit_test(activations_match_libm),
        cmocka_unit_test(preprocess_matches_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
