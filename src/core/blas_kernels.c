#include "core/blas_kernels.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* OpenBLAS's own entry points. Weak: with another BLAS they are NULL and
 * nothing is changed. gotoblas_dynamic_quit forgets the kernels chosen,
 * gotoblas_dynamic_init chooses again (by OPENBLAS_CORETYPE when set, else
 * by the CPU's model) and sets their block sizes. */
extern char *openblas_get_corename(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));
extern void gotoblas_dynamic_init(void) __attribute__((weak));

enum { LEVEL_GENERIC, LEVEL_AVX, LEVEL_AVX2, LEVEL_AVX512 };

/* The instruction set of OpenBLAS's kernels for x86. */
static int kernels_level(const char *name) {
    static const struct {
        const char *name;
        int level;
    } known[] = {
        {"SkylakeX", LEVEL_AVX512},  {"Cooperlake", LEVEL_AVX512},
        {"SapphireRapids", LEVEL_AVX512}, {"Haswell", LEVEL_AVX2},
        {"Zen", LEVEL_AVX2},         {"Sandybridge", LEVEL_AVX},
        {"Bulldozer", LEVEL_AVX},    {"Piledriver", LEVEL_AVX},
        {"Steamroller", LEVEL_AVX},  {"Excavator", LEVEL_AVX},
    };
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        if (strcasecmp(name, known[k].name) == 0) return known[k].level;
    return LEVEL_GENERIC;
}

const char *melon_blas_kernels_for_cpu(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512cd"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "Haswell";
    if (__builtin_cpu_supports("avx")) return "Sandybridge";
#endif
    return NULL;
}

const char *melon_blas_kernels_in_use(void) {
    const char *name = openblas_get_corename ? openblas_get_corename() : NULL;
    return name ? name : "unknown";
}

/* OpenBLAS chooses its kernels again, by name, as at load time; the
 * user's OPENBLAS_CORETYPE (if any) is put back afterwards. */
static int reselect(const char *name) {
    const char *user = getenv("OPENBLAS_CORETYPE");
    char *saved = NULL;
    if (user && !(saved = strdup(user))) return -1;
    setenv("OPENBLAS_CORETYPE", name, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    if (saved)
        setenv("OPENBLAS_CORETYPE", saved, 1);
    else
        unsetenv("OPENBLAS_CORETYPE");
    free(saved);
    return 0;
}

int melon_blas_use_kernels(const char *name, melon_err *err) {
    if (!openblas_get_corename || !gotoblas_dynamic_quit || !gotoblas_dynamic_init)
        return melon_fail(err, "this BLAS cannot change its kernels (not OpenBLAS "
                               "built for every CPU)");
    char former[64];
    snprintf(former, sizeof former, "%s", melon_blas_kernels_in_use());
    if (reselect(name) != 0) return melon_fail(err, "out of memory");
    if (strcasecmp(melon_blas_kernels_in_use(), name) == 0) return 0;
    const char *got = melon_blas_kernels_in_use();
    melon_fail(err, "OpenBLAS has no %s kernels (it chose %s); it keeps its %s "
                    "kernels", name, got, former);
    reselect(former);
    return -1;
}

static void choose_once(void) {
    const char *wanted = melon_blas_kernels_for_cpu();
    if (!wanted || getenv("OPENBLAS_CORETYPE") || !openblas_get_corename) return;
    if (kernels_level(melon_blas_kernels_in_use()) >= kernels_level(wanted)) return;
    melon_err err;
    (void)melon_blas_use_kernels(wanted, &err); /* else OpenBLAS's own stay */
}

const char *melon_blas_choose_kernels(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, choose_once);
    return melon_blas_kernels_in_use();
}
