/* Per-online-batch update time of Default fine-tuning on ml-100k, for
 * BPR-MF and NCF (batch 256, d = 64): the median over runs of each run's
 * mean update time, and triples per second. Evaluation scoring is not
 * included (protocol.md section 4).
 *
 * usage: bench_update [FILE] [RUNS]   (default: ml-100k from the shared data
 * folder or $MELON_BENCH_DATA; 5 runs) */
#include "eval/runner.h"
#include "melon/stats.h"

#include "bench_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *path = bench_data_path(argc > 1 ? argv[1] : NULL);
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (runs < 1 || runs > 100) runs = 5;
    melon_config cfg;
    melon_stream stream;
    if (bench_open_stream(&cfg, path, 1, 0, &stream, "bench_update") != 0) return 1;
    melon_err err = {{0}};
    printf("Default fine-tuning, %s: %zu interactions, batch %d, d %d, %d runs, "
           "1 pre-training epoch, threads %s\n",
           path, stream.n, cfg.run.batch_size, cfg.model.dim, runs,
           getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS") : "all");
    const char *models[] = {"bpr", "ncf"};
    double bpr_ms = 0.0;
    for (int k = 0; k < 2; k++) {
        cfg.model.name = models[k];
        double means[100], medians[100], p90s[100];
        for (int r = 0; r < runs; r++) {
            melon_run_result res;
            cfg.run.seed = (uint64_t)r + 1;
            cfg.model.seed = cfg.run.seed;
            if (melon_run_stream(&cfg, &stream, &res, &err) != 0) {
                fprintf(stderr, "bench_update: %s\n", err.msg);
                return 1;
            }
            means[r] = 1e3 * res.update_mean_s;
            medians[r] = 1e3 * res.update_median_s;
            p90s[r] = 1e3 * res.update_p90_s;
            melon_run_result_free(&res);
        }
        double mean_ms = melon_median(means, (size_t)runs);
        if (k == 0) bpr_ms = mean_ms;
        printf("  %-4s update per batch: mean %.4f ms, median %.4f ms, p90 %.4f ms "
               "(medians over runs); %.0f triples/s; %.1fx BPR-MF\n",
               models[k], mean_ms, melon_median(medians, (size_t)runs),
               melon_median(p90s, (size_t)runs),
               cfg.run.batch_size / (mean_ms * 1e-3), mean_ms / bpr_ms);
    }
    melon_stream_free(&stream);
    return 0;
}
