/* The prequential replay spread over the processes of an MPI job
 * (docs/scale.md): `mpirun -np R melon run --distributed ...`.
 *
 * Every process reads the stream and keeps the pair index (negatives); the
 * model's user and item rows, with their optimiser state, are hash-sharded
 * across the processes. Per batch, the processes exchange the rows a batch
 * touches and the gradients for them, and each owner updates its rows, so
 * the per-batch metrics equal those of a single process for the same seed.
 * Default fine-tuning on models made only of embedding tables (BPR-MF). */
#ifndef MELON_DIST_H
#define MELON_DIST_H

#include "eval/config.h"
#include "eval/runner.h"

/* Starts MPI, runs cfg's protocol across MPI_COMM_WORLD and stops MPI.
 * Every process returns the same status; *is_root is 1 on rank 0 only,
 * whose res holds the result (the others' res is empty). On failure,
 * err has the reason on rank 0. */
int melon_dist_run(const melon_config *cfg, melon_run_result *res,
                   int *is_root, melon_err *err);

#endif
