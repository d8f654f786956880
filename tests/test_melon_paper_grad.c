/* Finite-difference checks of the paper-form MeLON meta-gradient (the exact
 * one-step hypergradient of update-strategies.md section 2 through Eq.
 * 13-8) for every meta-parameter block, on a tiny BPR-MF and a tiny NCF,
 * for melon, melon-i and melon-p and both aggregations: the strategy's
 * meta step leaves its gradient in the blocks; the numeric gradient is
 * taken by central differences of an independent double re-implementation
 * of the meta-loss (melon_paper_reference.h) on the same support and query
 * triples, through the one checker (grad_check.h), which also rejects a
 * deliberately wrong gradient of every block (one entry off, its sign
 * flipped, scaled by 1.01). */
#include "melon_paper_reference.h"

#include "grad_check.h"

#include <math.h>

#define PAPER_TOL 2e-3  /* the one checker's tolerance (float kernels vs
                           the double reference) */

static double meta_loss(void *ctx) { return ref_meta_loss(ctx); }

static void check_meta_gradient(const fixture_options *o) {
    paper_fixture f;
    fixture_init(&f, o);
    fixture_randomise_meta(&f, 0.5f, -0.5f, 99);
    paper_state *st = fixture_state(&f);
    paper_params *p = &st->params;
    melon_err err = {{0}};

    /* psi and Theta before the step (the step moves psi by Adam) */
    float *psi_before[MELON_MAX_META_BLOCKS];
    for (int k = 0; k < p->mp.n_blocks; k++) {
        size_t bytes = p->mp.block[k].size * sizeof(float);
        psi_before[k] = malloc(bytes);
        assert_non_null(psi_before[k]);
        memcpy(psi_before[k], p->mp.block[k].value, bytes);
    }
    float *theta_before[MELON_MAX_TENSORS];
    for (int k = 0; k < f.model.n_tensors; k++) {
        size_t bytes = (size_t)f.model.tensor[k].rows * f.model.tensor[k].cols * sizeof(float);
        theta_before[k] = malloc(bytes);
        assert_non_null(theta_before[k]);
        memcpy(theta_before[k], f.model.tensor[k].value, bytes);
    }

    if (f.strategy.ops->meta_step(&f.strategy, &f.ctx, f.batch, f.n, &err) != 0)
        fail_msg("%s", err.msg);

    float *analytic[MELON_MAX_META_BLOCKS];
    double *numeric[MELON_MAX_META_BLOCKS];
    for (int k = 0; k < p->mp.n_blocks; k++) {
        size_t size = p->mp.block[k].size;
        analytic[k] = malloc(size * sizeof(float));
        numeric[k] = malloc(size * sizeof(double));
        assert_non_null(analytic[k]);
        assert_non_null(numeric[k]);
        memcpy(analytic[k], p->mp.block[k].grad, size * sizeof(float));
        /* the step moved psi: the reference starts from the values used */
        assert_true(memcmp(psi_before[k], p->mp.block[k].value, size * sizeof(float)) != 0);
        memcpy(p->mp.block[k].value, psi_before[k], size * sizeof(float));
    }
    /* clean trial: Theta is exactly as before the meta step; the leaky
     * one changed some rows, and the reference starts from Theta_t */
    for (int k = 0; k < f.model.n_tensors; k++) {
        size_t bytes = (size_t)f.model.tensor[k].rows * f.model.tensor[k].cols * sizeof(float);
        if (o->leaky_trial)
            memcpy(f.model.tensor[k].value, theta_before[k], bytes);
        else
            assert_memory_equal(theta_before[k], f.model.tensor[k].value, bytes);
    }

    ref_paper ref;
    ref_init(&ref, &f.model, p, &f.history, f.ctx.begin, f.cfg.strategy.melon.leaky_slope,
             o->aggregation == MELON_AGG_MEAN, st->trial.support,
             st->trial.n_support, f.batch, f.n);
    ref.batch_inputs = !p->has_interaction && o->p_inputs == MELON_P_INPUTS_BATCH;
    ref.rate_scale = o->rate_scale > 0.0f ? o->rate_scale : 1.0;
    print_message("%s %s (role width %d, %d layers, %s%s%s%s): meta-loss %.6f\n",
                  o->model, o->strategy, o->role_width, o->role_layers,
                  o->aggregation == MELON_AGG_MEAN ? "mean" : "sum",
                  o->preprocess_theta ? ", rho(theta)" : "",
                  o->empty_history == MELON_EMPTY_SELF ? ", empty history: self" : "",
                  o->p_inputs == MELON_P_INPUTS_INTERACTION ? ", interaction inputs" : "",
                  ref_meta_loss(&ref));
    for (int k = 0; k < p->mp.n_blocks; k++) {
        for (size_t a = 0; a < p->mp.block[k].size; a++)
            numeric[k][a] = grad_central(meta_loss, &ref, &ref.psi[k][a]);
        grad_check_block(p->mp.block[k].name, analytic[k], numeric[k],
                         p->mp.block[k].size, PAPER_TOL, 1e-4);
    }

    ref_free(&ref);
    for (int k = 0; k < p->mp.n_blocks; k++) {
        free(analytic[k]);
        free(numeric[k]);
        free(psi_before[k]);
    }
    for (int k = 0; k < f.model.n_tensors; k++) free(theta_before[k]);
    fixture_free(&f);
}

static fixture_options options(const char *model, const char *strategy,
                               int role_width, int role_layers,
                               melon_aggregation agg) {
    return (fixture_options){model,  strategy, role_width, role_layers, 3, 3,
                             agg,    -0.5f,    0.5f,       0,           0,
                             MELON_EMPTY_ZERO, MELON_P_INPUTS_BATCH, 0.0f};
}

/* Role width 8 runs the kernels compiled for that width, 5 the generic
 * ones (and a width that is not a multiple of 4). */
static void bpr_melon(void **state) {
    (void)state;
    fixture_options o = options("bpr", "melon", 8, 2, MELON_AGG_MEAN);
    check_meta_gradient(&o);
}

static void bpr_melon_sum_generic_width(void **state) {
    (void)state;
    fixture_options o = options("bpr", "melon", 5, 3, MELON_AGG_SUM);
    check_meta_gradient(&o);
}

static void ncf_melon(void **state) {
    (void)state;
    fixture_options o = options("ncf", "melon", 8, 2, MELON_AGG_MEAN);
    check_meta_gradient(&o);
}

static void ncf_melon_sum_generic_width(void **state) {
    (void)state;
    fixture_options o = options("ncf", "melon", 5, 3, MELON_AGG_SUM);
    check_meta_gradient(&o);
}

/* --melon-rate-scale: every rate of Eq. 13 times s */
static void bpr_melon_rate_scale(void **state) {
    (void)state;
    fixture_options o = options("bpr", "melon", 8, 2, MELON_AGG_MEAN);
    o.rate_scale = 0.5f;
    check_meta_gradient(&o);
}

static void bpr_melon_i(void **state) {
    (void)state;
    fixture_options o = options("bpr", "melon-i", 8, 2, MELON_AGG_MEAN);
    check_meta_gradient(&o);
}

static void ncf_melon_i(void **state) {
    (void)state;
    fixture_options o = options("ncf", "melon-i", 8, 2, MELON_AGG_SUM);
    check_meta_gradient(&o);
}

static void bpr_melon_p(void **state) {
    (void)state;
    fixture_options o = options("bpr", "melon-p", 8, 2, MELON_AGG_MEAN);
    check_meta_gradient(&o);
}

static void ncf_melon_p(void **state) {
    (void)state;
    fixture_options o = options("ncf", "melon-p", 12, 2, MELON_AGG_MEAN);
    check_meta_gradient(&o);
}

/* The alternatives of the unpinned points (update-strategies.md D.7,
 * A.1, A.7): rho(theta) as the role input, a node without history
 * aggregating itself, melon-p with each interaction's own inputs. */
static void ncf_melon_unpinned_alternatives(void **state) {
    (void)state;
    fixture_options o = options("ncf", "melon", 20, 2, MELON_AGG_MEAN);
    o.preprocess_theta = 1;
    o.empty_history = MELON_EMPTY_SELF;
    check_meta_gradient(&o);
}

static void bpr_melon_p_interaction_inputs(void **state) {
    (void)state;
    fixture_options o = options("bpr", "melon-p", 8, 2, MELON_AGG_MEAN);
    o.p_inputs = MELON_P_INPUTS_INTERACTION;
    o.preprocess_theta = 1;
    check_meta_gradient(&o);
}

/* The backward without the trial pass's cache (the leaky trial computes
 * every support row; a role MLP wider than 32 keeps no signs), and a
 * one-layer role MLP, whose top layer reads the inputs directly. */
static void ncf_melon_uncached_leaky(void **state) {
    (void)state;
    fixture_options o = options("ncf", "melon", 8, 2, MELON_AGG_MEAN);
    o.leaky_trial = 1;
    check_meta_gradient(&o);
}

static void bpr_melon_wide_role(void **state) {
    (void)state;
    fixture_options o = options("bpr", "melon", 40, 2, MELON_AGG_MEAN);
    check_meta_gradient(&o);
}

static void ncf_melon_one_role_layer(void **state) {
    (void)state;
    fixture_options o = options("ncf", "melon", 12, 1, MELON_AGG_SUM);
    check_meta_gradient(&o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bpr_melon),
        cmocka_unit_test(bpr_melon_sum_generic_width),
        cmocka_unit_test(ncf_melon),
        cmocka_unit_test(ncf_melon_sum_generic_width),
        cmocka_unit_test(bpr_melon_rate_scale),
        cmocka_unit_test(bpr_melon_i),
        cmocka_unit_test(ncf_melon_i),
        cmocka_unit_test(bpr_melon_p),
        cmocka_unit_test(ncf_melon_p),
        cmocka_unit_test(ncf_melon_unpinned_alternatives),
        cmocka_unit_test(bpr_melon_p_interaction_inputs),
        cmocka_unit_test(ncf_melon_uncached_leaky),
        cmocka_unit_test(bpr_melon_wide_role),
        cmocka_unit_test(ncf_melon_one_role_layer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
