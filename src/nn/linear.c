/* Bias-free linear layer over a batch of rows, through OpenBLAS.
 * Forward a = W h (update-strategies.md 1.3, a_l = W_l h_{l-1}); backward
 * dh = W^T e per row and dW = sum_p e_p h_p^T over the batch. */
#include "nn/nn.h"

#include <cblas.h>

void melon_linear_forward(int n, int in_dim, int out_dim, const float *x,
                          int ldx, const float *w, int ldw, float *y,
                          int ldy) {
    if (n <= 0) return;
    /* Y = X W^T */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out_dim, in_dim,
                1.0f, x, ldx, w, ldw, 0.0f, y, ldy);
}

void melon_linear_backward_input(int n, int in_dim, int out_dim,
                                 const float *dy, int lddy, const float *w,
                                 int ldw, float *dx, int lddx) {
    if (n <= 0) return;
    /* dX = dY W */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in_dim, out_dim,
                1.0f, dy, lddy, w, ldw, 0.0f, dx, lddx);
}

void melon_linear_backward_weight(int n, int in_dim, int out_dim,
                                  const float *dy, int lddy, const float *x,
                                  int ldx, float beta, float *dw, int lddw) {
    if (n <= 0) {
        /* An empty sum: dW = beta * dW, without relying on BLAS for K = 0. */
        for (int a = 0; a < out_dim; a++)
            for (int b = 0; b < in_dim; b++)
                dw[(size_t)a * lddw + b] =
                    beta == 0.0f ? 0.0f : beta * dw[(size_t)a * lddw + b];
        return;
    }
    /* dW = beta dW + dY^T X */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out_dim, in_dim, n,
                1.0f, dy, lddy, x, ldx, beta, dw, lddw);
}
