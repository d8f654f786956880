/* The parameters of a meta-model (MeLON, MWNet, ...): named blocks of
 * floats, each with its gradient, trained by Adam with the reference's L2
 * rule (update-strategies.md A.3 item 11: L2 added to the gradient of every
 * block marked `decay`). */
#ifndef MELON_META_PARAMS_H
#define MELON_META_PARAMS_H

#include "melon/common.h"

#include <stdio.h>

#define MELON_MAX_META_BLOCKS 48

typedef struct {
    const char *name;
    float *value;
    float *grad;
    size_t size;
    int decay;
} melon_meta_block;

typedef struct {
    float lr;       /* 1e-3 */
    float l2;       /* 0 */
    float beta1;    /* 0.9 */
    float beta2;    /* 0.999 */
    float eps;      /* 1e-8 */
    float clip;     /* clip each gradient entry to [-clip, clip]; 0 = off */
} melon_meta_adam_config;

void melon_meta_adam_config_default(melon_meta_adam_config *cfg);

typedef struct {
    int n_blocks;
    melon_meta_block block[MELON_MAX_META_BLOCKS];
    float *m[MELON_MAX_META_BLOCKS];
    float *v[MELON_MAX_META_BLOCKS];
    long step;
    melon_meta_adam_config cfg;
} melon_meta_params;

void melon_meta_params_init(melon_meta_params *mp,
                            const melon_meta_adam_config *cfg);
/* Adds a zeroed block and returns its values (NULL on failure). */
float *melon_meta_params_add(melon_meta_params *mp, const char *name,
                             size_t size, int decay, melon_err *err);
/* Block k grows to `size` entries (room for `room`, so that growing with a
 * table stays amortised): the new entries' values, gradients and Adam
 * moments start at zero. */
int melon_meta_params_grow(melon_meta_params *mp, int k, size_t size,
                           size_t room, melon_err *err);
melon_meta_block *melon_meta_params_find(melon_meta_params *mp,
                                         const char *name);
size_t melon_meta_params_count(const melon_meta_params *mp);
void melon_meta_params_zero_grad(melon_meta_params *mp);
/* One Adam step along the blocks' gradients. */
void melon_meta_params_step(melon_meta_params *mp);

/* The pieces of that step, for updates of chosen entries (lazy Adam):
 * the bias corrections of step t, step_size = lr / (1 - beta1^t) and
 * 1 / sqrt(1 - beta2^t); then Adam on n entries of a block (gradient
 * clipped as c says, plus l2 times the value). */
void melon_meta_adam_corrections(const melon_meta_adam_config *c, long step,
                                 float *step_size, float *inv_sqrt_bc2);
void melon_meta_adam_entries(long n, float *value, const float *grad,
                             float *m, float *v, const melon_meta_adam_config *c,
                             float l2, float step_size, float inv_sqrt_bc2);
void melon_meta_params_free(melon_meta_params *mp);

/* Values and Adam state, with names and sizes checked on load. */
int melon_meta_params_save(const melon_meta_params *mp, FILE *f,
                           melon_err *err);
int melon_meta_params_load(melon_meta_params *mp, FILE *f, melon_err *err);

#endif
