/* S2Meta's trial update redone in double for the finite-difference checks
 * of test_s2meta.c and test_s2meta_bptt.c.
 *
 * The reference follows the meta-gradient's own definition
 * (update-strategies.md B.5, "Meta-gradient in the original"): the support
 * gradients, the LSTM inputs x and the losses are constants. A "nominal"
 * run at the current meta-parameters records them step by step (support
 * gradients by central differences of the double support loss, so nothing
 * is taken from the strategy's backward); the "surrogate" then replays the
 * K steps with those constants frozen, the LSTM states and the chain
 * theta' = fg theta - lr g~ live, and scores the query in double. Its
 * derivative with respect to a meta-parameter is exactly what
 * s2meta_meta_gradient computes, so central differences of the surrogate
 * check it entry by entry. */
#ifndef MELON_TEST_S2META_REF_H
#define MELON_TEST_S2META_REF_H

#include "meta_reference.h"

#include "update/s2meta/s2meta.h"

#define S2_MAX_H 32

/* A support set and a query sharing users and items, so that the trial
 * rows the query looks up exist (S and Q overlap) and others do not. */
static const melon_triple support_set[] = {
    {0, 1, 5}, {1, 2, 6}, {2, 3, 4}, {0, 3, 6}, {3, 0, 2}, {4, 4, 1},
    {1, 1, 3}, {2, 5, 0},
};
static const melon_triple query_set[] = {
    {0, 1, 4}, {1, 3, 2}, {2, 2, 6}, {3, 1, 0}, {0, 6, 5},
};
#define N_SUPPORT ((int)(sizeof support_set / sizeof support_set[0]))
#define N_QUERY ((int)(sizeof query_set / sizeof query_set[0]))

static double s2_sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

static void s2_rho(double v, double *r1, double *r2) {
    if (fabs(v) >= exp(-10.0)) {
        *r1 = log(fabs(v) + 1e-20) / 10.0;
        *r2 = (v > 0) - (v < 0);
    } else {
        *r1 = -1.0;
        *r2 = exp(10.0) * v;
    }
}

/* One MetaLSTM step in double; returns theta' and the rates. */
static double s2_ref_step(const s2meta_layout *l, const double *p,
                          const double x[S2META_INPUTS], const double *h_in,
                          const double *c_in, double theta, double g,
                          double *h_out, double *c_out, double *lr_out,
                          double *fg_out) {
    int H = l->hidden, W = l->in_width;
    double z[4 * S2_MAX_H], hr[S2_MAX_H];
    for (int j = 0; j < 4 * H; j++) {
        const double *w = p + l->w + (size_t)j * W;
        double acc = p[l->b_ih + j] + p[l->b_hh + j];
        for (int i = 0; i < S2META_INPUTS; i++) acc += w[i] * x[i];
        for (int b = 0; b < H; b++) acc += w[S2META_INPUTS + b] * h_in[b];
        z[j] = acc;
    }
    double mean = 0.0;
    for (int b = 0; b < H; b++) {
        double i = s2_sigmoid(z[b]), f = s2_sigmoid(z[H + b]);
        double gg = tanh(z[2 * H + b]), o = s2_sigmoid(z[3 * H + b]);
        c_out[b] = f * c_in[b] + i * gg;
        hr[b] = o * tanh(c_out[b]);
        mean += hr[b] / H;
    }
    double var = 0.0;
    for (int b = 0; b < H; b++) var += (hr[b] - mean) * (hr[b] - mean) / H;
    double rstd = 1.0 / sqrt(var + 1e-5), s_lr = p[l->b_lr], s_fg = p[l->b_fg];
    for (int b = 0; b < H; b++) {
        h_out[b] = p[l->ln_gain + b] * (hr[b] - mean) * rstd + p[l->ln_bias + b];
        s_lr += p[l->w_lr + b] * h_out[b];
        s_fg += p[l->w_fg + b] * h_out[b];
    }
    double lr = s2_sigmoid(s_lr), fg = s2_sigmoid(s_fg);
    if (lr_out) *lr_out = lr;
    if (fg_out) *fg_out = fg;
    return fg * theta - lr * g;
}

static void s2_inputs(double g_clipped, double theta, double loss,
                      double x[S2META_INPUTS]) {
    double unused;
    s2_rho(g_clipped, &x[0], &x[1]);
    s2_rho(theta, &x[2], &x[3]);
    s2_rho(loss, &x[4], &unused);
}

static double s2_clip(double g) { return g < -1.0 ? -1.0 : (g > 1.0 ? 1.0 : g); }

/* One coordinate of the trial. */
typedef struct {
    int tensor;
    size_t index;          /* flat index in the tensor */
    int learned_init;      /* starts from the cell's (h0, c0) */
    double h_init[S2_MAX_H], c_init[S2_MAX_H];  /* else this state */
} s2_coord;

typedef struct {
    const s2meta_layout *l;
    const melon_model *m;
    int K, n;
    s2_coord *coord;       /* [n] */
    double *x;             /* [K][n][5] frozen inputs */
    double *g;             /* [K][n] frozen clipped gradients */
    double *phi[MELON_MAX_TENSORS];  /* double copies of the MetaLSTMs */
    ref_params base;       /* Theta before the trial */
    ref_params work;
    const melon_triple *support, *query;
    int n_support, n_query;
} s2_ref;

static int s2_rows_have(const melon_tensor *t, const melon_triple *tr, int n,
                        int32_t row) {
    for (int p = 0; p < 2 * n; p++)
        if (melon_slot_row(t, &tr[p / 2], p % 2) == row) return 1;
    return 0;
}

/* The trial's coordinates (s2meta.c: rows of Q and S for scope touched,
 * of Q for full; with K > 1 also the rest of S; dense tensors whole),
 * states from the strategy's carried ones where a row holds one. */
static void s2_ref_coords(s2_ref *r, const s2meta_state *st) {
    const melon_model *m = r->m;
    int full = st->cfg.scope == MELON_SCOPE_FULL, K = st->cfg.steps;
    int H = r->l->hidden;
    size_t cap = 0;
    for (int k = 0; k < m->n_tensors; k++) cap += ref_tensor_size(&m->tensor[k]);
    r->coord = calloc(cap, sizeof *r->coord);
    assert_non_null(r->coord);
    r->n = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        for (int32_t row = 0; row < t->rows; row++) {
            int in_q = s2_rows_have(t, r->query, r->n_query, row);
            int in_s = s2_rows_have(t, r->support, r->n_support, row);
            int take = t->kind == MELON_DENSE ||
                       (in_q && (in_s || full)) || (K > 1 && in_s);
            if (!take) continue;
            for (int c = 0; c < t->cols; c++) {
                s2_coord *co = &r->coord[r->n++];
                co->tensor = k;
                co->index = (size_t)row * t->cols + c;
                co->learned_init = 1;
                if (st->cfg.carry_state && st->carried[k][row]) {
                    const float *s = st->carry +
                        (st->carry_base[k] + co->index) * 2 * (size_t)H;
                    co->learned_init = 0;
                    for (int b = 0; b < H; b++) {
                        co->h_init[b] = s[b];
                        co->c_init[b] = s[H + b];
                    }
                }
            }
        }
    }
}

/* d(mean support loss)/d(coordinate) by central differences in double. */
static double s2_support_loss(void *ctx) {
    s2_ref *r = ctx;
    return ref_mean_loss(&r->work, r->support, r->n_support);
}

static double s2_support_grad(s2_ref *r, const s2_coord *co) {
    return grad_central(s2_support_loss, r, &r->work.p[co->tensor][co->index]);
}

static void s2_state_init(const s2_ref *r, const s2_coord *co, double *h,
                          double *c) {
    int H = r->l->hidden;
    const double *p = r->phi[co->tensor];
    for (int b = 0; b < H; b++) {
        h[b] = co->learned_init ? p[r->l->h0 + b] : co->h_init[b];
        c[b] = co->learned_init ? p[r->l->c0 + b] : co->c_init[b];
    }
}

/* The nominal trial at the current phi: records x and g~ of every step. */
static void s2_ref_nominal(s2_ref *r) {
    int H = r->l->hidden, n = r->n, K = r->K;
    double *h = calloc((size_t)n * H, sizeof(double));
    double *c = calloc((size_t)n * H, sizeof(double));
    double *g = calloc((size_t)n, sizeof(double));
    assert_non_null(h);
    assert_non_null(c);
    assert_non_null(g);
    ref_params_copy(&r->work, &r->base);
    for (int a = 0; a < n; a++) s2_state_init(r, &r->coord[a], h + a * H, c + a * H);
    for (int s = 0; s < K; s++) {
        double loss = ref_mean_loss(&r->work, r->support, r->n_support);
        for (int a = 0; a < n; a++) g[a] = s2_clip(s2_support_grad(r, &r->coord[a]));
        for (int a = 0; a < n; a++) {
            const s2_coord *co = &r->coord[a];
            double *theta = &r->work.p[co->tensor][co->index];
            double *x = r->x + ((size_t)s * n + a) * S2META_INPUTS;
            s2_inputs(g[a], *theta, loss, x);
            r->g[(size_t)s * n + a] = g[a];
            double h_out[S2_MAX_H], c_out[S2_MAX_H];
            *theta = s2_ref_step(r->l, r->phi[co->tensor], x, h + a * H,
                                 c + a * H, *theta, g[a], h_out, c_out, NULL,
                                 NULL);
            memcpy(h + a * H, h_out, (size_t)H * sizeof(double));
            memcpy(c + a * H, c_out, (size_t)H * sizeof(double));
        }
    }
    free(h);
    free(c);
    free(g);
}

/* The query loss after the K frozen-input steps, at the current phi. */
static double s2_ref_surrogate(s2_ref *r) {
    ref_params_copy(&r->work, &r->base);
    for (int a = 0; a < r->n; a++) {
        const s2_coord *co = &r->coord[a];
        double h[S2_MAX_H], c[S2_MAX_H], h2[S2_MAX_H], c2[S2_MAX_H];
        s2_state_init(r, co, h, c);
        double theta = r->base.p[co->tensor][co->index];
        for (int s = 0; s < r->K; s++) {
            size_t at = (size_t)s * r->n + a;
            theta = s2_ref_step(r->l, r->phi[co->tensor],
                                r->x + at * S2META_INPUTS, h, c, theta,
                                r->g[at], h2, c2, NULL, NULL);
            memcpy(h, h2, sizeof h);
            memcpy(c, c2, sizeof c);
        }
        r->work.p[co->tensor][co->index] = theta;
    }
    return ref_mean_loss(&r->work, r->query, r->n_query);
}

static void s2_ref_open(s2_ref *r, const s2meta_state *st, const melon_model *m,
                        const melon_triple *support, int n_support,
                        const melon_triple *query, int n_query) {
    memset(r, 0, sizeof *r);
    r->l = &st->layout;
    r->m = m;
    r->K = st->cfg.steps;
    r->support = support;
    r->n_support = n_support;
    r->query = query;
    r->n_query = n_query;
    ref_params_init(&r->base, m);
    ref_params_init(&r->work, m);
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_meta_block *b = &st->params.block[k];
        r->phi[k] = malloc(b->size * sizeof(double));
        assert_non_null(r->phi[k]);
        for (size_t a = 0; a < b->size; a++) r->phi[k][a] = b->value[a];
    }
    s2_ref_coords(r, st);
    r->x = malloc((size_t)r->K * r->n * S2META_INPUTS * sizeof(double));
    r->g = malloc((size_t)r->K * r->n * sizeof(double));
    assert_non_null(r->x);
    assert_non_null(r->g);
    s2_ref_nominal(r);
}

static void s2_ref_close(s2_ref *r) {
    for (int k = 0; k < MELON_MAX_TENSORS; k++) free(r->phi[k]);
    free(r->coord);
    free(r->x);
    free(r->g);
    ref_params_free(&r->base);
    ref_params_free(&r->work);
}

/* The named parameter blocks of a MetaLSTM: rows x cols entries at
 * offset + a * stride + b. */
typedef struct {
    const char *name;
    size_t offset;
    int rows, cols, stride;
} s2_block;

static int s2_blocks(const s2meta_layout *l, s2_block *out) {
    int H = l->hidden, G = l->gates, W = l->in_width, n = 0;
    out[n++] = (s2_block){"W_ih", l->w, G, S2META_INPUTS, W};
    out[n++] = (s2_block){"W_hh", l->w + S2META_INPUTS, G, H, W};
    out[n++] = (s2_block){"b_ih", l->b_ih, 1, G, G};
    out[n++] = (s2_block){"b_hh", l->b_hh, 1, G, G};
    out[n++] = (s2_block){"ln_gain", l->ln_gain, 1, H, H};
    out[n++] = (s2_block){"ln_bias", l->ln_bias, 1, H, H};
    out[n++] = (s2_block){"w_lr", l->w_lr, 1, H, H};
    out[n++] = (s2_block){"b_lr", l->b_lr, 1, 1, 1};
    out[n++] = (s2_block){"w_fg", l->w_fg, 1, H, H};
    out[n++] = (s2_block){"b_fg", l->b_fg, 1, 1, 1};
    out[n++] = (s2_block){"h0", l->h0, 1, H, H};
    out[n++] = (s2_block){"c0", l->c0, 1, H, H};
    return n;
}

#define S2_N_BLOCKS 12

/* Numeric gradient of one block of MetaLSTM k, entry by entry. */
static double s2_surrogate_loss(void *ctx) { return s2_ref_surrogate(ctx); }

static void s2_numeric_block(s2_ref *r, int k, const s2_block *b,
                             double *numeric) {
    int e = 0;
    for (int a = 0; a < b->rows; a++)
        for (int c = 0; c < b->cols; c++, e++)
            numeric[e] = grad_central(
                s2_surrogate_loss, r,
                &r->phi[k][b->offset + (size_t)a * b->stride + c]);
}

static void s2_analytic_block(const s2meta_state *st, int k, const s2_block *b,
                              float *analytic) {
    const float *g = st->params.block[k].grad;
    int e = 0;
    for (int a = 0; a < b->rows; a++)
        for (int c = 0; c < b->cols; c++)
            analytic[e++] = g[b->offset + (size_t)a * b->stride + c];
}

/* Every block of every MetaLSTM against central differences of the
 * surrogate at META_TOL, wrong gradients rejected (grad_check_block). The
 * user bias cancels in every BPR difference s(u,i) - s(u,j): no loss
 * depends on it, so its MetaLSTM gets an exact zero meta-gradient. */
static void s2_check_blocks(s2_ref *r, const s2meta_state *st,
                            const melon_model *m) {
    s2_block blocks[S2_N_BLOCKS];
    int n_blocks = s2_blocks(&st->layout, blocks);
    for (int k = 0; k < m->n_tensors; k++) {
        if (strcmp(m->tensor[k].name, "user_bias") == 0) {
            const melon_meta_block *blk = &st->params.block[k];
            for (size_t a = 0; a < blk->size; a++)
                assert_true(blk->grad[a] == 0.0f);
            continue;
        }
        for (int b = 0; b < n_blocks; b++) {
            size_t size = (size_t)blocks[b].rows * blocks[b].cols;
            double *numeric = malloc(size * sizeof(double));
            float *analytic = malloc(size * sizeof(float));
            assert_non_null(numeric);
            assert_non_null(analytic);
            s2_numeric_block(r, k, &blocks[b], numeric);
            s2_analytic_block(st, k, &blocks[b], analytic);
            char name[64];
            snprintf(name, sizeof name, "%s %s", m->tensor[k].name,
                     blocks[b].name);
            grad_check_block(name, analytic, numeric, size, META_TOL, 1e-7);
            free(numeric);
            free(analytic);
        }
    }
}

#endif
