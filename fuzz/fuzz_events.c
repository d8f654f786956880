/* libFuzzer target for the body parser of POST /v1/events: any bytes are
 * parsed under small limits. A parse that succeeds must give events within
 * the limits that encode to a record the log reads back event for event;
 * a parse that fails must say why and keep nothing. */
#include "log_record.h"
#include "request_parse.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const serve_limits limits = {.max_events = 64, .max_name = 16,
                                    .max_event_id = 8};

static void check_round_trip(const serve_event_list *list) {
    size_t size = serve_events_record_size(list->events, list->n);
    uint8_t *rec = malloc(size);
    if (!rec) return;
    if (serve_events_record_write(rec, list->events, list->n) != size) abort();
    const uint8_t *body = rec + SERVE_RECORD_HEADER;
    uint32_t len = (uint32_t)(size - SERVE_RECORD_HEADER);
    if (serve_record_check(rec, body, len) != 0) abort();
    serve_event_iter it;
    uint32_t n;
    if (serve_event_iter_init(&it, body, len, &n) != 0 || n != list->n) abort();
    serve_event ev;
    for (size_t k = 0; k < list->n; k++) {
        const serve_event *want = &list->events[k];
        if (serve_event_iter_next(&it, &ev) != 1) abort();
        if (ev.user_len != want->user_len || ev.item_len != want->item_len ||
            ev.id_len != want->id_len ||
            memcmp(ev.user, want->user, ev.user_len) != 0 ||
            memcmp(ev.item, want->item, ev.item_len) != 0 ||
            (ev.id_len && memcmp(ev.id, want->id, ev.id_len) != 0))
            abort();
        if (!(isnan(ev.time) && isnan(want->time)) && ev.time != want->time)
            abort();
    }
    free(rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    serve_event_list list;
    serve_event_list_init(&list);
    serve_parse_error perr;
    if (serve_parse_events(&list, (const char *)data, size, &limits, &perr) == 0) {
        if (list.n > limits.max_events) abort();
        for (size_t k = 0; k < list.n; k++) {
            const serve_event *ev = &list.events[k];
            if (ev->user_len == 0 || ev->user_len > limits.max_name ||
                ev->item_len == 0 || ev->item_len > limits.max_name ||
                ev->id_len > limits.max_event_id ||
                memchr(ev->user, 0, ev->user_len) ||
                memchr(ev->item, 0, ev->item_len))
                abort();
            if (!isnan(ev->time) && !isfinite(ev->time)) abort();
        }
        check_round_trip(&list);
    } else {
        if (!perr.error[0] || list.n != 0) abort();
        if (perr.status != 400 && perr.status != 413) abort();
        serve_buf json;
        serve_buf_init(&json);
        serve_parse_error_json(&perr, &json);
        if (!json.oom && json.data[0] != '{') abort();
        serve_buf_free(&json);
    }
    serve_event_list_free(&list);
    return 0;
}
