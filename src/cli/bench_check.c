/* Checking a grid before its first cell: every combination of dataset,
 * model and strategy goes through `melon run --check` (bad values and
 * paths stop bench with `melon run`'s own message), and every result the
 * folder already holds must record the settings its cell asks for, or it
 * would be kept as if it were that cell's. */
#include "bench_grid.h"
#include "json_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Results listed by name when they do not match; the rest are counted. */
#define SHOWN_MISMATCHES 5

/* Not settings of the experiment: the seed differs by cell, the thread
 * count only changes the order of sums. */
static int compared(const char *key) {
    return strcmp(key, "seed") != 0 && strcmp(key, "threads") != 0;
}

/* Runs the cell's command with --check; its stdout (the settings) into a
 * malloc'ed *out, its stderr through to ours. Returns its exit status, or
 * -1 when it could not run. */
static int run_check(const bench_command *cmd, const sigset_t *child_mask, char **out) {
    const char *argv[sizeof cmd->argv / sizeof *cmd->argv + 1];
    memcpy(argv, cmd->argv, sizeof *argv * (size_t)cmd->argc);
    argv[cmd->argc] = "--check";
    argv[cmd->argc + 1] = NULL;
    int pipe_fd[2];
    if (pipe2(pipe_fd, O_CLOEXEC) != 0) return -1;
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(pipe_fd[0]);
        close(pipe_fd[1]);
        return -1;
    }
    if (pid == 0) {
        bench_child_setup(parent, child_mask);
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
            dup2(pipe_fd[1], STDOUT_FILENO) < 0)
            _exit(127);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(pipe_fd[1]);
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    ssize_t got;
    while (buf && (got = read(pipe_fd[0], buf + len, cap - len - 1)) != 0) {
        if (got < 0) {
            if (errno == EINTR) continue;
            break;
        }
        len += (size_t)got;
        if (cap - len < 2) {
            char *bigger = realloc(buf, 2 * cap);
            if (!bigger) break;
            buf = bigger;
            cap *= 2;
        }
    }
    close(pipe_fd[0]);
    if (buf) buf[len] = 0;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    *out = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A value for messages: compact JSON, strings without their quotes,
 * numbers with 6 digits unless that hides the difference from other. */
static void shown(const cJSON *v, const cJSON *other, char *out, size_t cap) {
    if (!v) {
        snprintf(out, cap, "not recorded");
        return;
    }
    if (cJSON_IsString(v)) {
        snprintf(out, cap, "%s", v->valuestring);
        return;
    }
    if (cJSON_IsNumber(v)) {
        char mine[64], theirs[64] = "";
        snprintf(mine, sizeof mine, "%.6g", v->valuedouble);
        if (cJSON_IsNumber(other)) snprintf(theirs, sizeof theirs, "%.6g", other->valuedouble);
        snprintf(out, cap, strcmp(mine, theirs) != 0 ? "%.6g" : "%.17g", v->valuedouble);
        return;
    }
    char *text = cJSON_PrintUnformatted(v);
    snprintf(out, cap, "%s", text ? text : "?");
    free(text);
}

static const cJSON *member(const cJSON *obj, const char *key) {
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

/* Appends ", key value (asked: value)" to diff for every value of want
 * (objects followed) that have records otherwise; returns how many. A
 * setting have does not record (a file from before it existed) differs
 * only when the value asked for is not its default (in defaults). */
static int differences(const cJSON *want, const cJSON *have, const cJSON *defaults,
                       const char *prefix, char *diff, size_t cap) {
    int n = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, want) {
        if (!item->string || !compared(item->string)) continue;
        /* the run's settings by their own names, the dataset's as dataset.X */
        char key[256] = "";
        if (prefix[0] || strcmp(item->string, "settings") != 0)
            snprintf(key, sizeof key, "%s%s", prefix, item->string);
        const cJSON *other = member(have, item->string);
        const cJSON *fallback = member(defaults, item->string);
        if (cJSON_IsObject(item)) {
            char inner[300] = "";
            if (key[0]) snprintf(inner, sizeof inner, "%s.", key);
            n += differences(item, other, fallback, inner, diff, cap);
            continue;
        }
        if (other && cJSON_Compare(item, other, 1)) continue;
        if (!other && fallback && cJSON_Compare(item, fallback, 1)) continue;
        char was[256], asked[256];
        shown(other, item, was, sizeof was);
        shown(item, other, asked, sizeof asked);
        size_t used = strlen(diff);
        snprintf(diff + used, cap - used, "%s%s %s (asked: %s)", used ? ", " : "", key,
                 was, asked);
        n++;
    }
    return n;
}

/* Compares the results of the cells of one combination (cells[first..]
 * with the same dataset, model and strategy) with the settings asked for;
 * returns how many differ. */
static int compare_results(const bench_grid *g, const bench_cell *combination,
                           const cJSON *asked, const cJSON *defaults,
                           int *shown_so_far) {
    int mismatched = 0;
    for (int k = 0; k < g->n_cells; k++) {
        const bench_cell *c = &g->cells[k];
        if (c->dataset != combination->dataset || c->model != combination->model ||
            c->strategy != combination->strategy)
            continue;
        char path[4096];
        bench_cell_path(g, c, ".json", path, sizeof path);
        if (access(path, F_OK) != 0) continue;
        cJSON *have = json_file_read(path);
        char diff[2048] = "";
        int n = have ? differences(asked, have, defaults, "", diff, sizeof diff) : 1;
        if (!have) snprintf(diff, sizeof diff, "not a readable result file");
        cJSON_Delete(have);
        if (n == 0) continue;
        if (mismatched++ + *shown_so_far < SHOWN_MISMATCHES)
            fprintf(stderr, "melon bench: %s was run with other settings: %s\n", path, diff);
    }
    *shown_so_far += mismatched;
    return mismatched;
}

/* The settings of a run given nothing but its data: every default. */
static cJSON *default_settings(const bench_grid *g, const char *self,
                               const sigset_t *child_mask) {
    bench_command cmd;
    cmd.argv[0] = self;
    cmd.argv[1] = "run";
    cmd.argv[2] = "--data";
    cmd.argv[3] = g->datasets[0].files;
    cmd.argv[4] = NULL;
    cmd.argc = 4;
    char *settings = NULL;
    cJSON *parsed = run_check(&cmd, child_mask, &settings) == 0 && settings
                        ? cJSON_Parse(settings)
                        : NULL;
    free(settings);
    return parsed;
}

int bench_check_grid(const bench_grid *g, const char *self, const sigset_t *child_mask) {
    int mismatched = 0, shown_so_far = 0;
    cJSON *defaults = NULL;
    for (int k = 0; k < g->n_cells; k++) {
        const bench_cell *c = &g->cells[k];
        if (c->seed != 0) continue; /* one check per combination */
        bench_command cmd;
        bench_cell_command(g, c, self, &cmd);
        char *settings = NULL;
        int status = run_check(&cmd, child_mask, &settings);
        cJSON *asked = status == 0 && settings ? cJSON_Parse(settings) : NULL;
        free(settings);
        if (!asked) {
            fprintf(stderr, "melon bench: no cell was started: the cells of dataset %s, "
                            "model %s, strategy %s cannot run (melon run --check%s)\n",
                    g->datasets[c->dataset].name, g->models[c->model],
                    g->strategies[c->strategy].label,
                    status == 0 ? " printed no settings" : " above");
            cJSON_Delete(defaults);
            return status > 0 ? status : 1;
        }
        if (!defaults) defaults = default_settings(g, self, child_mask);
        mismatched += compare_results(g, c, asked, defaults, &shown_so_far);
        cJSON_Delete(asked);
    }
    cJSON_Delete(defaults);
    if (mismatched == 0) return 0;
    if (mismatched > SHOWN_MISMATCHES)
        fprintf(stderr, "melon bench: ... and %d more\n", mismatched - SHOWN_MISMATCHES);
    fprintf(stderr, "melon bench: %d result%s in %s %s run with settings other than "
                    "those asked for, so no cell was started; remove %s to run %s "
                    "cell%s again, or give another --results\n",
            mismatched, mismatched == 1 ? "" : "s", g->results,
            mismatched == 1 ? "was" : "were", mismatched == 1 ? "it" : "them",
            mismatched == 1 ? "its" : "their", mismatched == 1 ? "" : "s");
    return 2;
}
