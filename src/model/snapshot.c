#include "model/snapshot.h"

#include <stdlib.h>
#include <string.h>

int melon_snapshot_init(melon_snapshot *snap, const melon_model *m,
                        int max_triples, melon_err *err) {
    memset(snap, 0, sizeof *snap);
    snap->n_tensors = m->n_tensors;
    size_t max_rows = 2 * (size_t)max_triples;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        size_t rows = t->kind == MELON_DENSE ? (size_t)t->rows : max_rows;
        snap->values[k] = melon_alloc(rows * (size_t)t->cols * sizeof(float), err);
        snap->rows[k] = melon_alloc(rows * sizeof(int32_t), err);
        if (!snap->values[k] || !snap->rows[k]) {
            melon_snapshot_free(snap);
            return -1;
        }
    }
    return 0;
}

void melon_snapshot_free(melon_snapshot *snap) {
    for (int k = 0; k < MELON_MAX_TENSORS; k++) {
        free(snap->values[k]);
        free(snap->rows[k]);
    }
    memset(snap, 0, sizeof *snap);
}

void melon_snapshot_save(melon_snapshot *snap, const melon_model *m,
                         const melon_sparse_grad *touched) {
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        size_t cols = (size_t)t->cols;
        if (t->kind == MELON_DENSE) {
            memcpy(snap->values[k], t->value, (size_t)t->rows * cols * sizeof(float));
            snap->n_rows[k] = t->rows;
            continue;
        }
        snap->n_rows[k] = touched->n_rows[k];
        for (int32_t a = 0; a < touched->n_rows[k]; a++) {
            int32_t row = touched->rows[k][a];
            snap->rows[k][a] = row;
            memcpy(snap->values[k] + (size_t)a * cols,
                   t->value + (size_t)row * cols, cols * sizeof(float));
        }
    }
}

void melon_snapshot_restore(const melon_snapshot *snap, melon_model *m) {
    for (int k = 0; k < m->n_tensors; k++) {
        melon_tensor *t = &m->tensor[k];
        size_t cols = (size_t)t->cols;
        if (t->kind == MELON_DENSE) {
            memcpy(t->value, snap->values[k], (size_t)t->rows * cols * sizeof(float));
            continue;
        }
        for (int32_t a = 0; a < snap->n_rows[k]; a++)
            memcpy(t->value + (size_t)snap->rows[k][a] * cols,
                   snap->values[k] + (size_t)a * cols, cols * sizeof(float));
    }
}
