/* Layer kernels over flat row-major float arrays, each a forward/backward
 * pair. A batch is a matrix whose rows are examples; every `ld` argument is
 * the row stride of its matrix, so a kernel can read or write a block of
 * columns inside a wider matrix (a concatenation without a copy). */
#ifndef MELON_NN_H
#define MELON_NN_H

#include "melon/common.h"

#include <math.h>
#include <stddef.h>

/* Linear layer without bias, y = W x for every row x of the batch:
 * Y[n][out] = X[n][in] W^T, with W row-major [out][in]. */
void melon_linear_forward(int n, int in_dim, int out_dim, const float *x,
                          int ldx, const float *w, int ldw, float *y,
                          int ldy);
/* Gradient with respect to the input: dX[n][in] = dY[n][out] W. */
void melon_linear_backward_input(int n, int in_dim, int out_dim,
                                 const float *dy, int lddy, const float *w,
                                 int ldw, float *dx, int lddx);
/* Gradient with respect to the weight, summed over the batch:
 * dW[out][in] = beta * dW + dY^T X (sum over rows p of dy_p x_p^T). */
void melon_linear_backward_weight(int n, int in_dim, int out_dim,
                                  const float *dy, int lddy, const float *x,
                                  int ldx, float beta, float *dw, int lddw);

/* ReLU in place over an [n][width] block: h = max(a, 0). */
void melon_relu_forward(int n, int width, float *h, int ldh);
/* grad *= [a > 0], the mask read from the forward output (h > 0 iff a > 0). */
void melon_relu_backward(int n, int width, const float *h, int ldh,
                         float *grad, int ldgrad);

/* softplus(x) = log(1 + e^x) without overflow for large |x|. */
static inline float melon_softplus(float x) {
    return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x));
}

/* sigmoid(x) = 1 / (1 + e^-x) without overflow for large |x|. */
static inline float melon_sigmoid(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float z = expf(x);
    return z / (1.0f + z);
}

/* The gradient/loss preprocessing of Andrychowicz et al. (2016) with p = 10
 * (update-strategies.md section 0): (log(|x| + eps) / p, sign(x)) when
 * |x| >= e^-p, else (-1, e^p x). */
#define MELON_PREPROCESS_P 10.0f
#define MELON_PREPROCESS_MIN 4.5399929762484854e-05f /* e^-10 */
#define MELON_PREPROCESS_SCALE 22026.465794806718f  /* e^10 */
#define MELON_PREPROCESS_EPS 1e-8f /* eps of MeLON's reference code */
static inline void melon_preprocess(float x, float eps, float *rho1,
                                    float *rho2) {
    float ax = fabsf(x);
    if (ax >= MELON_PREPROCESS_MIN) {
        *rho1 = logf(ax + eps) / MELON_PREPROCESS_P;
        *rho2 = (x > 0.0f) - (x < 0.0f);
    } else {
        *rho1 = -1.0f;
        *rho2 = MELON_PREPROCESS_SCALE * x;
    }
}

/* Fills x[0..n) with draws from normal(0, std^2). */
void melon_init_normal(float *x, size_t n, float std, melon_rng *rng);

#endif
