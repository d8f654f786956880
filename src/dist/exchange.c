/* The exchanges of a distributed replay, each timed and its bytes to
 * other processes counted (the figures docs/scale.md's cost model uses). */
#include "dist_internal.h"

#include <string.h>

void melon_dist_group_by_owner(const int32_t *rows, int n,
                               const melon_shard_map *map, int n_ranks,
                               int *counts, int *cursor, int32_t *out) {
    memset(counts, 0, (size_t)n_ranks * sizeof *counts);
    for (int a = 0; a < n; a++) counts[map->owner[rows[a]]]++;
    melon_dist_displs(counts, n_ranks, 1, cursor, cursor);
    for (int a = 0; a < n; a++) out[cursor[map->owner[rows[a]]]++] = rows[a];
}

int melon_dist_displs(const int *counts, int n, int width, int *scaled,
                      int *displs) {
    int total = 0;
    for (int o = 0; o < n; o++) {
        int count = counts[o] * width;
        scaled[o] = count;
        displs[o] = total;
        total += count;
    }
    return total;
}

static void count(dist_state *ds, double since, size_t bytes) {
    ds->exchange_s += melon_now() - since;
    ds->bytes_sent += bytes;
    ds->n_exchanges++;
}

static size_t type_size(MPI_Datatype type) {
    int size = 0;
    MPI_Type_size(type, &size);
    return (size_t)size;
}

void melon_dist_alltoallv(dist_state *ds, const void *send,
                          const int *send_counts, const int *send_displs,
                          void *recv, const int *recv_counts,
                          const int *recv_displs, MPI_Datatype type) {
    double t0 = melon_now();
    MPI_Alltoallv(send, send_counts, send_displs, type, recv, recv_counts,
                  recv_displs, type, ds->comm);
    size_t n = 0;
    for (int o = 0; o < ds->n_ranks; o++)
        if (o != ds->rank) n += (size_t)send_counts[o];
    count(ds, t0, n * type_size(type));
}

void melon_dist_alltoall_counts(dist_state *ds, const int *send, int *recv) {
    double t0 = melon_now();
    MPI_Alltoall(send, 1, MPI_INT, recv, 1, MPI_INT, ds->comm);
    count(ds, t0, (size_t)(ds->n_ranks - 1) * sizeof(int));
}

void melon_dist_allgatherv(dist_state *ds, const void *send, int n,
                           void *recv, const int *recv_counts,
                           const int *recv_displs, MPI_Datatype type) {
    double t0 = melon_now();
    MPI_Allgatherv(send, n, type, recv, recv_counts, recv_displs, type,
                   ds->comm);
    count(ds, t0, (size_t)n * (size_t)(ds->n_ranks - 1) * type_size(type));
}

void melon_dist_gatherv(dist_state *ds, const void *send, int n, void *recv,
                        const int *recv_counts, const int *recv_displs,
                        MPI_Datatype type) {
    double t0 = melon_now();
    MPI_Gatherv(send, n, type, recv, recv_counts, recv_displs, type, 0,
                ds->comm);
    count(ds, t0, ds->rank == 0 ? 0 : (size_t)n * type_size(type));
}
