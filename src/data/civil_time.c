/* Gregorian calendar arithmetic by 400-year eras (146,097 days each), with
 * March as the first month of the computational year so that the leap day
 * falls at its end. */
#include "civil_time.h"

#include "data/stream_stats.h"

#include <math.h>
#include <stdio.h>

#define DAYS_PER_ERA 146097
#define DAYS_1_MARCH_0000_TO_EPOCH 719468
#define SECONDS_PER_DAY 86400

int64_t melon_days_from_civil(int64_t year, int month, int day) {
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year =
        (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 -
                         year_of_era / 100 + day_of_year;
    return era * DAYS_PER_ERA + day_of_era - DAYS_1_MARCH_0000_TO_EPOCH;
}

void melon_civil_from_days(int64_t days, int64_t *year, int *month,
                           int *day) {
    days += DAYS_1_MARCH_0000_TO_EPOCH;
    int64_t era = (days >= 0 ? days : days - (DAYS_PER_ERA - 1)) / DAYS_PER_ERA;
    int64_t day_of_era = days - era * DAYS_PER_ERA;
    int64_t year_of_era = (day_of_era - day_of_era / 1460 +
                           day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 -
                                        year_of_era / 100);
    int64_t shifted_month = (5 * day_of_year + 2) / 153; /* 0 = March */
    *day = (int)(day_of_year - (153 * shifted_month + 2) / 5 + 1);
    *month = (int)(shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
    *year = year_of_era + era * 400 + (*month <= 2);
}

static int is_leap(int64_t year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(int64_t year, int month) {
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

/* Reads exactly `width` digits at text[*pos]. */
static int fixed_digits(const char *text, size_t len, size_t *pos, int width,
                        int *value) {
    int v = 0;
    for (int k = 0; k < width; k++) {
        if (*pos >= len || text[*pos] < '0' || text[*pos] > '9') return -1;
        v = v * 10 + (text[(*pos)++] - '0');
    }
    *value = v;
    return 0;
}

/* Reads one or two digits at text[*pos]. */
static int short_number(const char *text, size_t len, size_t *pos,
                        int *value) {
    if (fixed_digits(text, len, pos, 1, value) != 0) return -1;
    if (*pos < len && text[*pos] >= '0' && text[*pos] <= '9')
        *value = *value * 10 + (text[(*pos)++] - '0');
    return 0;
}

static int expect_char(const char *text, size_t len, size_t *pos, char c) {
    if (*pos >= len || text[*pos] != c) return -1;
    (*pos)++;
    return 0;
}

static int valid_date(int year, int month, int day) {
    return month >= 1 && month <= 12 && day >= 1 &&
           day <= days_in_month(year, month);
}

int melon_parse_datetime(const char *text, size_t len, double *seconds) {
    size_t pos = 0;
    int year, month, day, hour = 0, minute = 0, second = 0;
    if (fixed_digits(text, len, &pos, 4, &year) != 0 ||
        expect_char(text, len, &pos, '-') != 0 ||
        fixed_digits(text, len, &pos, 2, &month) != 0 ||
        expect_char(text, len, &pos, '-') != 0 ||
        fixed_digits(text, len, &pos, 2, &day) != 0)
        return -1;
    if (pos < len) {
        if (text[pos] != ' ' && text[pos] != 'T') return -1;
        pos++;
        if (fixed_digits(text, len, &pos, 2, &hour) != 0 ||
            expect_char(text, len, &pos, ':') != 0 ||
            fixed_digits(text, len, &pos, 2, &minute) != 0 ||
            expect_char(text, len, &pos, ':') != 0 ||
            fixed_digits(text, len, &pos, 2, &second) != 0 || pos != len)
            return -1;
    }
    if (!valid_date(year, month, day) || hour > 23 || minute > 59 ||
        second > 59)
        return -1;
    int64_t days = melon_days_from_civil(year, month, day);
    *seconds = (double)(days * SECONDS_PER_DAY + hour * 3600 + minute * 60 +
                        second);
    return 0;
}

int melon_parse_month_day_year(const char *text, size_t len,
                               double *seconds) {
    size_t pos = 0;
    int month, day, year;
    if (short_number(text, len, &pos, &month) != 0 ||
        expect_char(text, len, &pos, ' ') != 0 ||
        short_number(text, len, &pos, &day) != 0 ||
        expect_char(text, len, &pos, ',') != 0 ||
        expect_char(text, len, &pos, ' ') != 0 ||
        fixed_digits(text, len, &pos, 4, &year) != 0 || pos != len ||
        !valid_date(year, month, day))
        return -1;
    *seconds = (double)(melon_days_from_civil(year, month, day) *
                        SECONDS_PER_DAY);
    return 0;
}

void melon_format_utc(double seconds, char *out, size_t cap) {
    /* Beyond 2^53 seconds whole seconds are no longer exact doubles. */
    if (!isfinite(seconds) || fabs(seconds) > 9.0e15) {
        snprintf(out, cap, "%.6g s", seconds);
        return;
    }
    double whole = floor(seconds);
    int64_t days = (int64_t)floor(whole / SECONDS_PER_DAY);
    int64_t in_day = (int64_t)(whole - (double)days * SECONDS_PER_DAY);
    int64_t year;
    int month, day;
    melon_civil_from_days(days, &year, &month, &day);
    snprintf(out, cap, "%04lld-%02d-%02d %02d:%02d:%02d", (long long)year,
             month, day, (int)(in_day / 3600), (int)(in_day / 60 % 60),
             (int)(in_day % 60));
}
