/* Adam and SGD over a model's tensors, driven by a sparse batch gradient.
 *
 * Lazy (default): table rows the batch did not touch are left alone, as
 * sparse Adam implementations do for embedding tables. Dense (--dense-adam):
 * every row moves each step, through its moments and the L2 term, as
 * PyTorch's Adam does on embeddings with dense gradients. Adam follows
 * PyTorch's formula: L2 added to the gradient, bias-corrected moments,
 * theta -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
#include "model/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static size_t tensor_size(const melon_tensor *t) {
    return (size_t)t->rows * (size_t)t->cols;
}

int melon_optimizer_init(melon_optimizer *opt, const melon_model *model,
                         const melon_optimizer_config *cfg, melon_err *err) {
    memset(opt, 0, sizeof *opt);
    opt->cfg = *cfg;
    opt->n_tensors = model->n_tensors;
    if (cfg->kind != MELON_OPT_ADAM) return 0;
    for (int k = 0; k < model->n_tensors; k++) {
        size_t size = tensor_size(&model->tensor[k]);
        opt->size[k] = opt->room[k] = size;
        opt->m[k] = melon_calloc(size, sizeof(float), err);
        opt->v[k] = melon_calloc(size, sizeof(float), err);
        if (!opt->m[k] || !opt->v[k]) {
            melon_optimizer_free(opt);
            return -1;
        }
    }
    return 0;
}

int melon_optimizer_grow(melon_optimizer *opt, const melon_model *model,
                         melon_err *err) {
    if (opt->cfg.kind != MELON_OPT_ADAM) return 0;
    for (int k = 0; k < opt->n_tensors; k++) {
        const melon_tensor *t = &model->tensor[k];
        size_t size = tensor_size(t);
        if (size <= opt->size[k]) continue;
        if (size > opt->room[k]) {
            size_t room = (size_t)t->cap_rows * (size_t)t->cols;
            /* room for the table's capacity; the new part is zeroed below */
            size_t used = opt->size[k];
            float *m = melon_grow_rows(opt->m[k], sizeof(float), used, used, room,
                                       0, err);
            if (m) opt->m[k] = m;
            float *v = m ? melon_grow_rows(opt->v[k], sizeof(float), used, used,
                                           room, 0, err)
                         : NULL;
            if (v) opt->v[k] = v;
            if (!m || !v)
                return melon_fail(err, "optimizer: out of memory growing the "
                                       "moments of '%s' to %d rows",
                                  t->name, t->rows);
            opt->room[k] = room;
        }
        memset(opt->m[k] + opt->size[k], 0, (size - opt->size[k]) * sizeof(float));
        memset(opt->v[k] + opt->size[k], 0, (size - opt->size[k]) * sizeof(float));
        opt->size[k] = size;
    }
    return 0;
}

void melon_optimizer_free(melon_optimizer *opt) {
    for (int k = 0; k < MELON_MAX_TENSORS; k++) {
        free(opt->m[k]);
        free(opt->v[k]);
        opt->m[k] = opt->v[k] = NULL;
    }
}

typedef struct {
    float lr, l2, b1, b2, eps;
    float step_size;       /* lr / (1 - b1^t) */
    float inv_sqrt_bc2;    /* 1 / sqrt(1 - b2^t) */
} adam_coeffs;

/* One Adam update of n coordinates; grad may be NULL (a zero gradient). */
static void adam_span(const adam_coeffs *c, float *restrict theta,
                      float *restrict m, float *restrict v,
                      const float *restrict grad, int n, int decay) {
    const float l2 = decay ? c->l2 : 0.0f;
    const float b1 = c->b1, b2 = c->b2, step = c->step_size;
    const float inv_bc2 = c->inv_sqrt_bc2, eps = c->eps;
    for (int k = 0; k < n; k++) {
        float g = (grad ? grad[k] : 0.0f) + l2 * theta[k];
        m[k] = b1 * m[k] + (1.0f - b1) * g;
        v[k] = b2 * v[k] + (1.0f - b2) * g * g;
        theta[k] -= step * m[k] / (sqrtf(v[k]) * inv_bc2 + eps);
    }
}

static void sgd_span(float lr, float l2, float *theta, const float *grad,
                     int n, int decay) {
    float decay_l2 = decay ? l2 : 0.0f;
    for (int k = 0; k < n; k++)
        theta[k] -= lr * ((grad ? grad[k] : 0.0f) + decay_l2 * theta[k]);
}

/* Applies `span` to the tensor's rows: every row (dense semantics or dense
 * tensor) or only the touched ones. */
static void step_tensor(const melon_optimizer *opt, const adam_coeffs *c,
                        melon_tensor *t, int k, const melon_sparse_grad *g) {
    int cols = t->cols;
    int adam = opt->cfg.kind == MELON_OPT_ADAM;
    if (t->kind == MELON_DENSE) {
        int n = t->rows * cols;
        if (adam)
            adam_span(c, t->value, opt->m[k], opt->v[k], g->grad[k], n,
                      t->decay);
        else
            sgd_span(c->lr, c->l2, t->value, g->grad[k], n, t->decay);
        return;
    }
    if (opt->cfg.dense) {
        for (int32_t row = 0; row < t->rows; row++) {
            int32_t at = g->row_index[k][row];
            const float *grad = at >= 0 ? g->grad[k] + (size_t)at * cols : NULL;
            size_t off = (size_t)row * cols;
            if (adam)
                adam_span(c, t->value + off, opt->m[k] + off, opt->v[k] + off,
                          grad, cols, t->decay);
            else
                sgd_span(c->lr, c->l2, t->value + off, grad, cols, t->decay);
        }
        return;
    }
    for (int32_t at = 0; at < g->n_rows[k]; at++) {
        size_t off = (size_t)g->rows[k][at] * cols;
        const float *grad = g->grad[k] + (size_t)at * cols;
        if (adam)
            adam_span(c, t->value + off, opt->m[k] + off, opt->v[k] + off,
                      grad, cols, t->decay);
        else
            sgd_span(c->lr, c->l2, t->value + off, grad, cols, t->decay);
    }
}

void melon_optimizer_step(melon_optimizer *opt, melon_model *model,
                          const melon_sparse_grad *g, float scale) {
    opt->step++;
    adam_coeffs c;
    c.lr = opt->cfg.lr * scale;
    c.l2 = opt->cfg.l2;
    c.b1 = opt->cfg.beta1;
    c.b2 = opt->cfg.beta2;
    c.eps = opt->cfg.eps;
    double bc1 = 1.0 - pow(c.b1, (double)opt->step);
    double bc2 = 1.0 - pow(c.b2, (double)opt->step);
    c.step_size = (float)(c.lr / bc1);
    c.inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    for (int k = 0; k < model->n_tensors; k++)
        step_tensor(opt, &c, &model->tensor[k], k, g);
}

static const char optimizer_magic[8] = {'M', 'E', 'L', 'O', 'P', 'T', '0', '1'};

int melon_optimizer_save(const melon_optimizer *opt, FILE *f,
                         melon_err *err) {
    int32_t header[2] = {(int32_t)opt->cfg.kind, opt->n_tensors};
    int ok = fwrite(optimizer_magic, 1, 8, f) == 8 &&
             fwrite(header, sizeof header, 1, f) == 1 &&
             fwrite(&opt->step, sizeof opt->step, 1, f) == 1;
    for (int k = 0; ok && k < opt->n_tensors && opt->m[k]; k++) {
        uint64_t size = opt->size[k];
        ok = fwrite(&size, sizeof size, 1, f) == 1 &&
             fwrite(opt->m[k], sizeof(float), size, f) == size &&
             fwrite(opt->v[k], sizeof(float), size, f) == size;
    }
    if (!ok) return melon_fail(err, "cannot write optimizer state");
    return 0;
}

int melon_optimizer_load(melon_optimizer *opt, FILE *f, melon_err *err) {
    char magic[8];
    int32_t header[2];
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, optimizer_magic, 8) != 0 ||
        fread(header, sizeof header, 1, f) != 1 ||
        fread(&opt->step, sizeof opt->step, 1, f) != 1)
        return melon_fail(err, "optimizer state: bad or truncated header");
    if (header[0] != (int32_t)opt->cfg.kind || header[1] != opt->n_tensors)
        return melon_fail(err, "optimizer state: saved for another optimizer "
                               "or model");
    for (int k = 0; k < opt->n_tensors && opt->m[k]; k++) {
        uint64_t size;
        if (fread(&size, sizeof size, 1, f) != 1 || size != opt->size[k])
            return melon_fail(err, "optimizer state: tensor %d has another "
                                   "size", k);
        if (fread(opt->m[k], sizeof(float), size, f) != size ||
            fread(opt->v[k], sizeof(float), size, f) != size)
            return melon_fail(err, "optimizer state: truncated");
    }
    return 0;
}
