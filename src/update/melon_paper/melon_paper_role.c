/* Steps II and III of MeLON (paper Eq. 11-12) over a block of pairs
 * (interaction x, parameter theta_m):
 *
 *   z_0 = ReLU(V_0 [theta_m; rho1(L); rho2(L); rho1(g); rho2(g)] + c_0)
 *         (with --melon-preprocess-theta: [rho1(theta); rho2(theta); ...])
 *   z_l = ReLU(V_l z_{l-1} + c_l)                  l = 1 .. layers-1
 *   h_theta = z_{layers-1}                                       (Eq. 11)
 *   w = sigma(eta + w_theta . h_theta),  eta = w_lr,x . h_x + b_lr (Eq. 12)
 *
 * and the backward of the rate given omega = dL/dw = -gc * mult (Eq. 13:
 * theta'_m = theta_m - (1/c_m) sum_x w_{x,m} g_{x,m}, so dL/dw_{x,m} =
 * -(dL/dtheta'_m / c_m) g_{x,m}): delta = omega w (1 - w) = dL/d(pre-sigmoid),
 * then through the MLP to its weights.
 *
 * Data layout: a block holds PAPER_BLOCK pairs, activations are stored
 * feature-major ([feature][pair]) so that one vector holds one feature of
 * 16 pairs; a hidden layer keeps the 16-pair vectors of all its inputs in
 * registers and streams the weights as broadcasts. Widths used in practice
 * are compiled as constants (see ROLE_WIDTHS). Weight gradients are summed
 * as whole vectors into per-lane accumulators and folded into doubles every
 * FOLD_BLOCKS blocks. The backward needs the top layer only through the
 * signs of its activations (role_grad in melon_paper.h), so the meta
 * step's trial pass hands each pair's rate and signs to the backward pass,
 * which then recomputes only the layers below the top. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
/* Vectors pass by value only between static inline functions of this file,
 * so the ABI note of builds without AVX-512 does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#include "melon_paper.h"

#include "nn/vmath.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define P PAPER_BLOCK
#define LANES PAPER_LANES
#define CHUNKS (P / LANES)
#define FIXED_MAX 32      /* widest layer whose inputs stay in registers */
#define FOLD_BLOCKS 32
/* Widths known at compile time keep a layer's inputs in registers. */
#define IN_REGISTERS(W) (__builtin_constant_p(W) && (W) <= FIXED_MAX)

typedef float vf __attribute__((vector_size(LANES * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(LANES * sizeof(int32_t))));

static inline vf vload(const float *p) {
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void vstore(float *p, vf v) { memcpy(p, &v, sizeof v); }
static inline vf vsplat(float x) {
    vf v = {0};
    return v + x;
}
/* x where z > 0, else 0 (ReLU and its mask; z > 0 iff the pre-activation
 * was > 0). */
static inline vf vmask(vf x, vf z) {
    vi m = z > vsplat(0.0f);
    return (vf)((vi)x & m);
}
static inline vf vrelu(vf a) { return vmask(a, a); }
static inline float vsum(vf v) {
    float s = 0.0f;
    for (int l = 0; l < LANES; l++) s += v[l];
    return s;
}

static inline vi vsplati(int32_t x) {
    vi v = {0};
    return v + x;
}
/* a where m (all ones), else b */
static inline vf vselect(vi m, vf a, vf b) {
    return (vf)(((vi)a & m) | ((vi)b & ~m));
}

#if defined(__clang__)
#define UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define UNROLL _Pragma("GCC unroll 32")
#else
#define UNROLL
#endif

/* ---- the rate's sigmoid (Eq. 12) and rho (Eq. 11) over a block, with
 * the vector-math layer of src/nn */

static void sigmoid_block(float *rate, const float *pre) {
#pragma omp simd
    for (int q = 0; q < P; q++) rate[q] = vm_sigmoid(pre[q]);
}

static void preprocess_block(const float *x, float *rho1, float *rho2) {
#pragma omp simd
    for (int q = 0; q < P; q++)
        vm_preprocess(x[q], MELON_PREPROCESS_EPS, &rho1[q], &rho2[q]);
}

/* ---- set-up */

void paper_role_net_view(role_net *net, const paper_params *p) {
    memset(net, 0, sizeof *net);
    net->layers = p->role_layers;
    net->width = p->role_width;
    net->inputs = p->role_inputs;
    if (!p->has_role) return;
    for (int l = 0; l < p->role_layers; l++) {
        net->w[l] = p->role_w[l]->value;
        net->b[l] = p->role_b[l]->value;
    }
    net->w_theta = p->w_lr->value + (p->has_interaction ? p->h_width : 0);
}

int paper_role_scratch_init(role_scratch *ws, const paper_params *p,
                            melon_err *err) {
    memset(ws, 0, sizeof *ws);
    size_t width = (size_t)(p->has_role ? p->role_width : 1);
    size_t layers = (size_t)(p->has_role ? p->role_layers : 1);
    size_t bytes = (layers * width * P + 2 * width * P + width * width + 5 * P) *
                   sizeof(float);
    float *all = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!all) return melon_fail(err, "out of memory (%zu bytes)", bytes);
    memset(all, 0, bytes);
    ws->z = all;
    ws->dz = ws->z + layers * width * P;
    ws->scaled = ws->dz + 2 * width * P;
    ws->rho1 = ws->scaled + width * width;
    ws->rho2 = ws->rho1 + P;
    ws->delta = ws->rho2 + P;
    ws->theta1 = ws->delta + P;
    ws->theta2 = ws->theta1 + P;
    return 0;
}

void paper_role_scratch_free(role_scratch *ws) {
    free(ws->z);
    memset(ws, 0, sizeof *ws);
}

int paper_role_grad_init(role_grad *g, const paper_params *p, melon_err *err) {
    memset(g, 0, sizeof *g);
    size_t at = 0;
    if (p->has_role) {
        size_t w = (size_t)p->role_width;
        for (int l = 0; l < p->role_layers; l++) {
            g->w_off[l] = at;
            at += w * (l == 0 ? (size_t)p->role_inputs : w);
            g->b_off[l] = at;
            at += w;
        }
    }
    g->b_lr_off = at++;
    g->size = at;
    g->total = melon_calloc(at, sizeof(double), err);
    size_t bytes = at * LANES * sizeof(float);
    g->lanes = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!g->total || !g->lanes) {
        paper_role_grad_free(g);
        return melon_fail(err, "out of memory (role gradients)");
    }
    memset(g->lanes, 0, bytes);
    return 0;
}

void paper_role_grad_free(role_grad *g) {
    free(g->total);
    free(g->lanes);
    memset(g, 0, sizeof *g);
}

void paper_role_grad_zero(role_grad *g) {
    memset(g->total, 0, g->size * sizeof *g->total);
    memset(g->lanes, 0, g->size * LANES * sizeof *g->lanes);
    g->pending = 0;
}

void paper_role_grad_fold(role_grad *g) {
    for (size_t a = 0; a < g->size; a++) {
        float *lane = g->lanes + a * LANES;
        double s = 0.0;
        for (int l = 0; l < LANES; l++) s += lane[l];
        g->total[a] += s;
        memset(lane, 0, LANES * sizeof *lane);
    }
    g->pending = 0;
}

void paper_role_grad_add(role_grad *dst, const role_grad *src) {
    for (size_t a = 0; a < dst->size; a++) dst->total[a] += src->total[a];
}

void paper_role_grad_store(const role_grad *g, paper_params *p) {
    if (p->has_role) {
        size_t w = (size_t)p->role_width, top = (size_t)p->role_layers - 1;
        for (size_t l = 0; l < top; l++) {
            size_t nw = w * (l == 0 ? (size_t)p->role_inputs : w);
            for (size_t a = 0; a < nw; a++)
                p->role_w[l]->grad[a] += (float)g->total[g->w_off[l] + a];
            for (size_t a = 0; a < w; a++)
                p->role_b[l]->grad[a] += (float)g->total[g->b_off[l] + a];
        }
        /* the top layer from A and B (see role_grad) */
        size_t in = top == 0 ? (size_t)p->role_inputs : w;
        const float *v = p->role_w[top]->value, *c = p->role_b[top]->value;
        const float *w_theta = p->w_lr->value + (p->has_interaction ? p->h_width : 0);
        float *gw_theta = p->w_lr->grad + (p->has_interaction ? p->h_width : 0);
        for (size_t k = 0; k < w; k++) {
            double bk = g->total[g->b_off[top] + k], dw = c[k] * bk;
            for (size_t j = 0; j < in; j++) {
                double a = g->total[g->w_off[top] + k * in + j];
                p->role_w[top]->grad[k * in + j] += (float)(w_theta[k] * a);
                dw += v[k * in + j] * a;
            }
            p->role_b[top]->grad[k] += (float)(w_theta[k] * bk);
            gw_theta[k] += (float)dw;
        }
    }
    p->b_lr->grad[0] += (float)g->total[g->b_lr_off];
}

static inline vf lane_get(const role_grad *g, size_t entry) {
    return vload(g->lanes + entry * LANES);
}
static inline void lane_put(role_grad *g, size_t entry, vf x) {
    vstore(g->lanes + entry * LANES, x);
}
static inline void lane_add(role_grad *g, size_t entry, vf x) {
    lane_put(g, entry, lane_get(g, entry) + x);
}

/* Pairs n .. P-1 become inert: zero inputs, gc = 0 (no gradient). */
static void pad_block(pair_block *b) {
    int n = b->n;
    size_t rest = (size_t)(P - n) * sizeof(float);
    if (n >= P) return;
    memset(b->theta + n, 0, rest);
    memset(b->in_g + n, 0, rest);
    memset(b->mult + n, 0, rest);
    memset(b->lrho1 + n, 0, rest);
    memset(b->lrho2 + n, 0, rest);
    memset(b->eta + n, 0, rest);
    memset(b->gc + n, 0, rest);
    for (int p = n; p < P; p++) {
        b->dst[p] = 0;
        b->triple[p] = -1;
    }
}

/* ---- forward */

/* Outputs computed together by a layer whose inputs stay in registers:
 * with AVX-512's 32 vector registers, as many independent FMA chains as
 * they leave room for beside the W inputs, so that both FMA pipes of a
 * recent core stay busy; four otherwise. */
#if defined(__AVX512F__)
#define GROUP(W)                                                          \
    ((W) <= 12 ? (W) : (W) % 10 == 0 && (W) <= 20 ? 10 : (W) <= 24 ? 8 : 4)
#else
#define GROUP(W) 4
#endif

/* zout = ReLU(w zin + bias) over the block, w [W][W]. */
static inline __attribute__((always_inline)) void
hidden_forward(const float *w, const float *bias, const float *zin,
               float *zout, const int W) {
    if (IN_REGISTERS(W) && W % 4 == 0) {
        const int G = GROUP(W);
        for (int c = 0; c < CHUNKS; c++) {
            vf in[FIXED_MAX];
            UNROLL for (int j = 0; j < W; j++) in[j] = vload(zin + j * P + c * LANES);
            for (int k = 0; k < W; k += G) {
                vf a[FIXED_MAX];
                UNROLL for (int q = 0; q < G; q++) a[q] = vsplat(bias[k + q]);
                UNROLL for (int j = 0; j < W; j++)
                    UNROLL for (int q = 0; q < G; q++) a[q] += in[j] * w[(k + q) * W + j];
                UNROLL for (int q = 0; q < G; q++)
                    vstore(zout + (k + q) * P + c * LANES, vrelu(a[q]));
            }
        }
        return;
    }
    for (int k = 0; k < W; k++) {
        const float *wk = w + k * W;
        for (int c = 0; c < CHUNKS; c++) {
            vf acc = vsplat(bias[k]);
            for (int j = 0; j < W; j++)
                acc += vload(zin + j * P + c * LANES) * wk[j];
            vstore(zout + k * P + c * LANES, vrelu(acc));
        }
    }
}

/* The role MLP's inputs (Eq. 11): [theta or rho(theta); rho(L); rho(g)]. */
static inline __attribute__((always_inline)) void
role_inputs(const pair_block *b, role_scratch *ws, const float **x,
            const int NI) {
    preprocess_block(b->in_g, ws->rho1, ws->rho2);
    if (NI == 6) preprocess_block(b->theta, ws->theta1, ws->theta2);
    int i = 0;
    if (NI == 6) {
        x[i++] = ws->theta1;
        x[i++] = ws->theta2;
    } else {
        x[i++] = b->theta;
    }
    x[i++] = b->lrho1;
    x[i++] = b->lrho2;
    x[i++] = ws->rho1;
    x[i++] = ws->rho2;
}

/* z = ReLU(w0 x + b0), w0 [W][NI], the inputs of a chunk in registers. */
static inline __attribute__((always_inline)) void
first_forward(const float *w0, const float *b0, const float *const *x,
              float *z, const int W, const int NI) {
    for (int c = 0; c < CHUNKS; c++) {
        vf in[PAPER_MAX_ROLE_INPUTS];
        UNROLL for (int i = 0; i < NI; i++) in[i] = vload(x[i] + c * LANES);
        UNROLL for (int k = 0; k < W; k++) {
            const float *v = w0 + k * NI;
            vf acc = vsplat(b0[k]);
            UNROLL for (int i = 0; i < NI; i++) acc += in[i] * v[i];
            vstore(z + k * P + c * LANES, vrelu(acc));
        }
    }
}

/* The inputs and layers 0 .. upto-1 of Eq. 11 into ws->z. */
static inline __attribute__((always_inline)) void
lower_forward(const role_net *net, const pair_block *b, role_scratch *ws,
              const float **x, const int W, const int NI, int upto) {
    role_inputs(b, ws, x, NI);
    if (upto >= 1) first_forward(net->w[0], net->b[0], x, ws->z, W, NI);
    for (int l = 1; l < upto; l++)
        hidden_forward(net->w[l], net->b[l], ws->z + (size_t)(l - 1) * W * P,
                       ws->z + (size_t)l * W * P, W);
}

/* Eq. 11 and the pre-sigmoid of Eq. 12 into ws->delta (used as scratch
 * for s), the activations into ws->z, the inputs' arrays into x. */
static inline __attribute__((always_inline)) void
role_forward(const role_net *net, const pair_block *b, role_scratch *ws,
             const float **x, const int W, const int NI) {
    lower_forward(net, b, ws, x, W, NI, net->layers);
    const float *top = ws->z + (size_t)(net->layers - 1) * W * P;
    vf s[CHUNKS];
    for (int c = 0; c < CHUNKS; c++) s[c] = vload(b->eta + c * LANES);
    for (int k = 0; k < W; k++) {
        const float wk = net->w_theta[k];
        for (int c = 0; c < CHUNKS; c++) s[c] += vload(top + k * P + c * LANES) * wk;
    }
    for (int c = 0; c < CHUNKS; c++) vstore(ws->delta + c * LANES, s[c]);
}

static inline __attribute__((always_inline)) void
rates_impl(const role_net *net, pair_block *b, role_scratch *ws, const int W,
           const int NI) {
    const float *x[PAPER_MAX_ROLE_INPUTS];
    role_forward(net, b, ws, x, W, NI);
    sigmoid_block(b->rate, ws->delta);
}

/* ---- backward */

/* delta = -gc mult w (1 - w) from the rates in b->rate; adds it to b_lr's
 * and each triple's eta gradient. */
static void rate_backward(pair_block *b, role_scratch *ws, role_grad *g,
                          double *d_eta) {
    float *delta = ws->delta;
    vf total = vsplat(0.0f);
    for (int c = 0; c < CHUNKS; c++) {
        vf w = vload(b->rate + c * LANES);
        vf d = -vload(b->gc + c * LANES) * vload(b->mult + c * LANES) * w * (1.0f - w);
        vstore(delta + c * LANES, d);
        total += d;
    }
    lane_add(g, g->b_lr_off, total);
    if (!d_eta) return;
    /* Pairs of one triple are consecutive: sum whole vectors when a chunk
     * belongs to one triple. */
    for (int c = 0; c < CHUNKS; c++) {
        const int32_t *t = b->triple + c * LANES;
        if (t[0] == t[LANES - 1]) {
            if (t[0] >= 0) d_eta[t[0]] += vsum(vload(delta + c * LANES));
            continue;
        }
        for (int l = 0; l < LANES; l++)
            if (t[l] >= 0) d_eta[t[l]] += delta[c * LANES + l];
    }
}

/* dW[k][j] += sum_p dz[k][p] zin[j][p], in tiles of 4 x TILE_J(W)
 * accumulators: with AVX-512 the tile and the 4 + TJ operands of a chunk
 * fit in its 32 vector registers, so every operand is loaded once per
 * chunk. Each lane sums its pairs in the same order whatever the tile. */
#if defined(__AVX512F__)
#define TILE_J(W) ((W) % 5 == 0 ? 5 : 4)
#else
#define TILE_J(W) 2
#endif
static inline __attribute__((always_inline)) void
weight_grad(role_grad *g, size_t w_off, const float *dz, const float *zin,
            const int W) {
    float *restrict lanes = g->lanes + w_off * LANES;
    if (W % 4 == 0) {
        const int TJ = TILE_J(W);
        for (int k0 = 0; k0 < W; k0 += 4)
            for (int j0 = 0; j0 < W; j0 += TJ) {
                vf acc[4][5] = {{{0}}};
                UNROLL for (int a = 0; a < 4; a++)
                    UNROLL for (int q = 0; q < TJ; q++)
                        acc[a][q] = vload(lanes + ((size_t)(k0 + a) * W + j0 + q) * LANES);
                for (int c = 0; c < CHUNKS; c++) {
                    vf d[4], z[5];
                    UNROLL for (int a = 0; a < 4; a++) d[a] = vload(dz + (k0 + a) * P + c * LANES);
                    UNROLL for (int q = 0; q < TJ; q++) z[q] = vload(zin + (j0 + q) * P + c * LANES);
                    UNROLL for (int a = 0; a < 4; a++)
                        UNROLL for (int q = 0; q < TJ; q++) acc[a][q] += d[a] * z[q];
                }
                UNROLL for (int a = 0; a < 4; a++)
                    UNROLL for (int q = 0; q < TJ; q++)
                        vstore(lanes + ((size_t)(k0 + a) * W + j0 + q) * LANES, acc[a][q]);
            }
        return;
    }
    for (int k = 0; k < W; k++)
        for (int j = 0; j < W; j++) {
            float *lane = lanes + ((size_t)k * W + j) * LANES;
            vf acc = vload(lane);
            for (int c = 0; c < CHUNKS; c++)
                acc += vload(dz + k * P + c * LANES) * vload(zin + j * P + c * LANES);
            vstore(lane, acc);
        }
}

/* dzin[j][p] = [zin[j][p] > 0] sum_k w[k][j] dz[k][p]. */
static inline __attribute__((always_inline)) void
input_grad(const float *w, const float *dz, const float *zin, float *dzin,
           const int W) {
    if (IN_REGISTERS(W) && W % 4 == 0) {
        for (int c = 0; c < CHUNKS; c++) {
            vf d[FIXED_MAX];
            UNROLL for (int k = 0; k < W; k++) d[k] = vload(dz + k * P + c * LANES);
            for (int j = 0; j < W; j += 4) { /* four chains, as above */
                vf a0 = d[0] * w[j], a1 = d[0] * w[j + 1];
                vf a2 = d[0] * w[j + 2], a3 = d[0] * w[j + 3];
                UNROLL for (int k = 1; k < W; k++) {
                    const float *wk = w + k * W + j;
                    a0 += d[k] * wk[0];
                    a1 += d[k] * wk[1];
                    a2 += d[k] * wk[2];
                    a3 += d[k] * wk[3];
                }
                vstore(dzin + j * P + c * LANES, vmask(a0, vload(zin + j * P + c * LANES)));
                vstore(dzin + (j + 1) * P + c * LANES,
                       vmask(a1, vload(zin + (j + 1) * P + c * LANES)));
                vstore(dzin + (j + 2) * P + c * LANES,
                       vmask(a2, vload(zin + (j + 2) * P + c * LANES)));
                vstore(dzin + (j + 3) * P + c * LANES,
                       vmask(a3, vload(zin + (j + 3) * P + c * LANES)));
            }
        }
        return;
    }
    for (int j = 0; j < W; j++)
        for (int c = 0; c < CHUNKS; c++) {
            vf acc = vsplat(0.0f);
            for (int k = 0; k < W; k++)
                acc += vload(dz + k * P + c * LANES) * w[k * W + j];
            vstore(dzin + j * P + c * LANES,
                   vmask(acc, vload(zin + j * P + c * LANES)));
        }
}

/* Layer 0, whose inputs x are constants: dW0[k][i] += sum_p dz x_i,
 * db0[k] += sum_p dz. */
static inline __attribute__((always_inline)) void
first_grad(role_grad *g, const float *dz, const float *const *x, const int W,
           const int NI) {
    float *restrict lanes = g->lanes;
    /* two units at a time: twice the independent chains, one load of
     * each input per chunk for both */
    const int K = W % 2 == 0 ? 2 : 1;
    for (int k0 = 0; k0 < W; k0 += K) {
        vf acc[2][PAPER_MAX_ROLE_INPUTS] = {{{0}}}, bias[2] = {{0}};
        UNROLL for (int a = 0; a < K; a++) {
            size_t off = g->w_off[0] + (size_t)(k0 + a) * NI;
            bias[a] = vload(lanes + (g->b_off[0] + k0 + a) * LANES);
            UNROLL for (int i = 0; i < NI; i++) acc[a][i] = vload(lanes + (off + i) * LANES);
        }
        for (int c = 0; c < CHUNKS; c++) {
            vf in[PAPER_MAX_ROLE_INPUTS];
            UNROLL for (int i = 0; i < NI; i++) in[i] = vload(x[i] + c * LANES);
            UNROLL for (int a = 0; a < K; a++) {
                vf d = vload(dz + (k0 + a) * P + c * LANES);
                bias[a] += d;
                UNROLL for (int i = 0; i < NI; i++) acc[a][i] += d * in[i];
            }
        }
        UNROLL for (int a = 0; a < K; a++) {
            size_t off = g->w_off[0] + (size_t)(k0 + a) * NI;
            UNROLL for (int i = 0; i < NI; i++) vstore(lanes + (off + i) * LANES, acc[a][i]);
            vstore(lanes + (g->b_off[0] + k0 + a) * LANES, bias[a]);
        }
    }
}

/* The backward of one block. The top layer's upstream is w_theta[k] u_kp
 * with u_kp = delta_p [top_kp > 0]; its weight and bias entries sum A and
 * B (see role_grad) and the layers below receive the true gradients
 * through scaled = V_top * w_theta. With a cache, the top layer's signs
 * and the rates come from the trial pass and the top layer is not
 * recomputed. */
static inline __attribute__((always_inline)) void
backward_impl(const role_net *net, pair_block *b, role_scratch *ws,
              role_grad *g, double *d_eta, const float *rate,
              const uint32_t *mask, const int W, const int NI) {
    const float *x[PAPER_MAX_ROLE_INPUTS];
    const int L = net->layers, top = L - 1;
    float *u = ws->dz, *dz = ws->dz + (size_t)W * P;
    const float *delta = ws->delta;
    if (rate) {
        lower_forward(net, b, ws, x, W, NI, L - 1);
        uint32_t bits[P];
        memcpy(b->rate, rate, (size_t)b->n * sizeof *rate);
        memcpy(bits, mask, (size_t)b->n * sizeof *mask);
        for (int p = b->n; p < P; p++) b->rate[p] = 0.5f, bits[p] = 0;
        rate_backward(b, ws, g, d_eta);
        for (int c = 0; c < CHUNKS; c++) {
            vi m;
            memcpy(&m, bits + c * LANES, sizeof m);
            vf d = vload(delta + c * LANES);
            for (int k = 0; k < W; k++)
                vstore(u + k * P + c * LANES,
                       vselect(((m >> k) & 1) != vsplati(0), d, vsplat(0.0f)));
        }
    } else {
        role_forward(net, b, ws, x, W, NI);
        sigmoid_block(b->rate, ws->delta);
        rate_backward(b, ws, g, d_eta);
        const float *z = ws->z + (size_t)top * W * P;
        for (int k = 0; k < W; k++)
            for (int c = 0; c < CHUNKS; c++)
                vstore(u + k * P + c * LANES,
                       vmask(vload(delta + c * LANES), vload(z + k * P + c * LANES)));
    }
    if (L == 1) { /* the top layer is layer 0 */
        first_grad(g, u, x, W, NI);
        return;
    }
    const float *zin = ws->z + (size_t)(top - 1) * W * P;
    for (int k = 0; k < W; k++) {
        vf acc = vsplat(0.0f);
        for (int c = 0; c < CHUNKS; c++) acc += vload(u + k * P + c * LANES);
        lane_add(g, g->b_off[top] + k, acc);
    }
    weight_grad(g, g->w_off[top], u, zin, W);
    for (int k = 0; k < W; k++)
        for (int j = 0; j < W; j++)
            ws->scaled[k * W + j] = net->w[top][k * W + j] * net->w_theta[k];
    input_grad(ws->scaled, u, zin, dz, W);
    /* hidden layers below the top: dz is the gradient of layer l's
     * pre-activation */
    float *dz_next = u;
    for (int l = top - 1; l >= 1; l--) {
        zin = ws->z + (size_t)(l - 1) * W * P;
        for (int k = 0; k < W; k++) {
            vf acc = vsplat(0.0f);
            for (int c = 0; c < CHUNKS; c++) acc += vload(dz + k * P + c * LANES);
            lane_add(g, g->b_off[l] + k, acc);
        }
        weight_grad(g, g->w_off[l], dz, zin, W);
        input_grad(net->w[l], dz, zin, dz_next, W);
        float *swap = dz;
        dz = dz_next;
        dz_next = swap;
    }
    first_grad(g, dz, x, W, NI);
}

/* ---- dispatch: widths in common use compile with a constant width */

#define ROLE_WIDTHS(X) X(8) X(12) X(16) X(20) X(24) X(32)

#define DEFINE_KERNELS(W, NI)                                                \
    static void rates_##W##_##NI(const role_net *net, pair_block *b,        \
                                 role_scratch *ws) {                         \
        rates_impl(net, b, ws, W, NI);                                       \
    }                                                                        \
    static void backward_##W##_##NI(const role_net *net, pair_block *b,     \
                                    role_scratch *ws, role_grad *g,          \
                                    double *d_eta, const float *rate,        \
                                    const uint32_t *mask) {                  \
        backward_impl(net, b, ws, g, d_eta, rate, mask, W, NI);              \
    }
#define DEFINE_FIXED(W) DEFINE_KERNELS(W, 5) DEFINE_KERNELS(W, 6)
ROLE_WIDTHS(DEFINE_FIXED)

static void rates_any(const role_net *net, pair_block *b, role_scratch *ws) {
    if (net->inputs == 6)
        rates_impl(net, b, ws, net->width, 6);
    else
        rates_impl(net, b, ws, net->width, 5);
}
static void backward_any(const role_net *net, pair_block *b, role_scratch *ws,
                         role_grad *g, double *d_eta, const float *rate,
                         const uint32_t *mask) {
    if (net->inputs == 6)
        backward_impl(net, b, ws, g, d_eta, rate, mask, net->width, 6);
    else
        backward_impl(net, b, ws, g, d_eta, rate, mask, net->width, 5);
}

/* The block's rates and its top layer's signs (bit k: unit k active). */
static void store_top(const role_net *net, const pair_block *b,
                      const role_scratch *ws, float *rate_out,
                      uint32_t *mask_out) {
    const int W = net->width;
    const float *top = ws->z + (size_t)(net->layers - 1) * W * P;
    uint32_t bits[P];
    for (int c = 0; c < CHUNKS; c++) {
        vi m = vsplati(0);
        for (int k = 0; k < W; k++)
            m |= (vload(top + k * P + c * LANES) > vsplat(0.0f)) & vsplati((int32_t)(1u << k));
        memcpy(bits + c * LANES, &m, sizeof m);
    }
    memcpy(rate_out, b->rate, (size_t)b->n * sizeof *rate_out);
    memcpy(mask_out, bits, (size_t)b->n * sizeof *mask_out);
}

static void fold_if_due(role_grad *g) {
    if (++g->pending >= FOLD_BLOCKS) paper_role_grad_fold(g);
}

void paper_role_rates(const role_net *net, pair_block *b, role_scratch *ws,
                      float *rate_out, uint32_t *mask_out) {
    pad_block(b);
    if (!net->w_theta) {
        sigmoid_block(b->rate, b->eta);
        return;
    }
    switch (net->width) {
#define CASE_RATES(W)                   \
    case W:                             \
        if (net->inputs == 6)           \
            rates_##W##_6(net, b, ws);  \
        else                            \
            rates_##W##_5(net, b, ws);  \
        break;
        ROLE_WIDTHS(CASE_RATES)
    default:
        rates_any(net, b, ws);
    }
    if (rate_out) store_top(net, b, ws, rate_out, mask_out);
}

void paper_role_backward(const role_net *net, pair_block *b,
                         role_scratch *ws, role_grad *g, double *d_eta,
                         const float *rate, const uint32_t *mask) {
    pad_block(b);
    if (!net->w_theta) {
        sigmoid_block(b->rate, b->eta);
        rate_backward(b, ws, g, d_eta);
        fold_if_due(g);
        return;
    }
    switch (net->width) {
#define CASE_BACKWARD(W)                                    \
    case W:                                                 \
        if (net->inputs == 6)                               \
            backward_##W##_6(net, b, ws, g, d_eta, rate, mask); \
        else                                                \
            backward_##W##_5(net, b, ws, g, d_eta, rate, mask); \
        break;
        ROLE_WIDTHS(CASE_BACKWARD)
    default:
        backward_any(net, b, ws, g, d_eta, rate, mask);
    }
    fold_if_due(g);
}
