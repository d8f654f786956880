/* Parameter initialisers (protocol.md section 6: normal(0, 0.01)). */
#include "nn/nn.h"

void melon_init_normal(float *x, size_t n, float std, melon_rng *rng) {
    for (size_t k = 0; k < n; k++)
        x[k] = (float)(std * melon_rng_normal(rng));
}
