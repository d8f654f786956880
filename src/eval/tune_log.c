/* The log of `melon tune`: DIR/trials.log, append-only. Its first line
 * names the tuning; then "plan" lines (first-rung candidates of a
 * strategy) and "trial" lines (one finished validation run), each written
 * with one write() and fsynced before the tuner goes on, so a killed tuning
 * loses at most the run it was doing. A restart drops a torn last line. */
#include "eval/tune.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MAGIC "melon-tune 1"

static int write_all(int fd, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

static int append_line(melon_tune_log *log, const char *line, melon_err *err) {
    if (write_all(log->fd, line, strlen(line)) != 0 || fsync(log->fd) != 0)
        return melon_fail(err, "%s: cannot write: %s", log->path, strerror(errno));
    return 0;
}

/* The first tab-separated field where two headers differ, for the message
 * that refuses a log of another tuning. */
static void first_difference(const char *a, const char *b, char *out, size_t cap) {
    while (*a || *b) {
        size_t la = strcspn(a, "\t"), lb = strcspn(b, "\t");
        if (la != lb || strncmp(a, b, la) != 0) {
            snprintf(out, cap, "it has %.*s, this tuning %.*s", (int)la, a, (int)lb, b);
            return;
        }
        a += la + (a[la] != 0);
        b += lb + (b[lb] != 0);
    }
    snprintf(out, cap, "its header differs");
}

static int add_trial(melon_tune_log *log, const melon_tune_trial *t,
                     melon_err *err) {
    if (log->n_trials == log->cap_trials) {
        int cap = log->cap_trials ? 2 * log->cap_trials : 64;
        melon_tune_trial *grown = realloc(log->trials, (size_t)cap * sizeof *grown);
        if (!grown) return melon_fail(err, "out of memory reading %s", log->path);
        log->trials = grown;
        log->cap_trials = cap;
    }
    log->trials[log->n_trials++] = *t;
    return 0;
}

static int add_plan(melon_tune_log *log, const char *strategy, int n,
                    melon_err *err) {
    for (int k = 0; k < log->n_plans; k++)
        if (strcmp(log->plan_strategy[k], strategy) == 0) {
            log->plan_candidates[k] = n;
            return 0;
        }
    if (log->n_plans == 64) return melon_fail(err, "%s: more than 64 plans", log->path);
    snprintf(log->plan_strategy[log->n_plans], sizeof log->plan_strategy[0], "%s",
             strategy);
    log->plan_candidates[log->n_plans++] = n;
    return 0;
}

/* One line after the header (without its newline). */
static int parse_line(melon_tune_log *log, char *line, int number,
                      melon_err *err) {
    char *field[8];
    int n = 0;
    for (char *p = line; n < 8;) {
        field[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab) break;
        *tab = 0;
        p = tab + 1;
    }
    char *end;
    if (n == 3 && strcmp(field[0], "plan") == 0) {
        long c = strtol(field[2], &end, 10);
        if (*end || c < 1 || c > 1000000) goto bad;
        return add_plan(log, field[1], (int)c, err);
    }
    if (n == 7 && strcmp(field[0], "trial") == 0) {
        melon_tune_trial t;
        memset(&t, 0, sizeof t);
        snprintf(t.strategy, sizeof t.strategy, "%s", field[1]);
        errno = 0;
        t.seed = strtoull(field[2], &end, 10);
        if (*end || errno) goto bad;
        t.score = strtod(field[3], &end);
        if (*end) goto bad;
        t.seconds = strtod(field[4], &end);
        if (*end) goto bad;
        t.diverged = field[5][0] == '1';
        snprintf(t.candidate, sizeof t.candidate, "%s", field[6]);
        return add_trial(log, &t, err);
    }
bad:
    return melon_fail(err, "%s:%d: not a line of melon tune's log", log->path, number);
}

/* Reads an existing log: its header must be this tuning's. Returns the
 * length of its whole lines (a torn last line is cut off). */
static int read_log(melon_tune_log *log, const char *header, off_t *keep,
                    melon_err *err) {
    FILE *f = fopen(log->path, "r");
    if (!f) return melon_fail(err, "%s: cannot open: %s", log->path, strerror(errno));
    size_t cap = 1 << 16;
    char *line = malloc(cap);
    int rc = 0, number = 0;
    *keep = 0;
    while (rc == 0 && line) {
        size_t len = 0;
        int c;
        while ((c = fgetc(f)) != EOF && c != '\n') {
            if (len + 1 == cap) {
                char *grown = realloc(line, cap *= 2);
                if (!grown) break;
                line = grown;
            }
            line[len++] = (char)c;
        }
        if (c == EOF) break; /* nothing, or a torn line left by a kill */
        line[len] = 0;
        number++;
        if (number == 1) {
            size_t m = strlen(LOG_MAGIC);
            if (strncmp(line, LOG_MAGIC "\t", m + 1) != 0) {
                rc = melon_fail(err, "%s: not a log of melon tune", log->path);
            } else if (strcmp(line + m + 1, header) != 0) {
                char why[1024];
                first_difference(line + m + 1, header, why, sizeof why);
                rc = melon_fail(err, "%s: written by another tuning (%s); give "
                                     "another --results folder", log->path, why);
            }
        } else {
            rc = parse_line(log, line, number, err);
        }
        *keep += (off_t)len + 1;
    }
    if (!line) rc = melon_fail(err, "out of memory reading %s", log->path);
    if (rc == 0 && ferror(f)) rc = melon_fail(err, "%s: read error", log->path);
    free(line);
    fclose(f);
    return rc;
}

int melon_tune_log_open(melon_tune_log *log, const char *dir,
                        const char *header, melon_err *err) {
    memset(log, 0, sizeof *log);
    log->fd = -1;
    if (strchr(header, '\n')) return melon_fail(err, "tuning header with a newline");
    snprintf(log->path, sizeof log->path, "%s/trials.log", dir);
    struct stat st;
    int exists = stat(log->path, &st) == 0 && st.st_size > 0;
    off_t keep = 0;
    if (exists && read_log(log, header, &keep, err) != 0) {
        melon_tune_log_close(log);
        return -1;
    }
    log->fd = open(log->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log->fd < 0) {
        melon_fail(err, "%s: cannot open: %s", log->path, strerror(errno));
        melon_tune_log_close(log);
        return -1;
    }
    if (exists && keep < st.st_size && ftruncate(log->fd, keep) != 0) {
        melon_fail(err, "%s: cannot cut its torn last line: %s", log->path,
                   strerror(errno));
        melon_tune_log_close(log);
        return -1;
    }
    if (!exists || keep == 0) {
        size_t n = strlen(LOG_MAGIC) + strlen(header) + 3;
        char *line = malloc(n);
        if (!line) {
            melon_tune_log_close(log);
            return melon_fail(err, "out of memory");
        }
        snprintf(line, n, "%s\t%s\n", LOG_MAGIC, header);
        int rc = ftruncate(log->fd, 0) == 0 ? append_line(log, line, err)
                                            : melon_fail(err, "%s: %s", log->path,
                                                         strerror(errno));
        free(line);
        /* the new file's name is durable too */
        int dfd = rc == 0 ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        if (rc != 0) {
            melon_tune_log_close(log);
            return -1;
        }
    }
    return 0;
}

void melon_tune_log_close(melon_tune_log *log) {
    if (log->fd >= 0) close(log->fd);
    free(log->trials);
    log->trials = NULL;
    log->fd = -1;
    log->n_trials = log->cap_trials = 0;
}

const melon_tune_trial *melon_tune_log_find(const melon_tune_log *log,
                                            const char *strategy,
                                            const char *candidate,
                                            uint64_t seed) {
    for (int k = 0; k < log->n_trials; k++) {
        const melon_tune_trial *t = &log->trials[k];
        if (t->seed == seed && strcmp(t->strategy, strategy) == 0 &&
            strcmp(t->candidate, candidate) == 0)
            return t;
    }
    return NULL;
}

int melon_tune_log_append(melon_tune_log *log, const melon_tune_trial *t,
                          melon_err *err) {
    char line[MELON_TUNE_TEXT + 256];
    int n = snprintf(line, sizeof line, "trial\t%s\t%" PRIu64 "\t%.17g\t%.3f\t%d\t%s\n",
                     t->strategy, t->seed, t->score, t->seconds, t->diverged,
                     t->candidate);
    if (n < 0 || (size_t)n >= sizeof line)
        return melon_fail(err, "%s: trial line too long", log->path);
    if (append_line(log, line, err) != 0) return -1;
    return add_trial(log, t, err);
}

int melon_tune_log_plan(const melon_tune_log *log, const char *strategy) {
    for (int k = 0; k < log->n_plans; k++)
        if (strcmp(log->plan_strategy[k], strategy) == 0)
            return log->plan_candidates[k];
    return 0;
}

int melon_tune_log_set_plan(melon_tune_log *log, const char *strategy,
                            int candidates, melon_err *err) {
    char line[128];
    snprintf(line, sizeof line, "plan\t%s\t%d\n", strategy, candidates);
    if (append_line(log, line, err) != 0) return -1;
    return add_plan(log, strategy, candidates, err);
}
