#include "update/support.h"

static int negative_for(const melon_context *ctx, int32_t user, int32_t *out,
                        melon_err *err) {
    int32_t neg = melon_sample_train_negative(ctx->pairs, ctx->rng, user,
                                              ctx->end);
    if (neg < 0)
        return melon_fail(err, "user '%s' has interacted with every item, so "
                               "no training negative exists",
                          ctx->stream->user_name[user]);
    *out = neg;
    return 0;
}

int melon_support_last_batch(const melon_context *ctx,
                             const melon_triple *batch, int n,
                             melon_triple *out, melon_err *err) {
    const melon_history *h = ctx->history;
    for (int r = 0; r < n; r++) {
        int32_t u = batch[r].user, i = batch[r].item;
        int32_t last_item =
            melon_history_last_before(&h->user_items[u], ctx->begin);
        int32_t last_user =
            melon_history_last_before(&h->item_users[i], ctx->begin);
        melon_triple *user_side = &out[2 * r];
        melon_triple *item_side = &out[2 * r + 1];
        user_side->user = u;
        user_side->item = last_item >= 0 ? last_item : i;
        item_side->user = last_user >= 0 ? last_user : u;
        item_side->item = i;
        if (negative_for(ctx, user_side->user, &user_side->negative, err) != 0 ||
            negative_for(ctx, item_side->user, &item_side->negative, err) != 0)
            return -1;
    }
    return 0;
}
