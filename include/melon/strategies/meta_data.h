/* Settings shared by the meta-learned strategies: which support / query
 * data a meta step uses (update-strategies.md section 2). */
#ifndef MELON_STRATEGIES_META_DATA_H
#define MELON_STRATEGIES_META_DATA_H

typedef enum {
    MELON_META_LAST_BATCH,  /* S_t = the users' and items' previous
                               interactions, Q_t = B_t (the reference) */
    MELON_META_NEXT_BATCH   /* S = B_{t-1} on the stored Theta_{t-1},
                               Q = B_t */
} melon_meta_data;

#endif
