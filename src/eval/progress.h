/* A one-line progress bar on stderr, shown only on a terminal (or when
 * forced), redrawn at most ten times a second. */
#ifndef MELON_PROGRESS_H
#define MELON_PROGRESS_H

#include <stddef.h>

typedef struct {
    int enabled;
    int epochs;
    double start;
    double phase_start;
    double last_draw;
    int last_epoch;
} melon_progress;

/* mode: -1 = only if stderr is a terminal, 0 = never, 1 = always. */
void melon_progress_init(melon_progress *p, int mode, int epochs);
/* epoch >= 0: pre-training epoch; epoch < 0: the online stream. */
void melon_progress_tick(melon_progress *p, int epoch, size_t done,
                         size_t total);
void melon_progress_finish(melon_progress *p);

#endif
