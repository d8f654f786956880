/* Evaluation of an online batch across processes (docs/scale.md).
 *
 * Rank 0 runs the library's own evaluator (negatives, ranks, lists,
 * metrics) on a model whose `score` asks the processes: the pairs to score
 * go to the owners of their items, which score them with the model's own
 * `score` on their item rows and the batch's user rows (every process
 * receives those first), and send the scores back. Scores travel, rows do
 * not; the evaluator sees exactly the scores a single process computes. */
#include "dist_internal.h"

#include <string.h>

enum { SCORES_DONE = 0, SCORES_NEXT = 1, SCORES_FAILED = -1 };

/* Every process gets the rows of the batch's users, grouped by owner;
 * ds->user_at gives a user's row in the view. Returns how many users. */
static int share_user_rows(dist_state *ds, size_t begin, size_t end) {
    const melon_shard_map *users = &ds->users;
    int R = ds->n_ranks, me = ds->rank, width = ds->user_width;
    uint64_t stamp = ++ds->stamp;
    int n_users = 0;
    for (size_t p = begin; p < end; p++) {
        int32_t u = ds->stream->user[p];
        if (ds->user_stamp[u] == stamp) continue;
        ds->user_stamp[u] = stamp;
        ds->rows[n_users++] = u;
    }
    melon_dist_group_by_owner(ds->rows, n_users, users, R, ds->recv_counts,
                              ds->cursor, ds->rows_sorted);
    for (int a = 0; a < n_users; a++) ds->user_at[ds->rows_sorted[a]] = a;
    melon_dist_displs(ds->recv_counts, R, width, ds->recv_counts,
                      ds->recv_displs);
    int first = ds->recv_displs[me] / width;
    int n_mine = ds->recv_counts[me] / width;
    for (int a = 0; a < n_mine; a++)
        melon_dist_pack_row(&ds->shard, MELON_USER_TABLE,
                            users->local[ds->rows_sorted[first + a]],
                            ds->send_f + (size_t)a * width);
    melon_dist_allgatherv(ds, ds->send_f, n_mine * width, ds->recv_f,
                          ds->recv_counts, ds->recv_displs, MPI_FLOAT);
    melon_dist_unpack_rows(ds, MELON_USER_TABLE, ds->recv_f, n_users, width);
    return n_users;
}

/* One round of scoring: rank 0 asks for the scores of n (user, item)
 * pairs (the others pass none); every process scores the pairs whose item
 * it owns. out (rank 0) gets the scores in pair order. */
static void score_round(dist_state *ds, const int32_t *users,
                        const int32_t *items, int n, float *out) {
    const melon_shard_map *owners = &ds->items;
    int R = ds->n_ranks;
    memset(ds->send_counts, 0, (size_t)R * sizeof(int));
    for (int q = 0; q < n; q++) {
        ds->dest[q] = owners->owner[items[q]];
        ds->send_counts[ds->dest[q]]++;
    }
    melon_dist_displs(ds->send_counts, R, 1, ds->send_counts, ds->send_displs);
    memcpy(ds->cursor, ds->send_displs, (size_t)R * sizeof(int));
    for (int q = 0; q < n; q++) {
        int at = ds->cursor[ds->dest[q]]++;
        ds->send_i[2 * at] = ds->user_at[users[q]];
        ds->send_i[2 * at + 1] = owners->local[items[q]];
    }
    melon_dist_alltoall_counts(ds, ds->send_counts, ds->recv_counts);
    int n_in = melon_dist_displs(ds->recv_counts, R, 1, ds->recv_counts,
                                 ds->recv_displs);
    melon_dist_displs(ds->send_counts, R, 2, ds->pair_counts,
                      ds->pair_displs);
    melon_dist_displs(ds->recv_counts, R, 2, ds->in_pair_counts,
                      ds->in_pair_displs);
    melon_dist_alltoallv(ds, ds->send_i, ds->pair_counts, ds->pair_displs,
                         ds->recv_i, ds->in_pair_counts, ds->in_pair_displs,
                         MPI_INT);
    for (int a = 0; a < n_in; a++) {
        ds->score_users[a] = ds->recv_i[2 * a];
        ds->score_items[a] = ds->recv_i[2 * a + 1];
    }
    melon_model view;
    melon_dist_view(ds, MELON_USER_TABLE, ds->n_batch_users, &view);
    if (n_in > 0)
        view.ops->score(&view, ds->score_users, ds->score_items,
                        (size_t)n_in, ds->scores);
    melon_dist_alltoallv(ds, ds->scores, ds->recv_counts, ds->recv_displs,
                         ds->recv_f, ds->send_counts, ds->send_displs,
                         MPI_FLOAT);
    memcpy(ds->cursor, ds->send_displs, (size_t)R * sizeof(int));
    for (int q = 0; q < n; q++) out[q] = ds->recv_f[ds->cursor[ds->dest[q]]++];
}

static void bcast_step(dist_state *ds, int *step) {
    MPI_Bcast(step, 1, MPI_INT, 0, ds->comm);
}

/* The `score` of rank 0's remote model. */
static void remote_score(melon_model *m, const int32_t *users,
                         const int32_t *items, size_t n, float *out) {
    dist_state *ds = m->impl;
    int step = SCORES_NEXT;
    bcast_step(ds, &step);
    score_round(ds, users, items, (int)n, out);
}

static const melon_model_ops remote_ops = {
    .name = "remote",
    .score = remote_score,
};

int melon_dist_evaluate(dist_state *ds, size_t batch, size_t begin,
                        size_t end, melon_err *err) {
    ds->n_batch_users = share_user_rows(ds, begin, end);
    int step;
    if (ds->rank != 0) {
        for (;;) {
            bcast_step(ds, &step);
            if (step != SCORES_NEXT) break;
            score_round(ds, NULL, NULL, 0, NULL);
        }
        return step == SCORES_DONE
                   ? 0
                   : melon_fail(err, "rank 0 could not evaluate batch %zu",
                                batch);
    }
    melon_model remote = ds->shard;
    remote.ops = &remote_ops;
    remote.impl = ds;
    int rc = melon_evaluate_batch(&ds->evaluator, &remote, ds->stream,
                                  &ds->pairs, &ds->history, ds->cfg->run.seed,
                                  batch, begin, end, err);
    step = rc == 0 ? SCORES_DONE : SCORES_FAILED;
    bcast_step(ds, &step);
    return rc;
}
