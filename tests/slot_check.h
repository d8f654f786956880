/* Finite-difference checks of a model's slot gradients (model.h) and of the
 * aggregated sparse gradient (model/grad.h), shared by test_grad_bpr.c and
 * test_grad_ncf.c, through the one checker (grad_check.h) at SLOT_TOL.
 *
 * The numeric derivatives come from meta_reference.h's double model
 * (ref_score), which reads only double copies of the tensor values, so
 * they are independent of the model code. Two checks per tensor:
 *   per triple:  sum of the two columns' slots  vs  d l_r / d theta
 *   per column:  slot of column c  vs  delta_c * d s(u, item_c) / d theta,
 *                with delta_0 = -kappa_r, delta_1 = +kappa_r (update-
 *                strategies.md 1.4; this one also sees swapped columns of
 *                the user tables, whose sum would hide them). */
#ifndef MELON_TEST_SLOT_CHECK_H
#define MELON_TEST_SLOT_CHECK_H

#include "meta_reference.h"

#include "model/grad.h"

#define SLOT_TOL 1e-3    /* the models' slot gradients pass at this */

static double ref_column_score(const ref_params *ref, const melon_triple *tr,
                               int c) {
    return ref_score(ref, tr->user, c == 0 ? tr->item : tr->negative);
}

/* What the differences take: the triple's BPR loss (what = -1) or the
 * score of its column 0 or 1. */
typedef struct {
    const ref_params *ref;
    const melon_triple *tr;
    int what;
} slot_loss_at;

static double slot_loss(void *ctx) {
    const slot_loss_at *at = ctx;
    if (at->what >= 0) return ref_column_score(at->ref, at->tr, at->what);
    return ref_softplus(-(ref_column_score(at->ref, at->tr, 0) -
                          ref_column_score(at->ref, at->tr, 1)));
}

static double ref_kappa(const ref_params *ref, const melon_triple *tr) {
    double diff = ref_column_score(ref, tr, 0) - ref_column_score(ref, tr, 1);
    return 1.0 / (1.0 + exp(diff));
}

static double central_diff(ref_params *ref, int k, size_t a,
                           const melon_triple *tr, int what) {
    slot_loss_at at = {ref, tr, what};
    return grad_central(slot_loss, &at, &ref->p[k][a]);
}

/* Tensor k's gradient for triple r from the slots (ref_slot_gradient), in
 * float for the checker. */
static void slot_gradient(const melon_model *m, const melon_grads *g,
                          const melon_triple *triples, int r, int k,
                          int column, float *out) {
    size_t size = ref_tensor_size(&m->tensor[k]);
    double *exact = malloc(size * sizeof(double));
    assert_non_null(exact);
    ref_slot_gradient(m, g, triples, r, k, column, exact);
    for (size_t a = 0; a < size; a++) out[a] = (float)exact[a];
    free(exact);
}

typedef struct {
    double triple_err[MELON_MAX_TENSORS];   /* per-triple check */
    double column_err[MELON_MAX_TENSORS];   /* per-column check */
    double numeric_max[MELON_MAX_TENSORS];  /* largest |column derivative| */
} slot_errors;

/* Runs both checks for every tensor over every triple of the last
 * forward_backward in g. */
static void check_slot_gradients(ref_params *ref, const melon_grads *g,
                                 const melon_triple *triples, slot_errors *out) {
    const melon_model *m = ref->m;
    memset(out, 0, sizeof *out);
    for (int k = 0; k < m->n_tensors; k++) {
        size_t size = ref_tensor_size(&m->tensor[k]);
        float *analytic = malloc(size * sizeof(float));
        double *numeric = malloc(size * sizeof(double));
        assert_non_null(analytic);
        assert_non_null(numeric);
        for (int r = 0; r < g->n; r++) {
            const melon_triple *tr = &triples[r];
            double kappa = ref_kappa(ref, tr), column_scale = 0.0;
            for (int c = 0; c < 2; c++) {
                double delta = c == 0 ? -kappa : kappa;
                slot_gradient(m, g, triples, r, k, c, analytic);
                for (size_t a = 0; a < size; a++)
                    numeric[a] = delta * central_diff(ref, k, a, tr, c);
                column_scale = fmax(column_scale, grad_scale(numeric, size));
                out->column_err[k] =
                    fmax(out->column_err[k],
                         grad_error(analytic, numeric, size));
            }
            out->numeric_max[k] = fmax(out->numeric_max[k], column_scale);
            /* the columns' sum, at the columns' scale (BPR-MF's user bias
             * cancels in it) */
            slot_gradient(m, g, triples, r, k, -1, analytic);
            for (size_t a = 0; a < size; a++)
                numeric[a] = central_diff(ref, k, a, tr, -1);
            double scale = fmax(grad_scale(numeric, size), column_scale);
            out->triple_err[k] =
                fmax(out->triple_err[k],
                     grad_error_at(analytic, numeric, size, scale));
        }
        free(analytic);
        free(numeric);
    }
}

static void print_grad_check(const melon_model *m, const slot_errors *chk) {
    for (int k = 0; k < m->n_tensors; k++)
        print_message("  %-10s per-triple %.2e  per-column %.2e  (|grad| "
                      "up to %.2e)\n",
                      m->tensor[k].name, chk->triple_err[k],
                      chk->column_err[k], chk->numeric_max[k]);
}

/* Every tensor passes both checks, and none is trivially zero. */
static void assert_gradients_correct(ref_params *ref, const melon_grads *g,
                                     const melon_triple *triples) {
    slot_errors chk;
    check_slot_gradients(ref, g, triples, &chk);
    print_grad_check(ref->m, &chk);
    for (int k = 0; k < ref->m->n_tensors; k++) {
        assert_true(chk.numeric_max[k] > 1e-3);
        if (chk.triple_err[k] >= SLOT_TOL || chk.column_err[k] >= SLOT_TOL)
            fail_msg("tensor %s: gradient check failed (%.3e, %.3e)",
                     ref->m->tensor[k].name, chk.triple_err[k],
                     chk.column_err[k]);
    }
}

/* Largest-magnitude entry of tensor k's slot among the pairs whose dense
 * input is largest (so that a change of it shows in e h^T). */
static float *pick_slot_entry(const melon_model *m, const melon_grads *g,
                              int k) {
    const melon_tensor *t = &m->tensor[k];
    int width = melon_slot_width(t);
    size_t best_pair = 0;
    double best_norm = -1.0;
    for (size_t p = 0; p < (size_t)(2 * g->n); p++) {
        double norm = 0.0;
        if (t->kind == MELON_DENSE)
            for (int b = 0; b < t->cols; b++)
                norm += fabs(g->input[k][p * t->cols + b]);
        else
            for (int b = 0; b < width; b++)
                norm += fabs(g->slot[k][p * width + b]);
        if (norm > best_norm) {
            best_norm = norm;
            best_pair = p;
        }
    }
    float *row = g->slot[k] + best_pair * width;
    int best = 0;
    for (int b = 1; b < width; b++)
        if (fabsf(row[b]) > fabsf(row[best])) best = b;
    return &row[best];
}

static float slot_max_abs(const melon_model *m, const melon_grads *g, int k) {
    size_t size = (size_t)(2 * g->n) * melon_slot_width(&m->tensor[k]);
    float best = 0.0f;
    for (size_t a = 0; a < size; a++) best = fmaxf(best, fabsf(g->slot[k][a]));
    return best;
}

/* Deliberately wrong slots must fail the check, tensor by tensor: one entry
 * off by 5% of the slot's scale, column 0 with its sign flipped, and the
 * two columns of triple 0 swapped. Restores g afterwards. */
static void assert_checker_catches_errors(ref_params *ref, melon_grads *g,
                                          const melon_triple *triples) {
    const melon_model *m = ref->m;
    slot_errors chk;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        int width = melon_slot_width(t);

        float *entry = pick_slot_entry(m, g, k);
        float saved = *entry;
        *entry += 0.05f * slot_max_abs(m, g, k);
        check_slot_gradients(ref, g, triples, &chk);
        *entry = saved;
        print_message("  %-10s one entry off: per-triple %.2e, per-column "
                      "%.2e\n", t->name, chk.triple_err[k], chk.column_err[k]);
        assert_true(chk.triple_err[k] > SLOT_TOL);
        assert_true(chk.column_err[k] > SLOT_TOL);

        for (int r = 0; r < g->n; r++)
            for (int b = 0; b < width; b++)
                g->slot[k][(size_t)(2 * r) * width + b] *= -1.0f;
        check_slot_gradients(ref, g, triples, &chk);
        for (int r = 0; r < g->n; r++)
            for (int b = 0; b < width; b++)
                g->slot[k][(size_t)(2 * r) * width + b] *= -1.0f;
        assert_true(chk.column_err[k] > SLOT_TOL);
        assert_true(chk.triple_err[k] > SLOT_TOL);

        float *col0 = g->slot[k], *col1 = g->slot[k] + width;
        for (int b = 0; b < width; b++) {
            float tmp = col0[b];
            col0[b] = col1[b];
            col1[b] = tmp;
        }
        check_slot_gradients(ref, g, triples, &chk);
        for (int b = 0; b < width; b++) {
            float tmp = col0[b];
            col0[b] = col1[b];
            col1[b] = tmp;
        }
        assert_true(chk.column_err[k] > SLOT_TOL);
    }
    /* Restored: passes again. */
    assert_gradients_correct(ref, g, triples);
}

/* The aggregated gradient equals sum_r weight_r (per-triple gradient), over
 * exactly the rows the triples looked up, listed in order of first touch,
 * with per-row slot counts; untouched rows keep row_index -1. */
static void assert_sparse_grad_matches(const melon_sparse_grad *sg,
                                       const melon_model *m,
                                       const melon_grads *g,
                                       const melon_triple *triples,
                                       const float *weight) {
    int n = g->n;
    assert_int_equal(sg->n_tensors, m->n_tensors);
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        size_t size = ref_tensor_size(t);
        double *expected = calloc(size, sizeof(double));
        double *one = malloc(size * sizeof(double));
        assert_non_null(expected);
        assert_non_null(one);
        for (int r = 0; r < n; r++) {
            double w = weight ? weight[r] : 1.0 / n;
            ref_slot_gradient(m, g, triples, r, k, -1, one);
            for (size_t a = 0; a < size; a++) expected[a] += w * one[a];
        }
        double scale = 1e-30;
        for (size_t a = 0; a < size; a++)
            scale = fmax(scale, fabs(expected[a]));
        double tol = 1e-5 * scale + 1e-9;

        if (t->kind == MELON_DENSE) {
            assert_int_equal(sg->n_rows[k], t->rows);
            for (size_t a = 0; a < size; a++)
                if (fabs(sg->grad[k][a] - expected[a]) > tol)
                    fail_msg("%s[%zu]: %g, expected %g", t->name, a,
                             (double)sg->grad[k][a], expected[a]);
        } else {
            int32_t *order = malloc((size_t)2 * n * sizeof(int32_t));
            int32_t *count = calloc((size_t)t->rows, sizeof(int32_t));
            assert_non_null(order);
            assert_non_null(count);
            int distinct = 0;
            for (int p = 0; p < 2 * n; p++) {
                int32_t row = melon_slot_row(t, &triples[p / 2], p % 2);
                if (count[row]++ == 0) order[distinct++] = row;
            }
            assert_int_equal(sg->n_rows[k], distinct);
            for (int at = 0; at < distinct; at++) {
                int32_t row = sg->rows[k][at];
                assert_int_equal(row, order[at]);
                assert_int_equal(sg->row_index[k][row], at);
                assert_int_equal(sg->count[k][at], count[row]);
                for (int b = 0; b < t->cols; b++) {
                    double want = expected[(size_t)row * t->cols + b];
                    double got = sg->grad[k][(size_t)at * t->cols + b];
                    if (fabs(got - want) > tol)
                        fail_msg("%s row %d col %d: %g, expected %g", t->name,
                                 row, b, got, want);
                }
            }
            for (int32_t row = 0; row < t->rows; row++)
                if (count[row] == 0) {
                    assert_int_equal(sg->row_index[k][row], -1);
                    for (int b = 0; b < t->cols; b++)
                        assert_true(expected[(size_t)row * t->cols + b] == 0.0);
                }
            free(order);
            free(count);
        }
        free(expected);
        free(one);
    }
}

/* norm2 is the sum of squares of every stored gradient entry. */
static void assert_norm2_matches(const melon_sparse_grad *sg,
                                 const melon_model *m) {
    double want = 0.0;
    for (int k = 0; k < m->n_tensors; k++) {
        size_t size = (size_t)sg->n_rows[k] * (size_t)m->tensor[k].cols;
        for (size_t a = 0; a < size; a++)
            want += (double)sg->grad[k][a] * sg->grad[k][a];
    }
    assert_true(want > 0.0);
    assert_true(fabs(melon_sparse_grad_norm2(sg, m) - want) <= 1e-12 * want);
}

#endif
