/* The table of native formats and their detection. */
#include "native_format.h"

#include <stdio.h>
#include <string.h>

static const melon_native_format formats[] = {
    {
        .name = "adressa",
        .title = "Adressa news events (userId, id, time)",
        .keys = {"userId", "id", "time", NULL},
        .time_kind = MELON_TIME_UNIX,
        .missing_note = {"without a user (\"userId\")",
                         "without an article id (\"id\": page views of "
                         "pages that are not articles)",
                         "without a time (\"time\")"},
    },
    {
        .name = "amazon",
        .title = "Amazon reviews, 2014 and 2018 releases (reviewerID, asin, "
                 "unixReviewTime or reviewTime)",
        .keys = {"reviewerID", "asin", "unixReviewTime", "reviewTime"},
        .time_kind = MELON_TIME_UNIX,
        .fallback_kind = MELON_TIME_MONTH_DAY_YEAR,
        .missing_note = {"without a reviewer (\"reviewerID\")",
                         "without a product (\"asin\")",
                         "without a time (\"unixReviewTime\" or "
                         "\"reviewTime\")"},
    },
    {
        .name = "yelp",
        .title = "Yelp Open Dataset reviews or tips (user_id, business_id, "
                 "date)",
        .keys = {"user_id", "business_id", "date", NULL},
        .time_kind = MELON_TIME_DATETIME,
        .missing_note = {"without a user (\"user_id\")",
                         "without a business (\"business_id\")",
                         "without a date (\"date\")"},
    },
};

#define N_FORMATS (sizeof formats / sizeof formats[0])

size_t melon_native_format_count(void) { return N_FORMATS; }

const melon_native_format *melon_native_format_entry(size_t index) {
    return index < N_FORMATS ? &formats[index] : NULL;
}

const melon_native_format *melon_native_format_find(const char *name) {
    if (!name) return NULL;
    for (size_t k = 0; k < N_FORMATS; k++)
        if (strcmp(formats[k].name, name) == 0) return &formats[k];
    return NULL;
}

enum {
    SIG_REVIEWER_ID, SIG_ASIN, SIG_UNIX_REVIEW_TIME, SIG_BUSINESS_ID,
    SIG_REVIEW_ID, SIG_USER_ID_CAMEL, SIG_EVENT_ID, SIG_URL
};

const char *const melon_native_signature_keys[] = {
    "reviewerID", "asin",   "unixReviewTime", "business_id",
    "review_id",  "userId", "eventId",        "url",
    NULL};

const melon_native_format *melon_native_format_detect(const int *present,
                                                      char *why,
                                                      size_t why_cap) {
    int is_amazon = present[SIG_REVIEWER_ID] || present[SIG_ASIN] ||
                    present[SIG_UNIX_REVIEW_TIME];
    int is_yelp = present[SIG_BUSINESS_ID] || present[SIG_REVIEW_ID];
    int is_adressa = present[SIG_USER_ID_CAMEL] &&
                     (present[SIG_EVENT_ID] || present[SIG_URL]);
    int matches = is_amazon + is_yelp + is_adressa;
    if (matches == 1)
        return melon_native_format_find(is_amazon ? "amazon"
                                        : is_yelp ? "yelp"
                                                  : "adressa");
    if (matches == 0)
        snprintf(why, why_cap,
                 "none of the keys that identify Adressa (userId with eventId "
                 "or url), Amazon (reviewerID, asin, unixReviewTime) or Yelp "
                 "(business_id, review_id)");
    else
        snprintf(why, why_cap, "keys of more than one format (%s%s%s%s%s)",
                 is_adressa ? "adressa" : "",
                 is_adressa && is_amazon + is_yelp ? ", " : "",
                 is_amazon ? "amazon" : "", is_amazon && is_yelp ? ", " : "",
                 is_yelp ? "yelp" : "");
    return NULL;
}
