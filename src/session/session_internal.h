/* A live session (include/melon/melon.h): what it owns, and the calls the
 * prequential runner and the checkpoint code use beside the public ones. */
#ifndef MELON_SESSION_INTERNAL_H
#define MELON_SESSION_INTERNAL_H

#include "melon/melon.h"

#include "eval/config.h"
#include "melon/evaluate.h"
#include "melon/history.h"
#include "melon/metrics.h"
#include "melon/model.h"
#include "melon/negatives.h"
#include "update/strategy.h"
#include "melon/stream.h"

#include "../data/id_table.h"

#include <pthread.h>

/* One side's ids: lookup by text, and the texts at stable addresses. */
typedef struct {
    melon_id_table table;
    char **name;          /* [count], each its own allocation */
    size_t room;
} session_ids;

/* What one online batch gave. */
typedef struct {
    melon_metric_sums sums;
    double loss;          /* mean BPR loss before the update */
    double seconds;       /* meta step + update */
} session_batch_record;

struct melon_session {
    melon_config cfg;
    int evaluate;                 /* rank events before their batch */
    int strict_eval;              /* too few negatives is an error (run) */

    session_ids users;
    session_ids items;

    /* Every event so far, in arrival order: [0, past_end) the past,
     * [past_end, done) ran in online batches, [done, stream.n) pending
     * (in run mode also the events not yet reached: see preload). */
    melon_stream stream;
    int32_t *event_rank;          /* [stream_room] rank of each event (0
                                     before its batch, -1 not ranked) */
    int32_t *event_negatives;     /* [stream_room] negatives it was ranked
                                     against */
    size_t stream_room;
    size_t past_end;
    size_t done;
    size_t preloaded_end;         /* run mode: events given up front */
    int pretrained;
    size_t past_batches;          /* batches of the past (eval seeds) */

    /* The learner, created once there are a user and an item. */
    int has_model;
    melon_model model;
    melon_strategy strategy;
    melon_history history;
    melon_pair_index pairs;
    melon_rng train_rng;

    /* Buffers of one batch. */
    melon_triple *triples;        /* [batch_size] */
    melon_evaluator evaluator;    /* with the model */
    int32_t *batch_ranks;         /* [batch_size] */

    /* Results. */
    double *pretrain_loss;        /* [epochs] */
    session_batch_record *records;
    size_t n_records;
    size_t records_room;
    melon_metric_sums total;
    melon_metric_sums seen_users; /* events of users with earlier events */
    melon_metric_sums new_users;  /* a user's first events */
    melon_metric_sums repeat_pairs; /* the user had the item before */
    melon_metric_sums new_pairs;
    double last_loss;
    double pretrain_seconds;
    double evaluate_seconds;

    /* Run mode: told about every pre-training batch (epoch, done, total)
     * and every online batch (epoch -1). */
    void (*progress)(void *ctx, int epoch, size_t done, size_t total);
    void *progress_ctx;
    melon_rank_fn on_rank;
    void *on_rank_ctx;

    int restoring;                /* a checkpoint is being loaded into it:
                                     its values replace the model's, so the
                                     tables are sized without their draws */
    int failed;                   /* an error left the state inconsistent */
    char failure[MELON_ERR_MSG];

    pthread_rwlock_t lock;        /* writers exclusive, readers shared */
    pthread_mutex_t score_lock;   /* models whose score is not reentrant */
};

/* Creation from a filled configuration (melon_create parses the settings
 * into one). Nothing is trained. */
int session_create_config(melon_session **out, const melon_config *cfg,
                          int evaluate, melon_err *err);

/* The triples the model scores per batch: the batch size times the
 * strategy's support-set factor (meta steps score support sets too). */
int session_model_capacity(const melon_config *cfg);

/* name=value settings into cfg (session_settings.c): every room's setting
 * by its command-line name, and the session's own "evaluate". */
int session_apply_setting(melon_config *cfg, int *evaluate, const char *text,
                          melon_err *err);
int session_format_setting(const melon_config *cfg, int evaluate,
                           const char *name, char *value, size_t size,
                           melon_err *err);
/* Every setting but outputs as "name=value" lines, "evaluate" last (the
 * checkpoint keeps them); the length, or -1 when size is too small. */
int session_write_settings(const melon_config *cfg, int evaluate, char *out,
                           size_t size);

/* Ids (session_ids.c). */
int session_ids_init(session_ids *ids, melon_err *err);
void session_ids_free(session_ids *ids);
/* Checks an id's bytes (1..MELON_ID_MAX, no NUL); what names the side. */
int session_check_id(const char *text, size_t len, const char *what,
                     size_t index, melon_err *err);
int session_intern(session_ids *ids, const char *text, size_t len,
                   int32_t *id, melon_err *err);
/* The same without looking the id up first, for ids expected to be new (a
 * checkpoint's); a known one still gets its own number. */
int session_intern_new(session_ids *ids, const char *text, size_t len,
                       int32_t *id, melon_err *err);
/* Forgets the ids from `count` on (those interned last). */
void session_ids_truncate(session_ids *ids, size_t count);
/* -1 when unknown. */
int32_t session_find(const session_ids *ids, const char *text, size_t len);
/* The decimal text of an integer id. */
size_t session_id_text(int64_t id, char *buf);

/* Gives every part the current user and item counts (creates the model
 * and the strategy once both are >= 1). On failure the parts keep the
 * counts they had (the caller forgets the new ids), except when the model
 * grew and the strategy could not follow: the session is failed then. */
int session_grow(melon_session *s, melon_err *err);

/* Room for n more events in the stream (appending them then cannot
 * fail). */
int session_reserve_events(melon_session *s, size_t n, melon_err *err);
/* Appends events (already checked) to the stream: pending. */
int session_append_events(melon_session *s, const int32_t *users,
                          const int32_t *items, const double *times, size_t n,
                          melon_err *err);

/* Pre-trains on stream positions [0, end) (session_step.c). */
int session_pretrain_until(melon_session *s, size_t end, melon_err *err);
/* Runs positions [s->done, end) as one online batch; ranks (end - done
 * entries, or NULL) receive the ranks. Takes the lock itself, exclusively
 * only around the changes readers could see (the caller must not hold
 * it). */
int session_run_batch(melon_session *s, size_t end, int32_t *ranks,
                      melon_err *err);

/* Run mode: the whole stream up front, with its ids in the stream's order
 * and the pair index of every interaction, so evaluation negatives are
 * those of `melon run` (never anything the user interacts with anywhere
 * in the stream). */
int session_preload(melon_session *s, const melon_stream *stream,
                    melon_err *err);

/* Refuses calls on a NULL or failed session. */
int session_usable(const melon_session *s, melon_err *err);
void session_set_failed(melon_session *s, const melon_err *why);

/* Replaces dst's state with src's (both unlocked by the caller); src is
 * left empty. */
void session_swap_state(melon_session *dst, melon_session *src);
void session_free_state(melon_session *s);

#endif
