/* Settings of SML (update-strategies.md B.6). */
#ifndef MELON_SML_SETTINGS_H
#define MELON_SML_SETTINGS_H

#include "melon/settings.h"

typedef enum { MELON_SML_BPR, MELON_SML_BCE } melon_sml_loss;

typedef struct {
    int all_rows;        /* transfer every row each batch (0: touched) */
    melon_sml_loss loss; /* bpr, or bce (the original) */
    int inner;           /* outer repetitions (multi_num) */
    float lr;            /* step 1 Adam learning rate */
    float l2;            /* lambda_1 */
    float transfer_lr;   /* step 2 Adam */
    float transfer_l2;   /* lambda_2 */
    int hidden;          /* the transfer's dense width */
} melon_sml_config;

extern const melon_settings_table melon_sml_settings;

#endif
