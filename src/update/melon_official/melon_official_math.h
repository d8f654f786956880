/* Scalar functions of the official MeLON's fused (pair, coordinate) loops,
 * written so that the compiler vectorises them inside `omp simd` loops
 * (libm's expf/logf are opaque calls there): exp, log, the logistic
 * sigmoid and the rho preprocessing of update-strategies.md section 0.
 * Branch-free; relative error a few float ulps (test_melon_official.c
 * compares them with libm). */
#ifndef MELON_OFFICIAL_MATH_H
#define MELON_OFFICIAL_MATH_H

#include "nn/nn.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* a * b + c, fused where the target has FMA (ISO C mode does not contract
 * a * b + c by itself); plain otherwise. Results are fixed per build. */
#ifdef __FMA__
#define OM_FMA(a, b, c) fmaf((a), (b), (c))
#else
#define OM_FMA(a, b, c) ((a) * (b) + (c))
#endif

static inline float om_from_bits(int32_t i) {
    float f;
    memcpy(&f, &i, sizeof f);
    return f;
}

static inline int32_t om_to_bits(float f) {
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i;
}

/* e^x for x in [-87, 88] (no clamp: the caller's range): x = n ln2 + r
 * with |r| <= ln2 / 2 (ln2 split in a short high part and a correction),
 * e^r by its Taylor series to r^7 (truncation below 6e-9), times 2^n
 * through the exponent bits. */
static inline float om_exp_in_range(float x) {
    const float round_magic = 12582912.0f; /* 1.5 * 2^23 */
    float n = OM_FMA(x, 1.44269504088896341f, round_magic) - round_magic;
    float r = OM_FMA(n, -0.693145751953125f, x);
    r = OM_FMA(n, -1.428606765330187045e-06f, r);
    float p = 1.0f / 5040.0f;
    p = OM_FMA(p, r, 1.0f / 720.0f);
    p = OM_FMA(p, r, 1.0f / 120.0f);
    p = OM_FMA(p, r, 1.0f / 24.0f);
    p = OM_FMA(p, r, 1.0f / 6.0f);
    p = OM_FMA(p, r, 0.5f);
    p = OM_FMA(p, r, 1.0f);
    p = OM_FMA(p, r, 1.0f);
    return p * om_from_bits(((int32_t)n + 127) << 23); /* n in [-126, 127] */
}

/* e^x for any x, clamped to [-87, 88] (normal floats). */
static inline float om_exp(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    return om_exp_in_range(x);
}

/* log x for a positive normal float: x = 2^e m with m in [sqrt(1/2),
 * sqrt(2)), log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172, by its
 * series to s^9 (truncation below 1e-9). */
static inline float om_log(float x) {
    int32_t bits = om_to_bits(x);
    int32_t e = ((bits >> 23) & 0xff) - 127;
    float m = om_from_bits((bits & 0x007fffff) | 0x3f800000); /* [1, 2) */
    int big = m > 1.41421356f;
    m = big ? 0.5f * m : m;
    e = big ? e + 1 : e;
    float s = (m - 1.0f) / (m + 1.0f);
    float s2 = s * s;
    float series = 1.0f / 9.0f;
    series = OM_FMA(series, s2, 1.0f / 7.0f);
    series = OM_FMA(series, s2, 1.0f / 5.0f);
    series = OM_FMA(series, s2, 1.0f / 3.0f);
    series = OM_FMA(series, s2, 1.0f);
    float fe = (float)e;
    return OM_FMA(fe, 0.693145751953125f,
                  OM_FMA(fe, 1.428606765330187045e-06f, 2.0f * s * series));
}

/* sigmoid(x) = 1 / (1 + e^-x); the argument is clamped to [-40, 40], where
 * the sigmoid is within 5e-18 of 0 or 1. */
static inline float om_sigmoid(float x) {
    x = x < -40.0f ? -40.0f : x;
    x = x > 40.0f ? 40.0f : x;
    return 1.0f / (1.0f + om_exp(-x));
}

/* sigmoid(f) and sigmoid(i) with one division: with E = e^-x,
 * 1 / ((1 + E_f)(1 + E_i)) times (1 + E_i), resp. (1 + E_f). */
static inline void om_sigmoid2(float f, float i, float *sf, float *si) {
    f = f < -40.0f ? -40.0f : f;
    f = f > 40.0f ? 40.0f : f;
    i = i < -40.0f ? -40.0f : i;
    i = i > 40.0f ? 40.0f : i;
    float ef = 1.0f + om_exp_in_range(-f), ei = 1.0f + om_exp_in_range(-i);
    float inv = 1.0f / (ef * ei); /* at most (1 + e^40)^2 < FLT_MAX */
    *sf = ei * inv;
    *si = ef * inv;
}

/* rho(x) with the reference's epsilon 1e-8 (update-strategies.md section 0):
 * (log(|x| + eps) / 10, sign x) when |x| >= e^-10, else (-1, e^10 x).
 * The branch is a 0/1 factor rather than a select of the log, so that the
 * compiler cannot move the log's division under a branch (which would stop
 * the vectorisation); both forms give the same values. */
#define OM_RHO_EPS 1e-8f
static inline void om_rho(float x, float *rho1, float *rho2) {
    float ax = x < 0.0f ? -x : x;
    float big = ax >= MELON_PREPROCESS_MIN ? 1.0f : 0.0f;
    float sign = x > 0.0f ? 1.0f : -1.0f;
    float log_ax = om_log(ax + OM_RHO_EPS);
    *rho1 = big * (log_ax * (1.0f / MELON_PREPROCESS_P)) + (big - 1.0f);
    *rho2 = big * sign + (1.0f - big) * (MELON_PREPROCESS_SCALE * x);
}

/* rho(g) when log(|g| + eps) is already known (a dense coordinate's
 * g = e_a h_b, whose log comes from per-pair tables). Selects, so that a
 * log_g overflowing where |g| is tiny (unused there) cannot leak in. */
static inline void om_rho_of_log(float g, float log_g, float *rho1,
                                 float *rho2) {
    float ag = g < 0.0f ? -g : g;
    int big = ag >= MELON_PREPROCESS_MIN;
    float sign = g > 0.0f ? 1.0f : -1.0f;
    *rho1 = big ? log_g * (1.0f / MELON_PREPROCESS_P) : -1.0f;
    *rho2 = big ? sign : MELON_PREPROCESS_SCALE * g;
}

#endif
