/* Arithmetic floors of S2Meta and SML on BPR-MF, for bench_strategies: the
 * part of one online update that the method itself prescribes, timed alone
 * on the median online batch, so the whole update can be read against it.
 *
 * Rows of a batch: the distinct user rows and item rows (positives and
 * one causal training negative each, drawn as the runner draws them) of
 * the online batches of the stream; "kept" rows are those the previous
 * batch also touched.
 *
 * SML (update-strategies.md B.6, online use, one round): per side, the
 * transfer runs forward and back with weight gradients on the kept rows
 * the batch looks up (the Psi step), forward on the previous batch's rows
 * (the refresh), forward and back to its input on the batch's rows (the
 * new-value step), and forward on them again (deploy). The floor is the
 * two dense layers' matrix products of those passes (F1: 5d -> h, F2:
 * h -> d), through the same GEMM calls the transfer makes.
 *
 * S2Meta (B.5, one inner step, touched rows): every coordinate of the
 * batch's rows (d embedding values and one bias per row) takes a MetaLSTM
 * step in the update, and those of the kept rows the batch looks up in the
 * trial. The floor is the sigmoid-type activations of those steps alone:
 * 4H gates, H tanh(c') and the two heads per coordinate, with the same
 * vectorised functions the MetaLSTM uses. */
#ifndef MELON_BENCH_STRATEGY_FLOORS_H
#define MELON_BENCH_STRATEGY_FLOORS_H

#include "eval/config.h"
#include "melon/negatives.h"
#include "nn/nn.h"
#include "melon/stats.h"
#include "melon/stream.h"

#include "nn/vmath.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Median rows of an online batch, per side (0 users, 1 items). */
typedef struct {
    double rows[2];      /* distinct rows the batch looks up */
    double kept[2];      /* of which the previous batch looked up */
    double previous[2];  /* the previous batch's rows */
} floor_rows;

static double floor_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Counts the rows of every online batch (each with the one before it) and
 * takes the median of each count. */
static int floor_count_rows(const melon_config *cfg, const melon_stream *s,
                            floor_rows *out, melon_err *err) {
    melon_split split;
    melon_pair_index pairs;
    if (melon_split_make(&split, s->n, cfg->run.batch_size, cfg->run.train_ratio, err) != 0 ||
        melon_pair_index_build(&pairs, s, err) != 0)
        return -1;
    int32_t n_rows[2] = {s->n_users, s->n_items};
    size_t n_test = split.n_batches - split.n_past;
    long *last[2];
    double *count[3][2];
    int ok = 1;
    for (int side = 0; side < 2; side++) {
        last[side] = malloc((size_t)n_rows[side] * sizeof(long));
        for (int c = 0; c < 3; c++) count[c][side] = malloc(n_test * sizeof(double));
        ok = ok && last[side] && count[0][side] && count[1][side] && count[2][side];
        if (last[side])
            for (int32_t r = 0; r < n_rows[side]; r++) last[side][r] = -2;
    }
    melon_rng rng;
    melon_rng_seed(&rng, cfg->run.seed);
    double before[2] = {0.0, 0.0};
    for (size_t b = split.n_past - 1; ok && b < split.n_batches; b++) {
        size_t begin = melon_batch_begin(&split, b), end = melon_batch_end(&split, s->n, b);
        double rows[2] = {0.0, 0.0}, kept[2] = {0.0, 0.0};
        for (size_t p = begin; p < end; p++) {
            int32_t neg = melon_sample_train_negative(&pairs, &rng, s->user[p], end);
            int32_t looked[3][2] = {{0, s->user[p]}, {1, s->item[p]}, {1, neg}};
            for (int l = 0; l < 3; l++) {
                int side = looked[l][0];
                int32_t row = looked[l][1];
                if (row < 0 || last[side][row] == (long)b) continue;
                kept[side] += last[side][row] == (long)b - 1;
                rows[side] += 1.0;
                last[side][row] = (long)b;
            }
        }
        if (b >= split.n_past)
            for (int side = 0; side < 2; side++) {
                count[0][side][b - split.n_past] = rows[side];
                count[1][side][b - split.n_past] = kept[side];
                count[2][side][b - split.n_past] = before[side];
            }
        memcpy(before, rows, sizeof before);
    }
    for (int side = 0; ok && side < 2; side++) {
        out->rows[side] = melon_median(count[0][side], n_test);
        out->kept[side] = melon_median(count[1][side], n_test);
        out->previous[side] = melon_median(count[2][side], n_test);
    }
    for (int side = 0; side < 2; side++) {
        free(last[side]);
        for (int c = 0; c < 3; c++) free(count[c][side]);
    }
    melon_pair_index_free(&pairs);
    return ok ? 0 : melon_fail(err, "out of memory counting batch rows");
}

/* Buffers for the transfer's dense layers over up to cap rows. */
typedef struct {
    int d, h, cap;
    float *f1, *f2, *g1, *g2;   /* [h][5d], [d][h] and their gradients */
    float *z2, *a3, *d3, *d2;   /* [cap][5d], [cap][h], [cap][h], [cap][5d] */
    float *out;                 /* [cap][d] */
    double flops;               /* of the passes so far (2 per multiply-add) */
} floor_dense;

static float *floor_filled(size_t n) {
    float *v = malloc(n * sizeof(float));
    for (size_t a = 0; v && a < n; a++) v[a] = 0.01f * (float)((a * 7919) % 201) - 1.0f;
    return v;
}

static int floor_dense_init(floor_dense *f, int d, int h, int cap) {
    size_t wide = 5 * (size_t)d;
    f->d = d, f->h = h, f->cap = cap;
    f->f1 = floor_filled((size_t)h * wide);
    f->g1 = floor_filled((size_t)h * wide);
    f->f2 = floor_filled((size_t)d * h);
    f->g2 = floor_filled((size_t)d * h);
    f->z2 = floor_filled((size_t)cap * wide);
    f->d2 = floor_filled((size_t)cap * wide);
    f->a3 = floor_filled((size_t)cap * h);
    f->d3 = floor_filled((size_t)cap * h);
    f->out = floor_filled((size_t)cap * d);
    return f->f1 && f->g1 && f->f2 && f->g2 && f->z2 && f->d2 && f->a3 &&
           f->d3 && f->out ? 0 : -1;
}

static void floor_dense_free(floor_dense *f) {
    float *all[] = {f->f1, f->g1, f->f2, f->g2, f->z2, f->d2, f->a3, f->d3, f->out};
    for (size_t a = 0; a < sizeof all / sizeof *all; a++) free(all[a]);
}

/* One pass of R rows: forward, then back to the input (weights: and into
 * the weight gradients), as sml_transfer_forward / _backward call them. */
static void floor_dense_pass(floor_dense *f, int R, int backward, int weights) {
    int d = f->d, h = f->h, wide = 5 * d;
    if (R <= 0) return;
    /* F1 and F2 once forward or back to the input, twice with weights */
    f->flops += 2.0 * R * ((double)wide * h + (double)h * d) * (backward && weights ? 2 : 1);
    if (!backward) {
        melon_linear_forward(R, wide, h, f->z2, wide, f->f1, wide, f->a3, h);
        melon_linear_forward(R, h, d, f->a3, h, f->f2, h, f->out, d);
        return;
    }
    if (weights)
        melon_linear_backward_weight(R, h, d, f->out, d, f->a3, h, 1.0f, f->g2, h);
    melon_linear_backward_input(R, h, d, f->out, d, f->f2, h, f->d3, h);
    if (weights)
        melon_linear_backward_weight(R, wide, h, f->d3, h, f->z2, wide, 1.0f, f->g1, wide);
    melon_linear_backward_input(R, wide, h, f->d3, h, f->f1, wide, f->d2, wide);
}

/* SML's matrix products for one batch of the given rows (both sides). */
static void floor_sml_batch(floor_dense *f, const floor_rows *r) {
    for (int side = 0; side < 2; side++) {
        int kept = (int)r->kept[side], rows = (int)r->rows[side];
        floor_dense_pass(f, kept, 0, 0);                     /* Psi step */
        floor_dense_pass(f, kept, 1, 1);
        floor_dense_pass(f, (int)r->previous[side], 0, 0);   /* refresh */
        floor_dense_pass(f, rows, 0, 0);                     /* new values */
        floor_dense_pass(f, rows, 1, 0);
        floor_dense_pass(f, rows, 0, 0);                     /* deploy */
    }
}

/* The activations of n coordinate steps of a MetaLSTM of width H, split
 * between the threads as the MetaLSTM splits its chunks. */
static void floor_s2meta_batch(int n, int H, float *in, float *out) {
    int per = 5 * H + 2;
#pragma omp parallel
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        int r0 = (int)((long)n * t / T), r1 = (int)((long)n * (t + 1) / T);
        for (int j = 0; j < per; j++) {
            float scale = 0.5f + 0.01f * (float)j;
            float *restrict o = out + (size_t)j * n;
#pragma omp simd
            for (int r = r0; r < r1; r++) o[r] = vm_sigmoid(scale * in[r]);
        }
    }
}

/* Median over runs of one call of what(), in ms. */
#define FLOOR_TIME(ms, runs, what)                                    \
    do {                                                              \
        double samples_[64];                                          \
        int n_ = (runs) < 64 ? (runs) : 64;                           \
        for (int k_ = 0; k_ < n_; k_++) {                             \
            double t0_ = floor_now();                                 \
            what;                                                     \
            samples_[k_] = 1e3 * (floor_now() - t0_);                 \
        }                                                             \
        (ms) = melon_median(samples_, (size_t)n_);                    \
    } while (0)

/* Prints the two floors beside Default's and the strategies' measured
 * update times (ms; 0 when not measured). */
static int print_strategy_floors(const melon_config *cfg, const melon_stream *s,
                                 double default_ms, double s2meta_ms,
                                 double sml_ms, melon_err *err) {
    floor_rows r;
    if (floor_count_rows(cfg, s, &r, err) != 0) return -1;
    int d = cfg->model.dim, h = cfg->strategy.sml.hidden, H = cfg->strategy.s2meta.hidden;
    double most = 0.0; /* the longest pass of either side */
    for (int side = 0; side < 2; side++)
        most = fmax(most, fmax(r.rows[side], r.previous[side]));
    int cap = (int)most + 1;
    floor_dense f;
    int coords = (int)((r.rows[0] + r.rows[1] + r.kept[0] + r.kept[1]) * (d + 1));
    float *in = floor_filled((size_t)coords);
    float *out = malloc((size_t)coords * (size_t)(5 * H + 2) * sizeof(float));
    if (floor_dense_init(&f, d, h, cap) != 0 || !in || !out) {
        floor_dense_free(&f);
        free(in);
        free(out);
        return melon_fail(err, "out of memory for the floors");
    }
    double sml_floor, s2meta_floor;
    f.flops = 0.0;
    floor_sml_batch(&f, &r); /* warm-up, and its count of operations */
    double sml_flops = f.flops;
    FLOOR_TIME(sml_floor, 31, floor_sml_batch(&f, &r));
    floor_s2meta_batch(coords, H, in, out);
    FLOOR_TIME(s2meta_floor, 31, floor_s2meta_batch(coords, H, in, out));
    printf("\nArithmetic floors on BPR-MF, median online batch: %.0f user and "
           "%.0f item rows, %.0f and %.0f of them looked up by the batch before "
           "(median of 31 timings each)\n",
           r.rows[0], r.rows[1], r.kept[0], r.kept[1]);
    printf("%-8s %-58s %9s %8s %14s\n", "strategy", "floor", "ms", "ratio",
           "update/floor");
    struct { const char *name; char what[80]; double floor, whole; } rows[2] = {
        {"sml", "", sml_floor, sml_ms}, {"s2meta", "", s2meta_floor, s2meta_ms}};
    snprintf(rows[0].what, sizeof rows[0].what,
             "transfer matrix products alone (%.2f GFLOP)",
             1e-9 * sml_flops);
    snprintf(rows[1].what, sizeof rows[1].what,
             "MetaLSTM activations alone (%d per step, %d steps)", 5 * H + 2, coords);
    for (int k = 0; k < 2; k++) {
        char ratio[16] = "-", whole[16] = "-";
        if (default_ms > 0) snprintf(ratio, sizeof ratio, "%.1fx", rows[k].floor / default_ms);
        if (rows[k].whole > 0) snprintf(whole, sizeof whole, "%.2f", rows[k].whole / rows[k].floor);
        printf("%-8s %-58s %9.3f %8s %14s\n", rows[k].name, rows[k].what,
               rows[k].floor, ratio, whole);
    }
    floor_dense_free(&f);
    free(in);
    free(out);
    return 0;
}

#endif
