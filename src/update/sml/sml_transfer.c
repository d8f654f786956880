/* SML's transfer network, forward and backward over a batch of rows
 * (update-strategies.md B.6, "Backward for one row"). */
#include "sml_transfer.h"

#include "nn/nn.h"
#include "nn/vmath.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define CONV_FLOATS (SML_CONV1 * 3 + SML_CONV1 + SML_CONV2 * SML_CONV1 + SML_CONV2)

void sml_block_sizes(int d, int hidden, size_t size[SML_N_BLOCKS]) {
    size[SML_K1] = SML_CONV1 * 3;
    size[SML_B1] = SML_CONV1;
    size[SML_K2] = SML_CONV2 * SML_CONV1;
    size[SML_B2] = SML_CONV2;
    size[SML_F1] = (size_t)hidden * SML_CONV2 * (size_t)d;
    size[SML_P1] = (size_t)hidden;
    size[SML_F2] = (size_t)d * (size_t)hidden;
    size[SML_P2] = (size_t)d;
}

void sml_net_init(sml_net *net, melon_rng *rng) {
    size_t size[SML_N_BLOCKS];
    sml_block_sizes(net->dim, net->hidden, size);
    /* fan-in of each weight and of the bias that follows it */
    const double fan_in[SML_N_BLOCKS] = {
        3, 3, SML_CONV1, SML_CONV1, (double)SML_CONV2 * net->dim,
        (double)SML_CONV2 * net->dim, net->hidden, net->hidden};
    for (int b = 0; b < SML_N_BLOCKS; b++) {
        double bound = 1.0 / sqrt(fan_in[b]);
        for (size_t a = 0; a < size[b]; a++)
            net->w[b][a] = (float)((2.0 * melon_rng_uniform(rng) - 1.0) * bound);
    }
}

int sml_acts_init(sml_acts *a, int dim, int hidden, int cap, melon_err *err) {
    memset(a, 0, sizeof *a);
    size_t d = (size_t)dim, h = (size_t)hidden, R = (size_t)cap;
    size_t per_row = 3 * d + 2 * SML_CONV1 * d + 2 * SML_CONV2 * d + 2 * h +
                     h + SML_CONV2 * d + SML_CONV1 * d + CONV_FLOATS;
    a->memory = melon_alloc(R * per_row * sizeof(float), err);
    if (!a->memory) return -1;
    float *at = a->memory;
    a->cap = cap;
    a->h = at;   at += R * 3 * d;
    a->a1 = at;  at += R * SML_CONV1 * d;
    a->z1 = at;  at += R * SML_CONV1 * d;
    a->a2 = at;  at += R * SML_CONV2 * d;
    a->z2 = at;  at += R * SML_CONV2 * d;
    a->a3 = at;  at += R * h;
    a->z3 = at;  at += R * h;
    a->d3 = at;  at += R * h;
    a->d2 = at;  at += R * SML_CONV2 * d;
    a->d1 = at;  at += R * SML_CONV1 * d;
    a->conv_grad = at;
    return 0;
}

void sml_acts_free(sml_acts *a) {
    free(a->memory);
    memset(a, 0, sizeof *a);
}

/* Rows per thread are cheap (a few thousand flops); parallel only when
 * there are enough of them. */
#define SML_PARALLEL_ROWS 32

/* The stacked input and both convolutions of one row. */
static void conv_forward_row(const sml_net *net, const float *w, const float *w_hat,
                             float *h, float *a1, float *z1, float *a2, float *z2) {
    int d = net->dim;
    const float *K1 = net->w[SML_K1], *b1 = net->w[SML_B1];
    const float *K2 = net->w[SML_K2], *b2 = net->w[SML_B2];
    float norm = 0.0f;
    for (int k = 0; k < d; k++) norm += w[k] * w[k];
    /* |w| = 0 leaves the third row 0 instead of dividing by zero */
    float inv = norm > 0.0f ? 1.0f / sqrtf(norm) : 0.0f;
    for (int k = 0; k < d; k++) {
        h[k] = w[k];
        h[d + k] = w_hat[k];
        h[2 * d + k] = w[k] * w_hat[k] * inv;
    }
    for (int c = 0; c < SML_CONV1; c++) {
        float k0 = K1[3 * c], k1 = K1[3 * c + 1], k2 = K1[3 * c + 2], bias = b1[c];
        float *a = a1 + (size_t)c * d, *z = z1 + (size_t)c * d;
#pragma omp simd
        for (int k = 0; k < d; k++) {
            a[k] = k0 * h[k] + k1 * h[d + k] + k2 * h[2 * d + k] + bias;
            z[k] = vm_gelu(a[k]);
        }
    }
    /* each output summed in a register over the 10 input channels */
    for (int c2 = 0; c2 < SML_CONV2; c2++) {
        const float *k2 = K2 + c2 * SML_CONV1;
        float *restrict a = a2 + (size_t)c2 * d, *restrict z = z2 + (size_t)c2 * d;
#pragma omp simd
        for (int k = 0; k < d; k++) {
            float acc = b2[c2];
            for (int c = 0; c < SML_CONV1; c++) acc += k2[c] * z1[(size_t)c * d + k];
            a[k] = acc;
            z[k] = vm_gelu(acc);
        }
    }
}

void sml_transfer_forward(const sml_net *net, int R, const float *w_prev,
                          const float *w_hat, sml_acts *a, float *out) {
    int d = net->dim, hd = net->hidden, wide = SML_CONV2 * d;
    if (R <= 0) return;
#pragma omp parallel for schedule(static) if (R >= SML_PARALLEL_ROWS)
    for (int r = 0; r < R; r++)
        conv_forward_row(net, w_prev + (size_t)r * d, w_hat + (size_t)r * d,
                         a->h + (size_t)r * 3 * d, a->a1 + (size_t)r * SML_CONV1 * d,
                         a->z1 + (size_t)r * SML_CONV1 * d,
                         a->a2 + (size_t)r * wide, a->z2 + (size_t)r * wide);
    /* a3 = z2 F1^T + phi1, z3 = gelu(a3); out = z3 F2^T + phi2 */
    melon_linear_forward(R, wide, hd, a->z2, wide, net->w[SML_F1], wide, a->a3, hd);
    const float *p1 = net->w[SML_P1], *p2 = net->w[SML_P2];
#pragma omp parallel for schedule(static) if (R >= SML_PARALLEL_ROWS)
    for (int r = 0; r < R; r++) {
        float *a3 = a->a3 + (size_t)r * hd, *z3 = a->z3 + (size_t)r * hd;
#pragma omp simd
        for (int j = 0; j < hd; j++) {
            a3[j] += p1[j];
            z3[j] = vm_gelu(a3[j]);
        }
    }
    melon_linear_forward(R, hd, d, a->z3, hd, net->w[SML_F2], hd, out, d);
    for (int r = 0; r < R; r++)
        for (int k = 0; k < d; k++) out[(size_t)r * d + k] += p2[k];
}

/* Back through both convolutions of one row, from d2 = dL/dz2; writes the
 * row's K1, beta1, K2, beta2 gradients to conv (CONV_FLOATS) and dL/dw^
 * to d_hat (NULL: not wanted). */
static void conv_backward_row(const sml_net *net, const float *h, const float *a1,
                              const float *z1, const float *a2, float *d2,
                              float *d1, float *conv, int weights,
                              float *d_hat) {
    int d = net->dim;
    const float *K1 = net->w[SML_K1], *K2 = net->w[SML_K2];
    float *gK1 = conv, *gb1 = gK1 + 3 * SML_CONV1;
    float *gK2 = gb1 + SML_CONV1, *gb2 = gK2 + SML_CONV2 * SML_CONV1;
    for (int c2 = 0; c2 < SML_CONV2; c2++) {
        float *g = d2 + (size_t)c2 * d;
        const float *a = a2 + (size_t)c2 * d;
#pragma omp simd
        for (int k = 0; k < d; k++) g[k] *= vm_gelu_grad(a[k]);
    }
    for (int c = 0; c < SML_CONV1; c++) {
        float *restrict g = d1 + (size_t)c * d;
        const float *restrict z = z1 + (size_t)c * d, *restrict a = a1 + (size_t)c * d;
#pragma omp simd
        for (int k = 0; k < d; k++) {
            float acc = 0.0f;
            for (int c2 = 0; c2 < SML_CONV2; c2++)
                acc += K2[c2 * SML_CONV1 + c] * d2[(size_t)c2 * d + k];
            g[k] = acc * vm_gelu_grad(a[k]);
        }
        if (weights)
            for (int c2 = 0; c2 < SML_CONV2; c2++) {
                const float *restrict up = d2 + (size_t)c2 * d;
                float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
                for (int k = 0; k < d; k++) acc += up[k] * z[k];
                gK2[c2 * SML_CONV1 + c] = acc;
            }
    }
    if (weights) {
        for (int c2 = 0; c2 < SML_CONV2; c2++) {
            float acc = 0.0f;
            for (int k = 0; k < d; k++) acc += d2[(size_t)c2 * d + k];
            gb2[c2] = acc;
        }
        for (int c = 0; c < SML_CONV1; c++) {
            const float *g = d1 + (size_t)c * d;
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, sb = 0.0f;
#pragma omp simd reduction(+ : s0, s1, s2, sb)
            for (int k = 0; k < d; k++) {
                s0 += g[k] * h[k];
                s1 += g[k] * h[d + k];
                s2 += g[k] * h[2 * d + k];
                sb += g[k];
            }
            gK1[3 * c] = s0;
            gK1[3 * c + 1] = s1;
            gK1[3 * c + 2] = s2;
            gb1[c] = sb;
        }
    }
    if (d_hat) {
#pragma omp simd
        for (int k = 0; k < d; k++) {
            float acc = 0.0f;
            for (int c = 0; c < SML_CONV1; c++) acc += K1[3 * c + 1] * d1[(size_t)c * d + k];
            d_hat[k] = acc;
        }
    }
}

void sml_transfer_backward(sml_net *net, int R, sml_acts *a,
                           const float *d_out, int weights, float *d_hat) {
    int d = net->dim, hd = net->hidden, wide = SML_CONV2 * d;
    if (R <= 0) return;
    if (weights) {
        /* dF2 += d_out^T z3, dphi2 += sum d_out */
        melon_linear_backward_weight(R, hd, d, d_out, d, a->z3, hd, 1.0f,
                                     net->g[SML_F2], hd);
        for (int r = 0; r < R; r++)
            for (int k = 0; k < d; k++) net->g[SML_P2][k] += d_out[(size_t)r * d + k];
    }
    /* d3 = (d_out F2) (.) gelu'(a3) */
    melon_linear_backward_input(R, hd, d, d_out, d, net->w[SML_F2], hd, a->d3, hd);
#pragma omp parallel for schedule(static) if (R >= SML_PARALLEL_ROWS)
    for (int r = 0; r < R; r++) {
        float *g = a->d3 + (size_t)r * hd;
        const float *a3 = a->a3 + (size_t)r * hd;
#pragma omp simd
        for (int j = 0; j < hd; j++) g[j] *= vm_gelu_grad(a3[j]);
    }
    if (weights) {
        melon_linear_backward_weight(R, wide, hd, a->d3, hd, a->z2, wide, 1.0f,
                                     net->g[SML_F1], wide);
        for (int r = 0; r < R; r++)
            for (int j = 0; j < hd; j++) net->g[SML_P1][j] += a->d3[(size_t)r * hd + j];
    }
    /* d2 = d3 F1, then the convolutions row by row */
    melon_linear_backward_input(R, wide, hd, a->d3, hd, net->w[SML_F1], wide,
                                a->d2, wide);
#pragma omp parallel for schedule(static) if (R >= SML_PARALLEL_ROWS)
    for (int r = 0; r < R; r++)
        conv_backward_row(net, a->h + (size_t)r * 3 * d,
                          a->a1 + (size_t)r * SML_CONV1 * d,
                          a->z1 + (size_t)r * SML_CONV1 * d,
                          a->a2 + (size_t)r * wide, a->d2 + (size_t)r * wide,
                          a->d1 + (size_t)r * SML_CONV1 * d,
                          a->conv_grad + (size_t)r * CONV_FLOATS, weights,
                          d_hat ? d_hat + (size_t)r * d : NULL);
    if (!weights) return;
    /* the rows' convolution gradients, summed in row order */
    float *gK1 = net->g[SML_K1], *gb1 = net->g[SML_B1];
    float *gK2 = net->g[SML_K2], *gb2 = net->g[SML_B2];
    for (int r = 0; r < R; r++) {
        const float *c = a->conv_grad + (size_t)r * CONV_FLOATS;
        for (int e = 0; e < 3 * SML_CONV1; e++) gK1[e] += c[e];
        c += 3 * SML_CONV1;
        for (int e = 0; e < SML_CONV1; e++) gb1[e] += c[e];
        c += SML_CONV1;
        for (int e = 0; e < SML_CONV2 * SML_CONV1; e++) gK2[e] += c[e];
        c += SML_CONV2 * SML_CONV1;
        for (int e = 0; e < SML_CONV2; e++) gb2[e] += c[e];
    }
}
