/* Hash sharding of table rows (docs/scale.md). */
#include "shard.h"

#include "nn/nn.h"

#include <stdlib.h>
#include <string.h>

void melon_shard_map_free(melon_shard_map *map) {
    free(map->owner);
    free(map->local);
    free(map->n_owned);
    memset(map, 0, sizeof *map);
}

int melon_shard_map_init(melon_shard_map *map, int32_t n_rows, int n_ranks,
                         uint64_t salt, melon_err *err) {
    memset(map, 0, sizeof *map);
    size_t rows = (size_t)(n_rows > 0 ? n_rows : 1);
    map->n_ranks = n_ranks;
    map->n_rows = n_rows;
    map->owner = melon_alloc(rows * sizeof *map->owner, err);
    map->local = melon_alloc(rows * sizeof *map->local, err);
    map->n_owned = melon_calloc((size_t)n_ranks, sizeof *map->n_owned, err);
    if (!map->owner || !map->local || !map->n_owned) {
        melon_shard_map_free(map);
        return -1;
    }
    for (int32_t row = 0; row < n_rows; row++) {
        int owner = (int)(melon_mix64((uint64_t)row ^ salt) % (uint64_t)n_ranks);
        map->owner[row] = owner;
        map->local[row] = map->n_owned[owner]++;
    }
    return 0;
}

static const melon_shard_map *map_of(const melon_tensor *t,
                                     const melon_shard_map *users,
                                     const melon_shard_map *items) {
    return t->kind == MELON_USER_TABLE ? users : items;
}

int melon_shard_model_create(melon_model *shard, const melon_config *cfg,
                             const melon_shard_map *users,
                             const melon_shard_map *items, int rank,
                             melon_err *err) {
    int32_t n_users = users->n_owned[rank], n_items = items->n_owned[rank];
    melon_model_config model_cfg = cfg->model;
    model_cfg.seed = cfg->run.seed; /* the model's init follows the run's seed */
    if (melon_model_create(shard, model_cfg.name, n_users > 0 ? n_users : 1,
                           n_items > 0 ? n_items : 1, &model_cfg,
                           cfg->run.batch_size, err) != 0)
        return -1;
    float *row = NULL;
    for (int k = 0; k < shard->n_tensors; k++) {
        melon_tensor *t = &shard->tensor[k];
        if (t->kind == MELON_DENSE) {
            free(row);
            melon_model_free(shard);
            return melon_fail(err, "the distributed replay shards embedding "
                                   "tables only; model '%s' has the dense "
                                   "tensor '%s'", cfg->model.name, t->name);
        }
        free(row);
        row = melon_alloc((size_t)t->cols * sizeof *row, err);
        if (!row) {
            melon_model_free(shard);
            return -1;
        }
        /* the stream of melon_model_add_tensor, walked over every row of
         * the whole table, keeping this rank's */
        const melon_shard_map *map = map_of(t, users, items);
        melon_rng rng;
        melon_rng_seed_stream(&rng, shard->cfg.seed, (uint64_t)k);
        for (int32_t r = 0; r < map->n_rows; r++) {
            melon_init_normal(row, (size_t)t->cols, shard->cfg.init_std, &rng);
            if (map->owner[r] == rank)
                memcpy(t->value + (size_t)map->local[r] * t->cols, row,
                       (size_t)t->cols * sizeof *row);
        }
    }
    free(row);
    return 0;
}
