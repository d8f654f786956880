/* One Adam step of the meta-parameters (melon_meta_params_step), the step
 * every meta-learned strategy takes per batch, on SML's two transfer
 * networks at d = 64 (eight blocks each, 197k entries per network) and on
 * one block the size of a 16,384-row table (MetaSGD's alpha): the median
 * over repeats on one thread and on two, with the bytes it moves per
 * second (value, gradient and both moments read, three written).
 *
 * usage: bench_meta_adam [REPEATS]   (default 200) */
#include "nn/meta_params.h"
#include "melon/stats.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Fills p with the blocks of the given sizes (n_sets copies). */
static int fill(melon_meta_params *p, const size_t *sizes, int n_sizes,
                int n_sets) {
    melon_meta_adam_config cfg;
    melon_meta_adam_config_default(&cfg);
    cfg.l2 = 1e-4f;
    melon_meta_params_init(p, &cfg);
    melon_err err = {{0}};
    for (int set = 0; set < n_sets; set++)
        for (int b = 0; b < n_sizes; b++) {
            char name[16];
            snprintf(name, sizeof name, "s%d.b%d", set, b);
            float *v = melon_meta_params_add(p, name, sizes[b], 1, &err);
            if (!v) {
                fprintf(stderr, "bench_meta_adam: %s\n", err.msg);
                return -1;
            }
            for (size_t a = 0; a < sizes[b]; a++) {
                v[a] = 0.01f * (float)(a % 13);
                p->block[p->n_blocks - 1].grad[a] = 1e-3f * (float)((int)(a % 7) - 3);
            }
        }
    return 0;
}

/* Median ms of one step on 1 and on 2 threads, printed with bytes/s. */
static int time_steps(const char *what, melon_meta_params *p, int repeats) {
    double *ms = malloc((size_t)repeats * sizeof(double));
    if (!ms) return -1;
    size_t entries = melon_meta_params_count(p);
    printf("%s, %zu entries in %d blocks:\n", what, entries, p->n_blocks);
    double median[2];
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        melon_meta_params_step(p); /* warm-up */
        for (int r = 0; r < repeats; r++) {
            double t0 = now();
            melon_meta_params_step(p);
            ms[r] = 1e3 * (now() - t0);
        }
        median[threads - 1] = melon_median(ms, (size_t)repeats);
        printf("  %d thread%s: %.3f ms, %.1f GB/s\n", threads,
               threads > 1 ? "s" : " ", median[threads - 1],
               7.0 * 4.0 * (double)entries / (median[threads - 1] * 1e6));
    }
    printf("  two threads / one: %.2f\n", median[1] / median[0]);
    free(ms);
    return 0;
}

int main(int argc, char **argv) {
    int repeats = argc > 1 ? atoi(argv[1]) : 200;
    if (repeats < 1 || repeats > 100000) repeats = 200;
    printf("Meta-parameter Adam step (melon_meta_params_step), median of %d "
           "steps\n", repeats);
    /* K1, beta1, K2, beta2, F1, phi1, F2, phi2 of one transfer (d 64, h 512) */
    const size_t transfer[8] = {30, 10, 50, 5, 320 * 512, 512, 512 * 64, 64};
    const size_t table[1] = {(size_t)16384 * 64};
    melon_meta_params p;
    int rc = fill(&p, transfer, 8, 2) != 0 ||
             time_steps("SML's two transfers at d 64", &p, repeats) != 0;
    melon_meta_params_free(&p);
    rc = rc || fill(&p, table, 1, 1) != 0 ||
         time_steps("one table of 16,384 rows at d 64 (MetaSGD's alpha)", &p,
                    repeats) != 0;
    melon_meta_params_free(&p);
    return rc;
}
