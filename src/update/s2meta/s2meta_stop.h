/* S2Meta's stop controller (update-strategies.md B.5, "Stop controller";
 * Du et al. 2019, StopControl with hidden_input false). Before inner step
 * k of a task, with the support set's mean loss L and the gradient norms
 * |g_1| .. |g_T| of the T learned tensors (all constants):
 *
 *   x_k = rho1([|g_1|, ..., |g_T|, L])                 (T + 1 inputs)
 *   (h_k, c_k) = LSTMCell(x_k, (h_{k-1}, c_{k-1}))     width H = 2 (T + 1),
 *                                                      PyTorch gate order
 *   s_k = sigma(w . h_k + b)
 *
 * starting from the learned (h0, c0). From step min_steps on, the task
 * stops before step k with probability s_k. It is trained by REINFORCE:
 * the surrogate J = sum_k A_k (-log(1 - s_k)) over the N steps taken, with
 * the constants A_k = L^Q_k - L^Q_N - (N - k) penalty (L^Q_k: query loss
 * before step k), is added to the meta-loss, so dJ/d(w . h_k + b) =
 * A_k s_k. The cell runs in double precision (it is tiny). */
#ifndef MELON_S2META_STOP_H
#define MELON_S2META_STOP_H

#include "melon/common.h"

#include <stddef.h>

typedef struct {
    int inputs;          /* T + 1 */
    int hidden;          /* H = 2 (T + 1) */
    size_t w_ih;         /* [4H][inputs] */
    size_t w_hh;         /* [4H][H] */
    size_t b_ih, b_hh;   /* [4H] */
    size_t w_out, b_out; /* [H], [1] */
    size_t h0, c0;       /* [H] */
    size_t size;         /* floats in all */
} s2meta_stop_layout;

void s2meta_stop_layout_make(s2meta_stop_layout *l, int n_tensors);

/* PyTorch's defaults: LSTMCell and output weights U(-1/sqrt(H), 1/sqrt(H)),
 * output bias 0, h0 and c0 standard normal. */
void s2meta_stop_init(const s2meta_stop_layout *l, float *p, melon_rng *rng);

/* The steps of one task, kept for the backward. */
typedef struct {
    s2meta_stop_layout l;
    int max_steps;
    int n;              /* steps run */
    double *x;          /* [max][inputs] */
    double *gates;      /* [max][4H]: sigma(i), sigma(f), tanh(g), sigma(o) */
    double *h, *c;      /* [max + 1][H]; row 0 the initial state */
    double *s;          /* [max] stop probabilities */
    double *scratch;    /* backward: [4 H + 2 H] */
} s2meta_stop_run;

int s2meta_stop_run_init(s2meta_stop_run *r, const s2meta_stop_layout *l,
                         int max_steps, melon_err *err);
void s2meta_stop_run_free(s2meta_stop_run *r);

/* Starts a task from the learned (h0, c0). */
void s2meta_stop_begin(s2meta_stop_run *r, const float *p);
/* Runs the cell for the next step (at most max_steps per task) on the
 * gradient norms [T] and the loss; returns s_k. */
double s2meta_stop_step(s2meta_stop_run *r, const float *p,
                        const double *grad_norms, double loss);
/* Adds dJ/dp to grad for J = sum_{k < n} advantage[k] (-log(1 - s_k)). */
void s2meta_stop_backward(const s2meta_stop_run *r, const float *p,
                          const double *advantage, int n, float *grad);

#endif
