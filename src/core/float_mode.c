#include "core/float_mode.h"

#include <omp.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
/* MXCSR bits: denormals-are-zero (6) and flush-to-zero (15). */
#define FLUSH_BITS ((1u << 6) | (1u << 15))
static unsigned int mode_get(void) { return _mm_getcsr(); }
static void mode_set(unsigned int m) { _mm_setcsr(m); }
#elif defined(__aarch64__)
/* FPCR bit 24 (FZ) flushes both inputs and results. */
#define FLUSH_BITS (1u << 24)
static unsigned int mode_get(void) {
    unsigned long r;
    __asm__ volatile("mrs %0, fpcr" : "=r"(r));
    return (unsigned int)r;
}
static void mode_set(unsigned int m) {
    unsigned long r = m;
    __asm__ volatile("msr fpcr, %0" : : "r"(r));
}
#else
#define FLUSH_BITS 0u
static unsigned int mode_get(void) { return 0; }
static void mode_set(unsigned int m) { (void)m; }
#endif

/* Every thread of a `threads`-thread region takes `m`. */
static void set_in_team(int threads, unsigned int m) {
    if (threads < 1) threads = 1;
#pragma omp parallel num_threads(threads)
    mode_set(m);
}

void melon_float_mode_enter(melon_float_mode *mode, int threads) {
    mode->saved = mode_get();
    mode->threads = threads;
    unsigned int flushing = mode->saved | FLUSH_BITS;
    mode_set(flushing);
    set_in_team(threads, flushing);
}

void melon_float_mode_leave(const melon_float_mode *mode) {
    set_in_team(mode->threads, mode->saved);
    mode_set(mode->saved);
}

int melon_float_mode_flushes(void) {
    return FLUSH_BITS != 0 && (mode_get() & FLUSH_BITS) == FLUSH_BITS;
}

int melon_float_mode_all_flush(int threads) {
    int all = 1;
    if (threads < 1) threads = 1;
#pragma omp parallel num_threads(threads) reduction(&& : all)
    all = melon_float_mode_flushes();
    return all;
}
