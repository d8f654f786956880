/* Running the cells of `melon bench`: each cell is `melon run` in a child
 * process with its stderr in a log beside its result; up to `jobs` at a
 * time; a cell with a result file is done, a cell whose strategy does not
 * apply to its model (exit status 3) gets a ".na" note and is done too. */
#include "bench_grid.h"

#include "melon/common.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_NOT_APPLICABLE 3

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int cell_is_done(const bench_grid *g, const bench_cell *c) {
    char path[4096];
    bench_cell_path(g, c, ".json", path, sizeof path);
    if (exists(path)) return 1;
    bench_cell_path(g, c, ".na", path, sizeof path);
    return exists(path);
}

/* Starts `melon run` for the cell; returns the child's pid or -1. */
static pid_t start_cell(const bench_grid *g, const bench_cell *c,
                        const char *self) {
    const bench_strategy *s = &g->strategies[c->strategy];
    char json[4096], log[4096], lr[4096], seed[32], threads[32], batch[32];
    bench_cell_path(g, c, ".json", json, sizeof json);
    bench_cell_path(g, c, ".log", log, sizeof log);
    bench_cell_path(g, c, "-lr.csv", lr, sizeof lr);
    snprintf(seed, sizeof seed, "%ld", g->seeds[c->seed]);
    snprintf(threads, sizeof threads, "%d", g->threads);
    snprintf(batch, sizeof batch, "%d", g->lr_matrix_batch);
    const char *argv[64 + 2 * BENCH_MAX_FORWARD + BENCH_MAX_EXTRA];
    int n = 0;
    argv[n++] = self;
    argv[n++] = "run";
    argv[n++] = "--data";
    argv[n++] = g->datasets[c->dataset].files;
    argv[n++] = "--name";
    argv[n++] = g->datasets[c->dataset].name;
    argv[n++] = "--model";
    argv[n++] = g->models[c->model];
    argv[n++] = "--strategy";
    argv[n++] = s->strategy;
    argv[n++] = "--label";
    argv[n++] = s->label;
    argv[n++] = "--seed";
    argv[n++] = seed;
    argv[n++] = "--threads";
    argv[n++] = threads;
    argv[n++] = "--out";
    argv[n++] = json;
    argv[n++] = "--quiet";
    argv[n++] = "--no-progress";
    for (int e = 0; e < s->n_extra; e++) argv[n++] = s->extra[e];
    for (int f = 0; f < g->n_forward; f++)
        if (bench_forward_applies(g, f, s->strategy)) argv[n++] = g->forward[f];
    if (g->lr_matrix_batch >= 0 && c->seed == 0 &&
        strncmp(s->strategy, "melon", 5) == 0) {
        argv[n++] = "--dump-lr-matrix";
        argv[n++] = lr;
        argv[n++] = "--dump-batch";
        argv[n++] = batch;
    }
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0) return pid;
    int log_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    int null_fd = open("/dev/null", O_RDWR);
    if (log_fd < 0 || null_fd < 0) _exit(127);
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execv(self, (char *const *)argv);
    _exit(127);
}

typedef struct {
    pid_t pid;
    int cell;
    double start;
} running_cell;

typedef struct {
    int total, done, failed, skipped, running;
    double busy_seconds;   /* summed durations of finished cells */
    int finished;          /* cells finished in this invocation */
    int tty;
} bench_progress;

static void print_progress(const bench_progress *p, int jobs) {
    int left = p->total - p->done - p->failed - p->running;
    char eta[64] = "";
    if (p->finished > 0) {
        double per_cell = p->busy_seconds / p->finished;
        long remaining = (long)(per_cell * (left + 0.5 * p->running) / jobs + 0.5);
        snprintf(eta, sizeof eta, ", about %ldm%02lds left", remaining / 60,
                 remaining % 60);
    }
    char failed[32] = "";
    if (p->failed) snprintf(failed, sizeof failed, ", %d failed", p->failed);
    fprintf(stderr, "%sbench: %d done, %d running, %d left%s%s%s",
            p->tty ? "\r" : "", p->done, p->running, left, failed, eta,
            p->tty ? "   " : "\n");
    fflush(stderr);
}

static void record_finish(const bench_grid *g, const bench_cell *c, int status,
                          bench_progress *p) {
    char json[4096], log[4096];
    bench_cell_path(g, c, ".json", json, sizeof json);
    bench_cell_path(g, c, ".log", log, sizeof log);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 0 && exists(json)) {
        struct stat st;
        if (stat(log, &st) == 0 && st.st_size == 0) unlink(log);
        p->done++;
        return;
    }
    if (code == EXIT_NOT_APPLICABLE) {
        char na[4096];
        bench_cell_path(g, c, ".na", na, sizeof na);
        if (rename(log, na) == 0) {
            p->done++;
            p->skipped++;
            return;
        }
    }
    p->failed++;
    if (p->tty) fputc('\n', stderr);
    fprintf(stderr, "bench: cell failed (exit %d): see %s\n", code, log);
}

int bench_grid_run(bench_grid *g) {
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        fprintf(stderr, "melon bench: cannot find the melon executable\n");
        return 1;
    }
    self[len] = 0;
    bench_progress p = {0};
    p.total = g->n_cells;
    p.tty = isatty(STDERR_FILENO);
    running_cell *running = calloc((size_t)g->jobs, sizeof *running);
    if (!running) return 1;
    int next = 0;
    for (;;) {
        while (p.running < g->jobs && next < g->n_cells) {
            const bench_cell *c = &g->cells[next];
            if (cell_is_done(g, c)) {
                p.done++;
                next++;
                continue;
            }
            pid_t pid = start_cell(g, c, self);
            if (pid < 0) {
                p.failed++;
                next++;
                continue;
            }
            for (int k = 0; k < g->jobs; k++)
                if (running[k].pid == 0) {
                    running[k] = (running_cell){pid, next, melon_now()};
                    break;
                }
            p.running++;
            next++;
        }
        print_progress(&p, g->jobs);
        if (p.running == 0) break;
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) break;
        for (int k = 0; k < g->jobs; k++)
            if (running[k].pid == pid) {
                record_finish(g, &g->cells[running[k].cell], status, &p);
                p.busy_seconds += melon_now() - running[k].start;
                p.finished++;
                running[k].pid = 0;
                p.running--;
            }
    }
    if (p.tty) fputc('\n', stderr);
    fprintf(stderr, "bench: %d of %d cells have results in %s", p.done - p.skipped,
            p.total, g->results);
    if (p.skipped) fprintf(stderr, ", %d not applicable", p.skipped);
    if (p.failed) fprintf(stderr, ", %d failed", p.failed);
    fputc('\n', stderr);
    free(running);
    return p.failed ? 1 : 0;
}
