/* The MetaLSTM cell of S2Meta, forward and backward over a batch of
 * coordinates (update-strategies.md B.5, "Meta step, K = 1, for hand-written
 * backprop", extended by the upstream of a later step for BPTT). */
#include "s2meta_lstm.h"

#include "nn/nn.h"
#include "nn/vmath.h"

#include <math.h>
#include <string.h>

void s2meta_layout_make(s2meta_layout *l, int hidden) {
    int H = hidden;
    size_t at = 0;
    l->hidden = H;
    l->gates = 4 * H;
    l->in_width = S2META_INPUTS + H;
    l->w = at;        at += (size_t)l->gates * l->in_width;
    l->b_ih = at;     at += (size_t)l->gates;
    l->b_hh = at;     at += (size_t)l->gates;
    l->ln_gain = at;  at += (size_t)H;
    l->ln_bias = at;  at += (size_t)H;
    l->w_lr = at;     at += (size_t)H;
    l->b_lr = at;     at += 1;
    l->w_fg = at;     at += (size_t)H;
    l->b_fg = at;     at += 1;
    l->h0 = at;       at += (size_t)H;
    l->c0 = at;       at += (size_t)H;
    l->size = at;
}

static float uniform(melon_rng *rng, float bound) {
    return (float)((2.0 * melon_rng_uniform(rng) - 1.0) * bound);
}

void s2meta_lstm_init(const s2meta_layout *l, float *p, melon_rng *rng) {
    int H = l->hidden, G = l->gates, W = l->in_width;
    float bound = 1.0f / sqrtf((float)H);
    for (int a = 0; a < G * W; a++) p[l->w + a] = uniform(rng, bound);
    for (int a = 0; a < G; a++) p[l->b_ih + a] = uniform(rng, bound);
    for (int a = 0; a < G; a++) p[l->b_hh + a] = uniform(rng, bound);
    for (int a = H / 4; a < H / 2; a++) {
        p[l->b_ih + a] = 1.0f;
        p[l->b_hh + a] = 0.0f;
    }
    for (int a = 0; a < H; a++) {
        p[l->ln_gain + a] = 1.0f;
        p[l->ln_bias + a] = 0.0f;
    }
    float xavier = sqrtf(2.0f / (float)(H + 1));
    for (int a = 0; a < H; a++)
        p[l->w_lr + a] = (float)(xavier * melon_rng_normal(rng));
    p[l->b_lr] = 0.0f;
    for (int a = 0; a < H; a++)
        p[l->w_fg + a] = (float)(xavier * melon_rng_normal(rng));
    p[l->b_fg] = 5.0f;
    for (int a = 0; a < H; a++) p[l->h0 + a] = (float)melon_rng_normal(rng);
    for (int a = 0; a < H; a++) p[l->c0 + a] = (float)melon_rng_normal(rng);
}

/* Row stride for a capacity: a multiple of 16 floats (whole vectors),
 * plus 16 so that rows are not 4 KB apart, where stores to one row and
 * loads from the next would falsely alias in the store buffer. */
int s2meta_record_ld(int cap) { return (cap + 15) / 16 * 16 + 16; }

static size_t padded_ld(int cap) { return (size_t)s2meta_record_ld(cap); }

size_t s2meta_record_floats(const s2meta_layout *l, int cap) {
    size_t H = (size_t)l->hidden;
    return padded_ld(cap) * ((size_t)l->in_width + (size_t)l->gates + 5 * H + 6);
}

float *s2meta_record_carve(const s2meta_layout *l, s2meta_record *r, int cap,
                           float *at) {
    size_t H = (size_t)l->hidden, N = padded_ld(cap);
    r->ld = (int)N;
    r->xh = at;     at += N * (size_t)l->in_width;
    r->c_in = at;   at += N * H;
    r->gates = at;  at += N * (size_t)l->gates;
    r->cell = at;   at += N * H;
    r->tcell = at;  at += N * H;
    r->xhat = at;   at += N * H;
    r->y = at;      at += N * H;
    r->mean = at;   at += N;
    r->rstd = at;   at += N;
    r->lr = at;     at += N;
    r->fg = at;     at += N;
    r->theta = at;  at += N;
    r->grad = at;   at += N;
    return at;
}

size_t s2meta_scratch_floats(const s2meta_layout *l, int cap) {
    return padded_ld(cap) * ((size_t)l->gates + (size_t)l->hidden + 4) +
           (size_t)l->gates * (size_t)l->in_width;
}

float *s2meta_scratch_carve(const s2meta_layout *l, s2meta_scratch *s, int cap,
                            float *at) {
    size_t N = padded_ld(cap);
    s->dz = at;     at += N * (size_t)l->gates;
    s->dy = at;     at += N * (size_t)l->hidden;
    s->pi_lr = at;  at += N;
    s->pi_fg = at;  at += N;
    s->m1 = at;     at += N;
    s->m2 = at;     at += N;
    s->dw = at;     at += (size_t)l->gates * (size_t)l->in_width;
    return at;
}

/* LayerNorm, heads and theta' for coordinates [r0, r0 + m), m <= 16;
 * the cell outputs h' are in a->y and their sums in a->mean. Inlined with
 * m = 16 for every full block. */
#define S2META_BLOCK 16
static inline __attribute__((always_inline)) void
norm_heads_block(const s2meta_layout *l, const float *p, size_t ld,
                 s2meta_record *a, int r0, int m, float *theta_out) {
    const int H = l->hidden;
    const float inv_h = 1.0f / (float)H;
    float mu[S2META_BLOCK], var[S2META_BLOCK], rs[S2META_BLOCK];
    float s_lr[S2META_BLOCK], s_fg[S2META_BLOCK];
#pragma omp simd
    for (int r = 0; r < m; r++) {
        mu[r] = a->mean[r0 + r] * inv_h;
        var[r] = 0.0f;
    }
    for (int b = 0; b < H; b++) {
        const float *restrict h = a->y + (size_t)b * ld + r0;
#pragma omp simd
        for (int r = 0; r < m; r++) var[r] += (h[r] - mu[r]) * (h[r] - mu[r]);
    }
#pragma omp simd
    for (int r = 0; r < m; r++) {
        rs[r] = 1.0f / sqrtf(var[r] * inv_h + S2META_LN_EPS);
        s_lr[r] = p[l->b_lr];
        s_fg[r] = p[l->b_fg];
    }
    for (int b = 0; b < H; b++) {
        float gain = p[l->ln_gain + b], beta = p[l->ln_bias + b];
        float w_lr = p[l->w_lr + b], w_fg = p[l->w_fg + b];
        float *restrict y = a->y + (size_t)b * ld + r0;
        float *restrict xhat = a->xhat + (size_t)b * ld + r0;
#pragma omp simd
        for (int r = 0; r < m; r++) {
            xhat[r] = (y[r] - mu[r]) * rs[r];
            y[r] = gain * xhat[r] + beta;
            s_lr[r] += w_lr * y[r];
            s_fg[r] += w_fg * y[r];
        }
    }
#pragma omp simd
    for (int r = 0; r < m; r++) {
        float lr = vm_sigmoid(s_lr[r]), fg = vm_sigmoid(s_fg[r]);
        a->mean[r0 + r] = mu[r];
        a->rstd[r0 + r] = rs[r];
        a->lr[r0 + r] = lr;
        a->fg[r0 + r] = fg;
        theta_out[r0 + r] = fg * a->theta[r0 + r] - lr * a->grad[r0 + r];
    }
}

void s2meta_lstm_forward(const s2meta_layout *l, const float *p, int n,
                         float loss_rho1, int shared, s2meta_record *a,
                         float *theta_out) {
    const int H = l->hidden, G = l->gates, W = l->in_width;
    const size_t ld = (size_t)a->ld;
    if (n <= 0) return;
    /* inputs x: the first 5 rows of xh */
    float *x0 = a->xh, *x1 = x0 + ld, *x2 = x1 + ld, *x3 = x2 + ld, *x4 = x3 + ld;
#pragma omp simd
    for (int r = 0; r < n; r++) {
        float g = a->grad[r];
        g = g < -1.0f ? -1.0f : (g > 1.0f ? 1.0f : g);
        a->grad[r] = g;
        vm_preprocess(g, S2META_RHO_EPS, &x0[r], &x1[r]);
        vm_preprocess(a->theta[r], S2META_RHO_EPS, &x2[r], &x3[r]);
        x4[r] = loss_rho1;
    }
    /* gate biases; with the shared state W_hh h0 is one more bias */
    float bias[4 * S2META_MAX_HIDDEN];
    for (int j = 0; j < G; j++) bias[j] = p[l->b_ih + j] + p[l->b_hh + j];
    if (shared) {
        const float *h0 = p + l->h0;
        for (int j = 0; j < G; j++) {
            const float *w_hh = p + l->w + (size_t)j * W + S2META_INPUTS;
            float acc = 0.0f;
            for (int b = 0; b < H; b++) acc += w_hh[b] * h0[b];
            bias[j] += acc;
        }
    }
    /* tanh(v) = 2 sigmoid(2 v) - 1 on block 2 (c^), sigmoid elsewhere */
    if (shared) {
        /* five inputs per gate: each gate row is computed and activated in
         * one pass over the coordinates (cheaper than a K = 5 GEMM) */
        for (int j = 0; j < G; j++) {
            const float *w = p + l->w + (size_t)j * W;
            float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4];
            float scale = (j >= 2 * H && j < 3 * H) ? 2.0f : 1.0f;
            float shift = scale - 1.0f, b = bias[j];
            float *restrict z = a->gates + (size_t)j * ld;
            const float *restrict r0 = x0, *restrict r1 = x1, *restrict r2 = x2;
            const float *restrict r3 = x3, *restrict r4 = x4;
#pragma omp simd
            for (int r = 0; r < n; r++) {
                float v = b + w0 * r0[r] + w1 * r1[r] + w2 * r2[r] + w3 * r3[r] +
                          w4 * r4[r];
                z[r] = scale * vm_sigmoid(scale * v) - shift;
            }
        }
    } else {
        /* Z[4H][n] = W XH[5 + H][n], one GEMM (nn.h's dX = dY W computes
         * C[m][k] = A[m][j] B[j][k]: here A = W, B = XH) */
        melon_linear_backward_input(G, n, W, p + l->w, W, a->xh, (int)ld,
                                    a->gates, (int)ld);
        for (int j = 0; j < G; j++) {
            float scale = (j >= 2 * H && j < 3 * H) ? 2.0f : 1.0f;
            float shift = scale - 1.0f, b = bias[j];
            float *restrict z = a->gates + (size_t)j * ld;
#pragma omp simd
            for (int r = 0; r < n; r++)
                z[r] = scale * vm_sigmoid(scale * (z[r] + b)) - shift;
        }
    }
    /* c' = f c + i tanh(c^), h' = o tanh(c') (h' kept in y for now), and
     * the sums of h' for the LayerNorm's mean */
    float *restrict mean = a->mean;
    for (int r = 0; r < n; r++) mean[r] = 0.0f;
    for (int b = 0; b < H; b++) {
        const float *restrict zi = a->gates + (size_t)b * ld;
        const float *restrict zf = a->gates + (size_t)(H + b) * ld;
        const float *restrict zg = a->gates + (size_t)(2 * H + b) * ld;
        const float *restrict zo = a->gates + (size_t)(3 * H + b) * ld;
        float *restrict cell = a->cell + (size_t)b * ld;
        float *restrict tc = a->tcell + (size_t)b * ld;
        float *restrict h = a->y + (size_t)b * ld;
        float *restrict c_in = a->c_in + (size_t)b * ld;
        if (shared) { /* the backward reads c_in either way */
            float c0 = p[l->c0 + b];
            for (int r = 0; r < n; r++) c_in[r] = c0;
        }
#pragma omp simd
        for (int r = 0; r < n; r++) {
            cell[r] = zf[r] * c_in[r] + zi[r] * zg[r];
            tc[r] = vm_tanh(cell[r]);
            h[r] = zo[r] * tc[r];
            mean[r] += h[r];
        }
    }
    /* LayerNorm over the H features of each coordinate (biased variance),
     * the two heads and the step, 16 coordinates at a time so the
     * per-coordinate sums stay in registers */
    for (int r0 = 0; r0 < n; r0 += S2META_BLOCK) {
        if (n - r0 >= S2META_BLOCK)
            norm_heads_block(l, p, ld, a, r0, S2META_BLOCK, theta_out);
        else
            norm_heads_block(l, p, ld, a, r0, n - r0, theta_out);
    }
}

void s2meta_lstm_backward(const s2meta_layout *l, const float *p, int n,
                          int shared, const s2meta_record *a,
                          const float *d_theta_out, const float *d_y_out,
                          const float *d_cell_out, float *d_theta_in,
                          float *d_h_in, float *d_c_in, float *grad_p,
                          s2meta_scratch *s) {
    const int H = l->hidden, G = l->gates, W = l->in_width;
    const size_t ld = (size_t)a->ld;
    if (n <= 0) return;
    /* the arrays through restrict locals (no reloads, no aliasing fears) */
    float *restrict pi_lr = s->pi_lr, *restrict pi_fg = s->pi_fg;
    float *restrict m1 = s->m1, *restrict m2 = s->m2;
    const float *restrict rstd = a->rstd;
    /* theta' = fg theta - lr g~; lr = sigma(.), fg = sigma(.) */
    float sum_lr = 0.0f, sum_fg = 0.0f;
#pragma omp simd reduction(+ : sum_lr, sum_fg)
    for (int r = 0; r < n; r++) {
        float dth = d_theta_out[r], lr = a->lr[r], fg = a->fg[r];
        pi_lr[r] = -dth * a->grad[r] * lr * (1.0f - lr);
        pi_fg[r] = dth * a->theta[r] * fg * (1.0f - fg);
        d_theta_in[r] = dth * fg;
        sum_lr += pi_lr[r];
        sum_fg += pi_fg[r];
        m1[r] = 0.0f;
        m2[r] = 0.0f;
    }
    grad_p[l->b_lr] += sum_lr;
    grad_p[l->b_fg] += sum_fg;
    /* heads and LayerNorm: y = gain xhat + beta */
    for (int b = 0; b < H; b++) {
        const float *restrict y = a->y + (size_t)b * ld;
        const float *restrict xhat = a->xhat + (size_t)b * ld;
        const float *restrict dyo = d_y_out + (size_t)b * ld;
        float *restrict dxh = s->dy + (size_t)b * ld;
        float w_lr = p[l->w_lr + b], w_fg = p[l->w_fg + b];
        float gain = p[l->ln_gain + b];
        float g_wlr = 0.0f, g_wfg = 0.0f, g_gain = 0.0f, g_beta = 0.0f;
#pragma omp simd reduction(+ : g_wlr, g_wfg, g_gain, g_beta)
        for (int r = 0; r < n; r++) {
            g_wlr += pi_lr[r] * y[r];
            g_wfg += pi_fg[r] * y[r];
            float d = pi_lr[r] * w_lr + pi_fg[r] * w_fg + dyo[r];
            g_gain += d * xhat[r];
            g_beta += d;
            dxh[r] = d * gain;
            m1[r] += dxh[r];
            m2[r] += dxh[r] * xhat[r];
        }
        grad_p[l->w_lr + b] += g_wlr;
        grad_p[l->w_fg + b] += g_wfg;
        grad_p[l->ln_gain + b] += g_gain;
        grad_p[l->ln_bias + b] += g_beta;
    }
    float inv_h = 1.0f / (float)H;
    /* h' = o tanh(c'), c' = f c + i tanh(c^), then the gates' sigmoids */
    for (int b = 0; b < H; b++) {
        const float *restrict xhat = a->xhat + (size_t)b * ld;
        const float *restrict dxh = s->dy + (size_t)b * ld;
        const float *restrict zi = a->gates + (size_t)b * ld;
        const float *restrict zf = a->gates + (size_t)(H + b) * ld;
        const float *restrict zg = a->gates + (size_t)(2 * H + b) * ld;
        const float *restrict zo = a->gates + (size_t)(3 * H + b) * ld;
        const float *restrict tc = a->tcell + (size_t)b * ld;
        const float *restrict c_prev = a->c_in + (size_t)b * ld;
        const float *restrict dco = d_cell_out + (size_t)b * ld;
        float *restrict dzi = s->dz + (size_t)b * ld;
        float *restrict dzf = s->dz + (size_t)(H + b) * ld;
        float *restrict dzg = s->dz + (size_t)(2 * H + b) * ld;
        float *restrict dzo = s->dz + (size_t)(3 * H + b) * ld;
        float *restrict dci = d_c_in + (size_t)b * ld;
#pragma omp simd
        for (int r = 0; r < n; r++) {
            float dh = rstd[r] * (dxh[r] - m1[r] * inv_h - xhat[r] * m2[r] * inv_h);
            float i = zi[r], f = zf[r], gg = zg[r], o = zo[r];
            float dc = dh * o * (1.0f - tc[r] * tc[r]) + dco[r];
            dzi[r] = dc * gg * i * (1.0f - i);
            dzf[r] = dc * c_prev[r] * f * (1.0f - f);
            dzg[r] = dc * i * (1.0f - gg * gg);
            dzo[r] = dh * tc[r] * o * (1.0f - o);
            dci[r] = dc * f;
        }
        if (shared) { /* every coordinate's c is the one c0 */
            float g_c0 = 0.0f;
            for (int r = 0; r < n; r++) g_c0 += dci[r];
            grad_p[l->c0 + b] += g_c0;
        }
    }
    /* bias gradients: the sums of dz over the coordinates */
    float col[4 * S2META_MAX_HIDDEN];
    for (int j = 0; j < G; j++) {
        const float *dz = s->dz + (size_t)j * ld;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int r = 0; r < n; r++) sum += dz[r];
        col[j] = sum;
        grad_p[l->b_ih + j] += sum;
        grad_p[l->b_hh + j] += sum;
    }
    /* dW[4H][in] = dZ[4H][n] XH[in][n]^T (nn.h's forward Y = X W^T with
     * X = dZ, W = XH), then added to the gradient; with the shared state
     * only W_ih's five columns see per-coordinate inputs */
    int in = shared ? S2META_INPUTS : W;
    melon_linear_forward(G, n, in, s->dz, (int)ld, a->xh, (int)ld, s->dw, in);
    for (int j = 0; j < G; j++)
        for (int i = 0; i < in; i++)
            grad_p[l->w + (size_t)j * W + i] += s->dw[(size_t)j * in + i];
    if (shared) {
        /* W_hh and h0 from the shared h0: the h part is W_hh h0 for all */
        const float *h0 = p + l->h0;
        for (int j = 0; j < G; j++) {
            const float *w_hh = p + l->w + (size_t)j * W + S2META_INPUTS;
            float *g_whh = grad_p + l->w + (size_t)j * W + S2META_INPUTS;
            for (int b = 0; b < H; b++) {
                g_whh[b] += col[j] * h0[b];
                grad_p[l->h0 + b] += col[j] * w_hh[b];
            }
        }
    } else {
        /* d_h_in[H][n] = W_hh^T dZ (nn.h's dW = dY^T X with dY = W_hh,
         * X = dZ, summing over the 4H gates) */
        melon_linear_backward_weight(G, n, H, p + l->w + S2META_INPUTS, W,
                                     s->dz, (int)ld, 0.0f, d_h_in, (int)ld);
    }
}
