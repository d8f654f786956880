/* The pieces under the native formats: calendar dates, Python dict
 * literals rewritten as JSON, and the top-level values of a JSON record. */
#include "test_support.h"

#include "data/civil_time.h"
#include "data/json_record.h"
#include "data/loose_json.h"
#include "data/stream_stats.h"

#include <string.h>

static void test_days_from_civil(void **state) {
    (void)state;
    assert_int_equal(melon_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(melon_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(melon_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(melon_days_from_civil(1600, 1, 1), -135140);
    assert_int_equal(melon_days_from_civil(2400, 12, 31), 157419);
    /* every day from 1600 to 2400 maps back to itself, one after another */
    int64_t year;
    int month, day;
    melon_civil_from_days(-135140, &year, &month, &day);
    for (int64_t d = -135140; d <= 157419; d++) {
        int64_t y2;
        int m2, d2;
        melon_civil_from_days(d, &y2, &m2, &d2);
        assert_int_equal(melon_days_from_civil(y2, m2, d2), d);
        if (d > -135140) /* the next calendar day */
            assert_true((y2 == year && m2 == month && d2 == day + 1) ||
                        (y2 == year && m2 == month + 1 && d2 == 1) ||
                        (y2 == year + 1 && m2 == 1 && d2 == 1 && month == 12));
        year = y2;
        month = m2;
        day = d2;
    }
}

static void expect_datetime(const char *text, double seconds) {
    double got = -1;
    if (melon_parse_datetime(text, strlen(text), &got) != 0 ||
        got != seconds)
        fail_msg("'%s': expected %.0f, got %.0f", text, seconds, got);
}

static void expect_bad_datetime(const char *text) {
    double got;
    if (melon_parse_datetime(text, strlen(text), &got) == 0)
        fail_msg("'%s' should not parse (got %.0f)", text, got);
}

static void test_datetime(void **state) {
    (void)state;
    expect_datetime("1970-01-01 00:00:00", 0);
    expect_datetime("2016-03-09 21:34:05", 1457559245);
    expect_datetime("2016-02-29 23:59:59", 1456790399);
    expect_datetime("2000-02-29T12:00:00", 951825600);
    expect_datetime("2012-05-01", 1335830400);
    expect_datetime("1969-12-31 23:59:59", -1);
    expect_bad_datetime("2019-02-29 00:00:00"); /* not a leap year */
    expect_bad_datetime("1900-02-29");          /* nor a leap century */
    expect_bad_datetime("2019-04-31");
    expect_bad_datetime("2019-13-01");
    expect_bad_datetime("2019-00-10");
    expect_bad_datetime("2019-01-01 24:00:00");
    expect_bad_datetime("2019-01-01 23:60:00");
    expect_bad_datetime("2019-01-01 23:00:60");
    expect_bad_datetime("2019-01-01 23:00");
    expect_bad_datetime("2019-01-01 23:00:00Z");
    expect_bad_datetime("2019-1-01");
    expect_bad_datetime("19-01-01");
    expect_bad_datetime("");
    expect_bad_datetime("2019-01-01  10:00:00");
}

static void expect_month_day_year(const char *text, double seconds) {
    double got = -1;
    if (melon_parse_month_day_year(text, strlen(text), &got) != 0 ||
        got != seconds)
        fail_msg("'%s': expected %.0f, got %.0f", text, seconds, got);
}

static void test_month_day_year(void **state) {
    (void)state;
    expect_month_day_year("09 13, 2009", 1252800000);
    expect_month_day_year("1 5, 2011", 1294185600);
    expect_month_day_year("02 29, 2016", 1456704000);
    static const char *const bad[] = {"02 29, 2015", "13 1, 2010",
                                      "09 13 2009",  "09 13, 09",
                                      "09/13/2009",  "09 13, 2009 ",
                                      "123 1, 2009", "09  13, 2009", NULL};
    for (const char *const *b = bad; *b; b++) {
        double got;
        if (melon_parse_month_day_year(*b, strlen(*b), &got) == 0)
            fail_msg("'%s' should not parse", *b);
    }
}

static void test_format_utc(void **state) {
    (void)state;
    char text[64];
    melon_format_utc(0, text, sizeof text);
    assert_string_equal(text, "1970-01-01 00:00:00");
    melon_format_utc(1457559245.75, text, sizeof text);
    assert_string_equal(text, "2016-03-09 21:34:05");
    melon_format_utc(-0.5, text, sizeof text);
    assert_string_equal(text, "1969-12-31 23:59:59");
    melon_format_utc(1e300, text, sizeof text);
    assert_string_equal(text, "1e+300 s");
}

static void expect_converted(const char *literal, const char *json) {
    melon_text_buffer out = {0};
    size_t column = 0;
    const char *why = "";
    int rc = melon_loose_json_convert(literal, strlen(literal), &out, &column,
                                      &why);
    if (rc != 0) fail_msg("'%s': %s at %zu", literal, why, column);
    if (strcmp(out.text, json) != 0)
        fail_msg("'%s' became '%s', expected '%s'", literal, out.text, json);
    melon_text_buffer_free(&out);
}

static void expect_not_converted(const char *literal, size_t column,
                                 const char *why_part) {
    melon_text_buffer out = {0};
    size_t got_column = 0;
    const char *why = "";
    int rc = melon_loose_json_convert(literal, strlen(literal), &out,
                                      &got_column, &why);
    if (rc != -1 || got_column != column || !strstr(why, why_part))
        fail_msg("'%s': rc %d, column %zu (%s)", literal, rc, got_column, why);
    melon_text_buffer_free(&out);
}

static void test_python_literal_to_json(void **state) {
    (void)state;
    expect_converted("{'a': 'b'}", "{\"a\": \"b\"}");
    expect_converted("{'q': \"it's\", 'r': 'say \"hi\"'}",
                     "{\"q\": \"it's\", \"r\": \"say \\\"hi\\\"\"}");
    expect_converted("{'e': 'don\\'t \\\\ \\n\\t'}",
                     "{\"e\": \"don't \\\\ \\n\\t\"}");
    expect_converted("{'x': 'caf\\xe9 \\u2013 \\U0001F600 \\a\\0'}",
                     "{\"x\": \"caf\\u00e9 \\u2013 \\ud83d\\ude00 "
                     "\\u0007\\u0000\"}");
    expect_converted("{u'k': u'v', 'b': b'raw', 'r': r'a\\d'}",
                     "{\"k\": \"v\", \"b\": \"raw\", \"r\": \"a\\\\d\"}");
    expect_converted("{'t': True, 'f': False, 'n': None}",
                     "{\"t\": true, \"f\": false, \"n\": null}");
    expect_converted("{'h': [0L, 12L], 'p': (1, 'two',), 'e': (), 'z': -1.5e3}",
                     "{\"h\": [0, 12], \"p\": [1, \"two\"], \"e\": [], "
                     "\"z\": -1.5e3}");
    expect_converted("{'unknown': '\\q'}", "{\"unknown\": \"\\\\q\"}");
    expect_converted("{'utf8': '\xc3\xa9'}", "{\"utf8\": \"\xc3\xa9\"}");
    expect_not_converted("{'a': 'b}", 7, "not terminated");
    expect_not_converted("{'a': nan}", 7, "name other than");
    expect_not_converted("{'a': '\\x4'}", 8, "bad \\x");
    expect_not_converted("{'a': '\\U00110000'}", 8, "bad \\x");
    expect_not_converted("{'a': '\\N{DASH}'}", 8, "\\N{");
    expect_not_converted("{'a': 'tab\there'}", 11, "control character");
    assert_true(melon_loose_json_detect("{'a': 1}", 8));
    assert_true(melon_loose_json_detect("  { u'a': 1}", 12));
    assert_false(melon_loose_json_detect("{\"a\": 1}", 8));
    assert_false(melon_loose_json_detect("{}", 2));
    assert_false(melon_loose_json_detect("['a']", 5));
}

static const char *const record_keys[] = {"user", "item", "time"};

static int parse(melon_json_record *rec, const char *line) {
    size_t column;
    char why[MELON_JSON_WHY];
    return melon_json_record_parse(rec, line, strlen(line), &column, why,
                                   sizeof why);
}

static void test_json_record_values(void **state) {
    (void)state;
    melon_json_record rec;
    melon_json_record_init(&rec, record_keys, 3);
    /* nested keys do not count, the last of two top-level keys does */
    assert_int_equal(parse(&rec, "{\"deep\": {\"user\": \"no\", \"x\": "
                                 "[{\"user\": 1}]}, \"item\": \"a\", "
                                 "\"item\": \"b\\u00e9\\\"\", \"time\": "
                                 "12.50e1, \"other\": 1}"),
                     0);
    assert_int_equal(rec.value[0].kind, MELON_JSON_ABSENT);
    assert_int_equal(rec.value[1].kind, MELON_JSON_STRING);
    assert_string_equal(rec.value[1].text, "b\xc3\xa9\"");
    assert_int_equal(rec.value[2].kind, MELON_JSON_NUMBER);
    assert_string_equal(rec.value[2].text, "12.50e1"); /* as written */
    /* values are reset between lines */
    assert_int_equal(parse(&rec, "{\"user\": null, \"item\": [1], "
                                 "\"time\": {\"a\": 1}}"),
                     0);
    assert_int_equal(rec.value[0].kind, MELON_JSON_NULL);
    assert_int_equal(rec.value[1].kind, MELON_JSON_ARRAY);
    assert_int_equal(rec.value[2].kind, MELON_JSON_OBJECT);
    assert_int_equal(parse(&rec, "{}"), 0);
    assert_int_equal(rec.value[1].kind, MELON_JSON_ABSENT);
    /* a long value grows its buffer */
    char line[5000];
    memset(line, 0, sizeof line);
    strcpy(line, "{\"user\": \"");
    memset(line + strlen(line), 'u', 4000);
    strcat(line, "\"}");
    assert_int_equal(parse(&rec, line), 0);
    assert_int_equal(rec.value[0].len, 4000);
    assert_int_equal(parse(&rec, "{\"user\": 1} x"), -1);
    assert_int_equal(parse(&rec, "true"), -1);
    assert_int_equal(parse(&rec, ""), -1);
    melon_json_record_free(&rec);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_days_from_civil),
        cmocka_unit_test(test_datetime),
        cmocka_unit_test(test_month_day_year),
        cmocka_unit_test(test_format_utc),
        cmocka_unit_test(test_python_literal_to_json),
        cmocka_unit_test(test_json_record_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
