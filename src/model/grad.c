/* Weighted batch gradients from slots: sum_r weight_r * grad l_r, where
 * grad l_r is the sum of the triple's two columns (update-strategies.md 1.4,
 * per-triple layout). Table tensors are kept sparse over the rows the batch
 * touched; a dense tensor's gradient is sum_{r,c} weight_r e_rc h_rc^T, one
 * GEMM over the 2n pairs.
 *
 * Dense tensors list every row (rows = 0..rows-1, row_index the identity,
 * count = 2n, every slot reaching every row), so code that walks touched
 * rows also works for them. */
#include "model/grad.h"

#include "nn/nn.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

int melon_sparse_grad_init(melon_sparse_grad *g, const melon_model *m,
                           int max_triples, melon_err *err) {
    memset(g, 0, sizeof *g);
    if (max_triples < 1)
        return melon_fail(err, "sparse gradient: max_triples %d must be >= 1",
                          max_triples);
    g->n_tensors = m->n_tensors;
    size_t pairs = 2 * (size_t)max_triples;
    size_t all_dense_rows = 1;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        size_t rows = (size_t)t->rows, cols = (size_t)t->cols;
        if (t->kind == MELON_DENSE) {
            all_dense_rows += rows;
            g->grad[k] = melon_calloc(rows * cols, sizeof(float), err);
            g->rows[k] = melon_alloc(rows * sizeof(int32_t), err);
            g->row_index[k] = melon_alloc(rows * sizeof(int32_t), err);
            g->count[k] = melon_calloc(rows, sizeof(int32_t), err);
            if (!g->grad[k] || !g->rows[k] || !g->row_index[k] || !g->count[k])
                goto fail;
            for (size_t a = 0; a < rows; a++)
                g->rows[k][a] = g->row_index[k][a] = (int32_t)a;
            g->n_rows[k] = t->rows;
        } else {
            g->grad[k] = melon_calloc(pairs * cols, sizeof(float), err);
            g->rows[k] = melon_alloc(pairs * sizeof(int32_t), err);
            g->row_index[k] = melon_alloc(rows * sizeof(int32_t), err);
            g->count[k] = melon_calloc(pairs, sizeof(int32_t), err);
            if (!g->grad[k] || !g->rows[k] || !g->row_index[k] || !g->count[k])
                goto fail;
            for (size_t a = 0; a < rows; a++) g->row_index[k][a] = -1;
            g->n_rows[k] = 0;
        }
        g->index_rows[k] = g->index_room[k] = t->rows;
    }
    g->pair_weight = melon_alloc(pairs * sizeof(float), err);
    g->pair_buffer = melon_alloc(pairs * all_dense_rows * sizeof(float), err);
    if (!g->pair_weight || !g->pair_buffer) goto fail;
    return 0;
fail:
    melon_sparse_grad_free(g);
    return -1;
}

int melon_sparse_grad_grow(melon_sparse_grad *g, const melon_model *m,
                           melon_err *err) {
    for (int k = 0; k < g->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        if (t->kind == MELON_DENSE || t->rows <= g->index_rows[k]) continue;
        if (t->rows > g->index_room[k]) {
            int32_t *index = realloc(g->row_index[k],
                                     (size_t)t->cap_rows * sizeof *index);
            if (!index)
                return melon_fail(err, "sparse gradient: out of memory for "
                                       "%d rows of '%s'", t->rows, t->name);
            g->row_index[k] = index;
            g->index_room[k] = t->cap_rows;
        }
        for (int32_t a = g->index_rows[k]; a < t->rows; a++)
            g->row_index[k][a] = -1;
        g->index_rows[k] = t->rows;
    }
    return 0;
}

void melon_sparse_grad_free(melon_sparse_grad *g) {
    for (int k = 0; k < MELON_MAX_TENSORS; k++) {
        free(g->rows[k]);
        free(g->row_index[k]);
        free(g->grad[k]);
        free(g->count[k]);
    }
    free(g->pair_weight);
    free(g->pair_buffer);
    memset(g, 0, sizeof *g);
}

/* Scatter-adds weight_r * slot_rc into the row column c looked up. */
static void accumulate_table(melon_sparse_grad *out, int k,
                             const melon_tensor *t,
                             const melon_triple *triples, int n,
                             const float *slot) {
    int cols = t->cols;
    int32_t *rows = out->rows[k];
    int32_t *row_index = out->row_index[k];
    int32_t *count = out->count[k];
    float *grad = out->grad[k];
    /* Forget the previous batch: O(rows it touched). */
    for (int32_t at = 0; at < out->n_rows[k]; at++) row_index[rows[at]] = -1;
    int32_t n_rows = 0;
    for (int p = 0; p < 2 * n; p++) {
        int32_t row = melon_slot_row(t, &triples[p / 2], p % 2);
        int32_t at = row_index[row];
        float *dst;
        if (at < 0) {
            at = n_rows++;
            rows[at] = row;
            row_index[row] = at;
            count[at] = 0;
            dst = grad + (size_t)at * cols;
            memset(dst, 0, (size_t)cols * sizeof(float));
        } else {
            dst = grad + (size_t)at * cols;
        }
        count[at]++;
        float w = out->pair_weight[p];
        const float *src = slot + (size_t)p * cols;
#pragma omp simd
        for (int j = 0; j < cols; j++) dst[j] += w * src[j];
    }
    out->n_rows[k] = n_rows;
}

/* Rows [a0, a1) of a dense tensor's gradient
 *   grad = sum_p weight_p e_p h_p^T = (diag(weight) E)^T H,
 * through `scaled`, the tensor's own [2n][rows] scratch. */
static void dense_rows(melon_sparse_grad *out, int k, const melon_tensor *t,
                       int n, const float *e, const float *h, float *scaled,
                       int a0, int a1) {
    int rows = t->rows, cols = t->cols, n_pairs = 2 * n;
    if (a1 <= a0) return;
    for (int p = 0; p < n_pairs; p++) {
        float w = out->pair_weight[p];
        const float *src = e + (size_t)p * rows;
        float *dst = scaled + (size_t)p * rows;
        for (int a = a0; a < a1; a++) dst[a] = w * src[a];
    }
    melon_linear_backward_weight(n_pairs, cols, a1 - a0, scaled + a0, rows, h,
                                 cols, 0.0f, out->grad[k] + (size_t)a0 * cols,
                                 cols);
}

/* A tensor large enough for threads to pay: its rows are cut between them. */
static int dense_is_split(const melon_tensor *t, int n) {
    return t->rows >= 16 && (long)t->rows * t->cols * 2 * n >= (1L << 20);
}

/* Every dense tensor's gradient in one parallel region (a region's start
 * costs tens of microseconds on a small machine). A tensor worth splitting
 * has its rows cut between the threads (no reduction across threads;
 * OpenBLAS single-threaded inside), a smaller one is one product on one
 * thread. Each tensor has its own part of the scratch, so no thread waits
 * for another between tensors. */
static void accumulate_dense(melon_sparse_grad *out, const melon_model *m,
                             int n, const melon_grads *slots,
                             melon_dense_rows_done done, void *user) {
    int dense = 0, split = 0;
    for (int k = 0; k < m->n_tensors; k++)
        if (m->tensor[k].kind == MELON_DENSE) {
            dense = 1;
            split |= dense_is_split(&m->tensor[k], n);
        }
    if (!dense) return;
#pragma omp parallel if (split)
    {
        int threads = omp_get_num_threads(), th = omp_get_thread_num();
        float *scaled = out->pair_buffer;
        for (int k = 0; k < m->n_tensors; k++) {
            const melon_tensor *t = &m->tensor[k];
            if (t->kind != MELON_DENSE) continue;
            int a0 = 0, a1 = th == 0 ? t->rows : 0;
            if (dense_is_split(t, n)) {
                a0 = (int)((long)t->rows * th / threads);
                a1 = (int)((long)t->rows * (th + 1) / threads);
            }
            dense_rows(out, k, t, n, slots->slot[k], slots->input[k], scaled,
                       a0, a1);
            if (done && a1 > a0) done(user, k, a0, a1);
            scaled += (size_t)2 * n * t->rows;
        }
    }
    for (int k = 0; k < m->n_tensors; k++)
        if (m->tensor[k].kind == MELON_DENSE)
            for (int a = 0; a < m->tensor[k].rows; a++) out->count[k][a] = 2 * n;
}

void melon_sparse_grad_accumulate(melon_sparse_grad *out,
                                  const melon_model *m,
                                  const melon_triple *triples,
                                  const melon_grads *slots,
                                  const float *weight) {
    melon_sparse_grad_accumulate_then(out, m, triples, slots, weight, NULL,
                                      NULL);
}

void melon_sparse_grad_accumulate_then(melon_sparse_grad *out,
                                       const melon_model *m,
                                       const melon_triple *triples,
                                       const melon_grads *slots,
                                       const float *weight,
                                       melon_dense_rows_done done, void *user) {
    int n = slots->n;
    float mean = n > 0 ? 1.0f / (float)n : 0.0f;
    for (int r = 0; r < n; r++) {
        float w = weight ? weight[r] : mean;
        out->pair_weight[2 * r] = w;
        out->pair_weight[2 * r + 1] = w;
    }
    accumulate_dense(out, m, n, slots, done, user);
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        if (t->kind != MELON_DENSE)
            accumulate_table(out, k, t, triples, n, slots->slot[k]);
    }
}

double melon_sparse_grad_norm2(const melon_sparse_grad *g,
                               const melon_model *m) {
    double sum = 0.0;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        size_t size = (size_t)g->n_rows[k] * (size_t)t->cols;
        const float *grad = g->grad[k];
        for (size_t a = 0; a < size; a++) sum += (double)grad[a] * grad[a];
    }
    return sum;
}
