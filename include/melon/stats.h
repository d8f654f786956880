/* Summaries of repeated measurements (the median of timings) and over
 * seeds: mean, standard error, and the paired t-test that
 * decides whether a difference between two strategies is significant (the
 * same seeds rank the same evaluation negatives, so runs pair by seed). */
#ifndef MELON_STATS_H
#define MELON_STATS_H

#include <stddef.h>

double melon_mean(const double *x, size_t n);
/* Sorts x ascending in place. */
void melon_sort_doubles(double *x, size_t n);
/* The median of x (the mean of the middle two when n is even; 0 when
 * n = 0); sorts x in place. */
double melon_median(double *x, size_t n);
/* Sample standard deviation over sqrt(n); 0 when n < 2. */
double melon_standard_error(const double *x, size_t n);

typedef struct {
    double mean_difference;  /* mean of a - b */
    double t;                /* t statistic, n - 1 degrees of freedom */
    double p_two_sided;      /* 1 when n < 2; 0 or 1 for a constant
                                non-zero or zero difference */
    size_t n;
} melon_paired_test;

melon_paired_test melon_paired_t_test(const double *a, const double *b,
                                      size_t n);

#endif
