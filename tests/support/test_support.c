#include "test_support.h"

#include "melon/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

void test_assert_close(double a, double b, double tol, const char *a_text,
                       const char *b_text, const char *file, int line) {
    if (fabs(a - b) <= tol) return;
    print_error("%s = %.12g and %s = %.12g differ by more than %g\n",
                   a_text, a, b_text, b, tol);
    _fail(file, line);
}

const char *test_shared_data(void) {
    const char *env = getenv("MELON_SHARED_DATA");
    const char *dir = env && *env ? env : MELON_SHARED_DATA;
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return dir;
    return NULL;
}

const char *test_shared_file_or_skip(const char *relative) {
    static char path[4096];
    const char *dir = test_shared_data();
    if (!dir) {
        fprintf(stderr, "SKIP: shared datasets folder not found (%s); "
                        "set MELON_SHARED_DATA\n", MELON_SHARED_DATA);
        skip();
    }
    snprintf(path, sizeof path, "%s/%s", dir, relative);
    if (!test_file_exists(path)) {
        fprintf(stderr, "SKIP: %s not found\n", path);
        skip();
    }
    return path;
}

static char tmpdir[4096];

static void remove_tmpdir(void) {
    if (!tmpdir[0]) return;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

const char *test_tmpdir(void) {
    if (!tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/melon-test-XXXXXX",
                 base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            abort();
        }
        atexit(remove_tmpdir);
    }
    return tmpdir;
}

const char *test_tmp_path(const char *name) {
    static char paths[8][8192];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", test_tmpdir(), name);
    return p;
}

void test_write_file(const char *path, const char *content, int gz) {
    size_t len = strlen(content);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(gzwrite(f, content, (unsigned)len), (int)len);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(content, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
    }
}

int test_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

char *test_read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    buf[len] = 0;
    return buf;
}

int test_run_melon(const char *args, char **out, char **errout) {
    const char *o = test_tmp_path("run.stdout");
    const char *e = test_tmp_path("run.stderr");
    size_t len = strlen(args) + 3 * 4096 + 64;
    char *cmd = malloc(len);
    snprintf(cmd, len, "'%s' %s >'%s' 2>'%s' </dev/null", MELON_BINARY,
             args, o, e);
    int status = system(cmd);
    free(cmd);
    if (out) *out = test_read_file(o);
    if (errout) *errout = test_read_file(e);
    if (status == -1 || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

void test_session_stream(int64_t *users, int64_t *items, int n, int n_items) {
    melon_rng rng;
    melon_rng_seed(&rng, 99);
    for (int t = 0; t < n; t++) {
        int user = (int)melon_rng_below(&rng, 100);
        users[t] = user;
        items[t] = (user * 3 + (int)melon_rng_below(&rng, 40)) % n_items;
    }
}
