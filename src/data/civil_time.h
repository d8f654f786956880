/* Calendar dates and times of the native dataset formats, read as Unix
 * seconds (UTC); melon_format_utc (data/stream_stats.h) writes them back. */
#ifndef MELON_DATA_CIVIL_TIME_H
#define MELON_DATA_CIVIL_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Days from 1970-01-01 to the given proleptic Gregorian date (negative
 * before it). month is 1-12, day 1-31; the date is not checked. */
int64_t melon_days_from_civil(int64_t year, int month, int day);

/* The date of a day count from 1970-01-01, the inverse of the above. */
void melon_civil_from_days(int64_t days, int64_t *year, int *month,
                           int *day);

/* "YYYY-MM-DD HH:MM:SS" (Yelp; a 'T' may stand for the space) or
 * "YYYY-MM-DD" (midnight), UTC. Returns 0 and the seconds, or -1 when the
 * text is not such a date or names a day or time that does not exist. */
int melon_parse_datetime(const char *text, size_t len, double *seconds);

/* "MM D, YYYY" (Amazon reviewTime: month and day of one or two digits),
 * midnight UTC. Returns 0 and the seconds, or -1. */
int melon_parse_month_day_year(const char *text, size_t len, double *seconds);

#endif
