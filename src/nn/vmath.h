/* Element-wise float functions for loops that must run in SIMD lanes: the
 * per-(pair, coordinate) loops of both MeLON forms, S2Meta's MetaLSTM and
 * SML's transfer networks. glibc's expf and logf are scalar calls that keep
 * such a loop from vectorising; these are branch-free arithmetic that GCC
 * vectorises inside `#pragma omp simd` loops. One implementation serves
 * every strategy; tests/test_vmath.c measures each against libm.
 *
 *   exp:  x = n ln2 + r, n = floor(x / ln2 + 1/2), |r| <= ln2 / 2 (ln2 in a
 *         short high part and a correction), e^r by its Taylor series to
 *         r^7 (truncation below 6e-9), 2^n through the exponent bits;
 *         vm_exp clamps x to [-87, 88] so 2^n stays a normal float.
 *   log:  x = 2^e m with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s),
 *         s = (m - 1) / (m + 1), |s| <= 0.172, by its odd series to s^9
 *         (truncation below 1e-9). For positive normal x.
 *   sigmoid 1 / (1 + e^-x), tanh 1 - 2 / (1 + e^2x), GELU x sigmoid(1.702 x)
 *   and the preprocessing rho of update-strategies.md section 0.
 *
 * Every a * b + c is written as VM_FMA, so results are fixed per build
 * whatever the compiler's contraction setting. Two forms keep loops
 * vectorisable: no float-to-int conversion (integers come from the low
 * mantissa bits of x + 1.5 * 2^23) and carries as selects rather than
 * sums of comparison results; either change left a loop scalar. */
#ifndef MELON_VMATH_H
#define MELON_VMATH_H

#include "nn/nn.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* a * b + c, fused where the target has FMA; plain otherwise. */
#ifdef __FMA__
#define VM_FMA(a, b, c) fmaf((a), (b), (c))
#else
#define VM_FMA(a, b, c) ((a) * (b) + (c))
#endif

#define VM_LOG2E 1.44269504088896341f
#define VM_LN2_HI 0.693145751953125f
#define VM_LN2_LO 1.42860682030941723212e-6f

static inline float vm_from_bits(int32_t i) {
    float f;
    memcpy(&f, &i, sizeof f);
    return f;
}

static inline int32_t vm_to_bits(float f) {
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i;
}

/* e^x for x in [-87, 88] (the caller's range; no clamp). */
static inline float vm_exp_in_range(float x) {
    float y = VM_FMA(x, VM_LOG2E, 0.5f);
    /* n = floor(y) as a float, by rounding through 1.5 * 2^23 (no float to
     * int conversion, which a NaN x would make undefined) */
    float fn = (y + 12582912.0f) - 12582912.0f;
    fn -= fn > y ? 1.0f : 0.0f;
    float r = VM_FMA(fn, -VM_LN2_HI, x);
    r = VM_FMA(fn, -VM_LN2_LO, r);
    float p = 1.0f / 5040.0f;
    p = VM_FMA(p, r, 1.0f / 720.0f);
    p = VM_FMA(p, r, 1.0f / 120.0f);
    p = VM_FMA(p, r, 1.0f / 24.0f);
    p = VM_FMA(p, r, 1.0f / 6.0f);
    p = VM_FMA(p, r, 0.5f);
    p = VM_FMA(p, r, 1.0f);
    p = VM_FMA(p, r, 1.0f);
    /* 2^n from n's bits in the low mantissa of fn + 1.5 * 2^23 */
    uint32_t n = (uint32_t)vm_to_bits(fn + 12582912.0f) - 0x4B400000u;
    return p * vm_from_bits((int32_t)((n + 127u) << 23)); /* n in [-126, 127] */
}

/* e^x for any x, clamped to [-87, 88]. */
static inline float vm_exp(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    return vm_exp_in_range(x);
}

/* log x for a positive normal float. */
static inline float vm_log(float x) {
    int32_t bits = vm_to_bits(x);
    int32_t e = ((bits >> 23) & 0xff) - 127;
    float m = vm_from_bits((bits & 0x007fffff) | 0x3f800000); /* [1, 2) */
    int above = m > 1.41421356f;
    m = above ? 0.5f * m : m;
    e = above ? e + 1 : e;
    float f = m - 1.0f;
    float s = f / (f + 2.0f);
    float s2 = s * s;
    float series = VM_FMA(s2, 1.0f / 9.0f, 1.0f / 7.0f);
    series = VM_FMA(series, s2, 1.0f / 5.0f);
    series = VM_FMA(series, s2, 1.0f / 3.0f);
    series = VM_FMA(series, s2, 1.0f);
    float fe = (float)e;
    return VM_FMA(fe, VM_LN2_HI, VM_FMA(fe, VM_LN2_LO, 2.0f * s * series));
}

/* sigmoid(x) = 1 / (1 + e^-x); below -87 it is 1 / (1 + e^87), 1.6e-38. */
static inline float vm_sigmoid(float x) { return 1.0f / (1.0f + vm_exp(-x)); }

/* sigmoid(f) and sigmoid(i) with one division, for loops that need two
 * gates: with E = e^-x, 1 / ((1 + E_f)(1 + E_i)) times (1 + E_i), resp.
 * (1 + E_f). Arguments are clamped to [-40, 40] (where the sigmoid is
 * within 5e-18 of 0 or 1) so that the product stays below FLT_MAX. */
static inline void vm_sigmoid_pair(float f, float i, float *sf, float *si) {
    f = f < -40.0f ? -40.0f : f;
    f = f > 40.0f ? 40.0f : f;
    i = i < -40.0f ? -40.0f : i;
    i = i > 40.0f ? 40.0f : i;
    float ef = 1.0f + vm_exp_in_range(-f), ei = 1.0f + vm_exp_in_range(-i);
    float inv = 1.0f / (ef * ei);
    *sf = ei * inv;
    *si = ef * inv;
}

/* tanh(x) = 1 - 2 / (1 + e^2x); absolute error a few 1e-8 near 0. */
static inline float vm_tanh(float x) {
    return VM_FMA(-2.0f, 1.0f / (1.0f + vm_exp(2.0f * x)), 1.0f);
}

/* gelu(x) = x sigmoid(1.702 x) (update-strategies.md B.6) and its
 * derivative sigmoid(1.702 x) + 1.702 x sigmoid (1 - sigmoid). */
static inline float vm_gelu(float x) { return x * vm_sigmoid(1.702f * x); }

static inline float vm_gelu_grad(float x) {
    float s = vm_sigmoid(1.702f * x);
    return VM_FMA(1.702f * x * s, 1.0f - s, s);
}

/* rho(x) of update-strategies.md section 0, as melon_preprocess in nn.h:
 * (log(|x| + eps) / 10, sign x) when |x| >= e^-10, else (-1, e^10 x).
 * rho1's branch is a 0/1 factor rather than a select of the log, so that
 * the compiler cannot move the log's division under a branch (which would
 * stop the vectorisation); the log is finite, so both give the same. */
static inline void vm_preprocess(float x, float eps, float *rho1,
                                 float *rho2) {
    float ax = fabsf(x);
    float big = ax >= MELON_PREPROCESS_MIN ? 1.0f : 0.0f;
    float sign = x > 0.0f ? 1.0f : -1.0f;
    float logged = vm_log(ax + eps) / MELON_PREPROCESS_P;
    *rho1 = VM_FMA(big, logged, big - 1.0f);
    *rho2 = big != 0.0f ? sign : MELON_PREPROCESS_SCALE * x;
}

/* rho(g) when log(|g| + eps) is already known (the official form's dense
 * coordinates, whose logs come from per-pair tables). Selects, so that a
 * log_g overflowing where |g| is tiny (unused there) cannot leak in. */
static inline void vm_preprocess_of_log(float g, float log_g, float *rho1,
                                        float *rho2) {
    float ag = fabsf(g);
    int big = ag >= MELON_PREPROCESS_MIN;
    float sign = g > 0.0f ? 1.0f : -1.0f;
    *rho1 = big ? log_g / MELON_PREPROCESS_P : -1.0f;
    *rho2 = big ? sign : MELON_PREPROCESS_SCALE * g;
}

#endif
