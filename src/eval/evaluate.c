/* Evaluation of one online batch (protocol.md section 4 and the project's
 * additions in its section 4.1): ranks against sampled negatives or every
 * item, the users' lists for Recall, repeat and new pairs. */
#include "melon/evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Scores held at once in full ranking: 2^24 floats (64 MB). */
#define MAX_ITEM_SCORES ((size_t)1 << 24)

/* list_rank before the ranks are known: the interaction is a target. */
#define TARGET (-1)

void melon_evaluator_free(melon_evaluator *ev) {
    free(ev->negative_items);
    free(ev->pair_users);
    free(ev->pair_items);
    free(ev->pair_scores);
    free(ev->item_scores);
    free(ev->mark);
    free(ev->negative_scores);
    free(ev->list_of_user);
    free(ev->list_user);
    free(ev->list_head);
    free(ev->list_tail);
    free(ev->next_in_list);
    free(ev->scratch_ranks);
    free(ev->list);
    free(ev->rank);
    free(ev->n_negatives);
    free(ev->list_rank);
    free(ev->repeat);
    free(ev->user_before);
    free(ev->positive_score);
    memset(ev, 0, sizeof *ev);
}

int melon_evaluator_init(melon_evaluator *ev, int negatives, size_t capacity,
                         int32_t n_users, int32_t n_items, melon_err *err) {
    memset(ev, 0, sizeof *ev);
    if (n_users < 1 || n_items < 1)
        return melon_fail(err, "evaluation: needs at least one user and one "
                               "item (got %d users, %d items)",
                          (int)n_users, (int)n_items);
    if (negatives < 0 ||
        (negatives != MELON_NEGATIVES_ALL && negatives >= n_items))
        return melon_fail(err, "evaluation: %d negatives per interaction "
                               "need more than %d items; the stream has %d",
                          negatives, negatives, (int)n_items);
    size_t cap = capacity ? capacity : 1;
    ev->negatives = negatives;
    ev->capacity = cap;
    ev->n_users = n_users;
    ev->n_items = n_items;
    ev->list_of_user = melon_alloc((size_t)n_users * sizeof(int32_t), err);
    ev->user_room = n_users;
    ev->list_user = melon_alloc(cap * sizeof(int32_t), err);
    ev->list_head = melon_alloc(cap * sizeof(int32_t), err);
    ev->list_tail = melon_alloc(cap * sizeof(int32_t), err);
    ev->next_in_list = melon_alloc(cap * sizeof(int32_t), err);
    ev->scratch_ranks = melon_alloc(cap * sizeof(int), err);
    ev->list = melon_alloc(cap * sizeof(int32_t), err);
    ev->rank = melon_alloc(cap * sizeof(int32_t), err);
    ev->n_negatives = melon_alloc(cap * sizeof(int32_t), err);
    ev->list_rank = melon_alloc(cap * sizeof(int32_t), err);
    ev->repeat = melon_alloc(cap, err);
    ev->user_before = melon_alloc(cap * sizeof(uint32_t), err);
    ev->positive_score = melon_alloc(cap * sizeof(float), err);
    if (!ev->list_of_user || !ev->list_user || !ev->list_head ||
        !ev->list_tail || !ev->next_in_list || !ev->scratch_ranks ||
        !ev->list || !ev->rank || !ev->n_negatives || !ev->list_rank ||
        !ev->repeat || !ev->user_before || !ev->positive_score)
        goto fail;
    for (int32_t u = 0; u < n_users; u++) ev->list_of_user[u] = -1;
    if (negatives == MELON_NEGATIVES_ALL) {
        size_t rows = MAX_ITEM_SCORES / (size_t)n_items;
        ev->rows_per_call = rows < 1 ? 1 : rows > cap ? cap : rows;
        ev->item_scores = melon_alloc(
            ev->rows_per_call * (size_t)n_items * sizeof(float), err);
        ev->mark = melon_calloc((size_t)n_items, sizeof(uint32_t), err);
        ev->negative_scores = melon_alloc((size_t)n_items * sizeof(float), err);
        if (!ev->item_scores || !ev->mark || !ev->negative_scores) goto fail;
    } else {
        size_t width = (size_t)negatives + 1;
        ev->negative_items =
            melon_alloc(cap * (size_t)negatives * sizeof(int32_t), err);
        ev->pair_users = melon_alloc(cap * width * sizeof(int32_t), err);
        ev->pair_items = melon_alloc(cap * width * sizeof(int32_t), err);
        ev->pair_scores = melon_alloc(cap * width * sizeof(float), err);
        if (!ev->negative_items || !ev->pair_users || !ev->pair_items ||
            !ev->pair_scores)
            goto fail;
    }
    return 0;
fail:
    melon_evaluator_free(ev);
    return -1;
}

int melon_evaluator_grow(melon_evaluator *ev, int32_t n_users,
                         int32_t n_items, melon_err *err) {
    if (n_users > ev->user_room) { /* room doubles: amortised growth */
        size_t room = 2 * (size_t)n_users;
        if (room > INT32_MAX) room = INT32_MAX;
        int32_t *lists = realloc(ev->list_of_user, room * sizeof *lists);
        if (!lists) return melon_fail(err, "evaluation: out of memory for %d users", n_users);
        ev->list_of_user = lists;
        ev->user_room = (int32_t)room;
    }
    if (n_users > ev->n_users) {
        for (int32_t u = ev->n_users; u < n_users; u++) ev->list_of_user[u] = -1;
        ev->n_users = n_users;
    }
    if (n_items <= ev->n_items) return 0;
    if (ev->negatives == MELON_NEGATIVES_ALL) {
        size_t rows = MAX_ITEM_SCORES / (size_t)n_items;
        rows = rows < 1 ? 1 : rows > ev->capacity ? ev->capacity : rows;
        float *item_scores = realloc(ev->item_scores,
                                     rows * (size_t)n_items * sizeof(float));
        if (item_scores) ev->item_scores = item_scores;
        uint32_t *mark = realloc(ev->mark, (size_t)n_items * sizeof *mark);
        if (mark) ev->mark = mark;
        float *negative_scores = realloc(ev->negative_scores,
                                         (size_t)n_items * sizeof(float));
        if (negative_scores) ev->negative_scores = negative_scores;
        if (!item_scores || !mark || !negative_scores)
            return melon_fail(err, "evaluation: out of memory for %d items", n_items);
        memset(mark + ev->n_items, 0, (size_t)(n_items - ev->n_items) * sizeof *mark);
        ev->rows_per_call = rows;
    }
    ev->n_items = n_items;
    return 0;
}

/* Groups the batch's interactions by user, and marks which are repeats and
 * which are targets (the first of their user with their item in the
 * batch). */
static void make_lists(melon_evaluator *ev, const melon_stream *stream,
                       const melon_pair_index *pairs,
                       const melon_history *history, size_t begin) {
    ev->n_lists = 0;
    for (size_t r = 0; r < ev->n; r++) {
        size_t p = begin + r;
        int32_t user = stream->user[p], item = stream->item[p];
        int32_t l = ev->list_of_user[user];
        if (l < 0) {
            l = (int32_t)ev->n_lists++;
            ev->list_of_user[user] = l;
            ev->list_user[l] = user;
            ev->list_head[l] = (int32_t)r;
        } else {
            ev->next_in_list[ev->list_tail[l]] = (int32_t)r;
        }
        ev->list_tail[l] = (int32_t)r;
        ev->next_in_list[r] = -1;
        ev->list[r] = l;
        uint32_t first = melon_pair_first(pairs, user, item);
        ev->repeat[r] = first < p;
        ev->user_before[r] =
            melon_history_count_before(&history->user_items[user], begin);
        /* its first occurrence is p, or before the batch: then look for
         * the item earlier in the user's list */
        int target = first >= begin ? first == p : 1;
        if (first < begin)
            for (int32_t q = ev->list_head[l]; q != (int32_t)r;
                 q = ev->next_in_list[q])
                if (stream->item[begin + (size_t)q] == item) {
                    target = 0;
                    break;
                }
        ev->list_rank[r] = target ? TARGET : 0;
    }
    for (size_t l = 0; l < ev->n_lists; l++)
        ev->list_of_user[ev->list_user[l]] = -1;
}

/* The rank of each target of list l in the user's list: its rank against
 * the list's negatives plus the other targets scoring at least as high
 * (ties and NaN count against it, as in melon_rank). own_rank: whether
 * ev->rank of every interaction of the list is against these negatives,
 * else only the list's first interaction's is. */
static void rank_list(melon_evaluator *ev, size_t l, const float *negatives,
                      size_t n_negatives, int own_rank) {
    const float *score = ev->positive_score;
    int32_t head = ev->list_head[l];
    for (int32_t r = head; r >= 0; r = ev->next_in_list[r]) {
        if (ev->list_rank[r] == 0) continue;
        float s = score[r];
        int rank = own_rank || r == head
                       ? ev->rank[r]
                       : melon_rank(s, negatives, n_negatives);
        for (int32_t q = head; q >= 0; q = ev->next_in_list[q])
            if (q != r && ev->list_rank[q] != 0 &&
                (isnan(s) || score[q] >= s || isnan(score[q])))
                rank++;
        ev->list_rank[r] = rank;
    }
}

static int evaluate_sampled(melon_evaluator *ev, melon_model *model,
                            const melon_stream *stream,
                            const melon_pair_index *pairs, uint64_t seed,
                            size_t batch, size_t begin, melon_err *err) {
    size_t n = ev->n, n_neg = (size_t)ev->negatives, width = n_neg + 1;
    size_t end = ev->before ? begin + n : SIZE_MAX;
    if (melon_sample_eval_negatives_before(pairs, seed, batch,
                                           stream->user + begin, n,
                                           ev->negatives, end,
                                           ev->negative_items, err) != 0)
        return -1;
    for (size_t r = 0; r < n; r++) {
        int32_t *users = ev->pair_users + r * width;
        int32_t *items = ev->pair_items + r * width;
        for (size_t k = 0; k < width; k++) users[k] = stream->user[begin + r];
        items[0] = stream->item[begin + r];
        memcpy(items + 1, ev->negative_items + r * n_neg,
               n_neg * sizeof(int32_t));
    }
    model->ops->score(model, ev->pair_users, ev->pair_items, n * width,
                      ev->pair_scores);
    for (size_t r = 0; r < n; r++) {
        const float *row = ev->pair_scores + r * width;
        ev->positive_score[r] = row[0];
        ev->rank[r] = melon_rank(row[0], row + 1, n_neg);
        ev->n_negatives[r] = (int32_t)n_neg;
    }
    /* a list is ranked against the negatives of its first interaction */
    for (size_t l = 0; l < ev->n_lists; l++)
        rank_list(ev, l, ev->pair_scores + (size_t)ev->list_head[l] * width + 1,
                  n_neg, 0);
    return 0;
}

/* The scores of list l's negatives out of its row of item scores: every
 * item but those its user interacted with before the batch or in it. */
static size_t collect_negatives(melon_evaluator *ev, size_t l,
                                const float *row, const melon_stream *stream,
                                const melon_history *history, size_t begin) {
    if (++ev->tag == 0) { /* wrapped: clear the old marks */
        memset(ev->mark, 0, (size_t)ev->n_items * sizeof *ev->mark);
        ev->tag = 1;
    }
    const melon_adjacency *past = &history->user_items[ev->list_user[l]];
    uint32_t n_past = melon_history_count_before(past, begin);
    for (uint32_t a = 0; a < n_past; a++) ev->mark[past->other[a]] = ev->tag;
    for (int32_t r = ev->list_head[l]; r >= 0; r = ev->next_in_list[r])
        ev->mark[stream->item[begin + (size_t)r]] = ev->tag;
    size_t n_neg = 0;
    for (int32_t j = 0; j < ev->n_items; j++)
        if (ev->mark[j] != ev->tag) ev->negative_scores[n_neg++] = row[j];
    return n_neg;
}

static void evaluate_all_items(melon_evaluator *ev, melon_model *model,
                               const melon_stream *stream,
                               const melon_history *history, size_t begin) {
    size_t n_items = (size_t)ev->n_items;
    for (size_t l0 = 0; l0 < ev->n_lists; l0 += ev->rows_per_call) {
        size_t rows = ev->n_lists - l0 < ev->rows_per_call
                          ? ev->n_lists - l0
                          : ev->rows_per_call;
        model->ops->score_items(model, ev->list_user + l0, rows,
                                ev->item_scores);
        for (size_t l = l0; l < l0 + rows; l++) {
            const float *row = ev->item_scores + (l - l0) * n_items;
            size_t n_neg = collect_negatives(ev, l, row, stream, history, begin);
            for (int32_t r = ev->list_head[l]; r >= 0; r = ev->next_in_list[r]) {
                float s = row[stream->item[begin + (size_t)r]];
                ev->positive_score[r] = s;
                ev->rank[r] = melon_rank(s, ev->negative_scores, n_neg);
                ev->n_negatives[r] = (int32_t)n_neg;
            }
            rank_list(ev, l, ev->negative_scores, n_neg, 1);
        }
    }
}

int melon_evaluate_batch(melon_evaluator *ev, melon_model *model,
                         const melon_stream *stream,
                         const melon_pair_index *pairs,
                         const melon_history *history, uint64_t seed,
                         size_t batch, size_t begin, size_t end,
                         melon_err *err) {
    ev->n = 0;
    ev->n_lists = 0;
    if (end < begin || end - begin > ev->capacity)
        return melon_fail(err, "evaluation: batch [%zu, %zu) exceeds the "
                               "capacity of %zu interactions",
                          begin, end, ev->capacity);
    ev->n = end - begin;
    make_lists(ev, stream, pairs, history, begin);
    if (ev->negatives != MELON_NEGATIVES_ALL)
        return evaluate_sampled(ev, model, stream, pairs, seed, batch, begin,
                                err);
    evaluate_all_items(ev, model, stream, history, begin);
    return 0;
}

static void add_rank(melon_metric_sums *s, int rank) {
    if (s) melon_metric_sums_add_rank(s, rank);
}

/* Recall of list l over its targets of one kind: kind 1 repeat, 0 new,
 * -1 both. */
static void add_list(const melon_evaluator *ev, size_t l, int kind,
                     melon_metric_sums *s) {
    if (!s) return;
    size_t n = 0;
    for (int32_t r = ev->list_head[l]; r >= 0; r = ev->next_in_list[r])
        if (ev->list_rank[r] > 0 && (kind < 0 || ev->repeat[r] == kind))
            ev->scratch_ranks[n++] = ev->list_rank[r];
    melon_metric_sums_add_list(s, ev->scratch_ranks, n);
}

void melon_evaluation_add(const melon_evaluator *ev,
                          const melon_metric_targets *to) {
    for (size_t r = 0; r < ev->n; r++) {
        add_rank(to->all, ev->rank[r]);
        add_rank(ev->user_before[r] > 0 ? to->seen_users : to->new_users,
                 ev->rank[r]);
        add_rank(ev->repeat[r] ? to->repeat_pairs : to->new_pairs,
                 ev->rank[r]);
    }
    for (size_t l = 0; l < ev->n_lists; l++) {
        int32_t head = ev->list_head[l];
        add_list(ev, l, -1, to->all);
        add_list(ev, l, -1,
                 ev->user_before[head] > 0 ? to->seen_users : to->new_users);
        add_list(ev, l, 1, to->repeat_pairs);
        add_list(ev, l, 0, to->new_pairs);
    }
}

void melon_evaluation_write_ranks(const melon_evaluator *ev, FILE *f,
                                  const melon_stream *stream, size_t batch,
                                  size_t begin) {
    for (size_t r = 0; r < ev->n; r++) {
        size_t p = begin + r;
        fprintf(f, "%zu,%s,%s,%d,%u,%d,%d\n", batch,
                stream->user_name[stream->user[p]],
                stream->item_name[stream->item[p]], ev->rank[r],
                ev->user_before[r], ev->repeat[r], ev->n_negatives[r]);
    }
}
