/* Finite-difference check of the attention kernel's gradient with respect
 * to both halves of the attention vector, on both sides of the LeakyReLU. */
#include "test_support.h"

#include "melon/attention.h"

#include <math.h>

enum { N = 4, DIM = 3 };

static const float nb[N * DIM] = {0.3f, -1.2f, 0.8f, 1.1f, 0.4f, -0.5f,
                                  -0.7f, 0.9f, 0.2f, 0.5f, 0.5f, 1.3f};
static const float self_feat[DIM] = {0.6f, -0.2f, 0.9f};
static const float dmu[DIM] = {0.7f, -1.1f, 0.4f};

/* L = dmu . mu(a), in double through a float forward */
static double loss(const float *a_nb, const float *a_self, float slope) {
    float pi[N], alpha[N], mu[DIM];
    melon_attention_cache c = {N, pi, alpha};
    melon_attention_forward(N, DIM, nb, self_feat, a_nb, a_self, slope, &c, mu);
    double l = 0.0;
    for (int d = 0; d < DIM; d++) l += (double)dmu[d] * mu[d];
    return l;
}

static void check(float slope, const float *a_nb0, const float *a_self0,
                  int corrupt) {
    float a_nb[DIM], a_self[DIM], pi[N], alpha[N], mu[DIM];
    for (int d = 0; d < DIM; d++) a_nb[d] = a_nb0[d], a_self[d] = a_self0[d];
    melon_attention_cache c = {N, pi, alpha};
    melon_attention_forward(N, DIM, nb, self_feat, a_nb, a_self, slope, &c, mu);
    float g_nb[DIM] = {0}, g_self[DIM] = {0};
    melon_attention_backward(N, DIM, nb, self_feat, slope, &c, dmu, g_nb, g_self);
    if (corrupt) g_nb[1] *= -1.0f;
    const float h = 1e-3f;
    int bad = 0;
    for (int half = 0; half < 2; half++) {
        float *a = half ? a_self : a_nb;
        float *g = half ? g_self : g_nb;
        for (int d = 0; d < DIM; d++) {
            float keep = a[d];
            a[d] = keep + h;
            double up = loss(a_nb, a_self, slope);
            a[d] = keep - h;
            double down = loss(a_nb, a_self, slope);
            a[d] = keep;
            double fd = (up - down) / (2.0 * h);
            if (fabs(fd - g[d]) > 2e-3 * fmax(1.0, fabs(fd))) bad = 1;
        }
    }
    assert_int_equal(bad, corrupt);
}

static void gradient_matches_finite_differences(void **state) {
    (void)state;
    const float pos_nb[DIM] = {0.9f, 0.3f, 0.6f}, pos_self[DIM] = {0.5f, 0.1f, 0.4f};
    const float neg_nb[DIM] = {-0.9f, 0.3f, -0.6f}, neg_self[DIM] = {-0.5f, 0.1f, -0.4f};
    check(0.2f, pos_nb, pos_self, 0);
    check(0.2f, neg_nb, neg_self, 0);
    check(0.01f, neg_nb, neg_self, 0);
    check(0.2f, pos_nb, pos_self, 1); /* a wrong gradient is caught */
}

static void weights_sum_to_one_and_empty_gives_zero(void **state) {
    (void)state;
    const float a[DIM] = {0.2f, -0.4f, 0.1f};
    float pi[N], alpha[N], mu[DIM];
    melon_attention_cache c = {N, pi, alpha};
    melon_attention_forward(N, DIM, nb, self_feat, a, a, 0.2f, &c, mu);
    double total = 0.0;
    for (int k = 0; k < N; k++) total += alpha[k];
    assert_close(total, 1.0, 1e-6);
    melon_attention_forward(0, DIM, nb, self_feat, a, a, 0.2f, &c, mu);
    for (int d = 0; d < DIM; d++) assert_close(mu[d], 0.0, 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradient_matches_finite_differences),
        cmocka_unit_test(weights_sum_to_one_and_empty_gives_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
