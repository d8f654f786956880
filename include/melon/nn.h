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

/* Fills x[0..n) with draws from normal(0, std^2). */
void melon_init_normal(float *x, size_t n, float std, melon_rng *rng);

#endif
