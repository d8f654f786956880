/* The body parser of POST /v1/events: arrays and NDJSON, integer ids as
 * their decimal text, and every kind of bad input refused with its record
 * and field, all or nothing. */
#include "test_support.h"

#include "request_parse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const serve_limits limits = {.max_events = 4, .max_name = 8,
                                    .max_event_id = 6};

static int parse(serve_event_list *list, const char *body,
                 serve_parse_error *perr) {
    return serve_parse_events(list, body, strlen(body), &limits, perr);
}

static void assert_text(const char *s, uint16_t len, const char *want) {
    assert_int_equal(len, strlen(want));
    assert_memory_equal(s, want, len);
}

static void test_array_and_ndjson(void **state) {
    (void)state;
    serve_event_list list;
    serve_event_list_init(&list);
    serve_parse_error perr;
    assert_int_equal(parse(&list, " [{\"user\": \"alice\", \"item\": 42, "
                           "\"time\": 1.5e3, \"id\": \"e1\"},\n"
                           "{\"item\": \"x\\u00e9\", \"user\": -7, \"time\": null}]",
                           &perr), 0);
    assert_int_equal(list.n, 2);
    assert_text(list.events[0].user, list.events[0].user_len, "alice");
    assert_text(list.events[0].item, list.events[0].item_len, "42");
    assert_true(list.events[0].time == 1500.0);
    assert_text(list.events[0].id, list.events[0].id_len, "e1");
    assert_text(list.events[1].user, list.events[1].user_len, "-7");
    assert_text(list.events[1].item, list.events[1].item_len, "x\xc3\xa9");
    assert_true(isnan(list.events[1].time));
    assert_int_equal(list.events[1].id_len, 0);

    assert_int_equal(parse(&list, "{\"user\":1,\"item\":2}\n{\"user\":3,"
                           "\"item\":4,\"id\":99}\n", &perr), 0);
    assert_int_equal(list.n, 2);
    assert_text(list.events[1].id, list.events[1].id_len, "99");
    assert_int_equal(parse(&list, "[]", &perr), 0);
    assert_int_equal(list.n, 0);
    serve_event_list_free(&list);
}

/* body must fail with this status, record and field, and a message
 * containing `says`. */
static void refused(const char *body, int status, long record,
                    const char *field, const char *says) {
    serve_event_list list;
    serve_event_list_init(&list);
    serve_parse_error perr;
    int rc = parse(&list, body, &perr);
    if (rc == 0 || perr.status != status || perr.record != record ||
        strcmp(perr.field, field) != 0 || !strstr(perr.error, says))
        fail_msg("body %s: got rc %d, %d, record %ld, field '%s', '%s'", body,
                 rc, perr.status, perr.record, perr.field, perr.error);
    assert_int_equal(list.n, 0); /* nothing is kept */
    serve_event_list_free(&list);
}

static void test_bad_bodies(void **state) {
    (void)state;
    refused("", 400, -1, "", "no events");
    refused("   \n", 400, -1, "", "no events");
    refused("[{\"user\":\"a\",\"item\":\"b\"}", 400, -1, "", "");
    refused("[{\"user\":\"a\",\"item\":\"b\"},{\"user\":\"a\"}]", 400, 1,
            "item", "the event has no item");
    refused("[{\"item\":\"b\"}]", 400, 0, "user", "no user");
    refused("[{\"user\":\"a\",\"item\":\"b\",\"rating\":5}]", 400, 0, "rating",
            "unknown field 'rating'");
    refused("[{\"user\":\"\",\"item\":\"b\"}]", 400, 0, "user", "user is empty");
    refused("[{\"user\":\"abcdefghi\",\"item\":\"b\"}]", 400, 0, "user",
            "9 bytes long, more than 8");
    refused("[{\"user\":\"a\\u0000b\",\"item\":\"b\"}]", 400, 0, "user",
            "NUL byte");
    refused("[{\"user\":\"a\",\"item\":\"b\",\"id\":\"1234567\"}]", 400, 0, "id",
            "more than 6");
    refused("[{\"user\":1.5,\"item\":\"b\"}]", 400, 0, "user", "not an integer");
    refused("[{\"user\":99999999999999999999,\"item\":\"b\"}]", 400, 0, "user",
            "64-bit");
    refused("[{\"user\":\"a\",\"item\":\"b\",\"time\":\"today\"}]", 400, 0, "time",
            "not a number");
    refused("[{\"user\":\"a\",\"item\":\"b\",\"time\":1e999}]", 400, 0, "time",
            "not a finite number");
    refused("[{\"user\":\"a\",\"item\":true}]", 400, 0, "item", "is true");
    refused("[{\"user\":\"a\",\"item\":null}]", 400, 0, "item", "is null");
    refused("[{\"user\":{\"x\":1},\"item\":\"b\"}]", 400, 0, "user", "is an object");
    refused("[{\"user\":[1],\"item\":\"b\"}]", 400, 0, "user", "is an array");
    refused("[{\"user\":\"a\",\"user\":\"b\",\"item\":\"c\"}]", 400, 0, "user",
            "given twice");
    refused("[[{\"user\":\"a\",\"item\":\"b\"}]]", 400, -1, "",
            "expected an event object, found an array");
    refused("[1]", 400, -1, "", "found a number");
    refused("\"x\"", 400, -1, "", "found a string");
    refused("[{\"user\":\"a\",\"item\":\"b\"}] {\"user\":\"a\",\"item\":\"b\"}",
            400, -1, "", "data after the array");
    refused("{\"user\":\"a\",\"item\":\"b\"}\n[1]", 400, -1, "", "found an array");
    refused("[{\"user\":\"a\",\"item\":\"b\"},]", 400, -1, "", "invalid JSON");
    refused("[{\"user\":\"a\xff\",\"item\":\"b\"}]", 400, 0, "user", "invalid JSON");
    refused("[{\"user\":1,\"item\":2},{\"user\":1,\"item\":2},{\"user\":1,\"item\":2},"
            "{\"user\":1,\"item\":2},{\"user\":1,\"item\":2}]", 413, 4, "",
            "more than 4 events");
}

static void test_error_json(void **state) {
    (void)state;
    serve_parse_error perr = {.status = 400, .record = 3};
    snprintf(perr.error, sizeof perr.error, "user \"x\xff\" is\tbad");
    snprintf(perr.field, sizeof perr.field, "user");
    serve_buf out;
    serve_buf_init(&out);
    serve_parse_error_json(&perr, &out);
    /* quotes and tabs escaped, a stray byte replaced: valid JSON */
    assert_string_equal(out.data, "{\"error\": \"user \\\"x\xef\xbf\xbd\\\" "
                                  "is\\u0009bad\", \"record\": 3, \"field\": \"user\"}");
    perr.record = -1;
    perr.field[0] = '\0';
    snprintf(perr.error, sizeof perr.error, "no events");
    out.len = 0;
    serve_parse_error_json(&perr, &out);
    assert_string_equal(out.data, "{\"error\": \"no events\", \"record\": null, "
                                  "\"field\": null}");
    serve_buf_free(&out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_array_and_ndjson),
        cmocka_unit_test(test_bad_bodies),
        cmocka_unit_test(test_error_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
