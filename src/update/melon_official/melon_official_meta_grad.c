/* The official MeLON's meta-gradient (update-strategies.md A.5), by hand.
 *
 * Given G = d meta-loss / d Theta' for the call's trial values Theta', each
 * proposal c_{q,m} = sigma(f) theta_m - sigma(iota) g receives the upstream
 *   c_hat = G_{k,m} / o_k  (table row k looked up by o_k pairs),
 *   c_hat = G_m / N        (dense coordinate),
 * and the gate pre-activations
 *   delta_F = c_hat theta sigma(f) (1 - sigma(f)),
 *   delta_I = -c_hat g sigma(iota) (1 - sigma(iota)).
 * One fused loop over (pair, coordinate), recomputing g and the gates as
 * in the forward, sums per pair Sigma = sum_m delta and
 * Pi[2..3] = sum_m delta rho(g) (PS_* in melon_official.h); from those:
 *   grad b = Sigma,  grad w^(h) = sum_q Sigma_q h_q,
 *   grad w^(z) = A Pi + a Sigma,  grad A = w_F^(z) Pi_F^T + w_I^(z) Pi_I^T,
 *   grad a = w_F^(z) Sigma_F + w_I^(z) Sigma_I,
 *   h_bar_q = w_F^(h) Sigma_F,q + w_I^(h) Sigma_I,q,
 * with Pi[0..1] = rho(L) Sigma. h_bar then runs back through the MLP and
 * the GAT. Per-sample gradients and the loss feature are constants (the
 * exact one-step hypergradient, section 2). Sums per pair are in double;
 * dense rows are split over threads with per-thread sums reduced in thread
 * order, so the result depends only on the thread count. */
#include "melon_official.h"

#include "nn/vmath.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* Pair q's sums over the row table tensor k looks up, added to ps. */
static void table_pair_backward(const official_call *c, int k, int q,
                                const melon_sparse_grad *G, double *ps) {
    const melon_tensor *t = &c->model->tensor[k];
    int side = t->kind == MELON_USER_TABLE ? OFFICIAL_USER : OFFICIAL_ITEM;
    const official_side *sd = &c->side[side];
    int j = c->pair_node[side][q], cols = t->cols;
    int32_t at = G->row_index[k][sd->node_id[j]];
    if (at < 0) return; /* the query does not touch the row: G = 0 */
    const float *Grow = G->grad[k] + (size_t)at * cols;
    const float *th = c->theta[k] + (size_t)j * cols;
    const float *g = c->slots->slot[k] + (size_t)q * cols;
    float scale = 1.0f / (float)sd->n_pairs[j];
    float bF = c->base_F[q], bI = c->base_I[q];
    float uF2 = c->u_F[2], uF3 = c->u_F[3], uI2 = c->u_I[2], uI3 = c->u_I[3];
    float sF = 0, sF1 = 0, sF2 = 0, sI = 0, sI1 = 0, sI2 = 0;
#pragma omp simd reduction(+ : sF, sF1, sF2, sI, sI1, sI2)
    for (int a = 0; a < cols; a++) {
        float r1, r2, sf, si;
        vm_preprocess(g[a], MELON_PREPROCESS_EPS, &r1, &r2);
        vm_sigmoid_pair(VM_FMA(uF3, r2, VM_FMA(uF2, r1, bF)),
                        VM_FMA(uI3, r2, VM_FMA(uI2, r1, bI)), &sf, &si);
        float c_hat = Grow[a] * scale;
        float dF = c_hat * th[a] * sf * (1.0f - sf);
        float dI = -c_hat * g[a] * si * (1.0f - si);
        sF += dF;
        sF1 = VM_FMA(dF, r1, sF1);
        sF2 = VM_FMA(dF, r2, sF2);
        sI += dI;
        sI1 = VM_FMA(dI, r1, sI1);
        sI2 = VM_FMA(dI, r2, sI2);
    }
    ps[PS_F] += sF;
    ps[PS_F1] += sF1;
    ps[PS_F2] += sF2;
    ps[PS_I] += sI;
    ps[PS_I1] += sI1;
    ps[PS_I2] += sI2;
}

/* The row's sums (Sigma and Pi[2..3] of both gates) into s[PS_COUNT]. */
static inline __attribute__((always_inline)) void
row_sums(const official_call *c, int q, const official_dense_row *d,
         const float *c_hat, const float *c_theta, int cols, float *s,
         const int linear) {
    float bF = c->base_F[q], bI = c->base_I[q];
    float uF2 = c->u_F[2], uF3 = c->u_F[3], uI2 = c->u_I[2], uI3 = c->u_I[3];
    float sF = 0, sF1 = 0, sF2 = 0, sI = 0, sI1 = 0, sI2 = 0;
#pragma omp simd reduction(+ : sF, sF1, sF2, sI, sI1, sI2)
    for (int b = 0; b < cols; b++) {
        float g = d->e * d->h[b], r1, r2, sf, si;
        official_dense_rho(d, b, g, &r1, &r2, linear);
        vm_sigmoid_pair(VM_FMA(uF3, r2, VM_FMA(uF2, r1, bF)),
                        VM_FMA(uI3, r2, VM_FMA(uI2, r1, bI)), &sf, &si);
        float dF = c_theta[b] * sf * (1.0f - sf);
        float dI = -c_hat[b] * g * si * (1.0f - si);
        sF += dF;
        sF1 = VM_FMA(dF, r1, sF1);
        sF2 = VM_FMA(dF, r2, sF2);
        sI += dI;
        sI1 = VM_FMA(dI, r1, sI1);
        sI2 = VM_FMA(dI, r2, sI2);
    }
    s[PS_F] = sF;
    s[PS_F1] = sF1;
    s[PS_F2] = sF2;
    s[PS_I] = sI;
    s[PS_I1] = sI1;
    s[PS_I2] = sI2;
}

/* Task `task` (a block of rows of a dense tensor): adds every pair's sums
 * over the block's coordinates to `sums`. scratch holds 4 block_floats. */
static void dense_block_backward(const official_call *c,
                                 const melon_sparse_grad *G, int task,
                                 float *scratch, double *sums) {
    int k = c->task_tensor[task], a0 = c->task_row[task];
    int n_rows = c->task_rows[task];
    const melon_tensor *t = &c->model->tensor[k];
    const official_dense_logs *l = &c->logs[k];
    const melon_grads *gr = c->slots;
    int rows = t->rows, cols = t->cols, n = c->n_pairs;
    size_t block = (size_t)c->block_floats;
    float *c_hat = scratch, *c_theta = scratch + block;
    float *c_theta_sum = scratch + 2 * block, *live = scratch + 3 * block;
    const float *theta = c->theta[k] + (size_t)a0 * cols;
    const float *Gblock = G->grad[k] + (size_t)a0 * cols;
    float inv_n = 1.0f / (float)n;
    int any = 0;
    for (int r = 0; r < n_rows; r++) {
        double row_sum = 0.0;
        int row_live = 0;
        for (int b = 0; b < cols; b++) {
            size_t at = (size_t)r * cols + b;
            c_hat[at] = Gblock[at] * inv_n;
            c_theta[at] = c_hat[at] * theta[at];
            row_sum += c_theta[at];
            row_live |= Gblock[at] != 0.0f;
        }
        c_theta_sum[r] = (float)row_sum;
        live[r] = (float)row_live;
        any |= row_live;
    }
    if (!any) return; /* no query pair reaches this block */
    for (int q = 0; q < n; q++) {
        size_t e0 = (size_t)q * rows + a0, h0 = (size_t)q * cols;
        const float *e = gr->slot[k] + e0;
        const float *el = l->e_log + e0, *ei = l->e_inv + e0;
        official_dense_row d = {gr->input[k] + h0, l->h_log + h0, l->h_inv + h0,
                                0.0f, 0.0f, 0.0f};
        float fz = c->forget_zero[q], h_max = l->h_max[q];
        float qF = 0, qF1 = 0, qF2 = 0, qI = 0, qI1 = 0, qI2 = 0;
        for (int r = 0; r < n_rows; r++) {
            if (live[r] == 0.0f) continue;
            if (e[r] == 0.0f) { /* g = 0: rho = (-1, 0), delta_I = 0 */
                float dF = fz * (1.0f - fz) * c_theta_sum[r];
                qF += dF;
                qF1 -= dF;
                continue;
            }
            d.e = e[r];
            d.e_log = el[r];
            d.e_inv = ei[r];
            const float *ch = c_hat + (size_t)r * cols;
            const float *ct = c_theta + (size_t)r * cols;
            float s[PS_COUNT];
            if (official_row_is_linear(&d, h_max))
                row_sums(c, q, &d, ch, ct, cols, s, 1);
            else
                row_sums(c, q, &d, ch, ct, cols, s, 0);
            qF += s[PS_F];
            qF1 += s[PS_F1];
            qF2 += s[PS_F2];
            qI += s[PS_I];
            qI1 += s[PS_I1];
            qI2 += s[PS_I2];
        }
        double *ps = sums + (size_t)q * PS_COUNT;
        ps[PS_F] += qF;
        ps[PS_F1] += qF1;
        ps[PS_F2] += qF2;
        ps[PS_I] += qI;
        ps[PS_I1] += qI1;
        ps[PS_I2] += qI2;
    }
}

/* Every pair's sums, in one parallel region (when the call is large
 * enough): each thread adds the table rows of its pairs and the dense
 * tasks of its share into its own sums, which are then added in thread
 * order. */
static void pair_sums(official_call *c, const melon_sparse_grad *G) {
    const melon_model *m = c->model;
    int n = c->n_pairs, n_tensors = m->n_tensors;
    size_t per_thread = (size_t)n * PS_COUNT;
    size_t block = (size_t)c->block_floats;
#pragma omp parallel num_threads(official_team_size(c)) \
    if (official_call_work(c) >= OFFICIAL_PARALLEL_WORK)
    {
        int th = omp_get_thread_num(), threads = omp_get_num_threads();
        double *sums = c->thread_sums + (size_t)th * per_thread;
        memset(sums, 0, per_thread * sizeof(double));
#pragma omp for schedule(static) nowait
        for (int q = 0; q < n; q++)
            for (int k = 0; k < n_tensors; k++)
                if (m->tensor[k].kind != MELON_DENSE)
                    table_pair_backward(c, k, q, G,
                                        sums + (size_t)q * PS_COUNT);
        int first, end;
        official_thread_tasks(c, threads, th, &first, &end);
        float *scratch = c->thread_block + (size_t)th * 4 * block;
        for (int task = first; task < end; task++)
            dense_block_backward(c, G, task, scratch, sums);
#pragma omp barrier
#pragma omp for schedule(static)
        for (size_t at = 0; at < per_thread; at++) {
            double total = 0.0;
            for (int u = 0; u < threads; u++)
                total += c->thread_sums[(size_t)u * per_thread + at];
            c->pair_sums[at] = total;
        }
    }
}

/* From the per-pair sums to the gate and role blocks and to h_bar. */
static void gate_backward(official_call *c, official_params *p) {
    const official_dims *dm = &c->dims;
    int n = c->n_pairs;
    double sigma_F = 0, sigma_I = 0, pi_F[4] = {0}, pi_I[4] = {0};
    for (int q = 0; q < n; q++) {
        const double *ps = c->pair_sums + (size_t)q * PS_COUNT;
        sigma_F += ps[PS_F];
        pi_F[2] += ps[PS_F1];
        pi_F[3] += ps[PS_F2];
        sigma_I += ps[PS_I];
        pi_I[2] += ps[PS_I1];
        pi_I[3] += ps[PS_I2];
    }
    for (int i = 0; i < 2; i++) {
        pi_F[i] = c->rho_loss[i] * sigma_F;
        pi_I[i] = c->rho_loss[i] * sigma_I;
    }
    *p->grad[OB_GATE_F_B] += (float)sigma_F;
    *p->grad[OB_GATE_I_B] += (float)sigma_I;
    if (dm->has_h) {
        const float *wFh = official_gate_h(p, OB_GATE_F, 0);
        const float *wIh = official_gate_h(p, OB_GATE_I, 0);
        float *gFh = official_gate_h(p, OB_GATE_F, 1);
        float *gIh = official_gate_h(p, OB_GATE_I, 1);
        for (int j = 0; j < dm->hw; j++) {
            double sF = 0, sI = 0;
            for (int q = 0; q < n; q++) {
                const double *ps = c->pair_sums + (size_t)q * PS_COUNT;
                float h = c->mlp.h[(size_t)q * dm->hw + j];
                sF += ps[PS_F] * h;
                sI += ps[PS_I] * h;
            }
            gFh[j] += (float)sF;
            gIh[j] += (float)sI;
        }
        for (int q = 0; q < n; q++) {
            const double *ps = c->pair_sums + (size_t)q * PS_COUNT;
            float *hg = c->mlp.h_grad + (size_t)q * dm->hw;
            for (int j = 0; j < dm->hw; j++)
                hg[j] = (float)(wFh[j] * ps[PS_F] + wIh[j] * ps[PS_I]);
        }
    }
    if (dm->has_p) {
        const float *A = p->value[OB_ROLE_W], *a = p->value[OB_ROLE_B];
        const float *wFz = official_gate_z(p, OB_GATE_F, 0);
        const float *wIz = official_gate_z(p, OB_GATE_I, 0);
        float *gA = p->grad[OB_ROLE_W], *ga = p->grad[OB_ROLE_B];
        float *gFz = official_gate_z(p, OB_GATE_F, 1);
        float *gIz = official_gate_z(p, OB_GATE_I, 1);
        for (int j = 0; j < dm->zw; j++) {
            double zF = a[j] * sigma_F, zI = a[j] * sigma_I;
            for (int i = 0; i < 4; i++) {
                zF += A[j * 4 + i] * pi_F[i];
                zI += A[j * 4 + i] * pi_I[i];
                gA[j * 4 + i] += (float)(wFz[j] * pi_F[i] + wIz[j] * pi_I[i]);
            }
            gFz[j] += (float)zF;
            gIz[j] += (float)zI;
            ga[j] += (float)(wFz[j] * sigma_F + wIz[j] * sigma_I);
        }
    }
}

void official_meta_gradient(official_call *c, official_params *p,
                            const melon_sparse_grad *G) {
    pair_sums(c, G);
    gate_backward(c, p);
    if (!c->dims.has_h) return;
    int nodes = c->side[OFFICIAL_USER].n_nodes + c->side[OFFICIAL_ITEM].n_nodes;
#pragma omp parallel num_threads(official_team_size(c)) \
    if (nodes >= OFFICIAL_PARALLEL_NODES)
    {
#pragma omp single
        official_mlp_backward(c, p);
        official_gat_backward(c, p);
    }
}
