/* Dump of MeLON's learning-rate matrix W of one batch (paper Figure 4):
 * one row per interaction, one column per model coordinate touched by at
 * least one interaction of the batch. */
#ifndef MELON_LR_MATRIX_H
#define MELON_LR_MATRIX_H

#include "melon/common.h"

#include <stddef.h>
#include <stdint.h>

typedef struct melon_lr_dump melon_lr_dump;

/* Opens a dump of W for one batch of n_rows interactions (rows named by the
 * caller). */
int melon_lr_dump_open(melon_lr_dump **d, const char *path, int n_rows,
                       melon_err *err);
/* Records W[row, tensor[tensor_row, col]] = rate. Setting the same cell
 * twice keeps the last rate. Out-of-range rows are ignored. */
void melon_lr_dump_set(melon_lr_dump *d, int row, const char *tensor,
                       int32_t tensor_row, int col, float rate);
/* Optional: a label for a row (e.g. "17:u3,i5,j9"), written in the first
 * column instead of the row number. The name is copied. */
void melon_lr_dump_name_row(melon_lr_dump *d, int row, const char *name);
/* Writes PATH (W: header line of column names like "user_emb[17,3]", one
 * line per interaction, empty cells where the interaction does not touch
 * the parameter) and the row and column means to a second file (PATH with
 * ".csv" replaced by "-means.csv"), both atomically
 * (core/atomic_file.h); frees d.
 *
 * Layout of PATH: the first column, "interaction", holds the row's name
 * (its number unless named); then one column per parameter, ordered by
 * tensor (in order of first appearance), row, then column.
 * Layout of the means file: "axis,name,mean,cells", one line per row
 * ("row", its name) then one per parameter ("column", its name); a mean is
 * over the row's or column's non-empty cells. Fields holding a comma (every
 * column name), a quote or a line break are quoted as RFC 4180 says. */
int melon_lr_dump_close(melon_lr_dump *d, melon_err *err);
/* Frees d without writing anything. */
void melon_lr_dump_abort(melon_lr_dump *d);
/* The means file written beside PATH. */
void melon_lr_dump_means_path(char *out, size_t size, const char *path);

#endif
