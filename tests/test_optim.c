/* Adam and SGD against hand-computed steps; lazy versus dense semantics; L2
 * only on decayed tensors; a step in parts against the whole step; the
 * Default strategy's state round trip. */
#include "test_support.h"

#include "model/optim.h"
#include "eval/config.h"

#include <math.h>
#include <string.h>

typedef struct {
    melon_model m;
    melon_grads slots;
    melon_sparse_grad g;
} fixture;

static void fixture_init(fixture *f) {
    melon_model_config cfg;
    melon_model_config_default(&cfg);
    cfg.dim = 2;
    melon_err err = {{0}};
    assert_int_equal(melon_model_create(&f->m, "bpr", 3, 4, &cfg, 2, &err), 0);
    assert_int_equal(melon_grads_init(&f->slots, &f->m, 2, &err), 0);
    assert_int_equal(melon_sparse_grad_init(&f->g, &f->m, 2, &err), 0);
}

static void fixture_free(fixture *f) {
    melon_sparse_grad_free(&f->g);
    melon_grads_free(&f->slots);
    melon_model_free(&f->m);
}

/* One triple (user 0, item 1, negative 2): touches user 0 and items 1, 2. */
static void batch_gradient(fixture *f) {
    melon_triple tr = {0, 1, 2};
    f->m.ops->forward_backward(&f->m, &tr, 1, &f->slots);
    melon_sparse_grad_accumulate(&f->g, &f->m, &tr, &f->slots, NULL);
}

static const float *grad_row(const fixture *f, int k, int32_t row) {
    int32_t at = f->g.row_index[k][row];
    assert_true(at >= 0);
    return f->g.grad[k] + (size_t)at * f->m.tensor[k].cols;
}

/* Adam's first step moves every coordinate with a non-zero gradient by
 * almost exactly lr against the gradient's sign: m = 0.1 g, v = 0.001 g^2,
 * bias-corrected to g and g^2. */
static void adam_first_step_is_lr_times_sign(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f);
    batch_gradient(&f);
    melon_optimizer_config oc;
    melon_optimizer_config_default(&oc);
    oc.l2 = 0.0f;
    melon_optimizer opt;
    melon_err err = {{0}};
    assert_int_equal(melon_optimizer_init(&opt, &f.m, &oc, &err), 0);
    float before = f.m.tensor[1].value[1 * 2 + 0]; /* item_emb row 1, col 0 */
    float g = grad_row(&f, 1, 1)[0];
    float untouched = f.m.tensor[1].value[3 * 2 + 0];
    melon_optimizer_step(&opt, &f.m, &f.g, 1.0f);
    float expected = before - 1e-3f * g / (fabsf(g) + 1e-8f);
    assert_close(f.m.tensor[1].value[1 * 2 + 0], expected, 1e-7);
    assert_true(f.m.tensor[1].value[3 * 2 + 0] == untouched); /* lazy */
    melon_optimizer_free(&opt);
    fixture_free(&f);
}

/* Two steps by hand, with L2 on the embedding and none on the bias. */
static void adam_two_steps_with_l2_by_hand(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f);
    melon_optimizer_config oc;
    melon_optimizer_config_default(&oc);
    oc.l2 = 0.5f;
    melon_optimizer opt;
    melon_err err = {{0}};
    assert_int_equal(melon_optimizer_init(&opt, &f.m, &oc, &err), 0);
    double theta = f.m.tensor[0].value[0], bias = f.m.tensor[3].value[1];
    double m = 0, v = 0, mb = 0, vb = 0;
    for (int t = 1; t <= 2; t++) {
        batch_gradient(&f);
        double g = grad_row(&f, 0, 0)[0] + 0.5 * theta;
        double gb = grad_row(&f, 3, 1)[0]; /* no L2 on the bias table */
        m = 0.9 * m + 0.1 * g;
        v = 0.999 * v + 0.001 * g * g;
        mb = 0.9 * mb + 0.1 * gb;
        vb = 0.999 * vb + 0.001 * gb * gb;
        double bc1 = 1 - pow(0.9, t), bc2 = 1 - pow(0.999, t);
        theta -= 1e-3 / bc1 * m / (sqrt(v) / sqrt(bc2) + 1e-8);
        bias -= 1e-3 / bc1 * mb / (sqrt(vb) / sqrt(bc2) + 1e-8);
        melon_optimizer_step(&opt, &f.m, &f.g, 1.0f);
        assert_close(f.m.tensor[0].value[0], theta, 2e-7);
        assert_close(f.m.tensor[3].value[1], bias, 2e-7);
    }
    melon_optimizer_free(&opt);
    fixture_free(&f);
}

/* Dense Adam moves rows the second batch does not touch, through their
 * momentum; lazy Adam leaves them. */
static void dense_adam_moves_untouched_rows_lazy_does_not(void **state) {
    (void)state;
    for (int dense = 0; dense < 2; dense++) {
        fixture f;
        fixture_init(&f);
        melon_optimizer_config oc;
        melon_optimizer_config_default(&oc);
        oc.dense = dense;
        melon_optimizer opt;
        melon_err err = {{0}};
        assert_int_equal(melon_optimizer_init(&opt, &f.m, &oc, &err), 0);
        batch_gradient(&f);
        melon_optimizer_step(&opt, &f.m, &f.g, 1.0f);
        melon_triple other = {1, 3, 0}; /* does not touch item 1 */
        f.m.ops->forward_backward(&f.m, &other, 1, &f.slots);
        melon_sparse_grad_accumulate(&f.g, &f.m, &other, &f.slots, NULL);
        float item1 = f.m.tensor[1].value[2];
        melon_optimizer_step(&opt, &f.m, &f.g, 1.0f);
        if (dense) assert_true(f.m.tensor[1].value[2] != item1);
        else assert_true(f.m.tensor[1].value[2] == item1);
        melon_optimizer_free(&opt);
        fixture_free(&f);
    }
}

static void sgd_step_by_hand_and_scale(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f);
    batch_gradient(&f);
    melon_optimizer_config oc;
    melon_optimizer_config_default(&oc);
    oc.kind = MELON_OPT_SGD;
    oc.lr = 0.1f;
    oc.l2 = 0.01f;
    melon_optimizer opt;
    melon_err err = {{0}};
    assert_int_equal(melon_optimizer_init(&opt, &f.m, &oc, &err), 0);
    float theta = f.m.tensor[2].value[0]; /* user_bias: no L2 */
    float g = grad_row(&f, 2, 0)[0];
    float emb = f.m.tensor[0].value[1];
    float ge = grad_row(&f, 0, 0)[1];
    melon_optimizer_step(&opt, &f.m, &f.g, 2.0f); /* scale doubles the lr */
    assert_close(f.m.tensor[2].value[0], theta - 0.2f * g, 1e-7);
    assert_close(f.m.tensor[0].value[1], emb - 0.2f * (ge + 0.01f * emb), 1e-7);
    melon_optimizer_free(&opt);
    fixture_free(&f);
}

/* A step taken in parts (melon_optimizer_begin, each dense tensor's rows
 * in two pieces, last piece first, then the tables) moves every parameter
 * and moment exactly as the whole step does, for Adam and for SGD. */
static void step_in_parts_equals_whole_step(void **state) {
    (void)state;
    for (int kind = 0; kind < 2; kind++) {
        melon_model_config cfg;
        melon_model_config_default(&cfg);
        cfg.dim = 4;
        melon_model whole, parts;
        melon_grads slots;
        melon_sparse_grad g;
        melon_err err = {{0}};
        assert_int_equal(melon_model_create(&whole, "ncf", 3, 5, &cfg, 2, &err), 0);
        assert_int_equal(melon_model_create(&parts, "ncf", 3, 5, &cfg, 2, &err), 0);
        melon_model_copy_values(&parts, &whole);
        assert_int_equal(melon_grads_init(&slots, &whole, 2, &err), 0);
        assert_int_equal(melon_sparse_grad_init(&g, &whole, 2, &err), 0);
        melon_triple tr[2] = {{0, 1, 2}, {2, 4, 3}};
        whole.ops->forward_backward(&whole, tr, 2, &slots);
        melon_sparse_grad_accumulate(&g, &whole, tr, &slots, NULL);
        melon_optimizer_config oc;
        melon_optimizer_config_default(&oc);
        oc.kind = kind == 0 ? MELON_OPT_ADAM : MELON_OPT_SGD;
        oc.l2 = 0.1f;
        melon_optimizer a, b;
        assert_int_equal(melon_optimizer_init(&a, &whole, &oc, &err), 0);
        assert_int_equal(melon_optimizer_init(&b, &parts, &oc, &err), 0);
        int dense = 0;
        for (int step = 0; step < 2; step++) {
            melon_optimizer_step(&a, &whole, &g, 0.5f);
            melon_optimizer_begin(&b, 0.5f);
            for (int k = 0; k < parts.n_tensors; k++) {
                int rows = parts.tensor[k].rows;
                if (parts.tensor[k].kind != MELON_DENSE) continue;
                dense++;
                melon_optimizer_step_rows(&b, &parts, &g, k, rows / 2, rows);
                melon_optimizer_step_rows(&b, &parts, &g, k, 0, rows / 2);
            }
            melon_optimizer_step_tables(&b, &parts, &g);
        }
        assert_true(dense > 0);
        for (int k = 0; k < whole.n_tensors; k++) {
            size_t bytes = (size_t)whole.tensor[k].rows * whole.tensor[k].cols *
                           sizeof(float);
            assert_memory_equal(whole.tensor[k].value, parts.tensor[k].value, bytes);
            if (kind == 0) {
                assert_memory_equal(a.m[k], b.m[k], bytes);
                assert_memory_equal(a.v[k], b.v[k], bytes);
            }
        }
        melon_optimizer_free(&a);
        melon_optimizer_free(&b);
        melon_sparse_grad_free(&g);
        melon_grads_free(&slots);
        melon_model_free(&whole);
        melon_model_free(&parts);
    }
}

/* The Default strategy's state (Adam moments and step) survives a save
 * and load: a loaded copy takes the same next step. */
static void default_state_round_trip(void **state) {
    (void)state;
    fixture a, b;
    fixture_init(&a);
    fixture_init(&b);
    melon_config cfg;
    melon_config_default(&cfg);
    melon_strategy sa, sb;
    melon_err err = {{0}};
    assert_int_equal(melon_config_create_strategy(&sa, "default", &a.m, &cfg, &err), 0);
    assert_int_equal(melon_config_create_strategy(&sb, "default", &b.m, &cfg, &err), 0);
    melon_triple tr = {0, 1, 2};
    melon_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.model = &a.m;
    for (int k = 0; k < 3; k++)
        assert_int_equal(sa.ops->update(&sa, &ctx, &tr, 1, &err), 0);
    const char *path = test_tmp_path("default.state");
    assert_int_equal(melon_strategy_save(&sa, path, &err), 0);
    assert_int_equal(melon_strategy_load(&sb, path, &err), 0);
    melon_model_copy_values(&b.m, &a.m);
    assert_int_equal(sa.ops->update(&sa, &ctx, &tr, 1, &err), 0);
    ctx.model = &b.m;
    assert_int_equal(sb.ops->update(&sb, &ctx, &tr, 1, &err), 0);
    for (int k = 0; k < a.m.n_tensors; k++)
        assert_memory_equal(a.m.tensor[k].value, b.m.tensor[k].value,
                            (size_t)a.m.tensor[k].rows * a.m.tensor[k].cols * sizeof(float));
    /* a file of another strategy is refused with its name */
    test_write_file(test_tmp_path("junk.state"), "not a state", 0);
    assert_int_equal(melon_strategy_load(&sb, test_tmp_path("junk.state"), &err), -1);
    assert_non_null(strstr(err.msg, "junk.state"));
    melon_strategy_free(&sa);
    melon_strategy_free(&sb);
    fixture_free(&a);
    fixture_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adam_first_step_is_lr_times_sign),
        cmocka_unit_test(adam_two_steps_with_l2_by_hand),
        cmocka_unit_test(dense_adam_moves_untouched_rows_lazy_does_not),
        cmocka_unit_test(sgd_step_by_hand_and_scale),
        cmocka_unit_test(step_in_parts_equals_whole_step),
        cmocka_unit_test(default_state_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
