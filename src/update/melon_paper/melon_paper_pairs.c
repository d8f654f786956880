/* The (interaction, parameter) pairs of a call (update-strategies.md A.1,
 * "selective update"): triple r = (u, i, j) touches its user's row of every
 * user table, rows i and j of every item table and every coordinate of
 * every dense tensor. Its per-triple gradient g_{r,m} (section 1.4) is
 *   user row:      slot(r, 0) + slot(r, 1)      (both columns look u up)
 *   item row i, j: slot(r, 0), slot(r, 1)
 *   dense [a][b]:  e_{r0}[a] h_{r0}[b] + e_{r1}[a] h_{r1}[b]
 * computed here on the fly, never stored.
 *
 * A pair with g = 0 changes nothing in Eq. 13 and has no meta-gradient
 * (dL/dw = -G g / c = 0), so the enumerations skip it unless asked for
 * every rate (the Figure 4 dump); a `keep` filter selects coordinates
 * (the meta step's trial needs only those the query touches, its backward
 * only those with G != 0). Dense rows whose two upstream deltas are zero
 * (ReLU) are skipped whole. With AVX-512, runs of coordinates are appended 16 at a time,
 * the kept lanes compressed to the front of a vector. */
#include "melon_paper.h"

#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define VECTOR_EMIT 1
#endif

size_t paper_flat_capacity(const melon_model *m, int max_triples) {
    size_t total = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        /* a table's rows count at their bound, whatever the table holds
         * now: it may grow */
        size_t rows = t->kind == MELON_DENSE ? (size_t)t->rows
                                             : 2 * (size_t)max_triples;
        total += rows * (size_t)t->cols;
    }
    return total;
}

/* Triples that looked a table row up: a user row is seen by both columns
 * of each of its triples, an item row by one column of each. */
static int triples_touching(const melon_tensor *t, int32_t slot_count) {
    return t->kind == MELON_USER_TABLE ? slot_count / 2 : slot_count;
}

void paper_call_layout(paper_call *c, melon_aggregation aggregation,
                       float rate_scale) {
    const melon_model *m = c->m;
    const melon_sparse_grad *sg = c->touched;
    size_t at = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        size_t cols = (size_t)t->cols;
        c->offset[k] = at;
        if (t->kind == MELON_DENSE) {
            size_t size = (size_t)t->rows * cols;
            float scale = rate_scale *
                          (aggregation == MELON_AGG_MEAN ? 1.0f / (float)c->n : 1.0f);
            for (size_t a = 0; a < size; a++) c->agg_scale[at + a] = scale;
            memcpy(c->mean_grad + at, sg->grad[k], size * sizeof(float));
            at += size;
            continue;
        }
        for (int32_t r = 0; r < sg->n_rows[k]; r++) {
            int touching = triples_touching(t, sg->count[k][r]);
            float scale = rate_scale * (aggregation == MELON_AGG_MEAN && touching > 0
                                            ? 1.0f / (float)touching
                                            : 1.0f);
            for (size_t b = 0; b < cols; b++) c->agg_scale[at + b] = scale;
            memcpy(c->mean_grad + at, sg->grad[k] + (size_t)r * cols,
                   cols * sizeof(float));
            at += cols;
        }
    }
    c->size = at;
}

void paper_call_locate(const paper_call *c, size_t flat, int *tensor,
                       int32_t *row, int *col) {
    const melon_model *m = c->m;
    int k = 0;
    while (k + 1 < m->n_tensors && c->offset[k + 1] <= flat) k++;
    const melon_tensor *t = &m->tensor[k];
    size_t local = flat - c->offset[k];
    int32_t r = (int32_t)(local / (size_t)t->cols);
    *tensor = k;
    *col = (int)(local % (size_t)t->cols);
    *row = t->kind == MELON_DENSE ? r : c->touched->rows[k][r];
}

/* Per-triple constants of the pairs being emitted. */
typedef struct {
    const paper_call *c;
    pair_block *b;
    pair_flush flush;
    void *arg;
    const float *keep;     /* coordinates to emit, or NULL: all */
    const float *gc;       /* values for b->gc, or NULL: zeros */
    int keep_zeros;
    int triple;
    float eta, lrho1, lrho2;
} emitter;

static inline void emit(emitter *em, float theta, float g, size_t dst) {
    if (!em->keep_zeros && g == 0.0f) return;
    if (em->keep && em->keep[dst] == 0.0f) return;
    float gc = em->gc ? em->gc[dst] : 0.0f;
    pair_block *b = em->b;
    int p = b->n;
    b->theta[p] = theta;
    b->in_g[p] = em->c->batch_inputs ? em->c->mean_grad[dst] : g;
    b->mult[p] = g;
    b->lrho1[p] = em->lrho1;
    b->lrho2[p] = em->lrho2;
    b->eta[p] = em->eta;
    b->gc[p] = gc;
    b->dst[p] = (int32_t)dst;
    b->triple[p] = em->triple;
    if (++b->n == PAPER_BLOCK) {
        em->flush(b, em->arg);
        b->n = 0;
    }
}

#ifdef VECTOR_EMIT
/* A full block is flushed and the pairs past it (fewer than a vector)
 * move to the front: one vector per array, inside the block's room. */
static void spill(emitter *em) {
    pair_block *b = em->b;
    int extra = b->n - PAPER_BLOCK;
    b->n = PAPER_BLOCK;
    em->flush(b, em->arg);
#define MOVE_FRONT(a) _mm512_storeu_si512((a), _mm512_loadu_si512((a) + PAPER_BLOCK))
    MOVE_FRONT(b->theta);
    MOVE_FRONT(b->in_g);
    MOVE_FRONT(b->mult);
    MOVE_FRONT(b->lrho1);
    MOVE_FRONT(b->lrho2);
    MOVE_FRONT(b->eta);
    MOVE_FRONT(b->gc);
    MOVE_FRONT(b->dst);
    MOVE_FRONT(b->triple);
#undef MOVE_FRONT
    b->n = extra;
}

/* Appends the lanes of `keep` (up to 16 consecutive coordinates from
 * dst0), as emit() does one at a time. */
static inline void emit_vector(emitter *em, __mmask16 keep, __m512 theta,
                               __m512 g, size_t dst0) {
    const __m512 zero = _mm512_setzero_ps();
    if (em->keep)
        keep = _mm512_mask_cmp_ps_mask(
            keep, _mm512_maskz_loadu_ps(keep, em->keep + dst0), zero, _CMP_NEQ_UQ);
    if (!keep) return;
    __m512 gc = em->gc ? _mm512_maskz_loadu_ps(keep, em->gc + dst0) : zero;
    pair_block *b = em->b;
    int p = b->n;
    __m512 in_g = em->c->batch_inputs
                      ? _mm512_maskz_loadu_ps(keep, em->c->mean_grad + dst0)
                      : g;
    const __m512i lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6,
                                           5, 4, 3, 2, 1, 0);
    /* compress in registers, then store whole vectors into the block's
     * room (compress-stores to memory are slow on some CPUs) */
    _mm512_storeu_ps(b->theta + p, _mm512_maskz_compress_ps(keep, theta));
    _mm512_storeu_ps(b->in_g + p, _mm512_maskz_compress_ps(keep, in_g));
    _mm512_storeu_ps(b->mult + p, _mm512_maskz_compress_ps(keep, g));
    _mm512_storeu_ps(b->gc + p, _mm512_maskz_compress_ps(keep, gc));
    _mm512_storeu_si512(b->dst + p, _mm512_maskz_compress_epi32(
        keep, _mm512_add_epi32(_mm512_set1_epi32((int32_t)dst0), lanes)));
    _mm512_storeu_ps(b->lrho1 + p, _mm512_set1_ps(em->lrho1));
    _mm512_storeu_ps(b->lrho2 + p, _mm512_set1_ps(em->lrho2));
    _mm512_storeu_ps(b->eta + p, _mm512_set1_ps(em->eta));
    _mm512_storeu_si512(b->triple + p, _mm512_set1_epi32(em->triple));
    b->n = p + __builtin_popcount((unsigned)keep);
    if (b->n >= PAPER_BLOCK) spill(em);
}

static inline __mmask16 live_lanes(int left) {
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
}

/* theta[0 .. cols) with g = slot_a (+ slot_b), 16 at a time. */
static void emit_table_vector(emitter *em, const float *theta,
                              const float *slot_a, const float *slot_b,
                              size_t base, int cols) {
    const __m512 zero = _mm512_setzero_ps();
    for (int j = 0; j < cols; j += 16) {
        __mmask16 live = live_lanes(cols - j);
        __m512 g = _mm512_maskz_loadu_ps(live, slot_a + j);
        if (slot_b) g = _mm512_add_ps(g, _mm512_maskz_loadu_ps(live, slot_b + j));
        __mmask16 keep = _mm512_mask_cmp_ps_mask(live, g, zero, _CMP_NEQ_UQ);
        if (keep)
            emit_vector(em, keep, _mm512_maskz_loadu_ps(keep, theta + j), g,
                        base + (size_t)j);
    }
}

/* A dense row: g = ea h0 + eb h1, 16 at a time (same rounding as emit). */
static void emit_dense_vector(emitter *em, const float *theta, float ea,
                              float eb, const float *h0, const float *h1,
                              size_t base, int cols) {
    const __m512 zero = _mm512_setzero_ps();
    const __m512 va = _mm512_set1_ps(ea), vb = _mm512_set1_ps(eb);
    for (int j = 0; j < cols; j += 16) {
        __mmask16 live = live_lanes(cols - j);
        __m512 g = _mm512_add_ps(_mm512_mul_ps(va, _mm512_maskz_loadu_ps(live, h0 + j)),
                                 _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(live, h1 + j)));
        __mmask16 keep = _mm512_mask_cmp_ps_mask(live, g, zero, _CMP_NEQ_UQ);
        if (keep)
            emit_vector(em, keep, _mm512_maskz_loadu_ps(keep, theta + j), g,
                        base + (size_t)j);
    }
}
#endif

/* One table row of triple r: theta = the row, g = slot a (+ slot b). */
static void emit_table_row(emitter *em, const melon_tensor *t, int k,
                           int32_t row, const float *slot_a,
                           const float *slot_b) {
    const paper_call *c = em->c;
    int cols = t->cols;
    size_t base = c->offset[k] +
                  (size_t)c->touched->row_index[k][row] * (size_t)cols;
    const float *theta = t->value + (size_t)row * cols;
#ifdef VECTOR_EMIT
    if (!em->keep_zeros) {
        emit_table_vector(em, theta, slot_a, slot_b, base, cols);
        return;
    }
#endif
    for (int col = 0; col < cols; col++) {
        float g = slot_b ? slot_a[col] + slot_b[col] : slot_a[col];
        emit(em, theta[col], g, base + (size_t)col);
    }
}

static void emit_dense(emitter *em, const melon_tensor *t, int k, int r) {
    const paper_call *c = em->c;
    int rows = t->rows, cols = t->cols;
    const float *e0 = c->slots->slot[k] + (size_t)(2 * r) * rows;
    const float *e1 = e0 + rows;
    const float *h0 = c->slots->input[k] + (size_t)(2 * r) * cols;
    const float *h1 = h0 + cols;
    for (int a = 0; a < rows; a++) {
        float ea = e0[a], eb = e1[a];
        if (!em->keep_zeros && ea == 0.0f && eb == 0.0f) continue;
        size_t base = c->offset[k] + (size_t)a * cols;
        const float *theta = t->value + (size_t)a * cols;
#ifdef VECTOR_EMIT
        if (!em->keep_zeros) {
            emit_dense_vector(em, theta, ea, eb, h0, h1, base, cols);
            continue;
        }
#endif
        for (int b = 0; b < cols; b++)
            emit(em, theta[b], ea * h0[b] + eb * h1[b], base + (size_t)b);
    }
}

void paper_pairs_of_triples(const paper_call *c, int r0, int r1,
                            int keep_zeros, const float *keep,
                            const float *gc, pair_block *b, pair_flush flush,
                            void *arg) {
    const melon_model *m = c->m;
    emitter em = {c,  b, flush, arg, keep, gc, keep_zeros, 0, 0.0f, 0.0f,
                  0.0f};
    b->n = 0;
    for (int r = r0; r < r1; r++) {
        const melon_triple *tr = &c->triples[r];
        em.triple = r;
        em.eta = c->eta ? c->eta[r] : c->eta_const;
        em.lrho1 = c->lrho1[r];
        em.lrho2 = c->lrho2[r];
        for (int k = 0; k < m->n_tensors; k++) {
            const melon_tensor *t = &m->tensor[k];
            const float *slot = c->slots->slot[k];
            size_t width = (size_t)t->cols;
            if (t->kind == MELON_DENSE)
                emit_dense(&em, t, k, r);
            else if (t->kind == MELON_USER_TABLE)
                emit_table_row(&em, t, k, tr->user, slot + (size_t)(2 * r) * width,
                               slot + (size_t)(2 * r + 1) * width);
            else {
                emit_table_row(&em, t, k, tr->item,
                               slot + (size_t)(2 * r) * width, NULL);
                emit_table_row(&em, t, k, tr->negative,
                               slot + (size_t)(2 * r + 1) * width, NULL);
            }
        }
    }
    if (b->n > 0) flush(b, arg);
    b->n = 0;
}

void paper_pairs_of_coordinates(const paper_call *c, size_t m0, size_t m1,
                                const float *keep, const float *gc,
                                pair_block *b, pair_flush flush, void *arg) {
    const melon_model *m = c->m;
    emitter em = {c, b, flush, arg, keep, gc, 0, -1, c->eta_const, c->lrho1[0],
                  c->lrho2[0]};
    float n_triples = (float)c->n;
    b->n = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        size_t begin = c->offset[k];
        size_t end = k + 1 < m->n_tensors ? c->offset[k + 1] : c->size;
        if (end <= m0 || begin >= m1) continue;
        size_t from = begin > m0 ? begin : m0, to = end < m1 ? end : m1;
        size_t cols = (size_t)t->cols;
        for (size_t flat = from; flat < to; flat++) {
            size_t local = flat - begin;
            size_t row = local / cols;
            if (t->kind != MELON_DENSE) row = (size_t)c->touched->rows[k][row];
            float theta = t->value[row * cols + local % cols];
            /* the multiplier is sum_r g_{r,m} = n * (batch-mean gradient) */
            float g = c->mean_grad[flat];
            if (g == 0.0f) continue;
            emit(&em, theta, n_triples * g, flat);
        }
    }
    if (b->n > 0) flush(b, arg);
    b->n = 0;
}
