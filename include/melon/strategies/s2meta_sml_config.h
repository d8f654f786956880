/* Settings of S2Meta and SML (update-strategies.md B.5-B.6). */
#ifndef MELON_STRATEGIES_S2META_SML_CONFIG_H
#define MELON_STRATEGIES_S2META_SML_CONFIG_H

#include "melon/strategies/meta_data.h"

typedef enum { MELON_SCOPE_TOUCHED, MELON_SCOPE_FULL } melon_scope;

typedef struct {
    int steps;           /* inner steps per batch: 1 (flexible: at most) */
    int flexible;        /* the stop controller picks the steps: 0 */
    int min_steps;       /* flexible: steps before it may stop: 4 */
    float step_penalty;  /* flexible: REINFORCE step penalty: 0 */
    float stop_lr;       /* flexible: Adam learning rate of the controller:
                            1e-4 */
    int carry_state;     /* keep the LSTM state per coordinate: 0 */
    melon_scope scope;   /* touched rows (default) or full tables */
    int hidden;          /* MetaLSTM width: 16 */
    float meta_lr;       /* 1e-4 */
    float clip;          /* meta-gradient clip by value: 0.25 */
    melon_meta_data meta_data;
} melon_s2meta_config;

typedef enum { MELON_SML_BPR, MELON_SML_BCE } melon_sml_loss;

typedef struct {
    int all_rows;        /* transfer every row each batch (0: touched) */
    melon_sml_loss loss; /* bpr (default) or bce (the original) */
    int inner;           /* outer repetitions (multi_num): 1 */
    float lr;            /* step 1 Adam learning rate: 0.01 */
    float l2;            /* lambda_1: 1e-6 */
    float transfer_lr;   /* step 2 Adam: 1e-3 */
    float transfer_l2;   /* lambda_2: 1e-4 */
    int hidden;          /* the transfer's dense width: 512 */
} melon_sml_config;

void melon_s2meta_config_default(melon_s2meta_config *cfg);
void melon_sml_config_default(melon_sml_config *cfg);

#endif
