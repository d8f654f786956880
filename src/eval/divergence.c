/* Whether a run's losses say its updates diverged (runner.h,
 * melon_losses_diverged): used by the runner on every run and by the
 * report on result files. */
#include "eval/runner.h"

#include <math.h>
#include <stdio.h>

/* BPR loss of a model that gives every item the same score. */
#define CHANCE_LOSS 0.69314718055994531

static void diverged_message(char *why, size_t why_size, const char *what,
                             double loss, const char *against, double ref,
                             const char *strategy) {
    snprintf(why, why_size,
             "%s is %.4g, more than twice %s (%.4g) and above 2 ln 2 = 1.386: "
             "the %s updates diverged (a smaller learning rate may help)",
             what, loss, against, ref, strategy);
}

int melon_losses_diverged(const double *pretrain, int epochs,
                          const double *online, size_t n, const char *strategy,
                          char *why, size_t why_size) {
    double lowest = INFINITY; /* the lowest epoch loss so far */
    char what[64];
    for (int e = 0; e < epochs; e++) {
        double l = pretrain[e];
        snprintf(what, sizeof what, "the mean loss of pre-training epoch %d", e + 1);
        if (!isfinite(l)) {
            snprintf(why, why_size, "%s is %g: the %s updates diverged", what,
                     l, strategy);
            return 1;
        }
        if (l > 2.0 * lowest && l > 2.0 * CHANCE_LOSS) {
            diverged_message(why, why_size, what, l, "the lowest before it",
                             lowest, strategy);
            return 1;
        }
        lowest = fmin(lowest, l);
    }
    double sum = 0.0;
    for (size_t t = 0; t < n; t++) {
        if (!isfinite(online[t])) {
            snprintf(why, why_size, "the loss of online batch %zu is %g: the "
                     "%s updates diverged", t + 1, online[t], strategy);
            return 1;
        }
        sum += online[t];
    }
    /* against the last epoch: the stream's new interactions are harder
     * than the past it was trained on, but not twice as hard */
    double last = epochs > 0 ? fmax(pretrain[epochs - 1], CHANCE_LOSS) : CHANCE_LOSS;
    if (n > 0 && sum / (double)n > 2.0 * last) {
        diverged_message(why, why_size, "the mean loss of the online batches",
                         sum / (double)n,
                         epochs > 0 ? "the last pre-training epoch's or ln 2"
                                    : "ln 2",
                         last, strategy);
        return 1;
    }
    return 0;
}
