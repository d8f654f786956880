/* The settings tables and setting by name (melon/settings.h, eval/config.h):
 * unique names, defaults, every value's text reads back to itself, range
 * and type checks that name the option and the value. */
#include "test_support.h"

#include "eval/config.h"

#include <string.h>

static void names_are_unique_across_rooms(void **state) {
    (void)state;
    melon_config_room rooms[MELON_MAX_ROOMS];
    int n = melon_config_rooms(rooms, MELON_MAX_ROOMS), total = 0;
    assert_true(n >= 10);
    for (int a = 0; a < n; a++)
        for (int k = 0; k < rooms[a].table->n; k++, total++) {
            const melon_setting *s = &rooms[a].table->settings[k];
            assert_non_null(s->help);
            for (int b = a; b < n; b++)
                for (int j = b == a ? k + 1 : 0; j < rooms[b].table->n; j++)
                    if (strcmp(s->name, rooms[b].table->settings[j].name) == 0)
                        fail_msg("--%s in rooms %s and %s", s->name,
                                 rooms[a].table->room, rooms[b].table->room);
        }
    assert_true(total > 70);
}

static void defaults_are_the_protocols(void **state) {
    (void)state;
    melon_config cfg;
    melon_config_default(&cfg);
    assert_int_equal(cfg.run.batch_size, 256);
    assert_true(cfg.run.train_ratio == 0.8);
    assert_int_equal(cfg.run.epochs, 5);
    assert_int_equal((int)cfg.run.seed, 1);
    assert_string_equal(cfg.run.strategy, "default");
    assert_string_equal(cfg.model.name, "bpr");
    assert_int_equal(cfg.model.dim, 64);
    assert_int_equal(cfg.model.layers.n, 4);
    assert_int_equal(cfg.model.layers.w[3], 64);
    assert_true(cfg.model.init_std == 0.01f);
    assert_true(cfg.optim.lr == 1e-3f && cfg.optim.l2 == 1e-6f);
    assert_true(cfg.optim.beta2 == 0.999f);
    assert_int_equal(cfg.optim.kind, MELON_OPT_ADAM);
    assert_string_equal(cfg.data.load.format, "auto");
    assert_true(cfg.strategy.melon.init_lr_bias == -4.5f);
    assert_true(cfg.strategy.s2meta.clip == 0.25f);
    assert_int_equal(cfg.strategy.sml.hidden, 512);
    assert_true(cfg.strategy.eals.alpha == 0.4f);
    /* every setting is at its default */
    melon_config_room rooms[MELON_MAX_ROOMS];
    int n = melon_config_rooms(rooms, MELON_MAX_ROOMS);
    for (int r = 0; r < n; r++)
        for (int k = 0; k < rooms[r].table->n; k++)
            assert_true(melon_setting_is_default(&rooms[r].table->settings[k],
                                                 (char *)&cfg + rooms[r].offset));
}

/* Format, parse back, format again: the same text and the same bytes. */
static void every_value_reads_back(void **state) {
    (void)state;
    melon_config a, b;
    melon_config_default(&a);
    melon_err err = {{0}};
    /* values off the defaults, of every type */
    const char *set[] = {"lr=0.00123", "train-ratio=0.7", "seed=18446744073",
                         "layers=8,4", "optimizer=sgd", "model=ncf",
                         "melon-meta-lr=3.3e-05", "s2meta-flexible=on",
                         "columns=user,item,ts", "mwnet-meta-data=next-batch",
                         "negatives=all"};
    for (size_t k = 0; k < sizeof set / sizeof set[0]; k++)
        if (melon_config_assign(&a, set[k], &err) != 0) fail_msg("%s", err.msg);
    melon_config_default(&b);
    melon_config_room rooms[MELON_MAX_ROOMS];
    int n = melon_config_rooms(rooms, MELON_MAX_ROOMS);
    for (int r = 0; r < n; r++)
        for (int k = 0; k < rooms[r].table->n; k++) {
            const melon_setting *s = &rooms[r].table->settings[k];
            char text[1024], again[1024];
            melon_setting_format(s, (char *)&a + rooms[r].offset, text, sizeof text);
            if (s->type == MELON_SETTING_STRING && !text[0]) continue;
            if (melon_config_set(&b, s->name, text, &err) != 0)
                fail_msg("--%s '%s': %s", s->name, text, err.msg);
            melon_setting_format(s, (char *)&b + rooms[r].offset, again, sizeof again);
            assert_string_equal(text, again);
        }
    assert_true(a.optim.lr == b.optim.lr && b.optim.lr == 0.00123f);
    assert_true(b.strategy.melon.meta_lr == 3.3e-05f);
    assert_int_equal(b.model.layers.n, 2);
    assert_int_equal(b.optim.kind, MELON_OPT_SGD);
    assert_string_equal(b.data.load.columns, "user,item,ts");
    assert_int_equal(b.strategy.mwnet.meta_data, MELON_META_NEXT_BATCH);
    assert_int_equal(b.run.negatives, 0); /* all */
    melon_config_free(&a);
    melon_config_free(&b);
}

static void expect_error(melon_config *cfg, const char *assignment,
                         const char *message) {
    melon_err err = {{0}};
    assert_int_equal(melon_config_assign(cfg, assignment, &err), -1);
    if (!strstr(err.msg, message))
        fail_msg("'%s': message '%s' lacks '%s'", assignment, err.msg, message);
}

static void bad_values_are_named(void **state) {
    (void)state;
    melon_config cfg;
    melon_config_default(&cfg);
    expect_error(&cfg, "batch-size=0", "--batch-size '0': must be between 1 and");
    expect_error(&cfg, "lr=fast", "--lr 'fast': is not a finite number");
    expect_error(&cfg, "lr=nan", "--lr 'nan': is not a finite number");
    expect_error(&cfg, "epochs=2.5", "--epochs '2.5': is not an integer");
    expect_error(&cfg, "seed=-1", "--seed '-1': is not a non-negative integer");
    expect_error(&cfg, "strategy=bogus", "--strategy 'bogus': must be one of: default");
    expect_error(&cfg, "sml-loss=mse", "--sml-loss 'mse': must be one of: bpr bce");
    expect_error(&cfg, "layers=64,0", "--layers '64,0': expected 1 to 8");
    expect_error(&cfg, "dense-adam=maybe", "--dense-adam 'maybe': must be on or off");
    expect_error(&cfg, "no-such=1", "unknown setting 'no-such'");
    expect_error(&cfg, "=1", "expected name=value");
    expect_error(&cfg, "lr", "--lr needs a value");
    expect_error(&cfg, "train-ratio=1", "--train-ratio '1': must be above 0 and below 1");
    expect_error(&cfg, "melon-rate-scale=0", "must be above 0 and at most 1");
    expect_error(&cfg, "negatives=some", "--negatives 'some': is not an integer or all");
    /* a failed assignment leaves the value alone */
    assert_int_equal(cfg.run.batch_size, 256);
    assert_true(cfg.optim.lr == 1e-3f);
    melon_config_free(&cfg);
}

static void strings_are_copied(void **state) {
    (void)state;
    melon_config cfg;
    melon_config_default(&cfg);
    char text[32];
    strcpy(text, "a.csv,b.csv");
    melon_err err = {{0}};
    assert_int_equal(melon_config_set(&cfg, "data", text, &err), 0);
    strcpy(text, "changed");
    assert_string_equal(cfg.data.files, "a.csv,b.csv");
    char back[64];
    assert_int_equal(melon_config_get(&cfg, "data", back, sizeof back, &err), 0);
    assert_string_equal(back, "a.csv,b.csv");
    const char *paths[MELON_MAX_FILES];
    char buf[64];
    assert_int_equal(melon_data_split_files(cfg.data.files, buf, sizeof buf, paths,
                                            &err), 2);
    assert_string_equal(paths[1], "b.csv");
    melon_config_free(&cfg);
}

/* Which rooms a run records, and which hold its learning rates. */
static void a_run_records_its_own_rooms(void **state) {
    (void)state;
    melon_config cfg;
    melon_config_default(&cfg);
    melon_err err = {{0}};
    melon_config_room rooms[MELON_MAX_ROOMS];
    const char *expect[][6] = {
        {"default", "run", "data", "model", "optimizer", NULL},
        {"mwnet", "run", "data", "model", "optimizer", "mwnet"},
        {"melon-p", "run", "data", "model", "melon", NULL},
        {"eals-als", "run", "data", "model", "eals", NULL},
        {"sml", "run", "data", "model", "sml", NULL},
    };
    for (size_t k = 0; k < sizeof expect / sizeof expect[0]; k++) {
        assert_int_equal(melon_config_set(&cfg, "strategy", expect[k][0], &err), 0);
        int n = melon_config_run_rooms(&cfg, rooms, MELON_MAX_ROOMS), m = 0;
        for (int j = 1; j < 6 && expect[k][j]; j++, m++)
            assert_string_equal(rooms[j - 1].table->room, expect[k][j]);
        assert_int_equal(n, m);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_are_unique_across_rooms),
        cmocka_unit_test(defaults_are_the_protocols),
        cmocka_unit_test(every_value_reads_back),
        cmocka_unit_test(bad_values_are_named),
        cmocka_unit_test(strings_are_copied),
        cmocka_unit_test(a_run_records_its_own_rooms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
