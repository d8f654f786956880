/* libFuzzer target for the stream loader: the input bytes become a file
 * that is loaded with format "auto", with columns "1,2,3", and as each
 * native JSON-lines format (adressa, amazon, yelp). An input starting with
 * 'Z' is written gzip-compressed (without the 'Z') so the fuzzer also
 * reaches the gzip path with arbitrary content. A stream that loads is run
 * through the pair index, the history and a split. */
#include "melon/history.h"
#include "melon/negatives.h"
#include "melon/stream.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char input_path[4096];

static void remove_input(void) { unlink(input_path); }

static int write_input(const uint8_t *data, size_t size) {
    if (!input_path[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(input_path, sizeof input_path, "%s/melon-fuzz-%ld.csv",
                 tmp && *tmp ? tmp : "/tmp", (long)getpid());
        atexit(remove_input);
    }
    if (size > 0 && data[0] == 'Z') {
        gzFile gz = gzopen(input_path, "wb1");
        if (!gz) return -1;
        if (size > 1 && gzwrite(gz, data + 1, (unsigned)(size - 1)) <= 0) {
            gzclose(gz);
            return -1;
        }
        return gzclose(gz) == Z_OK ? 0 : -1;
    }
    int fd = open(input_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) break;
        done += (size_t)n;
    }
    close(fd);
    return done == size ? 0 : -1;
}

/* What the runner does with a loaded stream, minus the model. */
static void exercise(const melon_stream *stream) {
    melon_err err;
    melon_pair_index index;
    if (melon_pair_index_build(&index, stream, &err) == 0) {
        melon_rng rng;
        melon_rng_seed(&rng, 1);
        int32_t negative = melon_sample_train_negative(&index, &rng,
                                                       stream->user[0],
                                                       stream->n);
        if (negative >= stream->n_items) abort();
        int32_t eval[MELON_EVAL_NEGATIVES];
        melon_sample_eval_negatives(&index, 1, 0, stream->user, 1,
                                    MELON_EVAL_NEGATIVES, eval, &err);
        melon_pair_index_free(&index);
    }
    melon_history history;
    if (melon_history_init(&history, stream->n_users, stream->n_items,
                           &err) == 0) {
        if (melon_history_append(&history, stream, 0, stream->n, &err) != 0)
            abort(); /* a loaded stream always fits its own history */
        melon_history_free(&history);
    }
    melon_split split;
    melon_split_make(&split, stream->n, 2, 0.5, &err);
}

static void load_once(const char *format, const char *columns) {
    melon_load_options opt;
    melon_load_options_default(&opt);
    opt.format = format;
    opt.columns = columns;
    opt.notes = NULL;
    melon_stream stream;
    melon_err err;
    const char *paths[1] = {input_path};
    if (melon_stream_load(&stream, paths, 1, &opt, &err) == 0) {
        if (stream.n == 0 || stream.n_users < 1 || stream.n_items < 1)
            abort(); /* success means at least one interaction */
        for (size_t k = 1; k < stream.n; k++)
            if (stream.time[k - 1] > stream.time[k]) abort();
        if (stream.n_skipped > stream.n_missing_user + stream.n_missing_item +
                                   stream.n_missing_time ||
            !stream.format)
            abort(); /* every skipped record lacks something */
        exercise(&stream);
        melon_stream_free(&stream);
    } else if (err.msg[0] == '\0' || stream.n != 0 || stream.user) {
        abort(); /* a failure must explain itself and leave nothing */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (write_input(data, size) != 0) return 0;
    load_once("auto", NULL);
    load_once("auto", "1,2,3");
    load_once("adressa", NULL);
    load_once("amazon", NULL);
    load_once("yelp", NULL);
    return 0;
}
