/* The one finite-difference gradient checker of the tests: every
 * hand-written backward pass (model slots, meta-gradients of every
 * meta-learned strategy, attention) is compared with it, each at a
 * tolerance its test states.
 *
 * The numeric gradient is the central difference, step GRAD_FD_STEP, of a
 * loss recomputed in double by the test, independently of the code under
 * test. A block of the analytic gradient is correct at tolerance tol when
 *
 *     max_a |analytic_a - numeric_a| / (|numeric_a| + 1e-2 max_a |numeric_a|)
 *
 * stays under tol: relative on the large entries, a share of the block's
 * scale on the small ones (float kernels round at about 1e-6 of it). The
 * same measure must reject wrong gradients of every block checked. */
#ifndef MELON_TEST_GRAD_CHECK_H
#define MELON_TEST_GRAD_CHECK_H

#include <stddef.h>

#define GRAD_FD_STEP 1e-6

/* A loss of the parameters the test varies in place, in double. */
typedef double (*grad_loss_fn)(void *ctx);

/* (loss(x + h) - loss(x - h)) / 2h at the parameter *x, restored after. */
double grad_central(grad_loss_fn loss, void *ctx, double *x);

/* max |numeric| over n entries. */
double grad_scale(const double *numeric, size_t n);

/* The measure above. */
double grad_error(const float *analytic, const double *numeric, size_t n);

/* The same with the floor a share of `scale` instead of max |numeric|: for
 * a gradient that vanishes as the sum of parts of a known size (the two
 * columns of BPR-MF's user bias), that size. */
double grad_error_at(const float *analytic, const double *numeric, size_t n,
                     double scale);

/* One block: prints its error and scale, fails naming it when the error
 * reaches tol or when its scale is not above min_scale (a block of zeros
 * checks nothing), and then checks that the measure rejects at tol the
 * block with its largest entry off by 2% of the scale, with its sign
 * flipped, and scaled by 1.01 (on a copy). */
void grad_check_block(const char *name, const float *analytic,
                      const double *numeric, size_t n, double tol,
                      double min_scale);

/* The rejections of grad_check_block alone. */
void grad_assert_rejected(const char *name, const float *analytic,
                          const double *numeric, size_t n, double tol);

#endif
