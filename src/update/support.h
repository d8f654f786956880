/* The data of a meta step (update-strategies.md section 2): the support set
 * S_t, on which a meta-learned strategy makes its trial update, built from
 * the history of the users and items of the current batch B_t, whose own
 * triples are the query set Q_t. */
#ifndef MELON_SUPPORT_H
#define MELON_SUPPORT_H

#include "update/strategy.h"

/* For every interaction (u, i) of the batch, two triples (the "last batch"
 * of the reference): (u, i', j) with i' the item u interacted with most
 * recently before the batch (i itself if none), and (u', i, j') with u' the
 * user who most recently interacted with i before the batch (u if none);
 * j and j' are causal training negatives of u and u'. The same rule holds
 * in pre-training (the history is queried before the batch's begin), so the
 * support set never looks ahead. out must hold 2 * n triples; returns 0 or
 * -1 (no negative exists). */
int melon_support_last_batch(const melon_context *ctx,
                             const melon_triple *batch, int n,
                             melon_triple *out, melon_err *err);

#endif
