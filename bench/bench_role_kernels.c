/* The paper form's role-network kernels (Eq. 11-12 and their backward,
 * src/update/melon_paper/melon_paper_role.c) on one thread: nanoseconds
 * per (interaction, parameter) pair, GFLOP/s, and the fraction of this
 * core's FMA peak, measured in the same process by a loop of independent
 * vector FMAs. The forward is paper_role_rates (storing rates and top-layer
 * signs, as the meta step's trial does); the backward is
 * paper_role_backward from those, as the meta step runs it. Each block's
 * call is timed alone (its inputs are written just before, as the pair
 * emitter does), so a figure includes one clock read a block: about 30 ns,
 * 0.2 ns a pair, on the machine of the README's figures.
 *
 * usage: bench_role_kernels [--widths 20,16] [--layers L] [--blocks N]
 *                           [--repeats R]
 * Defaults: width 20, 2 layers (the defaults of melon run), 4000 blocks of
 * 128 pairs, median of 7 repeats. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif
#include "eval/runner.h"
#include "update/melon_paper/melon_paper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_WIDTHS 8

typedef float vec16 __attribute__((vector_size(64)));

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* GFLOP/s of 12 independent chains of 16-wide multiply-adds (contracted
 * to FMAs, as in the kernels), each chain in its own registers. */
static double fma_peak(void) {
    /* read through volatile, so the compiler cannot fold the chains */
    volatile float mv = 0.999999f, cv = 1e-7f;
    vec16 m, c;
    for (int l = 0; l < 16; l++) m[l] = mv, c[l] = cv;
    /* distinct starts, so that no two chains are the same computation */
    vec16 a0 = c, a1 = 2 * c, a2 = 3 * c, a3 = 4 * c, a4 = 5 * c, a5 = 6 * c,
          a6 = 7 * c, a7 = 8 * c, a8 = 9 * c, a9 = 10 * c, a10 = 11 * c, a11 = 12 * c;
    const long iters = 20000000;
    double t0 = now();
    for (long i = 0; i < iters; i++) {
#define STEP(a) a = a * m + c
        STEP(a0); STEP(a1); STEP(a2); STEP(a3); STEP(a4); STEP(a5);
        STEP(a6); STEP(a7); STEP(a8); STEP(a9); STEP(a10); STEP(a11);
#undef STEP
    }
    double s = now() - t0;
    vec16 sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
    if (sum[0] == 12345.0f) printf(" ");
    return 2.0 * 16 * 12 * (double)iters / s / 1e9;
}

static float uniform(uint64_t *state) {
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(*state >> 40) / (float)(1u << 24);
}

/* Inputs of the kind a call produces: small weights, gradients around
 * 1e-3, half of them negative, one triple per 192 pairs. */
static void fill_block(pair_block *b, uint64_t *state, int first_triple) {
    b->n = PAPER_BLOCK;
    for (int p = 0; p < PAPER_BLOCK; p++) {
        b->theta[p] = 0.2f * (uniform(state) - 0.5f);
        float g = 2e-3f * (uniform(state) - 0.5f);
        b->in_g[p] = g;
        b->mult[p] = g;
        b->lrho1[p] = -0.7f;
        b->lrho2[p] = 1.0f;
        b->eta[p] = -4.5f;
        b->gc[p] = 1e-2f * (uniform(state) - 0.5f);
        b->dst[p] = p;
        b->triple[p] = first_triple + p / 192;
    }
}

typedef struct {
    double forward_ns, backward_ns;   /* per pair, median */
} kernel_times;

static int time_kernels(int width, int layers, int blocks, int repeats,
                        kernel_times *out) {
    melon_config cfg;
    melon_config_default(&cfg);
    cfg.strategy.melon.role_width = width;
    cfg.strategy.melon.role_layers = layers;
    melon_err err = {{0}};
    paper_params p;
    if (paper_params_init(&p, &cfg.strategy.melon, MELON_ABLATION_NONE, 64, 64, 7,
                          &err) != 0) {
        fprintf(stderr, "bench_role_kernels: %s\n", err.msg);
        return -1;
    }
    role_net net;
    role_scratch ws;
    role_grad g;
    paper_role_net_view(&net, &p);
    int ok = paper_role_scratch_init(&ws, &p, &err) == 0 &&
             paper_role_grad_init(&g, &p, &err) == 0;
    size_t pairs = (size_t)blocks * PAPER_BLOCK;
    pair_block *b = aligned_alloc(64, (sizeof *b + 63) / 64 * 64);
    float *rate = malloc(pairs * sizeof *rate);
    uint32_t *mask = malloc(pairs * sizeof *mask);
    int n_triples = (int)(pairs / 192) + 1;
    double *d_eta = calloc((size_t)n_triples, sizeof *d_eta);
    double *fwd = malloc((size_t)repeats * sizeof *fwd);
    double *bwd = malloc((size_t)repeats * sizeof *bwd);
    if (!ok || !b || !rate || !mask || !d_eta || !fwd || !bwd) {
        fprintf(stderr, "bench_role_kernels: out of memory\n");
        return -1;
    }
    for (int r = 0; r < repeats; r++) {
        uint64_t state = 42;
        double spent = 0.0;
        for (int k = 0; k < blocks; k++) {
            fill_block(b, &state, k * PAPER_BLOCK / 192);
            double t0 = now();
            paper_role_rates(&net, b, &ws, rate + (size_t)k * PAPER_BLOCK,
                             mask + (size_t)k * PAPER_BLOCK);
            spent += now() - t0;
        }
        fwd[r] = spent / (double)pairs * 1e9;
        state = 42;
        spent = 0.0;
        paper_role_grad_zero(&g);
        for (int k = 0; k < blocks; k++) {
            fill_block(b, &state, k * PAPER_BLOCK / 192);
            double t0 = now();
            paper_role_backward(&net, b, &ws, &g, d_eta, rate + (size_t)k * PAPER_BLOCK,
                                mask + (size_t)k * PAPER_BLOCK);
            spent += now() - t0;
        }
        bwd[r] = spent / (double)pairs * 1e9;
    }
    qsort(fwd, (size_t)repeats, sizeof *fwd, cmp_double);
    qsort(bwd, (size_t)repeats, sizeof *bwd, cmp_double);
    out->forward_ns = fwd[repeats / 2];
    out->backward_ns = bwd[repeats / 2];
    free(fwd);
    free(bwd);
    free(d_eta);
    free(mask);
    free(rate);
    free(b);
    paper_role_grad_free(&g);
    paper_role_scratch_free(&ws);
    paper_params_free(&p);
    return 0;
}

int main(int argc, char **argv) {
    int widths[MAX_WIDTHS] = {20}, n_widths = 1, layers = 2, blocks = 4000, repeats = 7;
    for (int a = 1; a + 1 < argc; a += 2) {
        if (strcmp(argv[a], "--widths") == 0) {
            n_widths = 0;
            for (char *s = argv[a + 1]; *s && n_widths < MAX_WIDTHS;) {
                widths[n_widths++] = (int)strtol(s, &s, 10);
                if (*s == ',') s++;
                else if (*s) break;
            }
        } else if (strcmp(argv[a], "--layers") == 0) {
            layers = atoi(argv[a + 1]);
        } else if (strcmp(argv[a], "--blocks") == 0) {
            blocks = atoi(argv[a + 1]);
        } else if (strcmp(argv[a], "--repeats") == 0) {
            repeats = atoi(argv[a + 1]);
        } else {
            fprintf(stderr, "bench_role_kernels: unknown option %s\n", argv[a]);
            return 2;
        }
    }
    if (layers < 1 || layers > PAPER_MAX_ROLE_LAYERS || blocks < 1 || repeats < 1) {
        fprintf(stderr, "bench_role_kernels: bad --layers, --blocks or --repeats\n");
        return 2;
    }
    double peak = fma_peak();
    printf("role-network kernels of the paper form, one thread, %d layers, %d "
           "blocks of %d pairs, median of %d; FMA peak of this core %.1f GFLOP/s\n",
           layers, blocks, PAPER_BLOCK, repeats, peak);
    printf("width  pass       ns/pair   GFLOP/s   of peak\n");
    for (int w = 0; w < n_widths; w++) {
        int W = widths[w], NI = 5;
        kernel_times t;
        if (W < 1 || time_kernels(W, layers, blocks, repeats, &t) != 0) return 1;
        /* multiply-adds per pair: the forward's layers and top product;
         * the backward recomputes the layers below the top, then each
         * layer's weight gradient and (below the top) input gradient */
        double in0 = NI, hidden = (double)(layers - 1) * W * W;
        double forward_fma = W * in0 + hidden + W;
        double recompute = layers > 1 ? W * in0 + (double)(layers - 2) * W * W : 0.0;
        double backward_fma = recompute + W * in0 + 2.0 * hidden;
        double f_gflops = 2.0 * forward_fma / t.forward_ns;
        double b_gflops = 2.0 * backward_fma / t.backward_ns;
        printf("%5d  forward  %9.2f %9.1f %8.0f%%\n", W, t.forward_ns, f_gflops,
               100.0 * f_gflops / peak);
        printf("%5d  backward %9.2f %9.1f %8.0f%%\n", W, t.backward_ns, b_gflops,
               100.0 * b_gflops / peak);
    }
    return 0;
}
