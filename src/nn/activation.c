/* ReLU, h = max(a, 0), and its backward e = h_bar * [a > 0]
 * (update-strategies.md 1.3: e_l = h_bar_l * [a_l > 0]). */
#include "nn/nn.h"

void melon_relu_forward(int n, int width, float *h, int ldh) {
    for (int p = 0; p < n; p++) {
        float *row = h + (size_t)p * ldh;
        for (int j = 0; j < width; j++) row[j] = row[j] > 0.0f ? row[j] : 0.0f;
    }
}

void melon_relu_backward(int n, int width, const float *h, int ldh,
                         float *grad, int ldgrad) {
    for (int p = 0; p < n; p++) {
        const float *hrow = h + (size_t)p * ldh;
        float *grow = grad + (size_t)p * ldgrad;
        for (int j = 0; j < width; j++)
            grow[j] = hrow[j] > 0.0f ? grow[j] : 0.0f;
    }
}
