/* Evaluation of one online batch (protocol.md section 4), with the model as
 * it stands before it sees the batch.
 *
 * Every interaction (u, i) of the batch is ranked against negatives: N items
 * sampled from those u never interacts with (the protocol's 99; with
 * `before` set, from those u has not interacted with up to the end of the
 * batch, which is all a live system can know), or, with
 * MELON_NEGATIVES_ALL, every item u has not interacted with up to the end
 * of the batch. The interactions of one user in the batch also form one
 * list, the user's distinct items of the batch (the targets) ranked
 * together against one set of negatives, for Recall. An interaction is a
 * repeat when its user interacted with its item before it. */
#ifndef MELON_EVALUATE_H
#define MELON_EVALUATE_H

#include "melon/history.h"
#include "melon/metrics.h"
#include "melon/model.h"
#include "melon/negatives.h"
#include "melon/stream.h"

#include <stdint.h>
#include <stdio.h>

#define MELON_NEGATIVES_ALL 0

typedef struct {
    int negatives;            /* sampled per interaction, or _ALL */
    int before;               /* sampled from the items the user has not
                                 interacted with up to the end of the batch
                                 (0: anywhere in the stream; set by the
                                 caller after init) */
    size_t capacity;          /* interactions per batch */
    int32_t n_users;
    int32_t n_items;
    /* sampled negatives and the pairs scored: [capacity * (negatives + 1)],
     * row r = the positive, then its negatives */
    int32_t *negative_items;  /* [capacity * negatives] */
    int32_t *pair_users;
    int32_t *pair_items;
    float *pair_scores;
    /* every item: a row of scores per user of the batch */
    size_t rows_per_call;
    float *item_scores;       /* [rows_per_call * n_items] */
    uint32_t *mark;           /* [n_items] == tag: not a negative */
    uint32_t tag;
    float *negative_scores;   /* [n_items] */
    /* the users' lists of the batch */
    int32_t *list_of_user;    /* [n_users] list of a user, -1 outside */
    int32_t user_room;        /* entries list_of_user has room for */
    int32_t *list_user;       /* [capacity] user of list l */
    int32_t *list_head;       /* [capacity] first interaction of list l */
    int32_t *list_tail;       /* [capacity] last interaction of list l */
    int32_t *next_in_list;    /* [capacity] next interaction of its user */
    int *scratch_ranks;       /* [capacity] */
    /* per interaction r of the last batch */
    size_t n;
    size_t n_lists;
    int32_t *list;            /* [capacity] its user's list */
    int32_t *rank;            /* [capacity] rank against its negatives */
    int32_t *n_negatives;     /* [capacity] how many negatives */
    int32_t *list_rank;       /* [capacity] rank in its user's list when
                                 it is a target, else 0 (its item occurred
                                 earlier in the batch) */
    uint8_t *repeat;          /* [capacity] */
    uint32_t *user_before;    /* [capacity] the user's interactions before
                                 the batch */
    float *positive_score;    /* [capacity] */
} melon_evaluator;

/* negatives: N >= 1 sampled (N < n_items), or MELON_NEGATIVES_ALL;
 * capacity: the largest batch. */
int melon_evaluator_init(melon_evaluator *ev, int negatives, size_t capacity,
                         int32_t n_users, int32_t n_items, melon_err *err);
void melon_evaluator_free(melon_evaluator *ev);
/* Room for more users and items (a live stream's ids grow). */
int melon_evaluator_grow(melon_evaluator *ev, int32_t n_users,
                         int32_t n_items, melon_err *err);

/* Ranks positions [begin, end) of the stream, online batch `batch`, with
 * the model as it stands. pairs: the whole stream's pair index; history:
 * holds at least the positions before begin. Sampled negatives depend on
 * (seed, batch, the users) only. */
int melon_evaluate_batch(melon_evaluator *ev, melon_model *model,
                         const melon_stream *stream,
                         const melon_pair_index *pairs,
                         const melon_history *history, uint64_t seed,
                         size_t batch, size_t begin, size_t end,
                         melon_err *err);

/* Where the last batch's ranks are summed (any may be NULL). */
typedef struct {
    melon_metric_sums *all;
    melon_metric_sums *seen_users;    /* users with interactions before */
    melon_metric_sums *new_users;     /* users without */
    melon_metric_sums *repeat_pairs;  /* the user had the item before */
    melon_metric_sums *new_pairs;
} melon_metric_targets;

/* Adds the last batch: every interaction's rank, and every list's Recall
 * (over all its targets; in the pair groups over its repeat or its new
 * targets alone). */
void melon_evaluation_add(const melon_evaluator *ev,
                          const melon_metric_targets *to);

/* One CSV row per interaction of the last batch:
 * batch,user,item,rank,user_interactions_before,repeat,negatives */
void melon_evaluation_write_ranks(const melon_evaluator *ev, FILE *f,
                                  const melon_stream *stream, size_t batch,
                                  size_t begin);

#endif
