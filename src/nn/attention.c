#include "melon/attention.h"

#include <math.h>
#include <string.h>

static float dot(const float *x, const float *y, int dim) {
    float s = 0.0f;
    for (int c = 0; c < dim; c++) s += x[c] * y[c];
    return s;
}

void melon_attention_forward(int n, int dim, const float *nb,
                             const float *self, const float *a_nb,
                             const float *a_self, float slope,
                             melon_attention_cache *cache, float *mu) {
    cache->n = n;
    memset(mu, 0, (size_t)dim * sizeof *mu);
    if (n == 0) return;
    float self_term = dot(a_self, self, dim);
    float max_logit = -INFINITY;
    for (int k = 0; k < n; k++) {
        float pi = dot(a_nb, nb + (size_t)k * dim, dim) + self_term;
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

/* d lambda_k = alpha_k (e_k - mu) . dmu (softmax backward), then through
 * the LeakyReLU to pi_k, whose gradient reaches a_nb through e_k and a_self
 * through e_self. */
void melon_attention_backward(int n, int dim, const float *nb,
                              const float *self, float slope,
                              const melon_attention_cache *cache,
                              const float *dmu, float *da_nb,
                              float *da_self) {
    if (n == 0) return;
    float mu_dot = 0.0f;
    for (int k = 0; k < n; k++)
        mu_dot += cache->alpha[k] * dot(nb + (size_t)k * dim, dmu, dim);
    float self_total = 0.0f;
    for (int k = 0; k < n; k++) {
        const float *e = nb + (size_t)k * dim;
        float dlambda = cache->alpha[k] * (dot(e, dmu, dim) - mu_dot);
        float dpi = dlambda * (cache->pi[k] > 0.0f ? 1.0f : slope);
        for (int c = 0; c < dim; c++) da_nb[c] += dpi * e[c];
        self_total += dpi;
    }
    for (int c = 0; c < dim; c++) da_self[c] += self_total * self[c];
}
