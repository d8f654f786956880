/* melon: a recommender that is kept up to date on a live stream of
 * interactions (MeLON, Kim et al., AAAI 2022, and the baselines it is
 * compared with). This is the whole public interface of libmelon.
 *
 * A session owns a model (BPR-MF, NCF or popularity), an update strategy,
 * the interaction history, the user and item id maps and every random
 * stream. Its life:
 *
 *     melon_session *s;
 *     const char *settings[] = {"model=bpr", "strategy=default", "seed=1"};
 *     melon_create(&s, settings, 3, &err);
 *     melon_pretrain_file(s, "past.csv", &err);     // or melon_pretrain_ids
 *     melon_observe(s, "alice", "item42", 0, &rank, &err);  // ... many
 *     melon_recommend(s, "alice", 10, 0, items, scores, &n, &popular, &err);
 *     melon_save(s, "model.ckpt", &err);
 *     melon_free(s);
 *
 * Errors: every call that can fail returns 0 on success and a negative
 * status on failure, after writing a message into *err (err may be NULL).
 * The message names the setting, id, file, byte offset or value at fault.
 * A failed call leaves the session as it was, except where said.
 *
 * Ids: users and items are named by strings (1 to MELON_ID_MAX bytes, no
 * NUL byte) or by 64-bit integers. An integer id is the same id as its
 * decimal text: user 42 and user "42" are one user. Ids get rows the first
 * time they are seen (or declared): the id spaces grow without limit.
 *
 * Threads: one writer at a time (create, pretrain, observe, flush, declare,
 * load, free: the caller serialises them). Any number of threads may call
 * the readers (recommend, user history, stats, settings, save) at the same
 * time, also while the writer works: a reader sees the model between two
 * batch updates, never in the middle of one, and waits at most for the
 * part of one batch that changes the model (meta step, update), not for
 * the batch's evaluation.
 *
 * Arithmetic: while a writer trains or ranks, it and the OpenMP threads it
 * computes on flush subnormal floats to zero, as `melon run` does (the
 * setting ieee-subnormals=on keeps IEEE arithmetic); the caller's mode is
 * restored before the call returns. */
#ifndef MELON_MELON_H
#define MELON_MELON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libmelon exports exactly the functions declared here. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define MELON_VERSION "0.1.0"

#ifndef MELON_ERR_DEFINED
#define MELON_ERR_DEFINED
#define MELON_ERR_MSG 1024
/* A failed call's message, NUL-terminated. */
typedef struct melon_err {
    char msg[MELON_ERR_MSG];
} melon_err;
#endif

/* Statuses (besides 0). */
#define MELON_FAILED (-1)          /* bad input, I/O or memory: see err */
#define MELON_NOT_APPLICABLE (-2)  /* the strategy does not apply to the
                                      model (e.g. sml with ncf) */

/* Longest id, in bytes. */
#define MELON_ID_MAX 256

/* Ranks written by observe and flush: 1 (the event's item scored above
 * all its evaluation negatives: 99 sampled by default, see the setting
 * negatives) to the number of negatives + 1; or one of these. */
#define MELON_RANK_PENDING 0       /* its batch is not full yet */
#define MELON_RANK_NONE (-1)       /* not evaluated: evaluate=0, or a user of
                                      its batch has fewer items left to draw
                                      negatives from than negatives= asks */

typedef struct melon_session melon_session;

/* ---- Creating a session ------------------------------------------------
 *
 * settings: n strings "name=value". The names are the settings of `melon
 * run` (see `melon run --help`), from its settings tables: model, strategy,
 * seed, batch-size, epochs, dim, layers, init-std, optimizer, lr, l2,
 * dense-adam, threads, negatives and every strategy option (melon-*,
 * eals-*, mwnet-*, metasgd-*, s2meta-*, sml-*), with the same ranges; where
 * a run writes (out, checkpoint, ...) is refused. Flags take on/off (also
 * 1/0, true/false); melon_get_setting gives them as on/off. negatives=N|all
 * as `melon run --negatives`. Session settings:
 *   evaluate=1   rank each observed event against its evaluation negatives
 *                before its batch updates the model (0: skip, rank NONE)
 * Unset names keep `melon run`'s defaults. An unknown name or a bad value
 * fails with a message naming it. */
int melon_create(melon_session **out, const char *const *settings,
                 size_t n_settings, melon_err *err);
void melon_free(melon_session *s);

/* A setting's current value as text (the name as in melon_create). */
int melon_get_setting(const melon_session *s, const char *name, char *value,
                      size_t value_size, melon_err *err);

/* ---- Items known up front ----------------------------------------------
 *
 * Declares a catalogue: the items get rows now, in the given order
 * (repeats and already known items are skipped). Evaluation negatives and
 * training negatives are drawn from the items known so far, and an
 * evaluation negative is never an item the user has interacted with up to
 * the end of its batch (a session cannot know what its users do later).
 * So a session whose catalogue is declared before pre-training ranks every
 * event as `melon run --eval-negatives before` does on the same data,
 * however the stream is cut into calls (`melon run`'s default avoids the
 * items a user takes later too, as the paper's protocol does). names: n
 * strings; lens: their lengths, or NULL when they are NUL-terminated. */
int melon_declare_items(melon_session *s, const char *const *names,
                        const size_t *lens, size_t n, melon_err *err);
int melon_declare_item_ids(melon_session *s, const int64_t *ids, size_t n,
                           melon_err *err);

/* ---- Pre-training ------------------------------------------------------
 *
 * The events (in time order) become the past: they are cut into batches of
 * batch-size and the model trains on them for `epochs` passes, each in an
 * order shuffled by the seed, through the strategy's meta step and update
 * (as `melon run` pre-trains). Allowed once, before the first observe.
 * times may be NULL (they are then taken as 0). Then the history holds
 * the events, and the popularity counts include them. */
int melon_pretrain_ids(melon_session *s, const int64_t *users,
                       const int64_t *items, const double *times, size_t n,
                       melon_err *err);
int melon_pretrain_names(melon_session *s, const char *const *users,
                         const size_t *user_lens, const char *const *items,
                         const size_t *item_lens, const double *times,
                         size_t n, melon_err *err);
/* Reads an interaction file as `melon run --data FILE` does (CSV/TSV or a
 * publisher's JSON lines, plain or gzip, sorted by time) and pre-trains on
 * all of it. */
int melon_pretrain_file(melon_session *s, const char *path, melon_err *err);

/* ---- The stream --------------------------------------------------------
 *
 * Events in arrival order. Each event is added to a pending batch; when it
 * holds batch-size events the batch runs the protocol's step: the
 * strategy's meta step, then every event is ranked against its evaluation
 * negatives with the model as it was before the batch, then the update,
 * then the events join the history. time: seconds (any origin; 0 or a
 * NULL times array when unknown); it is kept with the event, but the
 * order is the arrival order. A NaN or infinite time is refused.
 *
 * ranks (n entries, or NULL): the rank of each event of this call whose
 * batch ran during the call, else MELON_RANK_PENDING. The events still
 * pending are ranked by a later observe or flush; melon_on_rank sees
 * every rank. Bad input (an id, a time) fails before any event of the call
 * is taken. A batch that fails inside the model or the strategy leaves
 * the session unusable (every call then says why) until melon_load
 * restores a checkpoint into it. */
int melon_observe(melon_session *s, const char *user, const char *item,
                  double time, int32_t *rank, melon_err *err);
int melon_observe_ids(melon_session *s, const int64_t *users,
                      const int64_t *items, const double *times, size_t n,
                      int32_t *ranks, melon_err *err);
int melon_observe_names(melon_session *s, const char *const *users,
                        const size_t *user_lens, const char *const *items,
                        const size_t *item_lens, const double *times,
                        size_t n, int32_t *ranks, melon_err *err);

/* Runs the pending events (fewer than batch-size) as one short batch, the
 * same step with n < batch-size; a stream whose length is not a multiple
 * of batch-size ends with such a batch in `melon run` too. ranks: one per
 * pending event (melon_stats.pending of them), or NULL. No-op when none is
 * pending. */
int melon_flush(melon_session *s, int32_t *ranks, melon_err *err);

/* Called by the writer, for every ranked event, in stream order: seq is
 * the event's number among all observed events (0 = the first observe
 * after pre-training). fn NULL removes it. */
typedef void (*melon_rank_fn)(void *ctx, uint64_t seq, int32_t rank);
void melon_on_rank(melon_session *s, melon_rank_fn fn, void *ctx);

/* ---- Recommendations (readers) -----------------------------------------
 *
 * The k items with the highest scores for the user, best first, with their
 * scores; *n_out <= k says how many there are. Unless MELON_INCLUDE_SEEN,
 * items the user has interacted with (pre-training, completed batches and
 * pending events alike) are left out. A user without a row, or any user
 * with MELON_POPULAR, gets the most popular items (score: how often they
 * occurred) and *popular = 1; else *popular = 0. The popularity model
 * always sets *popular = 1. Item names point into the session and stay
 * valid until melon_free or melon_load. */
#define MELON_INCLUDE_SEEN 1
#define MELON_POPULAR 2

int melon_recommend(melon_session *s, const char *user, int k, int flags,
                    const char **items, float *scores, int *n_out,
                    int *popular, melon_err *err);
/* Integer form: the items' ids must all be integers (declared or observed
 * as integers, or as their decimal text), else it fails naming one that is
 * not. */
int melon_recommend_id(melon_session *s, int64_t user, int k, int flags,
                       int64_t *items, float *scores, int *n_out,
                       int *popular, melon_err *err);

/* Many users at once (their scores through one matrix product per block of
 * users). Row r of items/scores holds k entries (items [n * k]); counts[r]
 * of them are set; popular[r] as above. Unknown users are not errors. */
int melon_recommend_batch(melon_session *s, const char *const *users,
                          const size_t *user_lens, size_t n, int k,
                          int flags, const char **items, float *scores,
                          int32_t *counts, uint8_t *popular, melon_err *err);
int melon_recommend_batch_ids(melon_session *s, const int64_t *users,
                              size_t n, int k, int flags, int64_t *items,
                              float *scores, int32_t *counts,
                              uint8_t *popular, melon_err *err);

/* ---- Introspection (readers) -------------------------------------------
 */
typedef struct {
    int64_t users;            /* users with a row */
    int64_t items;            /* items with a row (declared or seen) */
    int64_t pretrain_events;
    int64_t observed;         /* events given to observe so far */
    int64_t pending;          /* of them, waiting for a full batch */
    int64_t batches;          /* online batches run (flushes included) */
    int64_t evaluated;        /* events ranked */
    double hr10;              /* mean HR@10 of the ranked events (NaN: none) */
    double ndcg10;            /* mean NDCG@10 */
    double last_loss;         /* mean BPR loss of the last batch, NaN before */
    int pretrained;           /* 1 once pre-trained */
    int model_is_popularity;  /* model=pop */
} melon_stats;

int melon_get_stats(const melon_session *s, melon_stats *out, melon_err *err);

/* The user's items, oldest first: up to cap of the most recent ones go to
 * items; *n_total is how many the user has (repeats kept). An unknown user
 * has none. */
int melon_user_items(melon_session *s, const char *user, const char **items,
                     size_t cap, size_t *n_total, melon_err *err);
int melon_user_items_id(melon_session *s, int64_t user, int64_t *items,
                        size_t cap, size_t *n_total, melon_err *err);

/* ---- Checkpoints -------------------------------------------------------
 *
 * A checkpoint holds the whole session (docs/checkpoint.md): settings,
 * parameters, optimiser moments and step counts, the strategy's
 * meta-parameters and their optimiser state, the history, the id maps,
 * the pending events, every random stream and the counters. A session
 * loaded from it continues exactly as the saved one would have.
 *
 * melon_save writes a temporary file beside path, syncs it, renames it
 * over path and syncs the directory: path holds the old or the new
 * checkpoint, never a part. It is a reader. */
int melon_save(melon_session *s, const char *path, melon_err *err);
/* A new session from a checkpoint. */
int melon_open(melon_session **out, const char *path, melon_err *err);
/* Replaces the state of s with the checkpoint's (a writer). The checkpoint
 * must have the same model and strategy. A truncated, corrupted,
 * wrong-version or foreign file fails and leaves s as it was. */
int melon_load(melon_session *s, const char *path, melon_err *err);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif
