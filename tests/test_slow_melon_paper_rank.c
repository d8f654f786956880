/* Theorem 3 / Lemma 2 of the MeLON paper on a real batch: for NCF on
 * ml-100k, after a short pre-training, the learning-rate matrix W of an
 * online batch restricted to the parameters every interaction touches (the
 * dense tower and output weights) has numerical rank > 1 for melon and
 * exactly rank 1 for melon-i (constant rows) and melon-p (constant
 * columns). Singular values come from LAPACK (OpenBLAS), an SVD of W in
 * double: at this stage MeLON's rates differ from pair to pair by parts
 * per million (the meta-model starts from N(0, 0.01^2) weights), which the
 * eigenvalues of W W^T (squared, noise ~1e-8 relative in sigma) would
 * barely resolve; the SVD's noise is ~1e-15. The rank counts singular
 * values above a relative threshold. Skips when the shared data is
 * absent. */
#include "test_support.h"

#include "update/melon_paper/melon_paper.h"
#include "eval/config.h"
#include "melon/history.h"
#include "melon/negatives.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK: singular values of a general matrix. */
void dgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n,
             double *a, const int *lda, double *s, double *u, const int *ldu,
             double *vt, const int *ldvt, double *work, const int *lwork,
             int *info);

#define PRETRAIN_BATCHES 12
#define RANK_THRESHOLD 1e-10  /* sigma_k / sigma_1 counted as non-zero */

typedef struct {
    const melon_model *m;
    size_t offset[MELON_MAX_TENSORS];  /* column offset of each dense tensor */
    size_t cols;                       /* dense coordinates */
    float *w;                          /* [n][cols] */
    long cells;
} dense_rates;

static void collect_rate(void *user, int triple, const char *tensor,
                         int32_t row, int col, float rate) {
    dense_rates *d = user;
    for (int k = 0; k < d->m->n_tensors; k++) {
        const melon_tensor *t = &d->m->tensor[k];
        if (t->kind != MELON_DENSE || strcmp(t->name, tensor) != 0) continue;
        d->w[(size_t)triple * d->cols + d->offset[k] + (size_t)row * t->cols + col] = rate;
        d->cells++;
    }
}

/* Singular values of W [n][cols], descending. Row-major W is the
 * column-major cols x n matrix W^T, which has the same singular values. */
static void singular_values(const float *w, int n, size_t cols, double *sigma) {
    double *a = malloc((size_t)n * cols * sizeof(double));
    assert_non_null(a);
    for (size_t k = 0; k < (size_t)n * cols; k++) a[k] = w[k];
    int m = (int)cols, lda = (int)cols, one = 1, lwork = -1, info = 0;
    double query, dummy;
    dgesvd_("N", "N", &m, &n, a, &lda, sigma, &dummy, &one, &dummy, &one,
            &query, &lwork, &info);
    assert_int_equal(info, 0);
    lwork = (int)query;
    double *work = malloc((size_t)lwork * sizeof(double));
    assert_non_null(work);
    dgesvd_("N", "N", &m, &n, a, &lda, sigma, &dummy, &one, &dummy, &one, work,
            &lwork, &info);
    assert_int_equal(info, 0);
    free(work);
    free(a);
}

static int numerical_rank(const double *sigma, int n) {
    int rank = 0;
    for (int k = 0; k < n; k++) rank += sigma[k] > RANK_THRESHOLD * sigma[0];
    return rank;
}

static int make_triples(const melon_stream *s, const melon_pair_index *pairs,
                        melon_rng *rng, size_t begin, size_t end,
                        melon_triple *out) {
    for (size_t p = begin; p < end; p++) {
        int32_t neg = melon_sample_train_negative(pairs, rng, s->user[p], end);
        assert_true(neg >= 0);
        out[p - begin] = (melon_triple){s->user[p], s->item[p], neg};
    }
    return (int)(end - begin);
}

static int rank_of(const char *strategy, const melon_stream *s, double *ratio) {
    melon_err err = {{0}};
    melon_config cfg;
    melon_config_default(&cfg);
    cfg.model.name = "ncf";
    melon_split split;
    assert_int_equal(melon_split_make(&split, s->n, cfg.run.batch_size,
                                      cfg.run.train_ratio, &err), 0);
    melon_pair_index pairs;
    melon_history history;
    melon_model model;
    melon_strategy strat;
    assert_int_equal(melon_pair_index_build(&pairs, s, &err), 0);
    assert_int_equal(melon_history_init(&history, s->n_users, s->n_items, &err), 0);
    size_t past_end = melon_batch_begin(&split, split.n_past);
    assert_int_equal(melon_history_append(&history, s, 0, past_end, &err), 0);
    assert_int_equal(melon_model_create(&model, "ncf", s->n_users, s->n_items,
                                        &cfg.model, 2 * cfg.run.batch_size, &err), 0);
    if (melon_config_create_strategy(&strat, strategy, &model, &cfg, &err) != 0)
        fail_msg("%s", err.msg);
    melon_rng rng;
    melon_rng_seed_stream(&rng, cfg.run.seed, 1);
    melon_triple *batch = malloc((size_t)cfg.run.batch_size * sizeof *batch);
    assert_non_null(batch);
    melon_context ctx = {&model, s, &history, &pairs, &rng,
                         MELON_PHASE_PRETRAIN, 0, 0, 0};
    /* a short pre-training: the last past batches, meta step and update */
    for (size_t b = split.n_past - PRETRAIN_BATCHES; b <= split.n_past; b++) {
        ctx.phase = b < split.n_past ? MELON_PHASE_PRETRAIN : MELON_PHASE_ONLINE;
        ctx.batch = b;
        ctx.begin = melon_batch_begin(&split, b);
        ctx.end = melon_batch_end(&split, s->n, b);
        int n = make_triples(s, &pairs, &rng, ctx.begin, ctx.end, batch);
        assert_int_equal(strat.ops->meta_step(&strat, &ctx, batch, n, &err), 0);
        dense_rates d = {&model, {0}, 0, NULL, 0};
        if (b == split.n_past) { /* the first online batch: record W */
            for (int k = 0; k < model.n_tensors; k++) {
                const melon_tensor *t = &model.tensor[k];
                if (t->kind != MELON_DENSE) continue;
                d.offset[k] = d.cols;
                d.cols += (size_t)t->rows * t->cols;
            }
            d.w = calloc((size_t)n * d.cols, sizeof(float));
            assert_non_null(d.w);
            melon_paper_set_rate_sink(&strat, collect_rate, &d);
        }
        assert_int_equal(strat.ops->update(&strat, &ctx, batch, n, &err), 0);
        if (b < split.n_past) continue;
        assert_int_equal(d.cells, (long)n * (long)d.cols); /* every pair */
        double *sigma = malloc((size_t)n * sizeof(double));
        singular_values(d.w, n, d.cols, sigma);
        int rank = numerical_rank(sigma, n);
        *ratio = sigma[1] / sigma[0];
        print_message("%-8s W is %d x %zu: sigma_1 %.4g, sigma_2/sigma_1 %.3g, "
                      "sigma_3/sigma_1 %.3g, rank %d\n",
                      strategy, n, d.cols, sigma[0], sigma[1] / sigma[0],
                      sigma[2] / sigma[0], rank);
        free(sigma);
        free(d.w);
        free(batch);
        melon_strategy_free(&strat);
        melon_model_free(&model);
        melon_history_free(&history);
        melon_pair_index_free(&pairs);
        return rank;
    }
    fail_msg("no online batch");
    return -1;
}

static void rank_of_w_on_a_real_ncf_batch(void **state) {
    (void)state;
    const char *path = test_shared_file_or_skip("ml-100k/u.data.gz");
    melon_load_options opt;
    melon_load_options_default(&opt);
    melon_stream s;
    melon_err err = {{0}};
    if (melon_stream_load(&s, &path, 1, &opt, &err) != 0) fail_msg("%s", err.msg);
    double ratio_full, ratio_i, ratio_p;
    int full = rank_of("melon", &s, &ratio_full);
    int only_i = rank_of("melon-i", &s, &ratio_i);
    int only_p = rank_of("melon-p", &s, &ratio_p);
    assert_true(full > 1);
    /* both sides far from the threshold */
    assert_true(ratio_full > 100 * RANK_THRESHOLD);
    assert_int_equal(only_i, 1);
    assert_int_equal(only_p, 1);
    assert_true(ratio_i < 1e-2 * RANK_THRESHOLD && ratio_p < 1e-2 * RANK_THRESHOLD);
    melon_stream_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rank_of_w_on_a_real_ncf_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
