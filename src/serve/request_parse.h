/* The body of POST /v1/events: a JSON array of events, or events one JSON
 * object per line (NDJSON). An event is {"user", "item", "time"?, "id"?}:
 * user, item and id are strings or integers (an integer is the same id as
 * its decimal text), time is a number of seconds or null. Nothing else is
 * accepted: unknown fields, nested values, empty or over-long ids, a NUL
 * byte in an id, a time that is not finite. The whole body is checked
 * before anything is applied; the first problem is reported with the
 * number of its record (from 0) and its field. */
#ifndef MELON_SERVE_REQUEST_PARSE_H
#define MELON_SERVE_REQUEST_PARSE_H

#include "log_record.h"
#include "serve_buf.h"

#include <stddef.h>

typedef struct {
    size_t max_events;   /* events in one request */
    size_t max_name;     /* bytes of a user or an item id */
    size_t max_event_id; /* bytes of an event id */
} serve_limits;

typedef struct {
    int status;          /* 400, or 413 for too many events */
    char error[256];
    long record;         /* -1 when the problem is not in one record */
    char field[40];      /* "" when it is not in one field */
} serve_parse_error;

/* The parsed events; their strings live in `strings`. */
typedef struct {
    serve_event *events;
    size_t n;
    size_t cap;
    char *strings;
} serve_event_list;

void serve_event_list_init(serve_event_list *list);
void serve_event_list_free(serve_event_list *list);

/* 0 with every event in list (emptied first), or -1 with *perr filled in
 * and list empty. */
int serve_parse_events(serve_event_list *list, const char *body, size_t len,
                       const serve_limits *limits, serve_parse_error *perr);

/* Appends the error as {"error": ..., "record": ..., "field": ...}. */
void serve_parse_error_json(const serve_parse_error *perr, serve_buf *out);

#endif
