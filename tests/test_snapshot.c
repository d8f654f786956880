/* A snapshot restores exactly the rows a trial update touched and the dense
 * tensors, and nothing else. */
#include "test_support.h"

#include "model/grad.h"
#include "model/snapshot.h"

#include <stdlib.h>
#include <string.h>

static void restore_undoes_a_trial_on_touched_rows(void **state) {
    (void)state;
    melon_model_config cfg;
    melon_model_config_default(&cfg);
    cfg.dim = 4;
    cfg.layers.n = 2;
    cfg.layers.w[0] = 6;
    cfg.layers.w[1] = 3;
    melon_model m;
    melon_err err = {{0}};
    assert_int_equal(melon_model_create(&m, "ncf", 5, 7, &cfg, 4, &err), 0);
    melon_triple tr[2] = {{1, 2, 3}, {4, 2, 6}};
    melon_grads slots;
    melon_sparse_grad g;
    melon_snapshot snap;
    assert_int_equal(melon_grads_init(&slots, &m, 4, &err), 0);
    assert_int_equal(melon_sparse_grad_init(&g, &m, 4, &err), 0);
    assert_int_equal(melon_snapshot_init(&snap, &m, 4, &err), 0);
    m.ops->forward_backward(&m, tr, 2, &slots);
    melon_sparse_grad_accumulate(&g, &m, tr, &slots, NULL);
    /* keep a full copy, change touched rows and dense tensors, restore */
    float *copy[MELON_MAX_TENSORS];
    for (int k = 0; k < m.n_tensors; k++) {
        size_t size = (size_t)m.tensor[k].rows * m.tensor[k].cols;
        copy[k] = malloc(size * sizeof(float));
        memcpy(copy[k], m.tensor[k].value, size * sizeof(float));
    }
    melon_snapshot_save(&snap, &m, &g);
    for (int k = 0; k < m.n_tensors; k++) {
        melon_tensor *t = &m.tensor[k];
        for (int32_t a = 0; a < g.n_rows[k]; a++)
            for (int c = 0; c < t->cols; c++)
                t->value[(size_t)g.rows[k][a] * t->cols + c] += 1.0f;
    }
    assert_true(m.tensor[0].value[1 * 4] != copy[0][1 * 4]); /* user 1 moved */
    melon_snapshot_restore(&snap, &m);
    for (int k = 0; k < m.n_tensors; k++) {
        size_t size = (size_t)m.tensor[k].rows * m.tensor[k].cols;
        assert_memory_equal(m.tensor[k].value, copy[k], size * sizeof(float));
        free(copy[k]);
    }
    /* untouched rows are not saved: user 0 changed after save stays changed */
    melon_snapshot_save(&snap, &m, &g);
    m.tensor[0].value[0] = 42.0f;
    melon_snapshot_restore(&snap, &m);
    assert_true(m.tensor[0].value[0] == 42.0f);
    melon_snapshot_free(&snap);
    melon_sparse_grad_free(&g);
    melon_grads_free(&slots);
    melon_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(restore_undoes_a_trial_on_touched_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
