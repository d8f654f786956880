/* LSD radix sort (8 passes of 8 bits) on the order-preserving bit pattern of
 * the time: stable by construction and O(n). Passes where every key has the
 * same byte are skipped, which removes most of them for timestamps. */
#include "sort.h"

#include <stdlib.h>
#include <string.h>

/* Maps a double to an unsigned integer with the same order. */
static uint64_t sortable_bits(double value) {
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    return (bits >> 63) ? ~bits : bits | ((uint64_t)1 << 63);
}

int melon_sort_by_time(uint32_t *order, size_t n, const double *time,
                       melon_err *err) {
    if (n < 2) return 0;
    uint64_t *key = melon_alloc(2 * n * sizeof *key, err);
    uint32_t *spare = melon_alloc(n * sizeof *spare, err);
    size_t (*count)[256] = melon_calloc(8, sizeof *count, err);
    if (!key || !spare || !count) {
        free(key);
        free(spare);
        free(count);
        return -1;
    }
    uint64_t *key_in = key, *key_out = key + n;
    uint32_t *idx_in = order, *idx_out = spare;
    for (size_t k = 0; k < n; k++) {
        key_in[k] = sortable_bits(time[order[k]]);
        for (int pass = 0; pass < 8; pass++)
            count[pass][(key_in[k] >> (8 * pass)) & 255]++;
    }
    for (int pass = 0; pass < 8; pass++) {
        size_t *bucket = count[pass];
        int shift = 8 * pass;
        if (bucket[(key_in[0] >> shift) & 255] == n) continue;
        size_t start = 0;
        for (int b = 0; b < 256; b++) {
            size_t c = bucket[b];
            bucket[b] = start;
            start += c;
        }
        for (size_t k = 0; k < n; k++) {
            size_t dst = bucket[(key_in[k] >> shift) & 255]++;
            key_out[dst] = key_in[k];
            idx_out[dst] = idx_in[k];
        }
        uint64_t *kt = key_in;
        key_in = key_out;
        key_out = kt;
        uint32_t *it = idx_in;
        idx_in = idx_out;
        idx_out = it;
    }
    if (idx_in != order) memcpy(order, idx_in, n * sizeof *order);
    free(key);
    free(spare);
    free(count);
    return 0;
}
