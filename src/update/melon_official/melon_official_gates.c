/* The official MeLON's gates and its fused proposals (update-strategies.md
 * A.3 items 1-3 and 7, A.4 steps 4-5).
 *
 * For pair q and a coordinate m it touches, with per-pair gradient g:
 *   p = [rho(L); rho(g)],  z = A p + a,
 *   f = w_F^(z) . z + w_F^(h) . h_q + b_F,   iota likewise with w_I, b_I,
 *   c = sigma(f) theta_m - sigma(iota) g.
 * z is affine in p, so with u = A^T w^(z) the gate is
 *   f = base_F[q] + u_F[2] rho1(g) + u_F[3] rho2(g),
 *   base_F[q] = w_F^(h) . h_q + b_F + a . w_F^(z)
 *               + u_F[0] rho1(L) + u_F[1] rho2(L),
 * a few multiply-adds per coordinate. Aggregation: a table row takes the
 * mean of the proposals of the pairs that look it up, a dense coordinate
 * the mean over all N pairs.
 *
 * A dense coordinate's gradient is g = e_a h_b (the pair's delta and
 * input, model.h), never stored; rho(g) comes from per-pair tables of
 * log|e_a| and log|h_b|:
 *   log(|g| + eps) = log|e_a| + log|h_b| + eps / |g|  (to float precision:
 *   the rho branch needs |g| >= e^-10, so eps / |g| <= 2.2e-4).
 * Where e_a = 0 (a unit ReLU switched off) the whole row has g = 0,
 * rho = (-1, 0) and c = sigma(base_F[q] - u_F[2]) theta: one multiply-add
 * per row instead of a pass over it. Where |e_a| max_b |h_b| < e^-10
 * (on NCF at least 95% of rows), rho(g) = (-1, e^10 g) on the whole row
 * and its loop does without the log tables. Dense tensors are processed in
 * blocks of rows (tasks) with the pairs in the outer loop, so that a pair's
 * tables are read once per block and the block's sums stay in cache. */
#include "melon_official.h"

#include "nn/vmath.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <string.h>

/* log|x| (x clamped away from denormals) and scale / |x| of n values,
 * zeros where x = 0; branch-free so that it vectorises. Returns max |x|. */
static float log_table(int n, const float *x, float scale, float *log_abs,
                       float *inv) {
    float top = 0.0f;
#pragma omp simd reduction(max : top)
    for (int a = 0; a < n; a++) {
        float ax = fabsf(x[a]);
        float nonzero = ax > 0.0f ? 1.0f : 0.0f;
        float safe = ax > FLT_MIN ? ax : FLT_MIN;
        log_abs[a] = nonzero * vm_log(safe);
        inv[a] = nonzero * (scale / safe);
        top = ax > top ? ax : top;
    }
    return top;
}

/* The log tables of pair q for every dense tensor. */
static void dense_logs_of_pair(official_call *c, int q) {
    const melon_model *m = c->model;
    const melon_grads *g = c->slots;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        if (t->kind != MELON_DENSE) continue;
        official_dense_logs *l = &c->logs[k];
        size_t e0 = (size_t)q * t->rows, h0 = (size_t)q * t->cols;
        log_table(t->rows, g->slot[k] + e0, MELON_PREPROCESS_EPS,
                  l->e_log + e0, l->e_inv + e0);
        l->h_max[q] = log_table(t->cols, g->input[k] + h0, 1.0f,
                                l->h_log + h0, l->h_inv + h0);
    }
}

long official_call_work(const official_call *c) {
    long per_pair = 0;
    for (int k = 0; k < c->model->n_tensors; k++) {
        const melon_tensor *t = &c->model->tensor[k];
        per_pair += t->kind == MELON_DENSE ? (long)t->rows * t->cols : t->cols;
    }
    return per_pair * c->n_pairs;
}

void official_call_gates(official_call *c, const official_params *p) {
    const official_dims *dm = &c->dims;
    const float *wFz = official_gate_z(p, OB_GATE_F, 0);
    const float *wIz = official_gate_z(p, OB_GATE_I, 0);
    const float *wFh = official_gate_h(p, OB_GATE_F, 0);
    const float *wIh = official_gate_h(p, OB_GATE_I, 0);
    double uF[4] = {0}, uI[4] = {0}, cF = 0.0, cI = 0.0;
    if (dm->has_p) {
        const float *A = p->value[OB_ROLE_W], *a = p->value[OB_ROLE_B];
        for (int j = 0; j < dm->zw; j++) {
            for (int i = 0; i < 4; i++) {
                uF[i] += (double)A[j * 4 + i] * wFz[j];
                uI[i] += (double)A[j * 4 + i] * wIz[j];
            }
            cF += (double)a[j] * wFz[j];
            cI += (double)a[j] * wIz[j];
        }
    }
    for (int i = 0; i < 4; i++) {
        c->u_F[i] = (float)uF[i];
        c->u_I[i] = (float)uI[i];
    }
    double shared_F = *p->value[OB_GATE_F_B] + cF + uF[0] * c->rho_loss[0] +
                      uF[1] * c->rho_loss[1];
    double shared_I = *p->value[OB_GATE_I_B] + cI + uI[0] * c->rho_loss[0] +
                      uI[1] * c->rho_loss[1];
    for (int q = 0; q < c->n_pairs; q++) {
        double eta_F = shared_F, eta_I = shared_I;
        if (dm->has_h) {
            const float *h = c->mlp.h + (size_t)q * dm->hw;
            for (int j = 0; j < dm->hw; j++) {
                eta_F += (double)wFh[j] * h[j];
                eta_I += (double)wIh[j] * h[j];
            }
        }
        c->base_F[q] = (float)eta_F;
        c->base_I[q] = (float)eta_I;
        c->forget_zero[q] = vm_sigmoid(c->base_F[q] - c->u_F[2]);
    }
}

float official_input_gate(const official_call *c, int q, float g) {
    float r1, r2;
    vm_preprocess(g, MELON_PREPROCESS_EPS, &r1, &r2);
    return vm_sigmoid(c->base_I[q] + c->u_I[2] * r1 + c->u_I[3] * r2);
}

static long task_size(const official_call *c, int task) {
    const melon_tensor *t = &c->model->tensor[c->task_tensor[task]];
    return (long)c->task_rows[task] * t->cols;
}

void official_thread_tasks(const official_call *c, int threads, int t,
                           int *first, int *end) {
    long total = 0;
    for (int i = 0; i < c->n_tasks; i++) total += task_size(c, i);
    long lo = total * t / threads, hi = total * (t + 1) / threads;
    long start = 0;
    *first = *end = 0;
    int found = 0;
    for (int i = 0; i < c->n_tasks; i++) {
        if (start >= lo && start < hi) { /* a task goes where it starts */
            if (!found) *first = i;
            found = 1;
            *end = i + 1;
        }
        start += task_size(c, i);
    }
}

/* Pair q's proposals for every column of the row table tensor k looks
 * up. */
static void table_proposals(official_call *c, int k, int q) {
    const melon_tensor *t = &c->model->tensor[k];
    int side = t->kind == MELON_USER_TABLE ? OFFICIAL_USER : OFFICIAL_ITEM;
    int cols = t->cols;
    const float *th = c->theta[k] + (size_t)c->pair_node[side][q] * cols;
    const float *g = c->slots->slot[k] + (size_t)q * cols;
    float *prop = c->proposal[k] + (size_t)q * cols;
    float bF = c->base_F[q], bI = c->base_I[q];
    float uF2 = c->u_F[2], uF3 = c->u_F[3], uI2 = c->u_I[2], uI3 = c->u_I[3];
#pragma omp simd
    for (int a = 0; a < cols; a++) {
        float r1, r2, sf, si;
        vm_preprocess(g[a], MELON_PREPROCESS_EPS, &r1, &r2);
        vm_sigmoid_pair(VM_FMA(uF3, r2, VM_FMA(uF2, r1, bF)),
                        VM_FMA(uI3, r2, VM_FMA(uI2, r1, bI)), &sf, &si);
        prop[a] = VM_FMA(sf, th[a], -si * g[a]);
    }
}

/* Every row table tensor k's pairs look up takes the mean of their
 * proposals (summed in pair order). */
static void table_means(official_call *c, melon_model *m, int k) {
    melon_tensor *t = &m->tensor[k];
    int side = t->kind == MELON_USER_TABLE ? OFFICIAL_USER : OFFICIAL_ITEM;
    const official_side *sd = &c->side[side];
    const int32_t *node = c->pair_node[side];
    int cols = t->cols;
    float *sum = c->row_sum[k];
    memset(sum, 0, (size_t)sd->n_nodes * cols * sizeof(float));
    for (int q = 0; q < c->n_pairs; q++) {
        float *dst = sum + (size_t)node[q] * cols;
        const float *prop = c->proposal[k] + (size_t)q * cols;
        for (int a = 0; a < cols; a++) dst[a] += prop[a];
    }
    for (int j = 0; j < sd->n_nodes; j++) {
        float scale = 1.0f / (float)sd->n_pairs[j];
        float *dst = t->value + (size_t)sd->node_id[j] * cols;
        const float *src = sum + (size_t)j * cols;
        for (int a = 0; a < cols; a++) dst[a] = src[a] * scale;
    }
}

/* Adds the row's proposals sigma(f) theta - sigma(iota) g to acc_row. */
static inline __attribute__((always_inline)) void
proposal_row(const official_call *c, int q, const official_dense_row *d,
             const float *th, float *acc_row, int cols, const int linear) {
    float bF = c->base_F[q], bI = c->base_I[q];
    float uF2 = c->u_F[2], uF3 = c->u_F[3], uI2 = c->u_I[2], uI3 = c->u_I[3];
#pragma omp simd
    for (int b = 0; b < cols; b++) {
        float g = d->e * d->h[b], r1, r2, sf, si;
        official_dense_rho(d, b, g, &r1, &r2, linear);
        vm_sigmoid_pair(VM_FMA(uF3, r2, VM_FMA(uF2, r1, bF)),
                        VM_FMA(uI3, r2, VM_FMA(uI2, r1, bI)), &sf, &si);
        acc_row[b] = VM_FMA(sf, th[b], VM_FMA(-si, g, acc_row[b]));
    }
}

/* Task `task` (a block of rows of a dense tensor): the mean proposal of
 * every coordinate of the block, written into the model. acc holds the
 * block, coef one float per row. */
static void dense_block_forward(const official_call *c, melon_model *m,
                                int task, float *acc, float *coef) {
    int k = c->task_tensor[task], a0 = c->task_row[task];
    int n_rows = c->task_rows[task];
    melon_tensor *t = &m->tensor[k];
    const official_dense_logs *l = &c->logs[k];
    const melon_grads *gr = c->slots;
    int rows = t->rows, cols = t->cols, n = c->n_pairs;
    const float *theta = c->theta[k] + (size_t)a0 * cols;
    memset(acc, 0, (size_t)n_rows * cols * sizeof(float));
    memset(coef, 0, (size_t)n_rows * sizeof(float));
    for (int q = 0; q < n; q++) {
        size_t e0 = (size_t)q * rows + a0, h0 = (size_t)q * cols;
        const float *e = gr->slot[k] + e0;
        const float *el = l->e_log + e0, *ei = l->e_inv + e0;
        official_dense_row d = {gr->input[k] + h0, l->h_log + h0, l->h_inv + h0,
                                0.0f, 0.0f, 0.0f};
        float fz = c->forget_zero[q], h_max = l->h_max[q];
        for (int r = 0; r < n_rows; r++) {
            if (e[r] == 0.0f) { /* g = 0 on the whole row */
                coef[r] += fz;
                continue;
            }
            d.e = e[r];
            d.e_log = el[r];
            d.e_inv = ei[r];
            const float *th = theta + (size_t)r * cols;
            float *row = acc + (size_t)r * cols;
            if (official_row_is_linear(&d, h_max))
                proposal_row(c, q, &d, th, row, cols, 1);
            else
                proposal_row(c, q, &d, th, row, cols, 0);
        }
    }
    float inv_n = 1.0f / (float)n;
    for (int r = 0; r < n_rows; r++) {
        const float *th = theta + (size_t)r * cols;
        const float *row = acc + (size_t)r * cols;
        float *dst = t->value + (size_t)(a0 + r) * cols;
        for (int b = 0; b < cols; b++)
            dst[b] = (row[b] + coef[r] * th[b]) * inv_n;
    }
}

/* One parallel region (when the call is large enough): the dense log
 * tables, every table proposal, then each thread whole table tensors'
 * means and its share of the dense tasks. Every output is written by one
 * thread, in a fixed order. */
void official_call_apply(official_call *c, melon_model *m) {
    int n = c->n_pairs, n_tensors = m->n_tensors;
    size_t block = (size_t)c->block_floats;
#pragma omp parallel num_threads(official_team_size(c)) \
    if (official_call_work(c) >= OFFICIAL_PARALLEL_WORK)
    {
        if (c->n_tasks > 0) {
#pragma omp for schedule(static)
            for (int q = 0; q < n; q++) dense_logs_of_pair(c, q);
        }
#pragma omp for schedule(static)
        for (int q = 0; q < n; q++)
            for (int k = 0; k < n_tensors; k++)
                if (m->tensor[k].kind != MELON_DENSE) table_proposals(c, k, q);
#pragma omp for schedule(static) nowait
        for (int k = 0; k < n_tensors; k++)
            if (m->tensor[k].kind != MELON_DENSE) table_means(c, m, k);
        int th = omp_get_thread_num(), first, end;
        official_thread_tasks(c, omp_get_num_threads(), th, &first, &end);
        float *scratch = c->thread_block + (size_t)th * 4 * block;
        for (int task = first; task < end; task++)
            dense_block_forward(c, m, task, scratch, scratch + 2 * block);
    }
}
