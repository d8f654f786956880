/* Evaluation of one batch against hand-computed ranks: sampled negatives
 * and every item, the users' lists (Recall), repeat and new pairs, seen
 * and new users; and full-ranking scores against the pairwise ones. */
#include "test_support.h"

#include "melon/evaluate.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Three users, six items. Positions:
 *   past   0 (0,0) 1 (0,1) 2 (1,2) 3 (1,3)
 *   batch  4 (0,4) 5 (0,0) 6 (0,4) 7 (1,5) 8 (1,2) 9 (2,1)
 *   later 10 (0,3) 11 (1,4)
 * Users never interact with: user 0 {2, 5}, user 1 {0, 1}, user 2
 * {0, 2, 3, 4, 5}. */
typedef struct {
    melon_stream stream;
    int32_t user[12];
    int32_t item[12];
    double time[12];
    melon_pair_index pairs;
    melon_history history;
    melon_model model;
} batch_case;

static char *user_names[3] = {"ann", "ben", "cat"};
static char *item_names[6] = {"i0", "i1", "i2", "i3", "i4", "i5"};

/* BPR-MF with d = 1 and no biases: s(u, i) = P_u Q_i, with P = (1, -1, 0)
 * and Q = (0.8, 0.1, 0.2, 0.7, 0.6, 0.2). User 0 scores items as Q, user 1
 * as -Q, user 2 gives every item 0. */
static void case_init(batch_case *c) {
    static const int32_t users[12] = {0, 0, 1, 1, 0, 0, 0, 1, 1, 2, 0, 1};
    static const int32_t items[12] = {0, 1, 2, 3, 4, 0, 4, 5, 2, 1, 3, 4};
    memset(c, 0, sizeof *c);
    memcpy(c->user, users, sizeof users);
    memcpy(c->item, items, sizeof items);
    for (int p = 0; p < 12; p++) c->time[p] = p;
    c->stream = (melon_stream){.n = 12, .n_users = 3, .n_items = 6,
                               .user = c->user, .item = c->item,
                               .time = c->time, .user_name = user_names,
                               .item_name = item_names};
    melon_err err;
    assert_int_equal(melon_pair_index_build(&c->pairs, &c->stream, &err), 0);
    assert_int_equal(melon_history_init(&c->history, 3, 6, &err), 0);
    assert_int_equal(melon_history_append(&c->history, &c->stream, 0, 4, &err),
                     0);
    melon_model_config cfg;
    melon_model_config_default(&cfg);
    cfg.dim = 1;
    assert_int_equal(melon_model_create(&c->model, "bpr", 3, 6, &cfg, 8, &err),
                     0);
    static const float P[3] = {1.0f, -1.0f, 0.0f};
    static const float Q[6] = {0.8f, 0.1f, 0.2f, 0.7f, 0.6f, 0.2f};
    memcpy(c->model.tensor[0].value, P, sizeof P);
    memcpy(c->model.tensor[1].value, Q, sizeof Q);
    memset(c->model.tensor[2].value, 0, 3 * sizeof(float));
    memset(c->model.tensor[3].value, 0, 6 * sizeof(float));
}

/* Evaluates the case's batch (positions 4..9, online batch 1) with
 * `negatives` and a capacity of 8; returns melon_evaluate_batch's status. */
static int evaluate_case(batch_case *c, melon_evaluator *ev, int negatives,
                         melon_err *err) {
    assert_int_equal(melon_evaluator_init(ev, negatives, 8, 3, 6, err), 0);
    return melon_evaluate_batch(ev, &c->model, &c->stream, &c->pairs,
                                &c->history, 7, 1, 4, 10, err);
}

static void case_free(batch_case *c) {
    melon_model_free(&c->model);
    melon_history_free(&c->history);
    melon_pair_index_free(&c->pairs);
}

static void assert_ints(const int32_t *got, const int32_t *want, size_t n) {
    for (size_t k = 0; k < n; k++) {
        if (got[k] != want[k])
            print_message("  interaction %zu: got %d, want %d\n", k, got[k],
                          want[k]);
        assert_int_equal(got[k], want[k]);
    }
}

/* The ranks, list ranks and negatives counts of the case's six
 * interactions. */
static void assert_ranks(const melon_evaluator *ev, const int32_t *rank,
                         const int32_t *list_rank, const int32_t *n_neg) {
    assert_ints(ev->rank, rank, 6);
    assert_ints(ev->list_rank, list_rank, 6);
    if (n_neg) assert_ints(ev->n_negatives, n_neg, 6);
}

/* What holds in both modes: lists, repeats, users' past. */
static void assert_batch_facts(const melon_evaluator *ev) {
    assert_int_equal(ev->n, 6);
    assert_int_equal(ev->n_lists, 3);
    static const uint8_t repeat[6] = {0, 1, 1, 0, 1, 0};
    static const uint32_t before[6] = {2, 2, 2, 2, 2, 0};
    static const int32_t list[6] = {0, 0, 0, 1, 1, 2};
    assert_memory_equal(ev->repeat, repeat, sizeof repeat);
    assert_memory_equal(ev->user_before, before, sizeof before);
    assert_ints(ev->list, list, 6);
}

/* Two sampled negatives: the two items users 0 and 1 never interact with
 * (user 2's draw does not matter: it scores everything 0).
 *   user 0 against {2, 5} = {0.2, 0.2}: 0.6 -> 1, 0.8 -> 1, 0.6 -> 1;
 *     list {4, 0}: item 4 has item 0 above it -> 2, item 0 -> 1, and
 *     position 6 repeats item 4 of the batch: not a target
 *   user 1 against {0, 1} = {-0.8, -0.1}: -0.2 -> 2 (twice); its targets
 *     5 and 2 tie at -0.2, and ties count against: 3 and 3
 *   user 2: five zeros tie with two negatives -> 3. */
static void sampled_ranks_by_hand(void **state) {
    (void)state;
    static batch_case c;
    case_init(&c);
    melon_evaluator ev;
    melon_err err;
    assert_int_equal(evaluate_case(&c, &ev, 2, &err), 0);
    assert_batch_facts(&ev);
    static const int32_t rank[6] = {1, 1, 1, 2, 2, 3};
    static const int32_t list_rank[6] = {2, 1, 0, 3, 3, 3};
    static const int32_t n_neg[6] = {2, 2, 2, 2, 2, 2};
    assert_ranks(&ev, rank, list_rank, n_neg);
    melon_evaluator_free(&ev);
    case_free(&c);
}

/* Every item the user has not interacted with up to the end of the batch
 * (items of later batches stay candidates):
 *   user 0: past {0, 1}, batch {4, 0} -> {2, 3, 5} = {0.2, 0.7, 0.2}:
 *     0.6 -> 2, 0.8 -> 1, 0.6 -> 2; list: item 4 -> 2 + 1 = 3, item 0 -> 1
 *   user 1: past {2, 3}, batch {5, 2} -> {0, 1, 4} = {-0.8, -0.1, -0.6}:
 *     -0.2 -> 2 twice; list 3, 3 (the tie)
 *   user 2: no past, batch {1} -> 5 negatives, all tied at 0 -> 6. */
static void all_item_ranks_by_hand(void **state) {
    (void)state;
    static batch_case c;
    case_init(&c);
    melon_evaluator ev;
    melon_err err;
    assert_int_equal(evaluate_case(&c, &ev, MELON_NEGATIVES_ALL, &err), 0);
    assert_batch_facts(&ev);
    static const int32_t rank[6] = {2, 1, 2, 2, 2, 6};
    static const int32_t list_rank[6] = {3, 1, 0, 3, 3, 6};
    static const int32_t n_neg[6] = {3, 3, 3, 3, 3, 5};
    assert_ranks(&ev, rank, list_rank, n_neg);

    /* The sums of the ranks above, by hand. */
    melon_metric_sums all, seen, fresh, repeat, new_pairs;
    melon_metric_sums *sums[5] = {&all, &seen, &fresh, &repeat, &new_pairs};
    for (int k = 0; k < 5; k++) melon_metric_sums_clear(sums[k]);
    const melon_metric_targets to = {&all, &seen, &fresh, &repeat, &new_pairs};
    melon_evaluation_add(&ev, &to);
    /* ranks 2 1 2 2 2 6: HR@5 5/6; MRR@5 (4 * 1/2 + 1) / 6, MRR@10 adds
     * 1/6; lists {3, 1}, {3, 3}, {6}: Recall@5 (1 + 1 + 0) / 3 */
    assert_int_equal(all.count, 6);
    assert_int_equal(all.lists, 3);
    assert_close(melon_metric_hr(&all, 0), 5.0 / 6, 1e-12);
    assert_close(melon_metric_mrr(&all, 0), 3.0 / 6, 1e-12);
    assert_close(melon_metric_mrr(&all, 1), (3.0 + 1.0 / 6) / 6, 1e-12);
    assert_close(melon_metric_ndcg(&all, 0), (4.0 / log2(3.0) + 1.0) / 6,
                 1e-12);
    assert_close(melon_metric_recall(&all, 0), 2.0 / 3, 1e-12);
    assert_close(melon_metric_recall(&all, 1), 1.0, 1e-12);
    /* users 0 and 1 had a past, user 2 none */
    assert_int_equal(seen.count, 5);
    assert_int_equal(seen.lists, 2);
    assert_int_equal(fresh.count, 1);
    assert_int_equal(fresh.lists, 1);
    assert_close(melon_metric_hr(&fresh, 0), 0.0, 0.0);
    assert_close(melon_metric_mrr(&fresh, 2), 1.0 / 6, 1e-12);
    assert_close(melon_metric_recall(&fresh, 1), 1.0, 0.0);
    /* repeats: positions 5, 6, 8 with ranks 1, 2, 2; their targets are
     * item 0 of user 0 (list rank 1) and item 2 of user 1 (3) */
    assert_int_equal(repeat.count, 3);
    assert_close(melon_metric_mrr(&repeat, 0), (1.0 + 0.5 + 0.5) / 3, 1e-12);
    assert_int_equal(repeat.lists, 2);
    assert_close(melon_metric_recall(&repeat, 0), 1.0, 0.0);
    /* new pairs: positions 4, 7, 9 with ranks 2, 2, 6; targets item 4 of
     * user 0 (3), item 5 of user 1 (3), item 1 of user 2 (6) */
    assert_int_equal(new_pairs.count, 3);
    assert_close(melon_metric_hr(&new_pairs, 0), 2.0 / 3, 1e-12);
    assert_int_equal(new_pairs.lists, 3);
    assert_close(melon_metric_recall(&new_pairs, 0), 2.0 / 3, 1e-12);
    assert_close(melon_metric_recall(&new_pairs, 1), 1.0, 0.0);

    /* one CSV row per interaction */
    const char *path = test_tmp_path("ranks.csv");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    melon_evaluation_write_ranks(&ev, f, &c.stream, 1, 4);
    fclose(f);
    char *text = test_read_file(path);
    assert_string_equal(text, "1,ann,i4,2,2,0,3\n"
                              "1,ann,i0,1,2,1,3\n"
                              "1,ann,i4,2,2,1,3\n"
                              "1,ben,i5,2,2,0,3\n"
                              "1,ben,i2,2,2,1,3\n"
                              "1,cat,i1,6,0,0,5\n");
    free(text);
    melon_evaluator_free(&ev);
    case_free(&c);
}

/* A NaN score ranks its interaction, and its target, last. */
static void nan_scores_rank_last(void **state) {
    (void)state;
    static batch_case c;
    case_init(&c);
    c.model.tensor[1].value[4] = NAN; /* item 4 */
    melon_evaluator ev;
    melon_err err;
    assert_int_equal(evaluate_case(&c, &ev, MELON_NEGATIVES_ALL, &err), 0);
    /* user 0: item 4 is NaN -> 4 of 4; item 0 (0.8) has the NaN target
     * counted against it -> 2. User 1's negative item 4 is NaN now: -0.2
     * has it and -0.1 above -> 3 */
    static const int32_t rank[6] = {4, 1, 4, 3, 3, 6};
    static const int32_t list_rank[6] = {5, 2, 0, 4, 4, 6};
    assert_ranks(&ev, rank, list_rank, NULL);
    melon_evaluator_free(&ev);
    case_free(&c);
}

static void bad_settings_are_refused(void **state) {
    (void)state;
    melon_evaluator ev;
    melon_err err;
    assert_int_equal(melon_evaluator_init(&ev, 6, 8, 3, 6, &err), -1);
    assert_non_null(strstr(err.msg, "6 negatives per interaction need more "
                                    "than 6 items; the stream has 6"));
    assert_int_equal(melon_evaluator_init(&ev, -1, 8, 3, 6, &err), -1);
    static batch_case c;
    case_init(&c);
    assert_int_equal(melon_evaluator_init(&ev, 2, 4, 3, 6, &err), 0);
    assert_int_equal(melon_evaluate_batch(&ev, &c.model, &c.stream, &c.pairs,
                                          &c.history, 7, 1, 4, 10, &err),
                     -1);
    assert_non_null(strstr(err.msg, "exceeds the capacity of 4"));
    melon_evaluator_free(&ev);
    /* user 0 never takes 2 items: 3 negatives are too many */
    assert_int_equal(evaluate_case(&c, &ev, 3, &err), -1);
    assert_non_null(strstr(err.msg, "user 'ann'"));
    melon_evaluator_free(&ev);
    case_free(&c);
}

/* score_items gives score()'s values for every (user, item), up to the
 * rounding of sums taken in another order: NCF with one layer and with
 * three of different widths, few pair slots so the items are cut into
 * many chunks, one and two threads. */
static void assert_full_scores_match(const char *name, int n_layers,
                                     const int *widths, int threads) {
    enum { USERS = 5, ITEMS = 37 };
    melon_model_config cfg;
    melon_model_config_default(&cfg);
    cfg.dim = 6;
    cfg.init_std = 0.5f; /* ReLUs on and off */
    cfg.layers.n = n_layers;
    for (int l = 0; l < n_layers; l++) cfg.layers.w[l] = widths[l];
    melon_model m;
    melon_err err;
    assert_int_equal(melon_model_create(&m, name, USERS, ITEMS, &cfg, 3, &err),
                     0);
    if (m.ops->observe) {
        static melon_stream s;
        static int32_t su[40], si[40];
        for (int p = 0; p < 40; p++) {
            su[p] = p % USERS;
            si[p] = (p * p) % ITEMS;
        }
        s = (melon_stream){.n = 40, .n_users = USERS, .n_items = ITEMS,
                           .user = su, .item = si};
        m.ops->observe(&m, &s, 0, 40);
    }
    const int32_t users[3] = {4, 0, 4};
    static float full[3 * ITEMS], pair[ITEMS];
    int32_t pu[ITEMS], pi[ITEMS];
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    m.ops->score_items(&m, users, 3, full);
    omp_set_num_threads(saved);
    for (int k = 0; k < 3; k++) {
        for (int j = 0; j < ITEMS; j++) {
            pu[j] = users[k];
            pi[j] = j;
        }
        m.ops->score(&m, pu, pi, ITEMS, pair);
        for (int j = 0; j < ITEMS; j++)
            assert_close(full[k * ITEMS + j], pair[j],
                         1e-5 * (1.0 + fabs(pair[j])));
    }
    melon_model_free(&m);
}

static void full_scores_match_pair_scores(void **state) {
    (void)state;
    const int one[1] = {7}, three[3] = {9, 4, 5};
    for (int threads = 1; threads <= 2; threads++) {
        assert_full_scores_match("bpr", 1, one, threads);
        assert_full_scores_match("pop", 1, one, threads);
        assert_full_scores_match("ncf", 1, one, threads);
        assert_full_scores_match("ncf", 3, three, threads);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sampled_ranks_by_hand),
        cmocka_unit_test(all_item_ranks_by_hand),
        cmocka_unit_test(nan_scores_rank_last),
        cmocka_unit_test(bad_settings_are_refused),
        cmocka_unit_test(full_scores_match_pair_scores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
