/* The allocators ask for transparent huge pages over large blocks: the
 * mapping that holds a large block's whole 2 MB pages carries the kernel's
 * "hg" flag (madvise(MADV_HUGEPAGE)) in /proc/self/smaps, and a small block
 * asks for nothing. Skipped where the kernel has no huge pages or no
 * smaps. */
#include "test_support.h"

#include "melon/common.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MB ((size_t)1 << 20)

/* 1 when the mapping holding address p has the VmFlags entry "hg", 0 when
 * it has not, -1 when smaps cannot be read or has no such mapping. */
static int advised_huge(const void *p) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[512];
    int inside = 0, found = -1;
    uintptr_t at = (uintptr_t)p;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
            inside = at >= lo && at < hi;
        } else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            found = strstr(line, " hg") != NULL;
            break;
        }
    }
    fclose(f);
    return found;
}

/* 1 when the kernel has transparent huge pages (without them madvise
 * refuses the advice, and the allocators go on without it). */
static int kernel_has_thp(void) {
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f) return 0;
    fclose(f);
    return 1;
}

/* The first 2 MB boundary inside the block. */
static void *first_huge_page(void *p) {
    uintptr_t a = ((uintptr_t)p + 2 * MB - 1) & ~(uintptr_t)(2 * MB - 1);
    return (void *)a;
}

static void test_large_blocks_advised(void **state) {
    (void)state;
    if (advised_huge(&state) < 0 || !kernel_has_thp()) skip();
    melon_err err;
    float *a = melon_alloc(16 * MB, &err);
    float *b = melon_calloc(4 * MB, sizeof(float), &err);
    assert_non_null(a);
    assert_non_null(b);
    memset(a, 1, 16 * MB);
    assert_int_equal(advised_huge(first_huge_page(a)), 1);
    assert_int_equal(advised_huge(first_huge_page(b)), 1);
    /* a grown table keeps the advice over its new room */
    float *c = melon_grow_rows(NULL, 64 * sizeof(float), 0, 1000, 100000, 0, &err);
    assert_non_null(c);
    assert_int_equal(advised_huge(first_huge_page(c)), 1);
    assert_true(c[64 * 999] == 0.0f);
    free(a);
    free(b);
    free(c);
}

static void test_small_blocks_untouched(void **state) {
    (void)state;
    if (advised_huge(&state) < 0) skip();
    melon_err err;
    /* 1 MB holds no whole 2 MB page: its mapping is left as it was */
    char *p = melon_alloc(MB, &err);
    assert_non_null(p);
    memset(p, 0, MB);
    assert_int_equal(advised_huge(p + MB / 2), 0);
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_blocks_advised),
        cmocka_unit_test(test_small_blocks_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
