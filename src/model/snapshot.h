/* Saves and restores the part of a model a trial update changes: the table
 * rows a set of triples touched (taken from a sparse gradient's row lists)
 * and every dense tensor. Meta steps write trial values into the model,
 * score the query set, then restore (update-strategies.md section 2). */
#ifndef MELON_SNAPSHOT_H
#define MELON_SNAPSHOT_H

#include "model/grad.h"
#include "melon/model.h"

typedef struct {
    int n_tensors;
    int32_t n_rows[MELON_MAX_TENSORS];
    int32_t *rows[MELON_MAX_TENSORS];
    float *values[MELON_MAX_TENSORS];
} melon_snapshot;

/* Sized for the row lists of a sparse gradient of up to max_triples. */
int melon_snapshot_init(melon_snapshot *snap, const melon_model *m,
                        int max_triples, melon_err *err);
void melon_snapshot_free(melon_snapshot *snap);
void melon_snapshot_save(melon_snapshot *snap, const melon_model *m,
                         const melon_sparse_grad *touched);
void melon_snapshot_restore(const melon_snapshot *snap, melon_model *m);

#endif
