/* Checkpoints of a session (docs/checkpoint.md): a header, tagged sections,
 * a trailer with the payload's length and CRC-32. Written to a temporary
 * file that is synced and renamed (then the directory synced); read by
 * mapping the file, checking the trailer and the CRC before anything is
 * parsed, and building a new session that replaces the old one only when
 * all of it loaded. */
#include "session_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CKPT_VERSION 2u
#define CKPT_ENDIAN 0x01020304u
static const char ckpt_magic[8] = {'M', 'E', 'L', 'O', 'N', 'C', 'K', 'P'};
static const char ckpt_end[8] = {'M', 'E', 'L', 'O', 'N', 'E', 'N', 'D'};
#define HEADER_BYTES 16   /* magic, version, endian marker */
#define TRAILER_BYTES 24  /* end magic, payload length, crc, zero */

/* ---- Writing: a FILE that counts and checksums what passes through ---- */

typedef struct {
    FILE *out;
    uLong crc;
    uint64_t length;
} crc_sink;

static ssize_t sink_write(void *cookie, const char *buf, size_t size) {
    crc_sink *k = cookie;
    size_t done = fwrite(buf, 1, size, k->out);
    for (size_t at = 0; at < done;) {
        uInt chunk = done - at > (1u << 30) ? (1u << 30) : (uInt)(done - at);
        k->crc = crc32(k->crc, (const Bytef *)buf + at, chunk);
        at += chunk;
    }
    k->length += done;
    return done == size ? (ssize_t)size : -1;
}

static int put(FILE *f, const void *data, size_t bytes) {
    return bytes == 0 || fwrite(data, 1, bytes, f) == bytes ? 0 : -1;
}
static int put_u64(FILE *f, uint64_t v) { return put(f, &v, sizeof v); }
static int put_text(FILE *f, const char *t) {
    uint32_t len = (uint32_t)strlen(t);
    return put(f, &len, sizeof len) || put(f, t, len);
}

/* Sections: a four-letter tag, then the body. */
static int put_tag(FILE *f, const char *tag) { return put(f, tag, 4); }

static int write_ids(FILE *f, const char *tag, const session_ids *ids) {
    if (put_tag(f, tag) || put_u64(f, ids->table.count)) return -1;
    for (size_t k = 0; k < ids->table.count; k++)
        if (put_text(f, ids->name[k])) return -1;
    return 0;
}

/* Every setting as "name=value" lines (session_settings.c): read back
 * through the settings tables, so the file does not depend on the
 * process's struct layout. */
static int write_config(FILE *f, const melon_session *s) {
    char text[1 << 16];
    int n = session_write_settings(&s->cfg, s->evaluate, text, sizeof text);
    if (n < 0) return -1;
    return put_tag(f, "CONF") || put_text(f, text);
}

static int write_stream(FILE *f, const melon_session *s) {
    const melon_stream *st = &s->stream;
    uint64_t fields[8] = {st->n, s->past_end, s->done, s->preloaded_end,
                          s->past_batches, (uint64_t)s->pretrained,
                          (uint64_t)s->strict_eval, 0};
    return put_tag(f, "STRM") || put(f, fields, sizeof fields) ||
           put(f, st->user, st->n * sizeof *st->user) ||
           put(f, st->item, st->n * sizeof *st->item) ||
           put(f, st->time, st->n * sizeof *st->time) ||
           put(f, s->event_rank, st->n * sizeof *s->event_rank) ||
           put(f, s->event_negatives, st->n * sizeof *s->event_negatives);
}

static int write_model(FILE *f, const melon_session *s) {
    const melon_model *m = &s->model;
    uint64_t has = (uint64_t)s->has_model;
    if (put_tag(f, "MODL") || put_u64(f, has)) return -1;
    if (!has) return 0;
    int32_t sizes[3] = {m->n_users, m->n_items, m->n_tensors};
    if (put_text(f, m->ops->name) || put(f, sizes, sizeof sizes) ||
        put(f, m->init_rng, sizeof m->init_rng))
        return -1;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        int32_t shape[2] = {t->rows, t->cols};
        if (put_text(f, t->name) || put(f, shape, sizeof shape) ||
            put(f, t->value, (size_t)t->rows * (size_t)t->cols * sizeof(float)))
            return -1;
    }
    melon_err inner;
    return put_tag(f, "STRA") || put_text(f, s->strategy.ops->name) ||
           (s->strategy.ops->save &&
            s->strategy.ops->save(&s->strategy, f, &inner) != 0) ||
           put(f, &s->strategy.batch_loss, sizeof(double));
}

static int write_results(FILE *f, const melon_session *s) {
    return put_tag(f, "RSLT") || put(f, &s->train_rng, sizeof s->train_rng) ||
           put(f, s->pretrain_loss, ((size_t)s->cfg.run.epochs + 1) * sizeof(double)) ||
           put_u64(f, s->n_records) ||
           put(f, s->records, s->n_records * sizeof *s->records) ||
           put(f, &s->total, sizeof s->total) ||
           put(f, &s->seen_users, sizeof s->seen_users) ||
           put(f, &s->new_users, sizeof s->new_users) ||
           put(f, &s->repeat_pairs, sizeof s->repeat_pairs) ||
           put(f, &s->new_pairs, sizeof s->new_pairs) ||
           put(f, &s->evaluate_seconds, sizeof(double)) ||
           put(f, &s->last_loss, sizeof s->last_loss) ||
           put(f, &s->pretrain_seconds, sizeof(double));
}

static int write_payload(FILE *f, const melon_session *s) {
    return write_config(f, s) || write_ids(f, "USRS", &s->users) ||
           write_ids(f, "ITMS", &s->items) || write_stream(f, s) ||
           write_model(f, s) || write_results(f, s);
}

/* Syncs the directory holding path, so the rename is durable. */
static int sync_dir(const char *path, melon_err *err) {
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return melon_fail(err, "%s: cannot open its directory: %s",
                                  path, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    if (rc != 0) return melon_fail(err, "%s: cannot sync its directory: %s",
                                   path, strerror(errno));
    return 0;
}

static int save_locked(const melon_session *s, const char *path,
                       melon_err *err) {
    char tmp[4200];
    if (strlen(path) >= 4096) return melon_fail(err, "checkpoint path too long");
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) return melon_fail(err, "%s: cannot create: %s", path, strerror(errno));
    FILE *out = fdopen(fd, "wb");
    if (!out) {
        close(fd);
        unlink(tmp);
        return melon_fail(err, "%s: cannot open: %s", path, strerror(errno));
    }
    uint32_t head[2] = {CKPT_VERSION, CKPT_ENDIAN};
    crc_sink sink = {out, crc32(0L, Z_NULL, 0), 0};
    cookie_io_functions_t io = {NULL, sink_write, NULL, NULL};
    int ok = put(out, ckpt_magic, 8) == 0 && put(out, head, sizeof head) == 0;
    FILE *payload = ok ? fopencookie(&sink, "w", io) : NULL;
    if (payload) {
        setvbuf(payload, NULL, _IOFBF, 1 << 20);
        ok = write_payload(payload, s) == 0;
        ok = (fclose(payload) == 0) && ok;
    } else {
        ok = 0;
    }
    uint32_t tail[2] = {(uint32_t)sink.crc, 0};
    ok = ok && put(out, ckpt_end, 8) == 0 && put_u64(out, sink.length) == 0 &&
         put(out, tail, sizeof tail) == 0;
    ok = ok && fflush(out) == 0 && fsync(fileno(out)) == 0;
    int e = errno;
    ok = (fclose(out) == 0) && ok;
    if (!ok) {
        unlink(tmp);
        return melon_fail(err, "%s: cannot write the checkpoint: %s", path,
                          strerror(e ? e : EIO));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        return melon_fail(err, "%s: cannot rename into place: %s", path,
                          strerror(e));
    }
    return sync_dir(path, err);
}

int melon_save(melon_session *s, const char *path, melon_err *err) {
    melon_err scratch;
    if (!err) err = &scratch;
    if (session_usable(s, err) != 0) return -1;
    if (!path) return melon_fail(err, "melon_save: path is NULL");
    pthread_rwlock_rdlock(&s->lock);
    int rc = save_locked(s, path, err);
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* ---- Reading: a cursor over the mapped payload ---- */

typedef struct {
    const unsigned char *at;
    const unsigned char *end;
    const char *path;
    const unsigned char *base;
    melon_err *err;
    int failed;
} cursor;

static int short_read(cursor *c, const char *what) {
    if (!c->failed)
        melon_fail(c->err, "%s: corrupted checkpoint: %s at byte %zu runs past "
                           "the end of the payload",
                   c->path, what, (size_t)(c->at - c->base));
    c->failed = 1;
    return -1;
}

static int get(cursor *c, void *out, size_t bytes, const char *what) {
    if (c->failed) return -1;
    if ((size_t)(c->end - c->at) < bytes) return short_read(c, what);
    if (bytes) memcpy(out, c->at, bytes);
    c->at += bytes;
    return 0;
}

static int get_u64(cursor *c, uint64_t *v, const char *what) {
    return get(c, v, sizeof *v, what);
}

/* A text field into a new allocation. */
static char *get_text(cursor *c, const char *what, size_t max) {
    uint32_t len;
    if (get(c, &len, sizeof len, what) != 0) return NULL;
    if (len > max || (size_t)(c->end - c->at) < len) {
        short_read(c, what);
        return NULL;
    }
    char *t = malloc((size_t)len + 1);
    if (!t) {
        melon_fail(c->err, "out of memory reading a checkpoint");
        c->failed = 1;
        return NULL;
    }
    memcpy(t, c->at, len);
    t[len] = 0;
    c->at += len;
    return t;
}

static int expect_tag(cursor *c, const char *tag) {
    char got[4];
    if (get(c, got, 4, tag) != 0) return -1;
    if (memcmp(got, tag, 4) != 0) {
        melon_fail(c->err, "%s: corrupted checkpoint: section '%.4s' expected "
                           "at byte %zu, found other bytes",
                   c->path, tag, (size_t)(c->at - 4 - c->base));
        c->failed = 1;
        return -1;
    }
    return 0;
}

static int fail_at(cursor *c, const char *fmt, const char *detail) {
    melon_fail(c->err, "%s: %s%s", c->path, fmt, detail ? detail : "");
    c->failed = 1;
    return -1;
}

static int read_ids(cursor *c, const char *tag, session_ids *ids) {
    uint64_t n;
    if (expect_tag(c, tag) || get_u64(c, &n, "id count")) return -1;
    if (n > (uint64_t)INT32_MAX) return fail_at(c, "corrupted checkpoint: id count", NULL);
    for (uint64_t k = 0; k < n; k++) {
        /* read in place: checked, then copied once by the id map */
        uint32_t len;
        if (get(c, &len, sizeof len, "an id")) return -1;
        if (len > MELON_ID_MAX || (size_t)(c->end - c->at) < len)
            return short_read(c, "an id");
        const char *name = (const char *)c->at;
        int32_t id;
        if (len == 0 || memchr(name, 0, len) ||
            session_intern_new(ids, name, len, &id, c->err) != 0 ||
            (uint64_t)id != k)
            return fail_at(c, "corrupted checkpoint: an empty, repeated or "
                              "NUL-holding id", NULL);
        c->at += len;
    }
    return 0;
}

/* The strategy's blob, read through a FILE over the mapped bytes. */
static int read_strategy(cursor *c, melon_session *s) {
    char *name = get_text(c, "strategy name", 64);
    if (!name) return -1;
    int same = strcmp(name, s->strategy.ops->name) == 0;
    free(name);
    if (!same) return fail_at(c, "corrupted checkpoint: strategy name", NULL);
    if (s->strategy.ops->load) {
        FILE *f = fmemopen((void *)c->at, (size_t)(c->end - c->at), "rb");
        if (!f) return fail_at(c, "cannot read the strategy state", NULL);
        melon_err inner = {{0}};
        int rc = s->strategy.ops->load(&s->strategy, f, &inner);
        long used = ftell(f);
        fclose(f);
        if (rc != 0) return fail_at(c, "strategy state: ", inner.msg);
        c->at += used;
    }
    return get(c, &s->strategy.batch_loss, sizeof(double), "strategy loss");
}

static int read_model(cursor *c, melon_session *s) {
    uint64_t has;
    if (expect_tag(c, "MODL") || get_u64(c, &has, "model flag")) return -1;
    if (!has)
        return s->has_model ? fail_at(c, "corrupted checkpoint: users and "
                                         "items without a model", NULL)
                            : 0;
    char *name = get_text(c, "model name", 16);
    if (!name) return -1;
    int same = strcmp(name, s->cfg.model.name) == 0;
    free(name);
    int32_t sizes[3];
    if (!same) return fail_at(c, "corrupted checkpoint: model name", NULL);
    if (get(c, sizes, sizeof sizes, "model sizes")) return -1;
    if (sizes[0] != (int32_t)s->users.table.count ||
        sizes[1] != (int32_t)s->items.table.count)
        return fail_at(c, "corrupted checkpoint: model sizes differ from the "
                          "id maps", NULL);
    if (session_grow(s, c->err) != 0 || !s->has_model) {
        c->failed = 1;
        return -1;
    }
    melon_model *m = &s->model;
    if (sizes[2] != m->n_tensors)
        return fail_at(c, "corrupted checkpoint: tensor count", NULL);
    if (get(c, m->init_rng, sizeof m->init_rng, "initialisation streams")) return -1;
    for (int k = 0; k < m->n_tensors; k++) {
        melon_tensor *t = &m->tensor[k];
        char *tname = get_text(c, "tensor name", 64);
        if (!tname) return -1;
        int ok = strcmp(tname, t->name) == 0;
        free(tname);
        int32_t shape[2];
        if (!ok || get(c, shape, sizeof shape, "tensor shape")) {
            if (!c->failed) fail_at(c, "corrupted checkpoint: tensor ", t->name);
            return -1;
        }
        if (shape[0] != t->rows || shape[1] != t->cols)
            return fail_at(c, "corrupted checkpoint: shape of tensor ", t->name);
        if (get(c, t->value, (size_t)t->rows * (size_t)t->cols * sizeof(float),
                t->name))
            return -1;
    }
    if (expect_tag(c, "STRA")) return -1;
    return read_strategy(c, s);
}

static int read_stream(cursor *c, melon_session *s) {
    uint64_t f[8];
    if (expect_tag(c, "STRM") || get(c, f, sizeof f, "stream counters")) return -1;
    uint64_t n = f[0];
    if (n >= UINT32_MAX || f[1] > n || f[2] > n || f[1] > f[2] || f[3] > n ||
        (uint64_t)(c->end - c->at) < n * 24)
        return fail_at(c, "corrupted checkpoint: stream counters", NULL);
    int32_t *users = (int32_t *)malloc(n * 4 + 4), *items = (int32_t *)malloc(n * 4 + 4);
    double *times = (double *)malloc(n * 8 + 8);
    int rc = -1;
    if (users && items && times && get(c, users, n * 4, "users") == 0 &&
        get(c, items, n * 4, "items") == 0 && get(c, times, n * 8, "times") == 0) {
        rc = 0;
        for (uint64_t p = 0; p < n && rc == 0; p++)
            if (users[p] < 0 || (size_t)users[p] >= s->users.table.count ||
                items[p] < 0 || (size_t)items[p] >= s->items.table.count)
                rc = fail_at(c, "corrupted checkpoint: an event's id is out of "
                                "range", NULL);
        if (rc == 0) rc = session_grow(s, c->err);
        if (rc == 0) rc = session_append_events(s, users, items, times, n, c->err);
        if (rc == 0) rc = get(c, s->event_rank, n * sizeof *s->event_rank, "event ranks");
        if (rc == 0)
            rc = get(c, s->event_negatives, n * sizeof *s->event_negatives,
                     "event negatives");
    }
    free(users);
    free(items);
    free(times);
    if (rc != 0) {
        c->failed = 1;
        return -1;
    }
    s->past_end = f[1];
    s->done = f[2];
    s->preloaded_end = f[3];
    s->past_batches = f[4];
    s->pretrained = (int)f[5];
    s->strict_eval = (int)f[6];
    return 0;
}

static int read_results(cursor *c, melon_session *s) {
    uint64_t n;
    if (expect_tag(c, "RSLT") || get(c, &s->train_rng, sizeof s->train_rng, "rng") ||
        get(c, s->pretrain_loss, ((size_t)s->cfg.run.epochs + 1) * sizeof(double),
            "pre-training losses") ||
        get_u64(c, &n, "batch count"))
        return -1;
    if (n > (uint64_t)(c->end - c->at) / sizeof *s->records)
        return short_read(c, "batch records");
    s->records = malloc((n ? n : 1) * sizeof *s->records);
    if (!s->records) return fail_at(c, "out of memory", NULL);
    s->records_room = n ? n : 1;
    s->n_records = n;
    return get(c, s->records, n * sizeof *s->records, "batch records") ||
           get(c, &s->total, sizeof s->total, "metric sums") ||
           get(c, &s->seen_users, sizeof s->seen_users, "metric sums") ||
           get(c, &s->new_users, sizeof s->new_users, "metric sums") ||
           get(c, &s->repeat_pairs, sizeof s->repeat_pairs, "metric sums") ||
           get(c, &s->new_pairs, sizeof s->new_pairs, "metric sums") ||
           get(c, &s->evaluate_seconds, sizeof(double), "evaluation time") ||
           get(c, &s->last_loss, sizeof s->last_loss, "last loss") ||
           get(c, &s->pretrain_seconds, sizeof(double), "pre-training time");
}

/* Rebuilds what follows from the events: history, pair index, counts. */
static int rebuild(melon_session *s, melon_err *err) {
    size_t indexed = s->preloaded_end ? s->stream.n : s->done;
    for (size_t p = 0; p < indexed; p++)
        if (melon_pair_index_add(&s->pairs, s->stream.user[p], s->stream.item[p],
                                 (uint32_t)p, err) != 0)
            return -1;
    if (melon_history_append(&s->history, &s->stream, 0, s->done, err) != 0)
        return -1;
    if (s->has_model && s->model.ops->observe)
        s->model.ops->observe(&s->model, &s->stream, 0, s->done);
    return 0;
}

/* The settings, from their "name=value" lines, on the defaults. */
static int read_config(cursor *c, melon_config *cfg, int *evaluate) {
    if (expect_tag(c, "CONF")) return -1;
    char *text = get_text(c, "settings", 1 << 16);
    if (!text) return -1;
    melon_config_default(cfg);
    *evaluate = 1;
    melon_err inner = {{0}};
    int rc = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && !rc;
         line = strtok_r(NULL, "\n", &save))
        if (session_apply_setting(cfg, evaluate, line, &inner) != 0)
            rc = fail_at(c, "settings: ", inner.msg);
    free(text);
    if (rc) melon_config_free(cfg);
    return rc;
}

/* zlib's CRC-32 of n bytes, in blocks of 16 MB checksummed in parallel
 * and joined by crc32_combine (the same value as one pass). */
#define CRC_BLOCK ((size_t)1 << 24)
static uint32_t payload_crc(const unsigned char *p, size_t n) {
    size_t blocks = n / CRC_BLOCK + 1;
    uLong *part = malloc(blocks * sizeof *part);
    if (!part || blocks == 1) {
        free(part);
        uLong sum = crc32(0L, Z_NULL, 0);
        for (size_t at = 0; at < n;) {
            uInt len = n - at > CRC_BLOCK ? (uInt)CRC_BLOCK : (uInt)(n - at);
            sum = crc32(sum, p + at, len);
            at += len;
        }
        return (uint32_t)sum;
    }
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < blocks; b++) {
        size_t at = b * CRC_BLOCK;
        size_t len = n - at < CRC_BLOCK ? n - at : CRC_BLOCK;
        part[b] = crc32(crc32(0L, Z_NULL, 0), p + at, (uInt)len);
    }
    uLong sum = part[0];
    for (size_t b = 1; b < blocks; b++) {
        size_t at = b * CRC_BLOCK;
        size_t len = n - at < CRC_BLOCK ? n - at : CRC_BLOCK;
        sum = crc32_combine(sum, part[b], (z_off_t)len);
    }
    free(part);
    return (uint32_t)sum;
}

static int open_mapped(const unsigned char *data, size_t size,
                       const char *path, melon_session **out, melon_err *err) {
    *out = NULL;
    if (size < HEADER_BYTES + TRAILER_BYTES || memcmp(data, ckpt_magic, 8) != 0)
        return melon_fail(err, "%s: not a melon checkpoint (%zu bytes, no "
                               "MELONCKP header)", path, size);
    uint32_t head[2];
    memcpy(head, data + 8, sizeof head);
    if (head[1] != CKPT_ENDIAN)
        return melon_fail(err, "%s: checkpoint written on a machine of the "
                               "other byte order", path);
    if (head[0] != CKPT_VERSION)
        return melon_fail(err, "%s: checkpoint format version %u; this melon "
                               "reads version %u", path, head[0], CKPT_VERSION);
    const unsigned char *tail = data + size - TRAILER_BYTES;
    uint64_t length;
    uint32_t crc;
    memcpy(&length, tail + 8, sizeof length);
    memcpy(&crc, tail + 16, sizeof crc);
    if (memcmp(tail, ckpt_end, 8) != 0 ||
        length != size - HEADER_BYTES - TRAILER_BYTES)
        return melon_fail(err, "%s: truncated checkpoint (%zu bytes; its end "
                               "marker is missing or its length is wrong)",
                          path, size);
    const unsigned char *payload = data + HEADER_BYTES;
    uint32_t sum = payload_crc(payload, length);
    if (sum != crc)
        return melon_fail(err, "%s: corrupted checkpoint (CRC-32 %08x, the "
                               "trailer says %08x)", path, (unsigned)sum, crc);
    cursor c = {payload, payload + length, path, payload, err, 0};
    melon_config cfg;
    int evaluate;
    melon_session *s = NULL;
    int created = read_config(&c, &cfg, &evaluate);
    if (created != 0) return created;
    created = session_create_config(&s, &cfg, evaluate, err);
    melon_config_free(&cfg);
    if (created != 0) return created;
    s->restoring = 1;
    if (read_ids(&c, "USRS", &s->users) || read_ids(&c, "ITMS", &s->items) ||
        read_stream(&c, s) || read_model(&c, s) || read_results(&c, s) ||
        rebuild(s, err) != 0) {
        melon_free(s);
        return -1;
    }
    s->restoring = 0;
    if (c.at != c.end) {
        melon_free(s);
        return melon_fail(err, "%s: corrupted checkpoint: %zu bytes after the "
                               "last section", path, (size_t)(c.end - c.at));
    }
    *out = s;
    return 0;
}

int melon_open(melon_session **out, const char *path, melon_err *err) {
    melon_err scratch;
    if (!err) err = &scratch;
    if (!out) return melon_fail(err, "melon_open: out is NULL");
    *out = NULL;
    if (!path) return melon_fail(err, "melon_open: path is NULL");
    int fd = open(path, O_RDONLY);
    if (fd < 0) return melon_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return melon_fail(err, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    void *data = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (size && data == MAP_FAILED)
        return melon_fail(err, "%s: cannot map: %s", path, strerror(errno));
    static const unsigned char empty[1];
    int rc = open_mapped(size ? data : empty, size, path, out, err);
    if (size) munmap(data, size);
    return rc;
}

int melon_load(melon_session *s, const char *path, melon_err *err) {
    melon_err scratch;
    if (!err) err = &scratch;
    if (!s) return session_usable(s, err);
    melon_session *loaded;
    int rc = melon_open(&loaded, path, err);
    if (rc != 0) return rc;
    if (strcmp(loaded->cfg.model.name, s->cfg.model.name) != 0 ||
        strcmp(loaded->cfg.run.strategy, s->cfg.run.strategy) != 0) {
        rc = melon_fail(err, "%s: a checkpoint of model '%s' with strategy "
                             "'%s'; this session has model '%s' with "
                             "strategy '%s'",
                        path, loaded->cfg.model.name, loaded->cfg.run.strategy,
                        s->cfg.model.name, s->cfg.run.strategy);
        melon_free(loaded);
        return rc;
    }
    pthread_rwlock_wrlock(&s->lock);
    session_swap_state(s, loaded);
    pthread_rwlock_unlock(&s->lock);
    melon_free(loaded);
    return 0;
}
