/* serve_session.h over libmelon's public interface. */
#include "serve_session.h"

#include "melon/melon.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OBSERVE_CHUNK 1024

_Static_assert(SERVE_NAME_MAX == MELON_ID_MAX, "the server's id limit is the library's");

struct serve_session {
    melon_session *s;
    serve_rank_fn on_rank;
    void *on_rank_ctx;
    /* observe's arrays, sized once */
    const char *users[OBSERVE_CHUNK], *items[OBSERVE_CHUNK];
    size_t user_lens[OBSERVE_CHUNK], item_lens[OBSERVE_CHUNK];
    double times[OBSERVE_CHUNK];
};

static void forward_rank(void *ctx, uint64_t seq, int32_t rank) {
    (void)seq;
    serve_session *ss = ctx;
    if (ss->on_rank) ss->on_rank(ss->on_rank_ctx, rank);
}

static serve_session *wrap(melon_session *s, melon_err *err) {
    serve_session *ss = melon_calloc(1, sizeof *ss, err);
    if (!ss) {
        melon_free(s);
        return NULL;
    }
    ss->s = s;
    melon_on_rank(s, forward_rank, ss);
    return ss;
}

/* Declares the items of a file, one id per line, in file order. */
static int declare_catalogue(melon_session *s, const char *path,
                             melon_err *err) {
    FILE *f = fopen(path, "r");
    if (!f) return melon_fail(err, "%s: cannot open the catalogue", path);
    char *line = NULL;
    size_t cap = 0, line_no = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        line_no++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0) continue;
        const char *name = line;
        size_t name_len = (size_t)len;
        if (melon_declare_items(s, &name, &name_len, 1, err) != 0) {
            char why[MELON_ERR_MSG];
            snprintf(why, sizeof why, "%s", err->msg);
            rc = melon_fail(err, "%s:%zu: %s", path, line_no, why);
            break;
        }
    }
    free(line);
    fclose(f);
    return rc;
}

int serve_session_create(serve_session **out, const char *const *settings,
                         size_t n_settings, const char *catalogue,
                         const char *data, melon_err *err) {
    *out = NULL;
    melon_session *s;
    if (melon_create(&s, settings, n_settings, err) != 0) return -1;
    if ((catalogue && declare_catalogue(s, catalogue, err) != 0) ||
        (data && melon_pretrain_file(s, data, err) != 0)) {
        melon_free(s);
        return -1;
    }
    *out = wrap(s, err);
    return *out ? 0 : -1;
}

int serve_session_open(serve_session **out, const char *path, melon_err *err) {
    *out = NULL;
    melon_session *s;
    if (melon_open(&s, path, err) != 0) return -1;
    *out = wrap(s, err);
    return *out ? 0 : -1;
}

void serve_session_free(serve_session *ss) {
    if (!ss) return;
    melon_free(ss->s);
    free(ss);
}

void serve_session_on_rank(serve_session *ss, serve_rank_fn fn, void *ctx) {
    ss->on_rank = fn;
    ss->on_rank_ctx = ctx;
}

int serve_session_save(serve_session *ss, const char *path, melon_err *err) {
    return melon_save(ss->s, path, err) == 0 ? 0 : -1;
}

int serve_session_setting_is(serve_session *ss, const char *name,
                             const char *value, char *actual,
                             size_t actual_cap) {
    melon_err err;
    if (melon_get_setting(ss->s, name, actual, actual_cap, &err) != 0)
        return -1;
    return strcmp(actual, value) == 0;
}

int serve_session_batch_size(serve_session *ss) {
    char value[64];
    melon_err err;
    if (melon_get_setting(ss->s, "batch-size", value, sizeof value, &err) != 0)
        return -1;
    return atoi(value);
}

int serve_session_observe(serve_session *ss, const serve_event *events,
                          size_t n, melon_err *err) {
    for (size_t at = 0; at < n; at += OBSERVE_CHUNK) {
        size_t m = n - at < OBSERVE_CHUNK ? n - at : OBSERVE_CHUNK;
        for (size_t k = 0; k < m; k++) {
            const serve_event *ev = &events[at + k];
            ss->users[k] = ev->user;
            ss->user_lens[k] = ev->user_len;
            ss->items[k] = ev->item;
            ss->item_lens[k] = ev->item_len;
            ss->times[k] = isnan(ev->time) ? 0.0 : ev->time; /* 0: unknown */
        }
        if (melon_observe_names(ss->s, ss->users, ss->user_lens, ss->items,
                                ss->item_lens, ss->times, m, NULL, err) != 0)
            return -1;
    }
    return 0;
}

int serve_session_flush(serve_session *ss, melon_err *err) {
    return melon_flush(ss->s, NULL, err) == 0 ? 0 : -1;
}

int serve_session_stats_get(serve_session *ss, serve_session_stats *out) {
    melon_stats st;
    melon_err err;
    if (melon_get_stats(ss->s, &st, &err) != 0) return -1;
    out->users = st.users;
    out->items = st.items;
    out->pending = st.pending;
    return 0;
}

int serve_session_recommend_json(serve_session *ss, const char *user, int k,
                                 int include_seen, serve_buf *out,
                                 melon_err *err) {
    const char **items = melon_calloc((size_t)k, sizeof *items, err);
    float *scores = melon_calloc((size_t)k, sizeof *scores, err);
    int n = 0, popular = 0, rc = -1;
    if (items && scores &&
        melon_recommend(ss->s, user, k, include_seen ? MELON_INCLUDE_SEEN : 0,
                        items, scores, &n, &popular, err) == 0) {
        serve_buf_str(out, "{\"user\": ");
        serve_buf_json_string(out, user, strlen(user));
        serve_buf_str(out, ", \"items\": [");
        for (int r = 0; r < n; r++) {
            if (r) serve_buf_str(out, ", ");
            serve_buf_json_string(out, items[r], strlen(items[r]));
        }
        serve_buf_str(out, "], \"scores\": [");
        for (int r = 0; r < n; r++) {
            if (r) serve_buf_str(out, ", ");
            serve_buf_printf(out, "%.9g", (double)scores[r]);
        }
        serve_buf_printf(out, "], \"popular\": %s}", popular ? "true" : "false");
        rc = 0;
    }
    free(items);
    free(scores);
    return rc;
}

int serve_session_history_json(serve_session *ss, const char *user,
                               size_t limit, serve_buf *out, melon_err *err) {
    const char **items = melon_calloc(limit ? limit : 1, sizeof *items, err);
    size_t total = 0;
    if (!items) return -1;
    if (melon_user_items(ss->s, user, items, limit, &total, err) != 0) {
        free(items);
        return -1;
    }
    size_t n = total < limit ? total : limit;
    serve_buf_str(out, "{\"user\": ");
    serve_buf_json_string(out, user, strlen(user));
    serve_buf_str(out, ", \"items\": [");
    for (size_t r = 0; r < n; r++) {
        if (r) serve_buf_str(out, ", ");
        serve_buf_json_string(out, items[r], strlen(items[r]));
    }
    serve_buf_printf(out, "], \"total\": %zu}", total);
    free(items);
    return 0;
}

int serve_session_popular_json(serve_session *ss, int k, serve_buf *out,
                               melon_err *err) {
    const char *items[64];
    float scores[64];
    int n = 0, popular = 0;
    if (k > 64) k = 64;
    /* any user name: MELON_POPULAR ranks by popularity alone */
    if (melon_recommend(ss->s, "-", k, MELON_POPULAR | MELON_INCLUDE_SEEN,
                        items, scores, &n, &popular, err) != 0)
        return -1;
    serve_buf_str(out, "[");
    for (int r = 0; r < n; r++) {
        if (r) serve_buf_str(out, ", ");
        serve_buf_str(out, "{\"item\": ");
        serve_buf_json_string(out, items[r], strlen(items[r]));
        serve_buf_printf(out, ", \"count\": %.0f}", (double)scores[r]);
    }
    serve_buf_str(out, "]");
    return 0;
}
