/* The records of the event log (docs/serve.md, "The event log"): a request's
 * events as one record, so a request is written whole or not at all, and the
 * cut record that closes a short batch. Every record is
 *
 *     u32 body length | u32 CRC-32 of (length, body) | body
 *
 * little-endian, and its body starts with a type byte:
 *
 *     EVENTS: u8 1 | u32 n | n x (f64 time | u16 id, user, item lengths |
 *             id, user, item bytes)
 *     CUT:    u8 2            (run the pending events as a short batch)
 *
 * A time is NaN when the client gave none; an id of length 0 is no id. */
#ifndef MELON_SERVE_LOG_RECORD_H
#define MELON_SERVE_LOG_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define SERVE_RECORD_HEADER 8
#define SERVE_RECORD_EVENTS 1
#define SERVE_RECORD_CUT 2
/* Bytes of an event in an EVENTS body besides its strings. */
#define SERVE_EVENT_FIXED 14

/* One event; the strings are not NUL-terminated. */
typedef struct {
    double time;
    const char *id;
    const char *user;
    const char *item;
    uint16_t id_len;
    uint16_t user_len;
    uint16_t item_len;
} serve_event;

/* The encoded size of an EVENTS record holding these events. */
size_t serve_events_record_size(const serve_event *events, size_t n);
/* Writes the EVENTS record of events[0..n) into out, which holds
 * serve_events_record_size(events, n) bytes; returns the bytes written. */
size_t serve_events_record_write(uint8_t *out, const serve_event *events,
                                 size_t n);
/* Writes a CUT record into out (SERVE_RECORD_HEADER + 1 bytes). */
size_t serve_cut_record_write(uint8_t *out);

/* Checks a record header and the body that follows it: 0 when the CRC
 * matches, -1 when it does not. */
int serve_record_check(const uint8_t *header, const uint8_t *body,
                       uint32_t body_len);
uint32_t serve_record_body_len(const uint8_t *header);

/* Walks the events of an EVENTS body. */
typedef struct {
    const uint8_t *at;
    const uint8_t *end;
    uint32_t left;
} serve_event_iter;

/* 0, or -1 when the body is not a well-formed EVENTS body (then nothing
 * should be read from it). Checks the whole body up front. */
int serve_event_iter_init(serve_event_iter *it, const uint8_t *body,
                          uint32_t body_len, uint32_t *n_events);
/* 1 with *ev filled, 0 when there are no more. */
int serve_event_iter_next(serve_event_iter *it, serve_event *ev);

/* Little-endian helpers shared with the log and checkpoint files. */
void serve_put_u16(uint8_t *p, uint16_t v);
void serve_put_u32(uint8_t *p, uint32_t v);
void serve_put_u64(uint8_t *p, uint64_t v);
uint16_t serve_get_u16(const uint8_t *p);
uint32_t serve_get_u32(const uint8_t *p);
uint64_t serve_get_u64(const uint8_t *p);
uint32_t serve_crc32(uint32_t crc, const void *data, size_t len);

#endif
