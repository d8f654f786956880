#include "nn/attention.h"

#include <math.h>
#include <string.h>

static float dot(const float *x, const float *y, int dim) {
    float s = 0.0f;
    for (int c = 0; c < dim; c++) s += x[c] * y[c];
    return s;
}

/* Neighbours whose dot products run side by side. */
#define DOT_ROWS 8

/* out[j] = x . rows[j] for j < m <= DOT_ROWS (rows dim apart), each sum
 * taken in index order exactly as dot() takes it. The m sums advance
 * together, so their additions overlap instead of each waiting on the
 * one before (a single ordered sum is bound by the adder's latency). */
static void dot_rows(const float *x, const float *rows, int m, int dim,
                     float *out) {
    float acc[DOT_ROWS] = {0.0f};
    for (int c = 0; c < dim; c++) {
        float xc = x[c];
        for (int j = 0; j < m; j++) acc[j] += xc * rows[(size_t)j * dim + c];
    }
    for (int j = 0; j < m; j++) out[j] = acc[j];
}

static int rows_at(int n, int k0) { return n - k0 < DOT_ROWS ? n - k0 : DOT_ROWS; }

void melon_attention_forward(int n, int dim, const float *nb,
                             const float *self, const float *a_nb,
                             const float *a_self, float slope,
                             melon_attention_cache *cache, float *mu) {
    cache->n = n;
    memset(mu, 0, (size_t)dim * sizeof *mu);
    if (n == 0) return;
    float self_term = dot(a_self, self, dim);
    float max_logit = -INFINITY;
    for (int k0 = 0; k0 < n; k0 += DOT_ROWS)
        dot_rows(a_nb, nb + (size_t)k0 * dim, rows_at(n, k0), dim, cache->pi + k0);
    for (int k = 0; k < n; k++) {
        float pi = cache->pi[k] + self_term;
        cache->pi[k] = pi;
        float logit = pi > 0.0f ? pi : slope * pi;
        cache->alpha[k] = logit;
        if (logit > max_logit) max_logit = logit;
    }
    float total = 0.0f;
    for (int k = 0; k < n; k++) {
        cache->alpha[k] = expf(cache->alpha[k] - max_logit);
        total += cache->alpha[k];
    }
    for (int k = 0; k < n; k++) {
        cache->alpha[k] /= total;
        const float *e = nb + (size_t)k * dim;
        for (int c = 0; c < dim; c++) mu[c] += cache->alpha[k] * e[c];
    }
}

/* d lambda_k = alpha_k (t_k - sum_k' alpha_k' t_k') with t_k = e_k . dmu
 * (softmax backward), then through the LeakyReLU to pi_k. */
float melon_attention_backward_logits(int n, int dim, const float *nb,
                                      float slope,
                                      const melon_attention_cache *cache,
                                      const float *dmu, float *dpi) {
    float mu_dot = 0.0f;
    for (int k0 = 0; k0 < n; k0 += DOT_ROWS) {
        int m = rows_at(n, k0);
        dot_rows(dmu, nb + (size_t)k0 * dim, m, dim, dpi + k0); /* t_k */
        for (int j = 0; j < m; j++) mu_dot += cache->alpha[k0 + j] * dpi[k0 + j];
    }
    float total = 0.0f;
    for (int k = 0; k < n; k++) {
        float dlambda = cache->alpha[k] * (dpi[k] - mu_dot);
        dpi[k] = dlambda * (cache->pi[k] > 0.0f ? 1.0f : slope);
        total += dpi[k];
    }
    return total;
}

/* pi_k's gradient reaches a_nb through e_k and a_self through e_self. */
void melon_attention_backward(int n, int dim, const float *nb,
                              const float *self, float slope,
                              const melon_attention_cache *cache,
                              const float *dmu, float *dpi, float *da_nb,
                              float *da_self) {
    if (n == 0) return;
    float total = melon_attention_backward_logits(n, dim, nb, slope, cache,
                                                  dmu, dpi);
    for (int k = 0; k < n; k++) {
        const float *e = nb + (size_t)k * dim;
        for (int c = 0; c < dim; c++) da_nb[c] += dpi[k] * e[c];
    }
    for (int c = 0; c < dim; c++) da_self[c] += total * self[c];
}
