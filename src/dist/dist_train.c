/* One Default step across processes (docs/scale.md, "A batch over MPI").
 *
 * The gradient of a row must be the single process's to the last bit: the
 * same slot vectors, summed in the same order (the order of the batch's
 * (triple, column) slots), from zero, then the same optimiser arithmetic.
 * So the owner of a triple's user computes the triple with the model's own
 * forward_backward, and the owner of an item adds the slots it receives in
 * slot order. Every process knows the whole batch, so who needs which row
 * from whom follows without asking. */
#include "dist_internal.h"

#include <string.h>

/* The gradient row of a shard row, zeroed when the batch first touches it
 * (as melon_sparse_grad_accumulate does). */
static float *touch_row(melon_sparse_grad *g, int k, int32_t row, int cols) {
    int32_t at = g->row_index[k][row];
    if (at >= 0) return g->grad[k] + (size_t)at * cols;
    at = g->n_rows[k]++;
    g->rows[k][at] = row;
    g->row_index[k][row] = at;
    float *dst = g->grad[k] + (size_t)at * cols;
    memset(dst, 0, (size_t)cols * sizeof *dst);
    return dst;
}

static void forget_rows(melon_sparse_grad *g) {
    for (int k = 0; k < g->n_tensors; k++) {
        for (int32_t at = 0; at < g->n_rows[k]; at++)
            g->row_index[k][g->rows[k][at]] = -1;
        g->n_rows[k] = 0;
    }
}

/* dst += w src: melon_sparse_grad_accumulate's arithmetic. */
static void add_scaled(float *restrict dst, const float *restrict src,
                       float w, int cols) {
    for (int j = 0; j < cols; j++) dst[j] += w * src[j];
}

static int32_t slot_item(const melon_triple *t, int c) {
    return c == 0 ? t->item : t->negative;
}

void melon_dist_pack_row(const melon_model *m, melon_tensor_kind kind,
                     int32_t row, float *out) {
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        if (t->kind != kind) continue;
        memcpy(out, t->value + (size_t)row * t->cols,
               (size_t)t->cols * sizeof *out);
        out += t->cols;
    }
}

void melon_dist_unpack_rows(dist_state *ds, melon_tensor_kind kind,
                        const float *in, int n, int width) {
    for (int a = 0; a < n; a++) {
        const float *src = in + (size_t)a * width;
        for (int k = 0; k < ds->shard.n_tensors; k++) {
            const melon_tensor *t = &ds->shard.tensor[k];
            if (t->kind != kind) continue;
            memcpy(ds->view_value[k] + (size_t)a * t->cols, src,
                   (size_t)t->cols * sizeof *src);
            src += t->cols;
        }
    }
}

/* The shard with its tables of `kind` replaced by the pulled rows. */
void melon_dist_view(const dist_state *ds, melon_tensor_kind kind, int rows,
                     melon_model *view) {
    *view = ds->shard;
    for (int k = 0; k < view->n_tensors; k++)
        if (view->tensor[k].kind == kind) {
            view->tensor[k].value = ds->view_value[k];
            view->tensor[k].rows = rows > 0 ? rows : 1;
        }
}

/* Item rows: each owner sends, to each process, its rows among the items
 * of that process's triples (first use first); returns how many rows this
 * process receives, with ds->item_at set for them. */
static int pull_item_rows(dist_state *ds, int n, const int32_t *by_owner,
                          const int *triple_counts) {
    const melon_shard_map *items = &ds->items;
    int R = ds->n_ranks, me = ds->rank, width = ds->item_width;
    int n_sent = 0, from = 0;
    for (int d = 0; d < R; d++) {
        uint64_t stamp = ++ds->stamp;
        int before = n_sent;
        int n_need = 0;
        for (int a = from; a < from + triple_counts[d]; a++) {
            const melon_triple *t = &ds->triples[by_owner[a]];
            for (int c = 0; c < 2; c++) {
                int32_t item = slot_item(t, c);
                if (ds->item_stamp[item] == stamp) continue;
                ds->item_stamp[item] = stamp;
                if (d == me) ds->rows[n_need++] = item;
                if (items->owner[item] != me) continue;
                melon_dist_pack_row(&ds->shard, MELON_ITEM_TABLE,
                                    items->local[item],
                                    ds->send_f + (size_t)n_sent * width);
                n_sent++;
            }
        }
        ds->send_counts[d] = (n_sent - before) * width;
        if (d == me) {
            melon_dist_group_by_owner(ds->rows, n_need, items, R,
                                      ds->recv_counts, ds->cursor,
                                      ds->rows_sorted);
            for (int a = 0; a < n_need; a++)
                ds->item_at[ds->rows_sorted[a]] = a;
        }
        from += triple_counts[d];
    }
    melon_dist_displs(ds->send_counts, R, 1, ds->send_counts, ds->send_displs);
    int n_rows = 0;
    for (int o = 0; o < R; o++) n_rows += ds->recv_counts[o];
    melon_dist_displs(ds->recv_counts, R, width, ds->recv_counts,
                      ds->recv_displs);
    melon_dist_alltoallv(ds, ds->send_f, ds->send_counts, ds->send_displs,
                         ds->recv_f, ds->recv_counts, ds->recv_displs,
                         MPI_FLOAT);
    melon_dist_unpack_rows(ds, MELON_ITEM_TABLE, ds->recv_f, n_rows, width);
    return n_rows;
}

/* Item slots to the items' owners, in slot order; each owner adds them to
 * its gradient rows in the batch's slot order. */
static void push_item_gradients(dist_state *ds, int n, int n_mine, float w) {
    const melon_shard_map *users = &ds->users, *items = &ds->items;
    int R = ds->n_ranks, me = ds->rank, width = ds->item_width;
    const melon_model *m = &ds->shard;
    memset(ds->send_counts, 0, (size_t)R * sizeof(int));
    for (int i = 0; i < n_mine; i++)
        for (int c = 0; c < 2; c++)
            ds->send_counts[items->owner[slot_item(&ds->triples[ds->mine[i]], c)]]++;
    melon_dist_displs(ds->send_counts, R, width, ds->send_counts,
                      ds->send_displs);
    memcpy(ds->cursor, ds->send_displs, (size_t)R * sizeof(int));
    for (int i = 0; i < n_mine; i++)
        for (int c = 0; c < 2; c++) {
            int o = items->owner[slot_item(&ds->triples[ds->mine[i]], c)];
            float *out = ds->send_f + ds->cursor[o];
            ds->cursor[o] += width;
            for (int k = 0; k < m->n_tensors; k++) {
                const melon_tensor *t = &m->tensor[k];
                if (t->kind != MELON_ITEM_TABLE) continue;
                memcpy(out, ds->slots.slot[k] + (size_t)(2 * i + c) * t->cols,
                       (size_t)t->cols * sizeof *out);
                out += t->cols;
            }
        }
    memset(ds->recv_counts, 0, (size_t)R * sizeof(int));
    for (int p = 0; p < 2 * n; p++) {
        const melon_triple *t = &ds->triples[p / 2];
        if (items->owner[slot_item(t, p % 2)] == me)
            ds->recv_counts[users->owner[t->user]]++;
    }
    melon_dist_displs(ds->recv_counts, R, width, ds->recv_counts,
                      ds->recv_displs);
    melon_dist_alltoallv(ds, ds->send_f, ds->send_counts, ds->send_displs,
                         ds->recv_f, ds->recv_counts, ds->recv_displs,
                         MPI_FLOAT);
    memcpy(ds->cursor, ds->recv_displs, (size_t)R * sizeof(int));
    for (int p = 0; p < 2 * n; p++) {
        const melon_triple *t = &ds->triples[p / 2];
        int32_t item = slot_item(t, p % 2);
        if (items->owner[item] != me) continue;
        int s = users->owner[t->user];
        const float *src = ds->recv_f + ds->cursor[s];
        ds->cursor[s] += width;
        for (int k = 0; k < m->n_tensors; k++) {
            const melon_tensor *tk = &m->tensor[k];
            if (tk->kind != MELON_ITEM_TABLE) continue;
            add_scaled(touch_row(&ds->grad, k, items->local[item], tk->cols),
                       src, w, tk->cols);
            src += tk->cols;
        }
    }
}

/* The batch's mean loss on rank 0, summed in triple order. */
static void gather_losses(dist_state *ds, int n, int n_mine,
                          const int *triple_counts, double *loss) {
    int R = ds->n_ranks;
    melon_dist_displs(triple_counts, R, 1, ds->recv_counts, ds->recv_displs);
    melon_dist_gatherv(ds, ds->slots.loss, n_mine, ds->losses,
                       ds->recv_counts, ds->recv_displs, MPI_FLOAT);
    if (ds->rank != 0) return;
    memcpy(ds->cursor, ds->recv_displs, (size_t)R * sizeof(int));
    double sum = 0.0;
    for (int r = 0; r < n; r++)
        sum += ds->losses[ds->cursor[ds->users.owner[ds->triples[r].user]]++];
    *loss = n ? sum / n : 0.0;
}

int melon_dist_train_step(dist_state *ds, int n, double *loss) {
    const melon_shard_map *users = &ds->users;
    int R = ds->n_ranks, me = ds->rank;
    /* the batch's triples grouped by their user's owner, in batch order */
    int *triple_counts = ds->cursor + R;
    int32_t *by_owner = ds->dest;
    memset(triple_counts, 0, (size_t)R * sizeof(int));
    for (int r = 0; r < n; r++) triple_counts[users->owner[ds->triples[r].user]]++;
    int start = 0;
    for (int o = 0; o < R; o++) {
        ds->recv_displs[o] = start;
        start += triple_counts[o];
    }
    for (int r = 0; r < n; r++)
        by_owner[ds->recv_displs[users->owner[ds->triples[r].user]]++] = r;
    int n_mine = triple_counts[me];
    int mine_at = 0;
    for (int o = 0; o < me; o++) mine_at += triple_counts[o];
    memcpy(ds->mine, by_owner + mine_at, (size_t)n_mine * sizeof(int32_t));

    int n_rows = pull_item_rows(ds, n, by_owner, triple_counts);
    melon_model view;
    melon_dist_view(ds, MELON_ITEM_TABLE, n_rows, &view);
    for (int i = 0; i < n_mine; i++) {
        const melon_triple *t = &ds->triples[ds->mine[i]];
        ds->local_triples[i] = (melon_triple){users->local[t->user],
                                              ds->item_at[t->item],
                                              ds->item_at[t->negative]};
    }
    ds->slots.n = 0;
    if (n_mine > 0)
        view.ops->forward_backward(&view, ds->local_triples, n_mine,
                                   &ds->slots);

    /* the batch-mean gradient (weight 1/n on every slot) */
    float w = n > 0 ? 1.0f / (float)n : 0.0f;
    forget_rows(&ds->grad);
    const melon_model *m = &ds->shard;
    for (int i = 0; i < n_mine; i++)
        for (int c = 0; c < 2; c++)
            for (int k = 0; k < m->n_tensors; k++) {
                const melon_tensor *t = &m->tensor[k];
                if (t->kind != MELON_USER_TABLE) continue;
                add_scaled(touch_row(&ds->grad, k, ds->local_triples[i].user,
                                     t->cols),
                           ds->slots.slot[k] + (size_t)(2 * i + c) * t->cols,
                           w, t->cols);
            }
    push_item_gradients(ds, n, n_mine, w);
    gather_losses(ds, n, n_mine, triple_counts, loss);
    melon_optimizer_step(&ds->opt, &ds->shard, &ds->grad, 1.0f);
    return 0;
}
