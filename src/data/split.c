/* Mini-batches and the past/online split (protocol.md section 2). */
#include "melon/stream.h"

#include <math.h>

int melon_split_make(melon_split *split, size_t n, int batch_size,
                     double train_ratio, melon_err *err) {
    split->batch_size = 0;
    split->n_batches = 0;
    split->n_past = 0;
    if (batch_size < 1)
        return melon_fail(err, "batch size must be at least 1, got %d",
                          batch_size);
    if (!(train_ratio > 0.0 && train_ratio < 1.0))
        return melon_fail(err, "train ratio must be in (0, 1), got %g",
                          train_ratio);
    size_t n_batches = n / (size_t)batch_size + (n % (size_t)batch_size != 0);
    /* The tiny margin keeps e.g. 100 * 0.29 = 28.999999999999996 at 29. */
    size_t n_past = (size_t)floor((double)n_batches * train_ratio + 1e-9);
    if (n_past < 1 || n_batches - n_past < 1)
        return melon_fail(err,
                          "stream too short to split: %zu interactions in "
                          "batches of %d make %zu batches, of which "
                          "floor(%zu * %g) = %zu are past and %zu online; "
                          "both need at least one",
                          n, batch_size, n_batches, n_batches, train_ratio,
                          n_past, n_batches - n_past);
    split->batch_size = batch_size;
    split->n_batches = n_batches;
    split->n_past = n_past;
    return 0;
}

size_t melon_batch_begin(const melon_split *split, size_t b) {
    return b * (size_t)split->batch_size;
}

size_t melon_batch_end(const melon_split *split, size_t n, size_t b) {
    size_t end = (b + 1) * (size_t)split->batch_size;
    return end < n ? end : n;
}
