/* Encoding and checking of event log records (layout in log_record.h). */
#include "log_record.h"

#include <string.h>
#include <zlib.h>

void serve_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void serve_put_u32(uint8_t *p, uint32_t v) {
    for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> (8 * k));
}

void serve_put_u64(uint8_t *p, uint64_t v) {
    for (int k = 0; k < 8; k++) p[k] = (uint8_t)(v >> (8 * k));
}

uint16_t serve_get_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t serve_get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int k = 3; k >= 0; k--) v = (v << 8) | p[k];
    return v;
}

uint64_t serve_get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--) v = (v << 8) | p[k];
    return v;
}

uint32_t serve_crc32(uint32_t crc, const void *data, size_t len) {
    const Bytef *p = data;
    while (len > 0) { /* zlib takes lengths as uInt */
        uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = (uint32_t)crc32(crc, p, chunk);
        p += chunk;
        len -= chunk;
    }
    return crc;
}

/* The CRC of a record covers its length field and its body. */
static uint32_t record_crc(const uint8_t *len_field, const uint8_t *body,
                           uint32_t body_len) {
    uint32_t crc = serve_crc32(0, len_field, 4);
    return serve_crc32(crc, body, body_len);
}

static void seal(uint8_t *out, uint32_t body_len) {
    serve_put_u32(out, body_len);
    serve_put_u32(out + 4, record_crc(out, out + SERVE_RECORD_HEADER, body_len));
}

size_t serve_events_record_size(const serve_event *events, size_t n) {
    size_t bytes = SERVE_RECORD_HEADER + 1 + 4;
    for (size_t k = 0; k < n; k++)
        bytes += SERVE_EVENT_FIXED + events[k].id_len + events[k].user_len +
                 events[k].item_len;
    return bytes;
}

size_t serve_events_record_write(uint8_t *out, const serve_event *events,
                                 size_t n) {
    uint8_t *p = out + SERVE_RECORD_HEADER;
    *p++ = SERVE_RECORD_EVENTS;
    serve_put_u32(p, (uint32_t)n);
    p += 4;
    for (size_t k = 0; k < n; k++) {
        const serve_event *ev = &events[k];
        uint64_t bits;
        memcpy(&bits, &ev->time, sizeof bits);
        serve_put_u64(p, bits);
        serve_put_u16(p + 8, ev->id_len);
        serve_put_u16(p + 10, ev->user_len);
        serve_put_u16(p + 12, ev->item_len);
        p += SERVE_EVENT_FIXED;
        if (ev->id_len) memcpy(p, ev->id, ev->id_len);
        p += ev->id_len;
        memcpy(p, ev->user, ev->user_len);
        p += ev->user_len;
        memcpy(p, ev->item, ev->item_len);
        p += ev->item_len;
    }
    size_t total = (size_t)(p - out);
    seal(out, (uint32_t)(total - SERVE_RECORD_HEADER));
    return total;
}

size_t serve_cut_record_write(uint8_t *out) {
    out[SERVE_RECORD_HEADER] = SERVE_RECORD_CUT;
    seal(out, 1);
    return SERVE_RECORD_HEADER + 1;
}

uint32_t serve_record_body_len(const uint8_t *header) {
    return serve_get_u32(header);
}

int serve_record_check(const uint8_t *header, const uint8_t *body,
                       uint32_t body_len) {
    if (serve_get_u32(header) != body_len) return -1;
    return record_crc(header, body, body_len) == serve_get_u32(header + 4)
               ? 0
               : -1;
}

int serve_event_iter_init(serve_event_iter *it, const uint8_t *body,
                          uint32_t body_len, uint32_t *n_events) {
    if (body_len < 5 || body[0] != SERVE_RECORD_EVENTS) return -1;
    uint32_t n = serve_get_u32(body + 1);
    const uint8_t *p = body + 5, *end = body + body_len;
    for (uint32_t k = 0; k < n; k++) {
        if ((size_t)(end - p) < SERVE_EVENT_FIXED) return -1;
        size_t strings = (size_t)serve_get_u16(p + 8) + serve_get_u16(p + 10) +
                         serve_get_u16(p + 12);
        if (serve_get_u16(p + 10) == 0 || serve_get_u16(p + 12) == 0)
            return -1; /* every event has a user and an item */
        p += SERVE_EVENT_FIXED;
        if ((size_t)(end - p) < strings) return -1;
        p += strings;
    }
    if (p != end) return -1;
    it->at = body + 5;
    it->end = end;
    it->left = n;
    if (n_events) *n_events = n;
    return 0;
}

int serve_event_iter_next(serve_event_iter *it, serve_event *ev) {
    if (it->left == 0) return 0;
    const uint8_t *p = it->at;
    uint64_t bits = serve_get_u64(p);
    memcpy(&ev->time, &bits, sizeof bits);
    ev->id_len = serve_get_u16(p + 8);
    ev->user_len = serve_get_u16(p + 10);
    ev->item_len = serve_get_u16(p + 12);
    p += SERVE_EVENT_FIXED;
    ev->id = (const char *)p;
    p += ev->id_len;
    ev->user = (const char *)p;
    p += ev->user_len;
    ev->item = (const char *)p;
    p += ev->item_len;
    it->at = p;
    it->left--;
    return 1;
}
