/* Helpers shared by the tests: cmocka, paths, temporary files, running the
 * melon binary. */
#ifndef MELON_TEST_SUPPORT_H
#define MELON_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Fails the test unless |a - b| <= tol, printing both values. */
#define assert_close(a, b, tol) \
    test_assert_close((double)(a), (double)(b), (double)(tol), #a, #b, \
                      __FILE__, __LINE__)
void test_assert_close(double a, double b, double tol, const char *a_text,
                       const char *b_text, const char *file, int line);

/* ../shared/data beside the source tree (or $MELON_SHARED_DATA), or NULL
 * when it is absent. */
const char *test_shared_data(void);
/* Path of a file under the shared data folder, in a static buffer; skips
 * the current cmocka test with a message when the folder is absent. */
const char *test_shared_file_or_skip(const char *relative);

/* A fresh temporary directory for this process (removed at exit). */
const char *test_tmpdir(void);
/* test_tmpdir()/name, in a rotating static buffer. */
const char *test_tmp_path(const char *name);
/* Writes `content` to path (plain) or gzip-compressed when gz != 0. */
void test_write_file(const char *path, const char *content, int gz);
int test_file_exists(const char *path);
/* Reads a whole file into a malloc'ed NUL-terminated buffer. */
char *test_read_file(const char *path);

/* Runs the melon binary with the given arguments (a shell-quoted string),
 * capturing stdout and stderr; returns the exit status (or -1). */
int test_run_melon(const char *args, char **out, char **errout);

/* The live-session tests' event stream: n events of 100 users with a
 * popularity skew over n_items items (user u takes items 3u .. 3u + 39,
 * modulo n_items), from a fixed seed. */
void test_session_stream(int64_t *users, int64_t *items, int n, int n_items);

/* Fails unless a live session of the strategy on the model (up to two
 * extra "name=value" settings, NULL for none), with the item catalogue
 * declared and users met as they come, has `melon run`'s loss on every
 * online batch of the same stream (test_live_run.c). Returns quietly when
 * the strategy does not apply to the model. */
void test_live_matches_run_of(const char *model, const char *strategy,
                              const char *const extra[2]);

#endif
