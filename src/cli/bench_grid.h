/* The grid of `melon bench`: its cells, and running them as `melon run`
 * processes, several at a time, with resumption and a progress line. */
#ifndef MELON_BENCH_GRID_H
#define MELON_BENCH_GRID_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#define BENCH_MAX_DATASETS 16
#define BENCH_MAX_MODELS 4
#define BENCH_MAX_STRATEGIES 32
#define BENCH_MAX_SEEDS 64
#define BENCH_MAX_FORWARD 64
#define BENCH_MAX_EXTRA 32

typedef struct {
    char *name;    /* label in the results */
    char *files;   /* --data value for melon run */
} bench_dataset;

typedef struct {
    char *label;
    char *strategy;
    int n_extra;
    char *extra[BENCH_MAX_EXTRA];   /* "--opt=value" arguments */
} bench_strategy;

typedef struct {
    int dataset, model, strategy, seed;
} bench_cell;

typedef struct {
    bench_dataset datasets[BENCH_MAX_DATASETS];
    int n_datasets;
    char *models[BENCH_MAX_MODELS];
    int n_models;
    bench_strategy strategies[BENCH_MAX_STRATEGIES];
    int n_strategies;
    long seeds[BENCH_MAX_SEEDS];
    int n_seeds;
    char *forward[2 * BENCH_MAX_FORWARD];   /* options for every run */
    /* the strategy family an entry of forward (option or value) is for
     * ("melon": melon, melon-i, melon-p), NULL when for every run */
    char *forward_family[2 * BENCH_MAX_FORWARD];
    int n_forward;
    const char *results;
    const char *tuned;    /* melon tune's results: datasets, models and
                             strategies with their chosen settings */
    int jobs;
    int threads;
    int lr_matrix_batch;   /* -1: none */
    int dry_run;
    bench_cell *cells;
    int n_cells;
} bench_grid;

void bench_grid_init(bench_grid *g);
void bench_grid_free(bench_grid *g);
/* Options of bench itself (--data, --models, ...). */
int bench_grid_is_own_option(const char *name);
int bench_grid_set_option(bench_grid *g, const char *name, const char *value,
                          char *why, size_t cap);
/* An option of `melon run`, passed to every cell. */
int bench_grid_forward(bench_grid *g, const char *name, const char *value,
                       char *why, size_t cap);
/* Defaults, checks, the list of cells; 0 or 2 after a usage message. */
int bench_grid_finish_setup(bench_grid *g);
/* The `melon run` command of a cell, with the storage its arguments use. */
typedef struct {
    const char *argv[64 + 2 * BENCH_MAX_FORWARD + BENCH_MAX_EXTRA];
    int argc;
    char json[4096], log[4096], lr[4096];
    char seed[32], threads[32], batch[32];
} bench_command;

void bench_cell_command(const bench_grid *g, const bench_cell *c, const char *self,
                        bench_command *cmd);
/* In a child bench starts: its own process group, a SIGTERM when bench
 * dies, and the signal mask to run with. */
void bench_child_setup(pid_t parent, const sigset_t *mask);
/* Before the first cell: each combination's options checked by `melon run
 * --check` (its message on stderr), and every existing result compared with
 * the settings its cell asks for. 0, or the exit status after a message. */
int bench_check_grid(const bench_grid *g, const char *self, const sigset_t *child_mask);

/* Whether a cell of the strategy takes the forward entry k. */
int bench_forward_applies(const bench_grid *g, int k, const char *strategy);
/* Path of a cell's result JSON (or its log, with suffix ".log"). */
void bench_cell_path(const bench_grid *g, const bench_cell *c,
                     const char *suffix, char *out, size_t cap);
int bench_grid_list(const bench_grid *g, FILE *out);
/* Runs the cells that have no result yet; 0 when every cell has one. */
int bench_grid_run(bench_grid *g);

#endif
