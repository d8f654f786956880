/* Element-wise float functions that GCC can vectorise, for the per-
 * coordinate loops of S2Meta's MetaLSTM and the per-entry activations of
 * SML's transfer networks. glibc's expf and logf are scalar calls that keep
 * a loop from running in SIMD lanes (its vector variants are declared only
 * under -ffast-math); these are plain arithmetic with no branches:
 *
 *   exp:  x = k ln2 + r (Cody-Waite, |r| <= ln2 / 2), e^r by its degree-6
 *         Taylor polynomial, 2^k by building the float's exponent; the
 *         input is clamped to [-87, 88] so 2^k stays a normal float.
 *         Relative error below 3e-7.
 *   log:  x = m 2^e with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s),
 *         s = (m - 1) / (m + 1), by its odd series up to s^11. For normal
 *         positive x; relative error below 3e-7.
 *
 *   1/x:  for 1 <= x (what sigmoid and tanh divide by), with FMA: an
 *         initial guess from the float's bits, then three Newton steps
 *         r <- r (2 - x r), the last one fused; relative error below 1e-7
 *         up to 2^126, where x is clamped (so beyond it the result is
 *         about 1.2e-38 instead of less). A vector division costs several
 *         times more than these operations. Without FMA: a division.
 *
 * sigmoid, tanh and GELU are built on exp; tanh(x) = 1 - 2 / (1 + e^{2x})
 * has an absolute error of a few 1e-8 near 0 (what an LSTM gate needs). */
#ifndef MELON_S2META_SML_MATH_H
#define MELON_S2META_SML_MATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float fm_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* round(x / ln2) by the 1.5 * 2^23 trick (no call to rintf): the sum's
     * low mantissa bits hold k as an integer, read without a float-to-int
     * conversion (undefined for a NaN x, which then gives NaN) */
    float shifted = x * 1.44269504088896341f + 12582912.0f;
    float k = shifted - 12582912.0f;
    float r = x - k * 0.693145751953125f - k * 1.428606765330187e-06f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.166666667f +
              r * (0.0416666667f + r * (0.00833333333f + r * 0.00138888889f)))));
    uint32_t k_bits;
    memcpy(&k_bits, &shifted, sizeof k_bits);
    uint32_t bits = (k_bits - 0x4B400000u + 127u) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float fm_logf(float x) {
    int32_t bits;
    memcpy(&bits, &x, sizeof bits);
    int32_t e = ((bits >> 23) & 0xff) - 127;
    int32_t mbits = (bits & 0x007fffff) | 0x3f800000;
    float m;
    memcpy(&m, &mbits, sizeof m);
    /* m in [1, 2); fold m >= sqrt(2) into [sqrt(1/2), 1) (as arithmetic
     * on a 0/1 mask, which vectorises where a branch would not) */
    float big = m > 1.41421356f ? 1.0f : 0.0f;
    m = m * (1.0f - 0.5f * big);
    float s = (m - 1.0f) / (m + 1.0f);
    float s2 = s * s;
    float series = 1.0f + s2 * (0.333333333f + s2 * (0.2f + s2 * (0.142857143f +
                   s2 * (0.111111111f + s2 * 0.0909090909f))));
    return ((float)e + big) * 0.693147180559945f + 2.0f * s * series;
}

static inline float fm_recip(float x) {
#ifdef __FMA__
    x = x > 8.507059e37f ? 8.507059e37f : x; /* 2^126 */
    int32_t bits;
    memcpy(&bits, &x, sizeof bits);
    bits = 0x7ef311c3 - bits;
    float r;
    memcpy(&r, &bits, sizeof r);
    r = r * (2.0f - x * r);
    r = r * (2.0f - x * r);
    /* the last step as r + r e with e = 1 - x r fused: within an ulp */
    return fmaf(r, fmaf(-x, r, 1.0f), r);
#else
    /* without a fused multiply-add the Newton steps lose an ulp or two;
     * such builds (portable, sanitizer) divide */
    return 1.0f / (x > 8.507059e37f ? 8.507059e37f : x);
#endif
}

static inline float fm_sigmoid(float x) { return fm_recip(1.0f + fm_expf(-x)); }

static inline float fm_tanh(float x) {
    return 1.0f - 2.0f * fm_recip(1.0f + fm_expf(2.0f * x));
}

/* The preprocessing rho of update-strategies.md section 0 (p = 10), as
 * melon_preprocess in nn.h but branch-free (selections written as
 * arithmetic on 0/1 masks) so a loop over it vectorises. */
static inline void fm_preprocess(float x, float eps, float *rho1, float *rho2) {
    float ax = x < 0.0f ? -x : x;
    float big = (float)(ax >= 4.5399929762484854e-05f); /* e^-10 */
    float sign = (float)(x > 0.0f) - (float)(x < 0.0f);
    float logged = fm_logf(ax + eps) * 0.1f;
    *rho1 = big * logged + (big - 1.0f);
    *rho2 = big * sign + (1.0f - big) * (22026.465794806718f * x); /* e^10 x */
}

/* gelu(x) = x sigmoid(1.702 x) (update-strategies.md B.6) and its
 * derivative sigmoid(1.702 x) + 1.702 x sigmoid(1.702 x)(1 - sigmoid). */
static inline float fm_gelu(float x) { return x * fm_sigmoid(1.702f * x); }

static inline float fm_gelu_grad(float x) {
    float s = fm_sigmoid(1.702f * x);
    return s + 1.702f * x * s * (1.0f - s);
}

#endif
