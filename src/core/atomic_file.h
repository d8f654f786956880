/* Result files are written to a temporary file beside the target and renamed
 * into place, so a reader never sees a half-written result. */
#ifndef MELON_ATOMIC_FILE_H
#define MELON_ATOMIC_FILE_H

#include "melon/common.h"

#include <stdio.h>

typedef struct {
    FILE *f;
    char path[4096];
    char tmp_path[4200];
} melon_atomic_file;

/* Flushes f; 0, or the errno of a write to it that failed (stdio keeps
 * only an error flag, but flushing again retries the buffered bytes and
 * sets errno afresh; EIO when it gives no reason). */
int melon_file_write_error(FILE *f);

int melon_atomic_open(melon_atomic_file *af, const char *path, melon_err *err);
/* Flushes, closes and renames; on any failure removes the temporary. */
int melon_atomic_commit(melon_atomic_file *af, melon_err *err);
/* Closes and removes the temporary. */
void melon_atomic_abort(melon_atomic_file *af);

#endif
