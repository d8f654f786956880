/* Options of eALS, MWNet and MetaSGD. */
#include "strategy_options.h"

const option_spec *options_baselines(melon_config *cfg) {
    melon_eals_config *e = &cfg->eals;
    melon_mwnet_config *w = &cfg->mwnet;
    melon_metasgd_config *s = &cfg->metasgd;
    static option_spec specs[24];
    int n = 0;
    specs[n++] = (option_spec){"eals-weight", OPT_FLOAT, &e->weight, "W",
        "eALS (eals, eals-replay, eals-als): weight w_new of new interactions",
        0, 1e6, NULL, NULL};
    specs[n++] = (option_spec){"eals-c0", OPT_FLOAT, &e->c0, "C",
        "eals-als: missing-data weight scale", 0, 1e9, NULL, NULL};
    specs[n++] = (option_spec){"eals-alpha", OPT_FLOAT, &e->alpha, "A",
        "eals-als: popularity exponent of the missing-data weights", 0, 10, NULL, NULL};
    specs[n++] = (option_spec){"eals-lambda", OPT_FLOAT, &e->lambda, "L",
        "eals-als: L2 regularisation", 0, 1e6, NULL, NULL};
    specs[n++] = (option_spec){"eals-offline-iters", OPT_INT, &e->offline_iters, "N",
        "eals-als: ALS sweeps over the past, run in the first pre-training call",
        0, 100000, NULL, NULL};
    specs[n++] = (option_spec){"eals-online-iters", OPT_INT, &e->online_iters, "N",
        "eals-als: ALS passes per new interaction", 1, 1000, NULL, NULL};
    specs[n++] = (option_spec){"mwnet-hidden", OPT_INT, &w->hidden, "H",
        "MWNet: hidden width of the weight net", 1, 100000, NULL, NULL};
    specs[n++] = (option_spec){"mwnet-meta-lr", OPT_FLOAT, &w->meta_lr, "LR",
        "MWNet: Adam learning rate of the weight net", 0, 10, NULL, NULL};
    specs[n++] = (option_spec){"mwnet-meta-l2", OPT_FLOAT, &w->meta_l2, "L2",
        "MWNet: weight decay of the weight net", 0, 10, NULL, NULL};
    specs[n++] = (option_spec){"mwnet-trial-lr", OPT_FLOAT, &w->trial_lr, "LR",
        "MWNet: learning rate of the trial step (0: --lr)", 0, 1e6, NULL, NULL};
    specs[n++] = (option_spec){"mwnet-meta-data", OPT_ENUM, &w->meta_data, "WHICH",
        "MWNet: support/query data of a meta step", 0, 0, meta_data_names, NULL};
    specs[n++] = (option_spec){"metasgd-alpha-low", OPT_FLOAT, &s->alpha_low, "A",
        "MetaSGD: lower end of the uniform init of alpha", -10, 10, NULL, NULL};
    specs[n++] = (option_spec){"metasgd-alpha-high", OPT_FLOAT, &s->alpha_high, "A",
        "MetaSGD: upper end of the uniform init of alpha", -10, 10, NULL, NULL};
    specs[n++] = (option_spec){"metasgd-meta-lr", OPT_FLOAT, &s->meta_lr, "LR",
        "MetaSGD: Adam learning rate of alpha", 0, 10, NULL, NULL};
    specs[n++] = (option_spec){"metasgd-dense-adam", OPT_FLAG, &s->dense_adam, NULL,
        "MetaSGD: Adam moves every alpha entry each step", 0, 0, NULL, NULL};
    specs[n++] = (option_spec){"metasgd-meta-data", OPT_ENUM, &s->meta_data, "WHICH",
        "MetaSGD: support/query data of a meta step", 0, 0, meta_data_names, NULL};
    specs[n] = (option_spec){0};
    return specs;
}
