/* The official MeLON's meta-parameters: block shapes, the reference's
 * initialisation (update-strategies.md A.6) and its L2 rule (A.3 item 11:
 * weight decay on every tensor whose name lacks "bias", so Linear and
 * BatchNorm biases are exempt while BatchNorm scales and the gate biases
 * b_F, b_I are decayed). */
#include "melon_official.h"

#include "nn/nn.h"

#include <string.h>

typedef enum { INIT_NORMAL, INIT_ONE, INIT_ZERO, INIT_UNIFORM } init_kind;

typedef struct {
    const char *name;
    size_t size;
    int decay;
    init_kind init;
    float lo, hi;   /* INIT_UNIFORM range */
} block_spec;

static const char *const gat_names[OFFICIAL_SIDES][OB_GAT_BLOCKS] = {
    {"user.att", "user.self_w", "user.self_bias", "user.nb_w",
     "user.nb_bias", "user.out_w"},
    {"item.att", "item.self_w", "item.self_bias", "item.nb_w",
     "item.nb_bias", "item.out_w"}};

/* The spec of block b, or size 0 when the ablation drops it. */
static block_spec spec_of(const official_dims *dm, int b) {
    size_t dn = (size_t)dm->d_node, d = (size_t)dm->d;
    size_t hw = (size_t)dm->hw, zw = (size_t)dm->zw;
    size_t gate = (dm->has_p ? zw : 0) + (dm->has_h ? hw : 0);
    block_spec s = {NULL, 0, 1, INIT_NORMAL, 0.0f, 0.0f};
    if (b < OB_L1_W) {
        s.name = gat_names[b / OB_GAT_BLOCKS][b % OB_GAT_BLOCKS];
        if (!dm->has_h) return s;
        switch (b % OB_GAT_BLOCKS) {
        case OB_ATT: s.size = 2 * dn; break;
        case OB_SELF_W: case OB_NB_W: s.size = d * dn; break;
        case OB_SELF_B: case OB_NB_B: s.size = d; s.decay = 0; break;
        case OB_OUT_W: s.size = d * 2 * d; break;
        }
        return s;
    }
    /* the interaction MLP, the role map and the gates */
    static const block_spec rest[OB_COUNT - OB_L1_W] = {
        {"mlp.l1_w", 0, 1, INIT_NORMAL, 0, 0},
        {"mlp.l1_bias", 0, 0, INIT_NORMAL, 0, 0},
        {"mlp.bn1_weight", 0, 1, INIT_ONE, 0, 0},
        {"mlp.bn1_bias", 0, 0, INIT_ZERO, 0, 0},
        {"mlp.l2_w", 0, 1, INIT_NORMAL, 0, 0},
        {"mlp.l2_bias", 0, 0, INIT_NORMAL, 0, 0},
        {"mlp.bn2_weight", 0, 1, INIT_ONE, 0, 0},
        {"mlp.bn2_bias", 0, 0, INIT_ZERO, 0, 0},
        {"role.A", 0, 1, INIT_NORMAL, 0, 0},
        {"role.bias", 0, 0, INIT_NORMAL, 0, 0},
        {"gate.w_F", 0, 1, INIT_UNIFORM, -0.01f, 0.01f},
        {"gate.w_I", 0, 1, INIT_UNIFORM, -0.01f, 0.01f},
        {"gate.b_F", 0, 1, INIT_UNIFORM, 4.0f, 6.0f},
        {"gate.b_I", 0, 1, INIT_UNIFORM, -5.0f, -4.0f},
    };
    s = rest[b - OB_L1_W];
    switch (b) {
    case OB_L1_W: s.size = hw * 2 * d; break;
    case OB_L2_W: s.size = hw * hw; break;
    case OB_ROLE_W: s.size = zw * 4; break;
    case OB_ROLE_B: s.size = zw; break;
    case OB_GATE_F: case OB_GATE_I: s.size = gate; break;
    case OB_GATE_F_B: case OB_GATE_I_B: s.size = 1; break;
    default: s.size = hw; break; /* biases and BatchNorm of the MLP */
    }
    if (b <= OB_BN2_B && !dm->has_h) s.size = 0;
    if ((b == OB_ROLE_W || b == OB_ROLE_B) && !dm->has_p) s.size = 0;
    return s;
}

int official_params_init(official_params *p, const official_dims *dims,
                         const melon_meta_adam_config *adam, melon_rng *rng,
                         melon_err *err) {
    memset(p, 0, sizeof *p);
    p->dims = *dims;
    melon_meta_params_init(&p->mp, adam);
    for (int b = 0; b < OB_COUNT; b++) {
        block_spec s = spec_of(dims, b);
        if (s.size == 0) continue;
        float *v = melon_meta_params_add(&p->mp, s.name, s.size, s.decay, err);
        if (!v) {
            official_params_free(p);
            return -1;
        }
        p->value[b] = v;
        p->grad[b] = p->mp.block[p->mp.n_blocks - 1].grad;
        switch (s.init) {
        case INIT_NORMAL: melon_init_normal(v, s.size, 0.01f, rng); break;
        case INIT_ONE: for (size_t a = 0; a < s.size; a++) v[a] = 1.0f; break;
        case INIT_ZERO: break;
        case INIT_UNIFORM:
            for (size_t a = 0; a < s.size; a++)
                v[a] = s.lo + (s.hi - s.lo) * (float)melon_rng_uniform(rng);
            break;
        }
    }
    return 0;
}

void official_params_free(official_params *p) {
    melon_meta_params_free(&p->mp);
    memset(p->value, 0, sizeof p->value);
    memset(p->grad, 0, sizeof p->grad);
}

float *official_gate_z(const official_params *p, int block, int grad) {
    if (!p->dims.has_p) return NULL;
    return grad ? p->grad[block] : p->value[block];
}

float *official_gate_h(const official_params *p, int block, int grad) {
    if (!p->dims.has_h) return NULL;
    float *base = grad ? p->grad[block] : p->value[block];
    return base + (p->dims.has_p ? p->dims.zw : 0);
}
