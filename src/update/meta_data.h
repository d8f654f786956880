/* Which support and query data a meta step uses, a setting of every
 * meta-learned strategy (update-strategies.md section 2). */
#ifndef MELON_UPDATE_META_DATA_H
#define MELON_UPDATE_META_DATA_H

typedef enum {
    MELON_META_LAST_BATCH,  /* S_t = the users' and items' previous
                               interactions, Q_t = B_t (the reference) */
    MELON_META_NEXT_BATCH   /* S = B_{t-1} on the stored Theta_{t-1},
                               Q = B_t */
} melon_meta_data;

/* "last-batch", "next-batch": the names of the settings tables */
#define MELON_META_DATA_NAMES {"last-batch", "next-batch", NULL}

#endif
