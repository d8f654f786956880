/* Optimisers of the recommender's parameters: Adam (lazy over touched table
 * rows by default, or PyTorch's dense semantics) and plain SGD, each with L2
 * on the tensors marked `decay`. */
#ifndef MELON_OPTIM_H
#define MELON_OPTIM_H

#include "model/grad.h"
#include "melon/model.h"
#include "melon/settings.h"

#include <stdio.h>

typedef enum { MELON_OPT_ADAM, MELON_OPT_SGD } melon_optimizer_kind;

typedef struct {
    melon_optimizer_kind kind;
    float lr;
    float l2;        /* added to the gradient of decayed tensors */
    float beta1;     /* 0.9 */
    float beta2;     /* 0.999 */
    float eps;       /* 1e-8 */
    int dense;       /* Adam: move every table row each step (PyTorch) */
} melon_optimizer_config;

/* lr, l2, optimizer, dense-adam (optim_settings.c) */
extern const melon_settings_table melon_optimizer_settings;
void melon_optimizer_config_default(melon_optimizer_config *cfg);

typedef struct {
    melon_optimizer_config cfg;
    int n_tensors;
    float *m[MELON_MAX_TENSORS];   /* first moments (Adam) */
    float *v[MELON_MAX_TENSORS];   /* second moments (Adam) */
    size_t size[MELON_MAX_TENSORS];
    size_t room[MELON_MAX_TENSORS];  /* floats m[k] and v[k] have room for */
    long step;
    /* the current step's (melon_optimizer_begin): learning rate, Adam's
     * lr / (1 - beta1^t) and 1 / sqrt(1 - beta2^t) */
    float lr_now, step_size, inv_sqrt_bc2;
} melon_optimizer;

int melon_optimizer_init(melon_optimizer *opt, const melon_model *model,
                         const melon_optimizer_config *cfg, melon_err *err);
void melon_optimizer_free(melon_optimizer *opt);

/* The model's tables have grown (melon_model_grow): the moments of the new
 * rows start at zero. */
int melon_optimizer_grow(melon_optimizer *opt, const melon_model *model,
                         melon_err *err);

/* One step along g. `scale` multiplies the learning rate (1 normally). */
void melon_optimizer_step(melon_optimizer *opt, melon_model *model,
                          const melon_sparse_grad *g, float scale);

/* The same step in parts, for a caller that moves each dense row on the
 * thread that computed its gradient: melon_optimizer_begin once, then
 * every dense tensor's rows exactly once (melon_optimizer_step_rows, from
 * any thread) and the tables (melon_optimizer_step_tables). */
void melon_optimizer_begin(melon_optimizer *opt, float scale);
void melon_optimizer_step_rows(const melon_optimizer *opt, melon_model *model,
                               const melon_sparse_grad *g, int k, int a0,
                               int a1);
void melon_optimizer_step_tables(const melon_optimizer *opt,
                                 melon_model *model,
                                 const melon_sparse_grad *g);

int melon_optimizer_save(const melon_optimizer *opt, FILE *f, melon_err *err);
int melon_optimizer_load(melon_optimizer *opt, FILE *f, melon_err *err);

#endif
