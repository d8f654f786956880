/* yajl event callbacks that keep the scalar values of the wanted top-level
 * keys and track the nesting depth to tell top-level keys from nested ones.
 * One parser, allowed several values in a row, reads line after line: each
 * line is followed by a space, which ends a number the line might end
 * with, and must then hold exactly one finished object. After an error the
 * parser is thrown away, so nothing carries over to the next line. */
#include "json_record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

const char *melon_json_kind_name(melon_json_kind kind) {
    switch (kind) {
    case MELON_JSON_ABSENT: return "absent";
    case MELON_JSON_NULL: return "null";
    case MELON_JSON_STRING: return "a string";
    case MELON_JSON_NUMBER: return "a number";
    case MELON_JSON_BOOL: return "a boolean";
    case MELON_JSON_OBJECT: return "an object";
    case MELON_JSON_ARRAY: return "an array";
    }
    return "?";
}

void melon_json_record_init(melon_json_record *rec, const char *const *keys,
                            size_t n_keys) {
    memset(rec, 0, sizeof *rec);
    rec->keys = keys;
    rec->n_keys = n_keys < MELON_JSON_MAX_KEYS ? n_keys : MELON_JSON_MAX_KEYS;
    for (size_t k = 0; k < rec->n_keys; k++) rec->key_len[k] = strlen(keys[k]);
    rec->pending = -1;
}

void melon_json_record_free(melon_json_record *rec) {
    for (size_t k = 0; k < MELON_JSON_MAX_KEYS; k++) free(rec->value[k].text);
    if (rec->parser) yajl_free(rec->parser);
    memset(rec, 0, sizeof *rec);
}

/* Stops the parse with a reason; yajl then reports "client canceled". */
static int stop(melon_json_record *rec, const char *why) {
    snprintf(rec->why, sizeof rec->why, "%s", why);
    return 0;
}

static int not_an_object(melon_json_record *rec, melon_json_kind kind) {
    char why[MELON_JSON_WHY];
    snprintf(why, sizeof why, "expected a JSON object, found %s",
             melon_json_kind_name(kind));
    return stop(rec, why);
}

/* Records a value that appears at the current depth; returns 1 to go on. */
static int take(melon_json_record *rec, melon_json_kind kind,
                const char *text, size_t len) {
    if (rec->depth == 0) return not_an_object(rec, kind);
    if (rec->depth != 1 || rec->pending < 0) return 1;
    melon_json_value *v = &rec->value[rec->pending];
    rec->pending = -1;
    v->kind = kind;
    v->len = 0;
    if (!text) return 1;
    if (v->cap < len + 1) {
        size_t cap = v->cap ? v->cap : 32;
        while (cap < len + 1) cap *= 2;
        char *grown = realloc(v->text, cap);
        if (!grown) {
            rec->out_of_memory = 1;
            return stop(rec, "out of memory");
        }
        v->text = grown;
        v->cap = cap;
    }
    memcpy(v->text, text, len);
    v->text[len] = '\0';
    v->len = len;
    return 1;
}

static int on_null(void *ctx) { return take(ctx, MELON_JSON_NULL, NULL, 0); }

static int on_boolean(void *ctx, int value) {
    (void)value;
    return take(ctx, MELON_JSON_BOOL, NULL, 0);
}

static int on_number(void *ctx, const char *text, size_t len) {
    return take(ctx, MELON_JSON_NUMBER, text, len);
}

static int on_string(void *ctx, const unsigned char *text, size_t len) {
    return take(ctx, MELON_JSON_STRING, (const char *)text, len);
}

static int on_start_map(void *ctx) {
    melon_json_record *rec = ctx;
    if (rec->depth == 0 && rec->n_objects > 0)
        return stop(rec, "more than one JSON value on the line");
    if (rec->depth > 0 && !take(rec, MELON_JSON_OBJECT, NULL, 0)) return 0;
    rec->depth++;
    return 1;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len) {
    melon_json_record *rec = ctx;
    if (rec->depth != 1) return 1;
    rec->pending = -1;
    for (size_t k = 0; k < rec->n_keys; k++)
        if (rec->key_len[k] == len && memcmp(rec->keys[k], key, len) == 0) {
            rec->pending = (int)k;
            break;
        }
    return 1;
}

static int on_end_map(void *ctx) {
    melon_json_record *rec = ctx;
    if (--rec->depth == 0) rec->n_objects++;
    return 1;
}

static int on_start_array(void *ctx) {
    melon_json_record *rec = ctx;
    if (!take(rec, MELON_JSON_ARRAY, NULL, 0)) return 0;
    rec->depth++;
    return 1;
}

static int on_end_array(void *ctx) {
    melon_json_record *rec = ctx;
    rec->depth--;
    return 1;
}

static const yajl_callbacks callbacks = {
    on_null,      on_boolean, NULL,         NULL,
    on_number,    on_string,  on_start_map, on_map_key,
    on_end_map,   on_start_array, on_end_array,
};

/* yajl's own message without its trailing newline. */
static void copy_parser_message(yajl_handle parser, const char *line,
                                size_t len, char *why, size_t why_cap) {
    unsigned char *message =
        yajl_get_error(parser, 0, (const unsigned char *)line, len);
    const char *text = message ? (const char *)message : "invalid JSON";
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' ' ||
                     text[n - 1] == '.'))
        n--;
    snprintf(why, why_cap, "%.*s", (int)n, text);
    if (message) yajl_free_error(parser, message);
}

int melon_json_record_parse(melon_json_record *rec, const char *line,
                            size_t len, size_t *column, char *why,
                            size_t why_cap) {
    for (size_t k = 0; k < rec->n_keys; k++) {
        rec->value[k].kind = MELON_JSON_ABSENT;
        rec->value[k].len = 0;
    }
    rec->depth = 0;
    rec->pending = -1;
    rec->n_objects = 0;
    rec->out_of_memory = 0;
    rec->why[0] = '\0';

    if (!rec->parser) {
        rec->parser = yajl_alloc(&callbacks, NULL, rec);
        if (!rec->parser) return -2;
        yajl_config(rec->parser, yajl_allow_multiple_values, 1);
    }
    yajl_handle parser = rec->parser;
    yajl_status status = yajl_parse(parser, (const unsigned char *)line, len);
    size_t stopped_at = yajl_get_bytes_consumed(parser);
    int at_end = 0;
    if (status == yajl_status_ok) {
        status = yajl_parse(parser, (const unsigned char *)" ", 1);
        at_end = 1;
    }
    int result = 0;
    if (rec->out_of_memory) {
        result = -2;
    } else if (status == yajl_status_client_canceled) {
        snprintf(why, why_cap, "%s", rec->why);
        *column = stopped_at > 0 ? stopped_at : 1;
        result = -1;
    } else if (status != yajl_status_ok) {
        copy_parser_message(parser, line, len, why, why_cap);
        /* yajl counts the offending byte as consumed */
        *column = at_end ? len + 1 : stopped_at > 0 ? stopped_at : 1;
        result = -1;
    } else if (rec->depth > 0) {
        snprintf(why, why_cap, "the line ends inside the JSON object");
        *column = len + 1;
        result = -1;
    } else if (rec->n_objects != 1) {
        snprintf(why, why_cap, "expected one JSON object");
        *column = 1;
        result = -1;
    }
    if (result != 0) {
        yajl_free(parser);
        rec->parser = NULL;
    }
    return result;
}
