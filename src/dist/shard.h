/* Hash sharding of table rows across the processes of a replay. */
#ifndef MELON_DIST_SHARD_H
#define MELON_DIST_SHARD_H

#include "eval/config.h"
#include "melon/model.h"

#include <stdint.h>

/* Which process owns each row of a table, and where the row sits among
 * that process's rows. Every process holds the whole map (8 bytes a row). */
typedef struct {
    int n_ranks;
    int32_t n_rows;
    int32_t *owner;    /* [n_rows] */
    int32_t *local;    /* [n_rows] index on the owner */
    int32_t *n_owned;  /* [n_ranks] */
} melon_shard_map;

/* owner(row) = mix(row, salt) mod n_ranks: rows of the same table spread
 * evenly whatever their order, and user and item tables (other salts)
 * spread independently. */
int melon_shard_map_init(melon_shard_map *map, int32_t n_rows, int n_ranks,
                         uint64_t salt, melon_err *err);
void melon_shard_map_free(melon_shard_map *map);

/* The model cfg->model with only this rank's rows of every table (at
 * least one row each), initialised to exactly the values the whole model
 * of a single process gives them. Fails for models with dense tensors. */
int melon_shard_model_create(melon_model *shard, const melon_config *cfg,
                             const melon_shard_map *users,
                             const melon_shard_map *items, int rank,
                             melon_err *err);

#endif
