/* The events parser of POST /v1/events (request_parse.h), on yajl's event
 * callbacks. The parser allows several top-level values, so the same
 * callbacks read an array and NDJSON: records sit at depth 1 inside an
 * array or at depth 0 one after the other. Decoded strings are never
 * longer than their JSON text, so one buffer the size of the body holds
 * them all and never moves. */
#include "request_parse.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

enum field { F_NONE = -1, F_USER, F_ITEM, F_TIME, F_ID, N_FIELDS };
static const char *const field_names[N_FIELDS] = {"user", "item", "time", "id"};

typedef struct {
    serve_event_list *list;
    const serve_limits *limits;
    serve_parse_error *perr;
    char *strings_end;       /* next free byte of list->strings */
    int top;                 /* 0 none yet, '[' an array, '{' NDJSON */
    int array_closed;
    int in_record;
    enum field field;        /* whose value comes next */
    int seen[N_FIELDS];
    serve_event ev;
    long records;            /* records started */
    int out_of_memory;
} parse_state;

static int fail(parse_state *st, int status, const char *field,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(parse_state *st, int status, const char *field,
                const char *fmt, ...) {
    serve_parse_error *e = st->perr;
    if (e->error[0]) return 0; /* keep the first problem */
    e->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->error, sizeof e->error, fmt, ap);
    va_end(ap);
    e->record = st->in_record ? st->records - 1 : -1;
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    return 0;
}

static const char *field_name(parse_state *st) {
    return st->field == F_NONE ? NULL : field_names[st->field];
}

static int not_a_record(parse_state *st, const char *what) {
    return fail(st, 400, NULL, "expected an event object, found %s", what);
}

/* A value inside a record: checks it is where a field's value goes. */
static int at_value(parse_state *st, const char *what) {
    if (!st->in_record) return not_a_record(st, what);
    if (st->field == F_NONE) return 1; /* unreachable: keys come first */
    return 2;
}

static int store_id(parse_state *st, const char *text, size_t len,
                    const char **out, uint16_t *out_len) {
    const char *name = field_name(st);
    size_t max = st->field == F_ID ? st->limits->max_event_id
                                   : st->limits->max_name;
    if (len == 0) return fail(st, 400, name, "%s is empty", name);
    if (len > max)
        return fail(st, 400, name, "%s is %zu bytes long, more than %zu", name,
                    len, max);
    if (memchr(text, '\0', len))
        return fail(st, 400, name, "%s contains a NUL byte", name);
    memcpy(st->strings_end, text, len);
    *out = st->strings_end;
    *out_len = (uint16_t)len;
    st->strings_end += len;
    return 1;
}

static int take_text(parse_state *st, const char *text, size_t len) {
    switch (st->field) {
    case F_USER: return store_id(st, text, len, &st->ev.user, &st->ev.user_len);
    case F_ITEM: return store_id(st, text, len, &st->ev.item, &st->ev.item_len);
    case F_ID: return store_id(st, text, len, &st->ev.id, &st->ev.id_len);
    default: return 1;
    }
}

static int mark_seen(parse_state *st) {
    if (st->seen[st->field])
        return fail(st, 400, field_name(st), "%s is given twice",
                    field_name(st));
    st->seen[st->field] = 1;
    return 1;
}

static int on_null(void *ctx) {
    parse_state *st = ctx;
    int at = at_value(st, "null");
    if (at != 2) return at;
    if (!mark_seen(st)) return 0;
    if (st->field == F_TIME) return 1; /* no time */
    return fail(st, 400, field_name(st), "%s is null", field_name(st));
}

static int on_boolean(void *ctx, int value) {
    parse_state *st = ctx;
    int at = at_value(st, "a boolean");
    if (at != 2) return at;
    return fail(st, 400, field_name(st), "%s is %s, not a %s", field_name(st),
                value ? "true" : "false",
                st->field == F_TIME ? "number" : "string or an integer");
}

static int on_number(void *ctx, const char *text, size_t len) {
    parse_state *st = ctx;
    int at = at_value(st, "a number");
    if (at != 2) return at;
    if (!mark_seen(st)) return 0;
    char buf[64];
    if (len >= sizeof buf)
        return fail(st, 400, field_name(st), "%s: the number %.20s... is too "
                    "long", field_name(st), text);
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (st->field == F_TIME) {
        errno = 0;
        double t = strtod(buf, NULL);
        if (!isfinite(t) || errno == ERANGE)
            return fail(st, 400, "time", "time %s is not a finite number", buf);
        st->ev.time = t;
        return 1;
    }
    if (strpbrk(buf, ".eE"))
        return fail(st, 400, field_name(st), "%s %s is not an integer (give "
                    "ids as strings or integers)", field_name(st), buf);
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno == ERANGE)
        return fail(st, 400, field_name(st), "%s %s is outside the 64-bit "
                    "integer range", field_name(st), buf);
    char canon[24];
    int n = snprintf(canon, sizeof canon, "%lld", v);
    return take_text(st, canon, (size_t)n);
}

static int on_string(void *ctx, const unsigned char *text, size_t len) {
    parse_state *st = ctx;
    int at = at_value(st, "a string");
    if (at != 2) return at;
    if (!mark_seen(st)) return 0;
    if (st->field == F_TIME)
        return fail(st, 400, "time", "time is a string, not a number of "
                    "seconds");
    return take_text(st, (const char *)text, len);
}

static int on_start_map(void *ctx) {
    parse_state *st = ctx;
    if (st->in_record) {
        if (st->field != F_NONE)
            return fail(st, 400, field_name(st), "%s is an object, not a %s",
                        field_name(st), st->field == F_TIME
                                            ? "number"
                                            : "string or an integer");
        return 1;
    }
    if (st->top == 0) st->top = '{';
    if (st->top == '[' && st->array_closed)
        return fail(st, 400, NULL, "data after the array of events");
    if (st->list->n >= st->limits->max_events) {
        fail(st, 413, NULL, "more than %zu events in one request",
             st->limits->max_events);
        st->perr->record = (long)st->limits->max_events;
        return 0;
    }
    st->in_record = 1;
    st->records++;
    st->field = F_NONE;
    memset(st->seen, 0, sizeof st->seen);
    memset(&st->ev, 0, sizeof st->ev);
    st->ev.time = NAN;
    return 1;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len) {
    parse_state *st = ctx;
    st->field = F_NONE;
    for (int f = 0; f < N_FIELDS; f++)
        if (strlen(field_names[f]) == len && memcmp(field_names[f], key, len) == 0)
            st->field = (enum field)f;
    if (st->field == F_NONE) {
        char shown[32];
        size_t n = len < sizeof shown - 1 ? len : sizeof shown - 1;
        for (size_t k = 0; k < n; k++) /* ASCII only: it goes back as JSON */
            shown[k] = key[k] >= 0x20 && key[k] < 0x7f ? (char)key[k] : '?';
        shown[n] = '\0';
        return fail(st, 400, shown, "unknown field '%s' (an event has user, "
                    "item, time and id)", shown);
    }
    return 1;
}

static int on_end_map(void *ctx) {
    parse_state *st = ctx;
    if (!st->seen[F_USER]) return fail(st, 400, "user", "the event has no user");
    if (!st->seen[F_ITEM]) return fail(st, 400, "item", "the event has no item");
    serve_event_list *list = st->list;
    if (list->n == list->cap) {
        size_t cap = list->cap ? 2 * list->cap : 64;
        serve_event *grown = realloc(list->events, cap * sizeof *grown);
        if (!grown) {
            st->out_of_memory = 1;
            return fail(st, 400, NULL, "out of memory");
        }
        list->events = grown;
        list->cap = cap;
    }
    list->events[list->n++] = st->ev;
    st->in_record = 0;
    st->field = F_NONE;
    return 1;
}

static int on_start_array(void *ctx) {
    parse_state *st = ctx;
    if (st->in_record)
        return fail(st, 400, field_name(st), "%s is an array, not a %s",
                    field_name(st), st->field == F_TIME
                                        ? "number"
                                        : "string or an integer");
    if (st->top == 0) {
        st->top = '[';
        return 1;
    }
    if (st->array_closed) return fail(st, 400, NULL, "data after the array of events");
    return not_a_record(st, "an array");
}

static int on_end_array(void *ctx) {
    parse_state *st = ctx;
    st->array_closed = 1;
    return 1;
}

static const yajl_callbacks callbacks = {
    on_null,      on_boolean, NULL,         NULL,
    on_number,    on_string,  on_start_map, on_map_key,
    on_end_map,   on_start_array, on_end_array,
};

void serve_event_list_init(serve_event_list *list) {
    memset(list, 0, sizeof *list);
}

void serve_event_list_free(serve_event_list *list) {
    free(list->events);
    free(list->strings);
    memset(list, 0, sizeof *list);
}

static void syntax_error(parse_state *st, yajl_handle parser, const char *body,
                         size_t len) {
    unsigned char *message =
        yajl_get_error(parser, 0, (const unsigned char *)body, len);
    const char *text = message ? (const char *)message : "invalid JSON";
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' ' ||
                     text[n - 1] == '.'))
        n--;
    size_t at = yajl_get_bytes_consumed(parser);
    fail(st, 400, st->in_record ? field_name(st) : NULL,
         "invalid JSON at byte %zu: %.*s", at, (int)n, text);
    if (message) yajl_free_error(parser, message);
}

int serve_parse_events(serve_event_list *list, const char *body, size_t len,
                       const serve_limits *limits, serve_parse_error *perr) {
    memset(perr, 0, sizeof *perr);
    perr->record = -1;
    list->n = 0;
    free(list->strings);
    list->strings = malloc(len + 1);
    parse_state st;
    memset(&st, 0, sizeof st);
    st.list = list;
    st.limits = limits;
    st.perr = perr;
    st.field = F_NONE;
    st.strings_end = list->strings;
    if (!list->strings) {
        perr->status = 400;
        snprintf(perr->error, sizeof perr->error, "out of memory");
        return -1;
    }
    size_t blank = 0;
    while (blank < len && strchr(" \t\r\n", body[blank]) && body[blank]) blank++;
    if (blank == len) {
        fail(&st, 400, NULL, "no events: expected a JSON array of events or "
             "one event object per line");
        return -1;
    }
    yajl_handle parser = yajl_alloc(&callbacks, NULL, &st);
    if (!parser) {
        perr->status = 400;
        snprintf(perr->error, sizeof perr->error, "out of memory");
        return -1;
    }
    yajl_config(parser, yajl_allow_multiple_values, 1);
    yajl_status status = yajl_parse(parser, (const unsigned char *)body, len);
    if (status == yajl_status_ok) status = yajl_complete_parse(parser);
    if (status == yajl_status_error && !perr->error[0])
        syntax_error(&st, parser, body, len);
    yajl_free(parser);
    if (!perr->error[0] && st.top == '[' && !st.array_closed)
        fail(&st, 400, NULL, "the body ends inside the array");
    if (perr->error[0]) {
        list->n = 0;
        return -1;
    }
    return 0;
}

void serve_parse_error_json(const serve_parse_error *perr, serve_buf *out) {
    serve_buf_str(out, "{\"error\": ");
    serve_buf_json_string(out, perr->error, strlen(perr->error));
    if (perr->record >= 0)
        serve_buf_printf(out, ", \"record\": %ld, \"field\": ", perr->record);
    else
        serve_buf_str(out, ", \"record\": null, \"field\": ");
    if (perr->field[0])
        serve_buf_json_string(out, perr->field, strlen(perr->field));
    else
        serve_buf_str(out, "null");
    serve_buf_str(out, "}");
}
