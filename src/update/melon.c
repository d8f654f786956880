/* The MeLON strategies "melon", "melon-i" and "melon-p" (protocol.md
 * section 7; ablations of the paper's Table 3, update-strategies.md A.7),
 * each in the form --melon-variant selects: the paper's (Eq. 8-13,
 * melon_paper*.c) or the authors' code's (A.3-A.6, melon_official*.c). */
#include "update_internal.h"

#include "update/melon_paper/melon_paper.h"

static int create_variant(melon_strategy *s, melon_model *m,
                          const melon_config *cfg, melon_ablation ablation,
                          melon_err *err) {
    switch (cfg->melon.variant) {
    case MELON_VARIANT_PAPER:
        return melon_paper_create(s, m, cfg, ablation, err);
    case MELON_VARIANT_OFFICIAL:
        return melon_official_create(s, m, cfg, ablation, err);
    }
    return melon_fail(err, "melon: unknown variant %d", (int)cfg->melon.variant);
}

int melon_melon_create(melon_strategy *s, melon_model *m,
                       const melon_config *cfg, melon_err *err) {
    return create_variant(s, m, cfg, MELON_ABLATION_NONE, err);
}

int melon_melon_i_create(melon_strategy *s, melon_model *m,
                         const melon_config *cfg, melon_err *err) {
    return create_variant(s, m, cfg, MELON_ABLATION_INTERACTION, err);
}

int melon_melon_p_create(melon_strategy *s, melon_model *m,
                         const melon_config *cfg, melon_err *err) {
    return create_variant(s, m, cfg, MELON_ABLATION_PARAMETER, err);
}
