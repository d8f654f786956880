/* Subnormal floats flushed to zero in every thread that computes.
 *
 * A float below 2^-126 in magnitude is subnormal. On x86 every instruction
 * that meets one as an input or produces one as a result takes a slow path
 * of about a hundred cycles. They arise in the backward passes: the loss
 * gradient of a pair the model already ranks well (sigma(-x) for x > 87),
 * and the products through the NCF tower of gradients that are merely
 * small. On NCF they made the matrix products twenty times slower.
 * Flush-to-zero (results) and denormals-are-zero (inputs) replace them by
 * zero, the value they round to at the next addition of a normal number.
 *
 * The mode is a per-thread register. It is set in the calling thread and in
 * the OpenMP threads that will run a region of `threads` threads; Debian's
 * OpenBLAS (its OpenMP build) runs its products on these same threads, and
 * threads created later are copies of the thread that creates them. */
#ifndef MELON_FLOAT_MODE_H
#define MELON_FLOAT_MODE_H

typedef struct {
    unsigned int saved;  /* the caller's mode before enter */
    int threads;
} melon_float_mode;

/* Sets flush-to-zero and denormals-are-zero in the caller and in the
 * threads of a `threads`-thread OpenMP region, remembering the caller's
 * mode. */
void melon_float_mode_enter(melon_float_mode *mode, int threads);
/* Gives the caller and those threads back the caller's former mode. */
void melon_float_mode_leave(const melon_float_mode *mode);
/* 1 when the calling thread flushes subnormals to zero, 0 when it computes
 * with them (or the CPU has no such mode). */
int melon_float_mode_flushes(void);
/* 1 when every thread of a `threads`-thread OpenMP region flushes. */
int melon_float_mode_all_flush(int threads);

#endif
