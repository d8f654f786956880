/* The one finite-difference gradient checker (grad_check.h). */
#include "grad_check.h"

#include "test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double grad_central(grad_loss_fn loss, void *ctx, double *x) {
    double saved = *x;
    *x = saved + GRAD_FD_STEP;
    double up = loss(ctx);
    *x = saved - GRAD_FD_STEP;
    double down = loss(ctx);
    *x = saved;
    return (up - down) / (2.0 * GRAD_FD_STEP);
}

double grad_scale(const double *numeric, size_t n) {
    double scale = 0.0;
    for (size_t a = 0; a < n; a++) scale = fmax(scale, fabs(numeric[a]));
    return scale;
}

double grad_error(const float *analytic, const double *numeric, size_t n) {
    return grad_error_at(analytic, numeric, n, grad_scale(numeric, n));
}

double grad_error_at(const float *analytic, const double *numeric, size_t n,
                     double scale) {
    double floor = 1e-2 * scale + 1e-15;
    double worst = 0.0;
    for (size_t a = 0; a < n; a++)
        worst = fmax(worst, fabs(analytic[a] - numeric[a]) /
                                (fabs(numeric[a]) + floor));
    return worst;
}

void grad_assert_rejected(const char *name, const float *analytic,
                          const double *numeric, size_t n, double tol) {
    float *bad = malloc(n * sizeof(float));
    assert_non_null(bad);
    size_t top = 0;
    for (size_t a = 1; a < n; a++)
        if (fabs(numeric[a]) > fabs(numeric[top])) top = a;
    memcpy(bad, analytic, n * sizeof(float));
    bad[top] = (float)(bad[top] + 0.02 * grad_scale(numeric, n));
    double off = grad_error(bad, numeric, n);
    for (size_t a = 0; a < n; a++) bad[a] = -analytic[a];
    double flipped = grad_error(bad, numeric, n);
    for (size_t a = 0; a < n; a++) bad[a] = 1.01f * analytic[a];
    double scaled = grad_error(bad, numeric, n);
    free(bad);
    if (off < tol || flipped < tol || scaled < tol)
        fail_msg("%s: a wrong gradient passes at %.1e (entry off %.2e, "
                 "flipped %.2e, x1.01 %.2e)", name, tol, off, flipped, scaled);
}

void grad_check_block(const char *name, const float *analytic,
                      const double *numeric, size_t n, double tol,
                      double min_scale) {
    double scale = grad_scale(numeric, n);
    double err = grad_error(analytic, numeric, n);
    print_message("  %-20s error %.2e  (|grad| up to %.2e)\n", name, err,
                  scale);
    if (!(scale > min_scale))
        fail_msg("%s: gradient too small to check (%.2e)", name, scale);
    if (!(err < tol))
        fail_msg("%s: gradient check failed (%.3e, tolerance %.1e)", name,
                 err, tol);
    grad_assert_rejected(name, analytic, numeric, n, tol);
}
