/* libFuzzer target for checkpoint loading (melon_open, melon_load). Each
 * input is a checkpoint file. It is loaded twice: as it is, which mostly
 * exercises the checks of the header, trailer and CRC-32; and with its
 * trailer rewritten to hold the payload's true length and CRC-32, so that
 * mutations reach the sections behind the checksum. A load that fails
 * must say why, and melon_load must then leave the session it loads into
 * exactly as it was; a checkpoint that opens must give a session that
 * recommends, observes, flushes and saves. Seeds: checkpoint_seeds writes
 * small real checkpoints of every model and strategy. */
#include "checkpoint_session.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define HEADER_BYTES 16
#define TRAILER_BYTES 24

/* The session melon_load loads into, and what it looked like. */
static melon_session *base;
static char input_path[64], output_path[64], base_path[64];

typedef struct {
    melon_stats stats;
    int n, popular;
    char items[5][MELON_ID_MAX + 1];  /* copies: a load frees the names */
    float scores[5];
    size_t n_history;
} snapshot;

static void take(melon_session *s, snapshot *out) {
    memset(out, 0, sizeof *out);
    melon_err err;
    const char *items[5];
    if (melon_get_stats(s, &out->stats, &err) != 0 ||
        melon_recommend(s, "1", 5, 0, items, out->scores, &out->n,
                        &out->popular, &err) != 0 ||
        melon_user_items(s, "1", NULL, 0, &out->n_history, &err) != 0)
        abort();
    for (int k = 0; k < out->n; k++)
        snprintf(out->items[k], sizeof out->items[k], "%s", items[k]);
}

static int same(const snapshot *a, const snapshot *b) {
    return memcmp(a, b, sizeof *a) == 0;
}

static snapshot before;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    melon_err err;
    snprintf(input_path, sizeof input_path, "/tmp/melon-fuzz-ckpt-%d.in", (int)getpid());
    snprintf(output_path, sizeof output_path, "/tmp/melon-fuzz-ckpt-%d.out", (int)getpid());
    snprintf(base_path, sizeof base_path, "/tmp/melon-fuzz-ckpt-%d.base", (int)getpid());
    if (small_session(&base, "bpr", "default", &err) != 0 ||
        melon_save(base, base_path, &err) != 0) {
        fprintf(stderr, "fuzz_checkpoint: %s\n", err.msg);
        abort();
    }
    take(base, &before);
    return 0;
}

static void write_input(const uint8_t *data, size_t size) {
    FILE *f = fopen(input_path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) abort();
}

/* A session that opened: its readers and writers work on it. */
static void exercise(melon_session *s) {
    melon_err err;
    melon_stats st;
    if (melon_get_stats(s, &st, &err) != 0) abort();
    const char *items[4];
    float scores[4];
    int n, popular;
    const char *users[2] = {"0", "unknown"};
    const char *batch_items[8];
    float batch_scores[8];
    int32_t counts[2];
    uint8_t flags[2];
    melon_recommend(s, "0", 4, 0, items, scores, &n, &popular, &err);
    melon_recommend_batch(s, users, NULL, 2, 4, MELON_INCLUDE_SEEN, batch_items,
                          batch_scores, counts, flags, &err);
    int32_t ranks[4];
    int64_t eu[3] = {0, 1, 2}, ei[3] = {0, 1, 2};
    melon_observe_ids(s, eu, ei, NULL, 3, ranks, &err);
    melon_flush(s, NULL, &err);
    if (melon_save(s, output_path, &err) == 0) {
        melon_session *again;
        if (melon_open(&again, output_path, &err) != 0) {
            fprintf(stderr, "a saved checkpoint does not open: %s\n", err.msg);
            abort();
        }
        melon_free(again);
    }
}

/* Loads the file at input_path both ways. */
static void load(void) {
    melon_err err = {{0}};
    melon_session *s = NULL;
    int opened = melon_open(&s, input_path, &err) == 0;
    if (!opened && (s != NULL || err.msg[0] == 0)) abort();
    if (opened) exercise(s);
    melon_free(s);

    err.msg[0] = 0;
    if (melon_load(base, input_path, &err) == 0) {
        if (!opened) abort();
        exercise(base);
        if (melon_load(base, base_path, &err) != 0) abort();
        snapshot now;
        take(base, &now);
        if (!same(&before, &now)) abort();
    } else {
        if (err.msg[0] == 0) abort();
        snapshot now;
        take(base, &now);
        if (!same(&before, &now)) {
            fprintf(stderr, "a failed load changed the session: %s\n", err.msg);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    write_input(data, size);
    load();
    if (size < HEADER_BYTES + TRAILER_BYTES) return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    uint64_t length = size - HEADER_BYTES - TRAILER_BYTES;
    uint32_t crc = (uint32_t)crc32(0L, fixed + HEADER_BYTES, (uInt)length);
    uint8_t *tail = fixed + size - TRAILER_BYTES;
    memcpy(tail, "MELONEND", 8);
    memcpy(tail + 8, &length, sizeof length);
    memcpy(tail + 16, &crc, sizeof crc);
    memset(tail + 20, 0, 4);
    if (memcmp(fixed, data, size) != 0) {
        write_input(fixed, size);
        load();
    }
    free(fixed);
    return 0;
}
