/* Running the cells of `melon bench`: each cell is `melon run` in a child
 * process (its own process group) with its stderr in a log beside its
 * result; up to `jobs` at a time; a cell with a result file is done, a cell
 * whose strategy does not apply to its model (exit status 3) gets a ".na"
 * note and is done too. The results folder is locked while bench runs, and
 * a stop signal stops the running cells. */
#include "bench_grid.h"

#include "melon/common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
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

void bench_cell_command(const bench_grid *g, const bench_cell *c, const char *self,
                        bench_command *cmd) {
    const bench_strategy *s = &g->strategies[c->strategy];
    bench_cell_path(g, c, ".json", cmd->json, sizeof cmd->json);
    bench_cell_path(g, c, ".log", cmd->log, sizeof cmd->log);
    bench_cell_path(g, c, "-lr.csv", cmd->lr, sizeof cmd->lr);
    snprintf(cmd->seed, sizeof cmd->seed, "%ld", g->seeds[c->seed]);
    snprintf(cmd->threads, sizeof cmd->threads, "%d", g->threads);
    snprintf(cmd->batch, sizeof cmd->batch, "%d", g->lr_matrix_batch);
    const char **argv = cmd->argv;
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
    argv[n++] = cmd->seed;
    argv[n++] = "--threads";
    argv[n++] = cmd->threads;
    argv[n++] = "--out";
    argv[n++] = cmd->json;
    argv[n++] = "--quiet";
    argv[n++] = "--no-progress";
    for (int e = 0; e < s->n_extra; e++) argv[n++] = s->extra[e];
    for (int f = 0; f < g->n_forward; f++)
        if (bench_forward_applies(g, f, s->strategy)) argv[n++] = g->forward[f];
    if (g->lr_matrix_batch >= 0 && c->seed == 0 &&
        strncmp(s->strategy, "melon", 5) == 0) {
        argv[n++] = "--dump-lr-matrix";
        argv[n++] = cmd->lr;
        argv[n++] = "--dump-batch";
        argv[n++] = cmd->batch;
    }
    argv[n] = NULL;
    cmd->argc = n;
}

void bench_child_setup(pid_t parent, const sigset_t *mask) {
    /* its own process group, so that stopping it stops all it started */
    setpgid(0, 0);
    /* stopped with bench even when bench is killed outright */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    sigprocmask(SIG_SETMASK, mask, NULL);
}

/* Starts `melon run` for the cell; returns the child's pid or -1. */
static pid_t start_cell(const bench_grid *g, const bench_cell *c, const char *self,
                        const sigset_t *child_mask) {
    bench_command cmd;
    bench_cell_command(g, c, self, &cmd);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) return pid;
    bench_child_setup(parent, child_mask);
    int log_fd = open(cmd.log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    int null_fd = open("/dev/null", O_RDWR);
    if (log_fd < 0 || null_fd < 0) _exit(127);
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execv(self, (char *const *)cmd.argv);
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

/* The last line of a cell's log, where `melon run` says why it failed. */
static void last_line(const char *path, char *out, size_t cap) {
    out[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof line, f))
        if (line[0] != '\n') snprintf(out, cap, "%s", line);
    fclose(f);
    out[strcspn(out, "\n")] = 0;
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
    char why[1024];
    last_line(log, why, sizeof why);
    if (WIFSIGNALED(status))
        fprintf(stderr, "bench: cell stopped by signal %d: %s\n", WTERMSIG(status), log);
    else
        fprintf(stderr, "bench: cell failed (exit %d)%s%s; its log: %s\n", code,
                why[0] ? ": " : "", why, log);
}

/* One bench at a time per results folder: a lock on DIR/.bench.lock, which
 * holds the pid of the bench that has it. Returns its descriptor (closed at
 * the end, which frees it), or -1 after a message. */
static int lock_results(const char *results) {
    char path[4200];
    snprintf(path, sizeof path, "%s/.bench.lock", results);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        fprintf(stderr, "melon bench: %s: cannot open: %s\n", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int why = errno;
        char holder[32] = "";
        ssize_t got = pread(fd, holder, sizeof holder - 1, 0);
        holder[got > 0 ? got : 0] = 0;
        holder[strcspn(holder, "\n")] = 0;
        close(fd);
        if (why == EWOULDBLOCK)
            fprintf(stderr, "melon bench: %s is in use by another melon bench%s%s%s; "
                            "wait for it to finish or give another --results\n",
                    results, holder[0] ? " (pid " : "", holder, holder[0] ? ")" : "");
        else
            fprintf(stderr, "melon bench: %s: cannot lock: %s\n", path, strerror(why));
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        /* the lock holds without the pid; only the message loses it */
    }
    return fd;
}

/* Stops the running cells (their process groups): SIGTERM, then SIGKILL
 * for those still there after a grace period; reaps them all. */
#define STOP_GRACE_SECONDS 10.0
static void stop_cells(running_cell *running, int jobs) {
    for (int k = 0; k < jobs; k++)
        if (running[k].pid > 0) kill(-running[k].pid, SIGTERM);
    double deadline = melon_now() + STOP_GRACE_SECONDS;
    for (int k = 0; k < jobs; k++) {
        if (running[k].pid <= 0) continue;
        int status;
        while (waitpid(running[k].pid, &status, WNOHANG) == 0) {
            if (melon_now() > deadline) {
                kill(-running[k].pid, SIGKILL);
                waitpid(running[k].pid, &status, 0);
                break;
            }
            usleep(20000);
        }
        running[k].pid = 0;
    }
}

int bench_grid_run(bench_grid *g) {
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        fprintf(stderr, "melon bench: cannot find the melon executable\n");
        return 1;
    }
    self[len] = 0;
    int lock = lock_results(g->results);
    if (lock < 0) return 1;
    /* Cells ending and stop signals are taken in turn by sigwaitinfo, so
     * neither can slip between a check and a wait; cells run with the mask
     * bench had. */
    sigset_t watched, child_mask;
    sigemptyset(&watched);
    sigaddset(&watched, SIGCHLD);
    static const int stop_signals[3] = {SIGINT, SIGTERM, SIGHUP};
    for (int k = 0; k < 3; k++) {
        /* a signal bench was told to ignore (nohup) stays ignored */
        struct sigaction now;
        if (sigaction(stop_signals[k], NULL, &now) == 0 && now.sa_handler != SIG_IGN)
            sigaddset(&watched, stop_signals[k]);
    }
    sigprocmask(SIG_BLOCK, &watched, &child_mask);
    int rc = bench_check_grid(g, self, &child_mask);
    if (rc != 0) {
        sigprocmask(SIG_SETMASK, &child_mask, NULL);
        close(lock);
        return rc;
    }
    bench_progress p = {0};
    p.total = g->n_cells;
    p.tty = isatty(STDERR_FILENO);
    running_cell *running = calloc((size_t)g->jobs, sizeof *running);
    if (!running) {
        sigprocmask(SIG_SETMASK, &child_mask, NULL);
        close(lock);
        return 1;
    }
    int next = 0, stop_signal = 0;
    for (;;) {
        while (p.running < g->jobs && next < g->n_cells) {
            const bench_cell *c = &g->cells[next];
            if (cell_is_done(g, c)) {
                p.done++;
                next++;
                continue;
            }
            pid_t pid = start_cell(g, c, self, &child_mask);
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
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid == 0 || (pid < 0 && errno == EINTR)) {
            siginfo_t info;
            int sig = sigwaitinfo(&watched, &info);
            if (sig > 0 && sig != SIGCHLD) {
                stop_signal = sig;
                break;
            }
            continue;
        }
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
    if (stop_signal) {
        if (p.tty) fputc('\n', stderr);
        fprintf(stderr, "bench: stopped by %s; stopping %d running cell%s (no "
                        "result is kept for them)\n",
                strsignal(stop_signal), p.running, p.running == 1 ? "" : "s");
        stop_cells(running, g->jobs);
        free(running);
        close(lock);
        /* end as the signal would have ended bench */
        signal(stop_signal, SIG_DFL);
        sigprocmask(SIG_SETMASK, &child_mask, NULL);
        raise(stop_signal);
        return 128 + stop_signal;
    }
    sigprocmask(SIG_SETMASK, &child_mask, NULL);
    if (p.tty) fputc('\n', stderr);
    fprintf(stderr, "bench: %d of %d cells have results in %s", p.done - p.skipped,
            p.total, g->results);
    if (p.skipped) fprintf(stderr, ", %d not applicable", p.skipped);
    if (p.failed) fprintf(stderr, ", %d failed", p.failed);
    fputc('\n', stderr);
    free(running);
    close(lock);
    return p.failed ? 1 : 0;
}
