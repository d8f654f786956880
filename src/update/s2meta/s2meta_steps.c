/* S2Meta's inner steps over a set of coordinates, and the meta-gradient of
 * the recorded steps (update-strategies.md B.5, "Meta-gradient in the
 * original": first-order — the support gradients, the LSTM inputs and the
 * loss are constants; the chain theta^(k+1) = fg^(k) theta^(k) - lr^(k) g~
 * is kept through fg theta, and the LSTM state is back-propagated through
 * the steps).
 *
 * Coordinates never interact in this chain, so the backward works chunk by
 * chunk: it replays a chunk's K forward steps from the recorded theta^(k)
 * and g~^(k) (keeping every step's activations for that chunk only), then
 * runs back through them. A one-step trial keeps the activations of its
 * first chunks (as many as S2META_KEPT_BYTES holds), which then need no
 * replay. */
#include "s2meta.h"

#include <omp.h>
#include <string.h>

/* Cuts the rows [0, n_rows) (or [0, n_first)) of every tensor of the set
 * into chunks of whole rows and about S2META_CHUNK coordinates. */
static int build_chunks(s2meta_state *st, const melon_model *m,
                        const s2meta_set *set, int first_rows_only) {
    int n = 0;
    for (int k = 0; k < set->n_tensors; k++) {
        int cols = m->tensor[k].cols;
        int per = S2META_CHUNK / cols > 0 ? S2META_CHUNK / cols : 1;
        int32_t end = first_rows_only ? set->n_first[k] : set->n_rows[k];
        for (int32_t a = 0; a < end; a += per) {
            st->chunks[n].tensor = k;
            st->chunks[n].first = a;
            st->chunks[n].last = a + per < end ? a + per : end;
            n++;
        }
    }
    return n;
}

/* The first coordinate's state of a row of the set, [2H] per coordinate. */
static float *state_row(const s2meta_state *st, s2meta_state_view v,
                        const s2meta_set *set, int k, int32_t idx,
                        int32_t row, int cols) {
    size_t two_h = 2 * (size_t)st->layout.hidden;
    if (v.kind == S2META_STATE_SET)
        return v.values + (set->base[k] + (size_t)idx * cols) * two_h;
    return v.values + (st->carry_base[k] + (size_t)row * cols) * two_h;
}

/* Copies the incoming states of a chunk's coordinates into the record
 * (feature-major): hidden into xh's last H rows, cell into c_in. A row
 * without a carried state starts from the cell's learned (h0, c0). */
static void gather_state(const s2meta_state *st, const float *p,
                         const s2meta_set *set, const s2meta_chunk *ch,
                         int cols, s2meta_state_view in, s2meta_record *rec) {
    int H = st->layout.hidden;
    size_t ld = (size_t)rec->ld;
    float *h_rows = rec->xh + S2META_INPUTS * ld;
    int k = ch->tensor, a = 0;
    for (int32_t idx = ch->first; idx < ch->last; idx++) {
        int32_t row = set->rows[k][idx];
        int fresh = in.kind == S2META_STATE_MODEL && !st->carried[k][row];
        const float *src = state_row(st, in, set, k, idx, row, cols);
        for (int c = 0; c < cols; c++, a++) {
            const float *h = fresh ? p + st->layout.h0 : src + (size_t)c * 2 * H;
            const float *cc = fresh ? p + st->layout.c0 : h + H;
            for (int b = 0; b < H; b++) {
                h_rows[(size_t)b * ld + a] = h[b];
                rec->c_in[(size_t)b * ld + a] = cc[b];
            }
        }
    }
}

/* Chunks [c0, c1) of the calling thread among n_chunks. */
static void thread_chunks(int n_chunks, int *c0, int *c1) {
    int threads = omp_get_num_threads(), t = omp_get_thread_num();
    *c0 = (int)((long)n_chunks * t / threads);
    *c1 = (int)((long)n_chunks * (t + 1) / threads);
}

static void forward_chunk(s2meta_state *st, melon_model *m,
                          const s2meta_set *set, const s2meta_chunk *ch,
                          const melon_sparse_grad *grad, float loss_rho1,
                          s2meta_state_view in, s2meta_state_view out,
                          float *record, s2meta_record *rec, s2meta_work *w) {
    int k = ch->tensor, H = st->layout.hidden;
    melon_tensor *t = &m->tensor[k];
    int cols = t->cols;
    const float *p = st->params.block[k].value;
    int n = 0;
    for (int32_t idx = ch->first; idx < ch->last; idx++, n += cols) {
        int32_t row = set->rows[k][idx];
        memcpy(rec->theta + n, t->value + (size_t)row * cols, (size_t)cols * sizeof(float));
        int32_t at = grad->row_index[k][row];
        if (at >= 0)
            memcpy(rec->grad + n, grad->grad[k] + (size_t)at * cols,
                   (size_t)cols * sizeof(float));
        else
            memset(rec->grad + n, 0, (size_t)cols * sizeof(float));
    }
    int shared = in.kind == S2META_STATE_SHARED;
    if (!shared) gather_state(st, p, set, ch, cols, in, rec);
    s2meta_lstm_forward(&st->layout, p, n, loss_rho1, shared, rec, w->theta_out);
    n = 0;
    for (int32_t idx = ch->first; idx < ch->last; idx++, n += cols) {
        int32_t row = set->rows[k][idx];
        memcpy(t->value + (size_t)row * cols, w->theta_out + n, (size_t)cols * sizeof(float));
        if (record) {
            float *r = record + 2 * (set->base[k] + (size_t)idx * cols);
            for (int c = 0; c < cols; c++) {
                r[2 * c] = rec->theta[n + c];
                r[2 * c + 1] = rec->grad[n + c];
            }
        }
        if (out.values) {
            float *dst = state_row(st, out, set, k, idx, row, cols);
            size_t ld = (size_t)rec->ld;
            for (int c = 0; c < cols; c++)
                for (int b = 0; b < H; b++) {
                    dst[(size_t)c * 2 * H + b] = rec->y[(size_t)b * ld + n + c];
                    dst[(size_t)c * 2 * H + H + b] = rec->cell[(size_t)b * ld + n + c];
                }
        }
    }
}

void s2meta_step_set(s2meta_state *st, melon_model *m, const s2meta_set *set,
                     const melon_sparse_grad *grad, float loss_rho1,
                     s2meta_state_view in, s2meta_state_view out,
                     float *record, int keep) {
    int n_chunks = build_chunks(st, m, set, 0);
#pragma omp parallel num_threads(st->n_threads)
    {
        int c0, c1;
        thread_chunks(n_chunks, &c0, &c1);
        s2meta_work *w = &st->work[omp_get_thread_num()];
        for (int c = c0; c < c1; c++) {
            s2meta_record *rec = keep && c < st->n_kept ? &st->kept[c] : &w->rec[0];
            forward_chunk(st, m, set, &st->chunks[c], grad, loss_rho1, in,
                          out, record, rec, w);
        }
    }
}

/* Replays the K recorded steps of a chunk (unless a one-step trial kept
 * its activations), then back-propagates the query gradient G through them
 * into the thread's gradient sums. */
static void backward_chunk(s2meta_state *st, const melon_model *m,
                           const s2meta_set *set, const s2meta_chunk *ch,
                           int chunk, s2meta_state_view initial,
                           s2meta_work *w) {
    const s2meta_layout *l = &st->layout;
    int K = st->trial_steps, H = l->hidden;
    int k = ch->tensor;
    int cols = m->tensor[k].cols;
    const float *p = st->params.block[k].value;
    float *grad_p = w->grad + (size_t)k * l->size;
    size_t coords = st->trial_set.cap_coords;
    int n = (ch->last - ch->first) * cols;
    size_t first = set->base[k] + (size_t)ch->first * cols;
    s2meta_record *recs[S2META_MAX_STEPS];
    int kept = K == 1 && chunk < st->n_kept;
    for (int s = 0; s < K; s++) recs[s] = kept ? &st->kept[chunk] : &w->rec[s];
    for (int s = 0; s < K && !kept; s++) {
        s2meta_record *rec = recs[s];
        const float *r = st->record + ((size_t)s * coords + first) * 2;
        for (int a = 0; a < n; a++) {
            rec->theta[a] = r[2 * a];
            rec->grad[a] = r[2 * a + 1];
        }
        int shared = s == 0 && initial.kind == S2META_STATE_SHARED;
        if (s == 0 && !shared) {
            gather_state(st, p, set, ch, cols, initial, rec);
        } else if (s > 0) {
            const s2meta_record *prev = &w->rec[s - 1];
            size_t ld = (size_t)rec->ld;
            for (int b = 0; b < H; b++) {
                memcpy(rec->xh + (S2META_INPUTS + b) * ld, prev->y + b * ld,
                       (size_t)n * sizeof(float));
                memcpy(rec->c_in + b * ld, prev->cell + b * ld,
                       (size_t)n * sizeof(float));
            }
        }
        s2meta_lstm_forward(l, p, n, st->loss_rho[s], shared, rec, w->theta_out);
    }
    /* upstream: G on the trial rows (zero where the query does not look) */
    const melon_meta_trial *t = &st->trial;
    for (int32_t idx = ch->first, a = 0; idx < ch->last; idx++, a += cols) {
        const float *g = melon_meta_trial_g_row(t, k, set->rows[k][idx]);
        if (g)
            memcpy(w->d_theta + a, g, (size_t)cols * sizeof(float));
        else
            memset(w->d_theta + a, 0, (size_t)cols * sizeof(float));
    }
    /* nothing reaches the state after the last step */
    size_t state_floats = (size_t)H * (size_t)recs[0]->ld;
    memset(w->d_h, 0, state_floats * sizeof(float));
    memset(w->d_c, 0, state_floats * sizeof(float));
    for (int s = K - 1; s >= 0; s--) {
        int shared = s == 0 && initial.kind == S2META_STATE_SHARED;
        s2meta_lstm_backward(l, p, n, shared, recs[s], w->d_theta, w->d_h,
                             w->d_c, w->d_theta_in, w->d_h_in, w->d_c_in,
                             grad_p, &w->scratch);
        float *tmp = w->d_theta; w->d_theta = w->d_theta_in; w->d_theta_in = tmp;
        if (!shared) {
            tmp = w->d_h; w->d_h = w->d_h_in; w->d_h_in = tmp;
            tmp = w->d_c; w->d_c = w->d_c_in; w->d_c_in = tmp;
        }
    }
    /* rows starting from the learned (h0, c0): their state gradient is
     * theirs (a carried state is a constant) */
    if (initial.kind == S2META_STATE_MODEL) {
        float *g_h0 = grad_p + l->h0, *g_c0 = grad_p + l->c0;
        size_t ld = (size_t)recs[0]->ld;
        for (int32_t idx = ch->first, a = 0; idx < ch->last; idx++) {
            int fresh = !st->carried[k][set->rows[k][idx]];
            for (int c = 0; c < cols; c++, a++) {
                if (!fresh) continue;
                for (int b = 0; b < H; b++) {
                    g_h0[b] += w->d_h[(size_t)b * ld + a];
                    g_c0[b] += w->d_c[(size_t)b * ld + a];
                }
            }
        }
    }
}

void s2meta_backward_set(s2meta_state *st, const melon_model *m,
                         const s2meta_set *set, s2meta_state_view initial) {
    size_t size = st->layout.size;
    int n_chunks = build_chunks(st, m, set, 1);
    for (int t = 0; t < st->n_threads; t++)
        memset(st->work[t].grad, 0, (size_t)st->n_tensors * size * sizeof(float));
#pragma omp parallel num_threads(st->n_threads)
    {
        int c0, c1;
        thread_chunks(n_chunks, &c0, &c1);
        s2meta_work *w = &st->work[omp_get_thread_num()];
        for (int c = c0; c < c1; c++)
            backward_chunk(st, m, set, &st->chunks[c], c, initial, w);
    }
    /* reduce in thread order */
    for (int k = 0; k < st->n_tensors; k++) {
        float *g = st->params.block[k].grad;
        memset(g, 0, size * sizeof(float));
        for (int t = 0; t < st->n_threads; t++) {
            const float *src = st->work[t].grad + (size_t)k * size;
            for (size_t a = 0; a < size; a++) g[a] += src[a];
        }
    }
}
