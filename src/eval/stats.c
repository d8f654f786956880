#include "melon/stats.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void melon_sort_doubles(double *x, size_t n) {
    qsort(x, n, sizeof *x, compare_doubles);
}

double melon_median(double *x, size_t n) {
    if (n == 0) return 0.0;
    melon_sort_doubles(x, n);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

double melon_mean(const double *x, size_t n) {
    double sum = 0.0;
    for (size_t k = 0; k < n; k++) sum += x[k];
    return n ? sum / (double)n : 0.0;
}

double melon_standard_error(const double *x, size_t n) {
    if (n < 2) return 0.0;
    double mean = melon_mean(x, n), ss = 0.0;
    for (size_t k = 0; k < n; k++) ss += (x[k] - mean) * (x[k] - mean);
    return sqrt(ss / (double)(n - 1) / (double)n);
}

melon_paired_test melon_paired_t_test(const double *a, const double *b,
                                      size_t n) {
    melon_paired_test r = {0.0, 0.0, 1.0, n};
    if (n == 0) return r;
    double diff[n];
    for (size_t k = 0; k < n; k++) diff[k] = a[k] - b[k];
    r.mean_difference = melon_mean(diff, n);
    if (n < 2) return r;
    double se = melon_standard_error(diff, n);
    if (se == 0.0) {
        /* every seed differs by the same amount */
        r.t = r.mean_difference == 0.0 ? 0.0 : copysign(INFINITY, r.mean_difference);
        r.p_two_sided = r.mean_difference == 0.0 ? 1.0 : 0.0;
        return r;
    }
    r.t = r.mean_difference / se;
    r.p_two_sided = 2.0 * gsl_cdf_tdist_Q(fabs(r.t), (double)(n - 1));
    return r;
}
