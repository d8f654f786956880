/* Per-online-batch time of MeLON (meta step + update, evaluation excluded:
 * the runner's update time, protocol.md section 4) beside Default's, for
 * BPR-MF and NCF on ml-100k, batch 256, d 64: the median over runs of each
 * run's median batch time, the ratio to Default, and the peak memory of a
 * run (each run is a child process, so its peak RSS is its own), compared
 * with Default's plus the interaction history.
 *
 * usage: bench_melon [--data FILE] [--runs N] [--epochs E] [--threads T]
 *                    [--models bpr,ncf] [--widths 20,16,12]
 * Defaults: ml-100k from the shared data folder (or $MELON_BENCH_DATA),
 * 5 runs, 1 pre-training epoch, 2 threads, both models, role width 20.
 * The paper form runs at every width given; the official form (at its own
 * fixed widths) when this build has it. */
#include "melon/metrics.h"
#include "melon/stats.h"
#include "eval/runner.h"

#include "bench_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_RUNS 50
#define MAX_WIDTHS 8

typedef struct {
    int ok;
    double median_s, mean_s, peak_mb, hr10;
    char error[MELON_ERR_MSG];
} run_figures;

typedef struct {
    const char *strategy;
    melon_variant variant;
    int role_width;      /* 0: not MeLON */
} setting;

static void child_run(melon_config cfg, const melon_stream *s, int fd) {
    run_figures f = {0};
    melon_run_result res;
    melon_err err = {{0}};
    if (melon_run_stream(&cfg, s, &res, &err) == 0) {
        f.ok = 1;
        f.median_s = res.update_median_s;
        f.mean_s = res.update_mean_s;
        f.peak_mb = res.peak_rss_mb;
        f.hr10 = melon_metric_hr(&res.total, 1);
        melon_run_result_free(&res);
    } else {
        snprintf(f.error, sizeof f.error, "%s", err.msg);
    }
    ssize_t w = write(fd, &f, sizeof f);
    _exit(w == (ssize_t)sizeof f ? 0 : 1);
}

static int run_in_child(const melon_config *cfg, const melon_stream *s,
                        run_figures *f) {
    int pipe_fd[2];
    if (pipe(pipe_fd) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(pipe_fd[0]);
        child_run(*cfg, s, pipe_fd[1]);
    }
    close(pipe_fd[1]);
    ssize_t got = read(pipe_fd[0], f, sizeof *f);
    close(pipe_fd[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid || got != (ssize_t)sizeof *f) return -1;
    return 0;
}

/* Median figures of `runs` runs (seeds 1..runs); ok = 0 with the first
 * error when a run fails. */
static run_figures bench_setting(melon_config cfg, const melon_stream *s,
                                 const setting *st, int runs) {
    cfg.run.strategy = st->strategy;
    cfg.strategy.melon.variant = st->variant;
    if (st->role_width > 0) cfg.strategy.melon.role_width = st->role_width;
    double med[MAX_RUNS], mean[MAX_RUNS], peak[MAX_RUNS], hr[MAX_RUNS];
    run_figures out = {0};
    for (int r = 0; r < runs; r++) {
        cfg.run.seed = (uint64_t)r + 1;
        cfg.model.seed = cfg.run.seed;
        run_figures f;
        if (run_in_child(&cfg, s, &f) != 0 || !f.ok) {
            snprintf(out.error, sizeof out.error, "%s",
                     f.error[0] ? f.error : "the run's process failed");
            return out;
        }
        med[r] = f.median_s, mean[r] = f.mean_s, peak[r] = f.peak_mb, hr[r] = f.hr10;
    }
    out.ok = 1;
    out.median_s = melon_median(med, (size_t)runs);
    out.mean_s = melon_median(mean, (size_t)runs);
    out.peak_mb = melon_median(peak, (size_t)runs);
    out.hr10 = melon_median(hr, (size_t)runs);
    return out;
}

static int parse_list(const char *text, int *out, int max) {
    int n = 0;
    for (const char *p = text; *p && n < max;) {
        out[n++] = atoi(p);
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
    return n;
}

static double load_average(void) {
    double load = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load) != 1) load = -1.0;
        fclose(f);
    }
    return load;
}

int main(int argc, char **argv) {
    const char *path = bench_data_path(NULL);
    int runs = 5, epochs = 1, threads = 2, widths[MAX_WIDTHS] = {20}, n_widths = 1;
    const char *models = "bpr,ncf";
    for (int a = 1; a + 1 < argc; a += 2) {
        if (strcmp(argv[a], "--data") == 0) path = argv[a + 1];
        else if (strcmp(argv[a], "--runs") == 0) runs = atoi(argv[a + 1]);
        else if (strcmp(argv[a], "--epochs") == 0) epochs = atoi(argv[a + 1]);
        else if (strcmp(argv[a], "--threads") == 0) threads = atoi(argv[a + 1]);
        else if (strcmp(argv[a], "--models") == 0) models = argv[a + 1];
        else if (strcmp(argv[a], "--widths") == 0)
            n_widths = parse_list(argv[a + 1], widths, MAX_WIDTHS);
        else {
            fprintf(stderr, "bench_melon: unknown option %s\n", argv[a]);
            return 2;
        }
    }
    if (runs < 1 || runs > MAX_RUNS || epochs < 0 || threads < 1 || n_widths < 1) {
        fprintf(stderr, "bench_melon: bad --runs, --epochs, --threads or --widths\n");
        return 2;
    }
    melon_config cfg;
    melon_stream stream;
    if (bench_open_stream(&cfg, path, epochs, threads, &stream, "bench_melon") != 0)
        return 1;
    /* the history graph: every interaction on both sides, id and position */
    double history_mb = (double)stream.n * 2.0 * (sizeof(int32_t) + sizeof(uint32_t)) / 1e6;
    printf("MeLON per online batch (meta step + update), %s: %zu interactions, "
           "batch %d, d %d, %d threads, %d runs (median), %d pre-training "
           "epoch(s); load average %.2f at start\n",
           path, stream.n, cfg.run.batch_size, cfg.model.dim, threads, runs,
           epochs, load_average());
    printf("%-5s %-24s %6s %12s %12s %10s %9s %8s\n", "model", "strategy",
           "width", "median ms", "mean ms", "x default", "peak MB", "HR@10");
    for (const char *m = models; *m;) {
        char model[16] = {0};
        size_t len = strcspn(m, ",");
        snprintf(model, sizeof model, "%.*s", (int)len, m);
        m += len + (m[len] == ',');
        cfg.model.name = model;
        setting base = {"default", MELON_VARIANT_PAPER, 0};
        run_figures def = bench_setting(cfg, &stream, &base, runs);
        if (!def.ok) {
            fprintf(stderr, "bench_melon: default on %s: %s\n", model, def.error);
            return 1;
        }
        printf("%-5s %-24s %6s %12.3f %12.3f %10s %9.0f %8.4f\n", model,
               "default", "-", 1e3 * def.median_s, 1e3 * def.mean_s, "1.00",
               def.peak_mb, def.hr10);
        setting settings[MAX_WIDTHS + 1];
        int n_settings = 0;
        for (int w = 0; w < n_widths; w++)
            settings[n_settings++] = (setting){"melon", MELON_VARIANT_PAPER, widths[w]};
        settings[n_settings++] = (setting){"melon", MELON_VARIANT_OFFICIAL, 0};
        for (int k = 0; k < n_settings; k++) {
            const setting *st = &settings[k];
            int paper = st->variant == MELON_VARIANT_PAPER;
            run_figures f = bench_setting(cfg, &stream, st, runs);
            const char *label = paper ? "melon (paper form)" : "melon (official form)";
            if (!f.ok) {
                printf("%-5s %-24s   not measured: %s\n", model, label, f.error);
                continue;
            }
            char width[16];
            snprintf(width, sizeof width, paper ? "%d" : "-", st->role_width);
            printf("%-5s %-24s %6s %12.3f %12.3f %10.1f %9.0f %8.4f\n", model,
                   label, width, 1e3 * f.median_s, 1e3 * f.mean_s,
                   f.median_s / def.median_s, f.peak_mb, f.hr10);
            printf("      memory over Default %+.0f MB (allowance: history %.1f MB "
                   "+ 100 MB)\n", f.peak_mb - def.peak_mb, history_mb);
        }
    }
    printf("load average %.2f at the end\n", load_average());
    melon_stream_free(&stream);
    return 0;
}
