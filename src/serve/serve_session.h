/* The server's only door to the recommender: a live session of libmelon
 * (include/melon/melon.h), seen through the few calls the server makes.
 * Writers (create, open, observe, flush) run in one thread at a time;
 * readers (recommend, history, stats, save) may run beside them and see
 * the model between two batches. */
#ifndef MELON_SERVE_SESSION_H
#define MELON_SERVE_SESSION_H

#include "log_record.h"
#include "serve_buf.h"

#include "melon/common.h"

#include <stddef.h>
#include <stdint.h>

/* Longest user or item id, in bytes (MELON_ID_MAX). */
#define SERVE_NAME_MAX 256

typedef struct serve_session serve_session;

/* Receives every rank in stream order while observe or flush runs. */
typedef void (*serve_rank_fn)(void *ctx, int32_t rank);

/* A new session from name=value settings; declares the catalogue's items
 * (a file, one id per line; may be NULL), then pre-trains on data (may be
 * NULL). */
int serve_session_create(serve_session **out, const char *const *settings,
                         size_t n_settings, const char *catalogue,
                         const char *data, melon_err *err);
/* A session from a checkpoint file. */
int serve_session_open(serve_session **out, const char *path, melon_err *err);
void serve_session_free(serve_session *s);
void serve_session_on_rank(serve_session *s, serve_rank_fn fn, void *ctx);

int serve_session_save(serve_session *s, const char *path, melon_err *err);
/* 1 when the session's setting `name` has this value, 0 when another
 * (written to actual), -1 when the name is unknown. */
int serve_session_setting_is(serve_session *s, const char *name,
                             const char *value, char *actual,
                             size_t actual_cap);
int serve_session_batch_size(serve_session *s);

/* Events in arrival order (a time of NaN: unknown). */
int serve_session_observe(serve_session *s, const serve_event *events,
                          size_t n, melon_err *err);
/* Runs the pending events as a short batch. */
int serve_session_flush(serve_session *s, melon_err *err);

typedef struct {
    int64_t users;
    int64_t items;
    int64_t pending;
} serve_session_stats;

int serve_session_stats_get(serve_session *s, serve_session_stats *out);

/* The user's top k as JSON ({"user", "items", "scores", "popular"}). */
int serve_session_recommend_json(serve_session *s, const char *user, int k,
                                 int include_seen, serve_buf *out,
                                 melon_err *err);
/* The user's most recent items, oldest first, as JSON
 * ({"user", "items", "total"}). */
int serve_session_history_json(serve_session *s, const char *user,
                               size_t limit, serve_buf *out, melon_err *err);
/* The most popular items (as the session counts them) as a JSON array. */
int serve_session_popular_json(serve_session *s, int k, serve_buf *out,
                               melon_err *err);

#endif
