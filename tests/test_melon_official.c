/* The official MeLON strategy (update-strategies.md A.3-A.6) beyond its
 * meta-gradient (test_melon_official_grad.c):
 *   - the fused trial update equals the spec's formulas computed naively in
 *     double (both rho branches, BPR-MF and NCF, realistic magnitudes);
 *   - a meta step restores Theta_t exactly and moves the meta-parameters;
 *   - the leaky trial (A.3 item 8) leaves exactly the rows S_t touched and
 *     B_t did not at their trial values, and changes nothing else;
 *   - neighbours: at most max_edge per node, all strictly before the batch;
 *   - the next-batch meta data (support = the previous batch on its old
 *     values, neighbours before it);
 *   - the parallel regions agree with one thread; determinism, state
 *     save / load, the Figure 4 dump;
 *   - block sizes, initialisation and L2 flags of A.6 / A.3 item 11;
 *   - bad settings. */
#include "test_melon_official_fixture.h"

#include <float.h>
#include <omp.h>

/* Scales every model value by `factor` (realistic magnitudes from the
 * fixture's large ones). */
static void scale_model(melon_model *m, float factor) {
    for (int k = 0; k < m->n_tensors; k++) {
        size_t size = (size_t)m->tensor[k].rows * m->tensor[k].cols;
        for (size_t a = 0; a < size; a++) m->tensor[k].value[a] *= factor;
    }
}

static void check_trial_matches_reference(const char *model, float factor,
                                          int large_meta) {
    fixture f;
    fx_init(&f, model, MELON_ABLATION_NONE, 0, 21);
    scale_model(&f.model, factor);
    official_params *p = official_strategy_params(&f.strategy);
    if (large_meta) fx_scale_meta_params(p, 22);
    ref_problem P;
    ref_init(&P, &f);
    melon_err err = {{0}};
    if (official_strategy_trial(&f.strategy, &f.ctx, f.batch, f.n, &err) != 0)
        fail_msg("trial: %s", err.msg);
    ref_take_support(&P, &f);
    double *want[MELON_MAX_TENSORS] = {0};
    for (int k = 0; k < f.model.n_tensors; k++) {
        want[k] = malloc((size_t)f.model.tensor[k].rows *
                         f.model.tensor[k].cols * sizeof(double));
        assert_non_null(want[k]);
    }
    ref_trial(&P, want);
    long small = 0, moved = 0;
    for (int k = 0; k < f.model.n_tensors; k++) {
        const melon_tensor *t = &f.model.tensor[k];
        size_t size = (size_t)t->rows * t->cols;
        /* a proposal is at most |theta| + |g|: float rounding of the means
         * is relative to that, not to the (possibly cancelling) result */
        double scale = 0.0, worst = 0.0, g_max = 0.0;
        for (size_t a = 0; a < size; a++)
            scale = fmax(scale, fabs(P.theta[k][a]));
        size_t slots = (size_t)2 * P.n_support * melon_slot_width(t);
        for (size_t a = 0; a < slots; a++)
            g_max = fmax(g_max, fabs(P.slots->slot[k][a]));
        if (t->kind == MELON_DENSE) {
            double h_max = 0.0;
            for (size_t a = 0; a < (size_t)2 * P.n_support * t->cols; a++)
                h_max = fmax(h_max, fabs(P.slots->input[k][a]));
            g_max *= h_max;
        }
        for (size_t a = 0; a < size; a++) {
            assert_true(isfinite(t->value[a]));
            worst = fmax(worst, fabs(t->value[a] - want[k][a]));
            moved += t->value[a] != (float)P.theta[k][a];
        }
        print_message("  %-9s |trial - reference| %.2e (|theta| %.1e, "
                      "|g| %.1e)\n", t->name, worst, scale, g_max);
        assert_true(worst <= 2e-6 * (scale + g_max) + 1e-30);
    }
    /* coordinates in rho's small branch, |g| < e^-10 */
    const melon_grads *g = P.slots;
    for (int k = 0; k < f.model.n_tensors; k++) {
        const melon_tensor *t = &f.model.tensor[k];
        for (int q = 0; q < 2 * P.n_support; q++) {
            if (t->kind == MELON_DENSE) {
                for (int a = 0; a < t->rows; a++)
                    for (int b = 0; b < t->cols; b++) {
                        double x = (double)g->slot[k][q * t->rows + a] *
                                   g->input[k][q * t->cols + b];
                        small += x != 0.0 && fabs(x) < exp(-10.0);
                    }
            } else {
                for (int b = 0; b < t->cols; b++) {
                    double x = g->slot[k][q * t->cols + b];
                    small += x != 0.0 && fabs(x) < exp(-10.0);
                }
            }
        }
    }
    print_message("%s x%g: %ld coordinates moved, %ld with |g| < e^-10\n",
                  model, (double)factor, moved, small);
    assert_true(moved > 0);
    if (factor < 0.1f && strcmp(model, "ncf") == 0) assert_true(small > 0);
    for (int k = 0; k < f.model.n_tensors; k++) free(want[k]);
    ref_free(&P);
    fx_free(&f);
}

static void trial_update_matches_reference(void **state) {
    (void)state;
    check_trial_matches_reference("bpr", 1.0f, 1);
    check_trial_matches_reference("bpr", 0.02f, 0);
    check_trial_matches_reference("ncf", 1.0f, 1);
    check_trial_matches_reference("ncf", 0.02f, 0);
    /* products of tiny deltas and inputs underflow: still finite */
    check_trial_matches_reference("ncf", 1e-12f, 0);
}

static int tensors_equal(const melon_model *a, const melon_model *b) {
    for (int k = 0; k < a->n_tensors; k++) {
        size_t size = (size_t)a->tensor[k].rows * a->tensor[k].cols;
        if (memcmp(a->tensor[k].value, b->tensor[k].value,
                   size * sizeof(float)) != 0)
            return 0;
    }
    return 1;
}

static int meta_params_equal(official_params *a, official_params *b) {
    for (int k = 0; k < a->mp.n_blocks; k++)
        if (memcmp(a->mp.block[k].value, b->mp.block[k].value,
                   a->mp.block[k].size * sizeof(float)) != 0)
            return 0;
    return 1;
}

static void meta_step_restores_theta(void **state) {
    (void)state;
    const char *models[] = {"bpr", "ncf"};
    for (int mi = 0; mi < 2; mi++) {
        fixture f, before;
        fx_init(&f, models[mi], MELON_ABLATION_NONE, 0, 31);
        fx_init(&before, models[mi], MELON_ABLATION_NONE, 0, 31);
        melon_err err = {{0}};
        assert_int_equal(f.strategy.ops->meta_step(&f.strategy, &f.ctx,
                                                   f.batch, f.n, &err), 0);
        assert_true(tensors_equal(&f.model, &before.model));
        official_params *moved = official_strategy_params(&f.strategy);
        official_params *initial = official_strategy_params(&before.strategy);
        assert_false(meta_params_equal(moved, initial));
        fx_free(&f);
        fx_free(&before);
    }
}

static int touched_by(const melon_tensor *t, const melon_triple *tr, int n,
                      int32_t row) {
    for (int p = 0; p < 2 * n; p++)
        if (melon_slot_row(t, &tr[p / 2], p % 2) == row) return 1;
    return 0;
}

static void leaky_trial_keeps_support_only_rows(void **state) {
    (void)state;
    const char *models[] = {"bpr", "ncf"};
    for (int mi = 0; mi < 2; mi++) {
        fixture leaky, clean, trial, start;
        fx_init(&leaky, models[mi], MELON_ABLATION_NONE, 1, 41);
        fx_init(&clean, models[mi], MELON_ABLATION_NONE, 0, 41);
        fx_init(&trial, models[mi], MELON_ABLATION_NONE, 0, 41);
        fx_init(&start, models[mi], MELON_ABLATION_NONE, 0, 41);
        melon_err err = {{0}};
        fixture *run[2] = {&leaky, &clean};
        for (int r = 0; r < 2; r++) {
            melon_strategy *s = &run[r]->strategy;
            assert_int_equal(s->ops->meta_step(s, &run[r]->ctx, run[r]->batch,
                                               run[r]->n, &err), 0);
            assert_int_equal(s->ops->update(s, &run[r]->ctx, run[r]->batch,
                                            run[r]->n, &err), 0);
        }
        /* the trial values: same support set, pre-step meta-parameters */
        assert_int_equal(official_strategy_trial(&trial.strategy,
                                                 &trial.ctx, trial.batch,
                                                 trial.n, &err), 0);
        const official_call *support = official_strategy_call(&trial.strategy);
        int leaked = 0, kept = 0;
        for (int k = 0; k < leaky.model.n_tensors; k++) {
            const melon_tensor *t = &leaky.model.tensor[k];
            size_t cols = (size_t)t->cols;
            if (t->kind == MELON_DENSE) {
                assert_memory_equal(t->value, clean.model.tensor[k].value,
                                    (size_t)t->rows * cols * sizeof(float));
                continue;
            }
            int side = t->kind == MELON_USER_TABLE ? OFFICIAL_USER
                                                   : OFFICIAL_ITEM;
            for (int32_t row = 0; row < t->rows; row++) {
                size_t at = (size_t)row * cols;
                const float *got = t->value + at;
                const float *plain = clean.model.tensor[k].value + at;
                int in_support = support->side[side].index_of[row] >= 0;
                if (in_support && !touched_by(t, leaky.batch, leaky.n, row)) {
                    assert_memory_equal(got, trial.model.tensor[k].value + at,
                                        cols * sizeof(float));
                    assert_memory_equal(plain, start.model.tensor[k].value + at,
                                        cols * sizeof(float));
                    leaked += memcmp(got, plain, cols * sizeof(float)) != 0;
                } else {
                    assert_memory_equal(got, plain, cols * sizeof(float));
                    kept++;
                }
            }
        }
        print_message("%s: %d rows leaked, %d rows as in the clean run\n",
                      models[mi], leaked, kept);
        assert_true(leaked > 0);
        fx_free(&leaky);
        fx_free(&clean);
        fx_free(&trial);
        fx_free(&start);
    }
}

static void neighbours_are_causal_and_bounded(void **state) {
    (void)state;
    fixture f;
    fx_init(&f, "bpr", MELON_ABLATION_NONE, 0, 51);
    melon_strategy_free(&f.strategy);
    f.cfg.strategy.melon.max_edge = 2;
    melon_err err = {{0}};
    assert_int_equal(official_create(&f.strategy, &f.model, &f.cfg,
                                           MELON_ABLATION_NONE, &err), 0);
    assert_int_equal(f.strategy.ops->update(&f.strategy, &f.ctx, f.batch,
                                            f.n, &err), 0);
    const official_call *c = official_strategy_call(&f.strategy);
    int sampled = 0;
    for (int s = 0; s < OFFICIAL_SIDES; s++) {
        const official_side *sd = &c->side[s];
        for (int j = 0; j < sd->n_nodes; j++) {
            int32_t id = sd->node_id[j];
            const melon_adjacency *adj = s == OFFICIAL_USER
                                             ? &f.history.user_items[id]
                                             : &f.history.item_users[id];
            uint32_t available = melon_history_count_before(adj, f.ctx.begin);
            int count = sd->edge_begin[j + 1] - sd->edge_begin[j];
            assert_int_equal(count, available < 2 ? (int)available : 2);
            for (int e = sd->edge_begin[j]; e < sd->edge_begin[j + 1]; e++) {
                int found = 0; /* an edge strictly before the batch */
                for (uint32_t a = 0; a < available; a++)
                    found |= adj->other[a] == sd->edge_id[e];
                assert_true(found);
                sampled++;
            }
        }
    }
    assert_true(sampled > 0);
    fx_free(&f);
}

/* --melon-meta-data next-batch: the second meta step's support set is the
 * first batch, on the values it had then, with neighbours before that
 * batch; the model is restored afterwards. */
static void next_batch_support_is_the_previous_batch(void **state) {
    (void)state;
    fixture f;
    fx_init(&f, "bpr", MELON_ABLATION_NONE, 0, 91);
    melon_strategy_free(&f.strategy);
    f.cfg.strategy.melon.meta_data = MELON_META_NEXT_BATCH;
    melon_err err = {{0}};
    assert_int_equal(official_create(&f.strategy, &f.model, &f.cfg,
                                           MELON_ABLATION_NONE, &err), 0);
    melon_strategy *s = &f.strategy;
    assert_int_equal(s->ops->meta_step(s, &f.ctx, f.batch, f.n, &err), 0);
    assert_int_equal(s->ops->update(s, &f.ctx, f.batch, f.n, &err), 0);
    melon_model after;
    assert_int_equal(melon_model_create(&after, "bpr", FX_USERS, FX_ITEMS,
                                        &f.cfg.model, 2 * FX_BATCH, &err),
                     0);
    melon_model_copy_values(&after, &f.model);
    melon_context next = f.ctx;
    next.batch++;
    next.begin += FX_BATCH;
    next.end += FX_BATCH;
    melon_triple batch[FX_BATCH];
    for (int r = 0; r < FX_BATCH; r++) {
        size_t p = next.begin + (size_t)r;
        batch[r] = (melon_triple){f.stream.user[p], f.stream.item[p],
                                  f.batch[r].negative};
    }
    assert_int_equal(s->ops->meta_step(s, &next, batch, FX_BATCH, &err), 0);
    const melon_meta_trial *t = official_strategy_meta_trial(s);
    assert_int_equal(t->n_support, f.n);
    assert_memory_equal(t->support, f.batch, (size_t)f.n * sizeof *f.batch);
    assert_true(tensors_equal(&f.model, &after));
    const official_call *c = official_strategy_call(s);
    for (int j = 0; j < c->side[OFFICIAL_USER].n_nodes; j++) {
        int32_t u = c->side[OFFICIAL_USER].node_id[j];
        assert_int_equal(c->side[OFFICIAL_USER].edge_begin[j + 1] -
                             c->side[OFFICIAL_USER].edge_begin[j],
                         (int)melon_history_count_before(
                             &f.history.user_items[u], f.ctx.begin));
    }
    melon_model_free(&after);
    fx_free(&f);
}

/* On a problem large enough for the parallel regions (GAT, proposals,
 * meta-gradient sums), one thread and all threads agree up to float
 * rounding: meta-gradient, trial loss and the updated model. */
static void threads_agree_with_one_thread(void **state) {
    (void)state;
    const fx_sizes big = {120, 200, 4000, 64, 3000, 24};
    const char *models[] = {"bpr", "ncf"};
    int threads = omp_get_max_threads();
    for (int mi = 0; mi < 2; mi++) {
        fixture f[2];
        melon_err err = {{0}};
        for (int r = 0; r < 2; r++) {
            omp_set_num_threads(threads); /* buffers sized for all threads */
            fx_init_sized(&f[r], &big, models[mi], MELON_ABLATION_NONE, 0, 101);
            omp_set_num_threads(r == 0 ? 1 : threads);
            melon_strategy *s = &f[r].strategy;
            assert_int_equal(official_strategy_meta_gradient(
                                 s, &f[r].ctx, f[r].batch, f[r].n, &err), 0);
            const official_call *c = official_strategy_call(s);
            assert_int_equal(official_team_size(c), r == 0 ? 1 : threads);
            if (strcmp(models[mi], "ncf") == 0)
                assert_true(official_call_work(c) >= OFFICIAL_PARALLEL_WORK);
            assert_int_equal(s->ops->update(s, &f[r].ctx, f[r].batch, f[r].n,
                                            &err), 0);
        }
        omp_set_num_threads(threads);
        const official_call *c = official_strategy_call(&f[1].strategy);
        assert_true(c->side[OFFICIAL_USER].n_nodes +
                        c->side[OFFICIAL_ITEM].n_nodes >= 128);
        assert_close(official_strategy_meta_trial(&f[0].strategy)->query_loss,
                     official_strategy_meta_trial(&f[1].strategy)->query_loss,
                     1e-6);
        official_params *p0 = official_strategy_params(&f[0].strategy);
        official_params *p1 = official_strategy_params(&f[1].strategy);
        double global = 0.0; /* the largest gradient entry of any block */
        for (int k = 0; k < p0->mp.n_blocks; k++)
            for (size_t a = 0; a < p0->mp.block[k].size; a++)
                global = fmax(global, fabs(p0->mp.block[k].grad[a]));
        for (int k = 0; k < p0->mp.n_blocks; k++) {
            const melon_meta_block *b0 = &p0->mp.block[k];
            const melon_meta_block *b1 = &p1->mp.block[k];
            double scale = 0.0, worst = 0.0;
            for (size_t a = 0; a < b0->size; a++) {
                scale = fmax(scale, fabs(b0->grad[a]));
                worst = fmax(worst, fabs(b0->grad[a] - b1->grad[a]));
            }
            /* relative to the block, except where the block is float noise
             * (the L1, L2 biases, zero by construction) */
            if (worst > 1e-4 * scale + 1e-6 * global)
                fail_msg("%s: %s gradients differ by %.2e of %.2e",
                         models[mi], b0->name, worst, scale);
        }
        for (int k = 0; k < f[0].model.n_tensors; k++) {
            const melon_tensor *t0 = &f[0].model.tensor[k];
            const float *v1 = f[1].model.tensor[k].value;
            for (size_t a = 0; a < (size_t)t0->rows * t0->cols; a++)
                assert_true(fabsf(t0->value[a] - v1[a]) <=
                            1e-6f * (fabsf(t0->value[a]) + 1e-3f));
        }
        print_message("%s: %d threads agree with 1\n", models[mi], threads);
        fx_free(&f[0]);
        fx_free(&f[1]);
    }
}

/* Two identical runs (same seed, same thread count) agree bit for bit; the
 * saved state reloads into a fresh strategy. */
static void deterministic_and_state_round_trips(void **state) {
    (void)state;
    fixture a, b;
    fx_init(&a, "ncf", MELON_ABLATION_NONE, 0, 61);
    fx_init(&b, "ncf", MELON_ABLATION_NONE, 0, 61);
    melon_err err = {{0}};
    fixture *run[2] = {&a, &b};
    for (int r = 0; r < 2; r++)
        for (int step = 0; step < 3; step++) {
            melon_strategy *s = &run[r]->strategy;
            assert_int_equal(s->ops->meta_step(s, &run[r]->ctx, run[r]->batch,
                                               run[r]->n, &err), 0);
            assert_int_equal(s->ops->update(s, &run[r]->ctx, run[r]->batch,
                                            run[r]->n, &err), 0);
        }
    assert_true(tensors_equal(&a.model, &b.model));
    assert_true(meta_params_equal(official_strategy_params(&a.strategy),
                                  official_strategy_params(&b.strategy)));
    const char *path = test_tmp_path("official.state");
    assert_int_equal(melon_strategy_save(&a.strategy, path, &err), 0);
    fixture c;
    fx_init(&c, "ncf", MELON_ABLATION_NONE, 0, 62);
    assert_false(meta_params_equal(official_strategy_params(&a.strategy),
                                   official_strategy_params(&c.strategy)));
    assert_int_equal(melon_strategy_load(&c.strategy, path, &err), 0);
    assert_true(meta_params_equal(official_strategy_params(&a.strategy),
                                  official_strategy_params(&c.strategy)));
    fx_free(&a);
    fx_free(&b);
    fx_free(&c);
}

static void dump_writes_input_gate_rates(void **state) {
    (void)state;
    fixture f;
    fx_init(&f, "bpr", MELON_ABLATION_NONE, 0, 71);
    melon_strategy_free(&f.strategy);
    const char *path = test_tmp_path("rates.csv");
    f.cfg.strategy.melon.dump_lr_matrix = path;
    f.cfg.strategy.melon.dump_batch = 1;
    melon_err err = {{0}};
    assert_int_equal(official_create(&f.strategy, &f.model, &f.cfg,
                                           MELON_ABLATION_NONE, &err), 0);
    /* online batches 0 and 1 (the same triples twice): only 1 dumps */
    for (int t = 0; t < 2; t++) {
        f.ctx.batch = FX_BEGIN / FX_BATCH + (size_t)t;
        assert_int_equal(test_file_exists(path), 0);
        assert_int_equal(f.strategy.ops->update(&f.strategy, &f.ctx, f.batch,
                                                f.n, &err), 0);
    }
    char *text = test_read_file(path);
    assert_non_null(text);
    int lines = 0;
    for (const char *c = text; *c; c++) lines += *c == '\n';
    assert_int_equal(lines, 1 + 2 * f.n); /* header + one row per pair */
    char want[64]; /* rows: pair (triple, column), model row numbers */
    snprintf(want, sizeof want, "r0.pos u%d i%d (u%d i%d)", f.batch[0].user,
             f.batch[0].item, f.batch[0].user, f.batch[0].item);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof want, "r0.neg u%d j%d (u%d i%d)", f.batch[0].user,
             f.batch[0].negative, f.batch[0].user, f.batch[0].negative);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "user_emb["));
    /* every rate is a sigmoid of the default gates: about 0.007 - 0.018 */
    const char *line = strchr(text, '\n') + 1;
    int cells = 0;
    for (const char *c = strchr(line, ','); c; c = strchr(c + 1, ',')) {
        if (c[1] == ',' || c[1] == '\n' || c[1] == 0) continue;
        double rate = strtod(c + 1, NULL);
        assert_true(rate > 0.0 && rate < 0.05);
        cells++;
    }
    assert_true(cells > 0);
    free(text);
    fx_free(&f);
}

/* Sizes, initialisation (A.6) and the L2 rule (A.3 item 11) at the
 * reference's sizes: d = 64, widths 20. */
static void meta_parameters_follow_the_reference(void **state) {
    (void)state;
    const char *models[] = {"bpr", "ncf"};
    const size_t expected[] = {36542, 53182}; /* about 36.5k and 53k */
    for (int mi = 0; mi < 2; mi++) {
        melon_config cfg;
        melon_config_default(&cfg);
        cfg.run.batch_size = 8;
        cfg.strategy.melon.variant = MELON_VARIANT_OFFICIAL;
        melon_err err = {{0}};
        melon_model m;
        assert_int_equal(melon_model_create(&m, models[mi], 5, 7,
                                            &cfg.model, 16, &err), 0);
        melon_strategy s;
        assert_int_equal(official_create(&s, &m, &cfg,
                                               MELON_ABLATION_NONE, &err), 0);
        official_params *p = official_strategy_params(&s);
        print_message("%s: %zu meta-parameters\n", models[mi],
                      melon_meta_params_count(&p->mp));
        assert_int_equal(melon_meta_params_count(&p->mp), expected[mi]);
        for (int k = 0; k < p->mp.n_blocks; k++) {
            const melon_meta_block *b = &p->mp.block[k];
            assert_int_equal(b->decay, strstr(b->name, "bias") == NULL);
        }
        assert_true(p->value[OB_GATE_F_B][0] >= 4.0f &&
                    p->value[OB_GATE_F_B][0] <= 6.0f);
        assert_true(p->value[OB_GATE_I_B][0] >= -5.0f &&
                    p->value[OB_GATE_I_B][0] <= -4.0f);
        for (int j = 0; j < 20; j++) {
            assert_true(p->value[OB_BN1_G][j] == 1.0f);
            assert_true(p->value[OB_BN2_B][j] == 0.0f);
        }
        for (int j = 0; j < 40; j++)
            assert_true(fabsf(p->value[OB_GATE_I][j]) <= 0.01f);
        double sq = 0.0; /* N(0, 0.01^2): the L1 weights' spread */
        for (int j = 0; j < 20 * 128; j++)
            sq += (double)p->value[OB_L1_W][j] * p->value[OB_L1_W][j];
        assert_close(sqrt(sq / (20 * 128)), 0.01, 0.001);
        melon_strategy_free(&s);
        melon_model_free(&m);
    }
}

/* The fused loops' linear-branch copy rests on two facts, checked here on
 * rows whose |e_a h_b| straddle e^-10: a row is called linear exactly when
 * every |e_a h_b| as computed is below e^-10, and there rho from the
 * linear copy equals rho from the log tables bit for bit. */
static void linear_rows_give_the_log_path_values(void **state) {
    (void)state;
    enum { COLS = 64, ROWS = 4000 };
    float h[COLS], h_log[COLS], h_inv[COLS];
    melon_rng rng;
    melon_rng_seed(&rng, 5);
    int linear_rows = 0, log_rows = 0;
    for (int r = 0; r < ROWS; r++) {
        float h_max = 0.0f;
        for (int b = 0; b < COLS; b++) {
            /* magnitudes 1e-4 .. 1, either sign */
            float mag = powf(10.0f, -4.0f * (float)melon_rng_uniform(&rng));
            h[b] = melon_rng_uniform(&rng) < 0.5f ? -mag : mag;
            h_log[b] = logf(mag);
            h_inv[b] = 1.0f / mag;
            h_max = fmaxf(h_max, mag);
        }
        /* |e_a| h_max within a factor 2 of e^-10 on either side */
        float e = MELON_PREPROCESS_MIN / h_max *
                  (0.5f + 1.5f * (float)melon_rng_uniform(&rng));
        if (r % 2) e = -e;
        official_dense_row d = {h, h_log, h_inv, e, logf(fabsf(e)),
                                MELON_PREPROCESS_EPS / fabsf(e)};
        int all_small = 1;
        for (int b = 0; b < COLS; b++)
            all_small &= fabsf(e * h[b]) < MELON_PREPROCESS_MIN;
        int linear = official_row_is_linear(&d, h_max);
        assert_int_equal(linear, all_small);
        if (!linear) {
            log_rows++;
            continue;
        }
        linear_rows++;
        for (int b = 0; b < COLS; b++) {
            float g = e * h[b], a1, a2, b1, b2;
            official_dense_rho(&d, b, g, &a1, &a2, 1);
            official_dense_rho(&d, b, g, &b1, &b2, 0);
            assert_memory_equal(&a1, &b1, sizeof a1);
            assert_memory_equal(&a2, &b2, sizeof a2);
        }
    }
    print_message("linear rows %d, rows with a log coordinate %d\n",
                  linear_rows, log_rows);
    assert_true(linear_rows > ROWS / 10 && log_rows > ROWS / 10);
}

static void bad_settings_are_errors(void **state) {
    (void)state;
    fixture f;
    fx_init(&f, "bpr", MELON_ABLATION_NONE, 0, 81);
    melon_strategy s;
    melon_err err = {{0}};
    melon_config cfg = f.cfg;
    cfg.strategy.melon.aggregation = MELON_AGG_SUM;
    memset(&s, 0, sizeof s);
    assert_int_equal(official_create(&s, &f.model, &cfg,
                                           MELON_ABLATION_NONE, &err), -1);
    assert_non_null(strstr(err.msg, "aggregation"));
    cfg = f.cfg;
    cfg.strategy.melon.rate_scale = 0.1f; /* a paper-form setting */
    assert_int_equal(official_create(&s, &f.model, &cfg,
                                           MELON_ABLATION_NONE, &err), -1);
    assert_non_null(strstr(err.msg, "rate-scale"));
    cfg = f.cfg;
    cfg.run.batch_size = 2 * FX_BATCH; /* the model holds 2 * FX_BATCH triples */
    assert_int_equal(official_create(&s, &f.model, &cfg,
                                           MELON_ABLATION_NONE, &err), -1);
    melon_model pop;
    assert_int_equal(melon_model_create(&pop, "pop", FX_USERS, FX_ITEMS, NULL,
                                        2 * FX_BATCH, &err), 0);
    assert_int_equal(official_create(&s, &pop, &f.cfg,
                                           MELON_ABLATION_NONE, &err), -1);
    melon_model_free(&pop);
    /* a batch larger than the strategy was sized for */
    melon_triple big[2 * FX_BATCH];
    for (int r = 0; r < 2 * FX_BATCH; r++) big[r] = f.batch[r % FX_BATCH];
    assert_int_equal(f.strategy.ops->update(&f.strategy, &f.ctx, big,
                                            2 * FX_BATCH, &err), -1);
    fx_free(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trial_update_matches_reference),
        cmocka_unit_test(meta_step_restores_theta),
        cmocka_unit_test(leaky_trial_keeps_support_only_rows),
        cmocka_unit_test(neighbours_are_causal_and_bounded),
        cmocka_unit_test(next_batch_support_is_the_previous_batch),
        cmocka_unit_test(threads_agree_with_one_thread),
        cmocka_unit_test(deterministic_and_state_round_trips),
        cmocka_unit_test(dump_writes_input_gate_rates),
        cmocka_unit_test(meta_parameters_follow_the_reference),
        cmocka_unit_test(linear_rows_give_the_log_path_values),
        cmocka_unit_test(bad_settings_are_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
