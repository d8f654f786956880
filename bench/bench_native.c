/* Load speed and memory of a large native-format file: writes 3,600,000
 * Amazon-2018-like review records (JSON lines with the publisher's fields,
 * about 1 KB each; reviewers and products drawn with a heavy head, like a
 * real category), then loads it with format "auto" 3 times, each in a
 * child process, and prints the median time and the peak RSS of one load
 * beside the size of what the load must hold: the final interaction arrays
 * and the id maps.
 *
 * Usage: bench_native [--records N] [--repeats R] [--gzip] [--file PATH]
 * --gzip also writes and loads a gzip copy. The files go to $TMPDIR (or
 * /tmp) and are removed at the end, unless --file names the file: it is
 * then kept, and loaded as it is when it already exists. */
#include "melon/stream.h"
#include "melon/stats.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#define DEFAULT_RECORDS 3600000
#define DEFAULT_REPEATS 3
#define USER_POOL 2000000
#define ITEM_POOL 300000

static const char *const words[] = {
    "the", "and", "this", "product", "great", "taste", "love", "price",
    "quality", "would", "buy", "again", "fresh", "box", "arrived", "quickly",
    "my", "kids", "it", "was", "not", "as", "described", "but", "works",
    "well", "for", "me", "flavor", "strong", "recommend", "highly", "value",
    "packaging", "damaged", "okay", "perfect", "size", "daily", "coffee"};
#define N_WORDS (sizeof words / sizeof words[0])

static const char id_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/* A fixed-looking id of `len` characters for number `k`. */
static void make_id(char *out, const char *prefix, uint64_t k, int len) {
    uint64_t h = (k + 1) * 0x9e3779b97f4a7c15ULL;
    size_t p = strlen(prefix);
    memcpy(out, prefix, p);
    for (int c = 0; c < len; c++) {
        h ^= h >> 29;
        h *= 0xbf58476d1ce4e5b9ULL;
        out[p + (size_t)c] = id_chars[h % 36];
    }
    out[p + (size_t)len] = '\0';
}

/* u^power of a uniform u: small numbers (the popular ones) come often. */
static uint32_t skewed(melon_rng *rng, uint32_t pool, double power) {
    double u = melon_rng_uniform(rng), x = u;
    for (double p = 1; p < power; p++) x *= u;
    return (uint32_t)(x * pool);
}

/* The review text: words, with the occasional escaped quote and \u00e9. */
static size_t review_text(melon_rng *rng, char *out, size_t target) {
    size_t len = 0;
    while (len < target) {
        const char *w = words[melon_rng_below(rng, N_WORDS)];
        size_t n = strlen(w);
        memcpy(out + len, w, n);
        len += n;
        uint32_t r = melon_rng_below(rng, 100);
        const char *extra = r == 0 ? " \\\"really\\\"" : r == 1 ? " caf\\u00e9"
                            : r == 2 ? ".\\n" : "";
        size_t e = strlen(extra);
        memcpy(out + len, extra, e);
        len += e;
        out[len++] = ' ';
    }
    out[len] = '\0';
    return len;
}

typedef struct {
    FILE *plain;
    gzFile gz;
} outputs;

static int write_record(outputs *out, melon_rng *rng, char *line,
                        char *text) {
    char user[24], item[24];
    make_id(user, "A", skewed(rng, USER_POOL, 2.0), 13);
    make_id(item, "B0", skewed(rng, ITEM_POOL, 3.0), 8);
    long day = 10957 + (long)melon_rng_below(rng, 6900); /* 2000 .. 2018 */
    unsigned month = 1 + melon_rng_below(rng, 12), mday = 1 + melon_rng_below(rng, 28);
    review_text(rng, text, 560 + melon_rng_below(rng, 300));
    int with_image = melon_rng_below(rng, 10) == 0;
    int len = snprintf(
        line, 4096,
        "{\"overall\": %u.0, \"vote\": \"%u\", \"verified\": %s, "
        "\"reviewTime\": \"%02u %u, %ld\", \"reviewerID\": \"%s\", "
        "\"asin\": \"%s\", \"style\": {\"Size:\": \" 12 Ounce (Pack of 6)\", "
        "\"Flavor:\": \" Original\"}, \"reviewerName\": \"Customer %u\", "
        "\"reviewText\": \"%s\", \"summary\": \"%s %s\", "
        "\"unixReviewTime\": %ld%s}\n",
        1 + melon_rng_below(rng, 5), 2 + melon_rng_below(rng, 40),
        melon_rng_below(rng, 5) ? "true" : "false", month, mday,
        1970 + day / 365, user, item, melon_rng_below(rng, 100000), text,
        words[melon_rng_below(rng, N_WORDS)],
        words[melon_rng_below(rng, N_WORDS)], day * 86400L,
        with_image ? ", \"image\": [\"https://images-na.ssl-images-amazon"
                     ".com/images/I/71eG75FTJJL._SY88.jpg\"]"
                   : "");
    if (len <= 0 || len >= 4096) return -1;
    if (fwrite(line, 1, (size_t)len, out->plain) != (size_t)len) return -1;
    if (out->gz && gzwrite(out->gz, line, (unsigned)len) != len) return -1;
    return 0;
}

static int write_files(const char *plain_path, const char *gz_path,
                       size_t n_records) {
    outputs out = {fopen(plain_path, "wb"), NULL};
    if (gz_path) out.gz = gzopen(gz_path, "wb1");
    char *line = malloc(4096), *text = malloc(2048);
    int status = out.plain && (!gz_path || out.gz) && line && text ? 0 : -1;
    melon_rng rng;
    melon_rng_seed(&rng, 20190101);
    for (size_t k = 0; k < n_records && status == 0; k++)
        status = write_record(&out, &rng, line, text);
    if (out.plain && fclose(out.plain) != 0) status = -1;
    if (out.gz && gzclose(out.gz) != Z_OK) status = -1;
    free(line);
    free(text);
    if (status != 0)
        fprintf(stderr, "bench_native: cannot write %s\n", plain_path);
    return status;
}

/* What one load measured, sent from the child. */
typedef struct {
    double seconds;
    size_t n, n_users, n_items, n_skipped;
    double array_mb;     /* user, item, time of the stream */
    double names_mb;     /* the id strings of the stream, as allocated */
    double tables_mb;    /* the hash tables while reading */
    int ok;
} load_figures;

static size_t next_pow2(size_t x, size_t at_least) {
    size_t p = at_least;
    while (p < x) p *= 2;
    return p;
}

/* The size of the loader's hash table for ids of these names: slots (8
 * bytes, at most half full), offsets and lengths, and the string arena. */
static double table_mb(char **names, int32_t count) {
    size_t chars = 0;
    for (int32_t k = 0; k < count; k++) chars += strlen(names[k]) + 1;
    size_t slots = next_pow2(2 * (size_t)count + 1, 1024);
    size_t entries = next_pow2((size_t)count, 1024);
    return (double)(slots * 8 + entries * 12 + next_pow2(chars, 16384)) / 1e6;
}

static double names_mb(char **names, int32_t count) {
    size_t bytes = (size_t)count * sizeof(char *);
    for (int32_t k = 0; k < count; k++)
        bytes += malloc_usable_size(names[k]) + sizeof(size_t);
    return (double)bytes / 1e6;
}

static void child_load(const char *path, int fd) {
    load_figures f = {0};
    melon_load_options opt;
    melon_load_options_default(&opt);
    opt.notes = NULL;
    melon_stream s;
    melon_err err;
    const char *paths[1] = {path};
    double start = melon_now();
    if (melon_stream_load(&s, paths, 1, &opt, &err) == 0) {
        f.seconds = melon_now() - start;
        f.n = s.n;
        f.n_users = (size_t)s.n_users;
        f.n_items = (size_t)s.n_items;
        f.n_skipped = s.n_skipped;
        f.array_mb = (double)s.n * (sizeof *s.user + sizeof *s.item +
                                    sizeof *s.time) / 1e6;
        f.names_mb = names_mb(s.user_name, s.n_users) +
                     names_mb(s.item_name, s.n_items);
        f.tables_mb = table_mb(s.user_name, s.n_users) +
                      table_mb(s.item_name, s.n_items);
        f.ok = 1;
        melon_stream_free(&s);
    } else {
        fprintf(stderr, "bench_native: %s\n", err.msg);
    }
    ssize_t w = write(fd, &f, sizeof f);
    _exit(w == (ssize_t)sizeof f && f.ok ? 0 : 1);
}

/* Loads path in a child process; fills f, the child's peak RSS and its CPU
 * time (user and system). */
static int load_in_child(const char *path, load_figures *f, double *rss_mb,
                         double *cpu_s) {
    int pipe_fd[2];
    if (pipe(pipe_fd) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        close(pipe_fd[0]);
        child_load(path, pipe_fd[1]);
    }
    close(pipe_fd[1]);
    ssize_t got = read(pipe_fd[0], f, sizeof *f);
    close(pipe_fd[0]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0 || got != (ssize_t)sizeof *f)
        return -1;
    *rss_mb = (double)ru.ru_maxrss / 1024.0 * 1.048576; /* KiB -> MB */
    *cpu_s = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
             (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
    return 0;
}

static int bench_file(const char *label, const char *path, int repeats,
                      double file_mb) {
    double seconds[64], rss[64], cpu[64];
    load_figures f = {0};
    for (int r = 0; r < repeats; r++)
        if (load_in_child(path, &f, &rss[r], &cpu[r]) != 0) {
            fprintf(stderr, "bench_native: loading %s failed\n", path);
            return -1;
        } else {
            seconds[r] = f.seconds;
        }
    double peak = 0;
    for (int r = 0; r < repeats; r++)
        if (rss[r] > peak) peak = rss[r];
    melon_sort_doubles(seconds, (size_t)repeats);
    melon_sort_doubles(cpu, (size_t)repeats);
    double median = seconds[repeats / 2];
    double held = f.array_mb + f.names_mb + f.tables_mb;
    printf("load %-5s %zu interactions (%zu users, %zu items, %zu skipped): "
           "median %.2f s of %d (min %.2f, max %.2f), %.0f MB/s of JSON; "
           "CPU time (user + system) median %.2f s\n",
           label, f.n, f.n_users, f.n_items, f.n_skipped, median, repeats,
           seconds[0], seconds[repeats - 1], file_mb / median,
           cpu[repeats / 2]);
    printf("  peak RSS of one load %.0f MB; final arrays %.0f MB + id names "
           "%.0f MB + id hash tables while reading %.0f MB = %.0f MB; the "
           "rest %.0f MB (%.1f bytes per interaction)\n",
           peak, f.array_mb, f.names_mb, f.tables_mb, held, peak - held,
           (peak - held) * 1e6 / (double)f.n);
    return 0;
}

int main(int argc, char **argv) {
    size_t n_records = DEFAULT_RECORDS;
    int repeats = DEFAULT_REPEATS, with_gzip = 0;
    const char *kept_file = NULL;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--records") == 0 && k + 1 < argc)
            n_records = (size_t)strtoull(argv[++k], NULL, 10);
        else if (strcmp(argv[k], "--repeats") == 0 && k + 1 < argc)
            repeats = atoi(argv[++k]);
        else if (strcmp(argv[k], "--gzip") == 0)
            with_gzip = 1;
        else if (strcmp(argv[k], "--file") == 0 && k + 1 < argc)
            kept_file = argv[++k];
        else {
            fprintf(stderr, "usage: bench_native [--records N] [--repeats R] "
                            "[--gzip] [--file PATH]\n");
            return 2;
        }
    }
    if (n_records == 0 || repeats < 1 || repeats > 64) {
        fprintf(stderr, "bench_native: need N >= 1 and 1 <= R <= 64\n");
        return 2;
    }
    const char *tmp = getenv("TMPDIR");
    char plain_path[512], gz_path[520];
    if (kept_file)
        snprintf(plain_path, sizeof plain_path, "%s", kept_file);
    else
        snprintf(plain_path, sizeof plain_path,
                 "%s/melon-bench-native-%ld.json", tmp && *tmp ? tmp : "/tmp",
                 (long)getpid());
    snprintf(gz_path, sizeof gz_path, "%s.gz", plain_path);
    double start = melon_now();
    struct stat st;
    int reuse = kept_file && stat(plain_path, &st) == 0 &&
                (!with_gzip || stat(gz_path, &st) == 0);
    int status = reuse ? 0
                       : write_files(plain_path, with_gzip ? gz_path : NULL,
                                     n_records);
    if (status == 0) {
        FILE *f = fopen(plain_path, "rb");
        double file_mb = 0;
        if (f && fseek(f, 0, SEEK_END) == 0) file_mb = (double)ftell(f) / 1e6;
        if (f) fclose(f);
        if (reuse)
            printf("reading %s, %.0f MB, as it is\n", plain_path, file_mb);
        else
            printf("wrote %zu Amazon-2018-like records, %.0f MB (%.0f bytes "
                   "per record) in %.0f s\n",
                   n_records, file_mb, file_mb * 1e6 / (double)n_records,
                   melon_now() - start);
        double load[1];
        if (getloadavg(load, 1) == 1)
            printf("load average before loading: %.2f\n", load[0]);
        status = bench_file("plain", plain_path, repeats, file_mb);
        if (status == 0 && with_gzip)
            status = bench_file("gzip", gz_path, repeats, file_mb);
        if (getloadavg(load, 1) == 1)
            printf("load average after: %.2f\n", load[0]);
    }
    if (!kept_file) {
        remove(plain_path);
        if (with_gzip) remove(gz_path);
    }
    return status == 0 ? 0 : 1;
}
