/* Checkpoints of a running server (serve.h): the session's own checkpoint
 * (melon_save) and beside it the server's state at the same record of the
 * log: how far the log was applied and the live metrics. Both are named
 * after that record number; the server file is written second, so its
 * presence says the pair is whole. Each file is written to a temporary
 * name, synced and renamed, and the directory synced. The two newest
 * pairs are kept. */
#include "serve.h"

#include "log_record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char state_magic[8] = {'M', 'E', 'L', 'O', 'N', 'S', 'R', 'V'};
#define STATE_VERSION 1
#define KEEP_CHECKPOINTS 2

static void checkpoint_dir(const serve_server *srv, char *out, size_t cap) {
    snprintf(out, cap, "%s/checkpoints", srv->opt.state_dir);
}

static void pair_path(const serve_server *srv, uint64_t record,
                      const char *ext, char *out, size_t cap) {
    snprintf(out, cap, "%s/checkpoints/%020" PRIu64 ".%s", srv->opt.state_dir,
             record, ext);
}

static int sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int write_durably(const char *path, const uint8_t *data, size_t len,
                         melon_err *err) {
    char tmp[4310];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return melon_fail(err, "%s: cannot create: %s", tmp, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += (size_t)n;
    }
    int e = errno;
    if (done != len || fsync(fd) != 0) {
        if (done == len) e = errno;
        close(fd);
        unlink(tmp);
        return melon_fail(err, "%s: cannot write: %s", path, strerror(e));
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return melon_fail(err, "%s: cannot rename into place: %s", path, strerror(e));
    }
    char dir[4300];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    if (sync_dir(slash ? dir : ".") != 0)
        return melon_fail(err, "%s: cannot sync its directory: %s", path,
                          strerror(errno));
    return 0;
}

/* ---- the server's state file ------------------------------------------ */

static size_t state_size(uint64_t kept) {
    return 8 + 4 + 4 + 3 * 8 + 8 + 8 * (SERVE_MAX_RANK + 1) + 4 + 4 +
           SERVE_WINDOW + 8 + kept * (8 + 4 + 4 + 3 * 8) + 4;
}

static uint8_t *put_f64(uint8_t *p, double v) {
    uint64_t bits;
    memcpy(&bits, &v, 8);
    serve_put_u64(p, bits);
    return p + 8;
}

static double get_f64(const uint8_t *p) {
    uint64_t bits = serve_get_u64(p);
    double v;
    memcpy(&v, &bits, 8);
    return v;
}

static uint8_t *state_encode(const serve_server *srv, size_t *len) {
    const serve_quality *q = &srv->quality;
    uint64_t kept = q->n_batches < SERVE_BATCHES_KEPT ? q->n_batches
                                                      : SERVE_BATCHES_KEPT;
    *len = state_size(kept);
    uint8_t *buf = malloc(*len), *p = buf;
    if (!buf) return NULL;
    memcpy(p, state_magic, 8);
    serve_put_u32(p + 8, STATE_VERSION);
    serve_put_u32(p + 12, 0);
    p += 16;
    serve_put_u64(p, atomic_load(&srv->applied_records));
    serve_put_u64(p + 8, atomic_load(&srv->applied_events));
    serve_put_u64(p + 16, srv->pending_events);
    serve_put_u64(p + 24, q->unranked);
    p += 32;
    for (int r = 0; r <= SERVE_MAX_RANK; r++, p += 8)
        serve_put_u64(p, q->rank_counts[r]);
    serve_put_u32(p, q->window_n);
    serve_put_u32(p + 4, q->window_at);
    p += 8;
    memcpy(p, q->window, SERVE_WINDOW);
    p += SERVE_WINDOW;
    serve_put_u64(p, q->n_batches);
    p += 8;
    for (uint64_t b = q->n_batches - kept; b < q->n_batches; b++) {
        const serve_batch_stat *s = serve_quality_batch(q, b);
        serve_put_u64(p, s->index);
        serve_put_u32(p + 8, s->events);
        serve_put_u32(p + 12, s->evaluated);
        p = put_f64(p + 16, s->hr10);
        p = put_f64(p, s->ndcg10);
        p = put_f64(p, s->update_seconds);
    }
    serve_put_u32(p, serve_crc32(0, buf, (size_t)(p - buf)));
    return buf;
}

typedef struct {
    uint64_t records, events, pending;
    serve_quality quality;
} decoded_state;

static int state_decode(const uint8_t *buf, size_t len, decoded_state *st,
                        char *why, size_t why_cap) {
    if (len < state_size(0) || memcmp(buf, state_magic, 8) != 0)
        return snprintf(why, why_cap, "not a melon serve state file"), -1;
    if (serve_get_u32(buf + len - 4) != serve_crc32(0, buf, len - 4))
        return snprintf(why, why_cap, "checksum mismatch"), -1;
    if (serve_get_u32(buf + 8) != STATE_VERSION)
        return snprintf(why, why_cap, "format version %" PRIu32,
                        serve_get_u32(buf + 8)), -1;
    const uint8_t *p = buf + 16;
    serve_quality *q = &st->quality;
    serve_quality_init(q);
    st->records = serve_get_u64(p);
    st->events = serve_get_u64(p + 8);
    st->pending = serve_get_u64(p + 16);
    q->unranked = serve_get_u64(p + 24);
    p += 32;
    for (int r = 0; r <= SERVE_MAX_RANK; r++, p += 8)
        q->rank_counts[r] = serve_get_u64(p);
    q->window_n = serve_get_u32(p);
    q->window_at = serve_get_u32(p + 4);
    p += 8;
    if (q->window_n > SERVE_WINDOW || q->window_at >= SERVE_WINDOW)
        return snprintf(why, why_cap, "window out of range"), -1;
    memcpy(q->window, p, SERVE_WINDOW);
    p += SERVE_WINDOW;
    for (uint32_t k = 0; k < q->window_n; k++) {
        /* the filled part of the ring ends just before window_at */
        uint32_t at = (q->window_at + SERVE_WINDOW - 1 - k) % SERVE_WINDOW;
        if (q->window[at] < 1 || q->window[at] > SERVE_MAX_RANK)
            return snprintf(why, why_cap, "window rank out of range"), -1;
        q->window_counts[q->window[at]]++;
    }
    q->n_batches = serve_get_u64(p);
    p += 8;
    uint64_t kept = q->n_batches < SERVE_BATCHES_KEPT ? q->n_batches
                                                      : SERVE_BATCHES_KEPT;
    if (len != state_size(kept))
        return snprintf(why, why_cap, "%zu bytes, expected %zu", len,
                        state_size(kept)), -1;
    for (uint64_t b = q->n_batches - kept; b < q->n_batches; b++) {
        serve_batch_stat *s = &q->batches[b % SERVE_BATCHES_KEPT];
        s->index = serve_get_u64(p);
        s->events = serve_get_u32(p + 8);
        s->evaluated = serve_get_u32(p + 12);
        s->hr10 = get_f64(p + 16);
        s->ndcg10 = get_f64(p + 24);
        s->update_seconds = get_f64(p + 32);
        p += 40;
    }
    return 0;
}

/* ---- listing ----------------------------------------------------------- */

static int compare_desc(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x > y ? -1 : x < y;
}

/* Record numbers of the server state files, newest first. */
static int list_checkpoints(const serve_server *srv, uint64_t **out,
                            size_t *n, melon_err *err) {
    char dir[4200];
    checkpoint_dir(srv, dir, sizeof dir);
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        return melon_fail(err, "%s: cannot list: %s", dir, strerror(errno));
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strlen(e->d_name) != 26 || strcmp(e->d_name + 20, ".serve") != 0)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            uint64_t *grown = realloc(*out, cap * sizeof *grown);
            if (!grown) {
                closedir(d);
                return melon_fail(err, "out of memory");
            }
            *out = grown;
        }
        (*out)[(*n)++] = strtoull(e->d_name, NULL, 10);
    }
    closedir(d);
    if (*n > 1) qsort(*out, *n, sizeof **out, compare_desc);
    return 0;
}

static void remove_old(serve_server *srv) {
    uint64_t *records;
    size_t n;
    melon_err err;
    if (list_checkpoints(srv, &records, &n, &err) != 0) return;
    for (size_t k = KEEP_CHECKPOINTS; k < n; k++) {
        char path[4300];
        pair_path(srv, records[k], "serve", path, sizeof path);
        unlink(path); /* the state first: a session file alone is ignored */
        pair_path(srv, records[k], "session", path, sizeof path);
        unlink(path);
    }
    free(records);
}

int serve_checkpoint_write(serve_server *srv, melon_err *err) {
    char dir[4200], session_path[4300], state_path[4300];
    checkpoint_dir(srv, dir, sizeof dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return melon_fail(err, "%s: cannot create: %s", dir, strerror(errno));
    uint64_t record = atomic_load(&srv->applied_records);
    pair_path(srv, record, "session", session_path, sizeof session_path);
    pair_path(srv, record, "serve", state_path, sizeof state_path);
    if (serve_session_save(srv->session, session_path, err) != 0) return -1;
    pthread_mutex_lock(&srv->apply_lock);
    size_t len;
    uint8_t *state = state_encode(srv, &len);
    pthread_mutex_unlock(&srv->apply_lock);
    if (!state) return melon_fail(err, "out of memory writing a checkpoint");
    int rc = write_durably(state_path, state, len, err);
    free(state);
    if (rc != 0) return -1;
    pthread_mutex_lock(&srv->apply_lock);
    srv->batches_since_checkpoint = 0;
    srv->last_checkpoint_time = melon_now();
    srv->checkpoints_written++;
    pthread_mutex_unlock(&srv->apply_lock);
    remove_old(srv);
    return 0;
}

static int read_whole(const char *path, uint8_t **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 1 << 16;
    *buf = malloc(cap);
    *len = 0;
    size_t n;
    while (*buf && (n = fread(*buf + *len, 1, cap - *len, f)) > 0) {
        *len += n;
        if (*len == cap) {
            uint8_t *grown = realloc(*buf, cap *= 2);
            if (!grown) {
                free(*buf);
                *buf = NULL;
            }
            *buf = grown;
        }
    }
    int failed = ferror(f) || !*buf;
    fclose(f);
    if (failed) {
        free(*buf);
        *buf = NULL;
        return -1;
    }
    return 0;
}

int serve_checkpoint_recover(serve_server *srv, FILE *notes, melon_err *err) {
    uint64_t *records;
    size_t n;
    if (list_checkpoints(srv, &records, &n, err) != 0) return -1;
    for (size_t k = 0; k < n; k++) {
        char state_path[4300], session_path[4300], why[4400 + MELON_ERR_MSG];
        pair_path(srv, records[k], "serve", state_path, sizeof state_path);
        pair_path(srv, records[k], "session", session_path, sizeof session_path);
        uint8_t *buf;
        size_t len;
        decoded_state *st = malloc(sizeof *st);
        int ok = st != NULL;
        why[0] = '\0';
        if (ok && read_whole(state_path, &buf, &len) != 0) {
            snprintf(why, sizeof why, "%s: cannot read: %s", state_path,
                     strerror(errno));
            ok = 0;
        } else if (ok) {
            char bad[200];
            if (state_decode(buf, len, st, bad, sizeof bad) != 0) {
                snprintf(why, sizeof why, "%s: %s", state_path, bad);
                ok = 0;
            } else if (st->records != records[k]) {
                snprintf(why, sizeof why, "%s: holds record %" PRIu64,
                         state_path, st->records);
                ok = 0;
            }
            free(buf);
        }
        if (ok && st->records > srv->log.n_records) {
            snprintf(why, sizeof why, "%s: applied %" PRIu64 " records, the "
                     "event log holds only %" PRIu64, state_path, st->records,
                     srv->log.n_records);
            ok = 0;
        }
        serve_session *session = NULL;
        melon_err serr;
        if (ok && serve_session_open(&session, session_path, &serr) != 0) {
            snprintf(why, sizeof why, "%s", serr.msg);
            ok = 0;
        }
        if (!ok) {
            if (notes)
                fprintf(notes, "melon serve: skipped checkpoint %" PRIu64 ": %s\n",
                        records[k], why[0] ? why : "out of memory");
            free(st);
            continue;
        }
        serve_session_free(srv->session);
        srv->session = session;
        atomic_store(&srv->applied_records, st->records);
        atomic_store(&srv->applied_events, st->events);
        srv->pending_events = st->pending;
        srv->quality = st->quality;
        free(st);
        free(records);
        srv->last_checkpoint_time = melon_now();
        return 0;
    }
    free(records);
    return 1;
}
