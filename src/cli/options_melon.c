/* Options of the MeLON strategy and its ablations. */
#include "strategy_options.h"

const char *const meta_data_names[] = {"last-batch", "next-batch", NULL};
const char *const neighbor_mode_names[] = {"uniform", "recent", NULL};
static const char *const variant_names[] = {"paper", "official", NULL};
static const char *const aggregation_names[] = {"mean", "sum", NULL};
static const char *const empty_history_names[] = {"zero", "self", NULL};
static const char *const p_inputs_names[] = {"batch", "interaction", NULL};

const option_spec *options_melon(melon_config *cfg) {
    melon_melon_config *m = &cfg->melon;
    static option_spec specs[24];
    int n = 0;
    specs[n++] = (option_spec){"melon-variant", OPT_ENUM, &m->variant, "FORM",
        "MeLON as the paper defines it (Eq. 8-13) or as the authors' code "
        "implements it", 0, 0, variant_names, NULL};
    specs[n++] = (option_spec){"max-edge", OPT_INT, &m->max_edge, "N",
        "MeLON: neighbours per user or item in the attention", 0, 1000, NULL, NULL};
    specs[n++] = (option_spec){"neighbors", OPT_ENUM, &m->neighbors, "HOW",
        "MeLON: which neighbours when there are more", 0, 0, neighbor_mode_names, NULL};
    specs[n++] = (option_spec){"melon-interaction-width", OPT_INT, &m->interaction_width,
        "W", "MeLON: width of the interaction representation h_x (official "
        "form: of h)", 1, 1024, NULL, NULL};
    specs[n++] = (option_spec){"melon-role-width", OPT_INT, &m->role_width, "W",
        "MeLON: width of the role MLP layers (Eq. 11; official form: of the "
        "role map z = A p + a)", 1, 1024, NULL, NULL};
    specs[n++] = (option_spec){"melon-role-layers", OPT_INT, &m->role_layers, "L",
        "MeLON paper form: layers of the role MLP", 1, 8, NULL, NULL};
    specs[n++] = (option_spec){"melon-extended-width", OPT_INT, &m->extended_width,
        "W", "MeLON paper form: width of the extended embeddings (0: the "
        "embedding size)",
        0, 4096, NULL, NULL};
    specs[n++] = (option_spec){"melon-leaky-slope", OPT_FLOAT, &m->leaky_slope, "S",
        "MeLON paper form: negative slope of the attention's LeakyReLU (the "
        "official form uses the authors' 0.01)", 0, 1, NULL, NULL};
    specs[n++] = (option_spec){"melon-aggregation", OPT_ENUM, &m->aggregation, "HOW",
        "MeLON paper form: combine the rates of the interactions touching a "
        "parameter by mean or by the sum of Eq. 5 (the official form "
        "averages)", 0, 0, aggregation_names, NULL};
    specs[n++] = (option_spec){"melon-init-lr-bias", OPT_FLOAT, &m->init_lr_bias, "B",
        "MeLON paper form: initial bias b_lr of the adaptation layer (Eq. 12)",
        -50, 50, NULL, NULL};
    specs[n++] = (option_spec){"melon-rate-scale", OPT_FLOAT | OPT_ABOVE_MIN, &m->rate_scale, "S",
        "MeLON paper form: multiply every rate of Eq. 13 by S, so no rate "
        "exceeds S (1: the paper; --dump-lr-matrix writes the rates before "
        "the scaling)", 0, 1, NULL, NULL};
    specs[n++] = (option_spec){"melon-meta-lr", OPT_FLOAT, &m->meta_lr, "LR",
        "MeLON: Adam learning rate of the meta-model", 0, 10, NULL, NULL};
    specs[n++] = (option_spec){"melon-meta-l2", OPT_FLOAT, &m->meta_l2, "L2",
        "MeLON: L2 on the meta-model's weights", 0, 10, NULL, NULL};
    specs[n++] = (option_spec){"melon-leaky-trial", OPT_FLAG, &m->leaky_trial, NULL,
        "MeLON: keep the trial update of rows the batch does not touch, as the "
        "authors' code does", 0, 0, NULL, NULL};
    specs[n++] = (option_spec){"melon-meta-data", OPT_ENUM, &m->meta_data, "WHICH",
        "MeLON: support/query data of a meta step (the paper form: last-batch)",
        0, 0, meta_data_names, NULL};
    specs[n++] = (option_spec){"melon-preprocess-theta", OPT_FLAG,
        &m->preprocess_theta, NULL, "MeLON paper form: feed rho(theta) to the "
        "role MLP instead of theta itself (Eq. 11)", 0, 0, NULL, NULL};
    specs[n++] = (option_spec){"melon-empty-history", OPT_ENUM, &m->empty_history,
        "HOW", "MeLON paper form: the neighbour aggregate of a user or item "
        "without history (Eq. 8): the zero vector or its own embedding",
        0, 0, empty_history_names, NULL};
    specs[n++] = (option_spec){"melon-p-inputs", OPT_ENUM, &m->p_inputs, "WHICH",
        "MeLON paper form, melon-p: the role MLP's loss and gradient inputs, "
        "batch means (every column of W constant) or each interaction's own",
        0, 0, p_inputs_names, NULL};
    specs[n++] = (option_spec){"dump-lr-matrix", OPT_STRING, &m->dump_lr_matrix,
        "FILE.csv", "MeLON: write the learning-rate matrix W of one online batch "
        "(Figure 4)", 0, 0, NULL, NULL};
    specs[n++] = (option_spec){"dump-batch", OPT_INT, &m->dump_batch, "K",
        "MeLON: which online batch --dump-lr-matrix writes (0 = the first)",
        0, 1e9, NULL, NULL};
    specs[n] = (option_spec){0};
    return specs;
}
