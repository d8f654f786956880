/* Load speed of the stream reader: a generated 1,000,000-line TSV
 * (user \t item \t rating \t timestamp, about 6k users and 4k items, random
 * time order, like MovieLens u.data), plain and gzip, each loaded 5 times.
 * Prints the median seconds and interactions per second. */
#include "melon/stream.h"
#include "melon/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define N_LINES 1000000
#define N_USERS 6000
#define N_ITEMS 4000
#define REPEATS 5

static int write_files(const char *plain_path, const char *gz_path) {
    FILE *plain = fopen(plain_path, "wb");
    gzFile gz = gzopen(gz_path, "wb6");
    if (!plain || !gz) {
        fprintf(stderr, "bench_load: cannot create %s / %s\n", plain_path,
                gz_path);
        if (plain) fclose(plain);
        if (gz) gzclose(gz);
        return -1;
    }
    melon_rng rng;
    melon_rng_seed(&rng, 20220201);
    char line[96];
    for (int k = 0; k < N_LINES; k++) {
        unsigned user = 1 + melon_rng_below(&rng, N_USERS);
        unsigned item = 1 + melon_rng_below(&rng, N_ITEMS);
        unsigned rating = 1 + melon_rng_below(&rng, 5);
        unsigned long time = 874724710UL + melon_rng_below(&rng, 18561928);
        int len = snprintf(line, sizeof line, "%u\t%u\t%u\t%lu\n", user, item,
                           rating, time);
        fwrite(line, 1, (size_t)len, plain);
        gzwrite(gz, line, (unsigned)len);
    }
    int bad = fclose(plain) != 0;
    bad |= gzclose(gz) != Z_OK;
    return bad ? -1 : 0;
}

static int bench_file(const char *label, const char *path) {
    double seconds[REPEATS];
    size_t n = 0;
    for (int r = 0; r < REPEATS; r++) {
        melon_stream stream;
        melon_load_options opt;
        melon_err err;
        melon_load_options_default(&opt);
        const char *paths[1] = {path};
        double start = melon_now();
        if (melon_stream_load(&stream, paths, 1, &opt, &err) != 0) {
            fprintf(stderr, "bench_load: %s\n", err.msg);
            return -1;
        }
        seconds[r] = melon_now() - start;
        n = stream.n;
        melon_stream_free(&stream);
    }
    melon_sort_doubles(seconds, (size_t)REPEATS);
    double median = seconds[REPEATS / 2];
    printf("load %-5s %zu interactions: median %.3f s of %d (min %.3f, max "
           "%.3f), %.2f M interactions/s\n",
           label, n, median, REPEATS, seconds[0], seconds[REPEATS - 1],
           (double)n / median / 1e6);
    return 0;
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    char plain_path[512], gz_path[520];
    snprintf(plain_path, sizeof plain_path, "%s/melon-bench-load-%ld.tsv",
             tmp && *tmp ? tmp : "/tmp", (long)getpid());
    snprintf(gz_path, sizeof gz_path, "%s.gz", plain_path);
    if (write_files(plain_path, gz_path) != 0) return 1;
    int status = bench_file("plain", plain_path);
    if (status == 0) status = bench_file("gzip", gz_path);
    remove(plain_path);
    remove(gz_path);
    return status == 0 ? 0 : 1;
}
