/* Every candidate of every strategy's default search space is a setting
 * the strategy accepts: 300 draws each, applied to the defaults, create
 * the strategy on a small BPR-MF model (a candidate the strategy refused
 * would be a wasted run of every tuning). */
#include "test_support.h"

#include "eval/config.h"
#include "eval/tune.h"
#include "melon/model.h"
#include "update/strategy.h"

#include <string.h>

#define DRAWS 300

static void every_draw_creates_its_strategy(void **state) {
    (void)state;
    melon_config base;
    melon_config_default(&base);
    base.run.batch_size = 8;
    melon_err err = {{0}};
    for (int n = 0; melon_strategy_names[n]; n++) {
        const char *name = melon_strategy_names[n];
        melon_tune_space space;
        assert_int_equal(melon_tune_default_space(&space, name, &err), 0);
        for (int k = 0; k < DRAWS; k++) {
            char candidate[1024];
            if (melon_tune_candidate(&space, &base, 1, k, candidate,
                                     sizeof candidate, &err) != 0)
                fail_msg("%s, draw %d: %s", name, k, err.msg);
            melon_config cfg;
            if (melon_tune_apply(&cfg, &base, candidate, &err) != 0)
                fail_msg("%s, draw %d (%s): %s", name, k, candidate, err.msg);
            melon_model m;
            assert_int_equal(melon_model_create(&m, "bpr", 5, 7, &cfg.model,
                                                2 * cfg.run.batch_size, &err), 0);
            melon_strategy s;
            memset(&s, 0, sizeof s);
            if (melon_config_create_strategy(&s, name, &m, &cfg, &err) != 0)
                fail_msg("%s, draw %d (%s) refused: %s", name, k, candidate,
                         err.msg);
            melon_strategy_free(&s);
            melon_model_free(&m);
            melon_config_free(&cfg);
        }
    }
    melon_config_free(&base);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_draw_creates_its_strategy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
