/* eALS (update-strategies.md B.2): `eals` is Default's step scaled by
 * w_new (Adam: learning rate x w_new; SGD: loss x w_new); `eals-replay`
 * is one optimiser step on w_new-weighted new triples and weight-1
 * replayed history; `eals-als` is element-wise ALS, checked against a
 * brute-force evaluation of J: every coordinate update is the exact
 * minimiser of J along that coordinate, sweeps never increase J, the
 * caches stay equal to their definitions, and the strategy pre-trains once
 * and refuses NCF. */
#include "meta_reference.h"

#include "update/eals/eals_als.h"
#include "update/support.h"

#define BATCH 8

static void set_values(melon_model *dst, const melon_model *src) {
    melon_model_copy_values(dst, src);
}

static melon_strategy make(const char *name, melon_model *m,
                           const melon_config *cfg) {
    melon_strategy s;
    melon_err err = {{0}};
    if (melon_config_create_strategy(&s, name, m, cfg, &err) != 0)
        fail_msg("%s", err.msg);
    return s;
}

/* Adam: eals with w is Default with learning rate w lr, bit for bit. */
static void eals_is_default_with_scaled_lr(void **state) {
    (void)state;
    test_world w;
    world_open(&w, write_tiny_stream("eals.tsv", 80, 2), 40);
    const char *models[] = {"bpr", "ncf"};
    for (int k = 0; k < 2; k++) {
        melon_model a, b;
        tiny_model(&a, models[k], 0.3f, 1, 2 * BATCH);
        tiny_model(&b, models[k], 0.3f, 1, 2 * BATCH);
        melon_config cfg, cfg_default;
        melon_config_default(&cfg);
        cfg.strategy.eals.weight = 4.0f;
        cfg_default = cfg;
        cfg_default.optim.lr = 4.0f * cfg.optim.lr;
        melon_strategy se = make("eals", &a, &cfg);
        melon_strategy sd = make("default", &b, &cfg_default);
        melon_triple batch[BATCH];
        melon_err err = {{0}};
        for (size_t begin = 40; begin < 72; begin += BATCH) {
            world_triples(&w, begin, begin + BATCH, batch);
            melon_context ca = world_context(&w, &a, MELON_PHASE_ONLINE, begin,
                                             begin + BATCH);
            melon_context cb = world_context(&w, &b, MELON_PHASE_ONLINE, begin,
                                             begin + BATCH);
            assert_int_equal(se.ops->update(&se, &ca, batch, BATCH, &err), 0);
            assert_int_equal(sd.ops->update(&sd, &cb, batch, BATCH, &err), 0);
        }
        for (int t = 0; t < a.n_tensors; t++)
            assert_memory_equal(a.tensor[t].value, b.tensor[t].value,
                                ref_tensor_size(&a.tensor[t]) * sizeof(float));
        melon_strategy_free(&se);
        melon_strategy_free(&sd);
        melon_model_free(&a);
        melon_model_free(&b);
    }
    world_close(&w);
}

/* SGD: the loss is weighted, so the gradient part of the step is w times
 * Default's and the L2 part is not: eals - theta = w (default_0 - theta)
 * - l2 lr theta (w - 1) on decayed tensors, where default_0 has l2 = 0. */
static void eals_weights_the_loss_under_sgd(void **state) {
    (void)state;
    test_world w;
    world_open(&w, write_tiny_stream("eals_sgd.tsv", 80, 2), 40);
    melon_model theta, a, b;
    tiny_model(&theta, "ncf", 0.3f, 1, 2 * BATCH);
    tiny_model(&a, "ncf", 0.3f, 1, 2 * BATCH);
    tiny_model(&b, "ncf", 0.3f, 1, 2 * BATCH);
    melon_config cfg;
    melon_config_default(&cfg);
    cfg.optim.kind = MELON_OPT_SGD;
    cfg.optim.lr = 0.05f;
    cfg.optim.l2 = 0.1f;
    cfg.strategy.eals.weight = 3.0f;
    melon_config cfg0 = cfg;
    cfg0.optim.l2 = 0.0f;
    melon_strategy se = make("eals", &a, &cfg);
    melon_strategy sd = make("default", &b, &cfg0);
    melon_triple batch[BATCH];
    world_triples(&w, 40, 48, batch);
    melon_context ca = world_context(&w, &a, MELON_PHASE_ONLINE, 40, 48);
    melon_context cb = world_context(&w, &b, MELON_PHASE_ONLINE, 40, 48);
    melon_err err = {{0}};
    assert_int_equal(se.ops->update(&se, &ca, batch, BATCH, &err), 0);
    assert_int_equal(sd.ops->update(&sd, &cb, batch, BATCH, &err), 0);
    for (int t = 0; t < a.n_tensors; t++) {
        const melon_tensor *tn = &a.tensor[t];
        for (int row = 0; row < tn->rows; row++) {
            /* SGD decays the dense tensors and the rows the batch touched */
            int touched = tn->kind == MELON_DENSE;
            for (int p = 0; p < 2 * BATCH; p++)
                touched |= melon_slot_row(tn, &batch[p / 2], p % 2) == row;
            for (int col = 0; col < tn->cols; col++) {
                size_t e = (size_t)row * tn->cols + col;
                double th = theta.tensor[t].value[e];
                double grad_step = b.tensor[t].value[e] - th;  /* -lr g */
                double want = th + 3.0 * grad_step;
                if (tn->decay && touched) want -= 0.05 * 0.1 * th;
                assert_true(fabs(tn->value[e] - want) <= 1e-6 * (1 + fabs(want)));
            }
        }
    }
    melon_strategy_free(&se);
    melon_strategy_free(&sd);
    melon_model_free(&theta);
    melon_model_free(&a);
    melon_model_free(&b);
    world_close(&w);
}

/* eals-replay, SGD without L2: theta' = theta - lr (w sum_B g + sum_S g)
 * / (w n + 2n), S the last-batch replay of section 2. */
static void replay_step_is_the_weighted_mean(void **state) {
    (void)state;
    test_world w;
    world_open(&w, write_tiny_stream("replay.tsv", 80, 2), 48);
    const char *models[] = {"bpr", "ncf"};
    for (int k = 0; k < 2; k++) {
        melon_model m;
        tiny_model(&m, models[k], 0.3f, 1, 2 * BATCH);
        melon_config cfg;
        melon_config_default(&cfg);
        cfg.run.batch_size = BATCH;
        cfg.optim.kind = MELON_OPT_SGD;
        cfg.optim.lr = 0.1f;
        cfg.optim.l2 = 0.0f;
        cfg.strategy.eals.weight = 4.0f;
        melon_strategy s = make("eals-replay", &m, &cfg);
        ref_params theta;
        ref_params_init(&theta, &m);
        melon_triple batch[BATCH], support[2 * BATCH];
        world_triples(&w, 48, 56, batch);
        melon_context ctx = world_context(&w, &m, MELON_PHASE_ONLINE, 48, 56);
        melon_rng before = w.rng;
        melon_err err = {{0}};
        assert_int_equal(s.ops->update(&s, &ctx, batch, BATCH, &err), 0);
        w.rng = before;
        assert_int_equal(melon_support_last_batch(&ctx, batch, BATCH, support,
                                                  &err), 0);
        ref_params after;
        ref_params_init(&after, &m);
        for (int t = 0; t < m.n_tensors; t++)
            for (size_t e = 0; e < ref_tensor_size(&m.tensor[t]); e++)
                m.tensor[t].value[e] = (float)theta.p[t][e];
        melon_grads g;
        assert_int_equal(melon_grads_init(&g, &m, 2 * BATCH, &err), 0);
        ref_triple_grads gb, gs;
        m.ops->forward_backward(&m, batch, BATCH, &g);
        ref_triple_grads_init(&gb, &m, &g, batch);
        m.ops->forward_backward(&m, support, 2 * BATCH, &g);
        ref_triple_grads_init(&gs, &m, &g, support);
        double norm = 4.0 * BATCH + 2 * BATCH;
        for (int t = 0; t < m.n_tensors; t++)
            for (size_t e = 0; e < ref_tensor_size(&m.tensor[t]); e++) {
                double step = 0.0;
                for (int x = 0; x < BATCH; x++)
                    step += 4.0 * gb.grad[(size_t)x * m.n_tensors + t][e];
                for (int x = 0; x < 2 * BATCH; x++)
                    step += gs.grad[(size_t)x * m.n_tensors + t][e];
                double want = theta.p[t][e] - 0.1 * step / norm;
                assert_true(fabs(after.p[t][e] - want) <= 1e-6 * (1 + fabs(want)));
            }
        ref_triple_grads_free(&gb);
        ref_triple_grads_free(&gs);
        melon_grads_free(&g);
        ref_params_free(&theta);
        ref_params_free(&after);
        melon_strategy_free(&s);
        melon_model_free(&m);
    }
    world_close(&w);
}

/* A tiny ALS problem: 6 users, 7 items, K = 3, with weights 1 and 4. */
#define AU 6
#define AI 7
#define AK 3

typedef struct {
    float P[AU * AK], Q[AI * AK];
    eals_als als;
} als_case;

static const int als_pairs[][2] = {
    {0, 0}, {0, 2}, {0, 5}, {1, 1}, {1, 2}, {2, 0}, {2, 3}, {2, 4}, {2, 6},
    {3, 2}, {3, 5}, {4, 1}, {4, 4}, {5, 0}, {5, 2}, {5, 3},
};
#define N_ALS_PAIRS (int)(sizeof als_pairs / sizeof als_pairs[0])

static void als_open(als_case *c, double lambda) {
    melon_rng rng;
    melon_rng_seed(&rng, 11);
    for (int a = 0; a < AU * AK; a++) c->P[a] = (float)(0.5 * melon_rng_normal(&rng));
    for (int a = 0; a < AI * AK; a++) c->Q[a] = (float)(0.5 * melon_rng_normal(&rng));
    int32_t ucap[AU] = {0}, icap[AI] = {0};
    for (int p = 0; p < N_ALS_PAIRS; p++) {
        ucap[als_pairs[p][0]]++;
        icap[als_pairs[p][1]]++;
    }
    icap[6]++;   /* room for an online pair (1, 6) */
    ucap[1]++;
    melon_err err = {{0}};
    assert_int_equal(eals_als_init(&c->als, AU, AI, AK, c->P, c->Q, ucap,
                                   icap, lambda, &err), 0);
    for (int p = 0; p < N_ALS_PAIRS; p++)
        assert_int_equal(eals_als_set(&c->als, als_pairs[p][0], als_pairs[p][1],
                                      p % 3 == 0 ? 4.0f : 1.0f), 0);
}

/* J by its definition, in double, from the lists' weights and c. */
static double brute_j(const als_case *c) {
    const eals_als *a = &c->als;
    double j = 0.0;
    for (int u = 0; u < AU; u++)
        for (int i = 0; i < AI; i++) {
            double r = 0.0;
            for (int f = 0; f < AK; f++)
                r += (double)c->P[u * AK + f] * c->Q[i * AK + f];
            double w = -1.0;
            for (int k = 0; k < a->user[u].len; k++)
                if (a->user[u].other[k] == i) w = a->user[u].weight[k];
            j += w >= 0 ? w * (1 - r) * (1 - r) : a->c[i] * r * r;
        }
    for (int e = 0; e < AU * AK; e++) j += a->lambda * c->P[e] * c->P[e];
    for (int e = 0; e < AI * AK; e++) j += a->lambda * c->Q[e] * c->Q[e];
    return j;
}

/* J is quadratic in one coordinate: its minimiser from three values. */
static double brute_minimiser(als_case *c, float *x) {
    float saved = *x;
    *x = 0.0f;
    double j0 = brute_j(c);
    *x = 1.0f;
    double j1 = brute_j(c);
    *x = -1.0f;
    double jm = brute_j(c);
    *x = saved;
    double curv = (j1 + jm - 2 * j0) / 2, slope = (j1 - jm) / 2;
    assert_true(curv > 0);
    return -slope / (2 * curv);
}

static void assert_caches_match(const als_case *c) {
    for (int f = 0; f < AK; f++)
        for (int g = 0; g < AK; g++) {
            double sp = 0.0, sq = 0.0;
            for (int u = 0; u < AU; u++) /* users with an interaction */
                if (c->als.user[u].len > 0)
                    sp += (double)c->P[u * AK + f] * c->P[u * AK + g];
            for (int i = 0; i < AI; i++)
                sq += c->als.c[i] * c->Q[i * AK + f] * c->Q[i * AK + g];
            assert_true(fabs(c->als.SP[f * AK + g] - sp) < 1e-9 + 1e-5 * fabs(sp));
            assert_true(fabs(c->als.SQ[f * AK + g] - sq) < 1e-9 + 1e-5 * fabs(sq));
        }
}

/* Every coordinate step lands on the brute-force minimiser and lowers J. */
static void coordinate_updates_are_exact(void **state) {
    (void)state;
    als_case c;
    als_open(&c, 0.1);
    eals_als_popularity_weights(&c.als, 2.0, 0.4);
    eals_als_rebuild_caches(&c.als);
    assert_caches_match(&c);
    double j = brute_j(&c);
    int checked = 0;
    for (int u = 0; u < AU; u++) {
        eals_als_user_begin(&c.als, u);
        for (int f = 0; f < AK; f++) {
            double want = brute_minimiser(&c, &c.P[u * AK + f]);
            eals_als_user_factor(&c.als, u, f);
            assert_true(fabs(c.P[u * AK + f] - want) <= 1e-5 * (1 + fabs(want)));
            double next = brute_j(&c);
            assert_true(next <= j + 1e-9 * j);
            j = next;
            checked++;
        }
        eals_als_user_end(&c.als, u);
        assert_caches_match(&c);
    }
    for (int i = 0; i < AI; i++) {
        if (c.als.item[i].len == 0) continue;
        eals_als_item_begin(&c.als, i);
        for (int f = 0; f < AK; f++) {
            double want = brute_minimiser(&c, &c.Q[i * AK + f]);
            eals_als_item_factor(&c.als, i, f);
            assert_true(fabs(c.Q[i * AK + f] - want) <= 1e-5 * (1 + fabs(want)));
            double next = brute_j(&c);
            assert_true(next <= j + 1e-9 * j);
            j = next;
            checked++;
        }
        eals_als_item_end(&c.als, i);
        assert_caches_match(&c);
    }
    print_message("  %d coordinates checked, J now %.6f\n", checked, j);
    assert_true(checked == AU * AK + AI * AK);

    /* the check catches a wrong update: with S^Q_00 off by 1% (a stale
     * cache) the step misses the minimiser */
    double saved_sq = c.als.SQ[0];
    c.als.SQ[0] *= 1.01;
    eals_als_user_begin(&c.als, 2);
    double want = brute_minimiser(&c, &c.P[2 * AK]);
    eals_als_user_factor(&c.als, 2, 0);
    print_message("  with a stale cache: %.6f, minimiser %.6f\n",
                  (double)c.P[2 * AK], want);
    assert_false(fabs(c.P[2 * AK] - want) <= 1e-5 * (1 + fabs(want)));
    c.als.SQ[0] = saved_sq;
    eals_als_free(&c.als);
}

/* c_i = c0 f_i^alpha / sum f^alpha with f_i = |R_i| / nnz; full sweeps
 * never increase J. */
static void sweeps_decrease_j(void **state) {
    (void)state;
    als_case c;
    als_open(&c, 0.05);
    eals_als_popularity_weights(&c.als, 3.0, 0.4);
    double z = 0.0;
    for (int i = 0; i < AI; i++)
        z += c.als.item[i].len ? pow((double)c.als.item[i].len / N_ALS_PAIRS, 0.4) : 0;
    for (int i = 0; i < AI; i++) {
        double f = (double)c.als.item[i].len / N_ALS_PAIRS;
        double want = f > 0 ? 3.0 * pow(f, 0.4) / z : 0.0;
        assert_true(fabs(c.als.c[i] - want) < 1e-12);
    }
    eals_als_rebuild_caches(&c.als);
    double j = brute_j(&c), first = j;
    for (int it = 0; it < 8; it++) {
        eals_als_sweep(&c.als);
        double next = brute_j(&c);
        assert_true(next <= j + 1e-9 * j);
        j = next;
    }
    print_message("  J: %.6f -> %.6f over 8 sweeps\n", first, j);
    assert_true(j < 0.9 * first);
    assert_caches_match(&c);
    eals_als_free(&c.als);
}

/* The online step: item 6 had no missing-data weight, gets c0 / I and
 * joins S^Q; the pair's weight becomes w_new (a repeat keeps one entry);
 * J with the new weight goes down. */
static void online_step(void **state) {
    (void)state;
    als_case c;
    als_open(&c, 0.1);
    /* item 6 has one past pair; zero its weight as if it were new */
    eals_als_popularity_weights(&c.als, 2.0, 0.4);
    c.als.c[6] = 0.0;
    eals_als_rebuild_caches(&c.als);
    int len_u = c.als.user[1].len;
    assert_int_equal(eals_als_online(&c.als, 1, 6, 4.0f, 2.0, 1), 0);
    assert_true(fabs(c.als.c[6] - 2.0 / AI) < 1e-12);
    assert_caches_match(&c);
    assert_int_equal(c.als.user[1].len, len_u + 1);
    assert_int_equal(eals_als_online(&c.als, 1, 6, 5.0f, 2.0, 2), 0);
    assert_int_equal(c.als.user[1].len, len_u + 1);
    assert_true(c.als.user[1].weight[len_u] == 5.0f);
    double before = brute_j(&c);
    assert_int_equal(eals_als_online(&c.als, 1, 6, 5.0f, 2.0, 1), 0);
    assert_true(brute_j(&c) <= before + 1e-9 * before);
    assert_caches_match(&c);
    /* a full list grows (user 0's had room for its three past pairs) */
    assert_int_equal(c.als.user[0].len, c.als.user[0].cap);
    assert_int_equal(eals_als_set(&c.als, 0, 6, 1.0f), 0);
    assert_int_equal(c.als.user[0].len, 4);
    assert_int_equal(c.als.user[0].other[3], 6);
    eals_als_free(&c.als);
}

/* The strategy: refuses NCF; the first pre-training call runs the
 * offline sweeps on the tables only, later ones change nothing; online
 * calls move the rows of the batch's users and items. */
static void strategy_pretrains_once(void **state) {
    (void)state;
    test_world w;
    world_open(&w, write_tiny_stream("als.tsv", 80, 2), 56);
    melon_config cfg;
    melon_config_default(&cfg);
    cfg.run.batch_size = BATCH;
    cfg.strategy.eals.offline_iters = 5;
    melon_model m;
    melon_strategy s;
    melon_err err = {{0}};
    tiny_model(&m, "ncf", 0.3f, 1, 2 * BATCH);
    assert_int_equal(melon_config_create_strategy(&s, "eals-als", &m, &cfg, &err),
                     MELON_NOT_APPLICABLE);
    assert_non_null(strstr(err.msg, "bpr"));
    print_message("  ncf: %s\n", err.msg);
    melon_model_free(&m);

    tiny_model(&m, "bpr", 0.3f, 1, 2 * BATCH);
    melon_model copy;
    tiny_model(&copy, "bpr", 0.3f, 1, 2 * BATCH);
    s = make("eals-als", &m, &cfg);
    melon_triple batch[BATCH];
    world_triples(&w, 0, 8, batch);
    melon_context ctx = world_context(&w, &m, MELON_PHASE_PRETRAIN, 0, 8);
    assert_int_equal(s.ops->update(&s, &ctx, batch, BATCH, &err), 0);
    assert_true(isfinite(s.batch_loss));
    assert_true(memcmp(m.tensor[0].value, copy.tensor[0].value,
                       ref_tensor_size(&m.tensor[0]) * sizeof(float)) != 0);
    for (int t = 2; t < 4; t++)   /* biases untouched */
        assert_memory_equal(m.tensor[t].value, copy.tensor[t].value,
                            ref_tensor_size(&m.tensor[t]) * sizeof(float));
    set_values(&copy, &m);
    world_triples(&w, 8, 16, batch);
    ctx = world_context(&w, &m, MELON_PHASE_PRETRAIN, 8, 16);
    assert_int_equal(s.ops->update(&s, &ctx, batch, BATCH, &err), 0);
    for (int t = 0; t < m.n_tensors; t++)
        assert_memory_equal(m.tensor[t].value, copy.tensor[t].value,
                            ref_tensor_size(&m.tensor[t]) * sizeof(float));
    world_triples(&w, 56, 64, batch);
    ctx = world_context(&w, &m, MELON_PHASE_ONLINE, 56, 64);
    assert_int_equal(s.ops->update(&s, &ctx, batch, BATCH, &err), 0);
    int d = m.cfg.dim;
    assert_true(memcmp(m.tensor[0].value + (size_t)batch[0].user * d,
                       copy.tensor[0].value + (size_t)batch[0].user * d,
                       (size_t)d * sizeof(float)) != 0);
    melon_strategy_free(&s);
    melon_model_free(&copy);
    melon_model_free(&m);
    world_close(&w);
}

/* Every eALS form through the runner; the same seed reproduces a run. */
static void runs_through_the_runner(void **state) {
    (void)state;
    const char *path = write_run_stream("eals_run.tsv");
    const char *names[] = {"eals", "eals-replay", "eals-als"};
    for (int k = 0; k < 3; k++)
        for (int model = 0; model < 2; model++) {
            if (k == 2 && model == 1) continue;
            double ndcg[2];
            for (int rep = 0; rep < 2; rep++) {
                melon_config cfg;
                melon_config_default(&cfg);
                cfg.strategy.eals.offline_iters = 10;
                ndcg[rep] = run_strategy(path, model ? "ncf" : "bpr", names[k],
                                         &cfg);
            }
            print_message("  %s %s: NDCG@10 %.4f\n", names[k],
                          model ? "ncf" : "bpr", ndcg[0]);
            assert_true(ndcg[0] == ndcg[1]);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eals_is_default_with_scaled_lr),
        cmocka_unit_test(eals_weights_the_loss_under_sgd),
        cmocka_unit_test(replay_step_is_the_weighted_mean),
        cmocka_unit_test(coordinate_updates_are_exact),
        cmocka_unit_test(sweeps_decrease_j),
        cmocka_unit_test(online_step),
        cmocka_unit_test(strategy_pretrains_once),
        cmocka_unit_test(runs_through_the_runner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
