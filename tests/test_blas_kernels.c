/* OpenBLAS's kernels follow the CPU's instruction sets: when OpenBLAS falls
 * back to its generic kernels (as it does for a CPU model it does not know;
 * here forced by name), melon has it choose the kernels the CPU supports,
 * and the products stay right. A kernel type set by the user is kept. */
#include "test_support.h"

#include "core/blas_kernels.h"

#include <cblas.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

static int supports_better_kernels(void) {
    if (melon_blas_kernels_for_cpu()) return 1;
    printf("no AVX on this CPU: nothing better than the generic kernels\n");
    return 0;
}

/* max |C - naive A B| over a 64 x 96 x 80 product */
static double product_error(void) {
    enum { M = 64, K = 96, NC = 80 };
    static float a[M * K], b[K * NC], c[M * NC];
    melon_rng rng;
    melon_rng_seed(&rng, 3);
    for (int k = 0; k < M * K; k++) a[k] = (float)melon_rng_uniform(&rng) - 0.5f;
    for (int k = 0; k < K * NC; k++) b[k] = (float)melon_rng_uniform(&rng) - 0.5f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, NC, K, 1.0f, a, K, b,
                NC, 0.0f, c, NC);
    double worst = 0.0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < NC; j++) {
            double sum = 0.0;
            for (int k = 0; k < K; k++) sum += (double)a[i * K + k] * b[k * NC + j];
            double e = sum - c[i * NC + j];
            if (e < 0) e = -e;
            if (e > worst) worst = e;
        }
    return worst;
}

/* In a child process, so that the once-per-process choice is still to be
 * made: the user's OPENBLAS_CORETYPE=Prescott stays. */
static void a_kernel_type_set_by_the_user_is_kept(void **state) {
    (void)state;
    if (!supports_better_kernels()) skip();
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        melon_err err;
        if (melon_blas_use_kernels("Prescott", &err) != 0) _exit(2);
        setenv("OPENBLAS_CORETYPE", "Prescott", 1);
        _exit(strcasecmp(melon_blas_choose_kernels(), "Prescott") == 0 ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void generic_kernels_are_replaced_by_the_cpus_own(void **state) {
    (void)state;
    if (!supports_better_kernels()) skip();
    /* the case without a user's choice (the machine may set one) */
    unsetenv("OPENBLAS_CORETYPE");
    melon_err err = {{0}};
    assert_int_equal(melon_blas_use_kernels("Prescott", &err), 0);
    assert_string_equal(melon_blas_kernels_in_use(), "Prescott");
    assert_true(product_error() < 1e-4);
    const char *chosen = melon_blas_choose_kernels();
    printf("generic kernels replaced by %s\n", chosen);
    assert_int_equal(strcasecmp(chosen, melon_blas_kernels_for_cpu()), 0);
    assert_true(product_error() < 1e-4);
    /* once per process: a later call changes nothing */
    assert_int_equal(melon_blas_use_kernels("Prescott", &err), 0);
    assert_string_equal(melon_blas_choose_kernels(), "Prescott");
    assert_int_not_equal(melon_blas_use_kernels("NoSuchCPU", &err), 0);
    assert_string_equal(melon_blas_kernels_in_use(), "Prescott");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_kernel_type_set_by_the_user_is_kept),
        cmocka_unit_test(generic_kernels_are_replaced_by_the_cpus_own),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
