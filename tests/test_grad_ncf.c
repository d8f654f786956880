/* NCF (NeuMF): layout of the tensors, score() (also in chunks larger than
 * the workspace), and finite-difference checks of every slot gradient and
 * of the aggregated sparse gradient. */
#include "slot_check.h"

#include "nn/nn.h"

enum { USER_GMF, ITEM_GMF, USER_MLP, ITEM_MLP, MLP_W1 };

/* Tensor order (model.h's users rely on it): user_gmf, item_gmf, user_mlp,
 * item_mlp, mlp_w1..mlp_wL, out_w, user_bias, item_bias. */
static int out_index(const melon_model *m) { return MLP_W1 + m->cfg.layers.n; }

static const melon_triple tiny_triples[] = {
    {0, 1, 2}, {0, 3, 1}, {2, 3, 4}, {4, 5, 6}, {1, 1, 0},
};
#define N_TINY (int)(sizeof tiny_triples / sizeof tiny_triples[0])

static void ncf_model(melon_model *m, float init_std, uint64_t seed,
                      int max_triples) {
    tiny_model(m, "ncf", init_std, seed, max_triples);
}

static void test_tensor_layout(void **state) {
    (void)state;
    melon_model m;
    melon_err err;
    assert_int_equal(melon_model_create(&m, "ncf", 943, 1682, NULL, 256, &err),
                     0);
    assert_int_equal(m.n_tensors, 11);
    static const char *names[] = {"user_gmf", "item_gmf", "user_mlp",
                                  "item_mlp", "mlp_w1", "mlp_w2", "mlp_w3",
                                  "mlp_w4", "out_w", "user_bias",
                                  "item_bias"};
    static const melon_tensor_kind U = MELON_USER_TABLE, I = MELON_ITEM_TABLE,
                                   D = MELON_DENSE;
    const melon_tensor_kind kinds[] = {U, I, U, I, D, D, D, D, D, U, I};
    static const int rows[] = {943, 1682, 943, 1682, 64, 64, 64, 64, 1, 943,
                               1682};
    static const int cols[] = {64, 64, 64, 64, 128, 64, 64, 64, 128, 1, 1};
    for (int k = 0; k < 11; k++) {
        const melon_tensor *t = &m.tensor[k];
        assert_string_equal(t->name, names[k]);
        assert_int_equal(t->kind, kinds[k]);
        assert_int_equal(t->rows, rows[k]);
        assert_int_equal(t->cols, cols[k]);
        assert_int_equal(t->decay, k < 9);
        size_t size = (size_t)t->rows * t->cols;
        double sum2 = 0;
        for (size_t a = 0; a < size; a++)
            sum2 += (double)t->value[a] * t->value[a];
        double sd = sqrt(sum2 / size);
        assert_true(fabs(sd - 0.01) < (size > 1000 ? 0.1 : 0.3) * 0.01);
    }
    melon_model_free(&m);
}

/* --tower-init he: each W_l is normal(0, 2 / fan_in), drawn from the same
 * random stream as the normal init (so it is that draw rescaled); every
 * other tensor keeps normal(0, init_std). */
static void test_tower_init_he(void **state) {
    (void)state;
    melon_model normal, he;
    melon_model_config cfg;
    melon_err err;
    melon_model_config_default(&cfg);
    assert_int_equal(cfg.tower_init, MELON_TOWER_NORMAL);
    assert_int_equal(melon_model_create(&normal, "ncf", 943, 1682, &cfg, 256,
                                        &err), 0);
    cfg.tower_init = MELON_TOWER_HE;
    assert_int_equal(melon_model_create(&he, "ncf", 943, 1682, &cfg, 256, &err),
                     0);
    for (int k = 0; k < he.n_tensors; k++) {
        const melon_tensor *t = &he.tensor[k];
        size_t size = (size_t)t->rows * t->cols;
        int tower = k >= MLP_W1 && k < out_index(&he);
        /* fan_in is the layer's input width: 128 for W_1, 64 after it */
        double want = tower ? sqrt(2.0 / t->cols) : 0.01;
        double sum2 = 0;
        for (size_t a = 0; a < size; a++) {
            sum2 += (double)t->value[a] * t->value[a];
            double rescaled = normal.tensor[k].value[a] * (want / 0.01);
            assert_true(fabs(t->value[a] - rescaled) <=
                        1e-6 * fabs(rescaled) + 1e-12);
        }
        double sd = sqrt(sum2 / size);
        assert_true(fabs(sd - want) < (size > 1000 ? 0.1 : 0.3) * want);
    }
    melon_model_free(&normal);
    melon_model_free(&he);
}

static void test_layer_config(void **state) {
    (void)state;
    melon_model m;
    ncf_model(&m, 0.01f, 1, 4);
    assert_int_equal(m.n_tensors, 10);
    assert_string_equal(m.tensor[6].name, "mlp_w3");
    assert_int_equal(m.tensor[MLP_W1].rows, 6);
    assert_int_equal(m.tensor[MLP_W1].cols, 8);
    assert_int_equal(m.tensor[MLP_W1 + 1].rows, 5);
    assert_int_equal(m.tensor[MLP_W1 + 1].cols, 6);
    assert_int_equal(m.tensor[MLP_W1 + 2].rows, 4);
    assert_int_equal(m.tensor[MLP_W1 + 2].cols, 5);
    assert_string_equal(m.tensor[out_index(&m)].name, "out_w");
    assert_int_equal(m.tensor[out_index(&m)].cols, 4 + 4);
    melon_model_free(&m);

    melon_model_config cfg;
    melon_err err;
    melon_model_config_default(&cfg);
    cfg.layers.n = 0;
    assert_int_equal(melon_model_create(&m, "ncf", 5, 7, &cfg, 4, &err), -1);
    assert_non_null(strstr(err.msg, "layers"));
    cfg.layers.n = MELON_MAX_LAYERS + 1;
    assert_int_equal(melon_model_create(&m, "ncf", 5, 7, &cfg, 4, &err), -1);
    cfg.layers.n = 2;
    cfg.layers.w[1] = 0;
    assert_int_equal(melon_model_create(&m, "ncf", 5, 7, &cfg, 4, &err), -1);
    assert_non_null(strstr(err.msg, "layer 2"));
}

static void run_gradient_check(float init_std, uint64_t seed) {
    melon_model m;
    ncf_model(&m, init_std, seed, 8);
    melon_grads g;
    melon_err err;
    assert_int_equal(melon_grads_init(&g, &m, 8, &err), 0);
    m.ops->forward_backward(&m, tiny_triples, N_TINY, &g);
    ref_params ref;
    ref_params_init(&ref, &m);
    /* The check is only meaningful away from the ReLU kinks and with both
     * sides of them in use. */
    ref_min_preact = INFINITY;
    ref_relu_active = ref_relu_inactive = 0;
    for (int r = 0; r < N_TINY; r++) {
        ref_score(&ref, tiny_triples[r].user, tiny_triples[r].item);
        ref_score(&ref, tiny_triples[r].user, tiny_triples[r].negative);
    }
    print_message("init_std %g, seed %d: %d active, %d inactive units, "
                  "min |a| %.2e\n",
                  (double)init_std, (int)seed, ref_relu_active,
                  ref_relu_inactive, ref_min_preact);
    assert_true(ref_min_preact > 1e3 * GRAD_FD_STEP);
    assert_true(ref_relu_active > 10 && ref_relu_inactive > 10);
    assert_gradients_correct(&ref, &g, tiny_triples);
    ref_params_free(&ref);
    melon_grads_free(&g);
    melon_model_free(&m);
}

static void test_gradient_check(void **state) {
    (void)state;
    run_gradient_check(0.5f, 1);
    run_gradient_check(0.3f, 4);
}

static void test_checker_catches_errors(void **state) {
    (void)state;
    melon_model m;
    ncf_model(&m, 0.5f, 1, 8);
    melon_grads g;
    melon_err err;
    assert_int_equal(melon_grads_init(&g, &m, 8, &err), 0);
    m.ops->forward_backward(&m, tiny_triples, N_TINY, &g);
    ref_params ref;
    ref_params_init(&ref, &m);
    assert_checker_catches_errors(&ref, &g, tiny_triples);

    /* A ReLU mask left out: give every masked delta of the last layer the
     * value it would have without the mask. */
    int L = m.cfg.layers.n, wL = m.cfg.layers.w[L - 1], d = m.cfg.dim;
    int out = out_index(&m);
    float *e = g.slot[MLP_W1 + L - 1];
    const float *hL = g.input[out];
    int unmasked = 0;
    for (int p = 0; p < 2 * N_TINY; p++)
        for (int k = 0; k < wL; k++)
            if (hL[p * (d + wL) + d + k] == 0.0f) {
                assert_true(e[p * wL + k] == 0.0f);
                e[p * wL + k] = g.slot[out][p] * m.tensor[out].value[d + k];
                unmasked++;
            }
    assert_true(unmasked > 0);
    slot_errors chk;
    check_slot_gradients(&ref, &g, tiny_triples, &chk);
    assert_true(chk.triple_err[MLP_W1 + L - 1] > SLOT_TOL);
    ref_params_free(&ref);
    melon_grads_free(&g);
    melon_model_free(&m);
}

/* score() gives the s that forward_backward used, also when a call holds
 * more pairs than the workspace (max_triples 2: 4 pairs per chunk). */
static void test_score_matches_forward_backward(void **state) {
    (void)state;
    melon_model m;
    ncf_model(&m, 0.5f, 5, 2);
    melon_grads g;
    melon_err err;
    assert_int_equal(melon_grads_init(&g, &m, 2, &err), 0);
    ref_params ref;
    ref_params_init(&ref, &m);
    double mean = 0.0; /* of the forward pass's losses */
    for (int r = 0; r < N_TINY; r++) {
        const melon_triple *tr = &tiny_triples[r];
        m.ops->forward_backward(&m, tr, 1, &g);
        mean += g.loss[0] / (double)N_TINY;
        int32_t users[2] = {tr->user, tr->user};
        int32_t items[2] = {tr->item, tr->negative};
        float s[2];
        m.ops->score(&m, users, items, 2, s);
        for (int c = 0; c < 2; c++)
            assert_float_equal(s[c], ref_column_score(&ref, tr, c), 1e-5);
        assert_float_equal(g.loss[0], melon_softplus(-(s[0] - s[1])), 1e-6);
        assert_float_equal(g.kappa[0], melon_sigmoid(-(s[0] - s[1])), 1e-6);
    }
    /* the loss without gradients is the forward pass's mean loss */
    int32_t lu[2 * N_TINY], li[2 * N_TINY];
    float ls[2 * N_TINY];
    assert_float_equal(melon_model_mean_loss(&m, tiny_triples, N_TINY, lu, li, ls),
                       mean, 1e-6);
    int32_t users[35], items[35];
    float s[35], single;
    for (int p = 0; p < 35; p++) users[p] = p / 7, items[p] = 6 - p % 7;
    m.ops->score(&m, users, items, 35, s);
    for (int p = 0; p < 35; p++) {
        assert_float_equal(s[p], ref_score(&ref, users[p], items[p]),
                           1e-5);
        m.ops->score(&m, &users[p], &items[p], 1, &single);
        assert_float_equal(s[p], single, 1e-6);
    }
    ref_params_free(&ref);
    melon_grads_free(&g);
    melon_model_free(&m);
}

/* A triple's slots do not depend on the other triples of the batch. */
static void test_batch_independence(void **state) {
    (void)state;
    melon_model m;
    ncf_model(&m, 0.5f, 2, 8);
    melon_grads batch, alone;
    melon_err err;
    assert_int_equal(melon_grads_init(&batch, &m, 8, &err), 0);
    assert_int_equal(melon_grads_init(&alone, &m, 8, &err), 0);
    m.ops->forward_backward(&m, tiny_triples, N_TINY, &batch);
    for (int r = 0; r < N_TINY; r++) {
        m.ops->forward_backward(&m, &tiny_triples[r], 1, &alone);
        assert_float_equal(alone.loss[0], batch.loss[r], 1e-6);
        for (int k = 0; k < m.n_tensors; k++) {
            const melon_tensor *t = &m.tensor[k];
            int width = melon_slot_width(t);
            for (int a = 0; a < 2 * width; a++)
                assert_float_equal(alone.slot[k][a],
                                   batch.slot[k][2 * r * width + a], 1e-6);
            if (t->kind == MELON_DENSE)
                for (int a = 0; a < 2 * t->cols; a++)
                    assert_float_equal(alone.input[k][a],
                                       batch.input[k][2 * r * t->cols + a],
                                       1e-6);
        }
    }
    melon_grads_free(&batch);
    melon_grads_free(&alone);
    melon_model_free(&m);
}

static void test_sparse_grad(void **state) {
    (void)state;
    melon_model m;
    ncf_model(&m, 0.5f, 1, 8);
    melon_grads g;
    melon_sparse_grad sg;
    melon_err err;
    assert_int_equal(melon_grads_init(&g, &m, 8, &err), 0);
    assert_int_equal(melon_sparse_grad_init(&sg, &m, 8, &err), 0);
    m.ops->forward_backward(&m, tiny_triples, N_TINY, &g);
    const float weight[N_TINY] = {0.7f, -0.2f, 1.3f, 0.05f, 0.4f};
    melon_sparse_grad_accumulate(&sg, &m, tiny_triples, &g, weight);
    assert_sparse_grad_matches(&sg, &m, &g, tiny_triples, weight);
    assert_norm2_matches(&sg, &m);
    for (int k = MLP_W1; k <= out_index(&m); k++) {
        assert_int_equal(sg.n_rows[k], m.tensor[k].rows);
        assert_int_equal(sg.count[k][0], 2 * N_TINY);
    }

    const melon_triple *tail = tiny_triples + 3;
    m.ops->forward_backward(&m, tail, 2, &g);
    melon_sparse_grad_accumulate(&sg, &m, tail, &g, NULL);
    assert_sparse_grad_matches(&sg, &m, &g, tail, NULL);
    assert_int_equal(sg.n_rows[USER_GMF], 2);
    assert_int_equal(sg.n_rows[ITEM_MLP], 4);
    assert_int_equal(sg.row_index[USER_MLP][0], -1);

    melon_sparse_grad_free(&sg);
    melon_grads_free(&g);
    melon_model_free(&m);
}

/* A batch large enough to be split across threads (ctest runs with
 * OMP_NUM_THREADS=2) gives every triple the slots it gets alone, scores
 * agree pair by pair, and the row-blocked dense accumulation matches. */
static void test_threaded_batch(void **state) {
    (void)state;
    enum { N = 512, USERS = 40, ITEMS = 50 };
    melon_model_config cfg;
    melon_model_config_default(&cfg);
    cfg.dim = 16;
    cfg.layers.n = 2;
    cfg.layers.w[0] = 32, cfg.layers.w[1] = 24;
    cfg.init_std = 0.3f;
    melon_model m;
    melon_err err;
    if (melon_model_create(&m, "ncf", USERS, ITEMS, &cfg, N, &err) != 0)
        fail_msg("%s", err.msg);
    melon_triple *triples = malloc(N * sizeof *triples);
    assert_non_null(triples);
    melon_rng rng;
    melon_rng_seed(&rng, 9);
    for (int r = 0; r < N; r++) {
        triples[r].user = (int32_t)melon_rng_below(&rng, USERS);
        triples[r].item = (int32_t)melon_rng_below(&rng, ITEMS);
        triples[r].negative = (int32_t)melon_rng_below(&rng, ITEMS);
    }
    melon_grads batch, alone;
    melon_sparse_grad sg;
    assert_int_equal(melon_grads_init(&batch, &m, N, &err), 0);
    assert_int_equal(melon_grads_init(&alone, &m, 1, &err), 0);
    assert_int_equal(melon_sparse_grad_init(&sg, &m, N, &err), 0);
    m.ops->forward_backward(&m, triples, N, &batch);
    for (int r = 0; r < N; r++) {
        m.ops->forward_backward(&m, &triples[r], 1, &alone);
        assert_float_equal(alone.loss[0], batch.loss[r], 1e-6);
        for (int k = 0; k < m.n_tensors; k++) {
            int width = melon_slot_width(&m.tensor[k]);
            for (int a = 0; a < 2 * width; a++)
                assert_float_equal(alone.slot[k][a],
                                   batch.slot[k][(size_t)2 * r * width + a],
                                   1e-6);
        }
    }
    static int32_t users[2 * N], items[2 * N];
    static float scores[2 * N];
    for (int p = 0; p < 2 * N; p++) {
        users[p] = triples[p / 2].user;
        items[p] = p % 2 ? triples[p / 2].negative : triples[p / 2].item;
    }
    m.ops->score(&m, users, items, 2 * N, scores);
    for (int p = 0; p < 2 * N; p++) {
        float single;
        m.ops->score(&m, &users[p], &items[p], 1, &single);
        assert_float_equal(scores[p], single, 1e-6);
    }
    float *weight = malloc(N * sizeof *weight);
    assert_non_null(weight);
    for (int r = 0; r < N; r++)
        weight[r] = (float)melon_rng_uniform(&rng) / N;
    melon_sparse_grad_accumulate(&sg, &m, triples, &batch, weight);
    assert_sparse_grad_matches(&sg, &m, &batch, triples, weight);
    free(weight);
    free(triples);
    melon_sparse_grad_free(&sg);
    melon_grads_free(&batch);
    melon_grads_free(&alone);
    melon_model_free(&m);
}

/* The same call twice gives bit-identical slots. */
static void test_deterministic(void **state) {
    (void)state;
    melon_model m;
    ncf_model(&m, 0.5f, 4, 8);
    melon_grads a, b;
    melon_err err;
    assert_int_equal(melon_grads_init(&a, &m, 8, &err), 0);
    assert_int_equal(melon_grads_init(&b, &m, 8, &err), 0);
    m.ops->forward_backward(&m, tiny_triples, N_TINY, &a);
    m.ops->forward_backward(&m, tiny_triples, N_TINY, &b);
    assert_memory_equal(a.loss, b.loss, N_TINY * sizeof(float));
    for (int k = 0; k < m.n_tensors; k++)
        assert_memory_equal(a.slot[k], b.slot[k],
                            2 * N_TINY * melon_slot_width(&m.tensor[k]) *
                                sizeof(float));
    melon_grads_free(&a);
    melon_grads_free(&b);
    melon_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensor_layout),
        cmocka_unit_test(test_layer_config),
        cmocka_unit_test(test_tower_init_he),
        cmocka_unit_test(test_gradient_check),
        cmocka_unit_test(test_checker_catches_errors),
        cmocka_unit_test(test_score_matches_forward_backward),
        cmocka_unit_test(test_batch_independence),
        cmocka_unit_test(test_sparse_grad),
        cmocka_unit_test(test_threaded_batch),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
