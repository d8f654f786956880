/* One-head graph attention over a node's sampled neighbours (MeLON paper,
 * Eq. 9; update-strategies.md A.3 item 5): for neighbour k with feature
 * e_k and the node's own feature e_self,
 *   pi_k = a_nb . e_k + a_self . e_self,  lambda_k = LeakyReLU(pi_k),
 *   alpha = softmax(lambda),  mu = sum_k alpha_k e_k.
 * The paper's a_U^T [e_u; e_i'] and the code's a^T [e_nb; e_self] are both
 * this form with a split into its two halves. Features are constants (the
 * recommender's embeddings, detached); only a gets a gradient. With no
 * neighbour, mu = 0. */
#ifndef MELON_ATTENTION_H
#define MELON_ATTENTION_H

typedef struct {
    int n;          /* neighbours */
    float *pi;      /* [n] pre-activations (kept for the backward) */
    float *alpha;   /* [n] attention weights */
} melon_attention_cache;

/* nb: [n][dim] row-major neighbour features; pi and alpha of `cache` must
 * hold n floats; writes mu[dim]. */
void melon_attention_forward(int n, int dim, const float *nb,
                             const float *self, const float *a_nb,
                             const float *a_self, float slope,
                             melon_attention_cache *cache, float *mu);

/* The backward's first half: dpi[k] = dL/dpi_k for upstream dmu = dL/dmu
 * (dpi holds n floats); returns sum_k dpi_k. Then
 *   dL/da_nb = sum_k dpi_k e_k,  dL/da_self = (sum_k dpi_k) e_self. */
float melon_attention_backward_logits(int n, int dim, const float *nb,
                                      float slope,
                                      const melon_attention_cache *cache,
                                      const float *dmu, float *dpi);

/* Adds the gradient of a loss with upstream dmu to da_nb and da_self (each
 * [dim]); dpi is scratch for n floats. */
void melon_attention_backward(int n, int dim, const float *nb,
                              const float *self, float slope,
                              const melon_attention_cache *cache,
                              const float *dmu, float *dpi, float *da_nb,
                              float *da_self);

#endif
