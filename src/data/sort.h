/* Stable sort of record indices by a double key. */
#ifndef MELON_DATA_SORT_H
#define MELON_DATA_SORT_H

#include "melon/common.h"

#include <stddef.h>
#include <stdint.h>

/* Reorders order[0..n) so that time[order[k]] is non-decreasing; equal
 * times keep their relative order. time holds no NaN and no -0. */
int melon_sort_by_time(uint32_t *order, size_t n, const double *time,
                       melon_err *err);

#endif
