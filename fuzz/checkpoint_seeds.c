/* Writes the seed corpus of fuzz_checkpoint: a small real checkpoint of
 * each model and strategy (checkpoint_session.h) into DIR.
 * usage: checkpoint_seeds DIR */
#include "checkpoint_session.h"

#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: checkpoint_seeds DIR\n");
        return 2;
    }
    static const char *const pairs[][2] = {
        {"bpr", "default"}, {"bpr", "eals"}, {"bpr", "eals-replay"},
        {"bpr", "eals-als"}, {"bpr", "mwnet"}, {"bpr", "metasgd"},
        {"bpr", "s2meta"}, {"bpr", "sml"}, {"bpr", "melon"},
        {"bpr", "melon-i"}, {"bpr", "melon-p"}, {"ncf", "default"},
        {"ncf", "melon"}, {"ncf", "mwnet"}, {"pop", "default"}};
    int written = 0;
    for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++) {
        melon_err err;
        melon_session *s;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s-%s.ckpt", argv[1], pairs[k][0], pairs[k][1]);
        if (small_session(&s, pairs[k][0], pairs[k][1], &err) != 0 ||
            melon_save(s, path, &err) != 0) {
            fprintf(stderr, "checkpoint_seeds: %s with %s: %s\n", pairs[k][0],
                    pairs[k][1], err.msg);
            return 1;
        }
        melon_free(s);
        written++;
    }
    printf("checkpoint_seeds: %d checkpoints in %s\n", written, argv[1]);
    return 0;
}
