/* S2Meta's stop controller: the LSTM cell over a task's inner steps and its
 * back-propagation through them (see s2meta_stop.h). */
#include "s2meta_stop.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void s2meta_stop_layout_make(s2meta_stop_layout *l, int n_tensors) {
    int in = n_tensors + 1, H = 2 * in;
    size_t at = 0;
    l->inputs = in;
    l->hidden = H;
    l->w_ih = at;  at += (size_t)4 * H * in;
    l->w_hh = at;  at += (size_t)4 * H * H;
    l->b_ih = at;  at += (size_t)4 * H;
    l->b_hh = at;  at += (size_t)4 * H;
    l->w_out = at; at += (size_t)H;
    l->b_out = at; at += 1;
    l->h0 = at;    at += (size_t)H;
    l->c0 = at;    at += (size_t)H;
    l->size = at;
}

void s2meta_stop_init(const s2meta_stop_layout *l, float *p, melon_rng *rng) {
    int H = l->hidden;
    double bound = 1.0 / sqrt((double)H);
    for (size_t a = l->w_ih; a < l->w_out + (size_t)H; a++)
        p[a] = (float)((2.0 * melon_rng_uniform(rng) - 1.0) * bound);
    p[l->b_out] = 0.0f;
    for (int a = 0; a < H; a++) p[l->h0 + a] = (float)melon_rng_normal(rng);
    for (int a = 0; a < H; a++) p[l->c0 + a] = (float)melon_rng_normal(rng);
}

int s2meta_stop_run_init(s2meta_stop_run *r, const s2meta_stop_layout *l,
                         int max_steps, melon_err *err) {
    memset(r, 0, sizeof *r);
    r->l = *l;
    r->max_steps = max_steps;
    size_t K = (size_t)max_steps, H = (size_t)l->hidden;
    r->x = melon_alloc(K * (size_t)l->inputs * sizeof(double), err);
    r->gates = melon_alloc(K * 4 * H * sizeof(double), err);
    r->h = melon_alloc((K + 1) * H * sizeof(double), err);
    r->c = melon_alloc((K + 1) * H * sizeof(double), err);
    r->s = melon_alloc(K * sizeof(double), err);
    r->scratch = melon_alloc(6 * H * sizeof(double), err);
    if (!r->x || !r->gates || !r->h || !r->c || !r->s || !r->scratch) {
        s2meta_stop_run_free(r);
        return -1;
    }
    return 0;
}

void s2meta_stop_run_free(s2meta_stop_run *r) {
    free(r->x);
    free(r->gates);
    free(r->h);
    free(r->c);
    free(r->s);
    free(r->scratch);
    memset(r, 0, sizeof *r);
}

void s2meta_stop_begin(s2meta_stop_run *r, const float *p) {
    int H = r->l.hidden;
    r->n = 0;
    for (int a = 0; a < H; a++) {
        r->h[a] = p[r->l.h0 + a];
        r->c[a] = p[r->l.c0 + a];
    }
}

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

/* rho1 of update-strategies.md section 0 (p = 10, eps 1e-20), in double */
static double rho1(double v) {
    double a = fabs(v);
    return a < exp(-10.0) ? -1.0 : log(a + 1e-20) / 10.0;
}

double s2meta_stop_step(s2meta_stop_run *r, const float *p,
                        const double *grad_norms, double loss) {
    const s2meta_stop_layout *l = &r->l;
    int in = l->inputs, H = l->hidden, k = r->n;
    if (k >= r->max_steps) return 1.0; /* never asked past the last step */
    double *x = r->x + (size_t)k * in;
    for (int a = 0; a < in - 1; a++) x[a] = rho1(grad_norms[a]);
    x[in - 1] = rho1(loss);
    const double *h_prev = r->h + (size_t)k * H, *c_prev = r->c + (size_t)k * H;
    double *gates = r->gates + (size_t)k * 4 * H;
    double *h = r->h + (size_t)(k + 1) * H, *c = r->c + (size_t)(k + 1) * H;
    for (int j = 0; j < 4 * H; j++) {
        double z = (double)p[l->b_ih + j] + p[l->b_hh + j];
        for (int a = 0; a < in; a++) z += (double)p[l->w_ih + (size_t)j * in + a] * x[a];
        for (int a = 0; a < H; a++) z += (double)p[l->w_hh + (size_t)j * H + a] * h_prev[a];
        gates[j] = j >= 2 * H && j < 3 * H ? tanh(z) : sigmoid(z);
    }
    double out = p[l->b_out];
    for (int a = 0; a < H; a++) {
        c[a] = gates[H + a] * c_prev[a] + gates[a] * gates[2 * H + a];
        h[a] = gates[3 * H + a] * tanh(c[a]);
        out += (double)p[l->w_out + a] * h[a];
    }
    r->s[k] = sigmoid(out);
    r->n = k + 1;
    return r->s[k];
}

void s2meta_stop_backward(const s2meta_stop_run *r, const float *p,
                          const double *advantage, int n, float *grad) {
    const s2meta_stop_layout *l = &r->l;
    int in = l->inputs, H = l->hidden;
    double *dz = r->scratch, *dh_next = dz + 4 * H, *dc_next = dh_next + H;
    for (int a = 0; a < H; a++) dh_next[a] = dc_next[a] = 0.0;
    if (n > r->n) n = r->n;
    for (int k = n - 1; k >= 0; k--) {
        const double *x = r->x + (size_t)k * in;
        const double *gates = r->gates + (size_t)k * 4 * H;
        const double *h_prev = r->h + (size_t)k * H, *c_prev = r->c + (size_t)k * H;
        const double *h = r->h + (size_t)(k + 1) * H, *c = r->c + (size_t)(k + 1) * H;
        /* d(-log(1 - s))/d(pre-sigmoid) = s */
        double d_out = advantage[k] * r->s[k];
        grad[l->b_out] += (float)d_out;
        for (int a = 0; a < H; a++) {
            grad[l->w_out + a] += (float)(d_out * h[a]);
            double i = gates[a], f = gates[H + a], g = gates[2 * H + a];
            double o = gates[3 * H + a], tc = tanh(c[a]);
            double dh = d_out * p[l->w_out + a] + dh_next[a];
            double dc = dh * o * (1.0 - tc * tc) + dc_next[a];
            dz[a] = dc * g * i * (1.0 - i);
            dz[H + a] = dc * c_prev[a] * f * (1.0 - f);
            dz[2 * H + a] = dc * i * (1.0 - g * g);
            dz[3 * H + a] = dh * tc * o * (1.0 - o);
            dc_next[a] = dc * f;
        }
        for (int a = 0; a < H; a++) dh_next[a] = 0.0;
        for (int j = 0; j < 4 * H; j++) {
            grad[l->b_ih + j] += (float)dz[j];
            grad[l->b_hh + j] += (float)dz[j];
            for (int a = 0; a < in; a++)
                grad[l->w_ih + (size_t)j * in + a] += (float)(dz[j] * x[a]);
            for (int a = 0; a < H; a++) {
                grad[l->w_hh + (size_t)j * H + a] += (float)(dz[j] * h_prev[a]);
                dh_next[a] += p[l->w_hh + (size_t)j * H + a] * dz[j];
            }
        }
    }
    for (int a = 0; a < H; a++) {
        grad[l->h0 + a] += (float)dh_next[a];
        grad[l->c0 + a] += (float)dc_next[a];
    }
}
