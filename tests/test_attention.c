/* Finite-difference check of the attention kernel's gradient with respect
 * to both halves of the attention vector, on both sides of the LeakyReLU,
 * against a double re-implementation of the forward. */
#include "grad_check.h"
#include "test_support.h"

#include "nn/attention.h"

#include <math.h>
#include <stdint.h>

enum { N = 4, DIM = 3 };

static const float nb[N * DIM] = {0.3f, -1.2f, 0.8f, 1.1f, 0.4f, -0.5f,
                                  -0.7f, 0.9f, 0.2f, 0.5f, 0.5f, 1.3f};
static const float self_feat[DIM] = {0.6f, -0.2f, 0.9f};
static const float dmu[DIM] = {0.7f, -1.1f, 0.4f};

/* The attention vector's two halves in double, a_nb then a_self. */
typedef struct {
    double a[2 * DIM];
    double slope;
} ref_attention;

/* L = dmu . mu(a), the forward of attention.h redone in double. */
static double ref_loss(void *ctx) {
    const ref_attention *r = ctx;
    double self_term = 0.0, lambda[N], top = -INFINITY;
    for (int d = 0; d < DIM; d++) self_term += r->a[DIM + d] * self_feat[d];
    for (int k = 0; k < N; k++) {
        double pi = self_term;
        for (int d = 0; d < DIM; d++) pi += r->a[d] * nb[k * DIM + d];
        lambda[k] = pi > 0 ? pi : r->slope * pi;
        top = fmax(top, lambda[k]);
    }
    double total = 0.0;
    for (int k = 0; k < N; k++) total += exp(lambda[k] - top);
    double l = 0.0;
    for (int k = 0; k < N; k++)
        for (int d = 0; d < DIM; d++)
            l += exp(lambda[k] - top) / total * nb[k * DIM + d] * dmu[d];
    return l;
}

/* The kernel's gradient of both halves against central differences of
 * the double forward (the one checker, grad_check.h, at 1e-3; it also
 * rejects wrong gradients). */
static void check(float slope, const float *a_nb, const float *a_self) {
    float pi[N], alpha[N], mu[DIM];
    melon_attention_cache c = {N, pi, alpha};
    melon_attention_forward(N, DIM, nb, self_feat, a_nb, a_self, slope, &c, mu);
    float g[2 * DIM] = {0}, dpi[N];
    melon_attention_backward(N, DIM, nb, self_feat, slope, &c, dmu, dpi, g,
                             g + DIM);
    ref_attention r = {.slope = slope};
    for (int d = 0; d < DIM; d++) {
        r.a[d] = a_nb[d];
        r.a[DIM + d] = a_self[d];
    }
    double numeric[2 * DIM];
    for (int d = 0; d < 2 * DIM; d++)
        numeric[d] = grad_central(ref_loss, &r, &r.a[d]);
    grad_check_block("attention a", g, numeric, 2 * DIM, 1e-3, 1e-3);
}

static void gradient_matches_finite_differences(void **state) {
    (void)state;
    const float pos_nb[DIM] = {0.9f, 0.3f, 0.6f}, pos_self[DIM] = {0.5f, 0.1f, 0.4f};
    const float neg_nb[DIM] = {-0.9f, 0.3f, -0.6f}, neg_self[DIM] = {-0.5f, 0.1f, -0.4f};
    check(0.2f, pos_nb, pos_self);
    check(0.2f, neg_nb, neg_self);
    check(0.01f, neg_nb, neg_self);
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

/* The kernel sums each dot product in index order however it schedules
 * them, so it matches one ordered sum per product bit for bit; eleven
 * neighbours span more than one block of the kernel's side-by-side sums. */
enum { WIDE_N = 11, WIDE_DIM = 37 };

static float ordered_dot(const float *x, const float *y, int dim) {
    float s = 0.0f;
    for (int c = 0; c < dim; c++) s += x[c] * y[c];
    return s;
}

static void reference_forward(const float *e, const float *self, const float *a_nb,
                              const float *a_self, float slope, float *pi,
                              float *alpha, float *mu) {
    float self_term = ordered_dot(a_self, self, WIDE_DIM), top = -INFINITY;
    for (int k = 0; k < WIDE_N; k++) {
        pi[k] = ordered_dot(a_nb, e + k * WIDE_DIM, WIDE_DIM) + self_term;
        alpha[k] = pi[k] > 0.0f ? pi[k] : slope * pi[k];
        if (alpha[k] > top) top = alpha[k];
    }
    float total = 0.0f;
    for (int k = 0; k < WIDE_N; k++) {
        alpha[k] = expf(alpha[k] - top);
        total += alpha[k];
    }
    for (int c = 0; c < WIDE_DIM; c++) mu[c] = 0.0f;
    for (int k = 0; k < WIDE_N; k++) {
        alpha[k] /= total;
        for (int c = 0; c < WIDE_DIM; c++) mu[c] += alpha[k] * e[k * WIDE_DIM + c];
    }
}

static void reference_backward(const float *e, const float *self, float slope,
                               const float *pi, const float *alpha,
                               const float *d_mu, float *da_nb, float *da_self) {
    float mu_dot = 0.0f, self_total = 0.0f;
    for (int k = 0; k < WIDE_N; k++)
        mu_dot += alpha[k] * ordered_dot(e + k * WIDE_DIM, d_mu, WIDE_DIM);
    for (int k = 0; k < WIDE_N; k++) {
        const float *ek = e + k * WIDE_DIM;
        float dpi = alpha[k] * (ordered_dot(ek, d_mu, WIDE_DIM) - mu_dot) *
                    (pi[k] > 0.0f ? 1.0f : slope);
        for (int c = 0; c < WIDE_DIM; c++) da_nb[c] += dpi * ek[c];
        self_total += dpi;
    }
    for (int c = 0; c < WIDE_DIM; c++) da_self[c] += self_total * self[c];
}

static void many_neighbours_match_ordered_sums(void **state) {
    (void)state;
    float e[WIDE_N * WIDE_DIM], self[WIDE_DIM], a_nb[WIDE_DIM], a_self[WIDE_DIM];
    float d_mu[WIDE_DIM];
    uint32_t x = 12345u;
    float *all[] = {e, self, a_nb, a_self, d_mu};
    int sizes[] = {WIDE_N * WIDE_DIM, WIDE_DIM, WIDE_DIM, WIDE_DIM, WIDE_DIM};
    for (int v = 0; v < 5; v++)
        for (int a = 0; a < sizes[v]; a++) {
            x = x * 1664525u + 1013904223u;
            all[v][a] = (float)(x >> 8) / 16777216.0f - 0.5f;
        }
    for (int a = 0; a < WIDE_DIM; a++) self[a] *= 0.01f; /* pi's sign from e_k */
    float pi[WIDE_N], alpha[WIDE_N], mu[WIDE_DIM];
    float ref_pi[WIDE_N], ref_alpha[WIDE_N], ref_mu[WIDE_DIM];
    melon_attention_cache c = {WIDE_N, pi, alpha};
    melon_attention_forward(WIDE_N, WIDE_DIM, e, self, a_nb, a_self, 0.2f, &c, mu);
    reference_forward(e, self, a_nb, a_self, 0.2f, ref_pi, ref_alpha, ref_mu);
    int positive = 0;
    for (int k = 0; k < WIDE_N; k++) positive += pi[k] > 0.0f;
    assert_true(positive > 0 && positive < WIDE_N); /* both LeakyReLU sides */
    assert_memory_equal(pi, ref_pi, sizeof pi);
    assert_memory_equal(alpha, ref_alpha, sizeof alpha);
    assert_memory_equal(mu, ref_mu, sizeof mu);
    float g_nb[WIDE_DIM] = {0}, g_self[WIDE_DIM] = {0};
    float ref_nb[WIDE_DIM] = {0}, ref_self[WIDE_DIM] = {0};
    float dpi[WIDE_N];
    melon_attention_backward(WIDE_N, WIDE_DIM, e, self, 0.2f, &c, d_mu, dpi, g_nb,
                             g_self);
    reference_backward(e, self, 0.2f, ref_pi, ref_alpha, d_mu, ref_nb, ref_self);
    assert_memory_equal(g_nb, ref_nb, sizeof g_nb);
    assert_memory_equal(g_self, ref_self, sizeof g_self);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradient_matches_finite_differences),
        cmocka_unit_test(weights_sum_to_one_and_empty_gives_zero),
        cmocka_unit_test(many_neighbours_match_ordered_sums),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
