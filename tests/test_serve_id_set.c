/* The event-id set: states, removal with backward shifts (every other key
 * still found), growth, and ids that differ only in length or one byte. */
#include "test_support.h"

#include "id_set.h"

#include <stdio.h>
#include <string.h>

static void key_of(int k, char *out, size_t cap) {
    snprintf(out, cap, "event-%d", k);
}

static void test_put_get_remove(void **state) {
    (void)state;
    serve_id_set set;
    melon_err err;
    assert_int_equal(serve_id_set_init(&set, 7, &err), 0);
    char key[32];
    for (int k = 0; k < 5000; k++) { /* grows several times */
        key_of(k, key, sizeof key);
        assert_int_equal(serve_id_set_put(&set, key, strlen(key),
                                          k % 3 ? SERVE_ID_DURABLE : SERVE_ID_PENDING,
                                          &err), 0);
    }
    assert_int_equal(set.n, 5000);
    for (int k = 0; k < 5000; k += 2) {
        key_of(k, key, sizeof key);
        serve_id_set_remove(&set, key, strlen(key));
    }
    assert_int_equal(set.n, 2500);
    for (int k = 0; k < 5000; k++) {
        key_of(k, key, sizeof key);
        int want = k % 2 == 0 ? SERVE_ID_ABSENT
                   : k % 3   ? SERVE_ID_DURABLE
                             : SERVE_ID_PENDING;
        assert_int_equal(serve_id_set_get(&set, key, strlen(key)), want);
    }
    /* a state change keeps one entry */
    key_of(3, key, sizeof key);
    assert_int_equal(serve_id_set_put(&set, key, strlen(key), SERVE_ID_DURABLE, &err), 0);
    assert_int_equal(serve_id_set_get(&set, key, strlen(key)), SERVE_ID_DURABLE);
    assert_int_equal(set.n, 2500);
    /* prefixes and one-byte differences are other ids */
    assert_int_equal(serve_id_set_get(&set, "event-1", 6), SERVE_ID_ABSENT);
    assert_int_equal(serve_id_set_get(&set, "event-1\0", 8), SERVE_ID_ABSENT);
    assert_int_equal(serve_id_set_get(&set, "evenT-1", 7), SERVE_ID_ABSENT);
    assert_int_equal(serve_id_set_put(&set, "", 0, SERVE_ID_DURABLE, &err), -1);
    serve_id_set_free(&set);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_remove),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
