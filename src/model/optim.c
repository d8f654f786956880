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

/* One Adam update of n coordinates; grad may be NULL (a zero gradient). */
static void adam_span(const melon_optimizer *opt, float *restrict theta,
                      float *restrict m, float *restrict v,
                      const float *restrict grad, int n, int decay) {
    const float l2 = decay ? opt->cfg.l2 : 0.0f;
    const float b1 = opt->cfg.beta1, b2 = opt->cfg.beta2;
    const float step = opt->step_size, inv_bc2 = opt->inv_sqrt_bc2;
    const float eps = opt->cfg.eps;
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

/* Moves coordinates [off, off + n) of tensor k along grad (NULL: zero). */
static void step_span(const melon_optimizer *opt, melon_tensor *t, int k,
                      size_t off, const float *grad, int n) {
    if (opt->cfg.kind == MELON_OPT_ADAM)
        adam_span(opt, t->value + off, opt->m[k] + off, opt->v[k] + off, grad,
                  n, t->decay);
    else
        sgd_span(opt->lr_now, opt->cfg.l2, t->value + off, grad, n, t->decay);
}

void melon_optimizer_begin(melon_optimizer *opt, float scale) {
    opt->step++;
    opt->lr_now = opt->cfg.lr * scale;
    double bc1 = 1.0 - pow(opt->cfg.beta1, (double)opt->step);
    double bc2 = 1.0 - pow(opt->cfg.beta2, (double)opt->step);
    opt->step_size = (float)(opt->lr_now / bc1);
    opt->inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
}

void melon_optimizer_step_rows(const melon_optimizer *opt, melon_model *model,
                               const melon_sparse_grad *g, int k, int a0,
                               int a1) {
    melon_tensor *t = &model->tensor[k];
    size_t cols = (size_t)t->cols, off = (size_t)a0 * cols;
    if (a1 > a0) step_span(opt, t, k, off, g->grad[k] + off, (a1 - a0) * t->cols);
}

/* A table's rows: every row (dense semantics) or only the touched ones. */
static void step_table(const melon_optimizer *opt, melon_tensor *t, int k,
                       const melon_sparse_grad *g) {
    int cols = t->cols;
    if (opt->cfg.dense) {
        for (int32_t row = 0; row < t->rows; row++) {
            int32_t at = g->row_index[k][row];
            const float *grad = at >= 0 ? g->grad[k] + (size_t)at * cols : NULL;
            step_span(opt, t, k, (size_t)row * cols, grad, cols);
        }
        return;
    }
    for (int32_t at = 0; at < g->n_rows[k]; at++)
        step_span(opt, t, k, (size_t)g->rows[k][at] * cols,
                  g->grad[k] + (size_t)at * cols, cols);
}

void melon_optimizer_step_tables(const melon_optimizer *opt,
                                 melon_model *model,
                                 const melon_sparse_grad *g) {
    for (int k = 0; k < model->n_tensors; k++)
        if (model->tensor[k].kind != MELON_DENSE)
            step_table(opt, &model->tensor[k], k, g);
}

void melon_optimizer_step(melon_optimizer *opt, melon_model *model,
                          const melon_sparse_grad *g, float scale) {
    melon_optimizer_begin(opt, scale);
    for (int k = 0; k < model->n_tensors; k++)
        if (model->tensor[k].kind == MELON_DENSE)
            melon_optimizer_step_rows(opt, model, g, k, 0,
                                      model->tensor[k].rows);
    melon_optimizer_step_tables(opt, model, g);
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
