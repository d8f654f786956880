/* Model creation by name, parameter files (round trip and every refusal),
 * copies, and the popularity model. */
#include "test_support.h"

#include "model/grad.h"
#include "melon/model.h"
#include "nn/nn.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void create_or_fail(melon_model *m, const char *name, int32_t users,
                           int32_t items, const melon_model_config *cfg) {
    melon_err err;
    if (melon_model_create(m, name, users, items, cfg, 16, &err) != 0)
        fail_msg("%s", err.msg);
}

static melon_model_config small_config(int dim, uint64_t seed) {
    melon_model_config cfg;
    melon_model_config_default(&cfg);
    cfg.dim = dim;
    cfg.layers.n = 2;
    cfg.layers.w[0] = 8, cfg.layers.w[1] = 4;
    cfg.seed = seed;
    return cfg;
}

static void assert_same_values(const melon_model *a, const melon_model *b) {
    assert_int_equal(a->n_tensors, b->n_tensors);
    for (int k = 0; k < a->n_tensors; k++)
        assert_memory_equal(a->tensor[k].value, b->tensor[k].value,
                            (size_t)a->tensor[k].rows * a->tensor[k].cols *
                                sizeof(float));
}

static int values_differ(const melon_model *a, const melon_model *b) {
    for (int k = 0; k < a->n_tensors; k++)
        if (memcmp(a->tensor[k].value, b->tensor[k].value,
                   (size_t)a->tensor[k].rows * a->tensor[k].cols *
                       sizeof(float)) != 0)
            return 1;
    return 0;
}

static void test_config_default(void **state) {
    (void)state;
    melon_model_config cfg;
    memset(&cfg, 0x5a, sizeof cfg);
    melon_model_config_default(&cfg);
    assert_int_equal(cfg.dim, 64);
    assert_int_equal(cfg.layers.n, 4);
    for (int l = 0; l < 4; l++) assert_int_equal(cfg.layers.w[l], 64);
    assert_float_equal(cfg.init_std, 0.01f, 0);
    assert_int_equal(cfg.seed, 1);
}

static void test_create_errors(void **state) {
    (void)state;
    melon_model m;
    melon_err err;
    assert_int_equal(melon_model_create(&m, "svd", 5, 7, NULL, 4, &err), -1);
    assert_non_null(strstr(err.msg, "'svd'"));
    assert_non_null(strstr(err.msg, "bpr, ncf, pop"));
    melon_model_free(&m); /* a failed create leaves a model free accepts */
    assert_int_equal(melon_model_create(&m, "bpr", 0, 7, NULL, 4, &err), -1);
    assert_non_null(strstr(err.msg, "0 users"));
    assert_int_equal(melon_model_create(&m, "bpr", 5, 7, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "max_triples"));
    melon_model_config cfg;
    melon_model_config_default(&cfg);
    cfg.dim = 0;
    assert_int_equal(melon_model_create(&m, "bpr", 5, 7, &cfg, 4, &err), -1);
    assert_non_null(strstr(err.msg, "embedding size 0"));
}

static void round_trip(const char *name) {
    melon_model_config a_cfg = small_config(6, 1), b_cfg = small_config(6, 2);
    melon_model a, b;
    create_or_fail(&a, name, 5, 9, &a_cfg);
    create_or_fail(&b, name, 5, 9, &b_cfg);
    assert_true(values_differ(&a, &b));
    const char *path = test_tmp_path("round_trip.mdl");
    melon_err err;
    if (melon_model_save(&a, path, &err) != 0) fail_msg("%s", err.msg);
    if (melon_model_load(&b, path, &err) != 0) fail_msg("%s", err.msg);
    assert_same_values(&a, &b);
    /* Saving the loaded model gives the same bytes. */
    const char *again = test_tmp_path("round_trip_again.mdl");
    assert_int_equal(melon_model_save(&b, again, &err), 0);
    char *first = test_read_file(path), *second = test_read_file(again);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fclose(f);
    assert_memory_equal(first, second, (size_t)bytes);
    assert_memory_equal(first, "MELONMDL", 8);
    free(first);
    free(second);
    melon_model_free(&a);
    melon_model_free(&b);
}

static void test_round_trip(void **state) {
    (void)state;
    round_trip("bpr");
    round_trip("ncf");
}

/* A failed load names the file and what differs, and changes nothing. */
static void expect_load_failure(melon_model *m, const char *path,
                                const char *needle) {
    melon_model before;
    melon_model_config cfg = m->cfg;
    create_or_fail(&before, m->ops->name, m->n_users, m->n_items, &cfg);
    melon_model_copy_values(&before, m);
    melon_err err = {{0}};
    assert_int_equal(melon_model_load(m, path, &err), -1);
    print_message("  %s\n", err.msg);
    assert_non_null(strstr(err.msg, path));
    if (!strstr(err.msg, needle))
        fail_msg("message '%s' lacks '%s'", err.msg, needle);
    assert_same_values(&before, m);
    melon_model_free(&before);
}

static void test_load_mismatch(void **state) {
    (void)state;
    melon_model_config cfg = small_config(6, 1);
    melon_model saved;
    create_or_fail(&saved, "ncf", 5, 9, &cfg);
    const char *path = test_tmp_path("ncf_5x9.mdl");
    melon_err err;
    assert_int_equal(melon_model_save(&saved, path, &err), 0);

    melon_model m;
    create_or_fail(&m, "ncf", 6, 9, &cfg);
    expect_load_failure(&m, path, "5 users");
    melon_model_free(&m);

    melon_model_config wider = small_config(8, 1);
    create_or_fail(&m, "ncf", 5, 9, &wider);
    expect_load_failure(&m, path, "'user_gmf' is 5 x 6 in the file, 5 x 8");
    melon_model_free(&m);

    melon_model_config deeper = small_config(6, 1);
    deeper.layers.w[0] = 16;
    create_or_fail(&m, "ncf", 5, 9, &deeper);
    expect_load_failure(&m, path, "'mlp_w1' is 8 x 12 in the file, 16 x 12");
    melon_model_free(&m);

    melon_model_config three = small_config(6, 1);
    three.layers.n = 3;
    three.layers.w[2] = 4;
    create_or_fail(&m, "ncf", 5, 9, &three);
    expect_load_failure(&m, path, "9 tensors in the file, 10 in the model");
    melon_model_free(&m);

    create_or_fail(&m, "bpr", 5, 9, &cfg);
    expect_load_failure(&m, path, "holds a 'ncf' model, not 'bpr'");
    melon_model_free(&m);
    melon_model_free(&saved);
}

static void write_bytes(const char *path, const char *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_load_corrupt(void **state) {
    (void)state;
    melon_model_config cfg = small_config(4, 3);
    melon_model m;
    create_or_fail(&m, "bpr", 5, 9, &cfg);
    const char *path = test_tmp_path("bpr.mdl");
    melon_err err;
    assert_int_equal(melon_model_save(&m, path, &err), 0);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    size_t bytes = (size_t)ftell(f);
    fclose(f);
    char *content = test_read_file(path);
    melon_model_free(&m);
    cfg.seed = 4;
    create_or_fail(&m, "bpr", 5, 9, &cfg);

    const char *cut = test_tmp_path("cut.mdl");
    size_t cuts[] = {4, 12, 30, bytes / 2, bytes - 1};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        write_bytes(cut, content, cuts[c]);
        expect_load_failure(&m, cut, "truncated");
    }
    char *longer = malloc(bytes + 1);
    memcpy(longer, content, bytes);
    longer[bytes] = 'x';
    const char *extra = test_tmp_path("extra.mdl");
    write_bytes(extra, longer, bytes + 1);
    expect_load_failure(&m, extra, "unexpected data after");

    longer[0] = 'X';
    const char *magic = test_tmp_path("magic.mdl");
    write_bytes(magic, longer, bytes);
    expect_load_failure(&m, magic, "bad magic");

    memcpy(longer, content, bytes);
    longer[8] = 9; /* version */
    const char *version = test_tmp_path("version.mdl");
    write_bytes(version, longer, bytes);
    expect_load_failure(&m, version, "version 9");

    expect_load_failure(&m, test_tmp_path("absent.mdl"), "cannot open");
    free(longer);
    free(content);
    melon_model_free(&m);
}

/* A save that cannot complete reports the path and leaves no file. */
static void test_save_failure(void **state) {
    (void)state;
    melon_model m;
    create_or_fail(&m, "bpr", 5, 9, NULL);
    char path[4096];
    snprintf(path, sizeof path, "%s/no/such/dir/model.mdl", test_tmpdir());
    melon_err err;
    assert_int_equal(melon_model_save(&m, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
    /* Saving over an existing file replaces it atomically: no temporaries. */
    const char *target = test_tmp_path("replace.mdl");
    assert_int_equal(melon_model_save(&m, target, &err), 0);
    assert_int_equal(melon_model_save(&m, target, &err), 0);
    DIR *dir = opendir(test_tmpdir());
    assert_non_null(dir);
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL)
        assert_null(strstr(entry->d_name, ".tmp"));
    closedir(dir);
    melon_model_free(&m);
}

static void test_copy_values(void **state) {
    (void)state;
    melon_model_config a_cfg = small_config(6, 1), b_cfg = small_config(6, 2);
    melon_model a, b;
    create_or_fail(&a, "ncf", 5, 9, &a_cfg);
    create_or_fail(&b, "ncf", 5, 9, &b_cfg);
    assert_true(values_differ(&a, &b));
    melon_model_copy_values(&b, &a);
    assert_same_values(&a, &b);
    melon_model_free(&a);
    melon_model_free(&b);
}

/* pop: counts of what it observed, BPR losses of those counts, no tensors,
 * and the counts survive files and copies. */
static void test_pop(void **state) {
    (void)state;
    int32_t users[] = {0, 1, 2, 0, 1, 2, 2};
    int32_t items[] = {3, 1, 3, 0, 3, 1, 2};
    double times[] = {1, 2, 3, 4, 5, 6, 7};
    melon_stream s;
    memset(&s, 0, sizeof s);
    s.n = 7;
    s.n_users = 3;
    s.n_items = 5;
    s.user = users;
    s.item = items;
    s.time = times;

    melon_model m;
    create_or_fail(&m, "pop", 3, 5, NULL);
    assert_int_equal(m.n_tensors, 0);
    assert_false(melon_model_has_parameters(&m));
    assert_non_null(m.ops->observe);
    int32_t u[5] = {0, 0, 0, 0, 0}, i[5] = {0, 1, 2, 3, 4};
    float score[5];
    m.ops->score(&m, u, i, 5, score);
    for (int k = 0; k < 5; k++) assert_float_equal(score[k], 0.0f, 0);

    m.ops->observe(&m, &s, 0, 3);   /* items 3, 1, 3 */
    m.ops->score(&m, u, i, 5, score);
    const float after3[5] = {0, 1, 0, 2, 0};
    for (int k = 0; k < 5; k++) assert_float_equal(score[k], after3[k], 0);
    m.ops->observe(&m, &s, 3, 7);   /* items 0, 3, 1, 2 */
    m.ops->score(&m, u, i, 5, score);
    const float after7[5] = {1, 2, 1, 3, 0};
    for (int k = 0; k < 5; k++) assert_float_equal(score[k], after7[k], 0);

    melon_grads g;
    melon_sparse_grad sg;
    melon_err err;
    assert_int_equal(melon_grads_init(&g, &m, 4, &err), 0);
    assert_int_equal(melon_sparse_grad_init(&sg, &m, 4, &err), 0);
    melon_triple tr[2] = {{0, 3, 4}, {1, 4, 1}};
    m.ops->forward_backward(&m, tr, 2, &g);
    assert_int_equal(g.n, 2);
    assert_float_equal(g.loss[0], log1p(exp(-3.0)), 1e-6);
    assert_float_equal(g.kappa[0], 1.0 / (1.0 + exp(3.0)), 1e-6);
    assert_float_equal(g.loss[1], log1p(exp(2.0)), 1e-6);
    melon_sparse_grad_accumulate(&sg, &m, tr, &g, NULL);
    assert_true(melon_sparse_grad_norm2(&sg, &m) == 0.0);

    const char *path = test_tmp_path("pop.mdl");
    assert_int_equal(melon_model_save(&m, path, &err), 0);
    melon_model fresh, copy;
    create_or_fail(&fresh, "pop", 3, 5, NULL);
    if (melon_model_load(&fresh, path, &err) != 0) fail_msg("%s", err.msg);
    fresh.ops->score(&fresh, u, i, 5, score);
    for (int k = 0; k < 5; k++) assert_float_equal(score[k], after7[k], 0);
    create_or_fail(&copy, "pop", 3, 5, NULL);
    melon_model_copy_values(&copy, &m);
    copy.ops->score(&copy, u, i, 5, score);
    for (int k = 0; k < 5; k++) assert_float_equal(score[k], after7[k], 0);

    melon_model other;
    create_or_fail(&other, "pop", 3, 6, NULL);
    assert_int_equal(melon_model_load(&other, path, &err), -1);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "5 items"));

    melon_model_free(&other);
    melon_model_free(&copy);
    melon_model_free(&fresh);
    melon_sparse_grad_free(&sg);
    melon_grads_free(&g);
    melon_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_default),
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_load_mismatch),
        cmocka_unit_test(test_load_corrupt),
        cmocka_unit_test(test_save_failure),
        cmocka_unit_test(test_copy_values),
        cmocka_unit_test(test_pop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
