/* Options of S2Meta and SML. */
#include "strategy_options.h"

static const char *const scope_names[] = {"touched", "full", NULL};
static const char *const sml_loss_names[] = {"bpr", "bce", NULL};

const option_spec *options_s2meta_sml(melon_config *cfg) {
    melon_s2meta_config *s = &cfg->s2meta;
    melon_sml_config *m = &cfg->sml;
    static option_spec specs[24];
    int n = 0;
    specs[n++] = (option_spec){"s2meta-steps", OPT_INT, &s->steps, "K",
        "S2Meta: inner steps per batch (the original's most: 20)", 1, 20, NULL, NULL};
    specs[n++] = (option_spec){"s2meta-flexible", OPT_FLAG, &s->flexible, NULL,
        "S2Meta: a learned stop controller ends the inner steps, between "
        "--s2meta-min-steps and --s2meta-steps (the original: 4 and 20)", 0, 0, NULL, NULL};
    specs[n++] = (option_spec){"s2meta-min-steps", OPT_INT, &s->min_steps, "M",
        "S2Meta --s2meta-flexible: steps before the controller may stop", 1, 19, NULL, NULL};
    specs[n++] = (option_spec){"s2meta-step-penalty", OPT_FLOAT, &s->step_penalty, "P",
        "S2Meta --s2meta-flexible: cost of a step in the controller's reward", 0, 1e3, NULL, NULL};
    specs[n++] = (option_spec){"s2meta-stop-lr", OPT_FLOAT, &s->stop_lr, "LR",
        "S2Meta --s2meta-flexible: Adam learning rate of the controller", 0, 10, NULL, NULL};
    specs[n++] = (option_spec){"s2meta-carry-state", OPT_FLAG, &s->carry_state, NULL,
        "S2Meta: keep each coordinate's LSTM state across batches", 0, 0, NULL, NULL};
    specs[n++] = (option_spec){"s2meta-scope", OPT_ENUM, &s->scope, "WHICH",
        "S2Meta: update the rows a batch touches or whole tables", 0, 0, scope_names, NULL};
    specs[n++] = (option_spec){"s2meta-hidden", OPT_INT, &s->hidden, "H",
        "S2Meta: MetaLSTM width", 1, 256, NULL, NULL};
    specs[n++] = (option_spec){"s2meta-meta-lr", OPT_FLOAT, &s->meta_lr, "LR",
        "S2Meta: Adam learning rate of the MetaLSTMs", 0, 10, NULL, NULL};
    specs[n++] = (option_spec){"s2meta-clip", OPT_FLOAT, &s->clip, "C",
        "S2Meta: clip meta-gradients by value (0: off)", 0, 1e6, NULL, NULL};
    specs[n++] = (option_spec){"s2meta-meta-data", OPT_ENUM, &s->meta_data, "WHICH",
        "S2Meta: support/query data of a meta step", 0, 0, meta_data_names, NULL};
    specs[n++] = (option_spec){"sml-all-rows", OPT_FLAG, &m->all_rows, NULL,
        "SML: transfer every row each batch, not only the touched ones", 0, 0, NULL, NULL};
    specs[n++] = (option_spec){"sml-loss", OPT_ENUM, &m->loss, "LOSS",
        "SML: loss of the transfer (bce is the original)", 0, 0, sml_loss_names, NULL};
    specs[n++] = (option_spec){"sml-inner", OPT_INT, &m->inner, "N",
        "SML: alternating optimisation rounds per batch", 1, 100, NULL, NULL};
    specs[n++] = (option_spec){"sml-lr", OPT_FLOAT, &m->lr, "LR",
        "SML: Adam learning rate of the new parameters", 0, 10, NULL, NULL};
    specs[n++] = (option_spec){"sml-l2", OPT_FLOAT, &m->l2, "L2",
        "SML: L2 of the new parameters", 0, 10, NULL, NULL};
    specs[n++] = (option_spec){"sml-transfer-lr", OPT_FLOAT, &m->transfer_lr, "LR",
        "SML: Adam learning rate of the transfer networks", 0, 10, NULL, NULL};
    specs[n++] = (option_spec){"sml-transfer-l2", OPT_FLOAT, &m->transfer_l2, "L2",
        "SML: weight decay of the transfer networks", 0, 10, NULL, NULL};
    specs[n++] = (option_spec){"sml-hidden", OPT_INT, &m->hidden, "H",
        "SML: width of the transfer's first dense layer", 1, 65536, NULL, NULL};
    specs[n] = (option_spec){0};
    return specs;
}
