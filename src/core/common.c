/* Error messages, allocation, the random number generator and clocks. */
#define _DEFAULT_SOURCE
#include "melon/common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

int melon_fail(melon_err *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* 2 MB: an x86-64 and arm64 huge page. */
#define HUGE_PAGE ((uintptr_t)2 << 20)

void melon_advise_huge(void *p, size_t bytes) {
#ifdef MADV_HUGEPAGE
    uintptr_t begin = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    uintptr_t end = ((uintptr_t)p + bytes) & ~(HUGE_PAGE - 1);
    if (p && end > begin) (void)madvise((void *)begin, end - begin, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}

void *melon_alloc(size_t bytes, melon_err *err) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) melon_fail(err, "out of memory allocating %zu bytes", bytes);
    melon_advise_huge(p, bytes);
    return p;
}

void *melon_calloc(size_t count, size_t size, melon_err *err) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        melon_fail(err, "out of memory allocating %zu x %zu bytes", count,
                   size);
    else if (size && count <= SIZE_MAX / size)
        melon_advise_huge(p, count * size);
    return p;
}

void *melon_grow_rows(void *array, size_t size, size_t old_rows, size_t rows,
                      size_t room, int fill, melon_err *err) {
    if (room < rows) room = rows;
    void *grown = realloc(array, (room ? room : 1) * size);
    if (!grown) {
        melon_fail(err, "out of memory growing a table to %zu rows", rows);
        return NULL;
    }
    melon_advise_huge(grown, room * size);
    if (rows > old_rows)
        memset((char *)grown + old_rows * size, fill, (rows - old_rows) * size);
    return grown;
}

/* splitmix64: expands a 64-bit seed into the generator's state. */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void melon_rng_seed(melon_rng *rng, uint64_t seed) {
    uint64_t x = seed;
    for (int k = 0; k < 4; k++) rng->s[k] = splitmix64(&x);
}

void melon_rng_seed_stream(melon_rng *rng, uint64_t seed, uint64_t stream) {
    uint64_t x = seed;
    uint64_t mixed = splitmix64(&x) ^ (stream * 0xd1342543de82ef95ULL + 1);
    melon_rng_seed(rng, mixed);
}

static inline uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna). */
uint64_t melon_rng_u64(melon_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Lemire's multiply-and-reject method: unbiased in [0, n). */
uint32_t melon_rng_below(melon_rng *rng, uint32_t n) {
    uint64_t m = (melon_rng_u64(rng) >> 32) * (uint64_t)n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (melon_rng_u64(rng) >> 32) * (uint64_t)n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

double melon_rng_uniform(melon_rng *rng) {
    return (double)(melon_rng_u64(rng) >> 11) * 0x1.0p-53;
}

double melon_rng_normal(melon_rng *rng) {
    double u1 = melon_rng_uniform(rng);
    double u2 = melon_rng_uniform(rng);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void melon_rng_shuffle_i32(melon_rng *rng, int32_t *values, size_t n) {
    for (size_t k = n; k > 1; k--) {
        size_t j = melon_rng_below(rng, (uint32_t)k);
        int32_t tmp = values[k - 1];
        values[k - 1] = values[j];
        values[j] = tmp;
    }
}

double melon_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double melon_peak_rss_mb(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0.0;
    return (double)ru.ru_maxrss / 1024.0; /* ru_maxrss is in KiB on Linux */
}
