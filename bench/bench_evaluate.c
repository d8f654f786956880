/* The cost of evaluating an online batch against 99 sampled negatives (the
 * protocol) and against every item the user has not interacted with
 * (--negatives all), for BPR-MF and NCF at the protocol's sizes, on a real
 * stream. Each of the first online batches is evaluated both ways in turn,
 * with the model as initialised (the cost does not depend on the values),
 * then appended to the history. Prints the median milliseconds per batch of
 * each way and their ratio; the median over rounds.
 *
 * usage: bench_evaluate [FILE[,FILE...]] [rounds] [batches] [models]
 * (default: ml-100k, 5 rounds, the first 20 online batches, bpr,ncf;
 * threads from OMP_NUM_THREADS) */
#include "bench_stream.h"

#include "melon/evaluate.h"
#include "melon/stats.h"

#include <omp.h>
#include <string.h>


typedef struct {
    const melon_stream *stream;
    size_t n_test;          /* online batches evaluated */
    melon_split split;
    melon_pair_index pairs;
} bench_data;

/* Median ms per online batch of one round, for 99 negatives and for all. */
static int one_round(const bench_data *d, melon_model *model,
                     melon_evaluator ev[2], double *ms, melon_err *err) {
    const melon_stream *s = d->stream;
    size_t first = d->split.n_past, n_test = d->n_test;
    double *times = melon_alloc(2 * n_test * sizeof *times, err);
    melon_history history;
    if (!times || melon_history_init(&history, s->n_users, s->n_items, err) != 0)
        return -1;
    size_t past_end = melon_batch_begin(&d->split, first);
    int rc = melon_history_append(&history, s, 0, past_end, err);
    for (size_t t = 0; rc == 0 && t < n_test; t++) {
        size_t begin = melon_batch_begin(&d->split, first + t);
        size_t end = melon_batch_end(&d->split, s->n, first + t);
        for (int mode = 0; rc == 0 && mode < 2; mode++) {
            double start = melon_now();
            rc = melon_evaluate_batch(&ev[mode], model, s, &d->pairs, &history,
                                      1, first + t, begin, end, err);
            times[mode * n_test + t] = melon_now() - start;
        }
        if (rc == 0) rc = melon_history_append(&history, s, begin, end, err);
    }
    for (int mode = 0; rc == 0 && mode < 2; mode++)
        ms[mode] = 1e3 * melon_median(times + mode * n_test, n_test);
    melon_history_free(&history);
    free(times);
    return rc;
}

static int bench_model(const bench_data *d, const char *name, int rounds) {
    const melon_stream *s = d->stream;
    melon_model model;
    melon_evaluator ev[2];
    melon_err err = {{0}};
    double *sampled = melon_alloc((size_t)rounds * sizeof(double), &err);
    double *all = melon_alloc((size_t)rounds * sizeof(double), &err);
    if (!sampled || !all ||
        melon_model_create(&model, name, s->n_users, s->n_items, NULL, 512,
                           &err) != 0 ||
        melon_evaluator_init(&ev[0], MELON_EVAL_NEGATIVES, 256, s->n_users,
                             s->n_items, &err) != 0 ||
        melon_evaluator_init(&ev[1], MELON_NEGATIVES_ALL, 256, s->n_users,
                             s->n_items, &err) != 0) {
        fprintf(stderr, "bench_evaluate: %s\n", err.msg);
        return -1;
    }
    for (int r = 0; r < rounds; r++) {
        double ms[2];
        if (one_round(d, &model, ev, ms, &err) != 0) {
            fprintf(stderr, "bench_evaluate: %s\n", err.msg);
            return -1;
        }
        sampled[r] = ms[0];
        all[r] = ms[1];
    }
    double a = melon_median(sampled, (size_t)rounds);
    double b = melon_median(all, (size_t)rounds);
    printf("%-4s 99 negatives %8.3f ms/batch   all %d items %8.3f ms/batch   "
           "all / 99 = %5.2f\n",
           name, a, s->n_items, b, b / a);
    melon_evaluator_free(&ev[0]);
    melon_evaluator_free(&ev[1]);
    melon_model_free(&model);
    free(sampled);
    free(all);
    return 0;
}

int main(int argc, char **argv) {
    const char *files = bench_data_path(argc > 1 ? argv[1] : NULL);
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    long batches = argc > 3 ? atol(argv[3]) : 20;
    if (rounds < 1) rounds = 1;
    if (batches < 1) batches = 1;
    melon_data_config data;
    melon_data_config_default(&data);
    data.files = files;
    char buf[16384];
    const char *paths[MELON_MAX_FILES];
    melon_stream stream;
    melon_err err = {{0}};
    int n_paths = melon_data_split_files(data.files, buf, sizeof buf, paths, &err);
    if (n_paths < 0 ||
        melon_stream_load(&stream, paths, n_paths, &data.load, &err) != 0) {
        fprintf(stderr, "bench_evaluate: %s\n", err.msg);
        return 1;
    }
    bench_data d = {.stream = &stream};
    if (melon_split_make(&d.split, stream.n, 256, 0.8, &err) != 0 ||
        melon_pair_index_build(&d.pairs, &stream, &err) != 0) {
        fprintf(stderr, "bench_evaluate: %s\n", err.msg);
        return 1;
    }
    d.n_test = d.split.n_batches - d.split.n_past;
    if (d.n_test > (size_t)batches) d.n_test = (size_t)batches;
    printf("bench_evaluate: %s: %d users, %d items; the first %zu online "
           "batches of 256; %d threads; median over batches, then over %d "
           "rounds\n",
           paths[0], stream.n_users, stream.n_items, d.n_test,
           omp_get_max_threads(), rounds);
    char *models = strdup(argc > 4 ? argv[4] : "bpr,ncf");
    int rc = 0;
    for (char *save = NULL, *name = strtok_r(models, ",", &save); name && !rc;
         name = strtok_r(NULL, ",", &save))
        rc = bench_model(&d, name, rounds);
    free(models);
    melon_pair_index_free(&d.pairs);
    melon_stream_free(&stream);
    return rc ? 1 : 0;
}
