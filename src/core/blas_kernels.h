/* OpenBLAS kernels chosen from the CPU's instruction sets.
 *
 * OpenBLAS built for every x86 CPU (DYNAMIC_ARCH, as Debian builds it)
 * picks its kernels when it loads, before main, from the CPU's model
 * number. A model it does not know gets its generic Prescott kernels (SSE3),
 * several times slower than its AVX2 or AVX-512 ones on the same CPU.
 * melon_blas_choose_kernels() compares OpenBLAS's choice with what the CPU
 * and the operating system support (cpuid and xgetbv, through the
 * compiler's __builtin_cpu_supports) and, when OpenBLAS chose a lower
 * instruction set, has OpenBLAS choose again by name through its own
 * selection (gotoblas_dynamic_init). This works wherever the library is
 * loaded from: the melon command, a program linking libmelon, Python.
 * OPENBLAS_CORETYPE set by the user is left as it is. */
#ifndef MELON_BLAS_KERNELS_H
#define MELON_BLAS_KERNELS_H

#include "melon/common.h"

/* The OpenBLAS kernels that suit the CPU's instruction sets ("SkylakeX",
 * "Haswell", "Sandybridge"), or NULL when no better than the generic ones. */
const char *melon_blas_kernels_for_cpu(void);
/* The kernels OpenBLAS uses now ("unknown" for another BLAS). */
const char *melon_blas_kernels_in_use(void);
/* Once per process: moves OpenBLAS to melon_blas_kernels_for_cpu() when
 * its own choice has a lower instruction set and OPENBLAS_CORETYPE is not
 * set. Call it before the first product and while no other thread runs
 * OpenBLAS. Returns the kernels in use afterwards. */
const char *melon_blas_choose_kernels(void);
/* Has OpenBLAS use the named kernels (benchmarks and tests: "Prescott" is
 * what OpenBLAS uses for a CPU it does not know). Fails when this BLAS
 * cannot choose again or does not know the name. */
int melon_blas_use_kernels(const char *name, melon_err *err);

#endif
