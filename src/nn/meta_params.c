#include "nn/meta_params.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Blocks at least this long are updated by all threads (waking a
 * sleeping thread costs more than a shorter block takes on one). */
#define META_PARALLEL_ENTRIES (1L << 18)

void melon_meta_adam_config_default(melon_meta_adam_config *cfg) {
    cfg->lr = 1e-3f;
    cfg->l2 = 0.0f;
    cfg->beta1 = 0.9f;
    cfg->beta2 = 0.999f;
    cfg->eps = 1e-8f;
    cfg->clip = 0.0f;
}

void melon_meta_params_init(melon_meta_params *mp,
                            const melon_meta_adam_config *cfg) {
    memset(mp, 0, sizeof *mp);
    mp->cfg = *cfg;
}

float *melon_meta_params_add(melon_meta_params *mp, const char *name,
                             size_t size, int decay, melon_err *err) {
    if (mp->n_blocks == MELON_MAX_META_BLOCKS) {
        melon_fail(err, "too many meta-parameter blocks (adding '%s')", name);
        return NULL;
    }
    int k = mp->n_blocks;
    melon_meta_block *b = &mp->block[k];
    b->name = name;
    b->size = size;
    b->decay = decay;
    b->value = melon_calloc(size, sizeof(float), err);
    b->grad = melon_calloc(size, sizeof(float), err);
    mp->m[k] = melon_calloc(size, sizeof(float), err);
    mp->v[k] = melon_calloc(size, sizeof(float), err);
    mp->n_blocks++; /* counted even when partly allocated, so free frees it */
    if (!b->value || !b->grad || !mp->m[k] || !mp->v[k]) return NULL;
    return b->value;
}

int melon_meta_params_grow(melon_meta_params *mp, int k, size_t size,
                           size_t room, melon_err *err) {
    melon_meta_block *b = &mp->block[k];
    if (size <= b->size) return 0;
    float **arrays[4] = {&b->value, &b->grad, &mp->m[k], &mp->v[k]};
    for (int a = 0; a < 4; a++) {
        float *grown = melon_grow_rows(*arrays[a], sizeof(float), b->size,
                                       size, room, 0, err);
        if (!grown) return -1;
        *arrays[a] = grown;
    }
    b->size = size;
    return 0;
}

melon_meta_block *melon_meta_params_find(melon_meta_params *mp,
                                         const char *name) {
    for (int k = 0; k < mp->n_blocks; k++)
        if (strcmp(mp->block[k].name, name) == 0) return &mp->block[k];
    return NULL;
}

size_t melon_meta_params_count(const melon_meta_params *mp) {
    size_t total = 0;
    for (int k = 0; k < mp->n_blocks; k++) total += mp->block[k].size;
    return total;
}

void melon_meta_params_zero_grad(melon_meta_params *mp) {
    for (int k = 0; k < mp->n_blocks; k++)
        memset(mp->block[k].grad, 0, mp->block[k].size * sizeof(float));
}

void melon_meta_adam_corrections(const melon_meta_adam_config *c, long step,
                                 float *step_size, float *inv_sqrt_bc2) {
    double bc1 = 1.0 - pow(c->beta1, (double)step);
    double bc2 = 1.0 - pow(c->beta2, (double)step);
    *step_size = (float)(c->lr / bc1);
    *inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
}

/* Each entry on its own, so the SIMD loop gives the same results as one
 * entry at a time. */
void melon_meta_adam_entries(long n, float *restrict value,
                             const float *restrict grad, float *restrict m,
                             float *restrict v, const melon_meta_adam_config *c,
                             float l2, float step_size, float inv_sqrt_bc2) {
    const float beta1 = c->beta1, beta2 = c->beta2, eps = c->eps, clip = c->clip;
    const int clipped = clip > 0.0f;
    for (long a = 0; a < n; a++) {
        float g = grad[a];
        if (clipped) g = fmaxf(-clip, fminf(clip, g));
        g += l2 * value[a];
        m[a] = beta1 * m[a] + (1.0f - beta1) * g;
        v[a] = beta2 * v[a] + (1.0f - beta2) * g * g;
        value[a] -= step_size * m[a] / (sqrtf(v[a]) * inv_sqrt_bc2 + eps);
    }
}

void melon_meta_params_step(melon_meta_params *mp) {
    const melon_meta_adam_config *c = &mp->cfg;
    float step_size, inv_sqrt_bc2;
    melon_meta_adam_corrections(c, ++mp->step, &step_size, &inv_sqrt_bc2);
    for (int k = 0; k < mp->n_blocks; k++) {
        melon_meta_block *b = &mp->block[k];
        float l2 = b->decay ? c->l2 : 0.0f;
        long n = (long)b->size;
        /* large blocks: each thread takes one contiguous part */
#pragma omp parallel if (n >= META_PARALLEL_ENTRIES)
        {
            int t = omp_get_thread_num(), T = omp_get_num_threads();
            long lo = n * t / T, hi = n * (t + 1) / T;
            melon_meta_adam_entries(hi - lo, b->value + lo, b->grad + lo,
                                    mp->m[k] + lo, mp->v[k] + lo, c, l2,
                                    step_size, inv_sqrt_bc2);
        }
    }
}

void melon_meta_params_free(melon_meta_params *mp) {
    for (int k = 0; k < mp->n_blocks; k++) {
        free(mp->block[k].value);
        free(mp->block[k].grad);
        free(mp->m[k]);
        free(mp->v[k]);
    }
    mp->n_blocks = 0;
}

static const char meta_magic[8] = {'M', 'E', 'L', 'M', 'E', 'T', 'A', '1'};

int melon_meta_params_save(const melon_meta_params *mp, FILE *f,
                           melon_err *err) {
    int32_t n = mp->n_blocks;
    int64_t step = mp->step;
    int ok = fwrite(meta_magic, 1, 8, f) == 8 && fwrite(&n, sizeof n, 1, f) == 1 &&
             fwrite(&step, sizeof step, 1, f) == 1;
    for (int k = 0; ok && k < n; k++) {
        const melon_meta_block *b = &mp->block[k];
        uint32_t len = (uint32_t)strlen(b->name);
        uint64_t size = b->size;
        ok = fwrite(&len, sizeof len, 1, f) == 1 &&
             fwrite(b->name, 1, len, f) == len &&
             fwrite(&size, sizeof size, 1, f) == 1 &&
             fwrite(b->value, sizeof(float), b->size, f) == b->size &&
             fwrite(mp->m[k], sizeof(float), b->size, f) == b->size &&
             fwrite(mp->v[k], sizeof(float), b->size, f) == b->size;
    }
    return ok ? 0 : melon_fail(err, "cannot write meta-parameters");
}

int melon_meta_params_load(melon_meta_params *mp, FILE *f, melon_err *err) {
    char magic[8];
    int32_t n;
    int64_t step;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, meta_magic, 8) != 0 ||
        fread(&n, sizeof n, 1, f) != 1 || fread(&step, sizeof step, 1, f) != 1)
        return melon_fail(err, "meta-parameters: bad or truncated header");
    if (n != mp->n_blocks)
        return melon_fail(err, "meta-parameters: %d blocks in the file, %d "
                               "expected", n, mp->n_blocks);
    for (int k = 0; k < n; k++) {
        melon_meta_block *b = &mp->block[k];
        uint32_t len;
        char name[128];
        uint64_t size;
        if (fread(&len, sizeof len, 1, f) != 1 || len >= sizeof name ||
            fread(name, 1, len, f) != len || fread(&size, sizeof size, 1, f) != 1)
            return melon_fail(err, "meta-parameters: truncated block %d", k);
        name[len] = 0;
        if (strcmp(name, b->name) != 0 || size != b->size)
            return melon_fail(err, "meta-parameters: block %d is '%s' (%llu) in "
                                   "the file, '%s' (%zu) expected",
                              k, name, (unsigned long long)size, b->name, b->size);
        if (fread(b->value, sizeof(float), b->size, f) != b->size ||
            fread(mp->m[k], sizeof(float), b->size, f) != b->size ||
            fread(mp->v[k], sizeof(float), b->size, f) != b->size)
            return melon_fail(err, "meta-parameters: truncated values of '%s'",
                              b->name);
    }
    mp->step = step;
    return 0;
}
