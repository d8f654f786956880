#include "progress.h"

#include "melon/common.h"

#include <stdio.h>
#include <unistd.h>

void melon_progress_init(melon_progress *p, int mode, int epochs) {
    p->enabled = mode < 0 ? isatty(STDERR_FILENO) : mode;
    p->epochs = epochs;
    p->start = p->phase_start = melon_now();
    p->last_draw = 0.0;
    p->last_epoch = -2;
}

void melon_progress_tick(melon_progress *p, int epoch, size_t done,
                         size_t total) {
    if (!p->enabled) return;
    double now = melon_now();
    if (epoch != p->last_epoch) {
        p->phase_start = now;
        p->last_epoch = epoch;
    }
    if (done < total && now - p->last_draw < 0.1) return;
    p->last_draw = now;
    const int width = 30;
    int filled = total ? (int)((double)width * (double)done / (double)total) : width;
    char bar[64];
    for (int k = 0; k < width; k++) bar[k] = k < filled ? '#' : '.';
    bar[width] = 0;
    double elapsed = now - p->phase_start;
    double eta = done ? elapsed * (double)(total - done) / (double)done : 0.0;
    char phase[48];
    if (epoch >= 0)
        snprintf(phase, sizeof phase, "pre-train %d/%d", epoch + 1, p->epochs);
    else
        snprintf(phase, sizeof phase, "online");
    fprintf(stderr, "\r%-16s [%s] %zu/%zu batches  %.1fs left   ", phase, bar,
            done, total, eta);
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
}

void melon_progress_finish(melon_progress *p) {
    if (p->enabled) fflush(stderr);
}
