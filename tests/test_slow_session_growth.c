/* Live sessions that meet users as they come against `melon run`, which
 * knows every id up front: every strategy, in each of its forms, on
 * BPR-MF and NCF (slow: left out of the sanitizer pass; test_session runs
 * a few of them there). */
#include "test_support.h"

#include "update/strategy.h"

#include <stddef.h>

static void test_every_strategy_live_matches_run(void **state) {
    (void)state;
    static const char *const none[2] = {NULL, NULL};
    static const struct {
        const char *strategy, *extra[2];
    } forms[] = {
        {"mwnet", {"mwnet-meta-data=next-batch", NULL}},
        {"metasgd", {"metasgd-meta-data=next-batch", NULL}},
        {"melon", {"melon-variant=official", NULL}},
        {"melon-p", {"melon-variant=official", NULL}},
        {"melon", {"melon-variant=official", "melon-meta-data=next-batch"}},
        {"melon", {"melon-variant=official", "melon-leaky-trial=on"}},
    };
    const char *models[] = {"bpr", "ncf"};
    for (int mk = 0; mk < 2; mk++) {
        for (const char *const *name = melon_strategy_names; *name; name++)
            test_live_matches_run_of(models[mk], *name, none);
        for (size_t f = 0; f < sizeof forms / sizeof *forms; f++)
            test_live_matches_run_of(models[mk], forms[f].strategy,
                                     forms[f].extra);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_strategy_live_matches_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
