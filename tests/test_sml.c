/* SML (update-strategies.md B.6): the transfer step's gradient with respect
 * to every block of both transfer networks, and the gradient with respect
 * to the new values w^ used in step 3 (through the transfer, with the L2
 * term), against central differences of a double re-implementation of the
 * transfer and of BPR-MF's loss, for the BPR and the original BCE loss
 * (the one checker, grad_check.h, which also rejects wrong gradients); a
 * whole update reproduced from the batch-mean gradient alone (the column
 * structure of spec C); runs, the refusal on NCF, and the state file. */
#include "meta_reference.h"

#include "update/sml/sml.h"

#define BATCH 8
#define TEST_HIDDEN 12

static double ref_gelu(double x) { return x / (1.0 + exp(-1.702 * x)); }

/* One transfer network in double. */
typedef struct {
    int d, h;
    double *w[SML_N_BLOCKS];
} ref_net;

static void ref_net_init(ref_net *r, const sml_net *net) {
    size_t size[SML_N_BLOCKS];
    sml_block_sizes(net->dim, net->hidden, size);
    r->d = net->dim;
    r->h = net->hidden;
    for (int b = 0; b < SML_N_BLOCKS; b++) {
        r->w[b] = malloc(size[b] * sizeof(double));
        assert_non_null(r->w[b]);
        for (size_t a = 0; a < size[b]; a++) r->w[b][a] = net->w[b][a];
    }
}

static void ref_net_free(ref_net *r) {
    for (int b = 0; b < SML_N_BLOCKS; b++) free(r->w[b]);
}

/* f(w, w^) of one row (sml_transfer.h), written from the definition; the
 * third input row uses `detached` in place of w^ (the original detaches
 * w^ there, so no gradient flows through it). */
static void ref_transfer(const ref_net *r, const double *w, const double *hat,
                         const double *detached, double *out) {
    int d = r->d, h = r->h;
    double H[3][64], z1[SML_CONV1][64], z2[SML_CONV2 * 64], z3[1024];
    double norm = 0.0;
    for (int k = 0; k < d; k++) norm += w[k] * w[k];
    norm = sqrt(norm);
    for (int k = 0; k < d; k++) {
        H[0][k] = w[k];
        H[1][k] = hat[k];
        H[2][k] = w[k] * detached[k] / norm;
    }
    for (int c = 0; c < SML_CONV1; c++)
        for (int k = 0; k < d; k++) {
            double a = r->w[SML_B1][c];
            for (int j = 0; j < 3; j++) a += r->w[SML_K1][3 * c + j] * H[j][k];
            z1[c][k] = ref_gelu(a);
        }
    for (int c2 = 0; c2 < SML_CONV2; c2++)
        for (int k = 0; k < d; k++) {
            double a = r->w[SML_B2][c2];
            for (int c = 0; c < SML_CONV1; c++)
                a += r->w[SML_K2][c2 * SML_CONV1 + c] * z1[c][k];
            z2[c2 * d + k] = ref_gelu(a);
        }
    for (int j = 0; j < h; j++) {
        double a = r->w[SML_P1][j];
        for (int i = 0; i < SML_CONV2 * d; i++)
            a += r->w[SML_F1][(size_t)j * SML_CONV2 * d + i] * z2[i];
        z3[j] = ref_gelu(a);
    }
    for (int k = 0; k < d; k++) {
        double a = r->w[SML_P2][k];
        for (int j = 0; j < h; j++) a += r->w[SML_F2][(size_t)k * h + j] * z3[j];
        out[k] = a;
    }
}

/* The strategy's state in double: the model, both transfers, the kept
 * rows with their w^prev and w^. */
typedef struct {
    const sml_state *st;
    const melon_model *m;
    ref_params params;
    ref_params work;
    ref_net net[SML_SIDES];
    int32_t n_kept[SML_SIDES];
    int32_t *rows[SML_SIDES];
    double *w_prev[SML_SIDES], *w_hat[SML_SIDES];
    double *w_hat_fixed[SML_SIDES]; /* w^ inside the third row */
    int bce;
} sml_ref;

static void sml_ref_open(sml_ref *r, const sml_state *st, const melon_model *m) {
    memset(r, 0, sizeof *r);
    r->st = st;
    r->m = m;
    r->bce = st->cfg.loss == MELON_SML_BCE;
    ref_params_init(&r->params, m);
    ref_params_init(&r->work, m);
    int d = st->dim;
    for (int s = 0; s < SML_SIDES; s++) {
        ref_net_init(&r->net[s], &st->net[s]);
        const sml_kept *kept = &st->kept[s];
        const float *hat = st->shadow.tensor[st->tensor[s]].value;
        r->n_kept[s] = kept->n;
        r->rows[s] = malloc((size_t)kept->n * sizeof(int32_t) + 1);
        r->w_prev[s] = malloc((size_t)kept->n * d * sizeof(double) + 1);
        r->w_hat[s] = malloc((size_t)kept->n * d * sizeof(double) + 1);
        r->w_hat_fixed[s] = malloc((size_t)kept->n * d * sizeof(double) + 1);
        for (int32_t a = 0; a < kept->n; a++) {
            r->rows[s][a] = kept->rows[a];
            for (int k = 0; k < d; k++) {
                r->w_prev[s][a * d + k] = kept->w_prev[a * d + k];
                r->w_hat[s][a * d + k] = hat[(size_t)kept->rows[a] * d + k];
                r->w_hat_fixed[s][a * d + k] = r->w_hat[s][a * d + k];
            }
        }
    }
}

static void sml_ref_close(sml_ref *r) {
    ref_params_free(&r->params);
    ref_params_free(&r->work);
    for (int s = 0; s < SML_SIDES; s++) {
        ref_net_free(&r->net[s]);
        free(r->rows[s]);
        free(r->w_prev[s]);
        free(r->w_hat[s]);
        free(r->w_hat_fixed[s]);
    }
}

static int looks_up(const melon_tensor *t, const melon_triple *b, int n, int32_t row) {
    int looks = 0;
    for (int p = 0; p < 2 * n; p++) looks += melon_slot_row(t, &b[p / 2], p % 2) == row;
    return looks;
}

/* Mean loss of the batch with every kept row it looks up scored through
 * the transfer; with l2 > 0 plus l2 / 2 sum over the look-ups of |w^|^2. */
static double sml_ref_loss(sml_ref *r, const melon_triple *b, int n, double l2) {
    const sml_state *st = r->st;
    int d = st->dim;
    ref_params_copy(&r->work, &r->params);
    double reg = 0.0;
    for (int s = 0; s < SML_SIDES; s++) {
        const melon_tensor *t = &r->m->tensor[st->tensor[s]];
        for (int32_t a = 0; a < r->n_kept[s]; a++) {
            int looks = looks_up(t, b, n, r->rows[s][a]);
            if (!looks) continue;
            ref_transfer(&r->net[s], r->w_prev[s] + a * d, r->w_hat[s] + a * d,
                         r->w_hat_fixed[s] + a * d,
                         r->work.p[st->tensor[s]] + (size_t)r->rows[s][a] * d);
            double sq = 0.0;
            for (int k = 0; k < d; k++) sq += r->w_hat[s][a * d + k] * r->w_hat[s][a * d + k];
            reg += 0.5 * l2 * sq * (s == SML_USERS ? looks / 2 : looks);
        }
    }
    double sum = 0.0;
    for (int x = 0; x < n; x++) {
        double s0 = ref_score(&r->work, b[x].user, b[x].item);
        double s1 = ref_score(&r->work, b[x].user, b[x].negative);
        sum += r->bce ? ref_softplus(-s0) + ref_softplus(s1) : ref_softplus(-(s0 - s1));
    }
    return sum / n + reg;
}

typedef struct {
    sml_ref *r;
    const melon_triple *b;
    int n;
    double l2;
} sml_loss_at;

static double sml_loss_fn(void *ctx) {
    sml_loss_at *at = ctx;
    return sml_ref_loss(at->r, at->b, at->n, at->l2);
}

static double central(sml_ref *r, double *v, const melon_triple *b, int n, double l2) {
    sml_loss_at at = {r, b, n, l2};
    return grad_central(sml_loss_fn, &at, v);
}

/* B0 keeps its rows (users 0-3, items 0-4); B1 looks up some of them and
 * others (user 4, items 5 and 6): a constant added to every item row would
 * cancel in BPR's differences if all of B1's items were kept. */
static const melon_triple batch0[] = {{0, 1, 4}, {1, 2, 3}, {2, 1, 4}, {0, 3, 2},
                                      {3, 0, 2}, {1, 4, 3}};
static const melon_triple batch1[] = {{0, 2, 5}, {1, 1, 6}, {4, 3, 5}, {2, 0, 6},
                                      {3, 6, 1}};
#define N0 ((int)(sizeof batch0 / sizeof batch0[0]))
#define N1 ((int)(sizeof batch1 / sizeof batch1[0]))

typedef struct {
    melon_model model;
    melon_config cfg;
    melon_strategy s;
    sml_state *st;
    melon_context ctx;
} sml_case;

/* A strategy on a tiny BPR-MF that has taken one update on batch0, so its
 * kept rows hold w^prev != w^ (a large step size makes them differ). */
static void sml_case_open(sml_case *c, melon_sml_loss loss) {
    memset(c, 0, sizeof *c);
    tiny_model(&c->model, "bpr", 0.6f, 11, BATCH);
    melon_config_default(&c->cfg);
    c->cfg.run.batch_size = BATCH;
    c->cfg.strategy.sml.hidden = TEST_HIDDEN;
    c->cfg.strategy.sml.loss = loss;
    c->cfg.strategy.sml.lr = 0.3f;
    c->cfg.strategy.sml.l2 = 0.05f;
    melon_err err = {{0}};
    if (melon_config_create_strategy(&c->s, "sml", &c->model, &c->cfg, &err) != 0)
        fail_msg("%s", err.msg);
    c->st = c->s.impl;
    c->ctx.model = &c->model;
    assert_int_equal(c->s.ops->update(&c->s, &c->ctx, batch0, N0, &err), 0);
}

static void sml_case_close(sml_case *c) {
    melon_strategy_free(&c->s);
    melon_model_free(&c->model);
}

/* Psi: every block of both transfers. */
static void check_transfer_gradient(melon_sml_loss loss) {
    sml_case c;
    sml_case_open(&c, loss);
    sml_ref r;
    sml_ref_open(&r, c.st, &c.model);
    double got = sml_transfer_gradient(c.st, &c.model, batch1, N1);
    assert_close(got, sml_ref_loss(&r, batch1, N1, 0.0), 1e-5);
    size_t size[SML_N_BLOCKS];
    sml_block_sizes(c.st->dim, TEST_HIDDEN, size);
    for (int s = 0; s < SML_SIDES; s++)
        for (int b = 0; b < SML_N_BLOCKS; b++) {
            double *numeric = malloc(size[b] * sizeof(double));
            float *analytic = malloc(size[b] * sizeof(float));
            for (size_t a = 0; a < size[b]; a++) {
                numeric[a] = central(&r, &r.net[s].w[b][a], batch1, N1, 0.0);
                analytic[a] = c.st->net[s].g[b][a];
            }
            grad_check_block(c.st->params.block[s * SML_N_BLOCKS + b].name,
                             analytic, numeric, size[b], META_TOL, 1e-6);
            free(numeric);
            free(analytic);
        }
    sml_ref_close(&r);
    sml_case_close(&c);
}

/* dL/dw^ of step 3 (the input gradient through the transfer plus the L2
 * term) on the kept rows batch1 looks up. */
static void check_new_value_gradient(melon_sml_loss loss) {
    sml_case c;
    sml_case_open(&c, loss);
    sml_ref r;
    sml_ref_open(&r, c.st, &c.model);
    double l2 = c.st->cfg.l2;
    double got = sml_new_values_step(c.st, &c.model, batch1, N1, 1);
    assert_close(got, sml_ref_loss(&r, batch1, N1, 0.0), 1e-5);
    int d = c.st->dim, rows = 0;
    for (int s = 0; s < SML_SIDES; s++) {
        const sml_rows *w = &c.st->work[s];
        size_t size = (size_t)w->n * d;
        double *numeric = malloc(size * sizeof(double) + 1);
        float *analytic = malloc(size * sizeof(float) + 1);
        for (int32_t a = 0; a < w->n; a++) {
            int32_t at = c.st->kept[s].at[w->rows[a]];
            assert_true(at >= 0);
            for (int k = 0; k < d; k++) {
                numeric[a * d + k] = central(&r, &r.w_hat[s][at * d + k], batch1, N1, l2);
                analytic[a * d + k] = w->d_hat[a * d + k];
            }
        }
        rows += w->n;
        if (size == 0) {
            free(numeric);
            free(analytic);
            continue;
        }
        char name[32];
        snprintf(name, sizeof name, "side %d: dL/dw^", s);
        grad_check_block(name, analytic, numeric, size, META_TOL, 1e-6);
        free(numeric);
        free(analytic);
    }
    assert_true(rows >= 4); /* kept rows of both sides were checked */
    sml_ref_close(&r);
    sml_case_close(&c);
}

static void transfer_gradient_bpr(void **state) {
    (void)state;
    check_transfer_gradient(MELON_SML_BPR);
}

static void transfer_gradient_bce(void **state) {
    (void)state;
    check_transfer_gradient(MELON_SML_BCE);
}

static void new_value_gradient_bpr(void **state) {
    (void)state;
    check_new_value_gradient(MELON_SML_BPR);
}

static void new_value_gradient_bce(void **state) {
    (void)state;
    check_new_value_gradient(MELON_SML_BCE);
}

/* Spec C for SML: a transfer shared by all interactions of the batch. The
 * first update of a fresh strategy is reproduced in double from nothing
 * but each row's batch-mean gradient: the rows take f(w, w), the BPR
 * gradients at those values are averaged over the batch (the only place
 * the interactions enter), pulled back to w^ through the transfer, plus
 * the L2 term, one Adam step from zero moments (w^ - lr g / (|g| + eps)),
 * and deployed as f(w, w^'); the biases take the same Adam step on their
 * mean gradient. So every interaction touching a row reaches it through
 * the same map (one column per coordinate, rank one as for MetaSGD). */
static void update_uses_only_the_batch_mean_gradient(void **state) {
    (void)state;
    melon_model m;
    tiny_model(&m, "bpr", 0.6f, 13, BATCH);
    melon_config cfg;
    melon_config_default(&cfg);
    cfg.run.batch_size = BATCH;
    cfg.strategy.sml.hidden = TEST_HIDDEN;
    cfg.strategy.sml.l2 = 0.05f;
    melon_strategy s;
    melon_err err = {{0}};
    assert_int_equal(melon_config_create_strategy(&s, "sml", &m, &cfg, &err), 0);
    sml_state *st = s.impl;
    sml_ref r;
    sml_ref_open(&r, st, &m); /* nothing kept yet */
    melon_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.model = &m;
    assert_int_equal(s.ops->update(&s, &ctx, batch0, N0, &err), 0);
    int d = st->dim;
    /* the reference: transferred rows f(w, w) for every row batch0 uses */
    ref_params_copy(&r.work, &r.params);
    for (int side = 0; side < SML_SIDES; side++) {
        int k = st->tensor[side];
        for (int32_t row = 0; row < m.tensor[k].rows; row++)
            if (looks_up(&m.tensor[k], batch0, N0, row)) {
                const double *w = r.params.p[k] + (size_t)row * d;
                ref_transfer(&r.net[side], w, w, w, r.work.p[k] + (size_t)row * d);
            }
    }
    /* mean BPR gradient at those values, per row (closed form 1.2) */
    double *g[MELON_MAX_TENSORS];
    for (int k = 0; k < m.n_tensors; k++) g[k] = calloc(ref_tensor_size(&m.tensor[k]), sizeof(double));
    for (int x = 0; x < N0; x++) {
        const melon_triple *t = &batch0[x];
        double kappa = 1.0 / (1.0 + exp(ref_score(&r.work, t->user, t->item) -
                                        ref_score(&r.work, t->user, t->negative)));
        const double *P = r.work.p[0], *Q = r.work.p[1];
        for (int c = 0; c < d; c++) {
            g[0][(size_t)t->user * d + c] -= kappa * (Q[(size_t)t->item * d + c] - Q[(size_t)t->negative * d + c]) / N0;
            g[1][(size_t)t->item * d + c] -= kappa * P[(size_t)t->user * d + c] / N0;
            g[1][(size_t)t->negative * d + c] += kappa * P[(size_t)t->user * d + c] / N0;
        }
        g[3][t->item] -= kappa / N0;
        g[3][t->negative] += kappa / N0;
    }
    double lr = cfg.strategy.sml.lr, eps = cfg.optim.eps;
    int checked = 0;
    for (int side = 0; side < SML_SIDES; side++) {
        int k = st->tensor[side], b = st->bias[side];
        for (int32_t row = 0; row < m.tensor[k].rows; row++) {
            int looks = looks_up(&m.tensor[k], batch0, N0, row);
            if (!looks) continue;
            const double *w = r.params.p[k] + (size_t)row * d;
            double hat[64], grad_hat[64], out[64];
            memcpy(hat, w, (size_t)d * sizeof(double));
            /* J^T g: d <g_row, f(w, w^)> / dw^ by central differences */
            for (int c = 0; c < d; c++) {
                double up[64], down[64], saved = hat[c];
                hat[c] = saved + GRAD_FD_STEP;
                ref_transfer(&r.net[side], w, hat, w, up);
                hat[c] = saved - GRAD_FD_STEP;
                ref_transfer(&r.net[side], w, hat, w, down);
                hat[c] = saved;
                double acc = 0.0;
                for (int e = 0; e < d; e++)
                    acc += g[k][(size_t)row * d + e] * (up[e] - down[e]) / (2 * GRAD_FD_STEP);
                grad_hat[c] = acc + cfg.strategy.sml.l2 * (side == SML_USERS ? looks / 2 : looks) * w[c];
            }
            for (int c = 0; c < d; c++)
                hat[c] = w[c] - lr * grad_hat[c] / (fabs(grad_hat[c]) + eps);
            ref_transfer(&r.net[side], w, hat, hat, out);
            for (int c = 0; c < d; c++, checked++)
                assert_close(m.tensor[k].value[(size_t)row * d + c], out[c], 2e-5);
            double gb = g[b][row];
            double want_b = r.params.p[b][row] - lr * gb / (fabs(gb) + eps);
            assert_close(m.tensor[b].value[row], want_b, 2e-5);
        }
    }
    assert_true(checked > 30);
    for (int k = 0; k < m.n_tensors; k++) free(g[k]);
    sml_ref_close(&r);
    melon_strategy_free(&s);
    melon_model_free(&m);
}

/* A short run through the runner on BPR-MF (1,000 interactions, batch
 * 64, d 4, one epoch, `threads` threads); returns NDCG@10. */
static double short_run(const char *path, melon_config *cfg, int threads) {
    cfg->data.files = path;
    cfg->data.name = "test";
    cfg->run.batch_size = 64;
    cfg->run.epochs = 1;
    cfg->run.threads = threads;
    cfg->run.progress = 0;
    cfg->model.name = "bpr";
    cfg->model.dim = 4;
    cfg->run.strategy = "sml";
    cfg->strategy.sml.hidden = 64;
    return run_checked(cfg);
}

/* Runs, the same again for the same seed; every option runs. */
static void runs_and_options(void **state) {
    (void)state;
    const char *path = write_run_stream("sml_run.tsv");
    melon_config cfg;
    melon_config_default(&cfg);
    double first = short_run(path, &cfg, 2);
    melon_config_default(&cfg);
    assert_true(short_run(path, &cfg, 2) == first);
    for (int variant = 0; variant < 3; variant++) {
        melon_config_default(&cfg);
        if (variant == 0) cfg.strategy.sml.all_rows = 1;
        if (variant == 1) cfg.strategy.sml.loss = MELON_SML_BCE;
        if (variant == 2) cfg.strategy.sml.inner = 3;
        short_run(path, &cfg, 1);
    }
}

/* On NCF the strategy refuses, saying why, and so does the command. */
static void ncf_is_refused(void **state) {
    (void)state;
    melon_model m;
    tiny_model(&m, "ncf", 0.1f, 1, BATCH);
    melon_config cfg;
    melon_config_default(&cfg);
    cfg.run.batch_size = BATCH;
    melon_strategy s;
    melon_err err = {{0}};
    assert_int_equal(melon_config_create_strategy(&s, "sml", &m, &cfg, &err),
                     MELON_NOT_APPLICABLE);
    assert_non_null(strstr(err.msg, "bpr"));
    assert_non_null(strstr(err.msg, "N/A"));
    melon_model_free(&m);
    char args[4200], *out = NULL, *errout = NULL;
    snprintf(args, sizeof args, "run --data '%s' --model ncf --strategy sml",
             write_run_stream("sml_cli.tsv"));
    assert_int_equal(test_run_melon(args, &out, &errout), 3); /* n/a */
    assert_non_null(strstr(errout, "N/A"));
    free(out);
    free(errout);
}

/* The state file: a strategy loaded from it continues exactly as the saved
 * one (transfers, new values with their Adam, kept rows). */
static void save_and_load_round_trip(void **state) {
    (void)state;
    sml_case a;
    sml_case_open(&a, MELON_SML_BPR);
    melon_model m2;
    tiny_model(&m2, "bpr", 0.6f, 11, BATCH);
    melon_model_copy_values(&m2, &a.model);
    melon_config cfg = a.cfg;
    cfg.run.seed = 77;
    melon_strategy b;
    melon_err err = {{0}};
    assert_int_equal(melon_config_create_strategy(&b, "sml", &m2, &cfg, &err), 0);
    const char *path = test_tmp_path("sml.state");
    assert_int_equal(melon_strategy_save(&a.s, path, &err), 0);
    assert_int_equal(melon_strategy_load(&b, path, &err), 0);
    melon_context ctx2 = a.ctx;
    ctx2.model = &m2;
    for (int round = 0; round < 2; round++) {
        assert_int_equal(a.s.ops->meta_step(&a.s, &a.ctx, batch1, N1, &err), 0);
        assert_int_equal(a.s.ops->update(&a.s, &a.ctx, batch1, N1, &err), 0);
        assert_int_equal(b.ops->meta_step(&b, &ctx2, batch1, N1, &err), 0);
        assert_int_equal(b.ops->update(&b, &ctx2, batch1, N1, &err), 0);
    }
    for (int k = 0; k < m2.n_tensors; k++)
        assert_memory_equal(a.model.tensor[k].value, m2.tensor[k].value,
                            ref_tensor_size(&m2.tensor[k]) * sizeof(float));
    melon_strategy_free(&b);
    melon_model_free(&m2);
    sml_case_close(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transfer_gradient_bpr),
        cmocka_unit_test(transfer_gradient_bce),
        cmocka_unit_test(new_value_gradient_bpr),
        cmocka_unit_test(new_value_gradient_bce),
        cmocka_unit_test(update_uses_only_the_batch_mean_gradient),
        cmocka_unit_test(runs_and_options),
        cmocka_unit_test(ncf_is_refused),
        cmocka_unit_test(save_and_load_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
