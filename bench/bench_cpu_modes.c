/* Per-online-batch update time (meta step + update, evaluation excluded)
 * with melon's two CPU settings on and off, in one process: OpenBLAS's
 * kernels for the CPU's instruction sets (blas_kernels.h) against the
 * generic Prescott kernels OpenBLAS falls back to on a CPU model it does
 * not know, and subnormal floats flushed to zero (float_mode.h) against
 * IEEE arithmetic. For Default on NCF and for MeLON (paper form) on BPR-MF
 * and NCF, ml-100k, batch 256, d 64, one pre-training epoch: the median
 * over runs of each run's median batch, the settings taking turns, and
 * each setting's ratio to both on. HR@10 shows whether results moved.
 *
 * usage: bench_cpu_modes [FILE] [RUNS] [THREADS]
 * (default: ml-100k from the shared data folder or $MELON_BENCH_DATA, 3
 * runs, 2 threads) */
#include "core/blas_kernels.h"
#include "melon/metrics.h"
#include "eval/runner.h"
#include "melon/stats.h"

#include "bench_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 20

typedef struct {
    const char *label;
    int cpu_kernels;  /* 0: OpenBLAS's generic kernels */
    int flush;        /* 0: IEEE subnormals */
} mode;

static const mode modes[] = {
    {"both on", 1, 1},
    {"generic kernels", 0, 1},
    {"IEEE subnormals", 1, 0},
    {"both off", 0, 0},
};
enum { N_MODES = sizeof modes / sizeof modes[0] };

int main(int argc, char **argv) {
    const char *path = bench_data_path(argc > 1 ? argv[1] : NULL);
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    int threads = argc > 3 ? atoi(argv[3]) : 2;
    if (runs < 1 || runs > MAX_RUNS) runs = 3;
    if (threads < 1) threads = 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    melon_blas_choose_kernels(); /* once per process: before the modes */
    const char *cpu = melon_blas_kernels_for_cpu();
    if (!cpu) {
        printf("bench_cpu_modes: this CPU has no kernels above the generic ones\n");
        return 0;
    }
    melon_config cfg;
    melon_stream stream;
    if (bench_open_stream(&cfg, path, 1, threads, &stream, "bench_cpu_modes") != 0)
        return 1;
    printf("%s: %zu interactions, batch %d, d %d, 1 pre-training epoch, %d threads, "
           "%d runs; kernels for this CPU: %s\n",
           path, stream.n, cfg.run.batch_size, cfg.model.dim, threads, runs, cpu);
    const struct {
        const char *model, *strategy;
    } work[] = {{"ncf", "default"}, {"bpr", "melon"}, {"ncf", "melon"}};
    for (size_t w = 0; w < sizeof work / sizeof work[0]; w++) {
        cfg.model.name = work[w].model;
        cfg.run.strategy = work[w].strategy;
        double medians[N_MODES][MAX_RUNS], hr10[N_MODES];
        for (int r = 0; r < runs; r++)
            for (int m = 0; m < N_MODES; m++) {
                melon_err err = {{0}};
                if (melon_blas_use_kernels(modes[m].cpu_kernels ? cpu : "Prescott",
                                           &err) != 0) {
                    fprintf(stderr, "bench_cpu_modes: %s\n", err.msg);
                    return 1;
                }
                cfg.run.ieee_subnormals = !modes[m].flush;
                melon_run_result res;
                if (melon_run_stream(&cfg, &stream, &res, &err) != 0) {
                    fprintf(stderr, "bench_cpu_modes: %s\n", err.msg);
                    return 1;
                }
                medians[m][r] = 1e3 * res.update_median_s;
                hr10[m] = melon_metric_hr(&res.total, 1);
                melon_run_result_free(&res);
            }
        printf("\n%s on %s: update per online batch (ms), x both on\n",
               work[w].strategy, work[w].model);
        double on = melon_median(medians[0], (size_t)runs);
        for (int m = 0; m < N_MODES; m++) {
            double ms = melon_median(medians[m], (size_t)runs);
            printf("  %-16s %9.3f  x%6.1f   HR@10 %.6f\n", modes[m].label, ms,
                   ms / on, hr10[m]);
        }
    }
    melon_stream_free(&stream);
    return 0;
}
