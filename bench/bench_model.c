/* Times the recommenders on ml-100k-sized tables (943 users, 1682 items,
 * d = 64, NCF layers 4 x 64): forward_backward + sparse_grad_accumulate of
 * one batch of n triples, and scoring 256 users x 100 candidates.
 * Prints the median of the timed runs after warm-up.
 *
 * usage: bench_model [runs]   (default 51; threads from OMP_NUM_THREADS) */
#include "model/grad.h"
#include "melon/stats.h"
#include "melon/model.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define N_USERS 943
#define N_ITEMS 1682
#define WARMUP 5

static void random_triples(melon_triple *triples, int n, melon_rng *rng) {
    for (int r = 0; r < n; r++) {
        triples[r].user = (int32_t)melon_rng_below(rng, N_USERS);
        triples[r].item = (int32_t)melon_rng_below(rng, N_ITEMS);
        do {
            triples[r].negative = (int32_t)melon_rng_below(rng, N_ITEMS);
        } while (triples[r].negative == triples[r].item);
    }
}

/* Median seconds of forward_backward + accumulate over `runs` calls. */
static int bench_update(const char *name, int n, int runs, double *seconds) {
    melon_model m;
    melon_grads g;
    melon_sparse_grad sg;
    melon_err err;
    if (melon_model_create(&m, name, N_USERS, N_ITEMS, NULL, n, &err) != 0 ||
        melon_grads_init(&g, &m, n, &err) != 0 ||
        melon_sparse_grad_init(&sg, &m, n, &err) != 0) {
        fprintf(stderr, "bench_model: %s\n", err.msg);
        return -1;
    }
    melon_triple *triples = malloc((size_t)n * sizeof *triples);
    double *times = malloc((size_t)runs * sizeof *times);
    if (!triples || !times) return -1;
    melon_rng rng;
    melon_rng_seed(&rng, 1);
    double checksum = 0.0;
    for (int run = -WARMUP; run < runs; run++) {
        random_triples(triples, n, &rng);
        double start = melon_now();
        m.ops->forward_backward(&m, triples, n, &g);
        melon_sparse_grad_accumulate(&sg, &m, triples, &g, NULL);
        double elapsed = melon_now() - start;
        if (run >= 0) times[run] = elapsed;
        checksum += g.loss[0];
    }
    *seconds = melon_median(times, (size_t)runs);
    if (checksum != checksum) fprintf(stderr, "bench_model: NaN loss\n");
    free(times);
    free(triples);
    melon_sparse_grad_free(&sg);
    melon_grads_free(&g);
    melon_model_free(&m);
    return 0;
}

/* Median seconds to score n_users x n_candidates pairs in one call. */
static int bench_score(const char *name, int n_users, int n_candidates,
                       int runs, double *seconds) {
    melon_model m;
    melon_err err;
    if (melon_model_create(&m, name, N_USERS, N_ITEMS, NULL, 256, &err) != 0) {
        fprintf(stderr, "bench_model: %s\n", err.msg);
        return -1;
    }
    size_t n = (size_t)n_users * n_candidates;
    int32_t *users = malloc(n * sizeof *users);
    int32_t *items = malloc(n * sizeof *items);
    float *scores = malloc(n * sizeof *scores);
    double *times = malloc((size_t)runs * sizeof *times);
    if (!users || !items || !scores || !times) return -1;
    melon_rng rng;
    melon_rng_seed(&rng, 2);
    for (size_t p = 0; p < n; p++) {
        users[p] = (int32_t)((p / n_candidates) % N_USERS);
        items[p] = (int32_t)melon_rng_below(&rng, N_ITEMS);
    }
    for (int run = -WARMUP; run < runs; run++) {
        double start = melon_now();
        m.ops->score(&m, users, items, n, scores);
        double elapsed = melon_now() - start;
        if (run >= 0) times[run] = elapsed;
    }
    *seconds = melon_median(times, (size_t)runs);
    free(times);
    free(scores);
    free(items);
    free(users);
    melon_model_free(&m);
    return 0;
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 51;
    if (runs < 5) runs = 5;
    printf("bench_model: %d users, %d items, d = 64, NCF layers 4 x 64; "
           "%d threads; median of %d runs after %d warm-up\n",
           N_USERS, N_ITEMS, omp_get_max_threads(), runs, WARMUP);
    static const char *models[] = {"bpr", "ncf"};
    static const int sizes[] = {256, 512};
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < 2; s++) {
            double seconds;
            if (bench_update(models[k], sizes[s], runs, &seconds) != 0)
                return 1;
            printf("%-4s forward_backward + accumulate, n = %3d: %9.4f ms\n",
                   models[k], sizes[s], 1e3 * seconds);
        }
    for (int k = 0; k < 2; k++) {
        double seconds;
        if (bench_score(models[k], 256, 100, runs, &seconds) != 0) return 1;
        printf("%-4s score 256 x 100 = 25600 pairs: %9.4f ms  (%.3g pairs/s)\n",
               models[k], 1e3 * seconds, 25600.0 / seconds);
    }
    return 0;
}
