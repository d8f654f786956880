/* Shared by the model implementations (not part of the public API). */
#ifndef MELON_MODEL_INTERNAL_H
#define MELON_MODEL_INTERNAL_H

#include "melon/model.h"

#include <stddef.h>

/* Constructors, one per model, dispatched by melon_model_create. They are
 * called with n_users, n_items, cfg and max_triples already set and add
 * their tensors with melon_model_add_tensor. */
int melon_bpr_create(melon_model *m, melon_err *err);
int melon_ncf_create(melon_model *m, melon_err *err);
int melon_pop_create(melon_model *m, melon_err *err);

/* pop's item counts: state beyond the tensors that files and copies keep. */
void *melon_pop_state(const melon_model *m, size_t *bytes);

/* Appends a tensor of rows x cols floats drawn from normal(0, init_std^2),
 * from a random stream of its own (seed, tensor index): each tensor's values
 * depend only on the seed and its position, not on the other tensors. */
int melon_model_add_tensor(melon_model *m, const char *name,
                           melon_tensor_kind kind, int rows, int cols,
                           int decay, melon_err *err);
/* The same with normal(0, std^2) instead of init_std. */
int melon_model_add_tensor_std(melon_model *m, const char *name,
                               melon_tensor_kind kind, int rows, int cols,
                               int decay, float std, melon_err *err);

/* Model-specific state beyond the tensors (NULL and 0 when there is none). */
void *melon_model_state(const melon_model *m, size_t *bytes);

/* Aborts with a message when a forward_backward call exceeds the capacity
 * of the model or of the slot buffers (a caller bug, not bad data). */
void melon_check_triples(const melon_model *m, int n, const melon_grads *g);

#endif
