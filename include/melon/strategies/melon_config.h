/* Settings of the MeLON strategy (update-strategies.md section A). */
#ifndef MELON_STRATEGIES_MELON_CONFIG_H
#define MELON_STRATEGIES_MELON_CONFIG_H

#include "melon/history.h"
#include "melon/strategies/meta_data.h"

typedef enum { MELON_VARIANT_PAPER, MELON_VARIANT_OFFICIAL } melon_variant;
typedef enum { MELON_AGG_MEAN, MELON_AGG_SUM } melon_aggregation;

/* Table 3's ablations: strategy "melon", "melon-i", "melon-p". */
typedef enum {
    MELON_ABLATION_NONE,         /* both directions */
    MELON_ABLATION_INTERACTION,  /* melon-i: interaction-wise inputs only */
    MELON_ABLATION_PARAMETER     /* melon-p: parameter-wise inputs only */
} melon_ablation;

/* Paper form: the aggregate of a node without history (A.1, unpinned). */
typedef enum { MELON_EMPTY_ZERO, MELON_EMPTY_SELF } melon_empty_history;
/* Paper form, melon-p: the loss and gradient inputs of Eq. 11 (A.7). */
typedef enum { MELON_P_INPUTS_BATCH, MELON_P_INPUTS_INTERACTION } melon_p_inputs;

typedef struct {
    melon_variant variant;          /* paper (Eq. 8-13) or official code */
    int max_edge;                   /* neighbours per node: 10 */
    melon_neighbor_mode neighbors;  /* uniform (default) or recent */
    int interaction_width;          /* width of h_x: 20 */
    int role_width;                 /* width of the role MLP layers: 20 */
    int role_layers;                /* layers of the role MLP: 2 */
    int extended_width;             /* width of the extended embeddings:
                                       0 = the embedding size d */
    float leaky_slope;              /* LeakyReLU of the attention: 0.2 paper,
                                       0.01 official */
    melon_aggregation aggregation;  /* mean (default) or sum of Eq. 5 */
    float init_lr_bias;             /* paper form: initial b_lr */
    float rate_scale;               /* paper form: the step uses s * w, so
                                       s caps every rate (1: Eq. 12-13) */
    float meta_lr;                  /* Adam on the meta-parameters: 1e-3 */
    float meta_l2;                  /* 1e-6 (run.sh) */
    int leaky_trial;                /* official code's trial-update leak */
    melon_meta_data meta_data;
    int preprocess_theta;           /* paper form: rho(theta) instead of
                                       theta as a role input (D.7) */
    melon_empty_history empty_history; /* paper form: zero (default) or the
                                          node's own embedding */
    melon_p_inputs p_inputs;        /* paper-form melon-p: batch-mean loss
                                       and gradient (default) or each
                                       interaction's own */
    const char *dump_lr_matrix;     /* Figure 4 dump: CSV path, or NULL */
    int dump_batch;                 /* which online batch to dump */
} melon_melon_config;

void melon_melon_config_default(melon_melon_config *cfg);

#endif
