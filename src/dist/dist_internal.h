/* State of one process of a distributed replay (not part of the API). */
#ifndef MELON_DIST_INTERNAL_H
#define MELON_DIST_INTERNAL_H

#include "shard.h"

#include "melon/evaluate.h"
#include "model/grad.h"
#include "melon/history.h"
#include "melon/negatives.h"
#include "model/optim.h"
#include "eval/runner.h"

#include <mpi.h>

typedef struct {
    MPI_Comm comm;
    int rank, n_ranks;
    const melon_config *cfg;
    const melon_stream *stream;     /* every process reads the whole stream */
    melon_split split;
    melon_pair_index pairs;         /* replicated: negatives are drawn alike */
    melon_history history;          /* rank 0: for the evaluator */
    melon_evaluator evaluator;      /* rank 0 */
    melon_shard_map users, items;
    melon_model shard;              /* this rank's rows of every table */
    melon_optimizer opt;            /* and their optimiser state */
    melon_sparse_grad grad;         /* gradient rows over the shard */
    melon_grads slots;              /* triples whose user this rank owns */
    melon_rng train_rng;            /* replicated: the same triples */
    int user_width, item_width;     /* floats of a user / item row, over
                                       every user / item table */
    /* one batch, replicated */
    melon_triple *triples;          /* [bs] */
    /* scratch for the exchanges, sized once */
    int *send_counts, *send_displs, *recv_counts, *recv_displs; /* [R] */
    int *cursor;                    /* [2 R] */
    int *pair_counts, *pair_displs, *in_pair_counts, *in_pair_displs;
    int32_t *mine;                  /* [bs] batch triples this rank computes */
    melon_triple *local_triples;    /* [bs] the same, in view rows */
    /* [bs * (negatives + 1)]: the pairs of an evaluation */
    int32_t *rows, *rows_sorted, *dest;
    uint64_t *user_stamp, *item_stamp;  /* [n_users], [n_items] */
    uint64_t stamp;
    int32_t *user_at, *item_at;     /* [n_users], [n_items] view row */
    float *send_f, *recv_f;
    int32_t *send_i, *recv_i;
    float *view_value[MELON_MAX_TENSORS];  /* [2 bs * cols] pulled rows */
    int n_batch_users;              /* user rows in the view */
    int32_t *score_users, *score_items;
    float *scores;
    float *losses;                  /* [bs] rank 0 */
    /* what the exchanges cost this process */
    double exchange_s;              /* seconds inside them (waits too) */
    size_t bytes_sent;              /* to other processes */
    size_t n_exchanges;
} dist_state;

/* One optimiser step of Default on triples[0..n): the owners of the
 * batch's users compute the triples' gradients with the items' rows
 * pulled from their owners, push the item gradients to the owners, and
 * every owner applies the optimiser to its rows. *loss (rank 0) is the
 * batch's mean BPR loss. */
int melon_dist_train_step(dist_state *ds, int n, double *loss);

/* Evaluates interactions [begin, end) of online batch `batch` at the
 * current parameters: rank 0's ds->evaluator holds the result. Fails on
 * every process when rank 0's evaluator fails. */
int melon_dist_evaluate(dist_state *ds, size_t batch, size_t begin,
                        size_t end, melon_err *err);

/* The batch's rows a process needs, grouped by owner: counting sort of
 * rows[0..n) by owner (stable), into out; counts[o] rows from owner o. */
void melon_dist_group_by_owner(const int32_t *rows, int n,
                               const melon_shard_map *map, int n_ranks,
                               int *counts, int *cursor, int32_t *out);

/* The shard with its tables of `kind` replaced by the pulled rows
 * (ds->view_value, `rows` of them): the model's own score and
 * forward_backward then run on rows from other processes. */
void melon_dist_view(const dist_state *ds, melon_tensor_kind kind, int rows,
                     melon_model *view);

/* One row of every table of `kind` of m, concatenated into out. */
void melon_dist_pack_row(const melon_model *m, melon_tensor_kind kind,
                         int32_t row, float *out);
/* n such rows from `in`, into the view's per-table arrays
 * (ds->view_value), row a at row a. */
void melon_dist_unpack_rows(dist_state *ds, melon_tensor_kind kind,
                            const float *in, int n, int width);

/* displs from counts, times `width`; the total. */
int melon_dist_displs(const int *counts, int n, int width, int *scaled,
                      int *displs);

/* The collectives of the replay (exchange.c), timed and counted into
 * ds->exchange_s, bytes_sent and n_exchanges. Counts in elements. */
void melon_dist_alltoallv(dist_state *ds, const void *send,
                          const int *send_counts, const int *send_displs,
                          void *recv, const int *recv_counts,
                          const int *recv_displs, MPI_Datatype type);
void melon_dist_alltoall_counts(dist_state *ds, const int *send, int *recv);
void melon_dist_allgatherv(dist_state *ds, const void *send, int n,
                           void *recv, const int *recv_counts,
                           const int *recv_displs, MPI_Datatype type);
/* To rank 0. */
void melon_dist_gatherv(dist_state *ds, const void *send, int n, void *recv,
                        const int *recv_counts, const int *recv_displs,
                        MPI_Datatype type);

#endif
