/* Aggregated (weighted) gradients of a batch, sparse over table rows. */
#ifndef MELON_GRAD_H
#define MELON_GRAD_H

#include "melon/model.h"

/* For a table tensor: the distinct rows the batch touched (in order of first
 * touch) and one gradient row each. For a dense tensor: the full gradient. */
typedef struct {
    int n_tensors;
    int32_t n_rows[MELON_MAX_TENSORS];
    int32_t *rows[MELON_MAX_TENSORS];       /* [capacity rows] */
    int32_t *row_index[MELON_MAX_TENSORS];  /* [tensor rows], -1 = untouched */
    int32_t index_rows[MELON_MAX_TENSORS];  /* entries of row_index set */
    int32_t index_room[MELON_MAX_TENSORS];  /* entries it has room for */
    float *grad[MELON_MAX_TENSORS];
    int32_t *count[MELON_MAX_TENSORS];      /* slots that looked a row up */
    float *pair_weight;                     /* scratch [2 * max_triples] */
    float *pair_buffer;                     /* scratch for dense products: a
                                               [2n][rows] part per tensor */
} melon_sparse_grad;

int melon_sparse_grad_init(melon_sparse_grad *g, const melon_model *m,
                           int max_triples, melon_err *err);
void melon_sparse_grad_free(melon_sparse_grad *g);

/* The model's tables have grown (melon_model_grow): index their new rows. */
int melon_sparse_grad_grow(melon_sparse_grad *g, const melon_model *m,
                           melon_err *err);

/* out = sum_r weight_r * grad l_r over the n triples of `slots`.
 * weight == NULL means every weight is 1/n (the batch-mean gradient). */
void melon_sparse_grad_accumulate(melon_sparse_grad *out,
                                  const melon_model *m,
                                  const melon_triple *triples,
                                  const melon_grads *slots,
                                  const float *weight);

/* The same, and then done(user, k, a0, a1) for the rows [a0, a1) of each
 * dense tensor k, on the thread that has just computed them (inside the
 * gradient's parallel region), each row once. */
typedef void (*melon_dense_rows_done)(void *user, int k, int a0, int a1);
void melon_sparse_grad_accumulate_then(melon_sparse_grad *out,
                                       const melon_model *m,
                                       const melon_triple *triples,
                                       const melon_grads *slots,
                                       const float *weight,
                                       melon_dense_rows_done done, void *user);

/* Sum of squares of every entry (for tests and diagnostics). */
double melon_sparse_grad_norm2(const melon_sparse_grad *g,
                               const melon_model *m);

#endif
