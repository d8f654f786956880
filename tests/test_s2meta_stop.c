/* S2Meta's stop controller (src/update/s2meta_stop.c):
 *   - the gradient of the REINFORCE surrogate J = sum_k A_k (-log(1 - s_k))
 *     against central differences, for every parameter block, through
 *     several steps (back-propagation through time) and for a run cut
 *     short (the stopping step's s is not in J);
 *   - a corrupted gradient fails the same check;
 *   - the cell's first step against a hand computation with 1 tensor;
 *   - the initialisation. */
#include "support/test_support.h"

#include "update/s2meta/s2meta_stop.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STEPS 6

typedef struct {
    double norms[STEPS][4];
    double loss[STEPS];
    double advantage[STEPS];
} trajectory;

static void make_trajectory(trajectory *t, int n_tensors, melon_rng *rng) {
    for (int k = 0; k < STEPS; k++) {
        for (int a = 0; a < n_tensors; a++)
            t->norms[k][a] = exp(-8.0 * melon_rng_uniform(rng)); /* 3e-4 .. 1 */
        t->loss[k] = 0.2 + 0.6 * melon_rng_uniform(rng);
        t->advantage[k] = melon_rng_uniform(rng) - 0.3;
    }
    t->norms[2][0] = 1e-6; /* below e^-10 after rho1: the constant branch */
}

/* J over the first n steps of a run of `steps` cell steps. */
static double surrogate(s2meta_stop_run *r, const float *p, const trajectory *t,
                        int steps, int n) {
    s2meta_stop_begin(r, p);
    for (int k = 0; k < steps; k++) s2meta_stop_step(r, p, t->norms[k], t->loss[k]);
    double J = 0.0;
    for (int k = 0; k < n; k++) J += t->advantage[k] * -log(1.0 - r->s[k]);
    return J;
}

/* Largest error of the analytic gradient (corrupt >= 0: that entry moved by
 * 5% of the largest numeric entry first). */
static double check(int n_tensors, int steps, int n, long corrupt) {
    s2meta_stop_layout l;
    s2meta_stop_layout_make(&l, n_tensors);
    float *p = malloc(l.size * sizeof(float));
    float *grad = calloc(l.size, sizeof(float));
    double *numeric = malloc(l.size * sizeof(double));
    assert_non_null(p);
    assert_non_null(grad);
    assert_non_null(numeric);
    melon_rng rng;
    melon_rng_seed(&rng, 5);
    s2meta_stop_init(&l, p, &rng);
    p[l.b_out] = 0.3f; /* away from its initial 0, so the check sees it */
    trajectory t;
    make_trajectory(&t, n_tensors, &rng);
    s2meta_stop_run r;
    melon_err err = {{0}};
    assert_int_equal(s2meta_stop_run_init(&r, &l, STEPS, &err), 0);
    surrogate(&r, p, &t, steps, n);
    s2meta_stop_backward(&r, p, t.advantage, n, grad);
    for (size_t a = 0; a < l.size; a++) {
        float keep = p[a];
        float up = keep + 1e-3f, down = keep - 1e-3f;
        p[a] = up;
        double j_up = surrogate(&r, p, &t, steps, n);
        p[a] = down;
        double j_down = surrogate(&r, p, &t, steps, n);
        p[a] = keep;
        numeric[a] = (j_up - j_down) / ((double)up - (double)down);
    }
    double scale = 0.0;
    for (size_t a = 0; a < l.size; a++) scale = fmax(scale, fabs(numeric[a]));
    if (corrupt >= 0) grad[corrupt] += (float)(0.05 * scale);
    double worst = 0.0;
    for (size_t a = 0; a < l.size; a++)
        worst = fmax(worst, fabs(grad[a] - numeric[a]) / (fabs(numeric[a]) + 1e-2 * scale));
    /* every block gets a gradient (a check of zeros checks nothing) */
    const size_t starts[] = {l.w_ih, l.w_hh, l.b_ih, l.b_hh, l.w_out, l.b_out, l.h0, l.c0};
    const size_t ends[] = {l.w_hh, l.b_ih, l.b_hh, l.w_out, l.b_out, l.h0, l.c0, l.size};
    for (int b = 0; b < 8; b++) {
        double block = 0.0;
        for (size_t a = starts[b]; a < ends[b]; a++) block = fmax(block, fabs(numeric[a]));
        assert_true(block > 1e-4 * scale);
    }
    s2meta_stop_run_free(&r);
    free(p);
    free(grad);
    free(numeric);
    return worst;
}

static void gradient_through_every_step(void **state) {
    (void)state;
    double bpr = check(4, STEPS, STEPS, -1), one = check(1, 3, 3, -1);
    print_message("error %.2e (4 tensors, %d steps), %.2e (1 tensor, 3 steps)\n",
                  bpr, STEPS, one);
    assert_true(bpr < 1e-4);
    assert_true(one < 1e-4);
}

static void stopping_step_is_not_in_the_surrogate(void **state) {
    (void)state;
    /* 5 cell steps, the 5th said stop: J holds the first 4 */
    double err = check(4, 5, 4, -1);
    print_message("error %.2e\n", err);
    assert_true(err < 1e-4);
}

static void corrupted_gradient_fails(void **state) {
    (void)state;
    s2meta_stop_layout l;
    s2meta_stop_layout_make(&l, 4);
    assert_true(check(4, STEPS, STEPS, (long)l.w_hh + 7) > 1e-2);
    assert_true(check(4, STEPS, STEPS, (long)l.c0 + 1) > 1e-2);
}

static void first_step_by_hand(void **state) {
    (void)state;
    s2meta_stop_layout l;
    s2meta_stop_layout_make(&l, 1); /* 2 inputs, H = 4 */
    assert_int_equal(l.inputs, 2);
    assert_int_equal(l.hidden, 4);
    float *p = calloc(l.size, sizeof(float));
    assert_non_null(p);
    /* every gate pre-activation is 0.5 x0 + 0.25 h0 + 0.1 (b_ih) */
    for (int j = 0; j < 16; j++) {
        p[l.w_ih + (size_t)j * 2] = 0.5f;
        p[l.w_hh + (size_t)j * 4] = 0.25f;
        p[l.b_ih + j] = 0.1f;
    }
    for (int a = 0; a < 4; a++) {
        p[l.h0 + a] = 1.0f;
        p[l.c0 + a] = 2.0f;
        p[l.w_out + a] = 1.0f;
    }
    s2meta_stop_run r;
    melon_err err = {{0}};
    assert_int_equal(s2meta_stop_run_init(&r, &l, 2, &err), 0);
    s2meta_stop_begin(&r, p);
    double norm = exp(-5.0); /* rho1 = -0.5 */
    double s = s2meta_stop_step(&r, p, &norm, 1e-7 /* below e^-10: -1 */);
    double z = 0.5 * -0.5 + 0.25 * 1.0 + 0.1;
    double sg = 1.0 / (1.0 + exp(-z)), th = tanh(z);
    double c = sg * 2.0 + sg * th, h = sg * tanh(c);
    assert_close(r.x[0], -0.5, 1e-12);
    assert_close(r.x[1], -1.0, 1e-12);
    assert_close(s, 1.0 / (1.0 + exp(-4.0 * h)), 1e-6);
    double second = s2meta_stop_step(&r, p, &norm, 0.5);
    assert_true(second == r.s[1] && second > 0.0 && second < 1.0);
    assert_int_equal(r.n, 2);
    s2meta_stop_run_free(&r);
    free(p);
}

static void initialisation(void **state) {
    (void)state;
    s2meta_stop_layout l;
    s2meta_stop_layout_make(&l, 11); /* NCF: 11 tensors, H = 24 */
    assert_int_equal(l.hidden, 24);
    float *p = malloc(l.size * sizeof(float));
    assert_non_null(p);
    melon_rng rng;
    melon_rng_seed(&rng, 1);
    s2meta_stop_init(&l, p, &rng);
    double bound = 1.0 / sqrt(24.0), sq = 0.0;
    for (size_t a = l.w_ih; a < l.b_out; a++) assert_true(fabs(p[a]) <= bound);
    assert_true(p[l.b_out] == 0.0f);
    for (int a = 0; a < 48; a++) sq += (double)p[l.h0 + a] * p[l.h0 + a];
    assert_true(sq / 48 > 0.4 && sq / 48 < 2.0); /* standard normal */
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradient_through_every_step),
        cmocka_unit_test(stopping_step_is_not_in_the_surrogate),
        cmocka_unit_test(corrupted_gradient_fails),
        cmocka_unit_test(first_step_by_hand),
        cmocka_unit_test(initialisation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
