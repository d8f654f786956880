/* Parameter files. Layout (host byte order, checked through a marker):
 *   "MELONMDL"              8 bytes
 *   version, byte-order     uint32 each (1, 0x01020304)
 *   model name              uint32 length + bytes
 *   n_users, n_items        int32 each
 *   n_tensors               uint32
 *   per tensor              uint32 name length + name, uint32 kind,
 *                           int32 rows, int32 cols
 *   state bytes             uint64 (model state beyond the tensors: pop)
 *   values                  float32 rows * cols per tensor, in order
 *   state                   the state bytes
 * A file is written through melon_atomic_file (a temporary renamed into
 * place), so a failed save never leaves a half-written file; a failed load
 * leaves the model unchanged. */
#include "model_internal.h"

#include "core/atomic_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char model_magic[8] = {'M', 'E', 'L', 'O', 'N', 'M', 'D', 'L'};
#define MODEL_FILE_VERSION 1u
#define BYTE_ORDER_MARK 0x01020304u
#define MAX_NAME 255u

static const char *kind_name(uint32_t kind) {
    switch (kind) {
    case MELON_USER_TABLE: return "user table";
    case MELON_ITEM_TABLE: return "item table";
    case MELON_DENSE: return "dense";
    default: return "unknown kind";
    }
}

static int write_u32(FILE *f, uint32_t v) { return fwrite(&v, 4, 1, f) == 1; }
static int write_i32(FILE *f, int32_t v) { return fwrite(&v, 4, 1, f) == 1; }

static int write_name(FILE *f, const char *name) {
    uint32_t len = (uint32_t)strlen(name);
    return write_u32(f, len) && fwrite(name, 1, len, f) == len;
}

static int write_body(FILE *f, const melon_model *m) {
    size_t state_bytes;
    const void *state = melon_model_state(m, &state_bytes);
    uint64_t state_size = state_bytes;
    int ok = fwrite(model_magic, 1, 8, f) == 8 &&
             write_u32(f, MODEL_FILE_VERSION) &&
             write_u32(f, BYTE_ORDER_MARK) &&
             write_name(f, m->ops->name) && write_i32(f, m->n_users) &&
             write_i32(f, m->n_items) && write_u32(f, (uint32_t)m->n_tensors);
    for (int k = 0; ok && k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        ok = write_name(f, t->name) && write_u32(f, (uint32_t)t->kind) &&
             write_i32(f, t->rows) && write_i32(f, t->cols);
    }
    ok = ok && fwrite(&state_size, 8, 1, f) == 1;
    for (int k = 0; ok && k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        size_t size = (size_t)t->rows * (size_t)t->cols;
        ok = fwrite(t->value, sizeof(float), size, f) == size;
    }
    if (ok && state_bytes) ok = fwrite(state, 1, state_bytes, f) == state_bytes;
    return ok;
}

int melon_model_save(const melon_model *m, const char *path, melon_err *err) {
    if (!m->ops) return melon_fail(err, "%s: no model to save", path);
    melon_atomic_file af;
    if (melon_atomic_open(&af, path, err) != 0) return -1;
    errno = 0;
    if (!write_body(af.f, m)) {
        int why = errno ? errno : EIO;
        melon_atomic_abort(&af);
        return melon_fail(err, "%s: cannot write the model file: %s", path,
                          strerror(why));
    }
    return melon_atomic_commit(&af, err);
}

/* Reading, with the file name in every message. */
typedef struct {
    FILE *f;
    const char *path;
    melon_err *err;
} reader;

static int read_exact(reader *rd, void *dst, size_t bytes, const char *what) {
    if (fread(dst, 1, bytes, rd->f) != bytes)
        return melon_fail(rd->err, "%s: truncated model file (while reading "
                                   "%s)", rd->path, what);
    return 0;
}

static int read_name(reader *rd, char *name, const char *what) {
    uint32_t len;
    if (read_exact(rd, &len, 4, what) != 0) return -1;
    if (len > MAX_NAME)
        return melon_fail(rd->err, "%s: %s has length %u (corrupt file?)",
                          rd->path, what, len);
    if (read_exact(rd, name, len, what) != 0) return -1;
    name[len] = 0;
    return 0;
}

/* Checks the header against the model; leaves the reader at the values. */
static int read_header(reader *rd, const melon_model *m, uint64_t *state_size) {
    char magic[8];
    uint32_t version, order, n_tensors;
    int32_t n_users, n_items;
    char name[MAX_NAME + 1];
    if (read_exact(rd, magic, 8, "the magic") != 0) return -1;
    if (memcmp(magic, model_magic, 8) != 0)
        return melon_fail(rd->err, "%s: not a melon model file (bad magic)",
                          rd->path);
    if (read_exact(rd, &version, 4, "the version") != 0 ||
        read_exact(rd, &order, 4, "the byte-order marker") != 0)
        return -1;
    if (version != MODEL_FILE_VERSION)
        return melon_fail(rd->err, "%s: model file version %u, this build "
                                   "reads version %u",
                          rd->path, version, MODEL_FILE_VERSION);
    if (order != BYTE_ORDER_MARK)
        return melon_fail(rd->err, "%s: written on a machine of another byte "
                                   "order", rd->path);
    if (read_name(rd, name, "the model name") != 0) return -1;
    if (strcmp(name, m->ops->name) != 0)
        return melon_fail(rd->err, "%s: holds a '%s' model, not '%s'",
                          rd->path, name, m->ops->name);
    if (read_exact(rd, &n_users, 4, "the user count") != 0 ||
        read_exact(rd, &n_items, 4, "the item count") != 0 ||
        read_exact(rd, &n_tensors, 4, "the tensor count") != 0)
        return -1;
    if (n_users != m->n_users || n_items != m->n_items)
        return melon_fail(rd->err, "%s: saved for %d users and %d items, the "
                                   "model has %d users and %d items",
                          rd->path, (int)n_users, (int)n_items,
                          (int)m->n_users, (int)m->n_items);
    if (n_tensors != (uint32_t)m->n_tensors)
        return melon_fail(rd->err, "%s: %u tensors in the file, %d in the "
                                   "model", rd->path, n_tensors, m->n_tensors);
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        uint32_t kind;
        int32_t rows, cols;
        if (read_name(rd, name, "a tensor name") != 0 ||
            read_exact(rd, &kind, 4, "a tensor kind") != 0 ||
            read_exact(rd, &rows, 4, "a tensor shape") != 0 ||
            read_exact(rd, &cols, 4, "a tensor shape") != 0)
            return -1;
        if (strcmp(name, t->name) != 0)
            return melon_fail(rd->err, "%s: tensor %d is '%s' in the file, "
                                       "'%s' in the model",
                              rd->path, k + 1, name, t->name);
        if (kind != (uint32_t)t->kind)
            return melon_fail(rd->err, "%s: tensor '%s' is a %s in the file, "
                                       "a %s in the model",
                              rd->path, t->name, kind_name(kind),
                              kind_name((uint32_t)t->kind));
        if (rows != t->rows || cols != t->cols)
            return melon_fail(rd->err, "%s: tensor '%s' is %d x %d in the "
                                       "file, %d x %d in the model",
                              rd->path, t->name, (int)rows, (int)cols,
                              t->rows, t->cols);
    }
    if (read_exact(rd, state_size, 8, "the state size") != 0) return -1;
    return 0;
}

int melon_model_load(melon_model *m, const char *path, melon_err *err) {
    if (!m->ops) return melon_fail(err, "%s: no model to load into", path);
    FILE *f = fopen(path, "rb");
    if (!f) return melon_fail(err, "%s: cannot open the model file", path);
    reader rd = {f, path, err};
    size_t state_bytes;
    void *state = melon_model_state(m, &state_bytes);
    uint64_t file_state;
    float *values = NULL;
    unsigned char *state_copy = NULL;
    int status = -1;
    if (read_header(&rd, m, &file_state) != 0) goto done;
    if (file_state != state_bytes) {
        melon_fail(err, "%s: %llu bytes of model state in the file, the "
                        "model keeps %zu", path,
                   (unsigned long long)file_state, state_bytes);
        goto done;
    }
    /* Read everything before touching the model. */
    size_t total = 0;
    for (int k = 0; k < m->n_tensors; k++)
        total += (size_t)m->tensor[k].rows * (size_t)m->tensor[k].cols;
    values = melon_alloc(total * sizeof(float), err);
    state_copy = melon_alloc(state_bytes, err);
    if (!values || !state_copy) goto done;
    if (read_exact(&rd, values, total * sizeof(float), "the values") != 0 ||
        read_exact(&rd, state_copy, state_bytes, "the model state") != 0)
        goto done;
    if (fgetc(f) != EOF) {
        melon_fail(err, "%s: unexpected data after the parameters", path);
        goto done;
    }
    size_t at = 0;
    for (int k = 0; k < m->n_tensors; k++) {
        melon_tensor *t = &m->tensor[k];
        size_t size = (size_t)t->rows * (size_t)t->cols;
        memcpy(t->value, values + at, size * sizeof(float));
        at += size;
    }
    if (state_bytes) memcpy(state, state_copy, state_bytes);
    status = 0;
done:
    free(values);
    free(state_copy);
    fclose(f);
    return status;
}
