/* End-to-end runs of the prequential runner on small written streams and on
 * ml-100k: causality of evaluation, reproducibility, result files. */
#include "test_support.h"

#include "eval/runner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 200 users; the past (batches 0..3) spreads over items 0..149; in the
 * online batch (batch 4) 64 users all take one new item "hit". */
static const char *write_disjoint_stream(void) {
    const char *path = test_tmp_path("disjoint.tsv");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    int t = 0;
    for (int k = 0; k < 4 * 64; k++)
        fprintf(f, "u%d\ti%d\t%d\n", k % 200, k % 150, t++);
    for (int k = 0; k < 64; k++)
        fprintf(f, "u%d\thit\t%d\n", k, t++);
    fclose(f);
    return path;
}

/* 2,000 interactions of 100 users with a popularity skew: users prefer
 * items near their own id, so a recommender has something to learn. */
static const char *write_random_stream(void) {
    const char *path = test_tmp_path("random.tsv");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    melon_rng rng;
    melon_rng_seed(&rng, 99);
    for (int t = 0; t < 2000; t++) {
        int user = (int)melon_rng_below(&rng, 100);
        int item = (user * 3 + (int)melon_rng_below(&rng, 40)) % 300;
        fprintf(f, "u%d\ti%d\t%d\n", user, item, t);
    }
    fclose(f);
    return path;
}

static void base_config(melon_config *cfg, const char *path, const char *model) {
    melon_config_default(cfg);
    cfg->data.files = path;
    cfg->data.name = "test";
    cfg->run.batch_size = 64;
    cfg->run.epochs = 2;
    cfg->run.progress = 0;
    cfg->run.threads = 2;
    cfg->model.name = model;
    cfg->model.dim = 8;
}

/* pop counts only interactions before the batch: "hit" has count 0 when the
 * online batch is evaluated, below every past item, so it ranks last (ties
 * count against it). Had the batch been counted first, "hit" (64) would
 * rank first. */
static void pop_is_evaluated_before_it_sees_the_batch(void **state) {
    (void)state;
    melon_config cfg;
    base_config(&cfg, write_disjoint_stream(), "pop");
    cfg.run.train_ratio = 0.8; /* 5 batches: 4 past, 1 online */
    melon_run_result res;
    melon_err err = {{0}};
    assert_int_equal(melon_run(&cfg, &res, &err), 0);
    assert_int_equal(res.n_batches, 5);
    assert_int_equal(res.n_test_batches, 1);
    assert_int_equal(res.total.count, 64);
    assert_close(melon_metric_hr(&res.total, 2), 0.0, 0.0);
    melon_run_result_free(&res);
}

static void same_seed_same_metrics_other_seed_differs(void **state) {
    (void)state;
    const char *path = write_random_stream();
    melon_config cfg;
    base_config(&cfg, path, "bpr");
    cfg.run.batch_size = 128;
    melon_run_result a, b, c;
    melon_err err = {{0}};
    assert_int_equal(melon_run(&cfg, &a, &err), 0);
    assert_int_equal(melon_run(&cfg, &b, &err), 0);
    cfg.run.seed = 2;
    cfg.model.seed = 2;
    assert_int_equal(melon_run(&cfg, &c, &err), 0);
    int differs = 0;
    for (int k = 0; k < MELON_N_CUTOFFS; k++) {
        assert_true(a.total.hr[k] == b.total.hr[k]);
        assert_true(a.total.ndcg[k] == b.total.ndcg[k]);
        differs |= a.total.ndcg[k] != c.total.ndcg[k];
    }
    for (size_t t = 0; t < a.n_test_batches; t++)
        assert_true(a.train_loss[t] == b.train_loss[t]);
    assert_true(differs);
    assert_true(melon_metric_hr(&a.total, 2) > 0.0);
    melon_run_result_free(&a);
    melon_run_result_free(&b);
    melon_run_result_free(&c);
}

static void pretraining_lowers_the_loss(void **state) {
    (void)state;
    melon_config cfg;
    base_config(&cfg, write_random_stream(), "bpr");
    cfg.run.epochs = 30;
    cfg.optim.lr = 0.01f;
    melon_run_result res;
    melon_err err = {{0}};
    assert_int_equal(melon_run(&cfg, &res, &err), 0);
    /* log 2 = 0.693 at initialisation */
    assert_true(res.pretrain_loss[0] > 0.68);
    assert_true(res.pretrain_loss[29] < 0.5 * res.pretrain_loss[0]);
    melon_run_result_free(&res);
}

static void result_files_are_written_whole(void **state) {
    (void)state;
    melon_config cfg;
    base_config(&cfg, write_disjoint_stream(), "ncf");
    cfg.model.layers.n = 2;
    cfg.model.layers.w[0] = 8;
    cfg.model.layers.w[1] = 4;
    melon_run_result res;
    melon_err err = {{0}};
    assert_int_equal(melon_run(&cfg, &res, &err), 0);
    const char *json = test_tmp_path("r.json");
    const char *csv = test_tmp_path("r.csv");
    assert_int_equal(melon_write_result_json(json, &cfg, &res, &err), 0);
    assert_int_equal(melon_write_per_batch_csv(csv, &res, &err), 0);
    char *text = test_read_file(json);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"NDCG@10\""));
    assert_non_null(strstr(text, "\"update_s_per_batch\""));
    assert_non_null(strstr(text, "\"model\": \"ncf\""));
    assert_non_null(strstr(text, "batch-size 64 (protocol: 256)"));
    free(text);
    text = test_read_file(csv);
    assert_non_null(text);
    assert_true(strncmp(text, "batch,interactions,HR@5", 23) == 0);
    free(text);
    /* no temporary left beside the results */
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", test_tmpdir());
    assert_int_not_equal(system(cmd), 0);
    melon_run_result_free(&res);
}

/* Divergence, by hand: an epoch above twice the lowest before it and above
 * 2 ln 2 = 1.3863; online batches averaging above twice the last epoch (at
 * least ln 2); anything not finite. */
static void diverged_losses_are_named(void **state) {
    (void)state;
    char why[256] = "";
    const double fine[3] = {0.69, 0.5, 0.4}, online_fine[2] = {0.6, 0.7};
    assert_int_equal(melon_losses_diverged(fine, 3, online_fine, 2, "x", why,
                                           sizeof why), 0);
    /* a large init starts high and comes down: not diverged */
    const double falling[3] = {1.7, 1.5, 1.4};
    assert_int_equal(melon_losses_diverged(falling, 3, NULL, 0, "x", why,
                                           sizeof why), 0);
    /* 1.3864 is twice 0.6 and above 2 ln 2; 1.3862 is not above 2 ln 2;
     * 1.5 is above 2 ln 2 but not twice 0.8 */
    const double up[3] = {0.69, 0.6, 1.3864}, below[3] = {0.69, 0.6, 1.3862};
    const double not_twice[3] = {0.9, 0.8, 1.5};
    assert_int_equal(melon_losses_diverged(up, 3, NULL, 0, "sml", why, sizeof why), 1);
    assert_non_null(strstr(why, "pre-training epoch 3 is 1.386"));
    assert_non_null(strstr(why, "the lowest before it (0.6)"));
    assert_non_null(strstr(why, "the sml updates diverged"));
    assert_int_equal(melon_losses_diverged(below, 3, NULL, 0, "x", why, sizeof why), 0);
    assert_int_equal(melon_losses_diverged(not_twice, 3, NULL, 0, "x", why, sizeof why), 0);
    /* online: mean (1.0 + 1.9) / 2 = 1.45 > 2 max(0.4, ln 2) = 1.3863;
     * (1.0 + 1.7) / 2 = 1.35 is not; against 1.4 the bar is 2.8 */
    const double high[2] = {1.0, 1.9}, lower[2] = {1.0, 1.7};
    assert_int_equal(melon_losses_diverged(fine, 3, high, 2, "x", why, sizeof why), 1);
    assert_non_null(strstr(why, "online batches is 1.45"));
    assert_int_equal(melon_losses_diverged(fine, 3, lower, 2, "x", why, sizeof why), 0);
    assert_int_equal(melon_losses_diverged(falling, 3, high, 2, "x", why, sizeof why), 0);
    /* not finite, anywhere */
    const double nan_epoch[1] = {NAN}, turned[2] = {0.6, NAN}, inf_one[1] = {INFINITY};
    assert_int_equal(melon_losses_diverged(nan_epoch, 1, NULL, 0, "x", why,
                                           sizeof why), 1);
    assert_non_null(strstr(why, "epoch 1 is nan"));
    assert_int_equal(melon_losses_diverged(fine, 3, turned, 2, "x", why,
                                           sizeof why), 1);
    assert_non_null(strstr(why, "online batch 2 is nan"));
    assert_int_equal(melon_losses_diverged(NULL, 0, inf_one, 1, "x", why,
                                           sizeof why), 1);
}

/* A run whose learning rate blows the model up says so in its result
 * (the metrics are still those of the model it ended with); a sane run
 * leaves the warning empty. */
static void a_diverging_run_is_flagged(void **state) {
    (void)state;
    const char *path = write_random_stream();
    melon_config cfg;
    base_config(&cfg, path, "bpr");
    cfg.run.epochs = 3;
    melon_run_result res;
    melon_err err = {{0}};
    assert_int_equal(melon_run(&cfg, &res, &err), 0);
    assert_string_equal(res.warning, "");
    melon_run_result_free(&res);
    cfg.optim.kind = MELON_OPT_SGD;
    cfg.optim.lr = 100.0f;
    cfg.model.init_std = 1.0f;
    assert_int_equal(melon_run(&cfg, &res, &err), 0);
    print_message("  %s\n", res.warning);
    assert_non_null(strstr(res.warning, "the default updates diverged"));
    melon_run_result_free(&res);
}

static void too_short_stream_is_an_error(void **state) {
    (void)state;
    const char *path = test_tmp_path("short.tsv");
    test_write_file(path, "a\tx\t1\nb\ty\t2\n", 0);
    melon_config cfg;
    base_config(&cfg, path, "bpr");
    melon_run_result res;
    melon_err err = {{0}};
    assert_int_equal(melon_run(&cfg, &res, &err), -1);
    assert_true(strlen(err.msg) > 0);
    melon_run_result_free(&res);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pop_is_evaluated_before_it_sees_the_batch),
        cmocka_unit_test(same_seed_same_metrics_other_seed_differs),
        cmocka_unit_test(pretraining_lowers_the_loss),
        cmocka_unit_test(result_files_are_written_whole),
        cmocka_unit_test(too_short_stream_is_an_error),
        cmocka_unit_test(diverged_losses_are_named),
        cmocka_unit_test(a_diverging_run_is_flagged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
