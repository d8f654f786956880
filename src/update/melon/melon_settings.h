/* Settings of the MeLON strategies melon, melon-i and melon-p, in either
 * form (update-strategies.md section A). */
#ifndef MELON_MELON_SETTINGS_H
#define MELON_MELON_SETTINGS_H

#include "melon/history.h"
#include "melon/settings.h"
#include "update/meta_data.h"

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
    int max_edge;                   /* neighbours per node */
    melon_neighbor_mode neighbors;  /* uniform or recent */
    int interaction_width;          /* width of h_x */
    int role_width;                 /* width of the role MLP layers */
    int role_layers;                /* layers of the role MLP */
    int extended_width;             /* width of the extended embeddings:
                                       0 = the embedding size d */
    float leaky_slope;              /* LeakyReLU of the attention (paper) */
    melon_aggregation aggregation;  /* mean or sum of Eq. 5 */
    float init_lr_bias;             /* paper form: initial b_lr */
    float rate_scale;               /* paper form: the step uses s * w, so
                                       s caps every rate (1: Eq. 12-13) */
    float meta_lr;                  /* Adam on the meta-parameters */
    float meta_l2;
    int leaky_trial;                /* official code's trial-update leak */
    melon_meta_data meta_data;
    int preprocess_theta;           /* paper form: rho(theta) instead of
                                       theta as a role input (D.7) */
    melon_empty_history empty_history; /* paper form: zero or the node's
                                          own embedding */
    melon_p_inputs p_inputs;        /* paper-form melon-p: batch-mean loss
                                       and gradient or each interaction's */
    const char *dump_lr_matrix;     /* Figure 4 dump: CSV path, or NULL */
    int dump_batch;                 /* which online batch to dump */
} melon_melon_config;

extern const melon_settings_table melon_melon_settings;

#endif
