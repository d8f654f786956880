/* S2Meta's coordinate-wise MetaLSTM (update-strategies.md B.5; Du et al.
 * 2019, after Ravi and Larochelle 2017): one cell per recommender tensor,
 * its weights shared by every coordinate of the tensor, the coordinates
 * processed as one batch. One inner step for coordinate m with parameter theta,
 * batch-mean gradient g and batch loss L:
 *
 *   g~ = clamp(g, -1, 1)   (the update uses the clipped value too)
 *   x  = [rho1(g~), rho2(g~), rho1(theta), rho2(theta), rho1(L)]
 *   [i; f; c^; o] = W_ih x + b_ih + W_hh h + b_hh   (PyTorch gate order)
 *   c' = sigma(f) c + sigma(i) tanh(c^),   h' = sigma(o) tanh(c')
 *   y  = LayerNorm(h')                      (gain, bias; eps 1e-5)
 *   lr = sigma(w_lr . y + b_lr),   fg = sigma(w_fg . y + b_fg)
 *   theta' = fg theta - lr g~
 *
 * and the state carried to the next step is (y, c'): the original feeds
 * the LayerNorm output back as the hidden state (THUDM/ScenarioMeta,
 * MetaLSTM.forward). x, theta inside x, and L are constants (detached).
 *
 * The parameters of one cell live in one float block (layout below). W_ih
 * and W_hh are the first 5 and the last H columns of one [4H][5 + H]
 * matrix, so a step with per-coordinate states is one GEMM over the
 * coordinates' [x; h]. With a state shared by all coordinates (the learned
 * (h0, c0) at a reset), the h part is one vector W_hh h0 added to all. */
#ifndef MELON_S2META_LSTM_H
#define MELON_S2META_LSTM_H

#include "melon/common.h"

#include <stddef.h>

#define S2META_INPUTS 5
#define S2META_MAX_HIDDEN 256
#define S2META_LN_EPS 1e-5f
#define S2META_RHO_EPS 1e-20f /* eps of rho in THUDM/ScenarioMeta */

typedef struct {
    int hidden;          /* H */
    int gates;           /* 4H */
    int in_width;        /* 5 + H */
    size_t w;            /* [4H][5 + H]: W_ih | W_hh */
    size_t b_ih, b_hh;   /* [4H] */
    size_t ln_gain, ln_bias;  /* [H] */
    size_t w_lr, b_lr;   /* [H], [1] */
    size_t w_fg, b_fg;   /* [H], [1] */
    size_t h0, c0;       /* [H] learned initial state */
    size_t size;         /* floats of one cell */
} s2meta_layout;

void s2meta_layout_make(s2meta_layout *l, int hidden);

/* B.5's init: W_ih, W_hh, b_ih, b_hh ~ U(-1/sqrt(H), 1/sqrt(H)) (PyTorch's
 * LSTMCell), then b_ih[H/4 .. H/2) = 1 and b_hh[H/4 .. H/2) = 0 (the
 * original's slice, which falls in the input-gate block); LayerNorm gain 1,
 * bias 0; w_lr, w_fg Xavier-normal (std sqrt(2 / (H + 1))); b_lr = 0,
 * b_fg = 5; h0, c0 ~ N(0, 1). */
void s2meta_lstm_init(const s2meta_layout *l, float *p, melon_rng *rng);

/* One step's activations for up to `ld` coordinates, feature-major: each
 * feature is a row of ld floats, coordinate r in column r (so every
 * element-wise operation runs over a contiguous row, and the gate GEMM is
 * Z[4H][n] = W[4H][5 + H] XH[5 + H][n]). The caller fills theta and grad
 * (raw), and, for per-coordinate states, xh's last H rows (incoming
 * hidden) and c_in; the forward fills the rest and clips grad in place. */
typedef struct {
    int ld;        /* row stride, at least the coordinates it can hold */
    float *xh;     /* [5 + H][ld]: x, then the incoming hidden state */
    float *c_in;   /* [H][ld] incoming cell state */
    float *gates;  /* [4H][ld]: sigma(i), sigma(f), tanh(c^), sigma(o) */
    float *cell;   /* [H][ld] c' */
    float *tcell;  /* [H][ld] tanh(c') */
    float *xhat;   /* [H][ld] (h' - mean) * rstd */
    float *y;      /* [H][ld] LayerNorm output, the outgoing hidden */
    float *mean;   /* [ld] */
    float *rstd;   /* [ld] */
    float *lr;     /* [ld] */
    float *fg;     /* [ld] */
    float *theta;  /* [ld] */
    float *grad;   /* [ld] clipped gradient */
} s2meta_record;

/* Floats of a record for `cap` coordinates (its ld is cap padded), and
 * carving one out of `at` (returns the first float after it). */
int s2meta_record_ld(int cap);
size_t s2meta_record_floats(const s2meta_layout *l, int cap);
float *s2meta_record_carve(const s2meta_layout *l, s2meta_record *r, int cap,
                           float *at);

/* Forward of one step over n <= ld coordinates. shared != 0: every
 * coordinate starts from the cell's learned (h0, c0); else from the
 * record's xh / c_in. Writes theta' to theta_out [n]. */
void s2meta_lstm_forward(const s2meta_layout *l, const float *p, int n,
                         float loss_rho1, int shared, s2meta_record *a,
                         float *theta_out);

/* Scratch of one backward (same capacity and ld as the records). */
typedef struct {
    float *dz;     /* [4H][ld] */
    float *dy;     /* [H][ld] */
    float *pi_lr;  /* [ld] */
    float *pi_fg;  /* [ld] */
    float *m1;     /* [ld] */
    float *m2;     /* [ld] */
    float *dw;     /* [4H][5 + H] */
} s2meta_scratch;

size_t s2meta_scratch_floats(const s2meta_layout *l, int cap);
float *s2meta_scratch_carve(const s2meta_layout *l, s2meta_scratch *s, int cap,
                            float *at);

/* Backward of one step. Upstream: d_theta_out [n] (dL/dtheta'), and the
 * gradients reaching the outgoing state (y, c') from a later step,
 * d_y_out and d_cell_out ([H][ld]; zeros after the last step). Adds the
 * cell's parameter gradients to grad_p (same layout as p). Writes
 * d_theta_in = d_theta_out * fg (the chain through fg theta) and the
 * gradients of the incoming state d_h_in, d_c_in ([H][ld]); with
 * shared != 0 they are summed into grad_p's h0 and c0 instead (d_c_in is
 * then scratch, d_h_in unused). No pointer may be NULL. */
void s2meta_lstm_backward(const s2meta_layout *l, const float *p, int n,
                          int shared, const s2meta_record *a,
                          const float *d_theta_out, const float *d_y_out,
                          const float *d_cell_out, float *d_theta_in,
                          float *d_h_in, float *d_c_in, float *grad_p,
                          s2meta_scratch *s);

#endif
