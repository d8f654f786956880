/* BPR-MF: layout of the tensors, the loss, score(), and finite-difference
 * checks of every slot gradient and of the aggregated sparse gradient. */
#include "slot_check.h"

#include "nn/nn.h"

enum { USER_EMB, ITEM_EMB, USER_BIAS, ITEM_BIAS };

/* A repeated user (0), an item that is a positive and a negative (1), a
 * repeated positive (3). */
static const melon_triple tiny_triples[] = {
    {0, 1, 2}, {0, 3, 1}, {2, 3, 4}, {4, 5, 6}, {1, 1, 0},
};
#define N_TINY (int)(sizeof tiny_triples / sizeof tiny_triples[0])

static void bpr_model(melon_model *m, float init_std, uint64_t seed) {
    tiny_model(m, "bpr", init_std, seed, 8);
}

static void test_tensor_layout(void **state) {
    (void)state;
    melon_model m;
    melon_err err;
    assert_int_equal(melon_model_create(&m, "bpr", 943, 1682, NULL, 256, &err),
                     0);
    assert_int_equal(m.n_tensors, 4);
    assert_true(melon_model_has_parameters(&m));
    static const char *names[] = {"user_emb", "item_emb", "user_bias",
                                  "item_bias"};
    static const melon_tensor_kind kinds[] = {
        MELON_USER_TABLE, MELON_ITEM_TABLE, MELON_USER_TABLE,
        MELON_ITEM_TABLE};
    static const int rows[] = {943, 1682, 943, 1682};
    static const int cols[] = {64, 64, 1, 1};
    static const int decay[] = {1, 1, 0, 0};
    for (int k = 0; k < 4; k++) {
        const melon_tensor *t = &m.tensor[k];
        assert_string_equal(t->name, names[k]);
        assert_int_equal(t->kind, kinds[k]);
        assert_int_equal(t->rows, rows[k]);
        assert_int_equal(t->cols, cols[k]);
        assert_int_equal(t->decay, decay[k]);
        /* normal(0, 0.01^2): sample mean and standard deviation */
        size_t size = (size_t)t->rows * t->cols;
        double sum = 0, sum2 = 0;
        for (size_t a = 0; a < size; a++) {
            sum += t->value[a];
            sum2 += (double)t->value[a] * t->value[a];
        }
        double mean = sum / size, sd = sqrt(sum2 / size - mean * mean);
        assert_true(fabs(mean) < 5 * 0.01 / sqrt((double)size));
        assert_true(fabs(sd - 0.01) < 0.1 * 0.01);
    }
    melon_model_free(&m);
}

static void test_gradient_check(void **state) {
    (void)state;
    static const struct {
        float init_std;
        uint64_t seed;
    } configs[] = {{0.5f, 1}, {0.2f, 7}};
    for (size_t c = 0; c < 2; c++) {
        melon_model m;
        bpr_model(&m, configs[c].init_std, configs[c].seed);
        melon_grads g;
        melon_err err;
        assert_int_equal(melon_grads_init(&g, &m, 8, &err), 0);
        m.ops->forward_backward(&m, tiny_triples, N_TINY, &g);
        assert_int_equal(g.n, N_TINY);
        ref_params ref;
        ref_params_init(&ref, &m);
        print_message("init_std %g, seed %d\n", (double)configs[c].init_std,
                      (int)configs[c].seed);
        assert_gradients_correct(&ref, &g, tiny_triples);
        ref_params_free(&ref);
        melon_grads_free(&g);
        melon_model_free(&m);
    }
}

static void test_checker_catches_errors(void **state) {
    (void)state;
    melon_model m;
    bpr_model(&m, 0.5f, 1);
    melon_grads g;
    melon_err err;
    assert_int_equal(melon_grads_init(&g, &m, 8, &err), 0);
    m.ops->forward_backward(&m, tiny_triples, N_TINY, &g);
    ref_params ref;
    ref_params_init(&ref, &m);
    assert_checker_catches_errors(&ref, &g, tiny_triples);
    ref_params_free(&ref);
    melon_grads_free(&g);
    melon_model_free(&m);
}

/* The documented slot values, entry by entry, for triple 0. */
static void test_slot_values(void **state) {
    (void)state;
    melon_model m;
    bpr_model(&m, 0.5f, 3);
    melon_grads g;
    melon_err err;
    assert_int_equal(melon_grads_init(&g, &m, 8, &err), 0);
    m.ops->forward_backward(&m, tiny_triples, N_TINY, &g);
    const melon_triple *tr = &tiny_triples[0];
    int d = 4;
    float kappa = g.kappa[0];
    const float *P = m.tensor[USER_EMB].value, *Q = m.tensor[ITEM_EMB].value;
    for (int k = 0; k < d; k++) {
        assert_float_equal(g.slot[USER_EMB][k], -kappa * Q[tr->item * d + k],
                           1e-7);
        assert_float_equal(g.slot[USER_EMB][d + k],
                           kappa * Q[tr->negative * d + k], 1e-7);
        assert_float_equal(g.slot[ITEM_EMB][k], -kappa * P[tr->user * d + k],
                           1e-7);
        assert_float_equal(g.slot[ITEM_EMB][d + k], kappa * P[tr->user * d + k],
                           1e-7);
    }
    assert_float_equal(g.slot[USER_BIAS][0], -kappa, 0);
    assert_float_equal(g.slot[USER_BIAS][1], kappa, 0);
    assert_float_equal(g.slot[ITEM_BIAS][0], -kappa, 0);
    assert_float_equal(g.slot[ITEM_BIAS][1], kappa, 0);
    assert_null(g.input[USER_EMB]);
    melon_grads_free(&g);
    melon_model_free(&m);
}

/* Loss and kappa by hand for one triple:
 * s0 = (1, 2).(0.5, -1) + 0.3 + 0.1 = -1.1, s1 = (1, 2).(1, 1) + 0.3 - 0.2
 * = 3.1, loss = softplus(4.2) = 4.214884254671919,
 * kappa = sigmoid(4.2) = 0.9852259683067269. */
static void test_loss_by_hand(void **state) {
    (void)state;
    melon_model_config cfg;
    melon_model_config_default(&cfg);
    cfg.dim = 2;
    melon_model m;
    melon_err err;
    assert_int_equal(melon_model_create(&m, "bpr", 1, 3, &cfg, 4, &err), 0);
    float *P = m.tensor[USER_EMB].value, *Q = m.tensor[ITEM_EMB].value;
    P[0] = 1.0f, P[1] = 2.0f;
    Q[2] = 0.5f, Q[3] = -1.0f;   /* item 1 */
    Q[4] = 1.0f, Q[5] = 1.0f;    /* item 2 */
    m.tensor[USER_BIAS].value[0] = 0.3f;
    m.tensor[ITEM_BIAS].value[1] = 0.1f;
    m.tensor[ITEM_BIAS].value[2] = -0.2f;
    melon_grads g;
    assert_int_equal(melon_grads_init(&g, &m, 4, &err), 0);
    melon_triple tr[3] = {{0, 1, 2}, {0, 1, 2}, {0, 2, 1}};
    m.ops->forward_backward(&m, tr, 3, &g);
    assert_float_equal(g.loss[0], 4.214884254671919, 1e-5);
    assert_float_equal(g.kappa[0], 0.9852259683067269, 1e-6);
    /* reversed triple: softplus(-4.2), kappa = sigmoid(-4.2) */
    assert_float_equal(g.loss[2], 0.014884254671919, 1e-6);
    assert_float_equal(g.kappa[2], 1 - 0.9852259683067269, 1e-6);

    /* Extreme margins stay finite: softplus(-100) ~ 3.7e-44, softplus(100) =
     * 100. */
    m.tensor[ITEM_BIAS].value[1] = 150.0f;
    m.tensor[ITEM_BIAS].value[2] = 0.0f;
    /* s0 - s1 = (-1.5 + 150) - 3 = 145.5 */
    m.ops->forward_backward(&m, tr, 3, &g);
    assert_true(isfinite(g.loss[0]) && g.loss[0] >= 0.0f &&
                g.loss[0] < 1e-30f);
    assert_true(g.kappa[0] >= 0.0f && g.kappa[0] < 1e-30f);
    assert_float_equal(g.loss[2], 145.5, 1e-3);
    assert_float_equal(g.kappa[2], 1.0, 0);
    melon_grads_free(&g);
    melon_model_free(&m);
}

/* score() gives the s that forward_backward used, and the double
 * re-implementation agrees with both. */
static void test_score_matches_forward_backward(void **state) {
    (void)state;
    melon_model m;
    bpr_model(&m, 0.5f, 5);
    melon_grads g;
    melon_err err;
    assert_int_equal(melon_grads_init(&g, &m, 8, &err), 0);
    m.ops->forward_backward(&m, tiny_triples, N_TINY, &g);
    ref_params ref;
    ref_params_init(&ref, &m);
    for (int r = 0; r < N_TINY; r++) {
        const melon_triple *tr = &tiny_triples[r];
        int32_t users[2] = {tr->user, tr->user};
        int32_t items[2] = {tr->item, tr->negative};
        float s[2];
        m.ops->score(&m, users, items, 2, s);
        for (int c = 0; c < 2; c++)
            assert_float_equal(s[c], ref_column_score(&ref, tr, c), 1e-6);
        assert_float_equal(g.loss[r], melon_softplus(-(s[0] - s[1])), 1e-7);
        assert_float_equal(g.kappa[r], melon_sigmoid(-(s[0] - s[1])), 1e-7);
    }
    /* the loss without gradients is the forward pass's mean loss */
    int32_t lu[2 * N_TINY], li[2 * N_TINY];
    float ls[2 * N_TINY];
    double mean = 0.0;
    for (int r = 0; r < N_TINY; r++) mean += g.loss[r] / (double)N_TINY;
    assert_float_equal(melon_model_mean_loss(&m, tiny_triples, N_TINY, lu, li, ls),
                       mean, 1e-7);
    /* Every (user, item) at once, in one call. */
    int32_t users[35], items[35];
    float s[35];
    for (int p = 0; p < 35; p++) users[p] = p / 7, items[p] = p % 7;
    m.ops->score(&m, users, items, 35, s);
    for (int p = 0; p < 35; p++)
        assert_float_equal(s[p],
                           ref_score(&ref, users[p], items[p]),
                           1e-6);
    ref_params_free(&ref);
    melon_grads_free(&g);
    melon_model_free(&m);
}

static void test_sparse_grad(void **state) {
    (void)state;
    melon_model m;
    bpr_model(&m, 0.5f, 1);
    melon_grads g;
    melon_sparse_grad sg;
    melon_err err;
    assert_int_equal(melon_grads_init(&g, &m, 8, &err), 0);
    assert_int_equal(melon_sparse_grad_init(&sg, &m, 8, &err), 0);
    for (int k = 0; k < m.n_tensors; k++) {
        assert_int_equal(sg.n_rows[k], 0);
        for (int row = 0; row < m.tensor[k].rows; row++)
            assert_int_equal(sg.row_index[k][row], -1);
    }
    m.ops->forward_backward(&m, tiny_triples, N_TINY, &g);
    const float weight[N_TINY] = {0.7f, -0.2f, 1.3f, 0.05f, 0.4f};
    melon_sparse_grad_accumulate(&sg, &m, tiny_triples, &g, weight);
    assert_sparse_grad_matches(&sg, &m, &g, tiny_triples, weight);
    assert_norm2_matches(&sg, &m);
    /* user 0 is looked up by 4 slots, item 1 by 3 */
    assert_int_equal(sg.count[USER_EMB][sg.row_index[USER_EMB][0]], 4);
    assert_int_equal(sg.count[ITEM_EMB][sg.row_index[ITEM_EMB][1]], 3);

    /* A second accumulate over fewer rows forgets the first (weight NULL:
     * the batch mean). */
    const melon_triple *tail = tiny_triples + 3;
    m.ops->forward_backward(&m, tail, 2, &g);
    melon_sparse_grad_accumulate(&sg, &m, tail, &g, NULL);
    assert_sparse_grad_matches(&sg, &m, &g, tail, NULL);
    assert_int_equal(sg.n_rows[USER_EMB], 2);
    assert_int_equal(sg.n_rows[ITEM_EMB], 4);
    assert_int_equal(sg.row_index[USER_EMB][0], -1);
    assert_int_equal(sg.row_index[ITEM_EMB][3], -1);

    melon_sparse_grad_free(&sg);
    melon_grads_free(&g);
    melon_model_free(&m);
}

static void test_deterministic_init(void **state) {
    (void)state;
    melon_model a, b, c;
    bpr_model(&a, 0.01f, 11);
    bpr_model(&b, 0.01f, 11);
    bpr_model(&c, 0.01f, 12);
    int differs = 0;
    for (int k = 0; k < a.n_tensors; k++) {
        size_t bytes = (size_t)a.tensor[k].rows * a.tensor[k].cols * 4;
        assert_memory_equal(a.tensor[k].value, b.tensor[k].value, bytes);
        differs |= memcmp(a.tensor[k].value, c.tensor[k].value, bytes) != 0;
    }
    assert_true(differs);
    melon_model_free(&a);
    melon_model_free(&b);
    melon_model_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensor_layout),
        cmocka_unit_test(test_gradient_check),
        cmocka_unit_test(test_checker_catches_errors),
        cmocka_unit_test(test_slot_values),
        cmocka_unit_test(test_loss_by_hand),
        cmocka_unit_test(test_score_matches_forward_backward),
        cmocka_unit_test(test_sparse_grad),
        cmocka_unit_test(test_deterministic_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
