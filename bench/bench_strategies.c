/* Per-online-batch update time (meta step + update, the runner's update
 * time, protocol.md section 4) of every registered strategy on ml-100k,
 * batch 256, d 64, 2 threads, for BPR-MF and NCF, as a ratio to Default
 * (the MeLON paper's Table 4). Each run pre-trains 1 epoch; the figure is
 * the median over runs of each run's median per-batch time. A strategy
 * that does not apply to a model is skipped with its message; a failed
 * run makes the exit status 1. With S2Meta or SML selected, it then
 * prints their arithmetic floors on BPR-MF (strategy_floors.h): the part
 * of the update the method prescribes, timed alone, against Default.
 *
 * usage: bench_strategies [FILE] [RUNS] [NAME,NAME,...]
 *   FILE: ("" for the default) ml-100k from the shared data folder or $MELON_BENCH_DATA;
 *   RUNS: default 5; names: default every strategy (Default always runs). */
#include "eval/runner.h"
#include "melon/stats.h"
#include "update/strategy.h"

#include "bench_stream.h"
#include "strategy_floors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 100

static int selected(const char *name, const char *list) {
    if (!list || strcmp(name, "default") == 0) return 1;
    size_t len = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += len)
        if ((p == list || p[-1] == ',') && (p[len] == ',' || p[len] == 0))
            return 1;
    return 0;
}

/* Median over runs of the per-batch median update time, in ms; -1 with
 * the message in err when the run fails, -2 when the strategy does not
 * apply to the model (MELON_NOT_APPLICABLE). */
static double time_strategy(melon_config *cfg, const melon_stream *stream,
                            int runs, double *mean_ms, melon_err *err) {
    double medians[MAX_RUNS], means[MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        melon_run_result res;
        cfg->run.seed = (uint64_t)r + 1;
        cfg->model.seed = cfg->run.seed;
        int rc = melon_run_stream(cfg, stream, &res, err);
        if (rc != 0) return rc == MELON_NOT_APPLICABLE ? -2.0 : -1.0;
        medians[r] = 1e3 * res.update_median_s;
        means[r] = 1e3 * res.update_mean_s;
        melon_run_result_free(&res);
    }
    *mean_ms = melon_median(means, (size_t)runs);
    return melon_median(medians, (size_t)runs);
}

int main(int argc, char **argv) {
    const char *path = bench_data_path(argc > 1 ? argv[1] : NULL);
    int runs = argc > 2 ? atoi(argv[2]) : 5;
    if (runs < 1 || runs > MAX_RUNS) runs = 5;
    const char *only = argc > 3 ? argv[3] : NULL;
    melon_config cfg;
    melon_stream stream;
    if (bench_open_stream(&cfg, path, 1, 2, &stream, "bench_strategies") != 0)
        return 1;
    melon_err err = {{0}};
    printf("Update time per online batch (meta step + update), %s: %zu "
           "interactions, batch %d, d %d, %d threads, 1 pre-training epoch, "
           "median over %d runs of each run's median (mean in brackets)\n\n",
           path, stream.n, cfg.run.batch_size, cfg.model.dim, cfg.run.threads,
           runs);
    printf("%-12s %24s %8s   %24s %8s\n", "strategy", "BPR-MF ms", "ratio",
           "NCF ms", "ratio");
    const char *models[2] = {"bpr", "ncf"};
    double default_ms[2] = {0.0, 0.0}, s2meta_ms = 0.0, sml_ms = 0.0;
    int failed = 0;
    for (int k = 0; melon_strategy_names[k]; k++) {
        const char *name = melon_strategy_names[k];
        if (!selected(name, only)) continue;
        char cell[2][80], note[2][MELON_ERR_MSG + 16];
        note[0][0] = note[1][0] = 0;
        for (int mdl = 0; mdl < 2; mdl++) {
            cfg.model.name = models[mdl];
            cfg.run.strategy = name;
            double mean_ms = 0.0;
            err.msg[0] = 0;
            double ms = time_strategy(&cfg, &stream, runs, &mean_ms, &err);
            if (ms < 0.0) {
                int skipped = ms == -2.0;
                snprintf(cell[mdl], sizeof cell[mdl], "%24s %8s",
                         skipped ? "n/a" : "failed", "-");
                snprintf(note[mdl], sizeof note[mdl], "%s %s: %s",
                         skipped ? "skipped" : "FAILED", models[mdl], err.msg);
                if (!skipped) failed = 1;
                continue;
            }
            if (strcmp(name, "default") == 0) default_ms[mdl] = ms;
            if (mdl == 0 && strcmp(name, "s2meta") == 0) s2meta_ms = ms;
            if (mdl == 0 && strcmp(name, "sml") == 0) sml_ms = ms;
            char value[40];
            snprintf(value, sizeof value, "%.3f (%.3f)", ms, mean_ms);
            snprintf(cell[mdl], sizeof cell[mdl], "%24s %7.1fx", value,
                     default_ms[mdl] > 0 ? ms / default_ms[mdl] : 0.0);
        }
        printf("%-12s %s   %s\n", name, cell[0], cell[1]);
        for (int mdl = 0; mdl < 2; mdl++)
            if (note[mdl][0]) printf("  (%s)\n", note[mdl]);
        fflush(stdout);
    }
    if ((selected("s2meta", only) || selected("sml", only)) &&
        print_strategy_floors(&cfg, &stream, default_ms[0], s2meta_ms, sml_ms,
                              &err) != 0) {
        fprintf(stderr, "bench_strategies: %s\n", err.msg);
        failed = 1;
    }
    melon_stream_free(&stream);
    return failed;
}
