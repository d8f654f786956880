/* The MeLON strategies "melon", "melon-i" and "melon-p" (protocol.md
 * section 7; ablations of the paper's Table 3, update-strategies.md A.7),
 * each in the form --melon-variant selects: the paper's (Eq. 8-13,
 * melon_paper*.c) or the authors' code's (A.3-A.6, melon_official*.c). */
#include "update/update_internal.h"

#include "update/melon_paper/melon_paper.h"

static int create_variant(melon_strategy *s, melon_model *m,
                          const melon_melon_config *cfg,
                          const melon_run_shape *shape, melon_ablation ablation,
                          melon_err *err) {
    switch (cfg->variant) {
    case MELON_VARIANT_PAPER:
        return melon_paper_create(s, m, cfg, shape, ablation, err);
    case MELON_VARIANT_OFFICIAL:
        return melon_official_create(s, m, cfg, shape, ablation, err);
    }
    return melon_fail(err, "melon: unknown variant %d", (int)cfg->variant);
}

MELON_CONSTRUCTOR(melon_melon_create) {
    return create_variant(s, m, own, shape, MELON_ABLATION_NONE, err);
}

MELON_CONSTRUCTOR(melon_melon_i_create) {
    return create_variant(s, m, own, shape, MELON_ABLATION_INTERACTION, err);
}

MELON_CONSTRUCTOR(melon_melon_p_create) {
    return create_variant(s, m, own, shape, MELON_ABLATION_PARAMETER, err);
}
