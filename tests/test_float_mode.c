/* Subnormal floats are flushed to zero in every thread that computes: the
 * caller, every OpenMP thread of the run and OpenBLAS's products, also when
 * those threads existed before the run; the caller's mode comes back after
 * it. */
#include "test_support.h"

#include "core/float_mode.h"
#include "eval/runner.h"

#include <cblas.h>
#include <float.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

enum { N = 256 }; /* large enough for OpenBLAS to split among threads */

/* C = A B with every entry of A subnormal and B = 2^100: a thread that
 * computes with subnormals gives C ~ 2^-26 per term, one that treats
 * them as zero gives exactly 0. Returns how many entries of C are not 0. */
static size_t nonzero_products(void) {
    float *a = malloc(sizeof(float) * N * N);
    float *b = malloc(sizeof(float) * N * N);
    float *c = malloc(sizeof(float) * N * N);
    assert_true(a && b && c);
    for (size_t k = 0; k < (size_t)N * N; k++) {
        a[k] = FLT_MIN / 4; /* 2^-128, subnormal */
        b[k] = 0x1p100f;
        c[k] = -1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N,
                b, N, 0.0f, c, N);
    size_t nonzero = 0;
    for (size_t k = 0; k < (size_t)N * N; k++) nonzero += c[k] != 0.0f;
    free(a);
    free(b);
    free(c);
    return nonzero;
}

static void every_thread_and_blas_flush_between_enter_and_leave(void **state) {
    (void)state;
    omp_set_num_threads(2);
    openblas_set_num_threads(2);
    /* the threads exist before, computing with subnormals */
    assert_int_equal(melon_float_mode_all_flush(2), 0);
    assert_int_equal(nonzero_products(), (size_t)N * N);

    melon_float_mode mode;
    melon_float_mode_enter(&mode, 2);
    assert_int_equal(melon_float_mode_flushes(), 1);
    assert_int_equal(melon_float_mode_all_flush(2), 1);
    assert_int_equal(openblas_get_num_threads(), 2);
    assert_int_equal(nonzero_products(), 0);

    melon_float_mode_leave(&mode);
    assert_int_equal(melon_float_mode_flushes(), 0);
    assert_int_equal(melon_float_mode_all_flush(2), 0);
    assert_int_equal(nonzero_products(), (size_t)N * N);
}

/* 3,000 interactions of 100 users, NCF with two threads. */
static void a_run_flushes_in_every_thread_and_restores_the_caller(void **state) {
    (void)state;
    const char *path = test_tmp_path("stream.tsv");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    melon_rng rng;
    melon_rng_seed(&rng, 5);
    for (int t = 0; t < 3000; t++)
        fprintf(f, "u%u\ti%u\t%d\n", melon_rng_below(&rng, 100),
                melon_rng_below(&rng, 200), t);
    fclose(f);
    melon_config cfg;
    melon_config_default(&cfg);
    cfg.data.files = path;
    cfg.data.name = "test";
    cfg.run.batch_size = 128;
    cfg.run.epochs = 1;
    cfg.run.progress = 0;
    cfg.run.threads = 2;
    cfg.model.name = "ncf";
    cfg.model.dim = 8;
    melon_run_result res;
    melon_err err = {{0}};
    assert_int_equal(melon_run(&cfg, &res, &err), 0);
    assert_int_equal(res.subnormals_flushed, 1);
    melon_run_result_free(&res);
    assert_int_equal(melon_float_mode_flushes(), 0);
    assert_int_equal(melon_float_mode_all_flush(2), 0);

    cfg.run.ieee_subnormals = 1;
    assert_int_equal(melon_run(&cfg, &res, &err), 0);
    assert_int_equal(res.subnormals_flushed, 0);
    melon_run_result_free(&res);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_thread_and_blas_flush_between_enter_and_leave),
        cmocka_unit_test(a_run_flushes_in_every_thread_and_restores_the_caller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
