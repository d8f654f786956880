/* The paper-form MeLON update (Eq. 8-13 with the mean or sum of Eq. 5,
 * selective update) against the double re-implementation, and its
 * properties: melon-p's per-coordinate path equals its per-pair path, runs
 * are deterministic and nearly independent of the thread count, Step I
 * sees only the history strictly before the batch, and the leaky trial
 * keeps exactly the rows S_t touched and B_t did not at their trial values. */
#include "melon_paper_reference.h"

#include <math.h>
#include <omp.h>

static size_t tensor_size(const melon_tensor *t) {
    return (size_t)t->rows * (size_t)t->cols;
}

static float **copy_model(const melon_model *m) {
    float **copy = calloc(MELON_MAX_TENSORS, sizeof *copy);
    assert_non_null(copy);
    for (int k = 0; k < m->n_tensors; k++) {
        copy[k] = malloc(tensor_size(&m->tensor[k]) * sizeof(float));
        assert_non_null(copy[k]);
        memcpy(copy[k], m->tensor[k].value, tensor_size(&m->tensor[k]) * sizeof(float));
    }
    return copy;
}

static void free_copy(float **copy) {
    for (int k = 0; k < MELON_MAX_TENSORS; k++) free(copy[k]);
    free(copy);
}

static double max_model_diff(const melon_model *m, float **a, float **b) {
    double worst = 0.0;
    for (int k = 0; k < m->n_tensors; k++)
        for (size_t x = 0; x < tensor_size(&m->tensor[k]); x++)
            worst = fmax(worst, fabs((double)a[k][x] - b[k][x]));
    return worst;
}

static fixture_options options(const char *model, const char *strategy,
                               melon_aggregation agg) {
    return (fixture_options){model, strategy, 20, 2, 4, 3, agg, -0.5f, 0.5f, 0,
                             0, MELON_EMPTY_ZERO, MELON_P_INPUTS_BATCH, 0.0f};
}

static void run_update(paper_fixture *f) {
    melon_err err = {{0}};
    if (f->strategy.ops->update(&f->strategy, &f->ctx, f->batch, f->n, &err) != 0)
        fail_msg("%s", err.msg);
}

/* Theta_{t+1} = Theta'(psi) of the reference with S = B_t; untouched table
 * rows unchanged. */
static void check_update(const fixture_options *o) {
    paper_fixture f;
    fixture_init(&f, o);
    fixture_randomise_meta(&f, 0.5f, -0.5f, 21);
    paper_params *p = &fixture_state(&f)->params;
    ref_paper ref;
    ref_init(&ref, &f.model, p, &f.history, f.ctx.begin, f.cfg.strategy.melon.leaky_slope,
             o->aggregation == MELON_AGG_MEAN, f.batch, f.n, f.batch, f.n);
    ref_trial(&ref);
    float **before = copy_model(&f.model);
    run_update(&f);
    double worst = 0.0, moved = 0.0;
    for (int k = 0; k < f.model.n_tensors; k++) {
        const melon_tensor *t = &f.model.tensor[k];
        for (size_t x = 0; x < tensor_size(t); x++) {
            double want = ref.work[ref.off[k] + x], got = t->value[x];
            worst = fmax(worst, fabs(got - want) / (fabs(want - before[k][x]) + 1e-4));
            moved = fmax(moved, fabs(want - before[k][x]));
            int touched = 0;
            for (int r = 0; r < f.n; r++) touched |= ref_touches(&ref, k, x, &f.batch[r]);
            if (!touched) assert_true(got == before[k][x]);
        }
    }
    print_message("%s %s %s: largest step %.3e, error relative to the step %.2e\n",
                  o->model, o->strategy,
                  o->aggregation == MELON_AGG_MEAN ? "mean" : "sum", moved, worst);
    assert_true(moved > 1e-2);
    assert_true(worst < 1e-3);
    free_copy(before);
    ref_free(&ref);
    fixture_free(&f);
}

static void update_matches_reference(void **state) {
    (void)state;
    const char *models[] = {"bpr", "ncf"};
    const char *strategies[] = {"melon", "melon-i", "melon-p"};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int agg = 0; agg < 2; agg++) {
                fixture_options o = options(models[a], strategies[b],
                                            agg ? MELON_AGG_SUM : MELON_AGG_MEAN);
                check_update(&o);
            }
}

static void ignore_rate(void *user, int triple, const char *tensor, int32_t row,
                        int col, float rate) {
    (void)triple, (void)tensor, (void)row, (void)col, (void)rate;
    (*(long *)user)++;
}

/* A rate sink forces melon-p onto the per-(interaction, parameter) path; it
 * must give the per-coordinate path's update, and see every touched pair. */
static void melon_p_paths_agree(void **state) {
    (void)state;
    const char *models[] = {"bpr", "ncf"};
    for (int a = 0; a < 2; a++) {
        fixture_options o = options(models[a], "melon-p", MELON_AGG_MEAN);
        paper_fixture f, g;
        fixture_init(&f, &o);
        fixture_init(&g, &o);
        fixture_randomise_meta(&f, 0.5f, -0.5f, 5);
        fixture_randomise_meta(&g, 0.5f, -0.5f, 5);
        long seen = 0;
        melon_paper_set_rate_sink(&g.strategy, ignore_rate, &seen);
        run_update(&f);
        run_update(&g);
        float **x = copy_model(&f.model), **y = copy_model(&g.model);
        double diff = max_model_diff(&f.model, x, y);
        print_message("%s: paths differ by %.2e, %ld rates seen\n", models[a],
                      diff, seen);
        assert_true(diff < 1e-5);
        long pairs = 0;
        for (int k = 0; k < f.model.n_tensors; k++) {
            const melon_tensor *t = &f.model.tensor[k];
            pairs += (long)f.n * (t->kind == MELON_DENSE ? (long)tensor_size(t)
                                  : t->kind == MELON_USER_TABLE ? t->cols
                                                                : 2L * t->cols);
        }
        assert_int_equal(seen, pairs);
        free_copy(x);
        free_copy(y);
        fixture_free(&f);
        fixture_free(&g);
    }
}

/* Same seed and threads: bit-identical meta step and update; one thread
 * instead of two only changes float summation order. */
static void deterministic_for_seed_and_threads(void **state) {
    (void)state;
    fixture_options o = options("ncf", "melon", MELON_AGG_MEAN);
    float **result[3];
    int threads[3] = {2, 2, 1};
    for (int run = 0; run < 3; run++) {
        omp_set_num_threads(threads[run]);
        paper_fixture f;
        fixture_init(&f, &o);
        fixture_randomise_meta(&f, 0.5f, -0.5f, 8);
        melon_err err = {{0}};
        for (int step = 0; step < 3; step++) {
            if (f.strategy.ops->meta_step(&f.strategy, &f.ctx, f.batch, f.n, &err) != 0)
                fail_msg("%s", err.msg);
            run_update(&f);
        }
        result[run] = copy_model(&f.model);
        fixture_free(&f);
        if (run == 2) {
            paper_fixture g;
            fixture_init(&g, &o);
            double same = max_model_diff(&g.model, result[0], result[1]);
            double threads_diff = max_model_diff(&g.model, result[0], result[2]);
            print_message("2 vs 2 threads: %.3g, 2 vs 1 thread: %.3g\n", same,
                          threads_diff);
            assert_true(same == 0.0);
            assert_true(threads_diff < 1e-4);
            fixture_free(&g);
        }
    }
    omp_set_num_threads(2);
    for (int run = 0; run < 3; run++) free_copy(result[run]);
}

/* Step I queries the history before ctx->begin: appending the batch itself
 * to the history changes nothing. */
static void history_is_causal(void **state) {
    (void)state;
    fixture_options o = options("bpr", "melon", MELON_AGG_MEAN);
    paper_fixture f, g;
    fixture_init(&f, &o);
    fixture_init(&g, &o);
    melon_err err = {{0}};
    assert_int_equal(melon_history_append(&g.history, &g.stream, FIX_PAST,
                                          FIX_PAST + FIX_BATCH, &err), 0);
    run_update(&f);
    run_update(&g);
    float **x = copy_model(&f.model), **y = copy_model(&g.model);
    assert_true(max_model_diff(&f.model, x, y) == 0.0);
    free_copy(x);
    free_copy(y);
    fixture_free(&f);
    fixture_free(&g);
}

/* --melon-leaky-trial: after the meta step, the table rows S_t touched and
 * B_t did not hold the trial values (the clean run's trial delta applied
 * to Theta_t); everything else, dense weights included, is Theta_t. */
static void leaky_trial_keeps_support_only_rows(void **state) {
    (void)state;
    const char *models[] = {"bpr", "ncf"};
    for (int a = 0; a < 2; a++) {
        fixture_options o = options(models[a], "melon", MELON_AGG_MEAN);
        o.leaky_trial = 1;
        paper_fixture f;
        fixture_init(&f, &o);
        fixture_randomise_meta(&f, 0.5f, -0.5f, 13);
        paper_state *st = fixture_state(&f);
        paper_params *p = &st->params;
        float **before = copy_model(&f.model);
        /* the trial values, by the reference with the pre-step psi */
        melon_err err = {{0}};
        float *psi[MELON_MAX_META_BLOCKS];
        for (int k = 0; k < p->mp.n_blocks; k++) {
            psi[k] = malloc(p->mp.block[k].size * sizeof(float));
            memcpy(psi[k], p->mp.block[k].value, p->mp.block[k].size * sizeof(float));
        }
        if (f.strategy.ops->meta_step(&f.strategy, &f.ctx, f.batch, f.n, &err) != 0)
            fail_msg("%s", err.msg);
        float **after = copy_model(&f.model);
        for (int k = 0; k < p->mp.n_blocks; k++) {
            memcpy(p->mp.block[k].value, psi[k], p->mp.block[k].size * sizeof(float));
            free(psi[k]);
        }
        for (int k = 0; k < f.model.n_tensors; k++)
            memcpy(f.model.tensor[k].value, before[k],
                   tensor_size(&f.model.tensor[k]) * sizeof(float));
        ref_paper ref;
        ref_init(&ref, &f.model, p, &f.history, f.ctx.begin, f.cfg.strategy.melon.leaky_slope,
                 1, st->trial.support, st->trial.n_support, f.batch, f.n);
        ref_trial(&ref);
        int leaked = 0;
        for (int k = 0; k < f.model.n_tensors; k++) {
            const melon_tensor *t = &f.model.tensor[k];
            for (size_t x = 0; x < tensor_size(t); x++) {
                int in_s = 0, in_b = 0;
                for (int r = 0; r < ref.nS; r++) in_s |= ref_touches(&ref, k, x, &ref.S[r]);
                for (int r = 0; r < f.n; r++) in_b |= ref_touches(&ref, k, x, &f.batch[r]);
                if (t->kind != MELON_DENSE && in_s && !in_b) {
                    double want = ref.work[ref.off[k] + x];
                    assert_true(fabs(after[k][x] - want) <=
                                1e-4 * (fabs(want - before[k][x]) + 1e-3));
                    leaked += after[k][x] != before[k][x];
                } else {
                    assert_true(after[k][x] == before[k][x]);
                }
            }
        }
        print_message("%s: %d coordinates keep their trial values\n", models[a], leaked);
        assert_true(leaked > 0);
        ref_free(&ref);
        free_copy(before);
        free_copy(after);
        fixture_free(&f);
    }
}

/* A saved strategy state (the meta-parameters and their Adam moments)
 * loaded into a fresh strategy continues exactly as the original. */
static void state_round_trip(void **state) {
    (void)state;
    fixture_options o = options("ncf", "melon", MELON_AGG_MEAN);
    paper_fixture f, g;
    fixture_init(&f, &o);
    fixture_init(&g, &o);
    fixture_randomise_meta(&f, 0.5f, -0.5f, 17);
    melon_err err = {{0}};
    assert_int_equal(f.strategy.ops->meta_step(&f.strategy, &f.ctx, f.batch, f.n, &err), 0);
    const char *path = test_tmp_path("paper.state");
    assert_int_equal(melon_strategy_save(&f.strategy, path, &err), 0);
    assert_int_equal(melon_strategy_load(&g.strategy, path, &err), 0);
    /* same model values, same generator state: the same next step */
    for (int k = 0; k < f.model.n_tensors; k++)
        memcpy(g.model.tensor[k].value, f.model.tensor[k].value,
               tensor_size(&f.model.tensor[k]) * sizeof(float));
    g.rng = f.rng;
    assert_int_equal(f.strategy.ops->meta_step(&f.strategy, &f.ctx, f.batch, f.n, &err), 0);
    assert_int_equal(g.strategy.ops->meta_step(&g.strategy, &g.ctx, g.batch, g.n, &err), 0);
    run_update(&f);
    run_update(&g);
    float **x = copy_model(&f.model), **y = copy_model(&g.model);
    assert_true(max_model_diff(&f.model, x, y) == 0.0);
    free_copy(x);
    free_copy(y);
    /* a state of another ablation is refused */
    fixture_options oi = options("ncf", "melon-i", MELON_AGG_MEAN);
    paper_fixture h;
    fixture_init(&h, &oi);
    assert_int_equal(melon_strategy_load(&h.strategy, path, &err), -1);
    fixture_free(&f);
    fixture_free(&g);
    fixture_free(&h);
}

int main(void) {
    omp_set_num_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(update_matches_reference),
        cmocka_unit_test(melon_p_paths_agree),
        cmocka_unit_test(deterministic_for_seed_and_threads),
        cmocka_unit_test(history_is_causal),
        cmocka_unit_test(leaky_trial_keeps_support_only_rows),
        cmocka_unit_test(state_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
