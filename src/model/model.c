/* Model registry and the parts every model shares: configuration, tensors,
 * slot buffers, copies. */
#include "model_internal.h"

#include "nn/nn.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*create)(melon_model *m, melon_err *err);
    void *(*state)(const melon_model *m, size_t *bytes);
} model_kind;

static const model_kind registry[] = {
    {"bpr", melon_bpr_create, NULL},
    {"ncf", melon_ncf_create, NULL},
    {"pop", melon_pop_create, melon_pop_state},
};
#define N_KINDS (sizeof registry / sizeof registry[0])

static const model_kind *kind_named(const char *name) {
    for (size_t k = 0; k < N_KINDS; k++)
        if (strcmp(registry[k].name, name) == 0) return &registry[k];
    return NULL;
}

static int check_config(const melon_model_config *cfg, const char *name,
                        melon_err *err) {
    if (cfg->dim < 1)
        return melon_fail(err, "model '%s': embedding size %d must be >= 1",
                          name, cfg->dim);
    if (!(cfg->init_std >= 0.0f))
        return melon_fail(err, "model '%s': init_std %g must be >= 0", name,
                          (double)cfg->init_std);
    if (strcmp(name, "ncf") != 0) return 0;
    if (cfg->layers.n < 1 || cfg->layers.n > MELON_MAX_LAYERS)
        return melon_fail(err, "model 'ncf': %d layers, expected 1 to %d",
                          cfg->layers.n, MELON_MAX_LAYERS);
    for (int l = 0; l < cfg->layers.n; l++)
        if (cfg->layers.w[l] < 1)
            return melon_fail(err, "model 'ncf': layer %d has width %d, "
                                   "expected >= 1", l + 1, cfg->layers.w[l]);
    return 0;
}

int melon_model_create(melon_model *m, const char *name, int32_t n_users,
                       int32_t n_items, const melon_model_config *cfg,
                       int max_triples, melon_err *err) {
    memset(m, 0, sizeof *m);
    const model_kind *kind = name ? kind_named(name) : NULL;
    if (!kind) {
        char names[128] = "";
        for (size_t k = 0; k < N_KINDS; k++) {
            if (k) strcat(names, ", ");
            strcat(names, registry[k].name);
        }
        return melon_fail(err, "unknown model '%s' (known: %s)",
                          name ? name : "(null)", names);
    }
    if (n_users < 1 || n_items < 1)
        return melon_fail(err, "model '%s': needs at least one user and one "
                               "item (got %d users, %d items)",
                          name, (int)n_users, (int)n_items);
    if (max_triples < 1 || max_triples > INT_MAX / 2)
        return melon_fail(err, "model '%s': max_triples %d must be in "
                               "[1, %d]", name, max_triples, INT_MAX / 2);
    if (cfg) {
        m->cfg = *cfg;
    } else {
        melon_model_config_default(&m->cfg);
    }
    if (check_config(&m->cfg, name, err) != 0) return -1;
    m->n_users = n_users;
    m->n_items = n_items;
    m->max_triples = max_triples;
    if (kind->create(m, err) != 0) {
        melon_model_free(m);
        return -1;
    }
    return 0;
}

void melon_model_free(melon_model *m) {
    if (m->ops && m->ops->free_impl) m->ops->free_impl(m);
    for (int k = 0; k < MELON_MAX_TENSORS; k++) free(m->tensor[k].value);
    memset(m, 0, sizeof *m);
}

int melon_model_has_parameters(const melon_model *m) {
    return m->n_tensors > 0;
}

double melon_model_mean_loss(melon_model *m, const melon_triple *triples,
                             int n, int32_t *users, int32_t *items,
                             float *scores) {
    if (n <= 0) return NAN;
    for (int r = 0; r < n; r++) {
        users[2 * r] = users[2 * r + 1] = triples[r].user;
        items[2 * r] = triples[r].item;
        items[2 * r + 1] = triples[r].negative;
    }
    m->ops->score(m, users, items, 2 * (size_t)n, scores);
    double sum = 0.0;
    for (int r = 0; r < n; r++) sum += melon_softplus(-(scores[2 * r] - scores[2 * r + 1]));
    return sum / n;
}

int melon_model_add_tensor(melon_model *m, const char *name,
                           melon_tensor_kind kind, int rows, int cols,
                           int decay, melon_err *err) {
    return melon_model_add_tensor_std(m, name, kind, rows, cols, decay,
                                      m->cfg.init_std, err);
}

int melon_model_add_tensor_std(melon_model *m, const char *name,
                               melon_tensor_kind kind, int rows, int cols,
                               int decay, float std, melon_err *err) {
    if (m->n_tensors >= MELON_MAX_TENSORS)
        return melon_fail(err, "model '%s': more than %d tensors",
                          m->ops ? m->ops->name : "?", MELON_MAX_TENSORS);
    size_t size = (size_t)rows * (size_t)cols;
    float *value = melon_alloc(size * sizeof(float), err);
    if (!value) return -1;
    melon_rng *rng = &m->init_rng[m->n_tensors];
    melon_rng_seed_stream(rng, m->cfg.seed, (uint64_t)m->n_tensors);
    melon_init_normal(value, size, std, rng);
    melon_tensor *t = &m->tensor[m->n_tensors++];
    t->name = name;
    t->kind = kind;
    t->rows = rows;
    t->cols = cols;
    t->value = value;
    t->decay = decay;
    t->cap_rows = rows;
    t->init_std = std;
    return 0;
}

/* Grows table k to `rows` rows, drawing the new ones from its stream (or
 * zeroing them when draw is 0). */
static int grow_tensor(melon_model *m, int k, int32_t rows, int draw,
                       melon_err *err) {
    melon_tensor *t = &m->tensor[k];
    if (rows <= t->rows) return 0;
    if (rows > t->cap_rows) {
        size_t cap = t->cap_rows > 0 ? (size_t)t->cap_rows : 16;
        while (cap < (size_t)rows) cap *= 2;
        if (cap > INT32_MAX) cap = INT32_MAX;
        /* room for cap rows; the new rows are filled below */
        float *value = melon_grow_rows(t->value, (size_t)t->cols * sizeof(float),
                                       (size_t)t->rows, (size_t)t->rows, cap, 0,
                                       err);
        if (!value)
            return melon_fail(err, "model: out of memory growing '%s' to %zu "
                                   "rows", t->name, cap);
        t->value = value;
        t->cap_rows = (int)cap;
    }
    size_t old = (size_t)t->rows * (size_t)t->cols;
    size_t added = (size_t)(rows - t->rows) * (size_t)t->cols;
    if (draw) melon_init_normal(t->value + old, added, t->init_std, &m->init_rng[k]);
    else memset(t->value + old, 0, added * sizeof(float));
    t->rows = rows;
    return 0;
}

static int grow(melon_model *m, int32_t n_users, int32_t n_items, int draw,
                melon_err *err) {
    int32_t old_users = m->n_users, old_items = m->n_items;
    if (n_users < old_users) n_users = old_users;
    if (n_items < old_items) n_items = old_items;
    if (n_users == old_users && n_items == old_items) return 0;
    /* on failure every table keeps its rows and its stream */
    int32_t rows[MELON_MAX_TENSORS];
    melon_rng streams[MELON_MAX_TENSORS];
    for (int k = 0; k < m->n_tensors; k++) {
        rows[k] = m->tensor[k].rows;
        streams[k] = m->init_rng[k];
    }
    int rc = 0;
    for (int k = 0; k < m->n_tensors && rc == 0; k++) {
        melon_tensor_kind kind = m->tensor[k].kind;
        if (kind == MELON_DENSE) continue;
        rc = grow_tensor(m, k, kind == MELON_USER_TABLE ? n_users : n_items,
                         draw, err);
    }
    if (rc == 0) {
        m->n_users = n_users;
        m->n_items = n_items;
        if (m->ops->grow) rc = m->ops->grow(m, old_users, old_items, err);
    }
    if (rc != 0) {
        for (int k = 0; k < m->n_tensors; k++) {
            m->tensor[k].rows = rows[k];
            m->init_rng[k] = streams[k];
        }
        m->n_users = old_users;
        m->n_items = old_items;
        return -1;
    }
    return 0;
}

int melon_model_grow(melon_model *m, int32_t n_users, int32_t n_items,
                     melon_err *err) {
    return grow(m, n_users, n_items, 1, err);
}

int melon_model_grow_undrawn(melon_model *m, int32_t n_users, int32_t n_items,
                             melon_err *err) {
    return grow(m, n_users, n_items, 0, err);
}

void *melon_model_state(const melon_model *m, size_t *bytes) {
    *bytes = 0;
    if (!m->ops) return NULL;
    const model_kind *kind = kind_named(m->ops->name);
    if (!kind || !kind->state) return NULL;
    return kind->state(m, bytes);
}

void melon_check_triples(const melon_model *m, int n, const melon_grads *g) {
    if (n >= 0 && n <= m->max_triples && n <= g->capacity &&
        g->n_tensors == m->n_tensors)
        return;
    fprintf(stderr,
            "melon: forward_backward of %d triples exceeds the capacity "
            "(model %d, slot buffers %d) or the slots belong to another "
            "model\n",
            n, m->max_triples, g->capacity);
    abort();
}

void melon_model_copy_values(melon_model *dst, const melon_model *src) {
    for (int k = 0; k < src->n_tensors && k < dst->n_tensors; k++) {
        const melon_tensor *from = &src->tensor[k];
        melon_tensor *to = &dst->tensor[k];
        size_t size = (size_t)from->rows * (size_t)from->cols;
        if ((size_t)to->rows * (size_t)to->cols == size)
            memcpy(to->value, from->value, size * sizeof(float));
    }
    size_t src_bytes, dst_bytes;
    const void *from_state = melon_model_state(src, &src_bytes);
    void *to_state = melon_model_state(dst, &dst_bytes);
    if (from_state && to_state && src_bytes == dst_bytes)
        memcpy(to_state, from_state, src_bytes);
}

/* Slot buffers (model.h): [capacity][2][width] per tensor, plus the layer
 * inputs [capacity][2][cols] of dense tensors. */
int melon_grads_init(melon_grads *g, const melon_model *m, int capacity,
                     melon_err *err) {
    memset(g, 0, sizeof *g);
    if (capacity < 1)
        return melon_fail(err, "slot buffers: capacity %d must be >= 1",
                          capacity);
    g->capacity = capacity;
    g->n_tensors = m->n_tensors;
    g->loss = melon_calloc((size_t)capacity, sizeof(float), err);
    g->kappa = melon_calloc((size_t)capacity, sizeof(float), err);
    if (!g->loss || !g->kappa) goto fail;
    size_t pairs = 2 * (size_t)capacity;
    for (int k = 0; k < m->n_tensors; k++) {
        const melon_tensor *t = &m->tensor[k];
        g->slot[k] =
            melon_calloc(pairs * (size_t)melon_slot_width(t), sizeof(float),
                         err);
        if (!g->slot[k]) goto fail;
        if (t->kind == MELON_DENSE) {
            g->input[k] =
                melon_calloc(pairs * (size_t)t->cols, sizeof(float), err);
            if (!g->input[k]) goto fail;
        }
    }
    return 0;
fail:
    melon_grads_free(g);
    return -1;
}

void melon_grads_free(melon_grads *g) {
    free(g->loss);
    free(g->kappa);
    for (int k = 0; k < MELON_MAX_TENSORS; k++) {
        free(g->slot[k]);
        free(g->input[k]);
    }
    memset(g, 0, sizeof *g);
}
