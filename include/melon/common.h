/* Shared basics: error reporting and the seeded random number generator. */
#ifndef MELON_COMMON_H
#define MELON_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Every fallible function returns 0 on success and -1 on failure, after
 * writing a message into the caller's melon_err. Messages name the file,
 * line and offending value where there is one, e.g.
 * "data/u.data:17: timestamp 'abc' is not a number". The public header
 * melon.h defines the same type. */
#ifndef MELON_ERR_DEFINED
#define MELON_ERR_DEFINED
#define MELON_ERR_MSG 1024
typedef struct melon_err {
    char msg[MELON_ERR_MSG];
} melon_err;
#endif

/* printf-style: sets err->msg and returns -1 (so `return melon_fail(...)`). */
int melon_fail(melon_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Allocation that reports failure through melon_err (NULL on failure). */
void *melon_alloc(size_t bytes, melon_err *err);
void *melon_calloc(size_t count, size_t size, melon_err *err);
/* Asks the kernel for 2 MB pages over the whole 2 MB pages of [p, p +
 * bytes) (transparent huge pages in their madvise mode): tables far larger
 * than the caches, read at random rows, otherwise miss the TLB on almost
 * every row. Advice only; the allocators call it for every block. */
void melon_advise_huge(void *p, size_t bytes);

/* A per-row array (rows of `size` bytes) that follows a growing table:
 * returns it reallocated to `room` rows (room >= rows; pass the table's
 * room so growth stays amortised) with rows [old_rows, rows) set to the
 * byte `fill`; NULL on failure, `array` then untouched. */
void *melon_grow_rows(void *array, size_t size, size_t old_rows, size_t rows,
                      size_t room, int fill, melon_err *err);

/* murmur3's finaliser: spreads every input bit over the whole word (hash
 * tables, sharding). */
static inline uint64_t melon_mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* xoshiro256** generator, seeded through splitmix64. Deterministic for a
 * given seed on every platform. */
typedef struct {
    uint64_t s[4];
} melon_rng;

void melon_rng_seed(melon_rng *rng, uint64_t seed);
/* A generator for a sub-stream: the same (seed, stream) pair always gives
 * the same sequence, independent of how much other streams were used. */
void melon_rng_seed_stream(melon_rng *rng, uint64_t seed, uint64_t stream);
uint64_t melon_rng_u64(melon_rng *rng);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint32_t melon_rng_below(melon_rng *rng, uint32_t n);
/* Uniform float in [0, 1). */
double melon_rng_uniform(melon_rng *rng);
/* Standard normal draw (Box-Muller). */
double melon_rng_normal(melon_rng *rng);
/* Fisher-Yates shuffle of n int32 values. */
void melon_rng_shuffle_i32(melon_rng *rng, int32_t *values, size_t n);

/* Monotonic wall-clock seconds. */
double melon_now(void);
/* Peak resident set size of this process in MB. */
double melon_peak_rss_mb(void);

#endif
