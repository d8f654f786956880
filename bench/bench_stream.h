/* The stream and settings the update benchmarks share: a data file (the
 * argument when given and not empty, else $MELON_BENCH_DATA, else ml-100k
 * from the shared data folder), the protocol's defaults with `epochs`
 * pre-training epochs and `threads` threads (0: all), no progress bar. */
#ifndef MELON_BENCH_STREAM_H
#define MELON_BENCH_STREAM_H

#include "eval/config.h"
#include "melon/stream.h"

#include <stdio.h>
#include <stdlib.h>

static inline const char *bench_data_path(const char *arg) {
    const char *env = getenv("MELON_BENCH_DATA");
    return arg && arg[0] ? arg : env ? env : MELON_SHARED_DATA "/ml-100k/u.data.gz";
}

/* Fills cfg and loads its stream; on failure prints the message after
 * `program` and returns -1. */
static inline int bench_open_stream(melon_config *cfg, const char *path,
                                    int epochs, int threads,
                                    melon_stream *stream, const char *program) {
    melon_config_default(cfg);
    cfg->data.files = path;
    cfg->data.name = "bench";
    cfg->run.epochs = epochs;
    cfg->run.threads = threads;
    cfg->run.progress = 0;
    cfg->run.quiet = 1;
    melon_err err = {{0}};
    if (melon_stream_load(stream, &path, 1, &cfg->data.load, &err) != 0) {
        fprintf(stderr, "%s: %s\n", program, err.msg);
        return -1;
    }
    return 0;
}

#endif
